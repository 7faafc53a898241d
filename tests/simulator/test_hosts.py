"""Hosts, initiators, host groups and host/host group attach/detach, as a client sees them."""

from __future__ import annotations

import pytest

from console.catalog import load_catalog
from console.simulator import SimulatorConfig
from console.simulator.handlers import hosts, system
from console.simulator.operations import Sim
from tests.simulator.conftest import STORAGE_ADMIN, all_of, by_name, code_of, fetch, logged_in, posted_id

HOST_SELECT = (
    "id,name,description,os_type,host_group_id,host_connectivity,host_initiators,"
    "initiators(port_name,port_type,chap_single_username)"
)
IQN = "iqn.1994-05.com.redhat:lab-host-{}"


def iscsi(n, **chap):
    return {"port_name": IQN.format(n), "port_type": "iSCSI", **chap}


async def new_host(api, name, *initiators, os_type="Linux", **extra):
    body = {"name": name, "os_type": os_type, "initiators": list(initiators) or [iscsi(name)], **extra}
    return await posted_id(api, "/host", body)


async def get_host(api, host_id, select=HOST_SELECT):
    return await fetch(api, f"/host/{host_id}", select)


async def new_group(api, name, *host_ids, **extra):
    return await posted_id(api, "/host_group", {"name": name, "host_ids": list(host_ids), **extra})


async def free_volumes(api, count=3):
    """Ordinary volumes (not snapshots) to map in a test."""
    return await all_of(api, "volume", type="not.eq.Snapshot", order="name", limit=str(count))


async def host_id_by_name(api, name):
    return (await by_name(api, "host", name, "id"))["id"]


async def mappings(api, **filters):
    params = {"select": "host_id,host_group_id,volume_id,logical_unit_number"}
    params.update({k: f"eq.{v}" for k, v in filters.items()})
    return (await api.get("/host_volume_mapping", params=params)).json()


# -- seed -----------------------------------------------------------------------------------------------


async def test_seed_has_hosts_of_every_protocol_in_groups(api):
    listing = (
        await api.get("/host", params={"select": "name,os_type,initiators(port_type),host_group(name)"})
    ).json()
    assert len(listing) >= 12
    protocols = {i["port_type"] for h in listing for i in h["initiators"]}
    assert {"FC", "iSCSI", "NVMe"} <= protocols
    groups = (await api.get("/host_group", params={"select": "name,hosts(name)"})).json()
    assert len(groups) >= 2
    assert all(g["hosts"] for g in groups)


def test_seed_is_deterministic():
    def names_and_ports(seed):
        sim = Sim(SimulatorConfig(seed=seed), load_catalog())
        system.seed(sim)
        hosts.seed(sim)
        return [(h["name"], h["id"]) for h in sim.store.all("host")], sorted(
            i["port_name"] for i in sim.store.all("initiator")
        )

    assert names_and_ports(5) == names_and_ports(5)
    assert names_and_ports(5) != names_and_ports(6)


# -- create ---------------------------------------------------------------------------------------------


async def test_create_host_with_chap_shows_initiators_but_never_passwords(api):
    chap = {"chap_single_username": "lab1", "chap_single_password": "Secret-chap-12"}
    host_id = await new_host(api, "lab-01", iscsi("A", **chap), description="bench")
    host = await get_host(api, host_id)
    assert host["name"] == "lab-01"
    assert host["description"] == "bench"
    assert host["host_connectivity"] == "Local_Only"
    assert host["host_group_id"] is None
    assert host["initiators"] == [
        {"port_name": IQN.format("a"), "port_type": "iSCSI", "chap_single_username": "lab1"}
    ]
    assert host["host_initiators"][0]["port_name"] == IQN.format("a")
    initiators = (
        await api.get("/initiator", params={"select": "id,host_id,port_name", "host_id": f"eq.{host_id}"})
    ).json()
    assert [i["port_name"] for i in initiators] == [IQN.format("a")]
    everything = (await api.get(f"/host/{host_id}", params={"select": "*"})).text
    assert "Secret-chap-12" not in everything


async def test_fc_port_names_are_stored_lower_case_with_colons(api):
    host_id = await new_host(
        api, "lab-fc", {"port_name": "21000024FFAA0001", "port_type": "FC"}, os_type="Windows"
    )
    host = await get_host(api, host_id)
    assert host["initiators"][0]["port_name"] == "21:00:00:24:ff:aa:00:01"


async def test_nvme_host_is_accepted(api):
    nqn = "nqn.2014-08.org.nvmexpress:uuid:7f2c1a3e-1111-4222-8333-944455556666"
    host_id = await new_host(api, "lab-nvme", {"port_name": nqn, "port_type": "NVMe"})
    assert (await get_host(api, host_id))["initiators"][0]["port_type"] == "NVMe"


@pytest.mark.parametrize(
    ("initiators", "why"),
    [
        ([{"port_name": "not-an-iqn", "port_type": "iSCSI"}], "bad iSCSI name"),
        ([{"port_name": "21:00:00:24", "port_type": "FC"}], "short WWPN"),
        ([{"port_name": "host-nqn", "port_type": "NVMe"}], "bad NQN"),
        ([iscsi("dup"), iscsi("DUP")], "same initiator twice"),
        (
            [
                {
                    "port_name": "2100002400000001",
                    "port_type": "FC",
                    "chap_single_username": "u",
                    "chap_single_password": "x" * 12,
                }
            ],
            "CHAP on FC",
        ),
        ([iscsi("c", chap_single_username="lonely")], "CHAP user without password"),
        ([iscsi("m", chap_mutual_username="m", chap_mutual_password="y" * 12)], "mutual without single"),
        ([iscsi("s", chap_single_username="u", chap_single_password="short")], "CHAP password too short"),
    ],
)
async def test_create_refuses_bad_initiators_with_400(api, initiators, why):
    response = await api.post(
        "/host", json={"name": "bad-host", "os_type": "Linux", "initiators": initiators}
    )
    assert response.status_code == 400, why
    assert (await api.get("/host", params={"name": "eq.bad-host"})).json() == []


async def test_create_refuses_missing_required_fields_and_bad_enums(api):
    response = await api.post("/host", json={"name": "x", "initiators": []})
    assert response.status_code == 400
    response = await api.post("/host", json={"name": "x", "os_type": "BeOS", "initiators": []})
    assert response.status_code == 400


async def test_create_refuses_a_name_in_use_case_insensitively(api):
    response = await api.post(
        "/host", json={"name": "ESX-PROD-01", "os_type": "ESXi", "initiators": [iscsi("n")]}
    )
    assert response.status_code == 422
    assert "esx-prod-01" in response.json()["messages"][0]["message_l10n"].lower()


async def test_create_refuses_an_initiator_of_another_host(api):
    seeded = (await get_host(api, "name:esx-dev-01", "initiators(port_name,port_type)"))["initiators"][0]
    response = await api.post("/host", json={"name": "thief", "os_type": "ESXi", "initiators": [seeded]})
    assert response.status_code == 422
    assert code_of(response) == hosts.CODE_INITIATOR_IN_USE
    assert "esx-dev-01" in response.json()["messages"][0]["arguments"]


async def test_an_operator_may_not_create_hosts(operator):
    response = await operator.post(
        "/host", json={"name": "ops", "os_type": "Linux", "initiators": [iscsi("o")]}
    )
    assert response.status_code == 403


async def test_a_storage_administrator_may_create_hosts(make_client):
    async with logged_in(make_client, *STORAGE_ADMIN) as storage:
        await new_host(storage, "st", iscsi("st"))


async def test_async_create_makes_the_host_when_the_job_completes(api):
    body = {"name": "lab-async", "os_type": "Linux", "initiators": [iscsi("async")]}
    response = await api.post("/host", params={"is_async": "true"}, json=body)
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert job["response_body"]["response_type"] == "job_create_response"
    assert (await get_host(api, job["response_body"]["id"], "name"))["name"] == "lab-async"


async def test_async_create_of_a_taken_name_is_refused_at_once(api):
    body = {"name": "esx-prod-02", "os_type": "ESXi", "initiators": [iscsi("z")]}
    response = await api.post("/host", params={"is_async": "true"}, json=body)
    assert response.status_code == 422


# -- modify ---------------------------------------------------------------------------------------------


async def test_modify_renames_and_changes_initiators(api):
    host_id = await new_host(api, "lab-mod", iscsi(1), iscsi(2))
    response = await api.patch(
        f"/host/{host_id}",
        json={
            "name": "lab-mod-renamed",
            "description": "moved to rack 4",
            "remove_initiators": [IQN.format(1)],
            "add_initiators": [iscsi(3)],
            "modify_initiators": [
                {
                    "port_name": IQN.format(2),
                    "chap_single_username": "c2",
                    "chap_single_password": "Another-pass-12",
                }
            ],
        },
    )
    assert response.status_code == 204, response.text
    host = await get_host(api, host_id)
    assert host["name"] == "lab-mod-renamed"
    assert host["description"] == "moved to rack 4"
    ports = {i["port_name"]: i["chap_single_username"] for i in host["initiators"]}
    assert ports == {IQN.format(2): "c2", IQN.format(3): None}
    assert {i["port_name"] for i in host["host_initiators"]} == set(ports)
    # The removed initiator is free for another host now.
    await new_host(api, "lab-mod-2", iscsi(1))


async def test_modify_refusals(api):
    host_id = await new_host(api, "lab-ref", iscsi("r"))
    cases = [
        ({"name": "sql-prod-01"}, 422),
        ({"remove_initiators": [IQN.format("nobody")]}, 422),
        ({"add_initiators": [{"port_name": "junk", "port_type": "FC"}]}, 400),
        ({"modify_initiators": [{"chap_single_username": "x", "chap_single_password": "y" * 12}]}, 400),
        ({"unknown_field": 1}, 400),
    ]
    for body, status in cases:
        response = await api.patch(f"/host/{host_id}", json=body)
        assert response.status_code == status, (body, response.text)
    assert (await api.patch("/host/no-such-host", json={"description": "x"})).status_code == 404


async def test_connectivity_of_a_grouped_host_changes_only_through_its_group(api):
    host_id = await host_id_by_name(api, "k8s-node-01")
    response = await api.patch(f"/host/{host_id}", json={"host_connectivity": "Metro_Optimize_Both"})
    assert response.status_code == 422
    group_id = (await get_host(api, host_id, "host_group_id"))["host_group_id"]
    response = await api.patch(f"/host_group/{group_id}", json={"host_connectivity": "Metro_Optimize_Both"})
    assert response.status_code == 204
    members = (
        await api.get("/host", params={"select": "host_connectivity", "host_group_id": f"eq.{group_id}"})
    ).json()
    assert {m["host_connectivity"] for m in members} == {"Metro_Optimize_Both"}


# -- delete ---------------------------------------------------------------------------------------------


async def test_delete_removes_the_host_and_its_initiators(api):
    host_id = await new_host(api, "lab-del", iscsi("d"))
    assert (await api.delete(f"/host/{host_id}")).status_code == 204
    assert (await api.get(f"/host/{host_id}")).status_code == 404
    assert (await api.get("/initiator", params={"host_id": f"eq.{host_id}"})).json() == []
    assert (await api.delete(f"/host/{host_id}")).status_code == 404


async def test_delete_is_refused_while_mapped_or_grouped(api):
    host_id = await new_host(api, "lab-mapped", iscsi("mp"))
    volume = (await free_volumes(api, 1))[0]
    assert (await api.post(f"/host/{host_id}/attach", json={"volume_id": volume["id"]})).status_code == 204
    assert (await api.delete(f"/host/{host_id}")).status_code == 422
    grouped = await host_id_by_name(api, "esx-dev-02")
    assert (await api.delete(f"/host/{grouped}")).status_code == 422


async def test_async_delete_shows_two_steps(api):
    host_id = await new_host(api, "lab-steps", iscsi("s1"), iscsi("s2"))
    response = await api.delete(f"/host/{host_id}", params={"is_async": "true"})
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    steps = await api.job_steps(job["id"])
    assert len(steps) == 2
    assert "initiator" in steps[0]["description_l10n"]
    assert all(s["phase"] == "Completed" for s in steps)
    assert (await api.get(f"/host/{host_id}")).status_code == 404


async def test_an_operator_may_not_delete_hosts(operator, api):
    host_id = await new_host(api, "lab-keep", iscsi("k"))
    assert (await operator.delete(f"/host/{host_id}")).status_code == 403


# -- attach / detach ------------------------------------------------------------------------------------


async def test_attach_picks_the_lowest_free_lun_and_detach_removes_the_mapping(api):
    host_id = await new_host(api, "lab-map", iscsi("map"))
    v1, v2, v3 = await free_volumes(api, 3)
    assert (await api.post(f"/host/{host_id}/attach", json={"volume_id": v1["id"]})).status_code == 204
    assert (
        await api.post(f"/host/{host_id}/attach", json={"volume_id": v2["id"], "logical_unit_number": 7})
    ).status_code == 204
    assert (
        await api.post("/host/name:lab-map/attach", json={"volume_id": f"name:{v3['name']}"})
    ).status_code == 204
    luns = {m["volume_id"]: m["logical_unit_number"] for m in await mappings(api, host_id=host_id)}
    assert luns == {v1["id"]: 1, v2["id"]: 7, v3["id"]: 2}
    mapped = await get_host(api, host_id, "mapped_hosts(logical_unit_number,volume(name))")
    assert sorted(m["logical_unit_number"] for m in mapped["mapped_hosts"]) == [1, 2, 7]
    assert (await api.post(f"/host/{host_id}/detach", json={"volume_id": v2["id"]})).status_code == 204
    assert {m["volume_id"] for m in await mappings(api, host_id=host_id)} == {v1["id"], v3["id"]}


async def test_attach_refusals(api):
    host_id = await new_host(api, "lab-attach", iscsi("at"))
    v1, v2 = await free_volumes(api, 2)
    await api.post(f"/host/{host_id}/attach", json={"volume_id": v1["id"], "logical_unit_number": 3})
    again = await api.post(f"/host/{host_id}/attach", json={"volume_id": v1["id"]})
    assert again.status_code == 422
    taken_lun = await api.post(
        f"/host/{host_id}/attach", json={"volume_id": v2["id"], "logical_unit_number": 3}
    )
    assert taken_lun.status_code == 422
    assert (
        await api.post(f"/host/{host_id}/attach", json={"volume_id": "no-such-volume"})
    ).status_code == 404
    assert (await api.post(f"/host/{host_id}/attach", json={})).status_code == 400
    too_big = await api.post(
        f"/host/{host_id}/attach", json={"volume_id": v2["id"], "logical_unit_number": 16384}
    )
    assert too_big.status_code == 400
    snapshots = (await api.get("/volume", params={"select": "id", "type": "eq.Snapshot", "limit": 1})).json()
    if snapshots:
        assert (
            await api.post(f"/host/{host_id}/attach", json={"volume_id": snapshots[0]["id"]})
        ).status_code == 422


async def test_detach_of_an_unmapped_volume_is_refused(api):
    host_id = await new_host(api, "lab-detach", iscsi("dt"))
    volume = (await free_volumes(api, 1))[0]
    response = await api.post(f"/host/{host_id}/detach", json={"volume_id": volume["id"]})
    assert response.status_code == 422
    assert code_of(response) == "0xE0A08001000F"


async def test_an_operator_may_not_attach(operator, api):
    host_id = await new_host(api, "lab-op-attach", iscsi("opa"))
    volume = (await free_volumes(api, 1))[0]
    assert (
        await operator.post(f"/host/{host_id}/attach", json={"volume_id": volume["id"]})
    ).status_code == 403


async def test_async_attach_maps_when_the_job_completes(api):
    host_id = await new_host(api, "lab-async-map", iscsi("am"))
    volume = (await free_volumes(api, 1))[0]
    response = await api.post(
        f"/host/{host_id}/attach", params={"is_async": "true"}, json={"volume_id": volume["id"]}
    )
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert [m["logical_unit_number"] for m in await mappings(api, host_id=host_id)] == [1]


# -- host groups ----------------------------------------------------------------------------------------


async def test_create_group_modify_members_and_delete_releases_hosts(api):
    h1 = await new_host(api, "grp-h1", iscsi("g1"))
    h2 = await new_host(api, "grp-h2", iscsi("g2"))
    h3 = await new_host(api, "grp-h3", iscsi("g3"))
    group_id = await new_group(api, "grp-a", h1, "name:grp-h2", description="lab group")
    group = (
        await api.get(
            f"/host_group/{group_id}", params={"select": "name,description,host_connectivity,hosts(name)"}
        )
    ).json()
    assert group["description"] == "lab group"
    assert group["host_connectivity"] == "Local_Only"
    assert sorted(h["name"] for h in group["hosts"]) == ["grp-h1", "grp-h2"]
    response = await api.patch(
        f"/host_group/{group_id}", json={"name": "grp-b", "add_host_ids": [h3], "remove_host_ids": [h1]}
    )
    assert response.status_code == 204, response.text
    group = (await api.get(f"/host_group/{group_id}", params={"select": "name,hosts(name)"})).json()
    assert group["name"] == "grp-b"
    assert sorted(h["name"] for h in group["hosts"]) == ["grp-h2", "grp-h3"]
    assert (await get_host(api, h1, "host_group_id"))["host_group_id"] is None
    assert (await api.delete(f"/host_group/{group_id}")).status_code == 204
    for host_id in (h2, h3):
        assert (await get_host(api, host_id, "host_group_id"))["host_group_id"] is None


async def test_group_name_in_use_is_a_400_with_the_documented_code(api):
    host_id = await new_host(api, "grp-dup", iscsi("gd"))
    response = await api.post("/host_group", json={"name": "ESX-CLUSTER-A", "host_ids": [host_id]})
    assert response.status_code == 400
    assert code_of(response) == "0xE0A030010010"


async def test_group_create_refusals(api):
    lone = await new_host(api, "grp-lone", iscsi("gl"))
    metro = await new_host(api, "grp-metro", iscsi("gm"), host_connectivity="Metro_Optimize_Both")
    grouped = await host_id_by_name(api, "esx-prod-01")
    cases = [
        ({"name": "g1", "host_ids": [grouped]}, 422),
        ({"name": "g2", "host_ids": [lone, metro]}, 422),
        ({"name": "g3", "host_ids": ["no-such-host"]}, 404),
        ({"name": "g4", "host_ids": [lone, lone]}, 400),
        ({"name": "g5", "host_ids": []}, 400),
        ({"name": "g6"}, 400),
    ]
    for body, status in cases:
        response = await api.post("/host_group", json=body)
        assert response.status_code == status, (body, response.text)


async def test_group_modify_refusals(api):
    h1 = await new_host(api, "grp-m1", iscsi("m1"))
    outsider = await new_host(api, "grp-m2", iscsi("m2"))
    group_id = await new_group(api, "grp-m", h1)
    assert (
        await api.patch(f"/host_group/{group_id}", json={"remove_host_ids": [outsider]})
    ).status_code == 422
    assert (await api.patch(f"/host_group/{group_id}", json={"add_host_ids": [h1]})).status_code == 422
    assert (await api.patch(f"/host_group/{group_id}", json={"name": "k8s-workers"})).status_code == 400
    assert (await api.patch("/host_group/no-such-group", json={"name": "x"})).status_code == 404


async def test_group_attach_maps_once_for_all_members(api):
    h1 = await new_host(api, "grp-at1", iscsi("a1"))
    h2 = await new_host(api, "grp-at2", iscsi("a2"))
    v1, v2 = await free_volumes(api, 2)
    # h2 holds LUN 1 privately, so the group's first automatic LUN is 2.
    assert (await api.post(f"/host/{h2}/attach", json={"volume_id": v1["id"]})).status_code == 204
    group_id = await new_group(api, "grp-at", h1, h2)
    assert (await api.post(f"/host_group/{group_id}/attach", json={"volume_id": v2["id"]})).status_code == 204
    rows = await mappings(api, host_group_id=group_id)
    assert rows == [
        {"host_id": None, "host_group_id": group_id, "volume_id": v2["id"], "logical_unit_number": 2}
    ]
    # A member already sees v2 through its group.
    assert (await api.post(f"/host/{h1}/attach", json={"volume_id": v2["id"]})).status_code == 422
    # ... and cannot detach it on its own.
    assert (await api.post(f"/host/{h1}/detach", json={"volume_id": v2["id"]})).status_code == 422
    # The group cannot map what a member maps privately.
    assert (await api.post(f"/host_group/{group_id}/attach", json={"volume_id": v1["id"]})).status_code == 422
    assert (await api.delete(f"/host_group/{group_id}")).status_code == 422
    assert (await api.post(f"/host_group/{group_id}/detach", json={"volume_id": v2["id"]})).status_code == 204
    assert (await api.post(f"/host_group/{group_id}/detach", json={"volume_id": v2["id"]})).status_code == 422
    assert (await api.delete(f"/host_group/{group_id}")).status_code == 204


async def test_a_host_whose_luns_clash_with_the_group_cannot_join(api):
    h1 = await new_host(api, "grp-c1", iscsi("c1"))
    h2 = await new_host(api, "grp-c2", iscsi("c2"))
    v1, v2 = await free_volumes(api, 2)
    group_id = await new_group(api, "grp-c", h1)
    await api.post(f"/host_group/{group_id}/attach", json={"volume_id": v1["id"], "logical_unit_number": 4})
    await api.post(f"/host/{h2}/attach", json={"volume_id": v2["id"], "logical_unit_number": 4})
    response = await api.patch(f"/host_group/{group_id}", json={"add_host_ids": [h2]})
    assert response.status_code == 422


async def test_an_operator_may_not_create_host_groups(operator, api):
    host_id = await new_host(api, "grp-op", iscsi("op"))
    response = await operator.post("/host_group", json={"name": "ops", "host_ids": [host_id]})
    assert response.status_code == 403


async def test_async_group_modify_completes(api):
    host_id = await new_host(api, "grp-async", iscsi("ga"))
    group_id = await new_group(api, "grp-async-g", host_id)
    response = await api.patch(
        f"/host_group/{group_id}", params={"is_async": "true"}, json={"name": "grp-async-2"}
    )
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert (await api.get(f"/host_group/{group_id}", params={"select": "name"})).json()[
        "name"
    ] == "grp-async-2"
