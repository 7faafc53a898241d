"""The shipped resource catalog: contents, helpers, round trip, no description text, generator in step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from console.catalog import Catalog, load_catalog
from console.resource_files import read_text

REPO = Path(__file__).resolve().parent.parent
SPEC = Path(os.environ.get("POWERSTORE_SPEC", REPO.parent / "shared" / "powerstore-openapi-4.1.json"))
CATALOG_PATH = REPO / "resources" / "catalog.json"

CORE_TYPES = (
    "volume",
    "volume_group",
    "host",
    "host_group",
    "host_volume_mapping",
    "local_user",
    "role",
    "policy",
    "snapshot_rule",
    "replication_rule",
    "file_system",
    "nas_server",
    "alert",
    "event",
    "appliance",
    "cluster",
    "software_installed",
    "job",
)
ALLOWED_UNITS = {
    "bytes",
    "bytes/sec",
    "bits/sec",
    "kilobytes/sec",
    "megabytes/sec",
    "iops",
    "percent",
    "seconds",
    "milliseconds",
    "microseconds",
}
FIELD_KEYS = {
    "type",
    "format",
    "enum",
    "items",
    "ref",
    "relation",
    "x_ref",
    "name_ref",
    "units",
    "minimum",
    "maximum",
    "min_length",
    "max_length",
    "pattern",
    "min_items",
    "max_items",
    "unique_items",
    "default",
    "nullable",
    "case_insensitive",
    "no_filter",
    "added",
    "deprecated",
}
DEFINITION_KEYS = {
    "required",
    "fields",
    "order",
    "type",
    "items",
    "base",
    "discriminator",
    "added",
    "deprecated",
}
ENUM_KEYS = {"values", "labels", "added", "deprecated", "default", "added_in", "deprecated_in"}
OPERATION_KEYS = {
    "body",
    "body_required",
    "statuses",
    "response",
    "response_array",
    "upload",
    "added",
    "deprecated",
}
TYPE_KEYS = {
    "instance",
    "simple_get",
    "name_addressing",
    "list",
    "get",
    "create",
    "modify",
    "delete",
    "actions",
    "collection_actions",
    "downloads",
    "select_cli",
    "added",
}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return json.loads(read_text("catalog.json"))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_round_trip_is_lossless(raw):
    assert Catalog.from_json(raw).to_json() == raw


def test_rejects_an_unknown_format(raw):
    with pytest.raises(ValueError, match="format"):
        Catalog.from_json({**raw, "format": 99})


def test_header(raw, catalog):
    assert raw["format"] == 1
    assert catalog.api_version == "4.1.0.0"
    assert 120 <= len(catalog.types) <= 140


@pytest.mark.parametrize("name", CORE_TYPES)
def test_core_types_are_listable_with_their_instance(catalog, name):
    rtype = catalog.type(name)
    assert rtype.can_list
    assert rtype.can_get
    assert rtype.instance == f"{name}_instance"
    assert "id" in catalog.instance_fields(name)


def test_simple_get_and_name_addressing_flags(catalog):
    simple = {name for name, t in catalog.types.items() if t.simple_get}
    assert {"local_user", "role", "cluster", "login_session", "security_config"} <= simple
    assert not {"volume", "job", "alert", "event", "host"} & simple
    named = {name for name, t in catalog.types.items() if t.name_addressing}
    assert {"volume", "volume_group", "host", "host_group", "policy", "snapshot_rule"} <= named
    assert {"replication_rule", "file_system", "nas_server", "appliance"} <= named
    not_named = {"local_user", "role", "job", "alert", "event", "cluster", "host_volume_mapping"}
    assert not not_named & named


def test_volume_operations(catalog):
    volume = catalog.type("volume")
    assert {"snapshot", "clone", "refresh", "restore", "attach", "detach"} <= set(volume.actions)
    assert volume.create is not None
    assert volume.create.body == "volume_create"
    assert volume.create.body_required
    assert volume.create.statuses == (201,)
    assert volume.create.response == "create_response"
    assert volume.modify is not None
    assert volume.modify.statuses == (204,)
    assert volume.delete is not None
    assert volume.delete.body == "volume_delete"
    assert not volume.delete.body_required
    snapshot = volume.actions["snapshot"]
    assert snapshot.response == "volume_snapshot_response"
    assert snapshot.statuses == (200, 204)
    assert volume.actions["attach"].statuses == (204,)
    assert volume.actions["attach"].response is None
    assert volume.actions["configure_metro"].added == "3.0.0.0"
    assert volume.select_cli[:2] == ("id", "name")


def test_volume_create_body(catalog):
    body = catalog.definitions["volume_create"]
    assert set(body.required) == {"name", "size"}
    size = body.fields["size"]
    assert (size.type, size.format, size.units) == ("integer", "int64", "bytes")
    assert (size.minimum, size.maximum) == (1048576, 281474976710656)
    assert body.fields["name"].max_length == 128
    # Fields keep the spec's order (forms show them that way).
    assert list(body.fields)[:2] == ["name", "size"]
    host_id = body.fields["host_id"]
    assert host_id.x_ref == "host"
    assert host_id.name_ref
    assert host_id.accepts_name


def test_read_only_types_have_no_changes(catalog):
    for name in ("host_volume_mapping", "event", "software_installed", "job", "role"):
        rtype = catalog.type(name)
        assert rtype.read_only, name
        assert catalog.operation(name, "create") is None


def test_alert_is_acknowledged_by_modify(catalog):
    alert = catalog.type("alert")
    assert alert.create is None
    assert alert.delete is None
    assert alert.modify is not None
    assert catalog.definitions[alert.modify.body].required == ("is_acknowledged",)


def test_other_core_bodies(catalog):
    local_user = catalog.definitions["local_user_create"]
    assert set(local_user.required) == {"name", "password", "role_id"}
    assert (local_user.fields["password"].min_length, local_user.fields["password"].max_length) == (8, 40)
    host = catalog.definitions["host_create"]
    assert set(host.required) == {"name", "os_type", "initiators"}
    initiators = host.fields["initiators"]
    assert initiators.type == "array"
    assert initiators.items is not None
    assert initiators.items.ref is not None
    assert set(catalog.definitions[initiators.items.ref].required) == {"port_name", "port_type"}
    assert catalog.enum_of(host.fields["os_type"]).values == (
        "Windows",
        "Linux",
        "ESXi",
        "AIX",
        "HP-UX",
        "Solaris",
    )
    group_ids = catalog.definitions["volume_group_create"].fields["volume_ids"]
    assert group_ids.items.x_ref == "volume"
    assert group_ids.items.name_ref
    assert group_ids.accepts_name
    assert catalog.definitions["snapshot_rule_create"].fields["desired_retention"].maximum == 613200
    assert catalog.definitions["file_system_create"].fields["size_total"].minimum == 3221225472


def test_collection_actions_are_kept_apart(catalog):
    appliance = catalog.type("appliance")
    assert "validate_create" in appliance.collection_actions
    assert "validate_create" not in appliance.actions
    op = catalog.operation("appliance", "validate_create", collection=True)
    assert op is not None
    assert op.body == "appliance_validate_create"
    assert op.body_required
    assert op.response == "appliance_validate_create_response"
    assert catalog.operation("appliance", "validate_create") is None
    assert {"forecast", "time_to_full"} <= set(appliance.actions)
    metrics = catalog.operation("metrics", "generate", collection=True)
    assert metrics is not None
    assert metrics.response_array


def test_operation_helper(catalog):
    assert catalog.operation("volume", "create") is catalog.type("volume").create
    assert catalog.operation("volume", "modify") is catalog.type("volume").modify
    assert catalog.operation("volume", "delete") is catalog.type("volume").delete
    assert catalog.operation("volume", "snapshot") is catalog.type("volume").actions["snapshot"]
    assert catalog.operation("volume", "no_such_action") is None
    assert catalog.operation("no_such_type", "create") is None
    assert "size" in catalog.body_fields("volume", "create")
    assert catalog.body_fields("host_volume_mapping", "create") == {}


def test_uploads_and_downloads(catalog):
    nas = catalog.type("nas_server")
    assert nas.actions["upload/hosts"].upload == "body"
    assert nas.actions["upload/hosts"].body is None
    assert nas.downloads["download/hosts"] == "nas_server_hosts_file"
    assert catalog.definitions["nas_server_hosts_file"].type == "string"


def test_relations_and_embedded_objects(catalog):
    volume = catalog.instance_fields("volume")
    groups = volume["volume_groups"]
    assert groups.is_relation
    assert groups.is_to_many
    assert groups.relation_type == "volume_group"
    protection = volume["protection_data"]
    assert protection.type == "object"
    assert protection.ref == "protection_data_instance"
    assert not protection.is_relation
    assert protection.no_filter
    assert volume["name"].case_insensitive
    host_group = catalog.instance_fields("host")["host_group"]
    assert host_group.relation == "host_group"
    assert not host_group.is_to_many
    assert catalog.instance_fields("volume")["creation_timestamp"].format == "date-time"


def test_nullable_and_defaults(catalog):
    modify = catalog.definitions["volume_modify"].fields
    assert modify["protection_policy_id"].nullable
    assert modify["expiration_timestamp"].nullable
    assert not modify["name"].nullable
    assert catalog.definitions["local_user_create"].fields["is_mfa_bypass"].default is False


def test_enums_and_labels(catalog):
    policy_type = catalog.enums["PolicyTypeEnum"]
    assert policy_type.label("File_Performance") == "File Performance"
    assert policy_type.labels["File_Performance"] == "File Performance"
    phase = catalog.enums["JobPhaseEnum"]
    assert {"Pending", "Queued", "In_Progress", "Completed", "Failed", "Unrecoverable_Failed"} <= set(
        phase.values
    )
    assert catalog.enums["JobStateEnum"].deprecated_in == "1.0.2"
    purposes = catalog.enums["IpPurposeTypeEnum"]
    assert purposes.added["External_Replication_Iscsi"] == "2.0.0.0"
    assert purposes.deprecated["External_Replication_Iscsi"] == "4.0.0.0"
    assert purposes.deprecated["Storage_Global"] == "2.0.0.0"
    assert catalog.instance_fields("volume")["type"].enum == "VolumeTypeEnum"
    assert "Snapshot" in catalog.enums["VolumeTypeEnum"].values
    assert catalog.enums["TimeZoneEnum"].default == "UTC"


def test_job_responses(catalog):
    assert catalog.definitions["base_response"].discriminator == "response_type"
    subtypes = catalog.subtypes("base_response")
    assert {"job_create_response", "job_error_response", "job_volume_snapshot_response"} <= set(subtypes)
    assert len(subtypes) == 47
    snapshot = catalog.definitions["job_volume_snapshot_response"]
    assert snapshot.base == "base_response"
    assert {"response_type", "id"} <= set(snapshot.fields)
    error = catalog.definitions["job_error_response"]
    assert "messages" in error.fields
    assert catalog.job_response_type("volume", "snapshot") == "job_volume_snapshot_response"
    assert catalog.job_response_type("volume", "refresh") == "job_volume_refresh_response"
    assert catalog.job_response_type("policy", "clone") == "job_policy_clone_response"
    assert catalog.job_response_type("volume", "create") == "job_create_response"
    assert catalog.job_response_type("volume", "attach") is None
    assert catalog.instance_fields("job")["response_body"].ref == "base_response"
    assert "error_response" in catalog.definitions


def test_every_reference_resolves(catalog):
    def fields() -> Iterator[Any]:
        for d in catalog.definitions.values():
            for f in [*d.fields.values(), d.items]:
                while f is not None:
                    yield f
                    f = f.items

    for f in fields():
        assert f.ref is None or f.ref in catalog.definitions, f.ref
        assert f.enum is None or f.enum in catalog.enums, f.enum
        assert f.units is None or f.units in ALLOWED_UNITS, f.units
        assert f.relation is None or f.ref in catalog.definitions, f.relation
        assert f.x_ref is None or not f.x_ref.startswith("#"), f.x_ref
    for rtype in catalog.types.values():
        assert not rtype.instance or rtype.instance in catalog.definitions
        ops = [rtype.create, rtype.modify, rtype.delete, *rtype.actions.values()]
        for op in [*ops, *rtype.collection_actions.values()]:
            if op is None:
                continue
            assert op.body is None or op.body in catalog.definitions
            assert op.response is None or op.response in catalog.definitions
            assert op.statuses
            assert all(200 <= s < 300 for s in op.statuses)


# ----- no description text ---------------------------------------------------------------------------


def _check_keys(raw: dict[str, Any]) -> None:
    def field(f: dict[str, Any]) -> None:
        assert set(f) <= FIELD_KEYS, set(f) - FIELD_KEYS
        if "items" in f:
            field(f["items"])

    assert set(raw) == {"format", "api_version", "enums", "definitions", "types"}
    for e in raw["enums"].values():
        assert set(e) <= ENUM_KEYS
    for d in raw["definitions"].values():
        assert set(d) <= DEFINITION_KEYS
        for f in d["fields"].values():
            field(f)
        if "items" in d:
            field(d["items"])
    for t in raw["types"].values():
        assert set(t) <= TYPE_KEYS
        ops = [t["create"], t["modify"], t["delete"], *t["actions"].values()]
        for op in [*ops, *t.get("collection_actions", {}).values()]:
            assert op is None or set(op) <= OPERATION_KEYS


def _strings(value: Any, *, labels: bool = True) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            if labels or k != "labels":
                yield from _strings(v, labels=labels)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v, labels=labels)


def test_no_description_key_anywhere(raw):
    # "description" may only appear as a property name (volume.description), never as metadata.
    _check_keys(raw)


def test_no_prose_in_the_catalog(raw):
    # Apart from the enums' display labels, every string is a name, pattern, version or default value.
    for text in _strings(raw, labels=False):
        assert len(text.split()) <= 2, text


def test_spec_descriptions_are_absent(raw):
    if not SPEC.exists():
        pytest.skip("the OpenAPI spec is not available")
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    long_texts: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            text = node.get("description")
            first_line = text.strip().splitlines()[0] if isinstance(text, str) and text.strip() else ""
            if len(first_line) >= 40:
                long_texts.add(first_line[:60])
            for v in node.values():
                collect(v)
        elif isinstance(node, list):
            for v in node:
                collect(v)

    collect(spec)
    assert len(long_texts) > 1000
    blob = "\n".join(_strings(raw))
    text = CATALOG_PATH.read_text(encoding="utf-8")
    found = [t for t in long_texts if t in blob or t in text]
    assert not found, found[:5]


# ----- generator in step with the committed file ----------------------------------------------------


def test_generator_reproduces_the_committed_catalog(tmp_path):
    if not SPEC.exists():
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI needs the OpenAPI spec at {SPEC} (or POWERSTORE_SPEC) to check catalog.json")
        pytest.skip("the OpenAPI spec is not available")
    out = tmp_path / "catalog.json"
    script = REPO / "scripts" / "generate_catalog.py"
    subprocess.run(
        [sys.executable, str(script), "--spec", str(SPEC), "--out", str(out)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONHASHSEED": "random"},
    )
    assert out.read_bytes() == CATALOG_PATH.read_bytes(), (
        "run scripts/generate_catalog.py and commit the result"
    )
    assert len(out.read_bytes()) < 2_000_000
