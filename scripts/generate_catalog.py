#!/usr/bin/env python3
"""Generate ``resources/catalog.json`` from Dell's PowerStore OpenAPI (Swagger 2.0) spec.

Usage: ``python scripts/generate_catalog.py [--spec PATH] [--out PATH]``.

Only facts are kept (names, types, enums, limits, units, flags, version tags); the spec's description
text never reaches the output. The output is deterministic: the same spec gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from console.catalog import Catalog, Definition, Enum, Field, Operation, ResourceType  # noqa: E402

DEFAULT_SPEC = REPO.parent / "shared" / "powerstore-openapi-4.1.json"
DEFAULT_OUT = REPO / "resources" / "catalog.json"
REF_PREFIX = "#/definitions/"

# The spec spells units inconsistently; these are the canonical lower-case spellings.
UNITS = {
    "bytes": "bytes",
    "bytes/sec": "bytes/sec",
    "bytes/second": "bytes/sec",
    "bits/second": "bits/sec",
    "kb/sec": "kilobytes/sec",
    "mb/sec": "megabytes/sec",
    "ios/sec": "iops",
    "io/sec": "iops",
    "iops": "iops",
    "percent": "percent",
    "seconds": "seconds",
    "second": "seconds",
    "milliseconds": "milliseconds",
    "millisecond": "milliseconds",
    "msec": "milliseconds",
    "microseconds": "microseconds",
    "usec": "microseconds",
}

# Only the fact "a name can stand in for the id" is derived from the prose; the prose itself is dropped.
NAME_REF = re.compile(r"name:\{name\}|'name:|\"name:")


def ref_name(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise ValueError(f"unsupported $ref {ref!r}")
    return ref[len(REF_PREFIX) :]


def says_name_ref(schema: Mapping[str, Any]) -> bool:
    return bool(NAME_REF.search(str(schema.get("description", ""))))


def normalise_units(units: str) -> str:
    key = units.strip().lower()
    if key not in UNITS:
        raise ValueError(f"unknown unit spelling {units!r}: add it to UNITS")
    return UNITS[key]


class Generator:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.spec = spec
        self.raw: Mapping[str, Any] = spec["definitions"]
        self.definitions: dict[str, Definition] = {}
        self.enums: dict[str, Enum] = {}
        # Array definitions whose items a field inlines: kept as definitions of their own as well.
        self.inlined: list[str] = []

    # ----- definitions -------------------------------------------------------------------------

    def is_enum(self, name: str) -> bool:
        return "enum" in self.raw[name]

    def flat_properties(self, name: str) -> tuple[list[tuple[str, Mapping[str, Any]]], list[str]]:
        """Properties and required names of a definition with its ``allOf`` parts merged in."""
        schema = self.raw[name]
        props: dict[str, Mapping[str, Any]] = {}
        required: list[str] = []
        for part in schema.get("allOf", []):
            if "$ref" in part:
                sub_props, sub_required = self.flat_properties(ref_name(part["$ref"]))
            else:
                sub_props, sub_required = list(part.get("properties", {}).items()), part.get("required", [])
            props.update(sub_props)
            required += sub_required
        props.update(schema.get("properties", {}))
        required += schema.get("required", [])
        return list(props.items()), list(dict.fromkeys(required))

    def base_of(self, name: str) -> str | None:
        for part in self.raw[name].get("allOf", []):
            if "$ref" in part and "discriminator" in self.raw[ref_name(part["$ref"])]:
                return ref_name(part["$ref"])
        return None

    def subtypes(self, base: str) -> list[str]:
        return sorted(n for n in self.raw if "allOf" in self.raw[n] and self.base_of(n) == base)

    def add_definition(self, name: str) -> None:
        """Convert ``name`` and everything it references (fields, items, discriminator subtypes)."""
        pending = [name]
        while pending:
            current = pending.pop()
            if current in self.definitions or current in self.enums:
                continue
            if self.is_enum(current):
                self.enums[current] = self.convert_enum(current)
                continue
            for definition in self.convert_definition(current):
                self.definitions[definition.name] = definition
                pending += [r for r in self.references(definition) if r not in self.definitions]
            pending += self.inlined
            self.inlined = []
            if "discriminator" in self.raw[current]:
                pending += self.subtypes(current)

    def references(self, definition: Definition) -> Iterator[str]:
        fields = list(definition.fields.values())
        if definition.items is not None:
            fields.append(definition.items)
        for f in fields:
            one: Field | None = f
            while one is not None:
                # Synthetic (dotted) definitions are converted together with their owner.
                if one.ref is not None and "." not in one.ref:
                    yield one.ref
                if one.enum is not None:
                    yield one.enum
                one = one.items

    def convert_enum(self, name: str) -> Enum:
        schema = self.raw[name]
        values = tuple(str(v) for v in schema["enum"])
        by_lower = {v.lower(): v for v in values}
        labels: dict[str, str] = {}
        for key, label in schema.get("x-display_enum_text", {}).items():
            # One enum keys its labels in a different case from its values.
            value = key if key in values else by_lower.get(str(key).lower())
            if value is not None and value not in labels:
                labels[value] = str(label)
        return Enum(
            name=name,
            values=values,
            labels=labels,
            added=self.value_versions(schema.get("x-added_value", {}), values),
            deprecated=self.value_versions(schema.get("x-deprecated_value", {}), values),
            default=schema.get("default"),
            added_in=schema.get("x-added"),
            deprecated_in=schema.get("x-deprecated"),
        )

    @staticmethod
    def value_versions(by_version: Mapping[str, list[str]], known: tuple[str, ...]) -> dict[str, str]:
        return {v: version for version, names in by_version.items() for v in names if v in known}

    def convert_definition(self, name: str) -> list[Definition]:
        """The definition itself plus the synthetic ones for its inline objects (``<name>.<field>``)."""
        schema = self.raw[name]
        extra: list[Definition] = []
        kind = schema.get("type", "object")
        if kind == "array":
            items = self.convert_field(name, "items", schema["items"], {}, extra)
            return [
                Definition(
                    name=name,
                    fields={},
                    type="array",
                    items=items,
                    added=schema.get("x-added"),
                    deprecated=schema.get("x-deprecated"),
                ),
                *extra,
            ]
        if kind == "string":
            # Download payloads (files): no fields to describe.
            return [
                Definition(
                    name=name,
                    fields={},
                    type="string",
                    added=schema.get("x-added"),
                    deprecated=schema.get("x-deprecated"),
                )
            ]
        props, required = self.flat_properties(name)
        tags = self.property_versions(name)
        fields = {p: self.convert_field(name, p, s, tags.get(p, {}), extra) for p, s in props}
        return [
            Definition(
                name=name,
                fields=fields,
                required=tuple(required),
                base=self.base_of(name),
                discriminator=schema.get("discriminator"),
                added=schema.get("x-added"),
                deprecated=schema.get("x-deprecated"),
            ),
            *extra,
        ]

    def property_versions(self, name: str) -> dict[str, dict[str, str]]:
        """Version tags a definition gives its properties through ``x-added_value``/``x-deprecated_value``."""
        out: dict[str, dict[str, str]] = {}
        for key, tag in (("x-added_value", "added"), ("x-deprecated_value", "deprecated")):
            for version, props in self.raw[name].get(key, {}).items():
                for p in props:
                    out.setdefault(p, {})[tag] = version
        return out

    def convert_field(
        self,
        owner: str,
        name: str,
        schema: Mapping[str, Any],
        inherited: Mapping[str, str],
        extra: list[Definition],
    ) -> Field:
        attrs: dict[str, Any] = {}
        ref = schema.get("$ref")
        x_ref = schema.get("x-ref")
        if ref is not None:
            target = ref_name(ref)
            target_schema = self.raw[target]
            if self.is_enum(target):
                attrs.update(type="string", enum=target)
            elif target_schema.get("type") == "array":
                self.inlined.append(target)
                attrs.update(
                    type="array", items=self.convert_field(target, "items", target_schema["items"], {}, extra)
                )
            elif target_schema.get("type") == "string":
                attrs.update(type="string")
            else:
                obj = Field(
                    name=name,
                    type="object",
                    ref=target,
                    relation=x_ref,
                    no_filter=bool(target_schema.get("x-no_filter")),
                )
                if schema.get("type") == "array":
                    # A few properties put "type: array" beside the $ref of their item definition.
                    attrs.update(type="array", items=obj)
                else:
                    attrs.update(type="object", ref=target, relation=x_ref, no_filter=obj.no_filter)
            x_ref = None
        elif "properties" in schema:
            synthetic = f"{owner}.{name}"
            props = schema["properties"]
            sub_fields = {p: self.convert_field(synthetic, p, s, {}, extra) for p, s in props.items()}
            extra.append(
                Definition(name=synthetic, fields=sub_fields, required=tuple(schema.get("required", ())))
            )
            attrs.update(type="object", ref=synthetic)
        else:
            attrs["type"] = schema.get("type", "object" if "items" not in schema else "array")
        if "items" in schema and "items" not in attrs:
            attrs["items"] = self.convert_field(owner, name, schema["items"], {}, extra)
        if x_ref is not None and not x_ref.startswith("#"):
            # "#null", "#resource" and "#remote/<type>" name no local resource type to follow.
            attrs["x_ref"] = x_ref
        if says_name_ref(schema):
            if attrs.get("items") is not None:
                attrs["items"] = self.with_name_ref(attrs["items"])
            else:
                attrs["name_ref"] = True
        if "x-units" in schema:
            attrs["units"] = normalise_units(schema["x-units"])
        for key, attr in (
            ("format", "format"),
            ("minimum", "minimum"),
            ("maximum", "maximum"),
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
            ("pattern", "pattern"),
            ("minItems", "min_items"),
            ("maxItems", "max_items"),
            ("default", "default"),
        ):
            if key in schema and attr not in attrs:
                attrs[attr] = schema[key]
        if ref is not None and attrs.get("enum") is not None:
            # A stray min/max beside an enum $ref means nothing for a string.
            attrs.pop("minimum", None)
            attrs.pop("maximum", None)
        for key, attr in (
            ("x-pstore-nullable", "nullable"),
            ("x-case-insensitive", "case_insensitive"),
            ("uniqueItems", "unique_items"),
        ):
            if schema.get(key):
                attrs[attr] = True
        if schema.get("x-no_filter"):
            attrs["no_filter"] = True
        attrs["added"] = schema.get("x-added", inherited.get("added"))
        attrs["deprecated"] = schema.get("x-deprecated", inherited.get("deprecated"))
        return Field(name=name, **attrs)

    @staticmethod
    def with_name_ref(f: Field) -> Field:
        return replace(f, name_ref=True)

    # ----- resource types ----------------------------------------------------------------------

    def operation(self, name: str, op: Mapping[str, Any]) -> Operation:
        body: str | None = None
        body_required = False
        upload: str | None = None
        for param in op.get("parameters", []):
            if param.get("in") == "body":
                body = ref_name(param["schema"]["$ref"])
                body_required = bool(param.get("required"))
            elif param.get("in") == "formData" and param.get("type") == "file":
                upload = param["name"]
        responses = op.get("responses", {})
        statuses = tuple(sorted(int(code) for code in responses if code.isdigit() and 200 <= int(code) < 300))
        response: str | None = None
        response_array = False
        for code in sorted(c for c in responses if c.isdigit() and 200 <= int(c) < 300):
            schema = responses[code].get("schema")
            if schema is None:
                continue
            if schema.get("type") == "array":
                response, response_array = ref_name(schema["items"]["$ref"]), True
            else:
                response = ref_name(schema["$ref"])
            break
        for definition in (body, response):
            if definition is not None:
                self.add_definition(definition)
        return Operation(
            name=name,
            body=body,
            body_required=body_required,
            statuses=statuses,
            response=response,
            response_array=response_array,
            upload=upload,
            added=op.get("x-added"),
            deprecated=op.get("x-deprecated"),
        )

    @staticmethod
    def get_definition(op: Mapping[str, Any]) -> str | None:
        schema = op.get("responses", {}).get("200", {}).get("schema")
        if schema is None:
            return None
        if schema.get("type") == "array":
            return ref_name(schema["items"]["$ref"])
        return ref_name(schema["$ref"])

    def resource_types(self) -> dict[str, ResourceType]:
        by_type: dict[str, list[tuple[list[str], Mapping[str, Any]]]] = {}
        for path, item in self.spec["paths"].items():
            segments = path.strip("/").split("/")
            by_type.setdefault(segments[0], []).append((segments[1:], item))
        return {name: self.resource_type(name, paths) for name, paths in sorted(by_type.items())}

    def resource_type(self, name: str, paths: list[tuple[list[str], Mapping[str, Any]]]) -> ResourceType:
        collection: Mapping[str, Any] = {}
        instance: Mapping[str, Any] = {}
        actions: dict[str, Operation] = {}
        collection_actions: dict[str, Operation] = {}
        downloads: dict[str, str | None] = {}
        name_addressing = False
        for rest, item in paths:
            if rest and rest[0].startswith("{"):
                params = list(item.get("parameters", []))
                for method, op in item.items():
                    if method != "parameters":
                        params += op.get("parameters", [])
                if any(p.get("in") == "path" and p.get("name") == "id" and says_name_ref(p) for p in params):
                    name_addressing = True
            if not rest:
                collection = item
            elif len(rest) == 1 and rest[0].startswith("{"):
                instance = item
            elif rest[0].startswith("{"):
                action = "/".join(rest[1:])
                if "post" in item:
                    actions[action] = self.operation(action, item["post"])
                if "get" in item:
                    downloads[action] = self.get_definition(item["get"])
            else:
                action = "/".join(rest)
                if "post" in item:
                    collection_actions[action] = self.operation(action, item["post"])
        get_list, get_one = collection.get("get"), instance.get("get")
        instance_definition = None
        for op in (get_list, get_one):
            if op is not None and instance_definition is None:
                instance_definition = self.get_definition(op)
        for definition in downloads.values():
            if definition is not None:
                self.add_definition(definition)
        select_cli: tuple[str, ...] = ()
        if instance_definition is not None:
            self.add_definition(instance_definition)
            select_cli = tuple(self.raw[instance_definition].get("x-select_cli", ()))
        first_get = get_list or get_one or {}
        return ResourceType(
            name=name,
            instance=instance_definition or "",
            simple_get=bool(get_list is not None and get_list.get("x-simple_get")),
            name_addressing=name_addressing,
            can_list=get_list is not None,
            can_get=get_one is not None,
            create=self.operation("create", collection["post"]) if "post" in collection else None,
            modify=self.operation("modify", instance["patch"]) if "patch" in instance else None,
            delete=self.operation("delete", instance["delete"]) if "delete" in instance else None,
            actions=actions,
            collection_actions=collection_actions,
            downloads=downloads,
            select_cli=select_cli,
            added=first_get.get("x-added"),
        )

    def error_responses(self) -> None:
        for item in self.spec["paths"].values():
            for method, op in item.items():
                if method == "parameters":
                    continue
                for response in op.get("responses", {}).values():
                    schema = response.get("schema", {})
                    if "$ref" in schema:
                        self.add_definition(ref_name(schema["$ref"]))

    def catalog(self) -> Catalog:
        types = self.resource_types()
        self.error_responses()
        # Job results: every job_*_response is reachable through job_instance.response_body (base_response).
        return Catalog(
            api_version=str(self.spec["info"]["version"]),
            enums=dict(sorted(self.enums.items())),
            definitions=dict(sorted(self.definitions.items())),
            types=types,
        )


def generate(spec: Mapping[str, Any]) -> Catalog:
    return Generator(spec).catalog()


def dump(catalog: Catalog) -> str:
    return json.dumps(catalog.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC, help="the OpenAPI 4.1 JSON spec")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write catalog.json")
    args = parser.parse_args(argv)
    spec = json.loads(args.spec.read_text(encoding="utf-8"))
    text = dump(generate(spec))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    catalog = Catalog.from_json(json.loads(text))
    print(
        f"{args.out}: {len(text.encode()):,} bytes, {len(catalog.types)} types, "
        f"{len(catalog.definitions)} definitions, {len(catalog.enums)} enums"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
