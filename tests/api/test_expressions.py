"""Query expressions (console.api.expressions): rendering to the API's filter syntax, and agreement
with the simulator's parser and engine, which stand in for the array's server side.

A small hand-made catalog keeps the in-process cases readable; the last test goes over HTTP to a
simulator seeded from the shipped catalog.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from console.api.expressions import (
    Condition,
    Expression,
    ExpressionError,
    F,
    Group,
    Order,
    all_of,
    any_of,
    apply,
    matches,
    quote_value,
    render_order,
    render_value,
    to_params,
)
from console.catalog import Catalog, Definition, Enum, Field, ResourceType
from console.simulator import DEFAULT_PASSWORD, DEFAULT_USER, SimulatorConfig, create_app
from console.simulator import query as sim_query
from console.simulator.errors import ApiFault

UTC = dt.UTC
CEST = dt.timezone(dt.timedelta(hours=2))


# -- a small catalog ---------------------------------------------------------------------------


def _s(name: str, **kw: Any) -> Field:
    return Field(name, "string", **kw)


def _fields(*items: Field) -> dict[str, Field]:
    return {f.name: f for f in items}


def _rtype(name: str) -> ResourceType:
    return ResourceType(name, f"{name}_instance", False, True, True, True, None, None, None, {})


TYPES = ("Primary", "Clone", "Snapshot", "Proxy")
CREATORS = ("User", "System", "Scheduler")
DAYS = ("Monday", "Tuesday", "Wednesday", "Saturday", "Sunday")

CATALOG = Catalog(
    "4.1.0.0",
    {
        "VolumeTypeEnum": Enum("VolumeTypeEnum", TYPES),
        "CreatorEnum": Enum("CreatorEnum", CREATORS),
        "DaysEnum": Enum("DaysEnum", DAYS),
    },
    {
        "volume_instance": Definition(
            "volume_instance",
            _fields(
                _s("id"),
                _s("name", case_insensitive=True),
                _s("description"),
                _s("type", enum="VolumeTypeEnum"),
                Field("size", "integer", format="int64"),
                Field("usage", "number"),
                _s("creation_timestamp", format="date-time"),
                Field("is_replication_destination", "boolean"),
                Field("protection_data", "object", ref="protection_data_instance", no_filter=True),
                Field("tags", "array", items=_s("tags", case_insensitive=True)),
                Field("days", "array", items=_s("days", enum="DaysEnum")),
                Field("protection_policy", "object", ref="policy_instance", relation="policy"),
            ),
        ),
        "protection_data_instance": Definition(
            "protection_data_instance",
            _fields(
                _s("source_id"),
                _s("expiration_timestamp", format="date-time"),
                _s("creator_type", enum="CreatorEnum"),
            ),
        ),
        "policy_instance": Definition("policy_instance", _fields(_s("id"), _s("name"))),
    },
    {"volume": _rtype("volume"), "policy": _rtype("policy")},
)
FIELDS = CATALOG.instance_fields("volume")


class _Embedded:
    """Relations as a client sees them when selected: nested objects inside the record."""

    def resolve(self, type_name: str, record: dict, field_name: str) -> dict | list[dict] | None:
        return record.get(field_name)


def simulate(
    records: Sequence[dict],
    where: Expression | None = None,
    order: Any = None,
    offset: int = 0,
    limit: int | None = None,
) -> tuple[list[str], int]:
    """The ids the simulator's engine answers for these query parameters, and the total."""
    params = [*to_params(where), ("select", "id"), ("limit", str(limit or sim_query.MAX_LIMIT))]
    if order:
        params.append(("order", render_order(order)))
    if offset:
        params.append(("offset", str(offset)))
    query = sim_query.parse_query(CATALOG, "volume", params)
    page = sim_query.execute(CATALOG, "volume", query, records, _Embedded())
    return [item["id"] for item in page.items], page.total


def locally(records: Sequence[dict], where: Expression | None = None, **kw: Any) -> tuple[list[str], int]:
    page, total = apply(records, where=where, fields=FIELDS, catalog=CATALOG, **kw)
    return [r["id"] for r in page], total


def vol(vid: str, **values: Any) -> dict:
    return {"id": vid} | values


# -- rendering ---------------------------------------------------------------------------------

STAMP = dt.datetime(2024, 5, 1, 10, 0, 0, 120000, tzinfo=UTC)


class Color(enum.Enum):
    RED = "Red"


class Level(enum.IntEnum):
    HIGH = 3


@pytest.mark.parametrize(
    ("expr", "params"),
    [
        (F("size") >= 1073741824, [("size", "gte.1073741824")]),
        (F("size") > 5, [("size", "gt.5")]),
        (F("size") < 5, [("size", "lt.5")]),
        (F("size") <= 5, [("size", "lte.5")]),
        (F("name") == "x", [("name", "eq.x")]),
        (F("role_id") != "3", [("role_id", "neq.3")]),
        (F("usage") > 12.5, [("usage", "gt.12.5")]),
        (F("usage") < 1e-5, [("usage", "lt.1e-05")]),
        (F("is_acknowledged") == False, [("is_acknowledged", "eq.false")]),  # noqa: E712
        (F("id").is_in(["a1", "b2", "c3"]), [("id", "in.(a1,b2,c3)")]),
        (F("id").is_in([]), [("id", "in.()")]),
        (F("name").ilike("*prod*"), [("name", "ilike.*prod*")]),
        (F("name").like("db*"), [("name", "like.db*")]),
        (F("description").is_null(), [("description", "is.null")]),
        (F("parent_id").is_not_null(), [("parent_id", "not.is.null")]),
        (F("description") == None, [("description", "is.null")]),  # noqa: E711
        (F("description") != None, [("description", "not.is.null")]),  # noqa: E711
        (F("is_acknowledged").is_false(), [("is_acknowledged", "is.false")]),
        (F("is_acknowledged").is_true(), [("is_acknowledged", "is.true")]),
        (F("is_acknowledged").is_(None), [("is_acknowledged", "is.null")]),
        (F("purposes").contains(["Storage_Iscsi_Target"]), [("purposes", "cs.{Storage_Iscsi_Target}")]),
        (F("days_of_week").contained_in(["Saturday", "Sunday"]), [("days_of_week", "cd.{Saturday,Sunday}")]),
        (F("tags") == ["a", "b c"], [("tags", "eq.{a,b c}")]),
        (F("tags") != ("a",), [("tags", "neq.{a}")]),
        (F("protection_data").key("source_id") == "v1", [("protection_data->>source_id", "eq.v1")]),
        (F("protection_data->>source_id") == "v1", [("protection_data->>source_id", "eq.v1")]),
        (~(F("type") == "Snapshot"), [("type", "not.eq.Snapshot")]),
        (~~(F("type") == "Snapshot"), [("type", "eq.Snapshot")]),
        (F("end_time") < STAMP, [("end_time", "lt.2024-05-01T10:00:00.120+00:00")]),
        (
            F("end_time") >= dt.datetime(2024, 5, 1, 12, 0, 0, 999999, tzinfo=CEST),
            [("end_time", "gte.2024-05-01T12:00:00.999+02:00")],
        ),
        (F("color") == Color.RED, [("color", "eq.Red")]),
        (F("level") == Level.HIGH, [("level", "eq.3")]),
        (F("type").is_in([Color.RED, "Clone"]), [("type", "in.(Red,Clone)")]),
    ],
)
def test_every_operator_renders_as_the_api_spells_it(expr, params):
    assert to_params(expr) == params


def test_a_top_level_and_is_one_parameter_per_condition_with_raw_values():
    expr = (F("size") >= 1) & F("name").ilike("*a,b(c).d*") & (F("description") == 'say "hi", \\o/')
    assert to_params(expr) == [
        ("size", "gte.1"),
        ("name", "ilike.*a,b(c).d*"),
        ("description", 'eq.say "hi", \\o/'),
    ]
    assert to_params(all_of(F("a") == 1, all_of(F("b") == 2, F("c") == 3))) == [
        ("a", "eq.1"),
        ("b", "eq.2"),
        ("c", "eq.3"),
    ]


def test_lists_quote_their_items_even_at_the_top_level():
    assert to_params(F("name").is_in(["a,b", "c", "", 'q"', "x.y"])) == [
        ("name", 'in.("a,b",c,"","q\\"","x.y")')
    ]
    assert to_params(F("tags").contains(["{x}", "back\\slash"])) == [("tags", 'cs.{"{x}","back\\\\slash"}')]


def test_or_and_negated_groups_become_group_parameters():
    assert to_params((F("size") > 50) | (F("performance_policy_id") == "default_high")) == [
        ("or", "(size.gt.50,performance_policy_id.eq.default_high)")
    ]
    assert to_params(~((F("a") == 1) & (F("b") == 2))) == [("not.and", "(a.eq.1,b.eq.2)")]
    assert to_params(~((F("a") == 1) | (F("b") == 2))) == [("not.or", "(a.eq.1,b.eq.2)")]
    mixed = (F("a") == 1) & ((F("b") == 2) | ~(F("c") == 3)) & ~((F("d") == 4) | (F("e") == 5))
    assert to_params(mixed) == [
        ("a", "eq.1"),
        ("or", "(b.eq.2,c.not.eq.3)"),
        ("not.or", "(d.eq.4,e.eq.5)"),
    ]


def test_nested_groups_and_quoting_inside_groups():
    expr = (F("name") == "a,b") | ((F("size") > 1) & ~((F("type") == "Clone") | F("description").is_null()))
    assert to_params(expr) == [
        ("or", '(name.eq."a,b",and(size.gt.1,not.or(type.eq.Clone,description.is.null)))')
    ]
    assert to_params(any_of(F("id").is_in(["x)", "y"]), F("name").ilike("*.prod*"))) == [
        ("or", '(id.in.("x)",y),name.ilike."*.prod*")')
    ]
    assert to_params(any_of(F("d") == STAMP, F("e") == 1.5)) == [
        ("or", '(d.eq."2024-05-01T10:00:00.120+00:00",e.eq."1.5")')
    ]


def test_empty_groups_simplify_away():
    assert to_params(None) == []
    assert to_params(all_of()) == []
    assert to_params(all_of(F("a") == 1, all_of())) == [("a", "eq.1")]
    assert to_params(any_of(F("a") == 1, any_of())) == [("a", "eq.1")]
    assert to_params(any_of(F("a") == 1, all_of())) == []
    assert to_params(~any_of()) == []
    assert to_params(~all_of(F("a") == 1)) == [("a", "not.eq.1")]
    for nothing in (any_of(), ~all_of(), all_of(F("a") == 1, any_of()), (F("a") == 1) & ~all_of()):
        with pytest.raises(ExpressionError, match="matches nothing"):
            to_params(nothing)


def test_conditions_on_reserved_parameter_names_go_into_a_group():
    assert to_params((F("order") == "x") & (F("size") > 1)) == [("and", "(order.eq.x)"), ("size", "gt.1")]


def test_groups_nested_deeper_than_the_server_allows_are_refused():
    expr: Expression = F("a") == 1
    for n in range(16):
        expr = any_of(all_of(expr, F("b") == n), F("c") == n)
    with pytest.raises(ExpressionError, match="nested"):
        to_params(expr)


@pytest.mark.parametrize(
    "build",
    [
        lambda: F("na me"),
        lambda: F("a.b"),
        lambda: F(""),
        lambda: F("a=b"),
        lambda: F("a->>b").key("c"),
        lambda: F("a").key("b,c"),
        lambda: F("x") == dt.datetime(2024, 1, 1),  # no time zone
        lambda: F("x") == float("nan"),
        lambda: F("x") > float("inf"),
        lambda: F("x") == b"bytes",
        lambda: F("x") == {"a": 1},
        lambda: F("x") > None,
        lambda: F("x").is_in("abc"),
        lambda: F("x").contains("abc"),
        lambda: F("x").is_in([None]),
        lambda: F("x").is_("null"),
        lambda: F("x").is_(1),
        lambda: F("x").ilike(5),
        lambda: Condition("x", "regex", "a"),
        lambda: Condition("x", "in", "a"),
        lambda: Condition("x", "is", 1),
        lambda: Group("xor", ()),
        lambda: all_of(F("x") == 1, "y=eq.2"),
    ],
)
def test_invalid_expressions_are_refused_when_built(build):
    with pytest.raises(ExpressionError):
        build()


def test_expressions_have_no_truth_value():
    with pytest.raises(TypeError, match="truth value"):
        bool(F("x") == 1)
    with pytest.raises(TypeError):
        1 < F("x") < 5  # noqa: B015
    with pytest.raises(TypeError):
        hash(F("x"))


def test_expressions_are_immutable_values():
    a = F("x") == 1
    assert a == Condition("x", "eq", 1)
    assert ~a == Condition("x", "eq", 1, negate=True)
    assert (a & (F("y") == 2)) == Group("and", (a, Condition("y", "eq", 2)))
    with pytest.raises(AttributeError):
        a.value = 2  # type: ignore[misc]


def test_render_value():
    assert render_value(True) == "true"
    assert render_value(-12) == "-12"
    assert render_value(0.1) == "0.1"
    assert render_value(STAMP.astimezone(CEST)) == "2024-05-01T12:00:00.120+02:00"
    assert render_value(Color.RED) == "Red"
    assert render_value("a b") == "a b"


@given(st.text())
def test_quote_value_is_the_simulators(text):
    assert quote_value(text) == sim_query.quote_value(text)


# -- order -------------------------------------------------------------------------------------


def test_order_renders_keys_and_modifiers():
    assert render_order(None) == ""
    assert render_order([]) == ""
    assert render_order("name") == "name"
    assert render_order(["name", "id"]) == "name,id"
    assert render_order([F("size").desc(), "name"]) == "size.desc,name"
    assert render_order(F("size").asc(nulls_first=True)) == "size.nullsfirst"
    assert render_order(Order("generated_timestamp", descending=True, nulls_first=False)) == (
        "generated_timestamp.desc.nullslast"
    )
    assert render_order("protection_policy.name.asc") == "protection_policy.name"
    assert render_order(["creation_timestamp.nullslast.desc"]) == "creation_timestamp.desc.nullslast"
    assert Order.parse("size.desc") == Order("size", True)
    assert str(Order("protection_data->>expiration_timestamp")) == "protection_data->>expiration_timestamp"


@pytest.mark.parametrize(
    "bad", ["name,id", "name;drop", "", ".name", "name.", "a..b", "na me", "size.desc,id", "x=1"]
)
def test_order_keys_are_validated(bad):
    with pytest.raises(ExpressionError):
        render_order([bad])
    with pytest.raises(ExpressionError):
        render_order(bad)


def test_order_keys_ending_in_a_modifier_name_are_refused():
    with pytest.raises(ExpressionError):
        Order("protection_data.desc")
    with pytest.raises(ExpressionError):
        render_order([42])  # type: ignore[list-item]


# -- round trips through the simulator's parser ------------------------------------------------

# Any text, including separators, quotes, backslashes, spaces, control characters and non-ASCII.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
TRICKY = st.sampled_from(
    ["a,b", "(x)", "a.b", 'q"uote', "back\\slash", "{set}", "", " ", " lead", "tail ", "é"]
)
VALUES = st.one_of(ANY_TEXT, TRICKY)


def _equal(field: str, a: str | None, b: str) -> bool:
    if a is None:
        return False
    return a.casefold() == b.casefold() if field == "name" else a == b


@pytest.mark.parametrize("field", ["name", "description"])
@given(value=VALUES, others=st.lists(VALUES, max_size=6), data=st.data())
@settings(max_examples=150)
def test_any_value_round_trips_through_the_simulators_filter(field, value, others, data):
    candidates = [value, value.upper(), value.lower(), value + "x", "x", "nope", None, *others]
    records = [vol(f"r{n}", **{field: v, "size": n - 1}) for n, v in enumerate(candidates)]
    other = data.draw(VALUES)

    def chosen(test) -> list[str]:
        return [r["id"] for r in records if test(r)]

    cases = [
        (F(field) == value, lambda r: _equal(field, r[field], value)),
        (
            F(field).is_in([value, "x"]),
            lambda r: _equal(field, r[field], value) or _equal(field, r[field], "x"),
        ),
        (
            F(field).is_in([value, other]),
            lambda r: _equal(field, r[field], value) or _equal(field, r[field], other),
        ),
        ((F(field) == value) | (F("id") == "nope"), lambda r: _equal(field, r[field], value)),
        (
            ~(F(field) != value) & (F("size") >= 0),
            lambda r: _equal(field, r[field], value) and r["size"] >= 0,
        ),
        (
            any_of(all_of(F(field) == value, F("size") >= 0), F(field) == other),
            lambda r: (_equal(field, r[field], value) and r["size"] >= 0) or _equal(field, r[field], other),
        ),
        (
            ~any_of(F(field) == value, F(field).is_null()),
            lambda r: r[field] is not None and not _equal(field, r[field], value),
        ),
    ]
    for expr, test in cases:
        wanted = chosen(test)
        assert simulate(records, expr)[0] == wanted, to_params(expr)
        assert locally(records, expr)[0] == wanted
        assert [r["id"] for r in records if matches(expr, r, FIELDS, catalog=CATALOG)] == wanted


@given(pattern=st.text(st.sampled_from('ab*.,()"\\ É'), max_size=8), names=st.lists(ANY_TEXT, max_size=6))
def test_like_patterns_agree_with_the_simulator(pattern, names):
    records = [vol(f"r{n}", name=v, description=v) for n, v in enumerate([*names, "ab", "AB", "a.b", None])]
    for expr in (
        F("name").like(pattern),
        F("description").like(pattern),
        F("description").ilike(pattern),
        any_of(F("description").ilike(pattern), F("id") == "r0"),
    ):
        assert locally(records, expr)[0] == simulate(records, expr)[0]


# -- random expressions, records and orders: apply() against the simulator ---------------------

NAMES = st.sampled_from(["alpha", "Alpha", "beta", "BETA", "a,b", "x.y", "", "é", "ÉTÉ"])
STAMPS = st.datetimes(
    min_value=dt.datetime(2024, 1, 1),
    max_value=dt.datetime(2024, 1, 3),
    timezones=st.sampled_from([UTC, CEST, dt.timezone(dt.timedelta(hours=-5))]),
)
SMALL_INTS = st.integers(-2, 5)


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def _stamp_text(stamp: dt.datetime) -> str:
    return stamp.isoformat(timespec="milliseconds")


RECORD = st.fixed_dictionaries(
    {
        "name": _maybe(NAMES),
        "description": _maybe(st.one_of(NAMES, ANY_TEXT)),
        "type": _maybe(st.sampled_from(TYPES)),
        "size": _maybe(SMALL_INTS),
        "usage": _maybe(st.sampled_from([0.0, 1.5, 2.0, -1.0])),
        "creation_timestamp": _maybe(STAMPS.map(_stamp_text)),
        "is_replication_destination": _maybe(st.booleans()),
        "protection_data": _maybe(
            st.fixed_dictionaries(
                {
                    "source_id": _maybe(st.sampled_from(["r1", "r2", "a.b"])),
                    "expiration_timestamp": _maybe(STAMPS.map(_stamp_text)),
                    "creator_type": _maybe(st.sampled_from(CREATORS)),
                }
            )
        ),
        "tags": _maybe(st.lists(NAMES, max_size=3)),
        "days": _maybe(st.lists(st.sampled_from(DAYS), max_size=3)),
        "protection_policy": _maybe(st.fixed_dictionaries({"id": st.just("p"), "name": _maybe(NAMES)})),
    }
)

_ORDERED = ("eq", "neq", "gt", "gte", "lt", "lte")


def _cond(attr: str, ops: Sequence[str], values: st.SearchStrategy) -> st.SearchStrategy:
    def build(op: str, value: Any, items: list, negate: bool) -> Condition:
        if op in ("in", "cs", "cd"):
            c = Condition(attr, op, tuple(items))
        elif op in ("like", "ilike"):
            c = Condition(attr, op, str(value))
        else:
            c = Condition(attr, op, value)
        return ~c if negate else c

    return st.builds(build, st.sampled_from(ops), values, st.lists(values, max_size=3), st.booleans())


def _array_cond(attr: str, items: st.SearchStrategy) -> st.SearchStrategy:
    def build(op: str, values: list, negate: bool) -> Condition:
        c = Condition(attr, op, tuple(values))
        return ~c if negate else c

    return st.builds(
        build, st.sampled_from(["cs", "cd", "eq", "neq"]), st.lists(items, max_size=3), st.booleans()
    )


def _is(attr: str) -> st.SearchStrategy:
    return st.builds(
        lambda v, n: Condition(attr, "is", v, n), st.sampled_from([None, True, False]), st.booleans()
    )


TEXT_OPS = (*_ORDERED, "in", "like", "ilike")
CONDITIONS = st.one_of(
    _cond("name", TEXT_OPS, NAMES),
    _cond("description", TEXT_OPS, st.one_of(NAMES, ANY_TEXT)),
    # A few values the field refuses ("Bogus", "x", 1.5 on an integer): both sides must refuse.
    _cond("type", TEXT_OPS, st.sampled_from([*TYPES, "Bogus"])),
    _cond("size", (*_ORDERED, "in"), st.one_of(SMALL_INTS, st.sampled_from(["3", "x", 1.5]))),
    _cond("usage", (*_ORDERED, "in"), st.sampled_from([0.0, 1.5, 2, -1.0])),
    _cond("creation_timestamp", (*_ORDERED, "in"), STAMPS),
    _cond("is_replication_destination", (*_ORDERED, "in", "like"), st.booleans()),
    _cond("protection_data->>source_id", (*_ORDERED, "in"), st.sampled_from(["r1", "a.b", "R1"])),
    _cond("protection_data->>expiration_timestamp", _ORDERED, STAMPS),
    _cond("protection_data->>creator_type", (*_ORDERED, "ilike"), st.sampled_from(CREATORS)),
    _cond("protection_data->>nothing", ("eq",), NAMES),
    _cond("unknown_field", ("eq",), NAMES),
    _array_cond("tags", NAMES),
    _array_cond("days", st.sampled_from(DAYS)),
    _is("description"),
    _is("is_replication_destination"),
    _is("size"),
    _is("protection_data->>source_id"),
)
EXPRESSIONS = st.recursive(
    CONDITIONS,
    lambda children: st.builds(
        Group, st.sampled_from(["and", "or"]), st.lists(children, max_size=3).map(tuple), st.booleans()
    ),
    max_leaves=8,
)
ORDER_KEYS = st.lists(
    st.builds(
        Order,
        st.sampled_from(
            [
                "name",
                "description",
                "type",
                "size",
                "usage",
                "creation_timestamp",
                "is_replication_destination",
                "id",
                "protection_policy.name",
                "protection_data.expiration_timestamp",
                "protection_data.creator_type",
            ]
        ),
        st.booleans(),
        st.sampled_from([None, True, False]),
    ),
    max_size=3,
)


@given(
    records=st.lists(RECORD, max_size=12),
    where=_maybe(EXPRESSIONS),
    order=ORDER_KEYS,
    offset=st.integers(0, 4),
    limit=_maybe(st.integers(1, 5)),
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_apply_agrees_with_the_simulator(records, where, order, offset, limit):
    records = [vol(f"r{n}", **r) for n, r in enumerate(records)]
    outcome: Any
    try:
        outcome = simulate(records, where, order, offset, limit)
    except ApiFault as refusal:
        outcome = refusal.status
    except ExpressionError as nothing:
        outcome = str(nothing)
    if outcome == 416:  # offset beyond the result: an empty page here
        page, total = locally(records, where, order=order, offset=offset, limit=limit)
        assert page == []
        assert total <= offset
    elif outcome == 400:
        with pytest.raises(ExpressionError):
            locally(records, where, order=order, offset=offset, limit=limit)
    elif isinstance(outcome, str):
        assert "matches nothing" in outcome
        assert locally(records, where, order=order, offset=offset, limit=limit) == ([], 0)
    else:
        assert locally(records, where, order=order, offset=offset, limit=limit) == outcome
        if where is not None:
            chosen = {r["id"] for r in records if matches(where, r, FIELDS, catalog=CATALOG)}
            assert chosen == set(simulate(records, where)[0])


def test_apply_orders_like_the_server():
    records = [
        vol("a", name="beta", size=2, type="Snapshot", creation_timestamp="2024-05-01T12:00:00.000+02:00"),
        vol("b", name="Alpha", size=None, type="Primary", creation_timestamp="2024-05-01T11:00:00.000+00:00"),
        vol("c", name="alpha", size=1, type="Clone", creation_timestamp=None),
    ]
    assert locally(records, order="name")[0] == ["b", "c", "a"]
    assert locally(records, order="size")[0] == ["c", "a", "b"]
    assert locally(records, order="size.desc")[0] == ["b", "a", "c"]
    assert locally(records, order="size.nullsfirst")[0] == ["b", "c", "a"]
    assert locally(records, order="type")[0] == ["b", "c", "a"]  # enum declaration order
    assert locally(records, order=F("creation_timestamp").asc())[0] == ["a", "b", "c"]
    assert locally(records, order=["name.desc", "id.desc"])[0] == ["a", "c", "b"]
    assert locally(records, order="name", offset=1, limit=1) == (["c"], 3)
    assert locally(records, order="name", offset=5) == ([], 3)
    for key in ("tags", "protection_policy", "nothing", "protection_data", "protection_policy.nothing"):
        with pytest.raises(ExpressionError):
            locally(records, order=key)
    with pytest.raises(ExpressionError):
        locally(records, limit=0)
    with pytest.raises(ExpressionError):
        locally(records, offset=-1)


# -- without catalog metadata ------------------------------------------------------------------


def test_matches_without_fields_infers_kinds_from_the_values():
    user = {"name": "Admin", "role_id": "1", "is_locked": False, "password_expiration_timestamp": None}
    assert matches(F("name") == "Admin", user)
    assert not matches(F("name") == "admin", user)  # case-sensitive without metadata
    assert matches(F("name").ilike("adm*"), user)
    assert matches(F("role_id").is_in(["1", "2"]), user)
    assert matches(F("is_locked").is_false() & ~F("is_locked").is_true(), user)
    assert matches(F("password_expiration_timestamp").is_null(), user)
    # SQL logic: a condition on null is unknown, and so is its negation.
    assert not matches(F("password_expiration_timestamp") < STAMP, user)
    assert not matches(~(F("password_expiration_timestamp") < STAMP), user)
    assert matches(~(F("password_expiration_timestamp") < STAMP) | (F("role_id") == "1"), user)
    assert not matches(F("missing") == "x", user)
    stamped = {"t": "2024-05-01T12:00:00.000+02:00", "n": 5, "tags": ["a", "b"], "pd": {"s": "x"}}
    assert matches(F("t") == STAMP.replace(microsecond=0), stamped)
    assert matches(F("t") < STAMP, stamped)
    assert matches((F("n") > 4.5) & (F("n") <= 5), stamped)
    assert not matches(F("n") > "4", stamped)  # a string compares as a string: unknown, not an error
    assert matches(F("tags").contains(["a"]) & F("tags").contained_in(["a", "b", "c"]), stamped)
    assert matches(F("pd").key("s") == "x", stamped)
    assert matches(None, stamped)


def test_matches_with_fields_checks_the_expression_as_the_server_would():
    record = vol("a", name="Alpha", size=1, tags=["Gold"], days=["Monday"], type="Primary")
    assert matches(F("name") == "ALPHA", record, FIELDS, catalog=CATALOG)
    assert matches(F("tags").contains(["gold"]), record, FIELDS, catalog=CATALOG)
    assert matches(F("type") < "Snapshot", record, FIELDS, catalog=CATALOG)
    assert not matches(F("type") > "Clone", record, FIELDS, catalog=CATALOG)
    for bad in (
        F("nothing") == 1,
        F("size") == "x",
        F("size") > 1.5,
        F("type") == "Bogus",
        F("name").is_true(),
        F("is_replication_destination") > True,
        F("size").ilike("1*"),
        F("name").contains(["a"]),
        F("tags") == "Gold",
        F("name") == ["a"],
        F("tags").is_in(["Gold"]),
        F("protection_policy") == "p",
        F("protection_data") == "x",
        F("protection_data").key("nothing") == "x",
        F("size").key("x") == 1,
    ):
        with pytest.raises(ExpressionError):
            matches(bad, record, FIELDS, catalog=CATALOG)


def test_the_shipped_catalog_is_the_default():
    from console.catalog import load_catalog

    fields = load_catalog().instance_fields("volume")
    record = {"name": "Prod-01", "type": "Snapshot", "state": "Ready", "size": 8192}
    assert matches((F("name") == "prod-01") & (F("type") > "Primary"), record, fields)
    page, total = apply([record, {"name": "a", "type": "Primary"}], order="type", fields=fields)
    assert [r["name"] for r in page] == ["a", "Prod-01"]
    assert total == 2


# -- over HTTP to the simulator ----------------------------------------------------------------

BASE_URL = "https://sim.test/api/rest"


async def _login(client: httpx.AsyncClient) -> None:
    credentials = base64.b64encode(f"{DEFAULT_USER}:{DEFAULT_PASSWORD}".encode()).decode()
    response = await client.get(
        "/login_session", params={"select": "id"}, headers={"Authorization": f"Basic {credentials}"}
    )
    assert response.status_code == 200, response.text
    client.headers["DELL-EMC-TOKEN"] = response.headers["DELL-EMC-TOKEN"]


NAME_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40)


@given(names=st.lists(NAME_TEXT, min_size=1, max_size=3, unique_by=str.casefold), other=NAME_TEXT)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
async def test_names_round_trip_through_the_simulator_over_http(names, other):
    app = create_app(SimulatorConfig(volumes=5, job_seconds=0.05, seed=3))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        await _login(client)
        for name in names:
            response = await client.post("/volume", json={"name": name, "size": 8192 * 128})
            assume(response.status_code != 422)  # the name of a seeded volume
            assert response.status_code == 201, response.text
        listing = await client.get("/volume", params={"select": "id,name", "limit": "2000"})
        everything: list[Mapping[str, Any]] = listing.json()
        value = names[0]
        fields = {"name": Field("name", "string", case_insensitive=True), "id": Field("id", "string")}
        for expr in (
            F("name") == value,
            F("name").is_in([value, "x"]),
            F("name").is_in([value, other]),
            (F("name") == value) | (F("id") == "nope"),
            ~(F("name") != value) & F("id").is_not_null(),
            ~any_of(F("name") == value, F("name") == other),
        ):
            response = await client.get(
                "/volume", params=[*to_params(expr), ("select", "id,name"), ("limit", "2000")]
            )
            assert response.status_code in (200, 206), (to_params(expr), response.text)
            got = sorted(v["id"] for v in response.json())
            wanted = sorted(v["id"] for v in everything if matches(expr, v, fields))
            assert got == wanted, to_params(expr)
        folded = {v["name"].casefold() for v in everything}
        assert value.casefold() in folded
