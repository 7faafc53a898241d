"""Schema validation of request bodies against the resource catalog.

``check_body`` is what the simulator runs before any business rule: it collects every problem in the
body (not just the first) and refuses the request with one 400 listing them all, the way the array
answers with several messages. Field paths in messages look like ``initiators[0].port_type``; each
message's first argument is that path.
"""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import datetime
from typing import Any

from console.catalog import Catalog, Definition, Field, Operation
from console.simulator.errors import (
    CODE_BAD_REQUEST,
    CODE_INVALID_VALUE,
    CODE_MISSING_REQUIRED,
    CODE_RANGE,
    CODE_UNKNOWN_PROPERTY,
    ApiFault,
    Message,
)

INT_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}

# Enums longer than this are not spelled out in a message.
MAX_LISTED_VALUES = 20
# Deeper values are refused rather than walked (no body definition nests anywhere near this).
MAX_DEPTH = 64

DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})", re.ASCII)

TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


def validate(catalog: Catalog, definition_name: str, value: object) -> list[Message]:
    """Every problem of ``value`` as an instance of ``definition_name``; empty when it is valid."""
    checker = _Checker(catalog)
    checker.definition(catalog.definitions[definition_name], value, "", 0)
    return checker.messages


def check_body(catalog: Catalog, op: Operation, body: object) -> dict[str, Any]:
    """The request body of ``op`` when valid, else ``ApiFault(400)`` listing every problem.

    ``body`` is the parsed JSON, or None for a request without a body: accepted as ``{}`` unless the
    operation requires a body. Whole numbers sent as JSON floats (``8192.0``) for integer fields come
    back as ints.
    """
    checker = _Checker(catalog)
    if body is None:
        if op.body_required:
            checker.add(CODE_BAD_REQUEST, "A request body is required.")
        body = {}
    if not isinstance(body, dict):
        checker.add(CODE_BAD_REQUEST, "The request body must be a JSON object.")
        raise ApiFault(400, checker.messages)
    if op.body is None:
        for key in body:
            checker.unknown(str(key))
        result: Any = {}
    else:
        result = checker.definition(catalog.definitions[op.body], body, "", 0)
    if checker.messages:
        raise ApiFault(400, checker.messages)
    return result


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _plural(n: object, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _is_date_time(text: str) -> bool:
    if DATE_TIME.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return False
    return True


class _Checker:
    """Walks a value against the catalog, collecting messages and building the normalised value."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.messages: list[Message] = []

    def add(self, code: str, text: str, *arguments: object) -> None:
        self.messages.append(Message(code, text, tuple(str(a) for a in arguments)))

    def unknown(self, path: str) -> None:
        self.add(CODE_UNKNOWN_PROPERTY, f"Unknown property {path}.", path)

    def wrong_type(self, path: str, expected: str) -> None:
        subject = f"Property {path}" if path else "The value"
        self.add(CODE_INVALID_VALUE, f"{subject} must be {TYPE_NAMES.get(expected, expected)}.", path)

    # ----- definitions ---------------------------------------------------------------------------

    def definition(self, definition: Definition, value: object, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            self.add(CODE_INVALID_VALUE, f"Property {path or 'value'} is nested too deeply.", path)
            return value
        if definition.type == "array":
            if definition.items is None:
                return value
            return self.array(Field(name=path, type="array", items=definition.items), value, path, depth)
        if definition.type == "string":
            if not isinstance(value, str):
                self.wrong_type(path, "string")
            return value
        if not isinstance(value, dict):
            self.wrong_type(path, "object")
            return value
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            f = definition.fields.get(name)
            if f is None:
                self.unknown(_join(path, name))
                continue
            out[name] = self.value(f, item, _join(path, name), depth + 1)
        for name in definition.required:
            if name not in value:
                where = _join(path, name)
                self.add(CODE_MISSING_REQUIRED, f"Property {where} is required.", where)
        return out

    # ----- fields --------------------------------------------------------------------------------

    def value(self, f: Field, value: object, path: str, depth: int) -> Any:
        if value is None:
            if not f.nullable:
                self.add(CODE_INVALID_VALUE, f"Property {path} cannot be null.", path)
            return None
        if f.type == "string":
            return self.string(f, value, path)
        if f.type == "integer":
            return self.integer(f, value, path)
        if f.type == "number":
            return self.number(f, value, path)
        if f.type == "boolean":
            if not isinstance(value, bool):
                self.wrong_type(path, "boolean")
            return value
        if f.type == "array":
            return self.array(f, value, path, depth)
        if f.type == "object":
            if f.ref is not None and f.ref in self.catalog.definitions:
                return self.definition(self.catalog.definitions[f.ref], value, path, depth + 1)
            if not isinstance(value, dict):
                self.wrong_type(path, "object")
            return value
        return value

    def string(self, f: Field, value: object, path: str) -> object:
        if not isinstance(value, str):
            self.wrong_type(path, "string")
            return value
        enum = self.catalog.enum_of(f)
        if enum is not None and value not in enum.values:
            if len(enum.values) <= MAX_LISTED_VALUES:
                allowed = ", ".join(enum.values)
                text = f"Property {path} must be one of {allowed}; got {value!r}."
            else:
                text = f"Property {path} has the value {value!r}, which is not a valid {enum.name} value."
            self.add(CODE_INVALID_VALUE, text, path, value)
        if f.min_length is not None and len(value) < f.min_length:
            text = f"Property {path} must be at least {_plural(f.min_length, 'character')} long."
            self.add(CODE_RANGE, text, path, f.min_length)
        if f.max_length is not None and len(value) > f.max_length:
            text = f"Property {path} must be at most {_plural(f.max_length, 'character')} long."
            self.add(CODE_RANGE, text, path, f.max_length)
        if f.pattern is not None:
            compiled = _compiled(f.pattern)
            if compiled is not None and compiled.search(value) is None:
                text = f"Property {path} does not match the pattern {f.pattern}."
                self.add(CODE_INVALID_VALUE, text, path, f.pattern)
        if f.format == "date-time" and not _is_date_time(value):
            text = (
                f"Property {path} must be an ISO 8601 date and time with a UTC offset, "
                "such as 2024-05-01T10:00:00.000+00:00."
            )
            self.add(CODE_INVALID_VALUE, text, path, value)
        return value

    def integer(self, f: Field, value: object, path: str) -> object:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.wrong_type(path, "integer")
            return value
        low, high = INT_RANGES.get(f.format or "", (None, None))
        self.limits(f, value, path, low, high)
        return value

    def number(self, f: Field, value: object, path: str) -> object:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.wrong_type(path, "number")
            return value
        if isinstance(value, float) and not math.isfinite(value):
            self.add(CODE_INVALID_VALUE, f"Property {path} must be a finite number.", path)
            return value
        self.limits(f, value, path, None, None)
        return value

    def limits(self, f: Field, value: float, path: str, low: float | None, high: float | None) -> None:
        """One message per side: the tighter of the format's range and the field's own limit."""
        if f.minimum is not None:
            low = f.minimum if low is None else max(low, f.minimum)
        if f.maximum is not None:
            high = f.maximum if high is None else min(high, f.maximum)
        if low is not None and value < low:
            self.add(CODE_RANGE, f"Property {path} must be at least {low}.", path, low)
        if high is not None and value > high:
            self.add(CODE_RANGE, f"Property {path} must be at most {high}.", path, high)

    def array(self, f: Field, value: object, path: str, depth: int) -> object:
        if not isinstance(value, list):
            self.wrong_type(path, "array")
            return value
        if f.min_items is not None and len(value) < f.min_items:
            text = f"Property {path} must have at least {_plural(f.min_items, 'item')}."
            self.add(CODE_RANGE, text, path, f.min_items)
        if f.max_items is not None and len(value) > f.max_items:
            text = f"Property {path} must have at most {_plural(f.max_items, 'item')}."
            self.add(CODE_RANGE, text, path, f.max_items)
        if f.items is None:
            return value
        out = [self.value(f.items, item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
        if f.unique_items and _has_duplicates(out):
            self.add(CODE_INVALID_VALUE, f"Property {path} must not contain duplicate items.", path)
        return out


def _has_duplicates(items: list[Any]) -> bool:
    # Canonical JSON text as the key: items may be unhashable (objects), and True must not equal 1.
    keys = {json.dumps(item, sort_keys=True, default=str) for item in items}
    return len(keys) < len(items)
