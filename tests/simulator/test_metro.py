"""Metro volumes and volume groups: configure_metro makes a Metro_Active_Active session with a remote
PowerStore, end_metro removes it, and a metro resource refuses what would break the pair."""

from __future__ import annotations

from console.simulator import errors
from tests.simulator.conftest import fetch, posted_id, refused
from tests.spec import spec, validate

GIB = 1024**3


async def remote(api, type_name: str) -> dict:
    systems = (await api.get("/remote_system", params={"select": "id,type"})).json()
    return next(s for s in systems if s["type"] == type_name)


async def configure(api, type_name: str, ref: str, remote_id: str, **params):
    return await api.post(
        f"/{type_name}/{ref}/configure_metro", json={"remote_system_id": remote_id}, params=params
    )


async def test_a_volume_becomes_metro_and_back(api):
    volume_id = await posted_id(api, "/volume", {"name": "metro-vol", "size": 8 * GIB})
    dr_site = await remote(api, "PowerStore")
    response = await configure(api, "volume", volume_id, dr_site["id"])
    assert response.status_code == 200, response.text
    session_id = response.json()["metro_replication_session_id"]
    volume = await fetch(api, f"/volume/{volume_id}", "metro_replication_session_id")
    assert volume["metro_replication_session_id"] == session_id
    session = await fetch(api, f"/replication_session/{session_id}", "*,volumes(name)")
    assert validate(session, spec()["definitions"]["replication_session_instance"]) == []
    assert session["type"] == "Metro_Active_Active"
    assert session["role"] == "Metro_Preferred"
    assert session["resource_type"] == "volume"
    assert session["local_resource_id"] == volume_id
    assert session["remote_system_id"] == dr_site["id"]
    assert session["volumes"] == [{"name": "metro-vol"}]

    refused(await configure(api, "volume", volume_id, dr_site["id"]), 422)  # already metro
    refused(await api.delete(f"/volume/{volume_id}"), 422, errors.CODE_IN_USE)
    group = await posted_id(api, "/volume_group", {"name": "metro-group-x"})
    refused(await api.post(f"/volume_group/{group}/add_members", json={"volume_ids": [volume_id]}), 422)

    assert (
        await api.post(f"/volume/{volume_id}/end_metro", json={"delete_remote_volume": True})
    ).status_code == 204
    assert (await fetch(api, f"/volume/{volume_id}", "metro_replication_session_id")) == {
        "metro_replication_session_id": None
    }
    refused(await api.get(f"/replication_session/{session_id}"), 404)
    refused(await api.post(f"/volume/{volume_id}/end_metro"), 422)  # not metro any more
    assert (await api.delete(f"/volume/{volume_id}")).status_code == 204


async def test_what_cannot_become_metro(api):
    backup = await remote(api, "PowerProtect_DD")
    dr_site = await remote(api, "PowerStore")
    volume_id = await posted_id(api, "/volume", {"name": "metro-refused", "size": 8 * GIB})
    refused(await configure(api, "volume", volume_id, backup["id"]), 422)  # no metro capability
    refused(await configure(api, "volume", volume_id, "no-such-remote"), 404)
    refused(
        await api.post(f"/volume/{volume_id}/configure_metro", json={}), 400, errors.CODE_MISSING_REQUIRED
    )
    snapshot = await posted_id(api, f"/volume/{volume_id}/snapshot", {"name": "metro-snap"}, status=200)
    refused(await configure(api, "volume", snapshot, dr_site["id"]), 422)
    await posted_id(api, "/volume_group", {"name": "metro-members", "volume_ids": [volume_id]})
    refused(await configure(api, "volume", volume_id, dr_site["id"]), 422)  # a member: through its group
    loose = await posted_id(api, "/volume_group", {"name": "metro-loose", "is_write_order_consistent": False})
    refused(await configure(api, "volume_group", loose, dr_site["id"]), 422)


async def test_a_volume_group_becomes_metro_asynchronously(api):
    volume_id = await posted_id(api, "/volume", {"name": "metro-member", "size": 8 * GIB})
    group_id = await posted_id(api, "/volume_group", {"name": "metro-vg", "volume_ids": [volume_id]})
    dr_site = await remote(api, "PowerStore")
    response = await configure(api, "volume_group", group_id, dr_site["id"], is_async="true")
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["state"] == "COMPLETED", job
    group = await fetch(
        api, f"/volume_group/{group_id}", "metro_replication_session_id,replication_sessions(type)"
    )
    assert group["metro_replication_session_id"]
    assert group["replication_sessions"] == [{"type": "Metro_Active_Active"}]
    other = await posted_id(api, "/volume", {"name": "metro-late", "size": 8 * GIB})
    refused(await api.post(f"/volume_group/{group_id}/add_members", json={"volume_ids": [other]}), 422)
    refused(await api.post(f"/volume_group/{group_id}/remove_members", json={"volume_ids": [volume_id]}), 422)
    refused(await api.delete(f"/volume_group/{group_id}"), 422, errors.CODE_IN_USE)
    assert (await api.post(f"/volume_group/{group_id}/end_metro")).status_code == 204
    assert (await api.delete(f"/volume_group/{group_id}")).status_code == 204


async def test_an_operator_may_not_configure_metro(api, operator):
    volume_id = await posted_id(api, "/volume", {"name": "metro-operator", "size": 8 * GIB})
    dr_site = await remote(api, "PowerStore")
    refused(await configure(operator, "volume", volume_id, dr_site["id"]), 403, errors.CODE_FORBIDDEN)


async def test_a_metro_volume_changes_only_while_its_session_is_paused(api):
    volume_id = await posted_id(api, "/volume", {"name": "metro-paused", "size": 8 * GIB})
    dr_site = await remote(api, "PowerStore")
    session_id = (await configure(api, "volume", volume_id, dr_site["id"])).json()[
        "metro_replication_session_id"
    ]
    grow = {"size": 16 * GIB}
    refused(await api.patch(f"/volume/{volume_id}", json=grow), 422)
    snap = await posted_id(api, f"/volume/{volume_id}/snapshot", {"name": "metro-paused-snap"}, status=200)
    refused(await api.post(f"/volume/{volume_id}/restore", json={"from_snap_id": snap}), 422)
    assert (await api.post(f"/replication_session/{session_id}/pause")).status_code == 204
    refused(await api.post(f"/replication_session/{session_id}/pause"), 422)  # already paused
    session = await fetch(api, f"/replication_session/{session_id}", "state,data_transfer_state")
    assert session == {"state": "Paused", "data_transfer_state": "Paused"}
    assert (await api.patch(f"/volume/{volume_id}", json=grow)).status_code == 204
    assert (await api.post(f"/replication_session/{session_id}/resume")).status_code == 204
    assert (await fetch(api, f"/replication_session/{session_id}", "state"))["state"] == "OK"
    refused(await api.patch(f"/volume/{volume_id}", json={"size": 32 * GIB}), 422)
    assert (await fetch(api, f"/volume/{volume_id}", "size"))["size"] == 16 * GIB
