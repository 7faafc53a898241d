"""How the REST API compares the values of a field in filters and orders.

The simulator's query engine and the client's in-memory evaluation (for ``x-simple_get``
collections) must agree with each other and with an array; what they share lives here: the kind of
a field, the rank of enum values, timestamps (ISO 8601; no offset means UTC) and case folding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from console.catalog import Catalog, Field


def field_kind(catalog: Catalog, f: Field) -> str:
    """``relation``, ``array``, ``object``, ``enum``, ``integer``, ``number``, ``boolean``,
    ``datetime``, ``ci`` (case-insensitive text) or ``string``."""
    if f.is_relation:
        return "relation"
    if f.type in ("array", "object"):
        return f.type
    if f.enum is not None and catalog.enum_of(f) is not None:
        return "enum"
    if f.type in ("integer", "number", "boolean"):
        return f.type
    if f.format == "date-time":
        return "datetime"
    return "ci" if f.case_insensitive else "string"


def enum_rank(catalog: Catalog, f: Field) -> dict[str, int]:
    """Enum values order as the spec lists them, not alphabetically."""
    enum = catalog.enum_of(f)
    return {v: i for i, v in enumerate(enum.values)} if enum is not None else {}


def fields_of(catalog: Catalog, type_name: str) -> Mapping[str, Field] | None:
    """Instance fields of a resource type, or of a related type only known by its definition."""
    if type_name in catalog.types:
        return catalog.instance_fields(type_name)
    definition = catalog.definitions.get(f"{type_name}_instance")
    return definition.fields if definition is not None else None


def embedded_fields(catalog: Catalog, f: Field) -> Mapping[str, Field] | None:
    """The fields of an embedded object (``protection_data``), None when it has no definition."""
    definition = catalog.definitions.get(f.ref) if f.ref else None
    return definition.fields if definition is not None else None


def parse_timestamp(value: Any) -> dt.datetime | None:
    """An API timestamp as an aware datetime (no offset: UTC), None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=dt.UTC)


def casefold_text(value: Any) -> Any:
    """Text as case-insensitive fields compare it; None for anything else."""
    return value.casefold() if isinstance(value, str) else None
