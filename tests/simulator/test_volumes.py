"""Volumes, snapshots, clones, volume groups and host mappings, as a client of the simulator sees them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from console.catalog import load_catalog
from console.simulator import SimulatorConfig, create_app, errors
from console.simulator.handlers import hosts, protection_seed, system, volume_family, volume_seed
from console.simulator.operations import Sim
from tests.simulator.conftest import by_name, clocked_client, code_of, fetch, posted_id

GIB = 1 << 30
VOLUME_SELECT = (
    "id,name,description,type,type_l10n,state,state_l10n,size,logical_used,wwn,nguid,nsid,appliance_id,"
    "node_affinity,creation_timestamp,protection_policy_id,performance_policy_id,qos_performance_policy_id,"
    "is_replication_destination,protection_data,app_type,app_type_other"
)
GROUP_SELECT = (
    "id,name,description,type,is_write_order_consistent,protection_policy_id,protection_data,"
    "volumes(id,name,type)"
)


def future(days: float = 7) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


async def new_volume(api, name, size=8 * GIB, **extra):
    return await posted_id(api, "/volume", {"name": name, "size": size, **extra})


async def get_volume(api, ref, select=VOLUME_SELECT):
    return await fetch(api, f"/volume/{ref}", select)


async def new_group(api, name, *volume_ids, **extra):
    return await posted_id(api, "/volume_group", {"name": name, "volume_ids": list(volume_ids), **extra})


async def get_group(api, ref, select=GROUP_SELECT):
    return await fetch(api, f"/volume_group/{ref}", select)


async def take_snapshot(api, volume_id, **body):
    return await posted_id(api, f"/volume/{volume_id}/snapshot", body, status=200)


async def new_snapshot_set(api, group_id, name):
    return await posted_id(api, f"/volume_group/{group_id}/snapshot", {"name": name}, status=200)


async def new_clone(api, volume_id, **body):
    return await posted_id(api, f"/volume/{volume_id}/clone", body, status=200)


async def policy_id(api, name):
    return (await by_name(api, "policy", name, "id"))["id"]


async def mappings_of(api, volume_id):
    params = {"select": "host_id,host_group_id,logical_unit_number", "volume_id": f"eq.{volume_id}"}
    return (await api.get("/host_volume_mapping", params=params)).json()


async def luns_of_host(api, host_name):
    host = (await api.get(f"/host/name:{host_name}", params={"select": "id,host_group_id"})).json()
    rows = (
        await api.get("/host_volume_mapping", params={"select": "host_id,host_group_id,logical_unit_number"})
    ).json()
    return {
        r["logical_unit_number"]
        for r in rows
        if r["host_id"] == host["id"]
        or (host["host_group_id"] and r["host_group_id"] == host["host_group_id"])
    }


# -- seed -----------------------------------------------------------------------------------------------


def seeded(count=60, seed=11):
    sim = Sim(SimulatorConfig(volumes=count, seed=seed), load_catalog())
    for module in (system, protection_seed, hosts, volume_seed):
        module.seed(sim)
    return sim


def test_seed_makes_ordinary_volumes_snapshots_clones_groups_and_mappings():
    sim = seeded(200)
    store = sim.store
    by_type: dict[str, list[dict]] = {}
    for volume in store.all("volume"):
        by_type.setdefault(volume["type"], []).append(volume)
    assert len(by_type["Primary"]) == 200
    assert by_type["Snapshot"]
    assert by_type["Clone"]
    for volume in store.all("volume"):
        assert volume["size"] % 8192 == 0
        assert 8 * GIB <= volume["size"] <= 16 * 1024 * GIB
        assert volume["wwn"].startswith("naa.68ccf098")
        assert len(volume["wwn"]) == 36
        assert volume["state"] == "Ready"
        assert volume["type_l10n"]
        assert volume["state_l10n"]
        assert volume["creation_timestamp"] < sim.timestamp()
        assert volume["protection_data"]["family_id"]
    assert len({v["wwn"] for v in store.all("volume")}) == store.count("volume")
    assert len({v["name"].casefold() for v in store.all("volume")}) == store.count("volume")
    for snap in by_type["Snapshot"]:
        source = store.get("volume", snap["protection_data"]["source_id"])
        assert source is not None
        assert source["type"] != "Snapshot"
        assert snap["protection_data"]["creator_type"] in ("User", "Scheduler")
    groups = store.all("volume_group")
    assert len([g for g in groups if g["type"] == "Primary"]) == 5
    snapshot_sets = [g for g in groups if g["type"] == "Snapshot"]
    assert len(snapshot_sets) == 1
    assert all(v["type"] == "Snapshot" for v in volume_family.members(sim, snapshot_sets[0]["id"]))
    assert all(volume_family.members(sim, g["id"]) for g in groups)
    assert any(v["protection_policy_id"] for v in by_type["Primary"])
    assert not any(v["protection_policy_id"] for v in store.all("volume") if v["_volume_group_id"])
    mapped = store.all("host_volume_mapping")
    assert mapped
    assert all(store.get("volume", m["volume_id"])["type"] != "Snapshot" for m in mapped)
    assert any(m["host_group_id"] for m in mapped)
    assert any(m["host_id"] for m in mapped)


def test_seeded_luns_are_unique_per_host():
    sim = seeded(400)
    store = sim.store
    seen: dict[str, set[int]] = {}
    for host in store.all("host"):
        luns = [
            m["logical_unit_number"]
            for m in store.all("host_volume_mapping")
            if m["host_id"] == host["id"]
            or (host["host_group_id"] and m["host_group_id"] == host["host_group_id"])
        ]
        assert len(luns) == len(set(luns)), host["name"]
        seen[host["id"]] = set(luns)
    assert any(seen.values())


def test_seed_is_deterministic():
    def fingerprint(seed):
        sim = seeded(50, seed)
        return [(v["id"], v["name"], v["size"], v["wwn"]) for v in sim.store.all("volume")]

    assert fingerprint(3) == fingerprint(3)
    assert fingerprint(3) != fingerprint(4)


@pytest.mark.slow
def test_a_hundred_thousand_volumes_seed_in_seconds():
    sim = Sim(SimulatorConfig(volumes=100_000), load_catalog())
    for module in (system, protection_seed, hosts):
        module.seed(sim)
    started = time.process_time()
    volume_seed.seed(sim)
    spent = time.process_time() - started
    assert len([v for v in sim.store.all("volume") if v["type"] == "Primary"]) == 100_000
    assert spent < 20, f"seeding took {spent:.1f} s of CPU"


# -- volume create --------------------------------------------------------------------------------------


async def test_create_fills_the_arrays_defaults(api):
    volume_id = await new_volume(api, "lab-create-01", 16 * GIB, description="for tests")
    volume = await get_volume(api, volume_id)
    assert volume["name"] == "lab-create-01"
    assert volume["size"] == 16 * GIB
    assert (volume["type"], volume["state"], volume["logical_used"]) == ("Primary", "Ready", 0)
    assert volume["wwn"].startswith("naa.68ccf098")
    assert volume["nguid"].startswith("nguid.")
    assert volume["nsid"] >= 1
    assert volume["appliance_id"]
    assert volume["node_affinity"] == "System_Select_At_Attach"
    assert volume["performance_policy_id"] == "default_medium"
    assert volume["creation_timestamp"].endswith("+00:00")
    data = volume["protection_data"]
    assert data["family_id"] == volume_id
    assert data["creator_type"] == "User"
    assert data["parent_id"] is None
    assert data["creator_type_l10n"] == "User"


async def test_create_maps_to_a_host_with_the_lowest_free_lun(api):
    used = await luns_of_host(api, "backup-01")
    expected = min(n for n in range(1, 20000) if n not in used)
    volume_id = await new_volume(api, "lab-mapped-01", host_id="name:backup-01")
    [mapping] = await mappings_of(api, volume_id)
    assert mapping["logical_unit_number"] == expected
    assert mapping["host_group_id"] is None
    volume = await get_volume(api, volume_id, "node_affinity,mapped_volumes(logical_unit_number,host(name))")
    assert volume["mapped_volumes"] == [{"logical_unit_number": expected, "host": {"name": "backup-01"}}]
    assert volume["node_affinity"] in ("System_Selected_Node_A", "System_Selected_Node_B")


async def test_create_maps_to_a_host_group_with_a_given_lun(api):
    volume_id = await new_volume(
        api, "lab-mapped-02", host_group_id="name:k8s-workers", logical_unit_number=777
    )
    [mapping] = await mappings_of(api, volume_id)
    assert mapping["host_id"] is None
    assert mapping["logical_unit_number"] == 777


async def test_create_in_a_volume_group(api):
    group_id = await new_group(api, "lab-vg-create")
    volume_id = await new_volume(api, "lab-member-01", volume_group_id="name:lab-vg-create")
    volume = await get_volume(api, volume_id, "volume_groups(id,name)")
    assert volume["volume_groups"] == [{"id": group_id, "name": "lab-vg-create"}]
    group = await get_group(api, group_id)
    assert [v["name"] for v in group["volumes"]] == ["lab-member-01"]


async def test_create_with_policies_and_app_type(api):
    gold = await policy_id(api, "pp-gold")
    volume_id = await new_volume(
        api,
        "lab-policies",
        protection_policy_id="name:pp-gold",
        performance_policy_id="default_high",
        app_type="Other",
        app_type_other="in-house ledger",
    )
    volume = await get_volume(api, volume_id)
    assert volume["protection_policy_id"] == gold
    assert volume["performance_policy_id"] == "default_high"
    assert (volume["app_type"], volume["app_type_other"]) == ("Other", "in-house ledger")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"size": 8 * GIB + 512}, 400, errors.CODE_INVALID_VALUE),
        ({"size": 1024}, 400, None),
        ({"host_id": "name:backup-01", "host_group_id": "name:k8s-workers"}, 400, None),
        ({"host_id": "name:no-such-host"}, 404, None),
        ({"protection_policy_id": "name:no-such-policy"}, 404, None),
        ({"protection_policy_id": "default_high"}, 422, None),
        ({"appliance_id": "no-such-appliance"}, 404, None),
        ({"volume_group_id": "no-such-group"}, 404, None),
        ({"app_type": "Other", "app_type_other": "x", "app_type_x": 1}, 400, errors.CODE_UNKNOWN_PROPERTY),
        ({"app_type": "Relational_Databases_Oracle", "app_type_other": "x"}, 422, None),
    ],
)
async def test_create_refusals(api, body, status, code):
    response = await api.post("/volume", json={"name": "lab-refused", "size": 8 * GIB, **body})
    assert response.status_code == status, response.text
    if code is not None:
        assert code_of(response) == code
    assert (await api.get("/volume/name:lab-refused")).status_code == 404


async def test_create_refuses_a_taken_name_whatever_its_case(api):
    await new_volume(api, "Lab-Dup")
    response = await api.post("/volume", json={"name": "lab-DUP", "size": 8 * GIB})
    assert response.status_code == 422
    assert code_of(response) == errors.CODE_NAME_IN_USE


async def test_create_refuses_a_protection_policy_inside_a_group(api):
    await new_group(api, "lab-vg-noprot")
    response = await api.post(
        "/volume",
        json={
            "name": "lab-x",
            "size": 8 * GIB,
            "volume_group_id": "name:lab-vg-noprot",
            "protection_policy_id": "name:pp-gold",
        },
    )
    assert response.status_code == 422


async def test_create_refuses_a_snapshot_set_as_group(api):
    volume_id = await new_volume(api, "lab-ss-src")
    group_id = await new_group(api, "lab-vg-ss", volume_id)
    set_id = await new_snapshot_set(api, group_id, "lab-ss-1")
    response = await api.post("/volume", json={"name": "lab-x", "size": 8 * GIB, "volume_group_id": set_id})
    assert response.status_code == 422


async def test_operator_may_not_create_change_or_delete(operator, api):
    volume_id = await new_volume(api, "lab-rbac")
    assert (await operator.post("/volume", json={"name": "lab-op", "size": 8 * GIB})).status_code == 403
    assert (await operator.patch(f"/volume/{volume_id}", json={"description": "x"})).status_code == 403
    assert (await operator.delete(f"/volume/{volume_id}")).status_code == 403
    assert (await operator.post(f"/volume/{volume_id}/snapshot", json={})).status_code == 403
    assert (await operator.post("/volume_group", json={"name": "lab-op-vg"})).status_code == 403
    assert (await operator.get(f"/volume/{volume_id}", params={"select": "id"})).status_code == 200


# -- volume modify --------------------------------------------------------------------------------------


async def test_modify_renames_grows_and_describes(api):
    volume_id = await new_volume(api, "lab-mod-01")
    response = await api.patch(
        f"/volume/{volume_id}",
        json={
            "name": "lab-mod-01b",
            "size": 24 * GIB,
            "description": "grown",
            "node_affinity": "Preferred_Node_B",
        },
    )
    assert response.status_code == 204, response.text
    volume = await get_volume(api, volume_id)
    assert (volume["name"], volume["size"], volume["description"]) == ("lab-mod-01b", 24 * GIB, "grown")
    assert volume["node_affinity"] == "Preferred_Node_B"


async def test_modify_may_change_the_case_of_its_own_name(api):
    volume_id = await new_volume(api, "lab-case")
    assert (await api.patch(f"/volume/{volume_id}", json={"name": "LAB-CASE"})).status_code == 204


async def test_modify_sets_and_clears_policies(api):
    volume_id = await new_volume(api, "lab-mod-pol")
    assert (
        await api.patch(f"/volume/{volume_id}", json={"protection_policy_id": "name:pp-silver"})
    ).status_code == 204
    assert (await get_volume(api, volume_id))["protection_policy_id"] == await policy_id(api, "pp-silver")
    assert (await api.patch(f"/volume/{volume_id}", json={"protection_policy_id": None})).status_code == 204
    assert (await get_volume(api, volume_id))["protection_policy_id"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"size": 4 * GIB}, 422),
        ({"size": 16 * GIB + 4096}, 400),
        ({"expiration_timestamp": "2031-01-01T00:00:00Z"}, 422),
        ({"is_secure": True}, 422),
        ({"is_replication_destination": True}, 422),
        ({"protection_policy_id": "default_low"}, 422),
        ({"performance_policy_id": "name:pp-gold"}, 422),
        ({"qos_performance_policy_id": "nope"}, 404),
    ],
)
async def test_modify_refusals(api, body, status):
    volume_id = await new_volume(api, "lab-mod-refused", 8 * GIB)
    before = await get_volume(api, volume_id)
    response = await api.patch(f"/volume/{volume_id}", json=body)
    assert response.status_code == status, response.text
    assert await get_volume(api, volume_id) == before


async def test_modify_refuses_a_taken_name(api):
    await new_volume(api, "lab-taken")
    volume_id = await new_volume(api, "lab-other")
    response = await api.patch(f"/volume/{volume_id}", json={"name": "LAB-taken"})
    assert response.status_code == 422
    assert code_of(response) == errors.CODE_NAME_IN_USE


async def test_modify_refuses_a_protection_policy_on_a_group_member(api):
    volume_id = await new_volume(api, "lab-member-pol")
    await new_group(api, "lab-vg-pol", volume_id)
    response = await api.patch(f"/volume/{volume_id}", json={"protection_policy_id": "name:pp-gold"})
    assert response.status_code == 422


async def test_snapshot_expiration_and_secure_flag(api):
    volume_id = await new_volume(api, "lab-exp")
    snap_id = await take_snapshot(api, volume_id, name="lab-exp.s1")
    later = future(10)
    assert (await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": later})).status_code == 204
    snap = await get_volume(api, snap_id)
    assert snap["protection_data"]["expiration_timestamp"] == later
    assert (await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": None})).status_code == 204
    assert (await get_volume(api, snap_id))["protection_data"]["expiration_timestamp"] is None
    # Secure needs an expiration; then it cannot be undone, nor its expiration brought forward or removed.
    assert (await api.patch(f"/volume/{snap_id}", json={"is_secure": True})).status_code == 422
    response = await api.patch(f"/volume/{snap_id}", json={"is_secure": True, "expiration_timestamp": later})
    assert response.status_code == 204, response.text
    assert (await get_volume(api, snap_id))["protection_data"]["is_secure"] is True
    assert (await api.patch(f"/volume/{snap_id}", json={"is_secure": False})).status_code == 422
    assert (
        await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": future(2)})
    ).status_code == 422
    assert (await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": None})).status_code == 422
    assert (
        await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": future(20)})
    ).status_code == 204
    assert (await api.patch(f"/volume/{snap_id}", json={"size": 16 * GIB})).status_code == 422
    assert (
        await api.patch(f"/volume/{snap_id}", json={"expiration_timestamp": "2001-01-01T00:00:00Z"})
    ).status_code == 400
    # A secure, unexpired snapshot blocks deleting itself and its volume.
    assert (await api.delete(f"/volume/{snap_id}")).status_code == 422
    assert (await api.delete(f"/volume/{volume_id}")).status_code == 422


async def test_replication_destination_can_only_be_turned_off(api, sim_app):
    volume_id = await new_volume(api, "lab-repl")
    sim = sim_app.state.simulator.sim
    sim.update("volume", volume_id, {"is_replication_destination": True})
    assert (await api.patch(f"/volume/{volume_id}", json={"description": "x"})).status_code == 422
    assert (
        await api.patch(f"/volume/{volume_id}", json={"is_replication_destination": False})
    ).status_code == 204
    assert (await get_volume(api, volume_id))["is_replication_destination"] is False
    assert (
        await api.patch(f"/volume/{volume_id}", json={"is_replication_destination": True})
    ).status_code == 422


# -- volume delete --------------------------------------------------------------------------------------


async def test_delete_takes_the_snapshots_along_and_leaves_clones(api):
    volume_id = await new_volume(api, "lab-del-01")
    snap_ids = [await take_snapshot(api, volume_id, name=f"lab-del-01.s{n}") for n in range(2)]
    clone_id = await new_clone(api, volume_id, name="lab-del-01-clone")
    snap_clone_id = await new_clone(api, snap_ids[0], name="lab-del-01-sc")
    response = await api.delete(f"/volume/{volume_id}")
    assert response.status_code == 204, response.text
    for gone in (volume_id, *snap_ids):
        assert (await api.get(f"/volume/{gone}")).status_code == 404
    for kept in (clone_id, snap_clone_id):
        clone = await get_volume(api, kept)
        assert clone["type"] == "Clone"
        assert clone["protection_data"]["parent_id"] is None
        assert clone["protection_data"]["family_id"] == volume_id


async def test_delete_by_name_and_with_a_body(api):
    await new_volume(api, "lab-del-name")
    response = await api.request("DELETE", "/volume/name:lab-del-name", json={"immediate": True})
    assert response.status_code == 204
    assert (await api.get("/volume/name:lab-del-name")).status_code == 404


async def test_delete_refusals(api):
    mapped = await new_volume(api, "lab-del-mapped", host_id="name:backup-01")
    member = await new_volume(api, "lab-del-member")
    await new_group(api, "lab-vg-del", member)
    protected = await new_volume(api, "lab-del-prot", protection_policy_id="name:pp-bronze")
    in_set = await new_volume(api, "lab-del-inset")
    group_id = await new_group(api, "lab-vg-del-set", in_set)
    set_id = await new_snapshot_set(api, group_id, "lab-del-set-1")
    await api.post(f"/volume_group/{group_id}/remove_members", json={"volume_ids": [in_set]})
    set_member = (await get_group(api, set_id))["volumes"][0]["id"]
    for volume_id in (mapped, member, protected, in_set, set_member):
        response = await api.delete(f"/volume/{volume_id}")
        assert response.status_code == 422, (volume_id, response.text)
        assert code_of(response) == errors.CODE_IN_USE
        assert (await api.get(f"/volume/{volume_id}", params={"select": "id"})).status_code == 200
    assert (await api.delete("/volume/no-such-volume")).status_code == 404
    assert code_of(await api.delete("/volume/no-such-volume")) == errors.CODE_VOLUME_NOT_FOUND


# -- snapshot, clone, refresh, restore ------------------------------------------------------------------


async def test_snapshot_records_where_it_came_from(api):
    volume_id = await new_volume(api, "lab-snap-01", 32 * GIB)
    snap_id = await take_snapshot(api, volume_id, description="before upgrade")
    snap = await get_volume(api, snap_id)
    assert snap["type"] == "Snapshot"
    assert snap["size"] == 32 * GIB
    assert snap["description"] == "before upgrade"
    datetime.fromisoformat(snap["name"])  # the default name is the time it was taken
    data = snap["protection_data"]
    assert (data["source_id"], data["parent_id"], data["family_id"]) == (volume_id, volume_id, volume_id)
    assert data["creator_type"] == "User"
    assert data["source_timestamp"]
    listed = (
        await api.get(
            "/volume",
            params={"select": "id", "type": "eq.Snapshot", "protection_data->>source_id": f"eq.{volume_id}"},
        )
    ).json()
    assert listed == [{"id": snap_id}]


async def test_snapshot_refusals(api):
    volume_id = await new_volume(api, "lab-snap-ref")
    snap_id = await take_snapshot(api, volume_id, name="lab-snap-ref.s1")
    taken = await api.post(f"/volume/{volume_id}/snapshot", json={"name": "LAB-SNAP-REF.S1"})
    assert taken.status_code == 400
    assert code_of(taken) == errors.CODE_NAME_IN_USE
    assert (await api.post(f"/volume/{snap_id}/snapshot", json={})).status_code == 422
    past = await api.post(
        f"/volume/{volume_id}/snapshot", json={"expiration_timestamp": "2001-01-01T00:00:00Z"}
    )
    assert past.status_code == 400
    assert (await api.post(f"/volume/{volume_id}/snapshot", json={"is_secure": True})).status_code == 400
    assert (await api.post("/volume/nope/snapshot", json={})).status_code == 404


async def test_clone_of_a_volume_and_of_a_snapshot(api):
    volume_id = await new_volume(api, "lab-clone-src", 8 * GIB)
    response = await api.post(
        f"/volume/{volume_id}/clone", json={"name": "lab-clone-01", "host_id": "name:backup-01"}
    )
    assert response.status_code == 200, response.text
    clone = await get_volume(api, response.json()["id"])
    assert clone["type"] == "Clone"
    assert clone["size"] == 8 * GIB
    assert clone["protection_data"]["parent_id"] == volume_id
    assert clone["protection_data"]["source_id"] == volume_id
    assert len(await mappings_of(api, clone["id"])) == 1
    snap_id = await take_snapshot(api, volume_id, name="lab-clone-src.s1")
    snap_clone = await get_volume(api, await new_clone(api, snap_id))
    assert snap_clone["protection_data"]["parent_id"] == snap_id
    assert snap_clone["protection_data"]["source_id"] == volume_id
    taken = await api.post(f"/volume/{volume_id}/clone", json={"name": "lab-clone-01"})
    assert taken.status_code == 422
    assert code_of(taken) == errors.CODE_NAME_IN_USE


async def test_refresh_within_the_family(api):
    volume_id = await new_volume(api, "lab-ref-src")
    clone_id = await new_clone(api, volume_id, name="lab-ref-clone")
    response = await api.post(f"/volume/{clone_id}/refresh", json={"from_object_id": "name:lab-ref-src"})
    assert response.status_code == 200, response.text
    backup = await get_volume(api, response.json()["backup_snapshot_id"])
    assert backup["type"] == "Snapshot"
    assert backup["protection_data"]["source_id"] == clone_id
    clone = await get_volume(api, clone_id)
    assert clone["protection_data"]["source_id"] == volume_id
    quiet = await api.post(
        f"/volume/{clone_id}/refresh", json={"from_object_id": volume_id, "create_backup_snap": False}
    )
    assert quiet.status_code == 204
    stranger = await new_volume(api, "lab-ref-stranger")
    assert (
        await api.post(f"/volume/{clone_id}/refresh", json={"from_object_id": stranger})
    ).status_code == 422
    assert (
        await api.post(f"/volume/{clone_id}/refresh", json={"from_object_id": clone_id})
    ).status_code == 422
    assert (await api.post(f"/volume/{clone_id}/refresh", json={})).status_code == 400


async def test_restore_from_its_own_snapshot_only(api):
    volume_id = await new_volume(api, "lab-rest")
    snap_id = await take_snapshot(api, volume_id, name="lab-rest.s1")
    response = await api.post(
        f"/volume/{volume_id}/restore",
        json={"from_snap_id": snap_id, "backup_snap_profile": {"name": "lab-rest.before"}},
    )
    assert response.status_code == 200, response.text
    backup = await get_volume(api, response.json()["backup_snapshot_id"], "name,type")
    assert backup == {"name": "lab-rest.before", "type": "Snapshot"}
    other = await new_volume(api, "lab-rest-other")
    other_snap = await take_snapshot(api, other, name="lab-rest-other.s1")
    assert (
        await api.post(f"/volume/{volume_id}/restore", json={"from_snap_id": other_snap})
    ).status_code == 422
    assert (await api.post(f"/volume/{volume_id}/restore", json={"from_snap_id": other})).status_code == 422
    quiet = await api.post(
        f"/volume/{volume_id}/restore", json={"from_snap_id": snap_id, "create_backup_snap": False}
    )
    assert quiet.status_code == 204


# -- attach / detach ------------------------------------------------------------------------------------


async def test_attach_and_detach(api):
    volume_id = await new_volume(api, "lab-att-01")
    used = await luns_of_host(api, "aix-erp-01")
    response = await api.post(f"/volume/{volume_id}/attach", json={"host_id": "name:aix-erp-01"})
    assert response.status_code == 204, response.text
    [mapping] = await mappings_of(api, volume_id)
    assert mapping["logical_unit_number"] == min(n for n in range(1, 20000) if n not in used)
    again = await api.post(f"/volume/{volume_id}/attach", json={"host_id": "name:aix-erp-01"})
    assert again.status_code == 422
    assert code_of(again) == errors.CODE_IN_USE
    response = await api.post(f"/volume/{volume_id}/detach", json={"host_id": "name:aix-erp-01"})
    assert response.status_code == 204
    assert await mappings_of(api, volume_id) == []
    unmapped = await api.post(f"/volume/{volume_id}/detach", json={"host_id": "name:aix-erp-01"})
    assert unmapped.status_code == 422
    assert code_of(unmapped) == errors.CODE_VOLUME_NOT_MAPPED


async def test_attach_refusals(api):
    first = await new_volume(api, "lab-att-a", host_id="name:backup-01", logical_unit_number=901)
    second = await new_volume(api, "lab-att-b")
    lun_taken = await api.post(
        f"/volume/{second}/attach", json={"host_id": "name:backup-01", "logical_unit_number": 901}
    )
    assert lun_taken.status_code == 422
    both = await api.post(
        f"/volume/{second}/attach", json={"host_id": "name:backup-01", "host_group_id": "name:k8s-workers"}
    )
    assert both.status_code == 400
    assert (await api.post(f"/volume/{second}/attach", json={})).status_code == 400
    assert (await api.post(f"/volume/{second}/attach", json={"host_id": "nope"})).status_code == 404
    assert (
        await api.post(
            f"/volume/{second}/attach", json={"host_id": "name:backup-01", "logical_unit_number": 16384}
        )
    ).status_code == 400
    snap_id = await take_snapshot(api, first, name="lab-att-a.s1")
    assert (
        await api.post(f"/volume/{snap_id}/attach", json={"host_id": "name:backup-01"})
    ).status_code == 422
    assert [m["logical_unit_number"] for m in await mappings_of(api, first)] == [901]
    assert await mappings_of(api, second) == []


async def test_a_volume_maps_once_per_host_also_through_its_group(api):
    volume_id = await new_volume(api, "lab-att-group", host_group_id="name:k8s-workers")
    response = await api.post(f"/volume/{volume_id}/attach", json={"host_id": "name:k8s-node-01"})
    assert response.status_code == 422
    through_group = await api.post(f"/volume/{volume_id}/detach", json={"host_id": "name:k8s-node-01"})
    assert through_group.status_code == 422
    assert code_of(through_group) == errors.CODE_VOLUME_NOT_MAPPED
    assert (
        await api.post(f"/volume/{volume_id}/detach", json={"host_group_id": "name:k8s-workers"})
    ).status_code == 204


# -- volume groups --------------------------------------------------------------------------------------


async def test_group_create_modify_and_membership(api):
    a = await new_volume(api, "lab-g-a")
    b = await new_volume(api, "lab-g-b")
    c = await new_volume(api, "lab-g-c")
    group_id = await new_group(
        api, "lab-g", a, "name:lab-g-b", description="app", protection_policy_id="name:pp-gold"
    )
    group = await get_group(api, group_id)
    assert [v["id"] for v in group["volumes"]] == [a, b]
    assert group["type"] == "Primary"
    assert group["is_write_order_consistent"] is True
    assert group["protection_policy_id"] == await policy_id(api, "pp-gold")
    assert group["protection_data"]["family_id"] == group_id
    response = await api.patch(
        f"/volume_group/{group_id}",
        json={
            "name": "lab-g2",
            "description": "",
            "is_write_order_consistent": False,
            "protection_policy_id": None,
        },
    )
    assert response.status_code == 204, response.text
    group = await get_group(api, group_id)
    assert (group["name"], group["description"], group["is_write_order_consistent"]) == (
        "lab-g2",
        None,
        False,
    )
    assert group["protection_policy_id"] is None
    assert (
        await api.post(f"/volume_group/{group_id}/add_members", json={"volume_ids": [c]})
    ).status_code == 204
    assert (
        await api.post(f"/volume_group/{group_id}/remove_members", json={"volume_ids": [a]})
    ).status_code == 204
    assert [v["id"] for v in (await get_group(api, group_id))["volumes"]] == [b, c]
    assert (await get_volume(api, a, "volume_groups"))["volume_groups"] == []


async def test_group_refusals(api):
    a = await new_volume(api, "lab-gr-a")
    protected = await new_volume(api, "lab-gr-prot", protection_policy_id="name:pp-bronze")
    group_id = await new_group(api, "lab-gr", a)
    snap_id = await take_snapshot(api, a, name="lab-gr-a.s1")
    cases = [
        ({"name": "LAB-GR"}, 422),
        ({"name": "lab-gr-x", "volume_ids": [a]}, 422),
        ({"name": "lab-gr-x", "volume_ids": ["nope"]}, 404),
        ({"name": "lab-gr-x", "volume_ids": [snap_id]}, 422),
        ({"name": "lab-gr-x", "volume_ids": [protected]}, 422),
        ({"name": "lab-gr-x", "protection_policy_id": "default_low"}, 422),
        ({"name": ""}, 400),
    ]
    for body, status in cases:
        response = await api.post("/volume_group", json=body)
        assert response.status_code == status, (body, response.text)
    assert (await api.get("/volume_group/name:lab-gr-x")).status_code == 404
    other = await new_volume(api, "lab-gr-other")
    assert (
        await api.post(f"/volume_group/{group_id}/remove_members", json={"volume_ids": [other]})
    ).status_code == 422
    assert (
        await api.post(f"/volume_group/{group_id}/add_members", json={"volume_ids": [a]})
    ).status_code == 422
    assert (
        await api.patch(f"/volume_group/{group_id}", json={"expiration_timestamp": future()})
    ).status_code == 422
    taken = await new_group(api, "lab-gr-taken")
    assert (await api.patch(f"/volume_group/{taken}", json={"name": "lab-gr"})).status_code == 422


async def test_group_delete_keeps_or_deletes_members(api):
    a = await new_volume(api, "lab-gd-a")
    keep_id = await new_group(api, "lab-gd-keep", a)
    set_id = await new_snapshot_set(api, keep_id, "lab-gd-keep-set")
    set_snaps = [v["id"] for v in (await get_group(api, set_id))["volumes"]]
    assert (await api.delete(f"/volume_group/{keep_id}")).status_code == 204
    assert (await api.get(f"/volume_group/{set_id}")).status_code == 404
    assert all([(await api.get(f"/volume/{s}")).status_code == 404 for s in set_snaps])
    assert (await get_volume(api, a, "id,volume_groups"))["volume_groups"] == []
    b = await new_volume(api, "lab-gd-b")
    drop_id = await new_group(api, "lab-gd-drop", a, b)
    response = await api.request("DELETE", f"/volume_group/{drop_id}", json={"delete_members": True})
    assert response.status_code == 204, response.text
    assert (await api.get(f"/volume/{a}")).status_code == 404
    assert (await api.get(f"/volume/{b}")).status_code == 404


async def test_group_delete_is_refused_while_members_are_mapped(api):
    mapped = await new_volume(api, "lab-gdm", host_id="name:backup-01")
    group_id = await new_group(api, "lab-gdm-vg", mapped)
    response = await api.delete(f"/volume_group/{group_id}")
    assert response.status_code == 422
    assert code_of(response) == errors.CODE_IN_USE
    assert (await get_group(api, group_id))["volumes"]


async def test_group_snapshot_makes_a_snapshot_set(api):
    members = [await new_volume(api, f"lab-gs-{n}") for n in range(3)]
    group_id = await new_group(api, "lab-gs", *members)
    response = await api.post(
        f"/volume_group/{group_id}/snapshot", json={"name": "lab-gs-set", "expiration_timestamp": future()}
    )
    assert response.status_code == 200, response.text
    snapshot_set = await get_group(api, response.json()["id"])
    assert snapshot_set["type"] == "Snapshot"
    assert snapshot_set["protection_data"]["source_id"] == group_id
    assert snapshot_set["protection_data"]["parent_id"] == group_id
    assert len(snapshot_set["volumes"]) == 3
    assert all(v["type"] == "Snapshot" for v in snapshot_set["volumes"])
    sources = [
        (await get_volume(api, v["id"]))["protection_data"]["source_id"] for v in snapshot_set["volumes"]
    ]
    assert sorted(sources) == sorted(members)
    # Snapshot sets: no members change, no policies; expiration is theirs; names of snapshots answer 400.
    set_id = snapshot_set["id"]
    assert (
        await api.post(f"/volume_group/{set_id}/add_members", json={"volume_ids": [members[0]]})
    ).status_code == 422
    assert (
        await api.post(f"/volume_group/{set_id}/remove_members", json={"volume_ids": [sources[0]]})
    ).status_code == 422
    assert (
        await api.patch(f"/volume_group/{set_id}", json={"is_write_order_consistent": False})
    ).status_code == 422
    assert (
        await api.post(f"/volume_group/{set_id}/snapshot", json={"name": "lab-gs-set2"})
    ).status_code == 422
    assert (
        await api.patch(f"/volume_group/{set_id}", json={"expiration_timestamp": None})
    ).status_code == 204
    taken = await api.post(f"/volume_group/{group_id}/snapshot", json={"name": "LAB-GS-SET"})
    assert taken.status_code == 400
    assert code_of(taken) == errors.CODE_NAME_IN_USE
    empty = await new_group(api, "lab-gs-empty")
    assert (await api.post(f"/volume_group/{empty}/snapshot", json={"name": "lab-gs-e"})).status_code == 422


async def test_group_clone_refresh_and_restore(api):
    members = [await new_volume(api, f"lab-gc-{n}") for n in range(2)]
    group_id = await new_group(api, "lab-gc", *members)
    response = await api.post(f"/volume_group/{group_id}/clone", json={"name": "lab-gc-clone"})
    assert response.status_code == 200, response.text
    clone = await get_group(api, response.json()["id"])
    assert clone["type"] == "Clone"
    assert len(clone["volumes"]) == 2
    assert all(v["type"] == "Clone" for v in clone["volumes"])
    refreshed = await api.post(f"/volume_group/{clone['id']}/refresh", json={"from_object_id": group_id})
    assert refreshed.status_code == 200, refreshed.text
    backup = await get_group(api, refreshed.json()["backup_snapshot_id"])
    assert backup["type"] == "Snapshot"
    assert len(backup["volumes"]) == 2
    assert (await get_group(api, clone["id"]))["protection_data"]["source_id"] == group_id
    set_id = await new_snapshot_set(api, group_id, "lab-gc-set")
    restored = await api.post(
        f"/volume_group/{group_id}/restore", json={"from_snap_id": set_id, "create_backup_snap": False}
    )
    assert restored.status_code == 204, restored.text
    # Refused: a snapshot set of another group, a group of another family, a membership that changed.
    assert (
        await api.post(f"/volume_group/{clone['id']}/restore", json={"from_snap_id": set_id})
    ).status_code == 422
    stranger = await new_group(api, "lab-gc-stranger", await new_volume(api, "lab-gc-x"))
    assert (
        await api.post(f"/volume_group/{group_id}/refresh", json={"from_object_id": stranger})
    ).status_code == 422
    await api.post(
        f"/volume_group/{group_id}/add_members", json={"volume_ids": [await new_volume(api, "lab-gc-3")]}
    )
    assert (
        await api.post(f"/volume_group/{group_id}/restore", json={"from_snap_id": set_id})
    ).status_code == 422
    assert (
        await api.post(f"/volume_group/{clone['id']}/refresh", json={"from_object_id": group_id})
    ).status_code == 422


# -- async ----------------------------------------------------------------------------------------------


@pytest.fixture
async def slow():
    """Jobs of about 10 s, with the clock in the test's hands."""
    async with clocked_client(create_app(SimulatorConfig(volumes=10, job_seconds=10, seed=5))) as (
        client,
        clock,
    ):
        yield client, clock


async def test_async_create_shows_only_when_its_job_completes(slow):
    client, clock = slow
    response = await client.post(
        "/volume", params={"is_async": "true"}, json={"name": "lab-async", "size": 8 * GIB}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert (await client.get("/volume/name:lab-async")).status_code == 404
    clock.advance(5)
    assert (await client.get("/volume/name:lab-async")).status_code == 404
    clock.advance(30)
    job = await client.wait_job(job_id)
    assert job["phase"] == "Completed"
    assert job["response_body"]["id"]
    volume = await get_volume(client, "name:lab-async", "id,size")
    assert volume == {"id": job["response_body"]["id"], "size": 8 * GIB}


async def test_async_refusals_are_immediate_and_conflicts_fail_the_job(slow):
    client, clock = slow
    await new_volume(client, "lab-async-taken")
    refused = await client.post(
        "/volume", params={"is_async": "true"}, json={"name": "lab-async-taken", "size": 8 * GIB}
    )
    assert refused.status_code == 422
    first = await client.post(
        "/volume", params={"is_async": "true"}, json={"name": "lab-race", "size": 8 * GIB}
    )
    second = await client.post(
        "/volume", params={"is_async": "true"}, json={"name": "lab-race", "size": 8 * GIB}
    )
    assert first.status_code == second.status_code == 202
    clock.advance(60)
    outcomes = sorted([(await client.wait_job(r.json()["id"]))["phase"] for r in (first, second)])
    assert outcomes == ["Completed", "Failed"]


async def test_async_group_snapshot_has_a_step_per_member(slow):
    client, clock = slow
    members = [await new_volume(client, f"lab-as-{n}") for n in range(3)]
    group_id = await new_group(client, "lab-as", *members)
    response = await client.post(
        f"/volume_group/{group_id}/snapshot", params={"is_async": "true"}, json={"name": "lab-as-set"}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert (await client.get("/volume_group/name:lab-as-set")).status_code == 404
    clock.advance(60)
    job = await client.wait_job(job_id)
    assert job["phase"] == "Completed"
    snapshot_set = await get_group(client, "name:lab-as-set")
    assert job["response_body"]["id"] == snapshot_set["id"]
    assert len(snapshot_set["volumes"]) == 3
    steps = await client.job_steps(job_id)
    assert len(steps) == 4
    assert all(s["phase"] == "Completed" for s in steps)
    assert [s["description_l10n"] for s in steps[:3]] == [
        f"Create snapshot of volume lab-as-{n}" for n in range(3)
    ]
    assert "lab-as-set" in steps[3]["description_l10n"]
