"""Dell's OpenAPI spec beside the repository, and a validator of response values against it.

The spec lives in the shared folder next to the checkout (``../shared``); CI has it there too.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

SPEC_PATH = Path(
    os.environ.get(
        "POWERSTORE_SPEC",
        Path(__file__).resolve().parents[2] / "shared" / "powerstore-openapi-4.1.json",
    )
)
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
JSON_TYPES = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def require_spec() -> Path:
    """The spec's path; outside CI a missing spec skips the test, in CI it fails it."""
    if not SPEC_PATH.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the PowerStore spec is missing at {SPEC_PATH}")
        pytest.skip(f"the PowerStore spec is not at {SPEC_PATH}")
    return SPEC_PATH


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads(require_spec().read_text(encoding="utf-8"))


def is_relation(prop: dict[str, Any]) -> bool:
    return "x-ref" in prop or "x-ref" in prop.get("items", {})


def plain_properties(definition: str) -> list[str]:
    """The instance properties that are values, not embeddable relations."""
    props = spec()["definitions"][definition]["properties"]
    return [name for name, prop in props.items() if not is_relation(prop)]


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Problems of ``value`` against a spec schema. ``null`` is accepted anywhere: the API returns it
    for unset values although Swagger 2.0 cannot say so."""
    definitions = spec()["definitions"]
    while "$ref" in schema:
        schema = {
            **definitions[schema["$ref"].rsplit("/", 1)[1]],
            **{k: v for k, v in schema.items() if k != "$ref"},
        }
    if value is None:
        return []
    problems: list[str] = []
    if "allOf" in schema:
        merged: dict[str, Any] = {"type": "object", "properties": {}}
        for part in schema["allOf"]:
            while "$ref" in part:
                part = definitions[part["$ref"].rsplit("/", 1)[1]]
            merged["properties"].update(part.get("properties", {}))
        merged["properties"].update(schema.get("properties", {}))
        schema = merged
    kind = schema.get("type", "object" if "properties" in schema else None)
    if kind is not None:
        types = JSON_TYPES[kind]
        if not isinstance(value, types) or (kind in ("integer", "number") and isinstance(value, bool)):
            return [f"{path}: {value!r} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} is not one of the enum's values")
    if kind == "string":
        if schema.get("format") == "date-time" and not DATE_TIME.match(value):
            problems.append(f"{path}: {value!r} is not an ISO 8601 date-time")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            problems.append(f"{path}: longer than {schema['maxLength']}")
    if kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} above {schema['maximum']}")
    if kind == "array":
        for i, item in enumerate(value):
            problems += validate(item, schema.get("items", {}), f"{path}[{i}]")
    if kind == "object" and "properties" in schema:
        props = schema["properties"]
        discriminator = schema.get("discriminator")
        if (
            discriminator
            and isinstance(value.get(discriminator), str)
            and value[discriminator] in definitions
        ):
            return validate(value, {"$ref": "#/definitions/" + value[discriminator]}, path)
        for key, item in value.items():
            if key not in props:
                problems.append(f"{path}: unexpected property {key!r}")
            else:
                problems += validate(item, props[key], f"{path}.{key}")
    return problems
