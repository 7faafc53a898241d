"""Query expressions for the PowerStore REST API: build filters in Python, never as strings.

Filters are a small immutable tree::

    from console.api.expressions import F, all_of, to_params

    where = (F("size") >= 1073741824) & F("name").ilike("*prod*") & ~F("type").is_in(["Snapshot"])
    params = to_params(where)        # [("size", "gte.1073741824"), ("name", "ilike.*prod*"), ...]
    httpx_client.get("/volume", params=[*params, ("select", "id,name")])

``to_params`` produces the API syntax (reference §3) unencoded; httpx URL-encodes it. At the top
level each condition of an AND is its own ``attr=[not.]op.value`` parameter whose value is sent raw
(the server takes everything after ``op.`` as the value). ORs, negated groups and everything inside
a group become ``or=(…)``/``and=(…)``/``not.and=(…)``/``not.or=(…)`` with terms ``attr.[not.]op.value``
and nested ``and(…)``/``or(…)``. Inside groups and lists (``in.(…)``, ``cs.{…}``) a value holding a
separator is double-quoted with ``\\"`` and ``\\\\`` escapes (``quote_value``), exactly as the
simulator's parser reads it.

Collections the spec marks ``x-simple_get`` are neither filtered, sorted nor paged by the server;
``matches`` and ``apply`` evaluate the same expressions on records in memory with the simulator's
semantics: SQL three-valued logic (a condition on a null field is unknown, ``not`` keeps it unknown,
only ``is`` tests null), case-insensitive fields folded for every operator, timestamps compared
chronologically, enums ordered as the enum declares them, ``*`` the only ``like`` wildcard. Field
metadata comes from the catalog (``fields=catalog.instance_fields(type)``); without it, kinds are
inferred from the Python values in the expression (strings compare case-sensitively).

Values: ``str``, ``int``, ``float``, ``bool``, aware ``datetime`` (sent as ISO 8601 with milliseconds
and offset, as the API writes timestamps; sub-millisecond digits are dropped) and ``enum.Enum``
members (their value). Orders are ``Order`` values, ``F("size").desc()``, or strings holding ONE key
in API syntax (``"name"``, ``"size.desc"``, ``"creation_timestamp.desc.nullslast"``).

No I/O and no Qt: the catalog is only loaded (once per process, cached) when an in-memory evaluation
needs enum orders or embedded-object definitions and the caller passed no catalog.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from console.catalog import Catalog, Field, load_catalog
from console.comparison import (
    casefold_text,
    embedded_fields,
    enum_rank,
    field_kind,
    fields_of,
    parse_timestamp,
)

__all__ = [
    "Condition",
    "Expression",
    "ExpressionError",
    "F",
    "Group",
    "Order",
    "OrderLike",
    "Scalar",
    "all_of",
    "any_of",
    "apply",
    "matches",
    "quote_value",
    "render_order",
    "render_value",
    "to_params",
]

Scalar = str | int | float | bool | dt.datetime
"""A value as an expression keeps it (enum members are stored as their value)."""

OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in", "is", "like", "ilike", "cs", "cd"})
# Characters that make a list item or group value ambiguous unless quoted (as the server reads them).
QUOTE_TRIGGERS = frozenset(',()."\\{}')
# Query parameter names the server reads as something other than a filter on a field of that name.
RESERVED_PARAMS = frozenset(
    {"select", "order", "limit", "offset", "is_async", "and", "or", "not.and", "not.or"}
)
MAX_GROUP_DEPTH = 16
"""The server refuses groups nested deeper."""

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_ATTR = re.compile(rf"{_NAME}(->>{_NAME})?\Z")
_ORDER_PATH = re.compile(rf"{_NAME}((\.|->>){_NAME})*\Z")
_ORDER_MODIFIERS = ("asc", "desc", "nullsfirst", "nullslast")
_INTEGER = re.compile(r"[+-]?\d+\Z")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


class ExpressionError(ValueError):
    """An expression that cannot be built, rendered or evaluated (bad name, value or operator)."""


# -- values --------------------------------------------------------------------------------------


def _scalar(value: object, *, what: str = "value") -> Scalar:
    """A value checked and normalised for storage in an expression."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"The {what} {value!r} is not a finite number.")
        return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ExpressionError(f"The {what} {value!r} has no time zone; give an aware datetime.")
        return value
    raise ExpressionError(f"Unsupported {what} {value!r} ({type(value).__name__}).")


def _collection(values: object, what: str) -> tuple[Scalar, ...]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ExpressionError(f"{what} takes a collection of values, not {values!r}.")
    return tuple(_scalar(v, what="list item") for v in values)


def render_value(value: Scalar | enum.Enum) -> str:
    """One value in the API's text form, unquoted: ``true``, ``42``, ``2024-05-01T10:00:00.120+00:00``."""
    value = _scalar(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="milliseconds")
    return value


def quote_value(text: str) -> str:
    """A list item or group value as the server expects it: quoted when it holds a separator or is
    empty (must agree exactly with ``console.simulator.query.quote_value``)."""
    if text and not any(c in QUOTE_TRIGGERS for c in text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- the tree ------------------------------------------------------------------------------------


class Expression:
    """A filter: combine with ``&`` (and), ``|`` (or) and ``~`` (not)."""

    __slots__ = ()

    def __and__(self, other: Expression) -> Expression:
        return all_of(self, other)

    def __or__(self, other: Expression) -> Expression:
        return any_of(self, other)

    def __invert__(self) -> Expression:
        raise NotImplementedError

    def __bool__(self) -> bool:
        # `a and b`, `if F(..) == x` and chained comparisons (`1 < F("x") < 5`) would silently drop
        # a condition; refuse them like numpy and SQLAlchemy do.
        raise TypeError("An expression has no truth value: combine expressions with &, | and ~.")


@dataclass(frozen=True, slots=True)
class Condition(Expression):
    """One term: ``attr [not] op value``. ``value`` is a ``Scalar``, a tuple of them for ``in``, ``cs``,
    ``cd`` and array equality, the pattern for ``like``/``ilike``, or None/True/False for ``is``."""

    attr: str
    op: str
    value: Scalar | tuple[Scalar, ...] | None
    negate: bool = False

    def __post_init__(self) -> None:
        _check_attr(self.attr)
        if self.op not in OPERATORS:
            raise ExpressionError(f"Unknown operator {self.op!r}.")
        if self.op == "is":
            if not (self.value is None or self.value is True or self.value is False):
                raise ExpressionError("is takes None, True or False.")
        elif self.op in ("in", "cs", "cd"):
            if not isinstance(self.value, tuple):
                raise ExpressionError(f"{self.op} takes a tuple of values.")
        elif self.value is None:
            raise ExpressionError(f"{self.op} needs a value; test for null with is.")
        elif self.op in ("like", "ilike") and not isinstance(self.value, str):
            raise ExpressionError(f"{self.op} takes a text pattern.")

    def __invert__(self) -> Condition:
        return Condition(self.attr, self.op, self.value, not self.negate)


@dataclass(frozen=True, slots=True)
class Group(Expression):
    """``and``/``or`` of terms, optionally negated. An empty ``and`` is true, an empty ``or`` false."""

    kind: Literal["and", "or"]
    terms: tuple[Expression, ...]
    negate: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("and", "or"):
            raise ExpressionError(f"Unknown group kind {self.kind!r}.")
        for term in self.terms:
            if not isinstance(term, Condition | Group):
                raise ExpressionError(f"Not an expression: {term!r}.")

    def __invert__(self) -> Group:
        return Group(self.kind, self.terms, not self.negate)


def _check_attr(attr: object) -> None:
    if not isinstance(attr, str) or not _ATTR.match(attr):
        raise ExpressionError(f"Invalid attribute name {attr!r}: expected name or object->>field.")


def _combine(kind: Literal["and", "or"], exprs: tuple[Expression, ...]) -> Expression:
    terms: list[Expression] = []
    for e in exprs:
        if not isinstance(e, Condition | Group):
            raise ExpressionError(f"Not an expression: {e!r}.")
        # Same-kind groups merge so that `a & b & c` renders as three top-level parameters.
        if isinstance(e, Group) and e.kind == kind and not e.negate:
            terms.extend(e.terms)
        else:
            terms.append(e)
    return terms[0] if len(terms) == 1 else Group(kind, tuple(terms))


def all_of(*exprs: Expression) -> Expression:
    """The AND of ``exprs`` (true when there are none)."""
    return _combine("and", exprs)


def any_of(*exprs: Expression) -> Expression:
    """The OR of ``exprs`` (false when there are none: ``to_params`` refuses to send that)."""
    return _combine("or", exprs)


class F:
    """A field to build conditions on: ``F("size") >= 1 << 30``, ``F("id").is_in(ids)``.

    ``==``/``!=`` with None test null (``is.null``/``not.is.null``); with a list or tuple they compare a
    whole array field. F is not hashable, as its ``==`` builds a condition."""

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str) -> None:
        _check_attr(name)
        self.name = name

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def key(self, sub: str) -> F:
        """A field inside this embedded object: ``F("protection_data").key("source_id")``."""
        if "->>" in self.name:
            raise ExpressionError(f"{self.name} is already inside an embedded object.")
        return F(f"{self.name}->>{sub}")

    def _compare(self, op: str, value: object) -> Condition:
        return Condition(self.name, op, _scalar(value))

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        if value is None:
            return Condition(self.name, "is", None)
        if isinstance(value, list | tuple):
            return Condition(self.name, "eq", _collection(value, "Array equality"))
        return self._compare("eq", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        if value is None:
            return Condition(self.name, "is", None, negate=True)
        if isinstance(value, list | tuple):
            return Condition(self.name, "neq", _collection(value, "Array equality"))
        return self._compare("neq", value)

    def __lt__(self, value: object) -> Condition:
        return self._compare("lt", value)

    def __le__(self, value: object) -> Condition:
        return self._compare("lte", value)

    def __gt__(self, value: object) -> Condition:
        return self._compare("gt", value)

    def __ge__(self, value: object) -> Condition:
        return self._compare("gte", value)

    def is_in(self, values: Iterable[Scalar | enum.Enum]) -> Condition:
        """``in.(…)``; an empty collection matches nothing."""
        return Condition(self.name, "in", _collection(values, "is_in"))

    def like(self, pattern: str) -> Condition:
        """Whole-value pattern, ``*`` the only wildcard (there is no escape for a literal ``*``)."""
        if not isinstance(pattern, str):
            raise ExpressionError(f"like takes a text pattern, not {pattern!r}.")
        return Condition(self.name, "like", pattern)

    def ilike(self, pattern: str) -> Condition:
        """``like`` ignoring case."""
        if not isinstance(pattern, str):
            raise ExpressionError(f"ilike takes a text pattern, not {pattern!r}.")
        return Condition(self.name, "ilike", pattern)

    def is_(self, value: bool | None) -> Condition:
        """``is.null``, ``is.true`` or ``is.false`` (never unknown, unlike ``==``)."""
        if value is not None and not isinstance(value, bool):
            raise ExpressionError(f"is_ takes None, True or False, not {value!r}.")
        return Condition(self.name, "is", value)

    def is_null(self) -> Condition:
        return self.is_(None)

    def is_not_null(self) -> Condition:
        return Condition(self.name, "is", None, negate=True)

    def is_true(self) -> Condition:
        return self.is_(True)

    def is_false(self) -> Condition:
        return self.is_(False)

    def contains(self, values: Iterable[Scalar | enum.Enum]) -> Condition:
        """``cs.{…}``: the array field holds every one of ``values``."""
        return Condition(self.name, "cs", _collection(values, "contains"))

    def contained_in(self, values: Iterable[Scalar | enum.Enum]) -> Condition:
        """``cd.{…}``: every item of the array field is one of ``values``."""
        return Condition(self.name, "cd", _collection(values, "contained_in"))

    def asc(self, *, nulls_first: bool | None = None) -> Order:
        return Order(self.name, False, nulls_first)

    def desc(self, *, nulls_first: bool | None = None) -> Order:
        return Order(self.name, True, nulls_first)


# -- rendering -----------------------------------------------------------------------------------


def _operand(cond: Condition, *, quoted: bool) -> str:
    value = cond.value
    if cond.op == "is":
        return "null" if value is None else render_value(value)  # type: ignore[arg-type]
    if isinstance(value, tuple):
        items = ",".join(quote_value(render_value(v)) for v in value)
        return f"({items})" if cond.op == "in" else "{" + items + "}"
    assert value is not None
    text = render_value(value)
    return quote_value(text) if quoted else text


def _term(expr: Expression, depth: int) -> str:
    if isinstance(expr, Condition):
        return f"{expr.attr}.{'not.' if expr.negate else ''}{expr.op}.{_operand(expr, quoted=True)}"
    assert isinstance(expr, Group)
    return ("not." if expr.negate else "") + expr.kind + _group_body(expr, depth + 1)


def _group_body(group: Group, depth: int) -> str:
    if depth > MAX_GROUP_DEPTH:
        raise ExpressionError(f"Groups are nested more than {MAX_GROUP_DEPTH} deep.")
    return "(" + ",".join(_term(t, depth) for t in group.terms) + ")"


# Results of simplification besides an expression: constant truth values.
_TRUE = Group("and", ())
_FALSE = Group("or", ())


def _simplify(expr: Expression) -> Expression:
    """Drop empty groups (which the server cannot parse) using and(x, true) = x, or(x, false) = x,
    and unwrap single-term groups; the result is ``_TRUE``, ``_FALSE`` or has no empty group."""
    if isinstance(expr, Condition):
        return expr
    assert isinstance(expr, Group)
    unit, absorbing = (_TRUE, _FALSE) if expr.kind == "and" else (_FALSE, _TRUE)
    terms: list[Expression] = []
    result: Expression | None = None
    for t in expr.terms:
        s = _simplify(t)
        if s == absorbing:
            result = absorbing
            break
        if s != unit:
            terms.append(s)
    if result is None:
        if not terms:
            result = unit
        elif len(terms) == 1:
            result = terms[0]
        else:
            result = _combine(expr.kind, tuple(terms))
    if not expr.negate:
        return result
    if result == _TRUE:
        return _FALSE
    if result == _FALSE:
        return _TRUE
    return ~result


def to_params(expr: Expression | None) -> list[tuple[str, str]]:
    """The query parameters selecting what ``expr`` selects, for httpx ``params=`` (unencoded).

    Raises ``ExpressionError`` for an expression that matches nothing by construction (an empty
    ``any_of()``): the API has no way to say so; callers should skip the request instead.
    """
    if expr is None:
        return []
    simple = _simplify(expr)
    if simple == _FALSE:
        raise ExpressionError("The filter matches nothing (an empty any_of); do not send the request.")
    if simple == _TRUE:
        return []
    params: list[tuple[str, str]] = []
    top = (
        simple.terms
        if isinstance(simple, Group) and simple.kind == "and" and not simple.negate
        else (simple,)
    )
    for term in top:
        if isinstance(term, Condition) and term.attr not in RESERVED_PARAMS:
            value = _operand(term, quoted=False)
            params.append((term.attr, f"{'not.' if term.negate else ''}{term.op}.{value}"))
        elif isinstance(term, Condition):
            params.append(("and", f"({_term(term, 1)})"))
        else:
            assert isinstance(term, Group)
            params.append((("not." if term.negate else "") + term.kind, _group_body(term, 1)))
    return params


# -- order ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """One sort key. ``key`` is an attribute, possibly through a to-one relation or into an embedded
    object (``protection_policy.name``, ``protection_data.expiration_timestamp``). ``nulls_first``
    None keeps the server's default: nulls last ascending, first descending."""

    key: str
    descending: bool = False
    nulls_first: bool | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not _ORDER_PATH.match(self.key):
            raise ExpressionError(f"Invalid sort key {self.key!r}.")
        if len(self.path) > 1 and self.path[-1] in _ORDER_MODIFIERS:
            raise ExpressionError(f"Invalid sort key {self.key!r}: it ends in a sort modifier.")

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(self.key.replace("->>", ".").split("."))

    @classmethod
    def parse(cls, text: str) -> Order:
        """One key in API syntax: ``attr[.asc|.desc][.nullsfirst|.nullslast]`` (no commas)."""
        if not isinstance(text, str) or "," in text:
            raise ExpressionError(f"Invalid sort key {text!r}: give one key per item.")
        parts = text.strip().split(".")
        descending = False
        nulls_first: bool | None = None
        while len(parts) > 1 and parts[-1] in _ORDER_MODIFIERS:
            modifier = parts.pop()
            if modifier in ("nullsfirst", "nullslast"):
                nulls_first = modifier == "nullsfirst"
            else:
                descending = modifier == "desc"
        return cls(".".join(parts), descending, nulls_first)

    def render(self) -> str:
        text = self.key + (".desc" if self.descending else "")
        if self.nulls_first is not None:
            text += ".nullsfirst" if self.nulls_first else ".nullslast"
        return text

    def __str__(self) -> str:
        return self.render()


OrderLike = str | Order | Sequence[str | Order]
"""A single key (``Order`` or one key as text) or a sequence of keys, most significant first."""


def _order_keys(order: OrderLike | None) -> tuple[Order, ...]:
    if order is None:
        return ()
    items: Sequence[str | Order] = [order] if isinstance(order, str | Order) else order
    keys = []
    for item in items:
        if isinstance(item, Order):
            keys.append(item)
        elif isinstance(item, str):
            keys.append(Order.parse(item))
        else:
            raise ExpressionError(f"Invalid sort key {item!r}.")
    return tuple(keys)


def render_order(order: OrderLike | None) -> str:
    """The ``order`` parameter's value (``"name,size.desc"``); empty for no order (omit the parameter)."""
    return ",".join(k.render() for k in _order_keys(order))


# -- in-memory evaluation ------------------------------------------------------------------------


class _Schema:
    """Field metadata for one evaluation; the catalog is fetched only when a field needs it."""

    def __init__(self, fields: Mapping[str, Field] | None, catalog: Catalog | None) -> None:
        self.fields = fields
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def kind(self, f: Field) -> str:
        return field_kind(self.catalog, f)

    def enum_rank(self, f: Field) -> dict[str, int]:
        return enum_rank(self.catalog, f)

    def embedded(self, f: Field) -> Mapping[str, Field] | None:
        return embedded_fields(self.catalog, f)

    def related(self, type_name: str) -> Mapping[str, Field] | None:
        return fields_of(self.catalog, type_name)

    def filter_field(self, attr: str) -> tuple[Field, str]:
        assert self.fields is not None
        base, arrow, sub = attr.partition("->>")
        f = self.fields.get(base) if not base.startswith("_") else None
        if f is None:
            raise ExpressionError(f"Unknown property: {base}.")
        if arrow:
            if not (f.type == "object" and not f.is_relation):
                raise ExpressionError(f"{base} is not an embedded object; ->> does not apply.")
            known = self.embedded(f)
            if known is None:
                f = Field(sub, "string")
            elif sub in known and not sub.startswith("_"):
                f = known[sub]
            else:
                raise ExpressionError(f"Unknown property: {attr}.")
        elif f.no_filter or f.is_relation:
            raise ExpressionError(f"Filtering on {attr} is not supported.")
        kind = self.kind(f)
        if kind in ("object", "relation"):
            raise ExpressionError(f"Filtering on {attr} is not supported.")
        return f, kind


def _inferred_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    return "string"


def _coerce(schema: _Schema, attr: str, f: Field | None, kind: str, value: Scalar) -> Any:
    """The constant the server would compare with: the value's text form read as the field's kind."""
    text = render_value(value)
    if kind == "integer":
        if not _INTEGER.match(text):
            raise ExpressionError(f"Invalid value {text!r} for {attr}: expected an integer.")
        return int(text)
    if kind == "number":
        if not _NUMBER.match(text):
            raise ExpressionError(f"Invalid value {text!r} for {attr}: expected a number.")
        return float(text)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ExpressionError(f"Invalid value {text!r} for {attr}: expected true or false.")
        return text.lower() == "true"
    if kind == "datetime":
        stamp = parse_timestamp(text)
        if stamp is None:
            raise ExpressionError(f"Invalid value {text!r} for {attr}: expected an ISO 8601 timestamp.")
        return stamp
    if kind == "enum":
        assert f is not None
        found = schema.catalog.enum_of(f)
        if found is not None and text not in found.values:
            raise ExpressionError(
                f"Invalid value {text!r} for {attr}: expected one of {', '.join(found.values)}."
            )
        return text
    if kind == "ci":
        return text.casefold()
    return text


_Test = Callable[[Mapping[str, Any]], bool | None]
"""True, False or None (unknown) for a record."""

_PREDICATES: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda v, c: v == c,
    "neq": lambda v, c: v != c,
    "gt": lambda v, c: v > c,
    "gte": lambda v, c: v >= c,
    "lt": lambda v, c: v < c,
    "lte": lambda v, c: v <= c,
    "in": lambda v, c: v in c,
    "cs": lambda v, c: c.issubset(v),
    "cd": lambda v, c: c.issuperset(v),
}


def _extractor(attr: str) -> Callable[[Mapping[str, Any]], Any]:
    base, _, sub = attr.partition("->>")
    if not sub:
        return lambda r: r.get(base)

    def extract(r: Mapping[str, Any]) -> Any:
        outer = r.get(base)
        return outer.get(sub) if isinstance(outer, Mapping) else None

    return extract


def _like(pattern: str) -> Callable[[Any, Any], bool]:
    regex = re.compile(".*".join(map(re.escape, pattern.split("*"))), re.DOTALL)
    return lambda v, _c: isinstance(v, str) and regex.fullmatch(v) is not None


def _array_norm(item_kind: str) -> Callable[[Any], Any]:
    item_norm = {"ci": casefold_text, "datetime": parse_timestamp}.get(item_kind)

    def norm(v: Any) -> Any:
        if not isinstance(v, list | tuple):
            return None
        return tuple(map(item_norm, v)) if item_norm is not None else tuple(v)

    return norm


def _compile_condition(cond: Condition, schema: _Schema) -> _Test:
    attr, op, value, negate = cond.attr, cond.op, cond.value, cond.negate
    extract = _extractor(attr)
    f: Field | None = None
    if schema.fields is not None:
        f, kind = schema.filter_field(attr)
    elif isinstance(value, tuple):
        kind = "array" if op != "in" else _inferred_kind(value[0] if value else "")
    else:
        kind = "string" if op in ("like", "ilike") else _inferred_kind(value)

    if op == "is":
        if f is not None and value is not None and kind != "boolean":
            raise ExpressionError(f"is.{str(value).lower()} applies to boolean fields only, not {attr}.")
        return lambda r: (extract(r) is value) != negate

    norm: Callable[[Any], Any] | None
    predicate: Callable[[Any, Any], bool]
    const: Any
    if kind == "array":
        item = f.items if f is not None else None
        item = item or Field("item", "string")
        items_in = value if isinstance(value, tuple) else ()
        item_kind = schema.kind(item) if f is not None else _inferred_kind(items_in[0] if items_in else "")
        if op not in ("cs", "cd", "eq", "neq") or item_kind in ("array", "object", "relation"):
            raise ExpressionError(f"Operator {op} does not apply to {attr}.")
        if not isinstance(value, tuple):
            raise ExpressionError(f"{attr} is an array: compare it with a list of values.")
        items = tuple(_coerce(schema, attr, item, item_kind, v) for v in value)
        const = frozenset(items) if op in ("cs", "cd") else items
        norm, predicate = _array_norm(item_kind), _PREDICATES[op]
    elif op in ("cs", "cd"):
        raise ExpressionError(f"Operator {op} applies to array fields only, not {attr}.")
    elif isinstance(value, tuple) and op != "in":
        raise ExpressionError(f"{attr} is not an array: compare it with a single value.")
    elif op == "in":
        assert isinstance(value, tuple)
        const = frozenset(_coerce(schema, attr, f, kind, v) for v in value)
        norm, predicate = {"ci": casefold_text, "datetime": parse_timestamp}.get(kind), _PREDICATES[op]
    elif op in ("like", "ilike"):
        if kind not in ("string", "ci", "enum"):
            raise ExpressionError(f"Operator {op} applies to text fields only, not {attr}.")
        assert isinstance(value, str)
        fold = op == "ilike" or kind == "ci"
        const, norm, predicate = (
            None,
            casefold_text if fold else None,
            _like(value.casefold() if fold else value),
        )
    else:
        assert value is not None
        assert not isinstance(value, tuple)
        const = _coerce(schema, attr, f, kind, value)
        norm = {"ci": casefold_text, "datetime": parse_timestamp}.get(kind)
        if op not in ("eq", "neq"):
            if kind == "boolean":
                raise ExpressionError(f"Operator {op} does not apply to {attr}.")
            if kind == "enum":
                assert f is not None
                rank = schema.enum_rank(f)
                norm, const = rank.get, rank[const]
        predicate = _PREDICATES[op]

    def test(r: Mapping[str, Any]) -> bool | None:
        v = extract(r)
        if norm is not None:
            v = norm(v)
        if v is None:
            return None
        try:
            result = predicate(v, const)
        except TypeError:  # a record value of another type than the field declares: unknown
            return None
        return result != negate

    return test


def _compile(expr: Expression, schema: _Schema) -> _Test:
    if isinstance(expr, Condition):
        return _compile_condition(expr, schema)
    if not isinstance(expr, Group):
        raise ExpressionError(f"Not an expression: {expr!r}.")
    tests = [_compile(t, schema) for t in expr.terms]
    conjunction, negate = expr.kind == "and", expr.negate

    def test(r: Mapping[str, Any]) -> bool | None:
        # Kleene logic: and is false if any term is false, true if all are true, else unknown.
        unknown = False
        for t in tests:
            result = t(r)
            if result is None:
                unknown = True
            elif result != conjunction:
                return result != negate
        return None if unknown else conjunction != negate

    return test


def matches(
    expr: Expression | None,
    record: Mapping[str, Any],
    fields: Mapping[str, Field] | None = None,
    *,
    catalog: Catalog | None = None,
) -> bool:
    """Whether ``record`` passes ``expr`` as the server would decide (unknown counts as no).

    ``fields``: the type's instance fields (``catalog.instance_fields(type)``) for case-insensitive
    fields, timestamps, enums and validation; unknown attributes then raise ``ExpressionError``.
    ``catalog``: where enum values and embedded definitions come from (default: the shipped catalog).
    """
    if expr is None:
        return True
    return _compile(_simplify(expr), _Schema(fields, catalog))(record) is True


_R = TypeVar("_R", bound=Mapping[str, Any])


def _walk(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _order_field(schema: _Schema, path: tuple[str, ...]) -> Field:
    """The attribute a sort key names, checked as the server checks it."""
    fields = schema.fields
    dotted = ".".join(path)
    for i, name in enumerate(path):
        f = fields.get(name) if fields is not None and not name.startswith("_") else None
        if f is None:
            raise ExpressionError(f"Unknown property: {'.'.join(path[: i + 1])}.")
        if i == len(path) - 1:
            if f.is_relation or f.type in ("array", "object"):
                raise ExpressionError(f"Cannot order by {dotted}: not a plain attribute.")
            return f
        if f.is_relation and not f.is_to_many:
            fields = schema.related(f.relation_type or "")
        elif f.type == "object" and not f.is_relation:
            fields = schema.embedded(f) or {path[i + 1]: Field(path[i + 1], "string")}
        else:
            raise ExpressionError(f"Cannot order by {dotted}: {name} is not a to-one relation.")
    raise ExpressionError("Empty sort key.")


def _column(rows: Sequence[Mapping[str, Any]], key: Order, schema: _Schema) -> list[Any]:
    """Every row's sort value for one key; with nulls present, ``(0, value)`` and a null marker
    placed where the nulls belong (the server's rule)."""
    path = key.path
    values = [_walk(r, path) for r in rows]
    if schema.fields is not None:
        f = _order_field(schema, path)
        kind = schema.kind(f)
        if kind == "ci" or (kind == "string" and path[-1] == "name"):
            values = [casefold_text(v) for v in values]
        elif kind in ("datetime", "enum"):
            norm: Callable[[Any], Any] = parse_timestamp if kind == "datetime" else schema.enum_rank(f).get
            values = [norm(v) if v is not None else None for v in values]
    elif path[-1] == "name":
        values = [v.casefold() if isinstance(v, str) else v for v in values]
    if None not in values:
        return values
    nulls_first = key.descending if key.nulls_first is None else key.nulls_first
    # Descending keys sort ascending and are then reversed: place nulls for after the reversal.
    null_key = (-1, 0) if nulls_first != key.descending else (1, 0)
    return [null_key if v is None else (0, v) for v in values]


def _sort(rows: list[_R], keys: Sequence[Order], schema: _Schema) -> list[_R]:
    """Stable multi-key sort: one pass per run of keys sharing a direction, last run first."""
    runs: list[tuple[bool, list[list[Any]]]] = []
    for key in keys:
        column = _column(rows, key, schema)
        if runs and runs[-1][0] == key.descending:
            runs[-1][1].append(column)
        else:
            runs.append((key.descending, [column]))
    positions = list(range(len(rows)))
    try:
        for descending, columns in reversed(runs):
            sort_keys = columns[0] if len(columns) == 1 else list(zip(*columns, strict=True))
            positions.sort(key=sort_keys.__getitem__, reverse=descending)
    except TypeError as exc:
        raise ExpressionError(f"Cannot order by {render_order(keys)}: values of different types.") from exc
    return [rows[p] for p in positions]


def apply(
    records: Iterable[_R],
    *,
    where: Expression | None = None,
    order: OrderLike | None = None,
    offset: int = 0,
    limit: int | None = None,
    fields: Mapping[str, Field] | None = None,
    catalog: Catalog | None = None,
) -> tuple[list[_R], int]:
    """Filter, sort and page records in memory as the server would: ``(page, total matching)``.

    For ``x-simple_get`` collections, which the server returns whole. Records are returned as given
    (not copied). An offset beyond the result gives an empty page (the server would answer 416).
    ``fields``/``catalog`` as for ``matches``.
    """
    if offset < 0:
        raise ExpressionError(f"Invalid offset {offset}: it is negative.")
    if limit is not None and limit <= 0:
        raise ExpressionError(f"Invalid limit {limit}: it must be at least 1.")
    schema = _Schema(fields, catalog)
    keys = _order_keys(order)
    rows = list(records)
    if where is not None:
        # Simplified as to_params simplifies, so that a term the server never sees is not checked here.
        passes = _compile(_simplify(where), schema)
        rows = [r for r in rows if passes(r) is True]
    total = len(rows)
    if keys:
        rows = _sort(rows, keys, schema)
    end = None if limit is None else offset + limit
    return rows[offset:end], total
