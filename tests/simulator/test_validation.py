"""Request-body validation: every rule, nested and array paths, all problems reported at once."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.catalog import Catalog, Operation, load_catalog
from console.simulator.errors import (
    CODE_BAD_REQUEST,
    CODE_INVALID_VALUE,
    CODE_MISSING_REQUIRED,
    CODE_RANGE,
    CODE_UNKNOWN_PROPERTY,
    ApiFault,
    Message,
)
from console.simulator.validation import check_body, validate

# A small catalog with one field per rule, independent of the spec's particular limits.
RULES = Catalog.from_json(
    {
        "format": 1,
        "api_version": "4.1.0.0",
        "enums": {"ColorEnum": {"values": ["Red", "Dark_Blue"]}},
        "definitions": {
            "thing": {
                "required": ["name"],
                "fields": {
                    "name": {"type": "string", "min_length": 1, "max_length": 5},
                    "code": {"type": "string", "pattern": "^[a-z]+$"},
                    "color": {"type": "string", "enum": "ColorEnum"},
                    "when": {"type": "string", "format": "date-time"},
                    "count": {"type": "integer", "format": "int32"},
                    "small": {"type": "integer", "format": "int16"},
                    "big": {"type": "integer", "format": "int64"},
                    "size": {"type": "integer", "format": "int64", "minimum": 1048576, "maximum": 4194304},
                    "ratio": {"type": "number", "minimum": 0, "maximum": 1.5},
                    "flag": {"type": "boolean"},
                    "note": {"type": "string", "nullable": True},
                    "tags": {
                        "type": "array",
                        "items": {"type": "string", "max_length": 3},
                        "min_items": 1,
                        "max_items": 2,
                        "unique_items": True,
                    },
                    "colors": {"type": "array", "items": {"type": "string", "enum": "ColorEnum"}},
                    "parts": {"type": "array", "items": {"type": "object", "ref": "part"}},
                    "main": {"type": "object", "ref": "part"},
                    "extra": {"type": "object"},
                },
            },
            "part": {
                "required": ["kind"],
                "fields": {
                    "kind": {"type": "string", "enum": "ColorEnum"},
                    "weight": {"type": "integer", "minimum": 0},
                },
            },
            "many": {"required": [], "fields": {}, "type": "array", "items": {"type": "integer"}},
        },
        "types": {},
    }
)
CREATE_THING = Operation(name="create", body="thing", body_required=True, statuses=(201,))
OPTIONAL_THING = Operation(name="snapshot", body="thing", body_required=False, statuses=(200,))
NO_BODY = Operation(name="refresh_quota", body=None, body_required=False, statuses=(204,))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def problems(catalog: Catalog, op: Operation, body: object) -> list[Message]:
    with pytest.raises(ApiFault) as caught:
        check_body(catalog, op, body)
    assert caught.value.status == 400
    return caught.value.messages


def check(value: dict[str, Any]) -> list[Message]:
    return validate(RULES, "thing", {"name": "ok", **value})


def only(messages: list[Message]) -> Message:
    assert len(messages) == 1, [m.text for m in messages]
    return messages[0]


# ----- bodies -----------------------------------------------------------------------------------------


def test_a_valid_body_is_returned():
    body = {"name": "abc", "size": 2097152, "tags": ["a"], "parts": [{"kind": "Red"}]}
    assert check_body(RULES, CREATE_THING, body) == body


def test_missing_body_where_required():
    messages = problems(RULES, CREATE_THING, None)
    assert messages[0].code == CODE_BAD_REQUEST
    assert "request body is required" in messages[0].text
    # The required properties it lacks are reported too.
    assert [m.arguments for m in messages[1:]] == [("name",)]


def test_missing_body_where_optional_is_an_empty_object(catalog):
    assert check_body(RULES, NO_BODY, None) == {}
    assert check_body(catalog, catalog.operation("volume", "snapshot"), None) == {}
    assert check_body(catalog, catalog.operation("volume", "delete"), None) == {}


@pytest.mark.parametrize("body", [[], "text", 5, True, [{"name": "a"}]])
def test_body_must_be_an_object(body):
    message = only(problems(RULES, CREATE_THING, body))
    assert message.code == CODE_BAD_REQUEST
    assert "must be a JSON object" in message.text


def test_operation_without_body_definition_takes_no_properties():
    assert check_body(RULES, NO_BODY, {}) == {}
    message = only(problems(RULES, NO_BODY, {"force": True}))
    assert message.code == CODE_UNKNOWN_PROPERTY
    assert message.arguments == ("force",)


def test_all_problems_are_reported_together():
    messages = problems(RULES, CREATE_THING, {"bogus": 1, "size": 5, "flag": "yes"})
    codes = sorted(m.code for m in messages)
    assert codes == sorted([CODE_UNKNOWN_PROPERTY, CODE_RANGE, CODE_INVALID_VALUE, CODE_MISSING_REQUIRED])


def test_fault_has_the_error_response_shape():
    with pytest.raises(ApiFault) as caught:
        check_body(RULES, CREATE_THING, {"bogus": 1, "name": "a"})
    body = caught.value.to_json()
    assert body["messages"][0]["code"] == CODE_UNKNOWN_PROPERTY
    assert body["messages"][0]["arguments"] == ["bogus"]
    assert body["messages"][0]["severity"] == "Error"
    assert "bogus" in body["messages"][0]["message_l10n"]


# ----- one rule at a time -----------------------------------------------------------------------------


def test_unknown_property():
    message = only(check({"colour": "Red"}))
    assert message.code == CODE_UNKNOWN_PROPERTY
    assert message.arguments == ("colour",)
    assert "colour" in message.text


def test_missing_required():
    message = only(validate(RULES, "thing", {}))
    assert message.code == CODE_MISSING_REQUIRED
    assert message.arguments == ("name",)
    assert message.text == "Property name is required."


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("name", 5, "a string"),
        ("count", "5", "an integer"),
        ("count", True, "an integer"),
        ("count", 1.5, "an integer"),
        ("ratio", "0.5", "a number"),
        ("ratio", False, "a number"),
        ("flag", 1, "a boolean"),
        ("flag", "true", "a boolean"),
        ("tags", "a", "an array"),
        ("main", ["x"], "an object"),
        ("extra", 3, "an object"),
    ],
)
def test_wrong_json_type(field, value, expected):
    message = only(check({field: value}))
    assert message.code == CODE_INVALID_VALUE
    assert message.arguments[0] == field
    assert message.text == f"Property {field} must be {expected}."


def test_numbers_accept_integers_and_integers_accept_whole_floats():
    assert check({"ratio": 1}) == []
    assert check({"count": 7.0}) == []
    body = check_body(RULES, CREATE_THING, {"name": "a", "count": 7.0})
    assert body["count"] == 7
    assert isinstance(body["count"], int)


def test_non_finite_numbers_are_refused():
    assert only(check({"ratio": float("nan")})).code == CODE_INVALID_VALUE
    assert only(check({"ratio": float("inf")})).code == CODE_INVALID_VALUE


def test_enum_values():
    assert check({"color": "Dark_Blue"}) == []
    message = only(check({"color": "dark_blue"}))
    assert message.code == CODE_INVALID_VALUE
    assert message.arguments == ("color", "dark_blue")
    assert "Red, Dark_Blue" in message.text


def test_long_enums_are_not_spelled_out(catalog):
    message = only(validate(catalog, "job_instance", {"resource_type": "spaceship"}))
    assert message.arguments == ("resource_type", "spaceship")
    assert "ResourceTypeEnum" in message.text
    assert len(message.text) < 200


@pytest.mark.parametrize(
    ("field", "value", "limit", "side"),
    [
        ("small", 32768, 32767, "most"),
        ("small", -32769, -32768, "least"),
        ("count", 2**31, 2**31 - 1, "most"),
        ("count", -(2**31) - 1, -(2**31), "least"),
        ("big", 2**63, 2**63 - 1, "most"),
        ("size", 1048575, 1048576, "least"),
        ("size", 4194305, 4194304, "most"),
        ("ratio", -0.1, 0, "least"),
        ("ratio", 1.6, 1.5, "most"),
    ],
)
def test_numeric_limits(field, value, limit, side):
    message = only(check({field: value}))
    assert message.code == CODE_RANGE
    assert message.arguments == (field, str(limit))
    assert message.text == f"Property {field} must be at {side} {limit}."


def test_numeric_limits_at_the_edges_are_fine():
    edges = {"small": 32767, "count": -(2**31), "big": 2**63 - 1, "size": 1048576, "ratio": 1.5}
    assert check(edges) == []


def test_string_lengths():
    short = only(validate(RULES, "thing", {"name": ""}))
    assert short.code == CODE_RANGE
    assert short.arguments == ("name", "1")
    assert short.text == "Property name must be at least 1 character long."
    long = only(check({"name": "abcdef"}))
    assert long.text == "Property name must be at most 5 characters long."


def test_pattern():
    assert check({"code": "abc"}) == []
    message = only(check({"code": "ABC"}))
    assert message.code == CODE_INVALID_VALUE
    assert message.arguments == ("code", "^[a-z]+$")


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00.120+00:00",
        "2024-05-01T10:00:00Z",
        "2024-12-31T23:59:59-08:00",
        "2024-05-01T10:00:00.5+05:30",
    ],
)
def test_date_time_accepted(value):
    assert check({"when": value}) == []


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00",  # no offset
        "2024-05-01 10:00:00+00:00",
        "2024-05-01",
        "tomorrow",
        "2024-13-01T10:00:00+00:00",
        "2024-02-30T10:00:00+00:00",
        "2024-05-01T10:00:00+0000",
    ],
)
def test_date_time_refused(value):
    message = only(check({"when": value}))
    assert message.code == CODE_INVALID_VALUE
    assert message.arguments == ("when", value)
    assert "ISO 8601" in message.text


def test_null_only_where_nullable():
    assert check({"note": None}) == []
    message = only(check({"count": None}))
    assert message.code == CODE_INVALID_VALUE
    assert message.text == "Property count cannot be null."
    required_null = only(validate(RULES, "thing", {"name": None}))
    assert required_null.arguments == ("name",)


def test_array_item_limits():
    assert only(check({"tags": []})).text == "Property tags must have at least 1 item."
    assert only(check({"tags": ["a", "b", "c"]})).text == "Property tags must have at most 2 items."
    duplicate = only(check({"tags": ["a", "a"]}))
    assert duplicate.code == CODE_INVALID_VALUE
    assert duplicate.arguments == ("tags",)


def test_array_items_are_checked_with_their_index():
    messages = check({"tags": ["ok", "long"], "colors": ["Red", "Green", None]})
    assert sorted(m.arguments[0] for m in messages) == ["colors[1]", "colors[2]", "tags[1]"]


def test_nested_objects_and_arrays_of_objects():
    messages = check({"main": {"weight": -1}, "parts": [{"kind": "Red"}, {"kind": "Blue", "extra": 1}]})
    got = sorted((m.code, m.arguments[0]) for m in messages)
    assert got == sorted(
        [
            (CODE_INVALID_VALUE, "parts[1].kind"),
            (CODE_MISSING_REQUIRED, "main.kind"),
            (CODE_RANGE, "main.weight"),
            (CODE_UNKNOWN_PROPERTY, "parts[1].extra"),
        ]
    )
    assert any(m.text == "Property main.kind is required." for m in messages)


def test_free_form_objects_take_anything():
    assert check({"extra": {"any": [1, {"thing": None}]}}) == []


def test_array_definitions():
    assert validate(RULES, "many", [1, 2]) == []
    assert only(validate(RULES, "many", [1, "2"])).arguments == ("[1]",)
    assert only(validate(RULES, "many", {})).text == "The value must be an array."


# ----- against the real catalog -----------------------------------------------------------------------


def test_volume_create(catalog):
    op = catalog.operation("volume", "create")
    ok = {"name": "db01", "size": 1073741824, "host_id": "name:esx7"}
    assert check_body(catalog, op, ok) == ok
    messages = problems(catalog, op, {"size": 1})
    assert {m.text for m in messages} == {
        "Property name is required.",
        "Property size must be at least 1048576.",
    }
    too_big = problems(catalog, op, {"name": "x", "size": 281474976710657})
    assert only(too_big).text == "Property size must be at most 281474976710656."
    missing = problems(catalog, op, None)
    assert missing[0].code == CODE_BAD_REQUEST
    assert sorted(m.arguments for m in missing[1:]) == [("name",), ("size",)]


def test_host_create_initiator_paths(catalog):
    op = catalog.operation("host", "create")
    body = {
        "name": "esx7",
        "os_type": "ESXi",
        "initiators": [
            {"port_name": "iqn.1998-01.com.vmware:esx7", "port_type": "iSCSI"},
            {"port_name": "21:00:00:24:ff:31:4c:9a", "port_type": "FibreChannel", "bogus": 1},
            {"port_type": "FC", "chap_single_password": "short"},
        ],
    }
    messages = problems(catalog, op, body)
    got = sorted((m.code, m.arguments[0]) for m in messages)
    assert got == sorted(
        [
            (CODE_INVALID_VALUE, "initiators[1].port_type"),
            (CODE_MISSING_REQUIRED, "initiators[2].port_name"),
            (CODE_RANGE, "initiators[2].chap_single_password"),
            (CODE_UNKNOWN_PROPERTY, "initiators[1].bogus"),
        ]
    )


def test_volume_modify_nullable_and_date_time(catalog):
    op = catalog.operation("volume", "modify")
    assert check_body(catalog, op, {"protection_policy_id": None, "expiration_timestamp": None}) is not None
    assert check_body(catalog, op, {"expiration_timestamp": "2030-01-01T00:00:00.000+00:00"})
    messages = problems(catalog, op, {"name": None, "expiration_timestamp": "2030-01-01"})
    assert sorted(m.arguments[0] for m in messages) == ["expiration_timestamp", "name"]


def test_real_nested_inline_object(catalog):
    messages = validate(catalog, "migration_recommendation_create", {"evacuate_appliance": {}})
    assert only(messages).arguments == ("evacuate_appliance.appliance_id",)


def test_real_pattern_int16_and_items_limit(catalog):
    messages = validate(
        catalog,
        "ntp_server_create",
        {"address": "10.0.0.1", "key_id": 0, "authentication_key": "x" * 15 + "!"},
    )
    got = sorted((m.code, m.arguments[0]) for m in messages)
    assert got == [(CODE_INVALID_VALUE, "authentication_key"), (CODE_RANGE, "key_id")]
    too_many = validate(
        catalog, "file_events_publisher_modify", {"file_events_pool_ids": ["a", "b", "c", "d"]}
    )
    assert only(too_many).text == "Property file_events_pool_ids must have at most 3 items."


def test_alert_acknowledge(catalog):
    op = catalog.operation("alert", "modify")
    assert check_body(catalog, op, {"is_acknowledged": True}) == {"is_acknowledged": True}
    assert only(problems(catalog, op, {"is_acknowledged": 1})).arguments == ("is_acknowledged",)


# ----- robustness -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)
FIELD_NAMES = ["name", "size", "initiators", "port_type", "tags", "main", "parts", "kind", "when", "count"]
OBJECTS = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), JSON, max_size=6)
REAL_DEFINITIONS = [
    "volume_create",
    "volume_modify",
    "host_create",
    "host_modify",
    "migration_recommendation_create",
    "job_instance",
    "volume_instance",
    "esxi_credentials",
    "nas_server_hosts_file",
    "policy_create",
]


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(name=st.sampled_from(REAL_DEFINITIONS), value=JSON | OBJECTS)
def test_validate_never_raises_on_the_real_catalog(name, value):
    messages = validate(load_catalog(), name, value)
    assert all(isinstance(m, Message) and m.text for m in messages)


@settings(max_examples=100, deadline=None)
@given(value=JSON | OBJECTS)
def test_validate_and_check_body_never_raise_otherwise(value):
    validate(RULES, "thing", value)
    validate(RULES, "many", value)
    for op in (CREATE_THING, OPTIONAL_THING, NO_BODY):
        _check_body_refuses_only_with_a_fault(op, value)


def _check_body_refuses_only_with_a_fault(op: Operation, value: object) -> None:
    fault: ApiFault | None = None
    try:
        check_body(RULES, op, value)
    except ApiFault as raised:
        fault = raised
    if fault is not None:
        assert fault.status == 400
        assert fault.messages
