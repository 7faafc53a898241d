"""The simulator's query engine: ``select``, filters, ``order`` and paging of GET requests (reference §3).

Pure: no Starlette, no I/O. Records are plain dicts holding every instance field of their type; keys
starting with ``_`` are internals, never output and never filterable. Field metadata comes from the
catalog; relations are followed through a ``RelationResolver``.

Choices where the reference leaves room (the array's behaviour is unconfirmed there):

- SQL three-valued logic: a condition on a null field is *unknown*, and ``not.`` of unknown stays
  unknown, so a null field matches neither ``eq``/``neq``/``in``/``like``/ordered comparisons nor
  their ``not.`` forms; only ``is`` tests null (``is.null``, ``not.is.null``). ``and``/``or`` groups
  combine unknowns as SQL does; a record is returned only when the whole filter is true.
- Case-insensitive fields (``x-case-insensitive``) compare case-folded for every operator (like a
  ``citext`` column), ordered comparisons included, so filters agree with ``order``. Enum values
  are case-sensitive and compared (and sorted) in the order the enum declares them.
- ``like``/``ilike`` patterns know one wildcard, ``*``, and match the whole value. They apply to
  strings and enums.
- Value quoting: at the top level (``attr=op.value``) everything after ``op.`` is the raw value. In
  lists (``in.(…)``, ``cs.{…}``) and in group terms (``and=(…)``) items are separated by commas and
  may be double-quoted, with ``\\"`` and ``\\\\`` escapes (a backslash keeps the character after it);
  unquoted items are taken verbatim up to the next separator, spaces included. ``quote_value`` gives
  the form a client should send.
- Groups: ``and=(…)``, ``or=(…)``, ``not.and=(…)``, ``not.or=(…)``; terms are ``attr.[not.]op.value``
  (``not.attr.op.value`` too) or nested ``and(…)``/``or(…)``/``not.and(…)``/``not.or(…)``, at most
  16 deep. Spaces before a term are skipped.
- ``->>`` reaches one level into an embedded object (``protection_data->>source_id``); the value is
  coerced to that sub-field's type when the catalog knows the embedded definition.
- ``order``: keys ``attr[.asc|.desc][.nullsfirst|.nullslast]``; nulls sort last ascending and first
  descending unless told otherwise. ``name`` and case-insensitive strings sort case-folded,
  timestamps chronologically, enums in declaration order. Keys may go through to-one relations
  (``protection_policy.name``) and into embedded objects (``protection_data.expiration_timestamp``).
- Paging: ``offset`` and ``limit`` from the query win, each on its own; what the query leaves out
  comes from the ``Range`` header (``first-last``, inclusive), then from the defaults (0, 100). Any
  page is capped at 2000 items. An offset beyond the last item is 416, also on an empty result
  (offset 0 on an empty result is an empty page).
- ``select=*`` selects every attribute that is not a relation (``rel(*)`` likewise).
- Repeating ``select``, ``order``, ``limit`` or ``offset`` is a 400; repeated filters are ANDed.

Refusals: unknown attribute 400 ``CODE_UNKNOWN_PROPERTY`` (argument: the name as written); filter
syntax, operator or field not filterable 400 ``CODE_BAD_FILTER``; a value that does not fit the
field 400 ``CODE_INVALID_VALUE`` (arguments: value, attribute); malformed ``select``/``order``/
``offset``/``limit``/``Range`` 400 ``CODE_BAD_REQUEST``; ``limit`` ≤ 0 or a start beyond the result
416 ``CODE_RANGE``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from console.catalog import Catalog, Field
from console.comparison import (
    casefold_text,
    embedded_fields,
    enum_rank,
    field_kind,
    fields_of,
    parse_timestamp,
)
from console.simulator.errors import (
    CODE_BAD_FILTER,
    CODE_INVALID_VALUE,
    CODE_RANGE,
    CODE_UNKNOWN_PROPERTY,
    ApiFault,
    bad_request,
    fault,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 2000

PAGING_PARAMS = ("select", "order", "limit", "offset")
IGNORED_PARAMS = frozenset({"is_async"})
GROUP_PARAMS = {"and": ("and", False), "or": ("or", False), "not.and": ("and", True), "not.or": ("or", True)}

OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in", "is", "like", "ilike", "cs", "cd"})
# Characters that make a list item or group value ambiguous unless quoted.
QUOTE_TRIGGERS = frozenset(',()."\\{}')

_MAX_DEPTH = 16
"""Nesting limit of filter groups and of relations in ``select`` (deeper requests are refused)."""

_INTEGER = re.compile(r"[+-]?\d+\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_RANGE = re.compile(r"\s*(\d+)-(\d+)\s*\Z")


# -- public data ---------------------------------------------------------------------------------


class RelationResolver(Protocol):
    def resolve(self, type_name: str, record: dict, field_name: str) -> dict | list[dict] | None: ...


@dataclass(frozen=True)
class Select:
    """Selected fields in output order: ``None`` for an attribute, a ``Select`` for a relation."""

    fields: Mapping[str, Select | None]


ID_ONLY = Select({"id": None})


@dataclass(frozen=True)
class Condition:
    """One filter term, ``attr=[not.]op.value``. ``value`` is the operand coerced to the field type
    (a tuple for ``in``/``cs``/``cd``, the pattern text for ``like``/``ilike``, ``None``/``True``/
    ``False`` for ``is``). Built by the parser, which also plans how to test it."""

    attr: str
    op: str
    negate: bool
    value: Any
    plan: _Plan = field(compare=False, repr=False)

    @functools.cached_property
    def predicate(self) -> Callable[[dict], bool]:
        """Whether a record passes (unknown, as on a null field, counts as no)."""
        return _compile(self)


@dataclass(frozen=True)
class Group:
    """``and``/``or`` of terms, optionally negated (``not.or(…)``)."""

    kind: str
    negate: bool
    terms: tuple[Condition | Group, ...]

    @functools.cached_property
    def predicate(self) -> Callable[[dict], bool]:
        """Whether a record passes (unknown, as on a null field, counts as no)."""
        return _compile(self)


@dataclass(frozen=True)
class _Plan:
    """How to test a condition: take the value at ``path`` (one level into an embedded object at
    most), pass it through ``norm`` (case folding, timestamp parsing…), then evaluate ``test``, an
    expression on that value ``v`` and the constant ``{c}``."""

    path: tuple[str, ...]
    norm: Callable[[Any], Any] | None
    test: str
    const: Any


Filter = Condition | Group


@dataclass(frozen=True)
class OrderKey:
    path: tuple[str, ...]
    descending: bool = False
    nulls_first: bool | None = None
    """``None``: the default (nulls last ascending, first descending)."""


@dataclass
class Query:
    select: Select
    filter: Filter | None = None
    order: list[OrderKey] = field(default_factory=list)
    offset: int = 0
    limit: int = DEFAULT_LIMIT


@dataclass
class Page:
    items: list[dict]
    total: int
    first: int
    last: int
    """Index of the last item (``first - 1`` when the page is empty)."""
    partial: bool
    """The page is not the whole result: answer 206 with ``Content-Range: first-last/total``."""

    @property
    def content_range(self) -> str:
        return f"{self.first}-{self.last}/{self.total}"


# -- faults --------------------------------------------------------------------------------------


def _unknown(name: str) -> ApiFault:
    return bad_request(f"Unknown property: {name}.", name, code=CODE_UNKNOWN_PROPERTY)


def _bad_filter(text: str, *arguments: object) -> ApiFault:
    return bad_request(text, *arguments, code=CODE_BAD_FILTER)


def _bad_value(attr: str, value: str, expected: str) -> ApiFault:
    return bad_request(
        f"Invalid value {value!r} for {attr}: expected {expected}.", value, attr, code=CODE_INVALID_VALUE
    )


def _range_fault(text: str, *arguments: object) -> ApiFault:
    return fault(416, CODE_RANGE, text, *arguments)


# -- catalog helpers -----------------------------------------------------------------------------


def _is_embedded(f: Field) -> bool:
    return f.type == "object" and not f.is_relation


# -- select --------------------------------------------------------------------------------------


def parse_select(catalog: Catalog, type_name: str, text: str | None) -> Select:
    """``id,name,rel(a,b(c))``. Absent or blank: ``id`` only. A bare relation name gives ids only."""
    if text is None or not text.strip():
        return ID_ONLY
    parser = _SelectParser(text)
    fields = parser.items(catalog, type_name, catalog.instance_fields(type_name))
    if parser.pos != len(text):
        raise bad_request(f"Invalid select at position {parser.pos}: {text}", text)
    return Select(fields)


class _SelectParser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _name(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",()":
            self.pos += 1
        name = self.text[start : self.pos].strip()
        if not name:
            raise bad_request(f"Invalid select, empty item at position {start}: {self.text}", self.text)
        return name

    def items(
        self, catalog: Catalog, type_name: str, fields: Mapping[str, Field] | None, depth: int = 1
    ) -> dict[str, Select | None]:
        if depth > _MAX_DEPTH:
            raise bad_request(f"Invalid select, relations nested more than {_MAX_DEPTH} deep.", self.text)
        out: dict[str, Select | None] = {}
        while True:
            name = self._name()
            sub: Select | None = None
            nested = self.pos < len(self.text) and self.text[self.pos] == "("
            if name == "*":
                if nested:
                    raise bad_request(f"Invalid select: {self.text}", self.text)
                for fname, f in (fields or {}).items():
                    if not f.is_relation:
                        _merge(out, fname, None)
            else:
                found = fields.get(name) if fields is not None and not name.startswith("_") else None
                if found is None:
                    raise _unknown(name)
                if nested:
                    target = found.relation_type
                    if target is None:
                        raise bad_request(f"{name} is not a relation and takes no sub-select.", name)
                    self.pos += 1
                    sub = Select(self.items(catalog, target, fields_of(catalog, target), depth + 1))
                    if self.pos >= len(self.text) or self.text[self.pos] != ")":
                        raise bad_request(f"Invalid select, missing ')': {self.text}", self.text)
                    self.pos += 1
                    while self.pos < len(self.text) and self.text[self.pos].isspace():
                        self.pos += 1
                    if self.pos < len(self.text) and self.text[self.pos] not in ",)":
                        raise bad_request(f"Invalid select at position {self.pos}: {self.text}", self.text)
                elif found.is_relation:
                    sub = ID_ONLY
                _merge(out, name, sub)
            if self.pos < len(self.text) and self.text[self.pos] == ",":
                self.pos += 1
                continue
            return out


def _merge(out: dict[str, Select | None], name: str, sub: Select | None) -> None:
    """A field named twice appears once; two sub-selects of one relation unite."""
    old = out.get(name)
    if name not in out or old is None:
        out[name] = sub
    elif sub is not None:
        merged = dict(old.fields)
        for k, v in sub.fields.items():
            _merge(merged, k, v)
        out[name] = Select(merged)


# -- projection ----------------------------------------------------------------------------------


def _copy(value: Any) -> Any:
    """A copy of an embedded value without hidden keys, so callers cannot alter stored records."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def project(
    catalog: Catalog, type_name: str, record: dict, select: Select, resolver: RelationResolver
) -> dict:
    """The selected fields of ``record``; relations resolved and projected with their sub-select."""
    out: dict[str, Any] = {}
    fields: Mapping[str, Field] | None = None
    for name, sub in select.fields.items():
        if sub is None:
            value = record.get(name)
            out[name] = _copy(value) if isinstance(value, dict | list) else value
            continue
        if fields is None:
            fields = fields_of(catalog, type_name) or {}
        f = fields[name]
        target = f.relation_type or ""
        related = resolver.resolve(type_name, record, name)
        if f.is_to_many:
            rows = related if isinstance(related, list) else [] if related is None else [related]
            out[name] = [project(catalog, target, r, sub, resolver) for r in rows]
        elif isinstance(related, dict):
            out[name] = project(catalog, target, related, sub, resolver)
        else:
            out[name] = None
    return out


# -- filters: syntax -----------------------------------------------------------------------------


def quote_value(value: str) -> str:
    """A list item or group value as a client should send it: quoted when it holds a separator."""
    if value and not any(c in QUOTE_TRIGGERS for c in value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Cursor:
    """Reads group terms and lists: ``(a.eq.1,or(b.in.("x,y",z),c.is.null))``, ``{a,"b c"}``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> ApiFault:
        return _bad_filter(f"Invalid filter, {what} at position {self.pos}: {self.text}", self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_spaces(self) -> None:
        while self.peek().isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.error(f"expected {char!r}")
        self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def until(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start : self.pos]

    def quoted(self) -> str:
        self.expect('"')
        chars: list[str] = []
        while True:
            if self.at_end():
                raise self.error("unterminated quote")
            c = self.text[self.pos]
            self.pos += 1
            if c == '"':
                return "".join(chars)
            if c == "\\":
                if self.at_end():
                    raise self.error("unterminated quote")
                c = self.text[self.pos]
                self.pos += 1
            chars.append(c)

    def item(self, stops: str) -> str:
        """A quoted or verbatim item ending before one of ``stops``."""
        start = self.pos
        self.skip_spaces()
        if self.peek() == '"':
            value = self.quoted()
            self.skip_spaces()
            if self.peek() not in stops or self.at_end():
                raise self.error("unexpected text after a quoted value")
            return value
        self.pos = start
        return self.until(stops)

    def items(self, opening: str) -> list[str]:
        closing = ")" if opening == "(" else "}"
        self.expect(opening)
        if self.peek() == closing:
            self.pos += 1
            return []
        values = []
        while True:
            values.append(self.item("," + closing))
            if self.at_end():
                raise self.error(f"missing {closing!r}")
            sep = self.text[self.pos]
            self.pos += 1
            if sep == closing:
                return values


def parse_filter(catalog: Catalog, type_name: str, params: Sequence[tuple[str, str]]) -> Filter | None:
    """The AND of every filter parameter (reserved parameters are skipped), or None without any."""
    terms: list[Filter] = []
    for key, value in params:
        if key in PAGING_PARAMS or key in IGNORED_PARAMS:
            continue
        terms.append(_parse_param(catalog, type_name, key, value))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else Group("and", False, tuple(terms))


def _parse_param(catalog: Catalog, type_name: str, key: str, value: str) -> Filter:
    if key in GROUP_PARAMS:
        kind, negate = GROUP_PARAMS[key]
        cursor = _Cursor(value)
        cursor.skip_spaces()
        group = _parse_group(catalog, type_name, cursor, kind, negate)
        cursor.skip_spaces()
        if not cursor.at_end():
            raise cursor.error("unexpected text after the group")
        return group
    fld, kind = _filter_field(catalog, type_name, key)
    negate, op, rest = _split_operator(key, value)
    opening = _list_opening(op, kind)
    if opening:
        cursor = _Cursor(rest)
        operand: str | list[str] = cursor.items(opening)
        cursor.skip_spaces()
        if not cursor.at_end():
            raise cursor.error("unexpected text after the list")
    else:
        operand = rest
    return _condition(catalog, key, fld, kind, negate, op, operand)


def _list_opening(op: str, kind: str) -> str:
    """How the operand's list opens (``in.(a,b)``, ``cs.{a,b}``), or "" for a single value."""
    if op == "in":
        return "("
    return "{" if op in ("cs", "cd") or (kind == "array" and op in ("eq", "neq")) else ""


def _split_operator(attr: str, value: str) -> tuple[bool, str, str]:
    negate = value.startswith("not.")
    if negate:
        value = value[4:]
    op, dot, rest = value.partition(".")
    if op not in OPERATORS or not dot:
        raise _bad_filter(f"Invalid filter on {attr}: {value!r} needs [not.]<operator>.<value>", attr)
    return negate, op, rest


def _parse_group(
    catalog: Catalog, type_name: str, cursor: _Cursor, kind: str, negate: bool, depth: int = 1
) -> Group:
    if depth > _MAX_DEPTH:
        raise cursor.error(f"groups nested more than {_MAX_DEPTH} deep")
    cursor.expect("(")
    terms: list[Filter] = []
    while True:
        cursor.skip_spaces()
        terms.append(_parse_term(catalog, type_name, cursor, depth))
        cursor.skip_spaces()
        if cursor.peek() == ",":
            cursor.pos += 1
        elif cursor.peek() == ")":
            cursor.pos += 1
            return Group(kind, negate, tuple(terms))
        else:
            raise cursor.error("expected ',' or ')'")


def _parse_term(catalog: Catalog, type_name: str, cursor: _Cursor, depth: int) -> Filter:
    for prefix in ("and(", "or(", "not.and(", "not.or("):
        if cursor.text.startswith(prefix, cursor.pos):
            cursor.pos += len(prefix) - 1
            kind, negate = GROUP_PARAMS[prefix[:-1]]
            return _parse_group(catalog, type_name, cursor, kind, negate, depth + 1)
    # Both `not.attr.op.value` and `attr.not.op.value` negate; given twice they cancel out.
    negate = cursor.text.startswith("not.", cursor.pos)
    if negate:
        cursor.pos += 4
    attr = cursor.until(".,()")
    if not attr or cursor.peek() != ".":
        raise cursor.error("expected <attr>.[not.]<operator>.<value>")
    fld, kind = _filter_field(catalog, type_name, attr)
    cursor.pos += 1
    op = cursor.until(".,()")
    if op == "not":
        negate = not negate
        cursor.expect(".")
        op = cursor.until(".,()")
    if op not in OPERATORS or cursor.peek() != ".":
        raise cursor.error(f"unknown operator {op!r}")
    cursor.pos += 1
    opening = _list_opening(op, kind)
    operand = cursor.items(opening) if opening else cursor.item(",)")
    return _condition(catalog, attr, fld, kind, negate, op, operand)


def _filter_field(catalog: Catalog, type_name: str, attr: str) -> tuple[Field, str]:
    """The field a filter key names, ``attr`` or ``attr->>sub``, and its kind."""
    fields = catalog.instance_fields(type_name)
    base, arrow, sub = attr.partition("->>")
    f = fields.get(base) if not base.startswith("_") else None
    if f is None:
        raise _unknown(base)
    if arrow:
        if not _is_embedded(f):
            raise _bad_filter(f"{base} is not an embedded object; ->> does not apply.", attr)
        if not sub or sub.startswith("_") or "->" in sub:
            raise _unknown(attr)
        known = embedded_fields(catalog, f)
        if known is None:
            f = Field(sub, "string")
        elif sub in known:
            f = known[sub]
        else:
            raise _unknown(attr)
    elif f.no_filter or f.is_relation:
        raise _bad_filter(f"Filtering on {attr} is not supported.", attr)
    kind = field_kind(catalog, f)
    if kind in ("object", "relation"):
        raise _bad_filter(f"Filtering on {attr} is not supported.", attr)
    return f, kind


# -- filters: coercion and evaluation ------------------------------------------------------------


def _coerce(catalog: Catalog, attr: str, f: Field, kind: str, text: str) -> Any:
    if kind == "integer":
        if not _INTEGER.match(text):
            raise _bad_value(attr, text, "an integer")
        return int(text)
    if kind == "number":
        if not _NUMBER.match(text):
            raise _bad_value(attr, text, "a number")
        return float(text)
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise _bad_value(attr, text, "true or false")
        return lowered == "true"
    if kind == "datetime":
        stamp = parse_timestamp(text)
        if stamp is None:
            raise _bad_value(attr, text, "an ISO 8601 timestamp")
        return stamp
    if kind == "enum":
        enum = catalog.enum_of(f)
        if enum is not None and text not in enum.values:
            raise _bad_value(attr, text, "one of " + ", ".join(enum.values))
        return text
    if kind == "ci":
        return text.casefold()
    return text


_TESTS = {
    "eq": "v == {c}",
    "neq": "v != {c}",
    "gt": "v > {c}",
    "gte": "v >= {c}",
    "lt": "v < {c}",
    "lte": "v <= {c}",
    "in": "v in {c}",
    "cs": "{c}.issubset(v)",
    "cd": "{c}.issuperset(v)",
}


def _condition(
    catalog: Catalog, attr: str, f: Field, kind: str, negate: bool, op: str, operand: str | list[str]
) -> Condition:
    base, _, sub = attr.partition("->>")
    path = (base, sub) if sub else (base,)
    norm: Callable[[Any], Any] | None = {"ci": casefold_text, "datetime": parse_timestamp}.get(kind)
    const: Any
    if op == "is":
        assert isinstance(operand, str)
        wanted = {"null": None, "true": True, "false": False}.get(operand.lower(), "?")
        if wanted == "?":
            raise _bad_value(attr, operand, "null, true or false")
        if wanted is not None and kind != "boolean":
            raise _bad_filter(f"is.{operand} applies to boolean fields only, not {attr}.", attr)
        return Condition(attr, op, negate, wanted, _Plan(path, None, "is", wanted))
    if kind == "array":
        item = f.items or Field("item", "string")
        item_kind = field_kind(catalog, item)
        if op not in ("cs", "cd", "eq", "neq") or item_kind in ("array", "object", "relation"):
            raise _bad_filter(f"Operator {op} does not apply to {attr}.", attr)
        assert isinstance(operand, list)
        items = tuple(_coerce(catalog, attr, item, item_kind, v) for v in operand)
        const = frozenset(items) if op in ("cs", "cd") else items
        return Condition(attr, op, negate, items, _Plan(path, _array_norm(item_kind), _TESTS[op], const))
    if op in ("cs", "cd"):
        raise _bad_filter(f"Operator {op} applies to array fields only, not {attr}.", attr)
    if op == "in":
        assert isinstance(operand, list)
        members = tuple(_coerce(catalog, attr, f, kind, v) for v in operand)
        return Condition(attr, op, negate, members, _Plan(path, norm, _TESTS[op], frozenset(members)))
    assert isinstance(operand, str)
    if op in ("like", "ilike"):
        if kind not in ("string", "ci", "enum"):
            raise _bad_filter(f"Operator {op} applies to text fields only, not {attr}.", attr)
        fold = op == "ilike" or kind == "ci"
        test, const = _like_plan(operand.casefold() if fold else operand)
        return Condition(attr, op, negate, operand, _Plan(path, casefold_text if fold else None, test, const))
    value = const = _coerce(catalog, attr, f, kind, operand)
    if op not in ("eq", "neq"):
        if kind == "boolean":
            raise _bad_filter(f"Operator {op} does not apply to {attr}.", attr)
        if kind == "enum":
            rank = enum_rank(catalog, f)
            norm, const = rank.get, rank[value]
    return Condition(attr, op, negate, value, _Plan(path, norm, _TESTS[op], const))


def _like_plan(pattern: str) -> tuple[str, Any]:
    """The test for a ``*`` pattern over the whole value; the common shapes avoid regular expressions."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return "v == {c}", pattern
    if not any(parts):
        return "True", None
    if len(parts) == 2 and not parts[0]:
        return "v.endswith({c})", parts[1]
    if len(parts) == 2 and not parts[1]:
        return "v.startswith({c})", parts[0]
    if len(parts) == 3 and not parts[0] and not parts[2]:
        return "{c} in v", parts[1]
    return "{c}.fullmatch(v) is not None", re.compile(".*".join(map(re.escape, parts)), re.DOTALL)


def _array_norm(item_kind: str) -> Callable[[Any], Any]:
    item_norm = {"ci": casefold_text, "datetime": parse_timestamp}.get(item_kind)

    def norm(v: Any) -> Any:
        if not isinstance(v, list):
            return None
        return tuple(map(item_norm, v)) if item_norm is not None else tuple(v)

    return norm


def _compile(node: Filter) -> Callable[[dict], bool]:
    """One Python function testing the whole filter, built once per query.

    A function per condition, called per record, costs more than the comparisons themselves over
    100,000 records, so the filter becomes a single expression. Its source holds only generated
    names (``r``, ``v``, ``w``, ``o``, ``c0``…); every value from the request travels as a bound constant.

    SQL logic: a condition on a null value is neither true nor false, and ``not.`` keeps it so. The
    expression for "node is true" and the one for "node is false" are built separately (negation
    swaps them), so unknown never needs a value of its own.
    """
    consts: list[Any] = []

    def const(value: Any) -> str:
        consts.append(value)
        return f"c{len(consts) - 1}"

    def extract(plan: _Plan) -> str:
        expr = f"r.get({const(plan.path[0])})"
        if len(plan.path) > 1:
            expr = f"(o.get({const(plan.path[1])}) if isinstance(o := {expr}, dict) else None)"
        if plan.norm is casefold_text:  # the most common normalisation, inlined
            return f"(w.casefold() if isinstance(w := {expr}, str) else None)"
        return f"{const(plan.norm)}({expr})" if plan.norm is not None else expr

    def gen(node: Filter, truth: bool) -> str:
        truth = truth != node.negate
        if isinstance(node, Group):
            conjunction = (node.kind == "and") == truth
            if not node.terms:
                return str(conjunction)
            return "(" + (" and " if conjunction else " or ").join(gen(t, truth) for t in node.terms) + ")"
        plan = node.plan
        if plan.test == "is":
            return f"({extract(plan)} {'is' if truth else 'is not'} {const(plan.const)})"
        test = plan.test.format(c=const(plan.const))
        return f"((v := {extract(plan)}) is not None and {'' if truth else 'not '}({test}))"

    body = gen(node, True)
    namespace: dict[str, Any] = {}
    params = ", ".join(f"c{n}" for n in range(len(consts)))
    exec(f"def make({params}):\n    return lambda r: {body}\n", namespace)
    return namespace["make"](*consts)


def matches(
    catalog: Catalog, type_name: str, query_filter: Filter | None, record: dict, resolver: RelationResolver
) -> bool:
    """Whether ``record`` passes the filter (unknown counts as no, as in SQL)."""
    return query_filter is None or query_filter.predicate(record)


# -- order ---------------------------------------------------------------------------------------

_ORDER_MODIFIERS = ("asc", "desc", "nullsfirst", "nullslast")


def parse_order(catalog: Catalog, type_name: str, text: str) -> list[OrderKey]:
    keys = []
    for raw in text.split(","):
        parts = raw.strip().replace("->>", ".").split(".")
        descending = False
        nulls_first: bool | None = None
        while len(parts) > 1 and parts[-1] in _ORDER_MODIFIERS:
            modifier = parts.pop()
            if modifier in ("nullsfirst", "nullslast"):
                nulls_first = modifier == "nullsfirst"
            else:
                descending = modifier == "desc"
        if not all(parts):
            raise bad_request(f"Invalid order: {text}", text)
        path = tuple(parts)
        _order_path(catalog, type_name, path)
        keys.append(OrderKey(path, descending, nulls_first))
    return keys


# A step on the way to a sort attribute: through a to-one relation (to its type) or into an
# embedded object (type "").
_Step = tuple[str, str]


def _order_path(catalog: Catalog, type_name: str, path: tuple[str, ...]) -> tuple[list[_Step], Field]:
    """The steps to the attribute a sort key names, and that attribute."""
    fields: Mapping[str, Field] | None = catalog.instance_fields(type_name)
    steps: list[_Step] = []
    dotted = ".".join(path)
    for i, name in enumerate(path):
        f = fields.get(name) if fields is not None and not name.startswith("_") else None
        if f is None:
            raise _unknown(".".join(path[: i + 1]))
        if i == len(path) - 1:
            if f.is_relation or f.type in ("array", "object"):
                raise bad_request(f"Cannot order by {dotted}: not a plain attribute.", dotted)
            return steps, f
        if f.is_relation and not f.is_to_many:
            target = f.relation_type or ""
            steps.append((name, target))
            fields = fields_of(catalog, target)
        elif _is_embedded(f):
            steps.append((name, ""))
            fields = embedded_fields(catalog, f) or {path[i + 1]: Field(path[i + 1], "string")}
        else:
            raise bad_request(f"Cannot order by {dotted}: {name} is not a to-one relation.", dotted)
    raise AssertionError("unreachable: empty sort key")


def _column(
    catalog: Catalog, type_name: str, key: OrderKey, rows: list[dict], resolver: RelationResolver
) -> list[Any]:
    """The sort key of every row for one order key: plain values when none is null (cheaper to
    compare), else ``(0, value)`` and a null marker placed where the nulls belong."""
    steps, f = _order_path(catalog, type_name, key.path)
    attr = key.path[-1]
    values: list[Any]
    if steps:
        owners = [_follow(type_name, steps, r, resolver) for r in rows]
        values = [o.get(attr) if o is not None else None for o in owners]
    else:
        values = [r.get(attr) for r in rows]
    kind = field_kind(catalog, f)
    if kind == "ci" or (kind == "string" and attr == "name"):
        values = [v.casefold() if isinstance(v, str) else None for v in values]
    elif kind in ("datetime", "enum"):
        norm: Callable[[Any], Any] = parse_timestamp if kind == "datetime" else enum_rank(catalog, f).get
        values = [norm(v) if v is not None else None for v in values]
    if None not in values:
        return values
    nulls_first = key.descending if key.nulls_first is None else key.nulls_first
    # Descending keys sort ascending and are then reversed: place nulls for after the reversal.
    null_key = (-1, 0) if nulls_first != key.descending else (1, 0)
    return [null_key if v is None else (0, v) for v in values]


def _follow(type_name: str, steps: list[_Step], record: dict, resolver: RelationResolver) -> dict | None:
    row: Any = record
    for name, target in steps:
        row = row.get(name) if not target else resolver.resolve(type_name, row, name)
        if not isinstance(row, dict):
            return None
        type_name = target
    return row


def _sort(
    catalog: Catalog, type_name: str, rows: list[dict], order: Sequence[OrderKey], resolver: RelationResolver
) -> list[dict]:
    """Stable multi-key sort: one pass per run of keys sharing a direction, last run first."""
    runs: list[tuple[bool, list[list[Any]]]] = []
    for key in order:
        column = _column(catalog, type_name, key, rows, resolver)
        if runs and runs[-1][0] == key.descending:
            runs[-1][1].append(column)
        else:
            runs.append((key.descending, [column]))
        if len(set(column)) == len(column):
            break  # all keys differ (order=name,id on unique names): later keys cannot matter
    # The columns follow the original row order, so the passes rearrange positions, not rows.
    positions = list(range(len(rows)))
    for descending, columns in reversed(runs):
        sort_keys = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
        positions.sort(key=sort_keys.__getitem__, reverse=descending)
    return [rows[p] for p in positions]


# -- query ---------------------------------------------------------------------------------------


def _integer(name: str, text: str) -> int:
    if not _INTEGER.match(text.strip()):
        raise bad_request(f"Invalid {name}: {text!r} is not an integer.", name, text)
    return int(text)


def parse_query(
    catalog: Catalog, type_name: str, params: Sequence[tuple[str, str]], range_header: str | None = None
) -> Query:
    """A GET's query parameters (decoded, in order) and ``Range`` header as a ``Query``.

    For ``x-simple_get`` types only ``select`` is read; everything else, ``Range`` included, is
    ignored and the whole collection comes back.
    """
    once: dict[str, str] = {}
    for key, value in params:
        if key in PAGING_PARAMS:
            if key in once:
                raise bad_request(f"The parameter {key} is given more than once.", key)
            once[key] = value
    select = parse_select(catalog, type_name, once.get("select"))
    if catalog.type(type_name).simple_get:
        return Query(select)
    query_filter = parse_filter(catalog, type_name, params)
    order = parse_order(catalog, type_name, once["order"]) if "order" in once else []

    offset: int | None = None
    limit: int | None = None
    if "offset" in once:
        offset = _integer("offset", once["offset"])
        if offset < 0:
            raise bad_request(f"Invalid offset: {offset} is negative.", "offset", offset)
    if "limit" in once:
        limit = _integer("limit", once["limit"])
        if limit <= 0:
            raise _range_fault(f"Invalid limit {limit}: it must be at least 1.", limit)
    if range_header is not None:
        match = _RANGE.match(range_header)
        if match is None:
            raise bad_request(
                f"Invalid Range header {range_header!r}: expected <first>-<last>.", range_header
            )
        first, last = int(match.group(1)), int(match.group(2))
        if last < first:
            raise _range_fault(f"Invalid range {range_header}: the end comes before the start.", range_header)
        offset = first if offset is None else offset
        limit = last - first + 1 if limit is None else limit
    return Query(
        select,
        query_filter,
        order,
        0 if offset is None else offset,
        DEFAULT_LIMIT if limit is None else min(limit, MAX_LIMIT),
    )


def execute(
    catalog: Catalog, type_name: str, query: Query, records: Iterable[dict], resolver: RelationResolver
) -> Page:
    """Filter, sort and page ``records`` and project the page. Raises a 416 ``ApiFault`` for a
    ``limit`` of 0 or less and for an offset beyond the last matching record."""
    return page_of(
        catalog, type_name, query, matching_rows(catalog, type_name, query, records, resolver), resolver
    )


def matching_rows(
    catalog: Catalog, type_name: str, query: Query, records: Iterable[dict], resolver: RelationResolver
) -> list[dict]:
    """The records the query's filter keeps, in the query's order (the costly part of a query,
    which callers may cache while the records do not change)."""
    if query.filter is None:
        rows = list(records)
    else:
        passes = query.filter.predicate
        rows = [r for r in records if passes(r)]
    if query.order and not catalog.type(type_name).simple_get:
        rows = _sort(catalog, type_name, rows, query.order, resolver)
    return rows


def sort_rows(
    catalog: Catalog, type_name: str, rows: list[dict], order: Sequence[OrderKey], resolver: RelationResolver
) -> list[dict]:
    """``rows`` in ``order`` (stable), as ``matching_rows`` sorts them."""
    return _sort(catalog, type_name, rows, order, resolver) if order else list(rows)


def page_of(
    catalog: Catalog, type_name: str, query: Query, rows: Sequence[dict], resolver: RelationResolver
) -> Page:
    """The page of ``rows`` (from ``matching_rows``) that the query asks for, projected."""
    total = len(rows)
    simple = catalog.type(type_name).simple_get
    first, limit = (0, total) if simple else (query.offset, min(query.limit, MAX_LIMIT))
    if not simple:
        if limit <= 0:
            raise _range_fault(f"Invalid limit {limit}: it must be at least 1.", limit)
        if first < 0:
            raise bad_request(f"Invalid offset: {first} is negative.", "offset", first)
        if first > 0 and first >= total:
            raise _range_fault(f"Offset {first} is beyond the {total} matching items.", first, total)
    page = rows[first : first + limit]
    items = [project(catalog, type_name, r, query.select, resolver) for r in page]
    return Page(items, total, first, first + len(items) - 1, first > 0 or len(items) < total)
