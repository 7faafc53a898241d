"""What the navigation tree lists: groups as the array's own UI has them (Storage, Compute,
Protection, Monitoring, Settings, System), and per entry a resource type, a label and an optional
fixed filter ("Snapshots" are volumes with ``type = Snapshot``). Read from
``resources/navigation.json``; checked against the resource catalog.

A filter is a list of conditions that must all hold::

    {"field": "type", "op": "neq", "value": "Snapshot"}     # also eq, lt, lte, gt, gte, in (list)
    {"field": "parent_id", "op": "is_null"}                 # also is_not_null, is_true, is_false
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from console.api import Expression, F, all_of
from console.catalog import Catalog, load_catalog
from console.resource_files import read_text

NAVIGATION_FILE = "navigation.json"
FORMAT = 1

_BINARY = {"eq", "neq", "lt", "lte", "gt", "gte", "in"}
_UNARY = {"is_null", "is_not_null", "is_true", "is_false"}


class NavigationError(ValueError):
    pass


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = None

    def expression(self) -> Expression:
        f = F(self.field)
        op, value = self.op, self.value
        if op == "eq":
            return f == value
        if op == "neq":
            return f != value
        if op == "lt":
            return f < value
        if op == "lte":
            return f <= value
        if op == "gt":
            return f > value
        if op == "gte":
            return f >= value
        if op == "in":
            return f.is_in(value)
        if op == "is_null":
            return f.is_null()
        if op == "is_not_null":
            return f.is_not_null()
        if op == "is_true":
            return f.is_true()
        if op == "is_false":
            return f.is_false()
        raise NavigationError(f"unknown operator {op!r}")


@dataclass(frozen=True)
class Entry:
    id: str
    label: str
    type: str
    group: str
    conditions: tuple[Condition, ...] = ()

    @property
    def base_filter(self) -> Expression | None:
        if not self.conditions:
            return None
        return all_of(*(c.expression() for c in self.conditions))


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True)
class Navigation:
    groups: tuple[Group, ...]

    def entries(self) -> Iterator[Entry]:
        for group in self.groups:
            yield from group.entries

    def entry(self, entry_id: str) -> Entry | None:
        return next((e for e in self.entries() if e.id == entry_id), None)

    def entry_for_type(self, type_name: str) -> Entry:
        """The first entry listing ``type_name``, or an ad-hoc one (a related resource of a type
        the tree does not list, such as ``host_volume_mapping``)."""
        found = next((e for e in self.entries() if e.type == type_name), None)
        if found is not None:
            return found
        return Entry(id=f"type:{type_name}", label=type_label(type_name), type=type_name, group="")

    @property
    def default_entry(self) -> Entry:
        return next(self.entries())


def type_label(type_name: str) -> str:
    """``host_volume_mapping`` -> ``Host Volume Mappings`` (a plain label for unlisted types)."""
    words = type_name.split("_")
    plural = words[-1] + ("es" if words[-1].endswith(("s", "x", "sh", "ch")) else "s")
    return " ".join(
        w.upper() if w in ("nas", "smb", "nfs", "ip") else w.capitalize() for w in [*words[:-1], plural]
    )


def parse(data: Any, catalog: Catalog) -> Navigation:
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("groups"), list):
        raise NavigationError("navigation data must be {'format': 1, 'groups': [...]}")
    groups: list[Group] = []
    seen: set[str] = set()
    for group in data["groups"]:
        entries: list[Entry] = []
        for raw in group.get("entries", []):
            entry = _entry(raw, group["id"], catalog)
            if entry.id in seen:
                raise NavigationError(f"entry id {entry.id!r} appears twice")
            seen.add(entry.id)
            entries.append(entry)
        groups.append(Group(id=group["id"], label=group["label"], entries=tuple(entries)))
    if not seen:
        raise NavigationError("navigation data lists no entries")
    return Navigation(tuple(groups))


def _entry(raw: dict[str, Any], group: str, catalog: Catalog) -> Entry:
    type_name = raw["type"]
    if type_name not in catalog.types:
        raise NavigationError(f"{raw['id']}: unknown resource type {type_name!r}")
    fields = catalog.instance_fields(type_name)
    conditions: list[Condition] = []
    for cond in raw.get("filter", []):
        field, op = cond["field"], cond["op"]
        if field not in fields:
            raise NavigationError(f"{raw['id']}: {type_name} has no field {field!r}")
        if op not in _BINARY | _UNARY:
            raise NavigationError(f"{raw['id']}: unknown operator {op!r}")
        value = cond.get("value")
        if op in _BINARY:
            enum_name = fields[field].enum
            values = value if op == "in" else [value]
            if enum_name is not None:
                allowed = catalog.enums[enum_name].values
                bad = [v for v in values if v not in allowed]
                if bad:
                    raise NavigationError(f"{raw['id']}: {bad!r} not in {enum_name}")
        conditions.append(Condition(field, op, value))
    return Entry(id=raw["id"], label=raw["label"], type=type_name, group=group, conditions=tuple(conditions))


@functools.cache
def load_navigation() -> Navigation:
    return parse(json.loads(read_text(NAVIGATION_FILE)), load_catalog())
