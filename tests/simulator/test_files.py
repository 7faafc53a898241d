"""NAS servers and file systems (with their snapshots): each change, each kind of refusal, async runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.simulator import errors
from tests.simulator.conftest import all_of, by_name, fetch, posted_id, refused

GIB = 1024**3
MIB = 1024**2


async def get(api, type_name: str, record_id: str, select: str) -> dict:
    return await fetch(api, f"/{type_name}/{record_id}", select)


def stamp(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat(timespec="milliseconds")


async def new_fs(api, name: str = "fs-new", size: int = 10 * GIB, nas: str = "nas-dev-01", **extra) -> str:
    body = {"name": name, "nas_server_id": f"name:{nas}", "size_total": size, **extra}
    return await posted_id(api, "/file_system", body)


async def snap(api, fs_id: str, **body) -> str:
    return await posted_id(api, f"/file_system/{fs_id}/snapshot", body, status=200)


# -- NAS servers -------------------------------------------------------------------------------------------


async def test_seeded_nas_servers_hold_their_file_systems(api):
    servers = await all_of(api, "nas_server", "name,operational_status,current_node_id,file_systems(name)")
    assert {s["name"] for s in servers} == {"nas-prod-01", "nas-dev-01"}
    assert all(s["operational_status"] == "Started" for s in servers)
    assert len({s["current_node_id"] for s in servers}) == 2
    assert all(s["file_systems"] for s in servers)


async def test_create_nas_server(api):
    response = await api.post(
        "/nas_server",
        json={
            "name": "nas-branch-01",
            "description": "Branch office",
            "current_unix_directory_service": "NIS",
            "default_unix_user": "guest",
            "is_auto_user_mapping_enabled": True,
            "protection_policy_id": "name:pp-file-daily",
        },
    )
    assert response.status_code == 201, response.text
    server = await get(
        api,
        "nas_server",
        response.json()["id"],
        "name,description,operational_status,operational_status_l10n,current_node_id,preferred_node_id,"
        "current_unix_directory_service,current_unix_directory_service_l10n,default_unix_user,"
        "is_auto_user_mapping_enabled,is_username_translation_enabled,protection_policy(name),file_systems",
    )
    assert server["operational_status_l10n"] == "Started"
    assert server["current_node_id"] == server["preferred_node_id"]
    assert server["current_unix_directory_service_l10n"] == "NIS"
    assert server["protection_policy"] == {"name": "pp-file-daily"}
    assert server["is_auto_user_mapping_enabled"] is True
    assert server["is_username_translation_enabled"] is False
    assert server["file_systems"] == []


async def test_create_nas_server_refusals(api):
    post = api.post
    refused(await post("/nas_server", json={"name": "NAS-PROD-01"}), 422, errors.CODE_NAME_IN_USE)
    refused(await post("/nas_server", json={"name": "x" * 256}), 400)
    refused(await post("/nas_server", json={"name": ""}), 400)
    refused(await post("/nas_server", json={"name": "n", "current_unix_directory_service": "AD"}), 400)
    refused(await post("/nas_server", json={"name": "n", "protection_policy_id": "missing"}), 404)
    refused(await post("/nas_server", json={"name": "n", "protection_policy_id": "default_high"}), 422)
    refused(await post("/nas_server", json={"description": "no name"}), 400, errors.CODE_MISSING_REQUIRED)


async def test_modify_nas_server(api):
    server = await by_name(api, "nas_server", "nas-dev-01", "id,current_node_id,protection_policy_id")
    other_node = next(
        s["current_node_id"]
        for s in await all_of(api, "nas_server", "current_node_id")
        if s["current_node_id"] != server["current_node_id"]
    )
    response = await api.patch(
        f"/nas_server/{server['id']}",
        json={
            "name": "nas-eng-01",
            "description": "Engineering",
            "current_unix_directory_service": "LDAP",
            "preferred_node_id": other_node,
            "current_node_id": other_node,
            "protection_policy_id": "name:pp-file-daily",
        },
    )
    assert response.status_code == 204, response.text
    after = await get(
        api,
        "nas_server",
        server["id"],
        "name,description,current_unix_directory_service,current_node_id,protection_policy_id",
    )
    assert after["name"] == "nas-eng-01"
    assert after["current_unix_directory_service"] == "LDAP"
    assert after["current_node_id"] == other_node
    assert after["protection_policy_id"] is not None
    response = await api.patch(f"/nas_server/{server['id']}", json={"protection_policy_id": None})
    assert response.status_code == 204, response.text
    assert (await get(api, "nas_server", server["id"], "protection_policy_id"))[
        "protection_policy_id"
    ] is None


async def test_modify_nas_server_refusals(api):
    server = await by_name(api, "nas_server", "nas-dev-01")
    path = f"/nas_server/{server['id']}"
    refused(await api.patch(path, json={"name": "nas-prod-01"}), 422, errors.CODE_NAME_IN_USE)
    refused(await api.patch(path, json={"current_node_id": "N9"}), 404)
    refused(await api.patch(path, json={"is_production_mode_enabled": True}), 422)
    refused(await api.patch(path, json={"production_IPv4_interface_id": "no-such-interface"}), 404)
    refused(await api.patch(path, json={"operational_status": "Stopped"}), 400, errors.CODE_UNKNOWN_PROPERTY)
    refused(await api.patch(path, json={"performance_policy_id": "name:pp-gold"}), 422)
    refused(await api.patch("/nas_server/name:no-such-nas", json={"description": "x"}), 404)


async def test_delete_nas_server_deletes_its_file_systems(api):
    server = await by_name(api, "nas_server", "nas-dev-01", "id,file_systems(id)")
    assert server["file_systems"]
    response = await api.delete(f"/nas_server/{server['id']}")
    assert response.status_code == 204, response.text
    refused(await api.get(f"/nas_server/{server['id']}"), 404)
    assert await all_of(api, "file_system", "id", nas_server_id=f"eq.{server['id']}") == []


async def test_async_nas_server_delete_shows_steps(api):
    server = await by_name(api, "nas_server", "nas-dev-01", "id,file_systems(name,filesystem_type)")
    primaries = sorted(
        (fs["name"] for fs in server["file_systems"] if fs["filesystem_type"] == "Primary"), key=str.casefold
    )
    response = await api.delete(f"/nas_server/{server['id']}", params={"is_async": "true"})
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed", job
    steps = await all_of(
        api, "job", "description_l10n,phase", parent_id=f"eq.{job['id']}", order="step_order"
    )
    assert [s["description_l10n"] for s in steps] == [
        *(f"Delete file system {n}" for n in primaries),
        "Delete NAS server nas-dev-01",
    ]
    assert all(s["phase"] == "Completed" for s in steps)
    refused(await api.get(f"/nas_server/{server['id']}"), 404)


async def test_delete_nas_server_holding_a_secure_snapshot_is_refused(api):
    fs_id = await new_fs(api, "fs-locked")
    await snap(api, fs_id, name="locked", expiration_timestamp=stamp(timedelta(days=3)), is_secure=True)
    server = await by_name(api, "nas_server", "nas-dev-01")
    refused(await api.delete(f"/nas_server/{server['id']}"), 422)
    assert (await api.get(f"/file_system/{fs_id}")).status_code == 200


async def test_ping(api):
    server = await by_name(api, "nas_server", "nas-prod-01")
    path = f"/nas_server/{server['id']}/ping"
    response = await api.post(path, json={"destination_address": "10.0.0.53"})
    assert response.status_code == 204, response.text
    response = await api.post(path, json={"destination_address": "fd00::53", "is_ipv6": True})
    assert response.status_code == 204, response.text
    refused(await api.post(path, json={"destination_address": "192.0.2.10"}), 422)
    refused(await api.post(path, json={"destination_address": "fd00::53"}), 400)
    refused(await api.post(path, json={"destination_address": "not-an-address"}), 400)
    refused(await api.post(path, json={}), 400, errors.CODE_MISSING_REQUIRED)
    refused(await api.post("/nas_server/nowhere/ping", json={"destination_address": "10.0.0.1"}), 404)


async def test_update_user_mappings(api):
    server = await by_name(api, "nas_server", "nas-prod-01")
    response = await api.post(f"/nas_server/{server['id']}/update_user_mappings")
    assert response.status_code == 204, response.text


async def test_clone_nas_server_with_chosen_file_systems(api):
    server = await by_name(api, "nas_server", "nas-dev-01")
    scratch = await by_name(api, "file_system", "fs-dev-scratch")
    response = await api.post(
        f"/nas_server/{server['id']}/clone", json={"name": "nas-dev-dr-test", "file_systems": [scratch["id"]]}
    )
    assert response.status_code == 200, response.text
    clone = await get(
        api, "nas_server", response.json()["id"], "name,operational_status,file_systems(name,parent_id)"
    )
    assert clone["file_systems"] == [{"name": "fs-dev-scratch", "parent_id": scratch["id"]}]
    refused(await api.post(f"/nas_server/{server['id']}/clone", json={"name": "nas-dev-dr-test"}), 422)
    home = await by_name(api, "file_system", "fs-home")
    refused(
        await api.post(
            f"/nas_server/{server['id']}/clone", json={"name": "c2", "file_systems": [home["id"]]}
        ),
        422,
    )


async def test_clone_nas_server_async_clones_all_file_systems(api):
    server = await by_name(api, "nas_server", "nas-dev-01", "id,file_systems(name,filesystem_type)")
    primaries = sorted(fs["name"] for fs in server["file_systems"] if fs["filesystem_type"] == "Primary")
    response = await api.post(
        f"/nas_server/{server['id']}/clone", params={"is_async": "true"}, json={"name": "dev2"}
    )
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed", job
    clone = await get(api, "nas_server", job["response_body"]["id"], "name,file_systems(name)")
    assert sorted(fs["name"] for fs in clone["file_systems"]) == primaries


async def test_operator_may_not_change_nas_servers(api, operator):
    server = await by_name(api, "nas_server", "nas-prod-01")
    refused(await operator.post("/nas_server", json={"name": "op"}), 403, errors.CODE_FORBIDDEN)
    refused(await operator.delete(f"/nas_server/{server['id']}"), 403, errors.CODE_FORBIDDEN)


# -- file systems: create, modify, delete ------------------------------------------------------------------


async def test_create_file_system_rounds_up_to_a_mebibyte_and_fills_defaults(api):
    fs_id = await new_fs(api, "fs-odd", size=3 * GIB + 1, nas="nas-dev-01")
    fs = await get(
        api,
        "file_system",
        fs_id,
        "name,size_total,size_used,filesystem_type,filesystem_type_l10n,config_type,access_policy,locking_policy,"
        "folder_rename_policy,is_smb_op_locks_enabled,is_smb_sync_writes_enabled,parent_id,nas_server(name),"
        "creation_timestamp,flr_attributes,host_io_size,is_quota_enabled,grace_period",
    )
    assert fs["size_total"] == 3 * GIB + MIB
    assert 0 < fs["size_used"] < fs["size_total"]
    assert (fs["filesystem_type"], fs["filesystem_type_l10n"]) == ("Primary", "Primary File system")
    assert (fs["config_type"], fs["access_policy"], fs["locking_policy"]) == ("General", "Native", "Advisory")
    assert fs["is_smb_op_locks_enabled"] is True
    assert fs["is_smb_sync_writes_enabled"] is False
    assert fs["parent_id"] is None
    assert fs["host_io_size"] is None
    assert fs["nas_server"] == {"name": "nas-dev-01"}
    assert fs["flr_attributes"]["mode"] == "None"
    assert fs["creation_timestamp"]


async def test_create_vmware_and_flr_file_systems(api):
    fs_id = await new_fs(api, "ds-02", size=100 * GIB, config_type="VMware", host_io_size="VMware_16K")
    assert (await get(api, "file_system", fs_id, "config_type,host_io_size")) == {
        "config_type": "VMware",
        "host_io_size": "VMware_16K",
    }
    fs_id = await new_fs(
        api,
        "fs-worm",
        flr_attributes={"mode": "Compliance", "minimum_retention": "1M", "maximum_retention": "10Y"},
    )
    flr = (await get(api, "file_system", fs_id, "flr_attributes"))["flr_attributes"]
    assert (flr["mode"], flr["mode_l10n"], flr["minimum_retention"], flr["maximum_retention"]) == (
        "Compliance",
        "Compliance",
        "1M",
        "10Y",
    )


async def test_file_system_names_are_unique_per_nas_server(api):
    prod = await by_name(api, "nas_server", "nas-prod-01")
    body = {"name": "FS-HOME", "nas_server_id": prod["id"], "size_total": 5 * GIB}
    refused(await api.post("/file_system", json=body), 422, errors.CODE_NAME_IN_USE)
    dev = await by_name(api, "nas_server", "nas-dev-01")
    response = await api.post("/file_system", json={**body, "nas_server_id": dev["id"]})
    assert response.status_code == 201, response.text


async def test_create_file_system_refusals(api):
    server = await by_name(api, "nas_server", "nas-dev-01")
    body = {"name": "fs-x", "nas_server_id": server["id"], "size_total": 5 * GIB}
    post = api.post
    refused(await post("/file_system", json={**body, "size_total": 3 * GIB - 1}), 400, errors.CODE_RANGE)
    refused(await post("/file_system", json={**body, "size_total": 257 * 1024**4}), 400, errors.CODE_RANGE)
    refused(await post("/file_system", json={**body, "name": "x" * 256}), 400)
    refused(await post("/file_system", json={**body, "access_policy": "NTFS"}), 400)
    refused(await post("/file_system", json={**body, "host_io_size": "VMware_8K"}), 400)
    refused(
        await post("/file_system", json={"name": "fs-x", "size_total": 5 * GIB}),
        400,
        errors.CODE_MISSING_REQUIRED,
    )
    refused(await post("/file_system", json={**body, "nas_server_id": "missing"}), 404)
    refused(await post("/file_system", json={**body, "protection_policy_id": "missing"}), 404)
    refused(await post("/file_system", json={**body, "protection_policy_id": "default_medium"}), 422)
    bad_flr = {"mode": "Enterprise", "minimum_retention": "1Y", "maximum_retention": "1D"}
    refused(await post("/file_system", json={**body, "flr_attributes": bad_flr}), 422)
    refused(
        await post(
            "/file_system",
            json={**body, "flr_attributes": {"mode": "Enterprise", "minimum_retention": "soon"}},
        ),
        400,
    )


async def test_modify_file_system_grows_and_shrinks(api):
    fs_id = await new_fs(api, "fs-elastic", size=20 * GIB)
    path = f"/file_system/{fs_id}"
    response = await api.patch(
        path, json={"size_total": 40 * GIB + 5, "description": "bigger", "is_quota_enabled": True}
    )
    assert response.status_code == 204, response.text
    fs = await get(api, "file_system", fs_id, "size_total,description,is_quota_enabled,size_used")
    assert fs["size_total"] == 40 * GIB + MIB
    assert fs["is_quota_enabled"] is True
    response = await api.patch(path, json={"size_total": 4 * GIB})
    assert response.status_code == 204, response.text
    refused(await api.patch(path, json={"size_total": 3 * GIB - MIB}), 400, errors.CODE_RANGE)
    home = await by_name(api, "file_system", "fs-home", "id,size_used")
    refused(await api.patch(f"/file_system/{home['id']}", json={"size_total": 3 * GIB + 0}), 422)


async def test_modify_file_system_policies_and_quota_defaults(api):
    fs = await by_name(api, "file_system", "fs-test-data", "id,protection_policy_id")
    path = f"/file_system/{fs['id']}"
    body = {
        "protection_policy_id": "name:pp-file-daily",
        "performance_policy_id": "name:fqos-500mbps",
        "default_hard_limit": 20 * GIB,
        "default_soft_limit": 10 * GIB,
        "grace_period": 86400,
        "locking_policy": "Mandatory",
    }
    response = await api.patch(path, json=body)
    assert response.status_code == 204, response.text
    after = await get(
        api, "file_system", fs["id"], "protection_policy(name),performance_policy(name),locking_policy"
    )
    assert after == {
        "protection_policy": {"name": "pp-file-daily"},
        "performance_policy": {"name": "fqos-500mbps"},
        "locking_policy": "Mandatory",
    }
    policy = await by_name(api, "policy", "fqos-500mbps", "file_systems_with_qos(name)")
    assert {"name": "fs-test-data"} in policy["file_systems_with_qos"]
    response = await api.patch(path, json={"protection_policy_id": ""})
    assert response.status_code == 204, response.text
    assert (await get(api, "file_system", fs["id"], "protection_policy_id")) == {"protection_policy_id": None}


async def test_modify_file_system_refusals(api):
    fs = await by_name(api, "file_system", "fs-hr")
    path = f"/file_system/{fs['id']}"
    refused(await api.patch(path, json={"name": "fs-hr-2"}), 400, errors.CODE_UNKNOWN_PROPERTY)
    refused(await api.patch(path, json={"expiration_timestamp": stamp(timedelta(days=1))}), 422)
    refused(await api.patch(path, json={"default_hard_limit": GIB, "default_soft_limit": 2 * GIB}), 422)
    refused(await api.patch(path, json={"protection_policy_id": "name:qos-dev-5k-iops"}), 422)
    refused(await api.patch(path, json={"flr_attributes": {"auto_lock": True}}), 422)
    refused(await api.patch(path, json={"size_total": "big"}), 400, errors.CODE_INVALID_VALUE)
    vmware = await by_name(api, "file_system", "fs-vmware-ds01", "id,size_total")
    refused(
        await api.patch(f"/file_system/{vmware['id']}", json={"size_total": vmware["size_total"] - GIB}), 422
    )


async def test_delete_file_system(api):
    fs_id = await new_fs(api, "fs-temp")
    response = await api.delete(f"/file_system/{fs_id}")
    assert response.status_code == 204, response.text
    refused(await api.get(f"/file_system/{fs_id}"), 404)
    refused(await api.delete(f"/file_system/{fs_id}"), 404)


async def test_delete_file_system_with_snapshots_is_refused(api):
    fs_id = await new_fs(api, "fs-with-snap")
    snap_id = await snap(api, fs_id, name="keep-me")
    refused(await api.delete(f"/file_system/{fs_id}"), 422, errors.CODE_FS_HAS_SNAPSHOTS)
    assert (await api.delete(f"/file_system/{snap_id}")).status_code == 204
    assert (await api.delete(f"/file_system/{fs_id}")).status_code == 204


async def test_operator_may_not_change_file_systems(api, operator):
    fs = await by_name(api, "file_system", "fs-hr")
    refused(
        await operator.patch(f"/file_system/{fs['id']}", json={"description": "x"}),
        403,
        errors.CODE_FORBIDDEN,
    )
    refused(await operator.post(f"/file_system/{fs['id']}/snapshot", json={}), 403, errors.CODE_FORBIDDEN)


# -- file systems: snapshots and actions -------------------------------------------------------------------


async def test_snapshot_file_system(api):
    fs = await by_name(api, "file_system", "fs-hr", "id,nas_server_id,size_total")
    expiry = stamp(timedelta(days=2))
    snap_id = await snap(
        api, fs["id"], name="hr-before-reorg", expiration_timestamp=expiry, access_type="Protocol"
    )
    record = await get(
        api,
        "file_system",
        snap_id,
        "name,filesystem_type,parent_id,nas_server_id,size_total,creator_type,access_type,expiration_timestamp,"
        "is_modified,protection_policy_id",
    )
    assert record["filesystem_type"] == "Snapshot"
    assert record["parent_id"] == fs["id"]
    assert record["nas_server_id"] == fs["nas_server_id"]
    assert record["size_total"] == fs["size_total"]
    assert (record["creator_type"], record["access_type"]) == ("User", "Protocol")
    assert record["expiration_timestamp"] == expiry
    assert record["protection_policy_id"] is None


async def test_snapshot_without_a_body_gets_a_generated_name(api):
    fs = await by_name(api, "file_system", "fs-hr")
    first = (await api.post(f"/file_system/{fs['id']}/snapshot")).json()["id"]
    second = (await api.post(f"/file_system/{fs['id']}/snapshot")).json()["id"]
    names = {(await get(api, "file_system", i, "name"))["name"] for i in (first, second)}
    assert len(names) == 2


async def test_snapshot_refusals(api):
    fs = await by_name(api, "file_system", "fs-finance")
    path = f"/file_system/{fs['id']}/snapshot"
    refused(await api.post(path, json={"name": "finance-pre-audit-q3"}), 422, errors.CODE_NAME_IN_USE)
    refused(await api.post(path, json={"expiration_timestamp": stamp(timedelta(days=-1))}), 422)
    refused(await api.post(path, json={"expiration_timestamp": "tomorrow"}), 400)
    refused(await api.post(path, json={"is_secure": True}), 422)
    refused(await api.post(path, json={"access_type": "Hidden"}), 400)
    existing = await by_name(api, "file_system", "finance-pre-audit-q3")
    refused(await api.post(f"/file_system/{existing['id']}/snapshot", json={}), 422)


async def test_modify_snapshot(api):
    fs = await by_name(api, "file_system", "fs-hr")
    snap_id = await snap(api, fs["id"], name="hr-snap")
    path = f"/file_system/{snap_id}"
    expiry = stamp(timedelta(days=5))
    response = await api.patch(path, json={"description": "quarterly", "expiration_timestamp": expiry})
    assert response.status_code == 204, response.text
    refused(await api.patch(path, json={"size_total": 500 * GIB}), 422)
    refused(await api.patch(path, json={"expiration_timestamp": stamp(timedelta(hours=-1))}), 422)
    response = await api.patch(path, json={"is_secure": True})
    assert response.status_code == 204, response.text
    refused(await api.patch(path, json={"is_secure": False}), 422)
    refused(await api.patch(path, json={"expiration_timestamp": stamp(timedelta(days=1))}), 422)
    refused(await api.delete(path), 422)
    record = await get(api, "file_system", snap_id, "description,is_secure,expiration_timestamp")
    assert record == {"description": "quarterly", "is_secure": True, "expiration_timestamp": expiry}


async def test_secure_snapshot_needs_an_expiration(api):
    fs = await by_name(api, "file_system", "fs-hr")
    snap_id = await snap(api, fs["id"], name="hr-open")
    refused(await api.patch(f"/file_system/{snap_id}", json={"is_secure": True}), 422)


async def test_clone_file_system_and_snapshot(api):
    fs = await by_name(api, "file_system", "fs-build-cache", "id,size_total,nas_server_id")
    response = await api.post(
        f"/file_system/{fs['id']}/clone", json={"name": "fs-build-cache-clone", "locking_policy": "Mandatory"}
    )
    assert response.status_code == 200, response.text
    clone = await get(
        api,
        "file_system",
        response.json()["id"],
        "filesystem_type,parent_id,size_total,nas_server_id,locking_policy",
    )
    assert clone == {
        "filesystem_type": "Primary",
        "parent_id": fs["id"],
        "size_total": fs["size_total"],
        "nas_server_id": fs["nas_server_id"],
        "locking_policy": "Mandatory",
    }
    snapshot = await by_name(api, "file_system", "build-cache-known-good")
    response = await api.post(f"/file_system/{snapshot['id']}/clone", json={"name": "from-known-good"})
    assert response.status_code == 200, response.text
    refused(await api.post(f"/file_system/{fs['id']}/clone", json={"name": "fs-test-data"}), 422)
    refused(await api.post(f"/file_system/{fs['id']}/clone", json={}), 400)


async def test_clones_outlive_the_snapshot_or_file_system_they_came_from(api):
    fs_id = await new_fs(api, "fs-origin")
    snap_id = await snap(api, fs_id, name="origin-snap")
    from_snap = (await api.post(f"/file_system/{snap_id}/clone", json={"name": "from-snap"})).json()["id"]
    from_fs = (await api.post(f"/file_system/{fs_id}/clone", json={"name": "from-fs"})).json()["id"]
    assert (await api.delete(f"/file_system/{snap_id}")).status_code == 204
    assert (await get(api, "file_system", from_snap, "parent_id"))["parent_id"] == fs_id
    assert (await api.delete(f"/file_system/{fs_id}")).status_code == 204
    for clone in (from_snap, from_fs):
        assert await get(api, "file_system", clone, "parent_id,filesystem_type") == {
            "parent_id": None,
            "filesystem_type": "Primary",
        }


async def test_clone_flr_file_system_needs_force(api):
    archive = await by_name(api, "file_system", "fs-archive")
    path = f"/file_system/{archive['id']}/clone"
    refused(await api.post(path, json={"name": "archive-copy"}), 422)
    response = await api.post(path, json={"name": "archive-copy", "flr_attributes": {"force_clone": True}})
    assert response.status_code == 200, response.text


async def test_refresh_snapshot(api):
    fs_id = await new_fs(api, "fs-refresh", size=20 * GIB)
    snap_id = await snap(api, fs_id, name="refresh-me")
    assert (await api.patch(f"/file_system/{fs_id}", json={"size_total": 30 * GIB})).status_code == 204
    response = await api.post(f"/file_system/{snap_id}/refresh")
    assert response.status_code == 204, response.text
    record = await get(api, "file_system", snap_id, "size_total,last_refresh_timestamp")
    assert record["size_total"] == 30 * GIB
    assert record["last_refresh_timestamp"]
    refused(await api.post(f"/file_system/{fs_id}/refresh"), 422)


async def test_restore_from_snapshot(api):
    fs_id = await new_fs(api, "fs-restore")
    snap_id = await snap(api, fs_id, name="good-state")
    response = await api.post(f"/file_system/{snap_id}/restore", json={"copy_name": "before-restore"})
    assert response.status_code == 200, response.text
    backup = await get(api, "file_system", response.json()["id"], "name,parent_id,filesystem_type")
    assert backup == {"name": "before-restore", "parent_id": fs_id, "filesystem_type": "Snapshot"}
    response = await api.post(f"/file_system/{snap_id}/restore")
    assert response.status_code == 204, response.text
    refused(await api.post(f"/file_system/{snap_id}/restore", json={"copy_name": "good-state"}), 422)
    refused(await api.post(f"/file_system/{fs_id}/restore", json={}), 422)


async def test_refresh_quota(api):
    home = await by_name(api, "file_system", "fs-home")
    response = await api.post(f"/file_system/{home['id']}/refresh_quota")
    assert response.status_code == 204, response.text
    snapshot = (
        await all_of(api, "file_system", "id", parent_id=f"eq.{home['id']}", filesystem_type="eq.Snapshot")
    )[0]
    refused(await api.post(f"/file_system/{snapshot['id']}/refresh_quota"), 422)
    refused(await api.post(f"/file_system/{home['id']}/refresh_quota", json={"force": True}), 400)


async def test_async_snapshot_and_failed_delete(api):
    fs = await by_name(api, "file_system", "fs-test-data")
    response = await api.post(
        f"/file_system/{fs['id']}/snapshot", params={"is_async": "true"}, json={"name": "async-snap"}
    )
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed", job
    assert job["resource_id"] == fs["id"]
    snapshot = await by_name(api, "file_system", "async-snap", "id,parent_id")
    assert job["response_body"]["id"] == snapshot["id"]
    response = await api.delete(f"/file_system/{fs['id']}", params={"is_async": "true"})
    refused(response, 422, errors.CODE_FS_HAS_SNAPSHOTS)


async def test_async_create_file_system(api):
    server = await by_name(api, "nas_server", "nas-prod-01")
    body = {"name": "fs-async", "nas_server_id": server["id"], "size_total": 8 * GIB}
    response = await api.post("/file_system", params={"is_async": "true"}, json=body)
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed", job
    created = await by_name(api, "file_system", "fs-async", "id,size_total")
    assert job["response_body"]["id"] == created["id"]
