"""Presentation (no Qt): columns from the catalog, formatted values, filters, and detail groups."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from console.api import F
from console.api.expressions import to_params
from console.catalog import load_catalog
from console.presentation import (
    BOOL,
    BYTES,
    DATETIME,
    ENUM,
    LIST,
    TEXT,
    ColumnError,
    FilterCondition,
    FilterValueError,
    Presentation,
    conditions_expression,
    enum_text,
    format_bytes,
    format_duration,
    format_exact_bytes,
    format_timestamp,
    humanize,
    load_extension,
    parse_bytes,
    parse_value,
    presentation,
    quick_filter,
    select_text,
)

NAVIGATION_TYPES = [
    "volume",
    "volume_group",
    "file_system",
    "nas_server",
    "host",
    "host_group",
    "policy",
    "snapshot_rule",
    "replication_rule",
    "alert",
    "event",
    "job",
    "local_user",
    "role",
    "appliance",
    "cluster",
]


@pytest.fixture(scope="module")
def pres() -> Presentation:
    return presentation()


# -- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0 B"),
        (512, "512 B"),
        (8192, "8.00 KiB"),
        (1048576, "1.00 MiB"),
        (53687091200, "50.0 GiB"),
        (214748364800, "200 GiB"),
        (1649267441664, "1.50 TiB"),
        (281474976710656, "256 TiB"),
        (1073741823, "1.00 GiB"),
        (-2048, "-2.00 KiB"),
    ],
)
def test_bytes_show_in_binary_units(value, text):
    assert format_bytes(value) == text


def test_exact_bytes_for_the_tooltip():
    assert format_exact_bytes(53687091200) == "53,687,091,200 bytes"
    assert format_exact_bytes(1.0) == "1 bytes"


def test_timestamps_show_in_local_time_to_the_second():
    zone = dt.timezone(dt.timedelta(hours=2))
    assert format_timestamp("2024-05-01T10:00:05.123+00:00", zone) == "2024-05-01 12:00:05"
    assert format_timestamp("2024-05-01T10:00:05Z", dt.UTC) == "2024-05-01 10:00:05"
    # No offset: the API means UTC.
    assert format_timestamp("2024-05-01T10:00:05", zone) == "2024-05-01 12:00:05"
    assert format_timestamp("not a time") == "not a time"


def test_durations():
    assert format_duration(0) == "0 s"
    assert format_duration(90) == "1 min 30 s"
    assert format_duration(86400 * 7) == "7 d"
    assert format_duration(3600 * 25 + 61) == "1 d 1 h"


def test_labels_are_generated_with_acronyms():
    assert humanize("creation_timestamp") == "Creation timestamp"
    assert humanize("nas_server_id") == "NAS server ID"
    assert humanize("is_write_order_consistent") == "Write order consistent"
    assert humanize("production_IPv4_interface_id") == "Production IPv4 interface ID"
    assert humanize("state_l10n") == "State"


# -- columns ---------------------------------------------------------------------------------------


def test_a_plain_field_column(pres):
    size = pres.column("volume", "size")
    assert (size.kind, size.label, size.sort_key, size.filter_attr) == (BYTES, "Size", "size", "size")
    assert size.numeric
    assert size.display(53687091200) == "50.0 GiB"
    assert size.tooltip(53687091200) == "53,687,091,200 bytes"
    assert size.csv_value(53687091200) == "53687091200"
    assert size.display(None) == "—"


def test_an_enum_column_prefers_the_localised_twin_and_falls_back_to_the_catalog_label(pres):
    affinity = pres.column("volume", "node_affinity")
    assert affinity.kind == ENUM
    assert affinity.l10n_path == ("node_affinity_l10n",)
    assert "node_affinity_l10n" in select_text([affinity])
    assert affinity.display("Preferred_Node_A", "Node A preferred") == "Node A preferred"
    assert affinity.display("Preferred_Node_A") == "Preferred Node A"
    assert affinity.tooltip("Preferred_Node_A") == "Preferred_Node_A"


def test_a_timestamp_column_has_the_utc_time_in_its_tooltip(pres):
    created = pres.column("volume", "creation_timestamp")
    assert created.kind == DATETIME
    assert created.label == "Created"
    tip = created.tooltip("2024-05-01T10:00:05.120+00:00")
    assert tip is not None and "2024-05-01 10:00:05.120 UTC" in tip
    assert created.csv_value("2024-05-01T10:00:05.120+00:00").endswith(
        dt.datetime(2024, 5, 1, 10, 0, 5, tzinfo=dt.UTC).astimezone().strftime("%z")[:3]
        + ":"
        + dt.datetime(2024, 5, 1, 10, 0, 5, tzinfo=dt.UTC).astimezone().strftime("%z")[3:]
    )


def test_a_boolean_column(pres):
    column = pres.column("volume", "is_replication_destination")
    assert column.kind == BOOL
    assert (column.display(True), column.display(False)) == ("Yes", "No")
    assert column.label == "Replication destination"


def test_a_to_one_relation_column_is_sortable_but_not_filterable(pres):
    policy = pres.column("volume", "protection_policy.name")
    assert policy.label == "Protection policy"
    assert policy.select == {"protection_policy": {"name": {}}}
    assert policy.sort_key == "protection_policy.name"
    assert policy.filter_attr is None
    assert policy.value({"protection_policy": {"name": "pp-gold"}}) == "pp-gold"
    assert policy.value({"protection_policy": None}) is None


def test_a_to_many_relation_column_lists_names_and_cannot_be_sorted(pres):
    groups = pres.column("volume", "volume_groups.name")
    assert groups.kind == LIST and groups.to_many
    assert groups.sort_key is None and groups.filter_attr is None
    value = groups.value({"volume_groups": [{"name": "a"}, {"name": "b"}]})
    assert value == ["a", "b"]
    assert groups.display(value) == "a, b"
    assert groups.csv_value(value) == "a; b"


def test_a_bare_relation_key_shows_names(pres):
    assert pres.column("policy", "snapshot_rules").key == "snapshot_rules.name"


def test_an_embedded_object_field_is_filtered_with_the_arrow(pres):
    source = pres.column("volume", "protection_data.source_id")
    assert source.select == {"protection_data": {}}
    assert source.filter_attr == "protection_data->>source_id"
    assert source.sort_key == "protection_data.source_id"
    expires = pres.column("volume", "protection_data.expiration_timestamp")
    assert expires.kind == DATETIME and expires.label == "Expires"


def test_an_array_of_enums_uses_its_localised_twin(pres):
    days = pres.column("snapshot_rule", "days_of_week")
    assert days.kind == LIST
    assert days.l10n_path == ("days_of_week_l10n",)
    assert days.display(["Monday", "Sunday"]) == "Mon, Sun"  # a schedule's days, said short
    assert days.filter_attr == "days_of_week"


def test_unknown_columns_are_refused(pres):
    with pytest.raises(ColumnError):
        pres.column("volume", "nope")
    with pytest.raises(ColumnError):
        pres.column("volume", "size.more")
    assert not pres.has_column("nope", "name")


def test_select_merges_columns(pres):
    columns = [
        pres.column("volume", k)
        for k in ("name", "protection_policy.name", "type", "protection_data.source_id")
    ]
    text = select_text(columns)
    assert text == "id,name,protection_policy(name),type,type_l10n,protection_data"


@pytest.mark.parametrize("type_name", NAVIGATION_TYPES)
def test_every_navigation_type_has_valid_defaults(pres, type_name):
    defaults = pres.default_columns(type_name)
    assert defaults, type_name
    for key in defaults:
        assert pres.has_column(type_name, key)
    for key, _descending in pres.default_sort(type_name):
        assert pres.column(type_name, key).sort_key
    available = {c.key for c in pres.available_columns(type_name)}
    assert set(defaults) <= available
    fields = pres.catalog.instance_fields(type_name)
    # Localised twins show through their enum's column, never as columns of their own.
    assert not [k for k in available if k.endswith("_l10n") and k.removesuffix("_l10n") in fields]


def test_the_extension_lists_only_real_fields():
    catalog = load_catalog()
    pres = Presentation(catalog, load_extension())
    for type_name, entry in load_extension()["types"].items():
        assert type_name in catalog.types
        for key in entry.get("columns", []):
            assert pres.has_column(type_name, key), (type_name, key)
        for variant in entry.get("variants", []):
            for key in variant["columns"]:
                assert pres.has_column(type_name, key), (type_name, key)
        fields = catalog.instance_fields(type_name)
        for relation in entry.get("related", []):
            assert fields[relation].is_relation, (type_name, relation)


def test_defaults_fall_back_to_the_specs_cli_columns():
    pres = Presentation(load_catalog(), {"format": 1, "types": {}})
    assert pres.default_columns("volume") == ["name", "type", "wwn", "size", "protection_policy.name"]
    assert pres.default_sort("volume") == [("name", False)]


def test_snapshot_views_get_their_own_defaults(pres):
    snapshots = pres.default_columns("volume", F("type") == "Snapshot")
    assert "protection_data.source_id" in snapshots
    assert pres.default_sort("volume", F("type") == "Snapshot") == [("creation_timestamp", True)]
    assert pres.default_columns("volume", F("type") != "Snapshot") == pres.default_columns("volume")


# -- filters ---------------------------------------------------------------------------------------


def test_filter_fields_offer_operators_by_kind(pres):
    fields = {f.attr: f for f in pres.filter_fields("volume")}
    assert next(iter(fields)) == "name"
    assert "type_l10n" not in fields and "mapped_volumes" not in fields
    assert [o.key for o in fields["size"].operators] == [
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "null",
        "not_null",
    ]
    assert "contains" in [o.key for o in fields["name"].operators]
    assert [o.key for o in fields["state"].operators][:3] == ["eq", "neq", "in"]
    assert [o.key for o in fields["is_replication_destination"].operators] == ["true", "false", "null"]
    assert "after" in [o.key for o in fields["creation_timestamp"].operators]
    assert fields["protection_data->>source_id"].kind == TEXT
    rule_fields = {f.attr: f for f in pres.filter_fields("snapshot_rule")}
    assert [o.key for o in rule_fields["days_of_week"].operators][:2] == ["cs", "cd"]


def test_values_are_parsed_as_people_write_them():
    assert parse_bytes("100 GiB") == 100 << 30
    assert parse_bytes("1.5T") == 3 << 39
    assert parse_bytes("8192") == 8192
    assert parse_bytes("2 tb") == 2 << 40
    with pytest.raises(FilterValueError):
        parse_bytes("lots")
    assert parse_value("integer", "1,024") == 1024
    catalog = load_catalog()
    state = catalog.enums["VolumeStateEnum"]
    assert parse_value(ENUM, "ready", state) == "Ready"
    with pytest.raises(FilterValueError):
        parse_value(ENUM, "sleepy", state)
    stamp = parse_value(DATETIME, "2024-05-01 13:30")
    assert dt.datetime.fromisoformat(stamp) == dt.datetime(2024, 5, 1, 13, 30).astimezone()
    with pytest.raises(FilterValueError):
        parse_value(TEXT, "  ")


def test_conditions_become_api_filters():
    cases = [
        (FilterCondition("name", "contains", "prod"), [("name", "ilike.*prod*")]),
        (FilterCondition("name", "starts", "sql"), [("name", "ilike.sql*")]),
        (FilterCondition("name", "not_contains", "tmp"), [("name", "not.ilike.*tmp*")]),
        (FilterCondition("size", "gte", 100 << 30), [("size", "gte.107374182400")]),
        (FilterCondition("state", "in", ["Ready", "Offline"]), [("state", "in.(Ready,Offline)")]),
        (FilterCondition("state", "not_in", ["Ready"]), [("state", "not.in.(Ready)")]),
        (FilterCondition("is_replication_destination", "true"), [("is_replication_destination", "is.true")]),
        (FilterCondition("description", "null"), [("description", "is.null")]),
        (FilterCondition("description", "not_null"), [("description", "not.is.null")]),
        (FilterCondition("days_of_week", "cs", ["Monday"]), [("days_of_week", "cs.{Monday}")]),
        (
            FilterCondition("protection_data->>source_id", "eq", "abc"),
            [("protection_data->>source_id", "eq.abc")],
        ),
    ]
    for condition, params in cases:
        assert to_params(condition.expression()) == params, condition
    after = FilterCondition("creation_timestamp", "after", "2024-05-01T10:00:00.000+00:00")
    assert to_params(after.expression(DATETIME)) == [
        ("creation_timestamp", "gt.2024-05-01T10:00:00.000+00:00")
    ]
    both = conditions_expression([cases[0][0], cases[3][0]])
    assert to_params(both) == [("name", "ilike.*prod*"), ("size", "gte.107374182400")]
    assert conditions_expression([]) is None


def test_conditions_round_trip_through_json():
    condition = FilterCondition("state", "in", ["Ready"])
    again = FilterCondition.from_json(json.loads(json.dumps(condition.to_json())))
    assert again == condition
    with pytest.raises(FilterValueError):
        FilterCondition("name", "sounds_like", "x")


def test_conditions_describe_themselves(pres):
    size = pres.filter_field("volume", "size")
    assert FilterCondition("size", "gte", 100 << 30).describe(size) == "Size ≥ 100 GiB"
    name = pres.filter_field("volume", "name")
    assert FilterCondition("name", "contains", "prod").describe(name) == 'Name contains "prod"'
    assert FilterCondition("name", "null").describe(name) == "Name is empty"


def test_quick_filter_is_a_case_insensitive_contains_on_the_name():
    assert to_params(quick_filter(" prod ")) == [("name", "ilike.*prod*")]
    assert quick_filter("   ") is None
    assert quick_filter("x", None) is None


# -- details ---------------------------------------------------------------------------------------


def test_reference_fields_point_to_their_types(pres):
    assert pres.reference_type("volume", "protection_policy_id") == "policy"
    assert pres.reference_type("volume", "performance_policy_id") == "policy"
    assert pres.reference_type("volume", "appliance_id") == "appliance"
    assert pres.reference_type("local_user", "role_id") == "role"
    assert pres.reference_type("file_system", "parent_id") == "file_system"
    assert pres.reference_type("volume", "name") is None
    assert pres.reference_type("volume", "id") is None


def test_detail_select_names_references_and_related_resources(pres):
    text = pres.detail_select("volume")
    assert "protection_policy(id,name)" in text
    assert "volume_groups(id,name)" in text
    assert "mapped_volumes(id,logical_unit_number,host(id,name),host_group(id,name))" in text
    assert text.startswith("id,name,")


def test_references_given_by_id_only_are_named_afterwards(pres):
    record = {
        "id": "v1",
        "name": "sql-prod-01",
        "performance_policy_id": "default_medium",
        "protection_policy_id": "p1",
        "protection_policy": {"id": "p1", "name": "pp-gold"},
        "protection_data": {"family_id": "v1", "parent_id": "v0"},
    }
    groups = pres.detail_groups("volume", record)
    # The protection policy came with its name; the others only by id.
    assert pres.unnamed_links(groups) == {"policy": ["default_medium"], "volume": ["v0"]}
    named = pres.with_names(groups, {("policy", "default_medium"): "Medium", ("volume", "v0"): "base"})
    items = {i.key: i for g in named for i in g.items}
    assert items["performance_policy_id"].text == "Medium"
    assert items["performance_policy_id"].links[0].text == "Medium"
    assert items["protection_data.parent_id"].text == "base"
    assert items["protection_data.family_id"].text == "sql-prod-01"  # the record itself
    assert items["protection_policy_id"].text == "pp-gold"
    assert pres.unnamed_links(named) == {}
    # A name not found leaves the id in place.
    assert {i.key: i.text for g in pres.with_names(groups, {}) for i in g.items}[
        "protection_data.parent_id"
    ] == "v0"


def test_detail_groups_of_a_volume(pres):
    record = {
        "id": "v1",
        "name": "sql-prod-01",
        "type": "Primary",
        "type_l10n": "Primary",
        "size": 107374182400,
        "creation_timestamp": "2024-05-01T10:00:00.000+00:00",
        "is_replication_destination": False,
        "protection_policy_id": "p1",
        "protection_policy": {"id": "p1", "name": "pp-gold"},
        "protection_data": {"source_id": None, "family_id": "v1", "creator_type": "User"},
        "volume_groups": [{"id": "g1", "name": "sql-vg"}],
        "mapped_volumes": [
            {"id": "m1", "logical_unit_number": 3, "host": {"id": "h1", "name": "esx-01"}, "host_group": None}
        ],
        "brand_new_field": 1,
    }
    groups = {g.title: g for g in pres.detail_groups("volume", record)}
    assert list(groups)[:2] == ["General", "Capacity"]
    items = {i.key: i for g in groups.values() for i in g.items}
    assert items["size"].text == "100 GiB"
    assert items["size"].tooltip == "107,374,182,400 bytes"
    policy = items["protection_policy_id"]
    assert policy.label == "Protection policy" and policy.text == "pp-gold"
    assert [(link.type_name, link.id) for link in policy.links] == [("policy", "p1")]
    assert items["protection_policy_id"] in groups["References"].items
    assert [(link.type_name, link.id, link.text) for link in items["volume_groups"].links] == [
        ("volume_group", "g1", "sql-vg")
    ]
    assert [(link.type_name, link.id, link.text) for link in items["mapped_volumes"].links] == [
        ("host", "h1", "esx-01 (LUN 3)")
    ]
    assert "Protection data" in groups
    assert items["protection_data.family_id"].links[0].type_name == "volume"
    assert items["is_replication_destination"].text == "No"
    assert items["brand_new_field"].text == "1"
    assert "protection_policy" not in items  # shown as the reference field's link instead


def test_alert_resources_link_to_their_type(pres):
    record = {"id": "a1", "resource_type": "volume", "resource_id": "v9", "resource_name": "db-09"}
    items = {i.key: i for g in pres.detail_groups("alert", record) for i in g.items}
    assert [(link.type_name, link.id, link.text) for link in items["resource_id"].links] == [
        ("volume", "v9", "db-09")
    ]


def test_parts_without_pages_show_as_text(pres):
    record = {
        "id": "h1",
        "name": "esx-01",
        "initiators": [{"id": "i1", "port_name": "iqn.1998-01.com.vmware:esx-01", "port_type": "iSCSI"}],
    }
    items = {i.key: i for g in pres.detail_groups("host", record) for i in g.items}
    assert items["initiators"].links == ()
    assert "iqn.1998-01.com.vmware:esx-01" in items["initiators"].text
    assert "iSCSI" in items["initiators"].text


def test_enum_values_spelled_as_identifiers_read_as_words():
    catalog = load_catalog()
    types, actions = catalog.enums["ResourceTypeEnum"], catalog.enums["ResourceActionEnum"]
    assert [enum_text(v, types) for v in ("fc_port", "eth_port", "x509_certificate", "ntp", "volume")] == [
        "FC port",
        "Ethernet port",
        "X.509 certificate",
        "NTP",
        "Volume",
    ]
    assert enum_text("configure_metro", actions) == "Configure metro"
    # Labels the spec gives, and values already spelled for people, stay as they are.
    assert enum_text("In_Progress", catalog.enums["JobStateEnum"]) == "In Progress"
    assert enum_text("Primary", None) == "Primary"


def test_an_alerts_events_read_as_lines_and_its_dates_without_timestamp(pres):
    stamp = "2026-11-27T20:58:57.141+00:00"
    record = {
        "id": "a1",
        "description_l10n": "Power supply B has failed.",
        "called_home_timestamp": stamp,
        "events": [
            {
                "id": "e1",
                "event_code": "0x00401201",
                "severity": "Critical",
                "generated_timestamp": stamp,
                "description_l10n": "Power supply B has failed.",
            }
        ],
    }
    items = {i.key: i for g in pres.detail_groups("alert", record) for i in g.items}
    assert items["events"].text == f"{format_timestamp(stamp)} · Critical · Power supply B has failed."
    assert items["called_home_timestamp"].label == "Called home"


def test_a_schedules_days_read_as_people_say_them(pres):
    column = pres.column("snapshot_rule", "days_of_week")
    week = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    assert column.display(week) == "Every day"
    assert column.display(week[:5]) == "Monday to Friday"
    assert column.display(["Sunday", "Saturday"]) == "Saturday and Sunday"
    assert column.display(["Sunday"]) == "Sunday"
    assert column.display(["Friday", "Monday", "Wednesday"]) == "Mon, Wed, Fri"
    assert column.csv_value(week[:5]) == "Monday; Tuesday; Wednesday; Thursday; Friday"  # exact in CSV


def test_an_l10n_text_that_only_spells_the_identifier_reads_as_words(pres):
    column = pres.column("alert", "resource_type")
    assert column.display("fc_port", "fc port") == "FC port"
    assert column.display("fc_port", "Port FC") == "Port FC"  # the array's own wording stays
