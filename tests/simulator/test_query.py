"""The simulator's query engine (reference §3): select, filters, order, paging and projection.

A small hand-made catalog keeps the cases readable; the last tests run against the shipped catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.catalog import Catalog, Definition, Enum, Field, ResourceType, load_catalog
from console.simulator import errors
from console.simulator.errors import ApiFault
from console.simulator.query import (
    MAX_LIMIT,
    Page,
    Query,
    Select,
    execute,
    matches,
    parse_filter,
    parse_query,
    parse_select,
    project,
    quote_value,
)

GIB = 1024**3


def s(name: str, **kw) -> Field:
    return Field(name, "string", **kw)


def i(name: str, **kw) -> Field:
    return Field(name, "integer", **kw)


def fields(*items: Field) -> dict[str, Field]:
    return {f.name: f for f in items}


def rtype(name: str, *, simple_get: bool = False) -> ResourceType:
    return ResourceType(name, f"{name}_instance", simple_get, True, True, True, None, None, None, {})


def to_one(name: str, target: str) -> Field:
    return Field(name, "object", ref=f"{target}_instance", relation=target)


def to_many(name: str, target: str) -> Field:
    return Field(name, "array", items=Field(name, "object", ref=f"{target}_instance", relation=target))


ENUMS = {
    "VolumeTypeEnum": Enum("VolumeTypeEnum", ("Primary", "Clone", "Snapshot", "Proxy")),
    "CreatorEnum": Enum("CreatorEnum", ("User", "System", "Scheduler", "External")),
    "DaysEnum": Enum(
        "DaysEnum", ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    ),
    "SeverityEnum": Enum("SeverityEnum", ("None", "Info", "Minor", "Major", "Critical")),
}
DEFINITIONS = {
    "volume_instance": Definition(
        "volume_instance",
        fields(
            s("id"),
            s("name", case_insensitive=True),
            s("description"),
            s("type", enum="VolumeTypeEnum"),
            s("type_l10n"),
            i("size", format="int64"),
            i("logical_used", format="int64"),
            Field("usage", "number"),
            s("creation_timestamp", format="date-time"),
            Field("is_replication_destination", "boolean"),
            s("protection_policy_id"),
            Field("protection_data", "object", ref="protection_data_instance", no_filter=True),
            Field("location_history", "array", items=Field("x", "object", ref="loc"), no_filter=True),
            Field("tags", "array", items=s("tags", case_insensitive=True)),
            to_one("protection_policy", "policy"),
            to_many("volume_groups", "volume_group"),
            to_many("mapped_volumes", "host_volume_mapping"),
        ),
    ),
    "protection_data_instance": Definition(
        "protection_data_instance",
        fields(
            s("source_id"),
            s("parent_id"),
            s("family_id"),
            s("expiration_timestamp", format="date-time"),
            s("creator_type", enum="CreatorEnum"),
        ),
    ),
    "policy_instance": Definition("policy_instance", fields(s("id"), s("name", case_insensitive=True))),
    "volume_group_instance": Definition(
        "volume_group_instance", fields(s("id"), s("name"), to_many("volumes", "volume"))
    ),
    "host_volume_mapping_instance": Definition(
        "host_volume_mapping_instance",
        fields(s("id"), s("host_id"), s("volume_id"), i("logical_unit_number"), to_one("host", "host")),
    ),
    "host_instance": Definition(
        "host_instance", fields(s("id"), s("name"), s("host_group_id"), to_one("host_group", "host_group"))
    ),
    "host_group_instance": Definition("host_group_instance", fields(s("id"), s("name"))),
    "snapshot_rule_instance": Definition(
        "snapshot_rule_instance",
        fields(s("id"), s("name"), Field("days_of_week", "array", items=s("days_of_week", enum="DaysEnum"))),
    ),
    "alert_instance": Definition(
        "alert_instance",
        fields(s("id"), s("severity", enum="SeverityEnum"), Field("is_acknowledged", "boolean")),
    ),
    "local_user_instance": Definition("local_user_instance", fields(s("id"), s("name"), s("role_id"))),
}
CATALOG = Catalog(
    "4.1.0.0",
    ENUMS,
    DEFINITIONS,
    {
        name: rtype(name, simple_get=name == "local_user")
        for name in (
            "volume",
            "policy",
            "volume_group",
            "host_volume_mapping",
            "host",
            "host_group",
            "snapshot_rule",
            "alert",
            "local_user",
        )
    },
)


def vol(vid: str, name: str, **values) -> dict:
    record = {n: None for n, f in CATALOG.instance_fields("volume").items() if not f.is_relation}
    record.update(id=vid, name=name, **values)
    return record


def pd(**values) -> dict:
    return {
        "source_id": None,
        "parent_id": None,
        "family_id": None,
        "expiration_timestamp": None,
        "creator_type": "User",
    } | values


VOLUMES = [
    vol(
        "v1",
        "Alpha",
        size=GIB,
        type="Primary",
        creation_timestamp="2024-05-01T10:00:00.000+00:00",
        description="first, volume (a.b)",
        protection_policy_id="p1",
        logical_used=100,
        usage=12.5,
        is_replication_destination=False,
        protection_data=pd(family_id="v1"),
        tags=["Gold", "fast"],
        _group_ids=["g1"],
    ),
    vol(
        "v2",
        "beta",
        size=2 * GIB,
        type="Snapshot",
        creation_timestamp="2024-05-01T12:00:00.000+02:00",
        protection_policy_id="p2",
        is_replication_destination=False,
        protection_data=pd(
            source_id="v1",
            parent_id="v1",
            family_id="v1",
            creator_type="Scheduler",
            expiration_timestamp="2024-06-01T00:00:00.000+00:00",
        ),
        tags=[],
    ),
    vol(
        "v3",
        "Gamma",
        size=8 * GIB,
        type="Clone",
        creation_timestamp="2024-04-30T23:00:00.000-02:00",
        description='say "hi"',
        logical_used=5000,
        usage=99.0,
        is_replication_destination=True,
        protection_data=pd(source_id="v1", parent_id="v1", family_id="v1"),
        tags=["gold"],
        _group_ids=["g1", "g2"],
    ),
    vol(
        "v4",
        "alpha2",
        size=GIB,
        type="Primary",
        creation_timestamp="2024-05-02T00:00:00Z",
        description="",
        protection_policy_id="p1",
        logical_used=0,
        usage=0.5,
        protection_data=pd(family_id="v4"),
        tags=["slow", "gold", "cheap"],
    ),
    vol(
        "v5",
        "DELTA",
        size=4 * GIB,
        type="Snapshot",
        description="x*y",
        protection_policy_id="p3",
        logical_used=10,
        usage=50.0,
        is_replication_destination=False,
    ),
]

TABLES: dict[str, list[dict]] = {
    "volume": VOLUMES,
    "policy": [{"id": "p1", "name": "gold"}, {"id": "p2", "name": "Bronze"}],
    "volume_group": [{"id": "g1", "name": "grp-a"}, {"id": "g2", "name": "grp-b"}],
    "host_volume_mapping": [
        {"id": "m1", "host_id": "h1", "volume_id": "v1", "logical_unit_number": 1},
        {"id": "m2", "host_id": "h2", "volume_id": "v1", "logical_unit_number": 2},
        {"id": "m3", "host_id": "h1", "volume_id": "v3", "logical_unit_number": 3},
    ],
    "host": [
        {"id": "h1", "name": "esx1", "host_group_id": "hg1"},
        {"id": "h2", "name": "esx2", "host_group_id": None},
    ],
    "host_group": [{"id": "hg1", "name": "cluster", "_secret": "x"}],
    "snapshot_rule": [
        {"id": "r1", "name": "weekdays", "days_of_week": ["Monday", "Tuesday"]},
        {"id": "r2", "name": "weekend", "days_of_week": ["Saturday", "Sunday"]},
        {"id": "r3", "name": "never", "days_of_week": []},
        {"id": "r4", "name": "unset", "days_of_week": None},
        {"id": "r5", "name": "sunday", "days_of_week": ["Sunday"]},
    ],
    "alert": [
        {"id": "a1", "severity": "Minor", "is_acknowledged": False},
        {"id": "a2", "severity": "Critical", "is_acknowledged": True},
        {"id": "a3", "severity": "Info", "is_acknowledged": None},
        {"id": "a4", "severity": "Major", "is_acknowledged": False},
    ],
    "local_user": [
        {"id": "1", "name": "admin", "role_id": "1"},
        {"id": "2", "name": "Zed", "role_id": "3"},
        {"id": "3", "name": "bob", "role_id": "2", "_password": "secret"},
    ],
}


class Resolver:
    """To one through ``<field>_id``; to many through ``<type>_id`` on the other side."""

    def __init__(self, catalog: Catalog = CATALOG, tables: dict[str, list[dict]] = TABLES) -> None:
        self.catalog = catalog
        self.tables = tables
        self.calls = 0

    def resolve(self, type_name: str, record: dict, field_name: str) -> dict | list[dict] | None:
        self.calls += 1
        f = self.catalog.instance_fields(type_name)[field_name]
        rows = self.tables.get(f.relation_type or "", [])
        if (type_name, field_name) == ("volume", "volume_groups"):
            return [r for r in rows if r["id"] in record.get("_group_ids", [])]
        if f.is_to_many:
            return [r for r in rows if r.get(f"{type_name}_id") == record["id"]]
        return next((r for r in rows if r["id"] == record.get(f"{field_name}_id")), None)


Params = str | Sequence[tuple[str, str]]


def split(params: Params) -> list[tuple[str, str]]:
    """``a=b&c=d`` (values taken verbatim, no URL decoding), or a list of pairs as they are."""
    if not isinstance(params, str):
        return list(params)
    return [tuple(p.partition("=")[::2]) for p in params.split("&") if p]  # type: ignore[misc]


def run(
    params: Params = "",
    type_name: str = "volume",
    *,
    records: list[dict] | None = None,
    range_header: str | None = None,
    catalog: Catalog = CATALOG,
) -> Page:
    q = parse_query(catalog, type_name, split(params), range_header)
    rows = TABLES[type_name] if records is None else records
    return execute(catalog, type_name, q, rows, Resolver(catalog))


def ids(params: Params = "", type_name: str = "volume", **kw) -> list[str]:
    return [item["id"] for item in run(params, type_name, **kw).items]


def refusal(call: Callable[[], object]) -> ApiFault:
    with pytest.raises(ApiFault) as info:
        call()
    return info.value


def refused(params: Params, type_name: str = "volume", **kw) -> ApiFault:
    return refusal(lambda: run(params, type_name, **kw))


def assert_refused(
    params: Params, status: int, code: str, *arguments: str, type_name: str = "volume"
) -> None:
    fault = refused(params, type_name)
    assert fault.status == status, fault
    message = fault.messages[0]
    assert message.code == code, fault
    if arguments:
        assert message.arguments[: len(arguments)] == arguments


# -- select and projection -----------------------------------------------------------------------


def test_without_select_only_ids_come_back():
    assert run().items == [{"id": v["id"]} for v in VOLUMES]
    assert run("select=").items[0] == {"id": "v1"}
    assert run("select=  ").items[0] == {"id": "v1"}


def test_select_keeps_the_requested_order_and_allows_spaces():
    assert run("select= name , id,size").items[0] == {"name": "Alpha", "id": "v1", "size": GIB}
    assert list(run("select=size,id,size").items[0]) == ["size", "id"]


def test_select_unknown_attribute_is_400_with_the_name():
    assert_refused("select=id,colour", 400, errors.CODE_UNKNOWN_PROPERTY, "colour")
    assert_refused("select=id,_group_ids", 400, errors.CODE_UNKNOWN_PROPERTY, "_group_ids")
    assert_refused("select=volume_groups(id,nope)", 400, errors.CODE_UNKNOWN_PROPERTY, "nope")


@pytest.mark.parametrize(
    "text",
    ["id,", ",id", "id,,name", "volume_groups(id", "volume_groups(id))", "name(id)", "volume_groups()"],
)
def test_malformed_select_is_400(text):
    assert refused([("select", text)]).status == 400


def test_hidden_keys_are_never_output():
    page = run("select=*")
    assert all(not k.startswith("_") for item in page.items for k in item)
    assert project(CATALOG, "host_group", TABLES["host_group"][0], Select({"id": None}), Resolver()) == {
        "id": "hg1"
    }


def test_select_star_gives_every_plain_attribute_but_no_relation():
    item = run("select=*").items[0]
    assert set(item) == {n for n, f in CATALOG.instance_fields("volume").items() if not f.is_relation}


def test_missing_plain_fields_are_null():
    page = run("select=id,description", records=[{"id": "x"}])
    assert page.items == [{"id": "x", "description": None}]


def test_embedded_objects_come_whole_and_are_copies():
    item = run("select=protection_data").items[1]
    assert item == {"protection_data": VOLUMES[1]["protection_data"]}
    item["protection_data"]["source_id"] = "changed"
    assert VOLUMES[1]["protection_data"]["source_id"] == "v1"
    assert run("select=protection_data").items[4] == {"protection_data": None}


def test_relations_nest_with_their_own_select():
    text = "id,mapped_volumes(id,logical_unit_number,host(name,host_group(id,name))),protection_policy(name)"
    page = run([("select", text)])
    assert page.items[0] == {
        "id": "v1",
        "mapped_volumes": [
            {
                "id": "m1",
                "logical_unit_number": 1,
                "host": {"name": "esx1", "host_group": {"id": "hg1", "name": "cluster"}},
            },
            {"id": "m2", "logical_unit_number": 2, "host": {"name": "esx2", "host_group": None}},
        ],
        "protection_policy": {"name": "gold"},
    }
    assert page.items[1]["mapped_volumes"] == []
    assert page.items[4]["protection_policy"] is None  # a dangling id resolves to nothing


def test_select_nesting_has_a_limit():
    def nested(pairs: int) -> str:
        return "volume_groups(volumes(" * pairs + "id" + "))" * pairs

    assert run([("select", nested(7))]).items[0] == {"volume_groups": [{"volumes": []}]}
    fault = refused([("select", nested(9))])
    assert (fault.status, fault.messages[0].code) == (400, errors.CODE_BAD_REQUEST)
    assert refused([("select", nested(3000))]).status == 400
    assert run([("select", "volume_groups(volumes(volume_groups(name)))")]).items[4] == {"volume_groups": []}


def test_a_bare_relation_name_gives_ids_only():
    item = run("select=volume_groups,protection_policy").items[2]
    assert item == {"volume_groups": [{"id": "g1"}, {"id": "g2"}], "protection_policy": None}
    assert run("select=protection_policy").items[0] == {"protection_policy": {"id": "p1"}}


def test_a_relation_named_twice_unites_its_selects():
    select = parse_select(CATALOG, "volume", "volume_groups,volume_groups(name)")
    assert select == Select({"volume_groups": Select({"id": None, "name": None})})


def test_relations_are_resolved_only_for_the_page():
    resolver = Resolver()
    rows = [vol(f"x{n}", f"n{n}") for n in range(500)]
    q = parse_query(CATALOG, "volume", split("select=id,protection_policy(name)&limit=10"))
    execute(CATALOG, "volume", q, rows, resolver)
    assert resolver.calls == 10


# -- filters: operators ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("type=eq.Snapshot", ["v2", "v5"]),
        ("type=not.eq.Snapshot", ["v1", "v3", "v4"]),
        ("type=neq.Snapshot", ["v1", "v3", "v4"]),
        ("type=not.neq.Snapshot", ["v2", "v5"]),
        ("size=gt.2147483648", ["v3", "v5"]),
        ("size=gte.2147483648", ["v2", "v3", "v5"]),
        ("size=lt.2147483648", ["v1", "v4"]),
        ("size=lte.2147483648", ["v1", "v2", "v4"]),
        ("size=not.lte.2147483648", ["v3", "v5"]),
        ("usage=gt.12.5", ["v3", "v5"]),
        ("usage=lte.1e1", ["v4"]),
        ("logical_used=eq.0", ["v4"]),
        ("logical_used=gte.-5", ["v1", "v3", "v4", "v5"]),
        ("id=in.(v1,v3,zz)", ["v1", "v3"]),
        ("id=not.in.(v1,v3)", ["v2", "v4", "v5"]),
        ("id=in.()", []),
        ("description=is.null", ["v2"]),
        ("description=not.is.null", ["v1", "v3", "v4", "v5"]),
        ("is_replication_destination=is.true", ["v3"]),
        ("is_replication_destination=is.false", ["v1", "v2", "v5"]),
        ("is_replication_destination=not.is.false", ["v3", "v4"]),
        ("is_replication_destination=eq.false", ["v1", "v2", "v5"]),
        ("is_replication_destination=in.(true,false)", ["v1", "v2", "v3", "v5"]),
        ("description=like.*volume*", ["v1"]),
        ("description=like.*VOLUME*", []),
        ("description=ilike.*VOLUME*", ["v1"]),
        ("description=not.ilike.*VOLUME*", ["v3", "v4", "v5"]),
        ("description=ilike.FIRST*", ["v1"]),
        ("description=ilike.*(A.B)", ["v1"]),
        ("description=ilike.*", ["v1", "v3", "v4", "v5"]),
        ("description=like.x*y", ["v5"]),
        ("description=like.f*,*(*)", ["v1"]),
        ("description=like.x", []),
        ("description=eq.", ["v4"]),
        ("description=eq.first, volume (a.b)", ["v1"]),
        ('description=eq.say "hi"', ["v3"]),
        ("type=like.*o*", ["v2", "v3", "v5"]),
        ("type=ilike.snap*", ["v2", "v5"]),
        ("tags=cs.{gold}", ["v1", "v3", "v4"]),
        ("tags=cs.{GOLD,fast}", ["v1"]),
        ("tags=cs.{}", ["v1", "v2", "v3", "v4"]),
        ("tags=not.cs.{gold}", ["v2"]),
        ("tags=cd.{gold,fast}", ["v1", "v2", "v3"]),
        ("tags=not.cd.{gold,fast}", ["v4"]),
        ("tags=eq.{gold}", ["v3"]),
        ("tags=neq.{gold}", ["v1", "v2", "v4"]),
        ("tags=is.null", ["v5"]),
    ],
)
def test_operators(params, expected):
    assert ids(params) == expected


def test_cs_and_cd_on_enum_arrays():
    assert ids("days_of_week=cs.{Sunday}", "snapshot_rule") == ["r2", "r5"]
    assert ids("days_of_week=cd.{Saturday,Sunday}", "snapshot_rule") == ["r2", "r3", "r5"]
    assert ids("days_of_week=not.cd.{Saturday,Sunday}", "snapshot_rule") == ["r1"]
    assert_refused("days_of_week=cs.{Sun}", 400, errors.CODE_INVALID_VALUE, "Sun", type_name="snapshot_rule")


def test_null_never_matches_comparisons_nor_their_negation():
    # SQL semantics: a null field makes eq/neq/in/like/ordered comparisons unknown, and not. keeps it so.
    assert "v2" not in ids("description=neq.zzz")
    assert "v2" not in ids("description=not.eq.zzz")
    assert "v2" not in ids("logical_used=not.gt.0")
    assert "v2" not in ids("description=not.in.(a)")
    assert "v2" not in ids("description=not.like.*")
    assert "v5" not in ids("creation_timestamp=not.lt.2000-01-01T00:00:00Z")


def test_several_filters_are_anded_and_may_repeat_a_field():
    assert ids("type=eq.Primary&size=gt.1") == ["v1", "v4"]
    assert ids("size=gte.2147483648&size=lte.4294967296") == ["v2", "v5"]


def test_filtering_on_unselected_fields_works():
    assert run("select=name&type=eq.Clone").items == [{"name": "Gamma"}]


def test_is_async_is_ignored():
    assert ids("is_async=true&type=eq.Clone") == ["v3"]


# -- filters: groups and quoting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ("or=(size.gt.4294967296,protection_policy_id.eq.p2)", ["v2", "v3"]),
        ("and=(type.eq.Primary,size.gt.1073741824)", []),
        ("and=(type.eq.Primary,logical_used.gt.1)", ["v1"]),
        ("or=(type.eq.Clone, type.eq.Snapshot)", ["v2", "v3", "v5"]),
        ("and=(type.eq.Snapshot,or(description.is.null,size.gt.3000000000))", ["v2", "v5"]),
        ("and=(type.not.eq.Snapshot,or(name.eq.alpha,and(size.eq.8589934592,usage.gt.50)))", ["v1", "v3"]),
        ("and=(not.type.eq.Snapshot,not.id.eq.v1)", ["v3", "v4"]),
        ("and=(not.or(type.eq.Snapshot,id.eq.v1))", ["v3", "v4"]),
        ("not.or=(type.eq.Snapshot,id.eq.v1)", ["v3", "v4"]),
        ("not.and=(type.eq.Primary,id.eq.v1)", ["v2", "v3", "v4", "v5"]),
        ("or=(id.in.(v1,v2),id.eq.v5)", ["v1", "v2", "v5"]),
        ('or=(id.in.("v1","v2" ),id.eq."v5")', ["v1", "v2", "v5"]),
        ('or=(description.eq."first, volume (a.b)",id.eq.v4)', ["v1", "v4"]),
        (r'or=(description.eq."say \"hi\"")', ["v3"]),
        ('or=(description.in.("first, volume (a.b)","x*y"))', ["v1", "v5"]),
        ('or=(description.eq."")', ["v4"]),
        ("or=(tags.cs.{gold,cheap},tags.eq.{})", ["v2", "v4"]),
        ("or=(creation_timestamp.lt.2024-05-01T05:00:00.000+00:00,name.ilike.*ta)", ["v2", "v3", "v5"]),
        ("or=(protection_data->>source_id.eq.v1)", ["v2", "v3"]),
        ("and=(is_replication_destination.is.false,description.not.is.null)", ["v1", "v5"]),
    ],
)
def test_groups(params, expected):
    assert ids(params) == expected


def test_groups_use_sql_logic_for_nulls():
    # description is null on v2: the or() is unknown for v2 unless another term is true.
    assert ids("or=(description.eq.zzz,type.eq.Clone)") == ["v3"]
    assert ids("not.or=(description.eq.zzz,type.eq.Clone)") == ["v1", "v4", "v5"]
    assert ids("or=(description.eq.zzz,type.eq.Snapshot)") == ["v2", "v5"]


def test_a_quoted_value_may_hold_any_separator():
    odd = 'a,b(c).d"e\\f{g}'
    rows = [vol("x1", "n1", description=odd), vol("x2", "n2", description="a")]
    assert ids([("description", f"in.({quote_value(odd)},zz)")], records=rows) == ["x1"]
    assert ids([("or", f"(description.eq.{quote_value(odd)})")], records=rows) == ["x1"]
    assert ids([("description", f"eq.{odd}")], records=rows) == ["x1"]


def test_values_are_data_never_code():
    rows = [
        vol("x1", "n1", description="{c0}') or True or ('"),
        vol("x2", "n2", description="__import__('os')"),
    ]
    for value in ("{c0}') or True or ('", "__import__('", "r.get(c0)", "{v}"):
        expected = [r["id"] for r in rows if r["description"] == value]
        assert ids([("description", f"eq.{value}")], records=rows) == expected
        containing = [r["id"] for r in rows if value in r["description"]]
        assert ids([("description", f"like.*{value}*")], records=rows) == containing
        assert ids([("or", f"(description.in.({quote_value(value)}))")], records=rows) == expected


def test_groups_nest_up_to_a_limit():
    def nested(depth: int) -> str:
        return "(" + "and(" * (depth - 1) + "id.eq.v1" + ")" * depth

    assert ids([("and", nested(16))]) == ["v1"]
    assert refused([("and", nested(17))]).status == 400
    assert refused([("and", nested(5000))]).status == 400


def test_quote_value_leaves_plain_values_alone():
    assert quote_value("vol-1 prod") == "vol-1 prod"
    assert quote_value("") == '""'
    assert quote_value("a.b") == '"a.b"'
    assert quote_value('x"\\') == '"x\\"\\\\"'


@pytest.mark.parametrize(
    "params",
    [
        "or=type.eq.Clone",
        "or=()",
        "or=(type.eq.Clone",
        "or=(type.eq.Clone))",
        "or=(type.eq.Clone,)",
        "or=(type.Clone)",
        "or=(type.bogus.Clone)",
        "or=(type)",
        'or=(description.eq."abc)',
        'or=(description.eq."abc"x)',
        "and=(or(type.eq.Clone)",
        "id=in.(a,b",
        "id=in.a,b",
        "id=in.(a)x",
        "tags=cs.gold",
        "type=Clone",
        "type=eq",
        "type=bogus.Clone",
        "type=not.Clone",
    ],
)
def test_malformed_filters_are_400(params):
    fault = refused(params)
    assert fault.status == 400
    assert fault.messages[0].code == errors.CODE_BAD_FILTER


# -- filters: fields, coercion, case ------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "argument"),
    [
        ("colour=eq.red", errors.CODE_UNKNOWN_PROPERTY, "colour"),
        ("_group_ids=eq.g1", errors.CODE_UNKNOWN_PROPERTY, "_group_ids"),
        ("or=(colour.eq.red)", errors.CODE_UNKNOWN_PROPERTY, "colour"),
        ("sort=name", errors.CODE_UNKNOWN_PROPERTY, "sort"),
        ("protection_policy=eq.p1", errors.CODE_BAD_FILTER, "protection_policy"),
        ("volume_groups=is.null", errors.CODE_BAD_FILTER, "volume_groups"),
        ("location_history=is.null", errors.CODE_BAD_FILTER, "location_history"),
        ("protection_data=is.null", errors.CODE_BAD_FILTER, "protection_data"),
        ("protection_data->>nope=eq.1", errors.CODE_UNKNOWN_PROPERTY, "protection_data->>nope"),
        ("name->>x=eq.1", errors.CODE_BAD_FILTER, "name->>x"),
        ("size=eq.1.5", errors.CODE_INVALID_VALUE, "1.5"),
        ("size=gt.big", errors.CODE_INVALID_VALUE, "big"),
        ("size=in.(1,x)", errors.CODE_INVALID_VALUE, "x"),
        ("usage=gt.nan", errors.CODE_INVALID_VALUE, "nan"),
        ("is_replication_destination=eq.yes", errors.CODE_INVALID_VALUE, "yes"),
        ("type=eq.snapshot", errors.CODE_INVALID_VALUE, "snapshot"),
        ("type=in.(Primary,Bogus)", errors.CODE_INVALID_VALUE, "Bogus"),
        ("or=(type.eq.bogus)", errors.CODE_INVALID_VALUE, "bogus"),
        ("creation_timestamp=gt.yesterday", errors.CODE_INVALID_VALUE, "yesterday"),
        ("creation_timestamp=gt.2024-13-01T00:00:00Z", errors.CODE_INVALID_VALUE, "2024-13-01T00:00:00Z"),
        ("protection_data->>expiration_timestamp=lt.soon", errors.CODE_INVALID_VALUE, "soon"),
        ("description=is.nothing", errors.CODE_INVALID_VALUE, "nothing"),
        ("description=is.true", errors.CODE_BAD_FILTER, "description"),
        ("size=like.1*", errors.CODE_BAD_FILTER, "size"),
        ("size=cs.{1}", errors.CODE_BAD_FILTER, "size"),
        ("tags=in.(a)", errors.CODE_BAD_FILTER, "tags"),
        ("tags=gt.{a}", errors.CODE_BAD_FILTER, "tags"),
        ("is_replication_destination=gt.false", errors.CODE_BAD_FILTER, "is_replication_destination"),
    ],
)
def test_bad_filter_fields_and_values_are_400(params, code, argument):
    assert_refused(params, 400, code, argument)


def test_case_insensitive_fields_ignore_case_for_every_operator():
    assert ids("name=eq.ALPHA") == ["v1"]
    assert ids("name=neq.alpha") == ["v2", "v3", "v4", "v5"]
    assert ids("name=in.(ALPHA,Delta)") == ["v1", "v5"]
    assert ids("name=like.al*") == ["v1", "v4"]
    assert ids("name=ilike.AL*") == ["v1", "v4"]
    assert ids("name=gt.b") == ["v2", "v3", "v5"]
    assert ids("tags=cs.{GOLD}") == ["v1", "v3", "v4"]


def test_other_strings_and_enums_are_case_sensitive():
    assert ids("description=eq.X*Y") == []
    assert ids("description=like.X*") == []
    assert ids("description=ilike.X*") == ["v5"]
    assert ids("type=eq.Clone") == ["v3"]


def test_timestamps_compare_chronologically_across_offsets():
    # v1 10:00Z and v2 12:00+02:00 are the same instant; v3 is 01:00Z the same day.
    assert ids("creation_timestamp=eq.2024-05-01T10:00:00Z") == ["v1", "v2"]
    assert ids("creation_timestamp=in.(2024-05-01T06:00:00-04:00)") == ["v1", "v2"]
    assert ids("creation_timestamp=lt.2024-05-01T10:00:00.000+00:00") == ["v3"]
    assert ids("creation_timestamp=gte.2024-05-01T10:00:00.000+00:00") == ["v1", "v2", "v4"]
    assert ids("creation_timestamp=gt.2024-05-01T11:00:00+02:00") == ["v1", "v2", "v4"]
    assert ids("creation_timestamp=lt.2024-05-02") == ["v1", "v2", "v3"]  # a date alone: midnight UTC
    assert ids("creation_timestamp=gt.2024-05-01T00:00:00") == ["v1", "v2", "v3", "v4"]  # no offset: UTC


def test_embedded_fields_through_the_arrow():
    assert ids("type=eq.Snapshot&protection_data->>source_id=eq.v1") == ["v2"]
    assert ids("protection_data->>source_id=eq.v1") == ["v2", "v3"]
    assert ids("protection_data->>source_id=is.null") == ["v1", "v4", "v5"]
    assert ids("protection_data->>expiration_timestamp=gt.2024-05-31T23:30:00Z") == ["v2"]
    assert ids("protection_data->>expiration_timestamp=eq.2024-06-01T02:00:00+02:00") == ["v2"]
    assert ids("protection_data->>creator_type=eq.Scheduler") == ["v2"]
    assert_refused("protection_data->>creator_type=eq.Robot", 400, errors.CODE_INVALID_VALUE, "Robot")


def test_enums_compare_in_declaration_order():
    assert ids("severity=gte.Major", "alert") == ["a2", "a4"]
    assert ids("severity=lt.Minor", "alert") == ["a3"]


def test_matches_is_reusable():
    f = parse_filter(CATALOG, "volume", [("type", "eq.Snapshot"), ("is_async", "true"), ("limit", "1")])
    assert [v["id"] for v in VOLUMES if matches(CATALOG, "volume", f, v, Resolver())] == ["v2", "v5"]
    assert matches(CATALOG, "volume", None, VOLUMES[0], Resolver())
    assert parse_filter(CATALOG, "volume", [("select", "id")]) is None


# -- order ----------------------------------------------------------------------------------------


def test_order_by_name_ignores_case_and_is_stable():
    assert ids("order=name") == ["v1", "v4", "v2", "v5", "v3"]
    assert ids("order=name.desc") == ["v3", "v5", "v2", "v4", "v1"]
    rows = [vol("b", "Same"), vol("a", "same"), vol("c", "SAME")]
    assert ids("order=name", records=rows) == ["b", "a", "c"]
    assert ids("order=name.desc", records=rows) == ["b", "a", "c"]
    assert ids("order=name,id", records=rows) == ["a", "b", "c"]
    assert ids("order=name,id.desc", records=rows) == ["c", "b", "a"]


def test_order_by_several_keys_with_directions():
    # Enum order: Primary < Clone < Snapshot; inside a type, size descending, then id.
    assert ids("order=type,size.desc,id") == ["v1", "v4", "v3", "v5", "v2"]
    assert ids("order=type.desc,size.asc") == ["v2", "v5", "v3", "v1", "v4"]
    assert ids("order= size , id.desc ") == ["v4", "v1", "v2", "v5", "v3"]


def test_nulls_sort_last_ascending_and_first_descending():
    assert ids("order=logical_used") == ["v4", "v5", "v1", "v3", "v2"]
    assert ids("order=logical_used.desc") == ["v2", "v3", "v1", "v5", "v4"]
    assert ids("order=logical_used.nullsfirst") == ["v2", "v4", "v5", "v1", "v3"]
    assert ids("order=logical_used.desc.nullslast") == ["v3", "v1", "v5", "v4", "v2"]


def test_order_by_timestamp_is_chronological():
    assert ids("order=creation_timestamp") == ["v3", "v1", "v2", "v4", "v5"]
    assert ids("order=creation_timestamp.desc") == ["v5", "v4", "v1", "v2", "v3"]


def test_order_through_relations_and_embedded_objects():
    # protection_policy.name: v1/v4 gold, v2 Bronze, v3 none, v5 dangling (null).
    assert ids("order=protection_policy.name,id") == ["v2", "v1", "v4", "v3", "v5"]
    assert ids("order=protection_policy.name.desc,id") == ["v3", "v5", "v1", "v4", "v2"]
    assert ids("order=protection_data.expiration_timestamp,id") == ["v2", "v1", "v3", "v4", "v5"]
    assert ids("order=protection_data->>creator_type.desc,id") == ["v5", "v2", "v1", "v3", "v4"]
    assert ids("order=host.host_group.name,id", "host_volume_mapping") == ["m1", "m3", "m2"]


@pytest.mark.parametrize(
    ("order", "status", "code"),
    [
        ("colour", 400, errors.CODE_UNKNOWN_PROPERTY),
        ("name,colour.desc", 400, errors.CODE_UNKNOWN_PROPERTY),
        ("protection_policy.colour", 400, errors.CODE_UNKNOWN_PROPERTY),
        ("protection_data.nope", 400, errors.CODE_UNKNOWN_PROPERTY),
        ("_group_ids", 400, errors.CODE_UNKNOWN_PROPERTY),
        ("protection_policy", 400, errors.CODE_BAD_REQUEST),
        ("volume_groups.name", 400, errors.CODE_BAD_REQUEST),
        ("tags", 400, errors.CODE_BAD_REQUEST),
        ("protection_data", 400, errors.CODE_BAD_REQUEST),
        ("name.x", 400, errors.CODE_BAD_REQUEST),
        ("name,", 400, errors.CODE_BAD_REQUEST),
        ("", 400, errors.CODE_BAD_REQUEST),
    ],
)
def test_bad_order_is_400(order, status, code):
    assert_refused([("order", order)], status, code)


# -- paging ---------------------------------------------------------------------------------------


def many(n: int) -> list[dict]:
    return [vol(f"id{k:05d}", f"vol{k:05d}") for k in range(n)]


def page_of(params: Params = "", n: int = 250, range_header: str | None = None) -> Page:
    return run(params, records=many(n), range_header=range_header)


def test_default_page_is_100_and_partial():
    page = page_of()
    assert (len(page.items), page.first, page.last, page.total, page.partial) == (100, 0, 99, 250, True)
    assert page.content_range == "0-99/250"
    assert page.items[0] == {"id": "id00000"}


def test_a_result_that_fits_is_not_partial():
    for n in (0, 1, 99, 100):
        page = page_of(n=n)
        assert (len(page.items), page.total, page.partial) == (n, n, False)
    empty = page_of(n=0)
    assert (empty.first, empty.last) == (0, -1)


def test_offset_and_limit():
    page = page_of("offset=240&limit=20")
    assert (len(page.items), page.first, page.last, page.partial) == (10, 240, 249, True)
    page = page_of("offset=100&limit=50")
    assert page.items[0]["id"] == "id00100"
    assert page.content_range == "100-149/250"
    page = page_of("limit=250")
    assert (len(page.items), page.partial) == (250, False)
    page = page_of("offset=0&limit=1")
    assert (page.content_range, page.partial) == ("0-0/250", True)
    assert page_of("offset=249").content_range == "249-249/250"


def test_exact_page_multiples_end_cleanly():
    assert page_of("offset=100&limit=100", n=200).content_range == "100-199/200"
    assert refusal(lambda: page_of("offset=200&limit=100", n=200)).status == 416


def test_offset_beyond_the_end_is_416_but_an_empty_first_page_is_not():
    fault = refusal(lambda: page_of("offset=250"))
    assert (fault.status, fault.messages[0].code) == (416, errors.CODE_RANGE)
    assert refusal(lambda: page_of("offset=5", n=0)).status == 416
    assert page_of("offset=0", n=0).items == []
    assert refusal(lambda: run("type=eq.Proxy&offset=1")).status == 416
    assert run("type=eq.Proxy").items == []


@pytest.mark.parametrize("limit", ["0", "-1", "-100"])
def test_limit_of_zero_or_less_is_416(limit):
    fault = refusal(lambda: page_of(f"limit={limit}"))
    assert (fault.status, fault.messages[0].code) == (416, errors.CODE_RANGE)


@pytest.mark.parametrize(
    "params", ["limit=ten", "limit=1.5", "limit=", "offset=-1", "offset=x", "offset=1e3"]
)
def test_bad_offset_or_limit_is_400(params):
    assert refusal(lambda: page_of(params)).status == 400


def test_limit_is_capped_at_2000():
    page = page_of("limit=5000", n=4500)
    assert (len(page.items), page.content_range) == (MAX_LIMIT, "0-1999/4500")
    assert len(page_of("limit=2000", n=4500).items) == 2000


def test_repeating_a_paging_parameter_is_400():
    for name in ("select", "order", "limit", "offset"):
        value = "id" if name in ("select", "order") else "1"
        assert refusal(lambda name=name, value=value: page_of([(name, value), (name, value)])).status == 400


def test_range_header():
    page = page_of(range_header="10-19")
    assert (page.content_range, page.partial) == ("10-19/250", True)
    page = page_of(range_header="200-400")
    assert page.content_range == "200-249/250"
    assert page_of(range_header="0-249").partial is False
    assert page_of(range_header="0-0").content_range == "0-0/250"
    assert len(page_of(range_header="0-9999", n=4500).items) == MAX_LIMIT


def test_query_offset_and_limit_win_over_the_range_header_one_by_one():
    assert page_of("offset=5", range_header="10-19").content_range == "5-14/250"
    assert page_of("limit=3", range_header="10-19").content_range == "10-12/250"
    assert page_of("offset=1&limit=2", range_header="10-19").content_range == "1-2/250"


@pytest.mark.parametrize("header", ["", "10", "10-", "-10", "items=0-9", "a-b", "1-2-3", "0 - 9"])
def test_malformed_range_header_is_400(header):
    assert refusal(lambda: page_of(range_header=header)).status == 400


def test_range_header_out_of_bounds_is_416():
    assert refusal(lambda: page_of(range_header="250-300")).status == 416
    assert refusal(lambda: page_of(range_header="9-8")).status == 416


def test_pypowerstore_range_walk_returns_every_row_once():
    # PyPowerStore reads the total from the first 206, then asks Range: 100-2100, 2100-4100, ...
    rows = many(4500)
    first = run("select=id,name", records=rows)
    assert first.partial
    assert len(first.items) == 100
    collected = [item["id"] for item in first.items]
    for start in range(100, first.total, 2000):
        page = run("select=id,name", records=rows, range_header=f"{start}-{start + 2000}")
        assert page.first == start
        collected += [item["id"] for item in page.items]
    assert collected == [r["id"] for r in rows]


def test_offset_walk_with_a_unique_order_ends_on_416():
    # gopowerstore's walk: offset = last + 1 until offset >= total; a 416 mid-walk also ends it.
    rows = many(450)
    seen: list[str] = []
    offset, total = 0, None
    while total is None or offset < total:
        page = run(f"order=name,id&offset={offset}&limit=200", records=rows)
        seen += [item["id"] for item in page.items]
        offset, total = page.last + 1, page.total
    assert seen == sorted(r["id"] for r in rows)
    fault = refusal(lambda: run(f"order=name,id&offset={offset}&limit=200", records=rows))
    assert fault.status == 416


# -- x-simple_get ---------------------------------------------------------------------------------


def test_simple_get_types_ignore_everything_but_select():
    params = "select=name&name=eq.nobody&order=name&limit=0&offset=50&and=(garbage&colour=eq.x"
    page = run(params, "local_user", range_header="not a range")
    assert page.items == [{"name": "admin"}, {"name": "Zed"}, {"name": "bob"}]
    assert (page.partial, page.total, page.first, page.last) == (False, 3, 0, 2)
    assert run("", "local_user").items == [{"id": "1"}, {"id": "2"}, {"id": "3"}]


def test_simple_get_types_still_check_select():
    assert_refused("select=password", 400, errors.CODE_UNKNOWN_PROPERTY, "password", type_name="local_user")
    assert_refused("select=_password", 400, errors.CODE_UNKNOWN_PROPERTY, type_name="local_user")


def test_simple_get_returns_the_whole_collection_beyond_2000():
    rows = [{"id": str(n), "name": f"u{n}", "role_id": "3"} for n in range(2500)]
    page = run("limit=5", "local_user", records=rows)
    assert (len(page.items), page.partial) == (2500, False)


# -- properties -----------------------------------------------------------------------------------

PRINTABLE = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(PRINTABLE, min_size=1, max_size=8), data=st.data())
def test_eq_and_in_filters_round_trip_any_printable_value(values, data):
    records = [vol(f"x{n}", f"n{n}", description=v) for n, v in enumerate(values)]
    wanted = data.draw(st.lists(st.one_of(st.sampled_from(values), PRINTABLE), min_size=1, max_size=4))
    quoted = [quote_value(w) for w in wanted]
    form = data.draw(st.sampled_from(["in", "or", "not-and", "nested", "eq"]))
    if form == "in":
        params = [("description", "in.(" + ",".join(quoted) + ")")]
    elif form == "or":
        params = [("or", "(" + ",".join(f"description.eq.{q}" for q in quoted) + ")")]
    elif form == "not-and":
        params = [("not.and", "(" + ",".join(f"description.neq.{q}" for q in quoted) + ")")]
    elif form == "nested":
        params = [("and", f'(id.not.is.null,or(description.in.({",".join(quoted)}),id.eq."no,such"))')]
    else:
        wanted = wanted[:1]
        params = [("description", f"eq.{wanted[0]}")]  # the top level takes the raw value
    expected = [r["id"] for r in records if r["description"] in wanted]
    assert ids([*params, ("limit", "2000")], records=records) == expected


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.one_of(st.none(), st.integers(0, 20)), max_size=30),
    op=st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]),
    bound=st.integers(-1, 21),
    negate=st.booleans(),
)
def test_ordered_filters_agree_with_python(sizes, op, bound, negate):
    records = [vol(f"x{n}", f"n{n}", logical_used=v) for n, v in enumerate(sizes)]
    compare = {
        "eq": lambda a: a == bound,
        "neq": lambda a: a != bound,
        "gt": lambda a: a > bound,
        "gte": lambda a: a >= bound,
        "lt": lambda a: a < bound,
        "lte": lambda a: a <= bound,
    }[op]
    prefix = "not." if negate else ""
    expected = [
        r["id"] for r in records if r["logical_used"] is not None and compare(r["logical_used"]) != negate
    ]
    assert ids([("logical_used", f"{prefix}{op}.{bound}")], records=records) == expected


def reference_sort(rows: list[dict], keys: list[tuple[str, bool]]) -> list[dict]:
    """Successive stable sorts, last key first; nulls after the values ascending, before descending."""
    out = list(rows)
    for attr, descending in reversed(keys):
        fold = (lambda v: v.casefold()) if attr == "name" else (lambda v: v)
        present = sorted(
            (r for r in out if r[attr] is not None), key=lambda r: fold(r[attr]), reverse=descending
        )
        missing = [r for r in out if r[attr] is None]
        out = missing + present if descending else present + missing
    return out


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["a", "A", "b", "B", "c"]), st.one_of(st.none(), st.integers(0, 3))),
        max_size=25,
    ),
    keys=st.lists(
        st.tuples(st.sampled_from(["name", "logical_used", "size", "id"]), st.booleans()),
        min_size=1,
        max_size=4,
        unique_by=lambda k: k[0],
    ),
)
def test_order_agrees_with_successive_stable_sorts(rows, keys):
    records = [vol(f"x{n:02d}", name, logical_used=used, size=n % 3) for n, (name, used) in enumerate(rows)]
    text = ",".join(f"{attr}.desc" if descending else attr for attr, descending in keys)
    expected = [r["id"] for r in reference_sort(records, keys)]
    assert ids([("order", text), ("limit", "2000")], records=records) == expected


# -- the shipped catalog --------------------------------------------------------------------------


class CatalogResolver:
    def resolve(self, type_name: str, record: dict, field_name: str) -> dict | list[dict] | None:
        return None


def test_with_the_shipped_catalog():
    catalog = load_catalog()
    names = [n for n, f in catalog.instance_fields("volume").items() if not f.is_relation]
    rows = []
    for k in range(30):
        record = dict.fromkeys(names)
        record.update(
            id=f"id{k:02d}",
            name=f"Vol{k:02d}" if k % 2 else f"vol{k:02d}",
            type="Snapshot" if k % 3 == 0 else "Primary",
            size=(k + 1) * GIB,
            creation_timestamp=f"2024-05-01T10:{k:02d}:00.000+00:00",
            protection_data={"source_id": "id00" if k % 3 == 0 else None, "creator_type": "User"},
        )
        rows.append(record)
    q = parse_query(
        catalog,
        "volume",
        [
            ("select", "id,name,protection_data,volume_groups(name),protection_policy"),
            ("type", "eq.Snapshot"),
            ("protection_data->>source_id", "eq.id00"),
            ("or", "(size.gte.10737418240,name.ilike.VOL0*)"),
            ("order", "name.desc,id"),
            ("limit", "3"),
        ],
    )
    page = execute(catalog, "volume", q, rows, CatalogResolver())
    assert page.content_range == "0-2/10"
    assert [item["id"] for item in page.items] == ["id27", "id24", "id21"]
    assert page.items[0] == {
        "id": "id27",
        "name": "Vol27",
        "protection_data": {"source_id": "id00", "creator_type": "User"},
        "volume_groups": [],
        "protection_policy": None,
    }
    assert refusal(lambda: parse_query(catalog, "volume", [("type", "eq.Bogus")])).status == 400
    assert refusal(lambda: parse_query(catalog, "volume", [("location_history", "is.null")])).status == 400
    assert refusal(lambda: parse_query(catalog, "volume", [("select", "nope")])).status == 400
    days = parse_query(catalog, "snapshot_rule", [("days_of_week", "cd.{Saturday,Sunday}")])
    assert isinstance(days, Query)
    assert days.filter is not None
    assert parse_query(catalog, "local_user", [("name", "eq.x"), ("select", "name")]).filter is None


def test_a_like_pattern_with_text_on_both_sides_of_one_wildcard_checks_both():
    from console.catalog import load_catalog
    from console.simulator import query as q

    class NoRelations:
        def resolve(self, type_name, record, field_name):
            return None

    records = [{"id": str(i), "name": name} for i, name in enumerate(["ab", "a.b", "axb", "ba", "a", "ab!"])]
    parsed = q.parse_query(load_catalog(), "volume", [("name", "like.a*b"), ("select", "id,name")])
    page = q.execute(load_catalog(), "volume", parsed, records, NoRelations())
    assert [r["name"] for r in page.items] == ["ab", "a.b", "axb"]
