"""Snapshot rules, replication rules and policies: each change, each kind of refusal, and async runs."""

from __future__ import annotations

import pytest

from console.simulator import errors
from tests.simulator.conftest import all_of, by_name, posted_id, refused


async def remote_id(api, type_: str) -> str:
    systems = await all_of(api, "remote_system", "id,name,type")
    return next(s["id"] for s in systems if s["type"] == type_)


async def new_replication_rule(api, name: str, rpo: str) -> str:
    """A replication rule to the seeded DR array."""
    body = {"name": name, "rpo": rpo, "remote_system_id": await remote_id(api, "PowerStore")}
    return await posted_id(api, "/replication_rule", body)


# -- snapshot rules ----------------------------------------------------------------------------------


async def test_create_snapshot_rule_by_interval_fills_defaults(api):
    response = await api.post(
        "/snapshot_rule", json={"name": "snap-30m-12h", "interval": "Thirty_Minutes", "desired_retention": 12}
    )
    assert response.status_code == 201, response.text
    rule = (
        await api.get(
            f"/snapshot_rule/{response.json()['id']}",
            params={
                "select": "name,interval,interval_l10n,time_of_day,days_of_week,timezone,desired_retention,"
                "nas_access_type,is_secure,is_read_only,is_replica,managed_by,remote_system_id,policies"
            },
        )
    ).json()
    assert rule["interval"] == "Thirty_Minutes"
    assert rule["interval_l10n"] == "Thirty Minutes"
    assert rule["time_of_day"] is None
    assert rule["days_of_week"] == [
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
    ]
    assert rule["timezone"] == "UTC"
    assert rule["nas_access_type"] == "Snapshot"
    assert rule["managed_by"] == "User"
    assert rule["is_secure"] is rule["is_read_only"] is rule["is_replica"] is False
    assert rule["remote_system_id"] is None
    assert rule["policies"] == []


async def test_create_snapshot_rule_by_time_of_day_orders_days(api):
    body = {
        "name": "snap-weekend",
        "time_of_day": "06:30",
        "timezone": "Europe__Paris",
        "days_of_week": ["Sunday", "Saturday"],
        "desired_retention": 48,
    }
    response = await api.post("/snapshot_rule", json=body)
    assert response.status_code == 201, response.text
    rule = await by_name(api, "snapshot_rule", "snap-weekend", "interval,time_of_day,days_of_week,timezone")
    assert rule == {
        "interval": None,
        "time_of_day": "06:30",
        "days_of_week": ["Saturday", "Sunday"],
        "timezone": "Europe__Paris",
    }


@pytest.mark.parametrize(
    "body",
    [
        {"interval": "One_Hour", "time_of_day": "10:00"},
        {},
        {"time_of_day": "24:00"},
        {"time_of_day": "9:00"},
        {"interval": "One_Hour", "days_of_week": []},
        {"interval": "One_Hour", "desired_retention": 9000},
        {"interval": "One_Hour", "desired_retention": 0},
        {"interval": "Every_Minute"},
        {"interval": "One_Hour", "colour": "blue"},
    ],
)
async def test_create_snapshot_rule_refuses_bad_bodies_with_400(api, body):
    response = await api.post("/snapshot_rule", json={"name": "bad-rule", "desired_retention": 24, **body})
    refused(response, 400)
    assert not await all_of(api, "snapshot_rule", name="eq.bad-rule")


async def test_create_snapshot_rule_refuses_a_taken_name_in_any_case(api):
    response = await api.post(
        "/snapshot_rule", json={"name": "SNAP-HOURLY-24H", "interval": "One_Hour", "desired_retention": 24}
    )
    refused(response, 422, errors.CODE_NAME_IN_USE)


async def test_remote_backup_rule_needs_a_backup_system_and_may_keep_longer(api):
    body = {"name": "backup-weekly", "time_of_day": "03:00", "desired_retention": 17520}
    refused(await api.post("/snapshot_rule", json={**body, "remote_system_id": "no-such-system"}), 404)
    dr_site = await remote_id(api, "PowerStore")
    refused(await api.post("/snapshot_rule", json={**body, "remote_system_id": dr_site}), 422)
    backup = await remote_id(api, "PowerProtect_DD")
    response = await api.post("/snapshot_rule", json={**body, "remote_system_id": backup})
    assert response.status_code == 201, response.text
    rule = await by_name(api, "snapshot_rule", "backup-weekly", "desired_retention,remote_system(name)")
    assert rule == {"desired_retention": 17520, "remote_system": {"name": "ppdd-backup-01"}}


async def test_modify_snapshot_rule_switches_schedule_and_renames(api):
    rule = await by_name(api, "snapshot_rule", "snap-4h-3d")
    response = await api.patch(
        f"/snapshot_rule/{rule['id']}",
        json={"name": "snap-nightly-3d", "time_of_day": "22:15", "days_of_week": ["Friday", "Monday"]},
    )
    assert response.status_code == 204, response.text
    assert response.content == b""
    after = (
        await api.get(
            f"/snapshot_rule/{rule['id']}", params={"select": "name,interval,time_of_day,days_of_week"}
        )
    ).json()
    assert after == {
        "name": "snap-nightly-3d",
        "interval": None,
        "time_of_day": "22:15",
        "days_of_week": ["Monday", "Friday"],
    }


async def test_modify_snapshot_rule_by_name_path(api):
    response = await api.patch("/snapshot_rule/name:snap-hourly-24h", json={"desired_retention": 36})
    assert response.status_code == 204, response.text
    assert (await by_name(api, "snapshot_rule", "snap-hourly-24h", "desired_retention")) == {
        "desired_retention": 36
    }


async def test_modify_snapshot_rule_refusals(api):
    rule = await by_name(api, "snapshot_rule", "snap-hourly-24h")
    path = f"/snapshot_rule/{rule['id']}"
    refused(await api.patch(path, json={"name": "snap-4h-3d"}), 422, errors.CODE_NAME_IN_USE)
    refused(await api.patch(path, json={"interval": "One_Day", "time_of_day": "01:00"}), 400)
    refused(await api.patch(path, json={"desired_retention": 10000}), 400)
    refused(await api.patch(path, json={"is_read_only": True}), 400, errors.CODE_UNKNOWN_PROPERTY)
    refused(await api.patch("/snapshot_rule/no-such-rule", json={"desired_retention": 2}), 404)


async def test_delete_snapshot_rule(api):
    created = await api.post(
        "/snapshot_rule", json={"name": "tmp-rule", "interval": "One_Day", "desired_retention": 5}
    )
    rule_id = created.json()["id"]
    response = await api.delete(f"/snapshot_rule/{rule_id}")
    assert response.status_code == 204, response.text
    refused(await api.get(f"/snapshot_rule/{rule_id}"), 404)


async def test_delete_snapshot_rule_used_by_a_policy_is_refused(api):
    rule = await by_name(api, "snapshot_rule", "snap-hourly-24h")
    message = refused(await api.delete(f"/snapshot_rule/{rule['id']}"), 422, errors.CODE_IN_USE)
    assert "pp-gold" in message["message_l10n"]


async def test_delete_snapshot_rule_with_its_snapshots(api):
    rule = await by_name(api, "snapshot_rule", "snap-daily-2300-7d", "id,policies(id,name)")
    for policy in rule["policies"]:
        response = await api.patch(f"/policy/{policy['id']}", json={"remove_snapshot_rule_ids": [rule["id"]]})
        assert response.status_code == 204, response.text
    before = await all_of(api, "file_system", "id,creator_type", filesystem_type="eq.Snapshot")
    scheduled = [s for s in before if s["creator_type"] == "Scheduler"]
    assert scheduled
    response = await api.request("DELETE", f"/snapshot_rule/{rule['id']}", json={"delete_snaps": True})
    assert response.status_code == 204, response.text
    after = await all_of(api, "file_system", "id,creator_type", filesystem_type="eq.Snapshot")
    assert [s for s in after if s["creator_type"] == "Scheduler"] == []
    assert len(after) == len(before) - len(scheduled)


async def test_deleting_a_rules_snapshots_moves_their_clones_to_the_source_volume(api, sim_app):
    rule_id = await posted_id(
        api, "/snapshot_rule", {"name": "snap-tmp-4h", "interval": "Four_Hours", "desired_retention": 8}
    )
    volume_id = await posted_id(api, "/volume", {"name": "lab-scheduled", "size": 8 * 1024**3})
    snap_id = await posted_id(api, f"/volume/{volume_id}/snapshot", {"name": "lab-scheduled.s1"}, status=200)
    # As if the rule's schedule had taken the snapshot.
    sim = sim_app.state.simulator.sim
    data = sim.store.get("volume", snap_id)["protection_data"]
    sim.update("volume", snap_id, {"protection_data": {**data, "created_by_rule_id": rule_id}})
    clone_id = await posted_id(api, f"/volume/{snap_id}/clone", {"name": "lab-scheduled-clone"}, status=200)
    response = await api.request("DELETE", f"/snapshot_rule/{rule_id}", json={"delete_snaps": True})
    assert response.status_code == 204, response.text
    refused(await api.get(f"/volume/{snap_id}"), 404)
    clone = (await by_name(api, "volume", "lab-scheduled-clone", "protection_data"))["protection_data"]
    assert (clone["parent_id"], clone["source_id"], clone["family_id"]) == (volume_id, volume_id, volume_id)
    # The family tree follows too: deleting the source volume now releases the clone.
    assert (await api.delete(f"/volume/{volume_id}")).status_code == 204
    clone = await by_name(api, "volume", "lab-scheduled-clone", "id,protection_data")
    assert clone["id"] == clone_id
    assert clone["protection_data"]["parent_id"] is None


async def test_clone_snapshot_rule(api):
    rule = await by_name(api, "snapshot_rule", "snap-weekly-sun-30d")
    response = await api.post(f"/snapshot_rule/{rule['id']}/clone", json={"name": "snap-weekly-copy"})
    assert response.status_code == 200, response.text
    clone = (
        await api.get(
            f"/snapshot_rule/{response.json()['id']}", params={"select": "name,time_of_day,days_of_week"}
        )
    ).json()
    assert clone == {"name": "snap-weekly-copy", "time_of_day": "02:00", "days_of_week": ["Sunday"]}
    refused(await api.post(f"/snapshot_rule/{rule['id']}/clone", json={"name": "snap-weekly-copy"}), 422)
    refused(await api.post(f"/snapshot_rule/{rule['id']}/clone", json={}), 400, errors.CODE_MISSING_REQUIRED)


async def test_operator_may_not_change_snapshot_rules(operator):
    response = await operator.post(
        "/snapshot_rule", json={"name": "op-rule", "interval": "One_Hour", "desired_retention": 4}
    )
    refused(response, 403, errors.CODE_FORBIDDEN)


async def test_async_snapshot_rule_create(api):
    response = await api.post(
        "/snapshot_rule",
        params={"is_async": "true"},
        json={"name": "async-rule", "interval": "Two_Hours", "desired_retention": 8},
    )
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert job["resource_type"] == "snapshot_rule"
    rule = await by_name(api, "snapshot_rule", "async-rule")
    assert job["response_body"]["id"] == rule["id"]


async def test_async_refusal_is_immediate_and_creates_no_job(api):
    jobs_before = len(await all_of(api, "job", "id"))
    response = await api.post(
        "/snapshot_rule",
        params={"is_async": "true"},
        json={"name": "snap-hourly-24h", "interval": "Two_Hours", "desired_retention": 8},
    )
    refused(response, 422, errors.CODE_NAME_IN_USE)
    assert len(await all_of(api, "job", "id")) == jobs_before


# -- replication rules --------------------------------------------------------------------------------------


async def test_create_replication_rule_defaults_alert_threshold_to_the_rpo(api):
    await new_replication_rule(api, "repl-dr-30m", "Thirty_Minutes")
    rule = await by_name(
        api,
        "replication_rule",
        "repl-dr-30m",
        "rpo,rpo_l10n,alert_threshold,remote_system_id,managed_by,is_replica",
    )
    assert rule == {
        "rpo": "Thirty_Minutes",
        "rpo_l10n": "Thirty Minutes",
        "alert_threshold": 30,
        "remote_system_id": await remote_id(api, "PowerStore"),
        "managed_by": "User",
        "is_replica": False,
    }


async def test_create_replication_rule_refusals(api):
    dr_site = await remote_id(api, "PowerStore")
    backup = await remote_id(api, "PowerProtect_DD")
    post = api.post
    refused(await post("/replication_rule", json={"name": "r1", "remote_system_id": dr_site}), 400)
    refused(
        await post(
            "/replication_rule", json={"name": "r1", "rpo": "Ten_Minutes", "remote_system_id": dr_site}
        ),
        400,
    )
    body = {"name": "r1", "rpo": "One_Hour", "remote_system_id": dr_site}
    refused(await post("/replication_rule", json={**body, "alert_threshold": 1441}), 400)
    refused(await post("/replication_rule", json={**body, "remote_system_id": "nowhere"}), 404)
    refused(await post("/replication_rule", json={**body, "remote_system_id": backup}), 422)
    refused(
        await post("/replication_rule", json={**body, "name": "Repl-DR-15m"}), 422, errors.CODE_NAME_IN_USE
    )


async def test_metro_rule_needs_a_synchronous_remote_system(api):
    await new_replication_rule(api, "metro", "Zero")
    assert (await by_name(api, "replication_rule", "metro", "alert_threshold")) == {"alert_threshold": 0}


async def test_modify_replication_rule(api):
    rule = await by_name(api, "replication_rule", "repl-dr-1h")
    response = await api.patch(
        f"/replication_rule/{rule['id']}",
        json={"name": "repl-dr-6h", "rpo": "Six_Hours", "alert_threshold": 400},
    )
    assert response.status_code == 204, response.text
    after = (
        await api.get(f"/replication_rule/{rule['id']}", params={"select": "name,rpo,alert_threshold"})
    ).json()
    assert after == {"name": "repl-dr-6h", "rpo": "Six_Hours", "alert_threshold": 400}
    refused(await api.patch(f"/replication_rule/{rule['id']}", json={"name": "repl-dr-15m"}), 422)
    backup = await remote_id(api, "PowerProtect_DD")
    refused(await api.patch(f"/replication_rule/{rule['id']}", json={"remote_system_id": backup}), 422)


async def test_delete_replication_rule(api):
    rule_id = await new_replication_rule(api, "tmp", "One_Day")
    response = await api.delete(f"/replication_rule/{rule_id}")
    assert response.status_code == 204, response.text
    refused(await api.get(f"/replication_rule/{rule_id}"), 404)


async def test_delete_replication_rule_refused_while_its_policy_is_assigned(api):
    rule_id = await new_replication_rule(api, "fs-dr", "One_Hour")
    policy_id = await posted_id(api, "/policy", {"name": "fs-dr-policy", "replication_rule_ids": [rule_id]})
    refused(await api.delete(f"/replication_rule/{rule_id}"), 422, errors.CODE_IN_USE)
    fs = await by_name(api, "file_system", "fs-test-data")
    assert (
        await api.patch(f"/file_system/{fs['id']}", json={"protection_policy_id": policy_id})
    ).status_code == 204
    message = refused(await api.delete(f"/replication_rule/{rule_id}"), 422, errors.CODE_IN_USE)
    assert "assigned" in message["message_l10n"]


async def test_clone_replication_rule_async(api):
    rule = await by_name(api, "replication_rule", "repl-dr-15m")
    response = await api.post(
        f"/replication_rule/{rule['id']}/clone", params={"is_async": "true"}, json={"name": "repl-dr-15m-b"}
    )
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed", job
    clone = await by_name(api, "replication_rule", "repl-dr-15m-b", "id,rpo,alert_threshold")
    assert job["response_body"]["id"] == clone["id"]
    assert (clone["rpo"], clone["alert_threshold"]) == ("Fifteen_Minutes", 15)


async def test_operator_may_not_delete_replication_rules(api, operator):
    rule = await by_name(api, "replication_rule", "repl-dr-15m")
    refused(await operator.delete(f"/replication_rule/{rule['id']}"), 403, errors.CODE_FORBIDDEN)


# -- policies ---------------------------------------------------------------------------------------------


async def test_predefined_performance_policies(api):
    policies = await all_of(
        api, "policy", "id,name,type,is_read_only,managed_by", type="eq.Performance", order="id"
    )
    assert [(p["id"], p["name"]) for p in policies] == [
        ("default_high", "High"),
        ("default_low", "Low"),
        ("default_medium", "Medium"),
    ]
    assert all(p["is_read_only"] and p["managed_by"] == "User" for p in policies)
    refused(await api.patch("/policy/default_high", json={"name": "Turbo"}), 422)
    refused(await api.delete("/policy/default_low"), 422)
    refused(await api.post("/policy/default_medium/clone", json={"name": "Medium2"}), 422)


async def test_create_protection_policy_with_ids_and_names(api):
    hourly = await by_name(api, "snapshot_rule", "snap-hourly-24h")
    body = {
        "name": "pp-platinum",
        "description": "Hourly and DR",
        "snapshot_rule_ids": [hourly["id"], "name:snap-weekly-sun-30d", hourly["id"]],
        "replication_rule_ids": ["name:repl-dr-15m"],
    }
    response = await api.post("/policy", json=body)
    assert response.status_code == 201, response.text
    policy = (
        await api.get(
            f"/policy/{response.json()['id']}",
            params={
                "select": "name,description,type,type_l10n,managed_by,"
                "snapshot_rules(name),replication_rules(name)"
            },
        )
    ).json()
    assert policy == {
        "name": "pp-platinum",
        "description": "Hourly and DR",
        "type": "Protection",
        "type_l10n": "Protection",
        "managed_by": "User",
        "snapshot_rules": [{"name": "snap-hourly-24h"}, {"name": "snap-weekly-sun-30d"}],
        "replication_rules": [{"name": "repl-dr-15m"}],
    }
    rule = await by_name(api, "snapshot_rule", "snap-hourly-24h", "policies(name)")
    assert {"name": "pp-platinum"} in rule["policies"]


async def test_create_qos_and_file_performance_policies(api):
    iops = (await all_of(api, "io_limit_rule", "id,name"))[0]
    response = await api.post("/policy", json={"name": "qos-x", "io_limit_rule_id": iops["id"]})
    assert response.status_code == 201, response.text
    policy = await by_name(api, "policy", "qos-x", "id,type,io_limit_rule(name)")
    assert (policy["type"], policy["io_limit_rule"]) == ("QoS", {"name": iops["name"]})
    path = f"/policy/{policy['id']}"
    assert (await api.patch(path, json={"io_limit_rule_id": iops["id"], "name": "qos-y"})).status_code == 204
    refused(await api.patch(path, json={"io_limit_rule_id": "missing"}), 404)
    refused(await api.patch(path, json={"add_snapshot_rule_ids": ["name:snap-4h-3d"]}), 400)
    rule = (await api.get(f"/io_limit_rule/{iops['id']}", params={"select": "policies(name)"})).json()
    assert {"name": "qos-y"} in rule["policies"]
    bandwidth = (await all_of(api, "file_io_limit_rule", "id"))[0]
    response = await api.post("/policy", json={"name": "fqos-x", "file_io_limit_rule_id": bandwidth["id"]})
    assert response.status_code == 201, response.text
    assert (await by_name(api, "policy", "fqos-x", "type,file_io_limit_rule_id")) == {
        "type": "File_Performance",
        "file_io_limit_rule_id": bandwidth["id"],
    }


async def test_create_policy_refusals(api):
    iops = (await all_of(api, "io_limit_rule", "id"))[0]
    post = api.post
    refused(await post("/policy", json={"name": "empty"}), 400, errors.CODE_MISSING_REQUIRED)
    refused(await post("/policy", json={"name": "empty", "snapshot_rule_ids": []}), 400)
    mixed = {"name": "mixed", "snapshot_rule_ids": ["name:snap-4h-3d"], "io_limit_rule_id": iops["id"]}
    refused(await post("/policy", json=mixed), 400)
    refused(
        await post(
            "/policy", json={"name": "p", "type": "Protection", "snapshot_rule_ids": ["name:snap-4h-3d"]}
        ),
        400,
    )
    refused(await post("/policy", json={"name": "p", "snapshot_rule_ids": ["nope"]}), 404)
    refused(await post("/policy", json={"name": "p", "snapshot_rule_ids": ["name:nope"]}), 404)
    refused(await post("/policy", json={"name": "PP-GOLD", "snapshot_rule_ids": ["name:snap-4h-3d"]}), 422)


async def test_a_policy_takes_at_most_four_local_snapshot_rules(api):
    extra = await api.post(
        "/snapshot_rule", json={"name": "snap-5", "interval": "Six_Hours", "desired_retention": 6}
    )
    assert extra.status_code == 201
    names = ["snap-hourly-24h", "snap-4h-3d", "snap-daily-2300-7d", "snap-weekly-sun-30d"]
    ok = await api.post("/policy", json={"name": "four", "snapshot_rule_ids": [f"name:{n}" for n in names]})
    assert ok.status_code == 201, ok.text
    five = await api.post(
        "/policy", json={"name": "five", "snapshot_rule_ids": [f"name:{n}" for n in [*names, "snap-5"]]}
    )
    refused(five, 422)
    add = await api.patch(f"/policy/{ok.json()['id']}", json={"add_snapshot_rule_ids": ["name:snap-5"]})
    refused(add, 422)


async def test_modify_policy_rule_lists(api):
    policy = await by_name(api, "policy", "pp-silver")
    path = f"/policy/{policy['id']}"
    weekly = await by_name(api, "snapshot_rule", "snap-weekly-sun-30d")
    response = await api.patch(
        path,
        json={
            "name": "pp-silver-plus",
            "description": "more",
            "add_snapshot_rule_ids": [weekly["id"]],
            "remove_snapshot_rule_ids": ["name:snap-4h-3d"],
            "add_replication_rule_ids": ["name:repl-dr-1h"],
        },
    )
    assert response.status_code == 204, response.text
    after = (
        await api.get(
            path, params={"select": "name,description,snapshot_rules(name),replication_rules(name)"}
        )
    ).json()
    assert after == {
        "name": "pp-silver-plus",
        "description": "more",
        "snapshot_rules": [{"name": "snap-daily-2300-7d"}, {"name": "snap-weekly-sun-30d"}],
        "replication_rules": [{"name": "repl-dr-1h"}],
    }
    response = await api.patch(
        path, json={"snapshot_rule_ids": ["name:snap-hourly-24h"], "replication_rule_ids": []}
    )
    assert response.status_code == 204, response.text
    after = (await api.get(path, params={"select": "snapshot_rules(name),replication_rules(name)"})).json()
    assert after == {"snapshot_rules": [{"name": "snap-hourly-24h"}], "replication_rules": []}


async def test_modify_policy_refusals(api):
    policy = await by_name(api, "policy", "pp-bronze")
    path = f"/policy/{policy['id']}"
    both = {"snapshot_rule_ids": ["name:snap-4h-3d"], "add_snapshot_rule_ids": ["name:snap-hourly-24h"]}
    refused(await api.patch(path, json=both), 400)
    refused(await api.patch(path, json={"add_snapshot_rule_ids": ["name:snap-daily-2300-7d"]}), 422)
    refused(await api.patch(path, json={"remove_snapshot_rule_ids": ["name:snap-4h-3d"]}), 422)
    everything = ["name:snap-daily-2300-7d", "name:snap-weekly-sun-30d"]
    refused(await api.patch(path, json={"remove_snapshot_rule_ids": everything}), 422)
    refused(await api.patch(path, json={"add_snapshot_rule_ids": ["missing"]}), 404)
    iops = (await all_of(api, "io_limit_rule", "id"))[0]
    refused(await api.patch(path, json={"io_limit_rule_id": iops["id"]}), 400)
    refused(await api.patch(path, json={"name": "pp-gold"}), 422, errors.CODE_NAME_IN_USE)
    refused(await api.patch(path, json={"type": "QoS"}), 400, errors.CODE_UNKNOWN_PROPERTY)


async def test_delete_policy(api):
    created = await api.post(
        "/policy", json={"name": "short-lived", "snapshot_rule_ids": ["name:snap-4h-3d"]}
    )
    policy_id = created.json()["id"]
    response = await api.delete(f"/policy/{policy_id}")
    assert response.status_code == 204, response.text
    refused(await api.get(f"/policy/{policy_id}"), 404)
    rule = await by_name(api, "snapshot_rule", "snap-4h-3d", "policies(name)")
    assert {"name": "short-lived"} not in rule["policies"]


async def test_delete_assigned_policy_is_refused(api):
    policy = await by_name(api, "policy", "pp-file-daily", "id,file_systems(name)")
    assert policy["file_systems"], "the seed assigns this policy to file systems"
    message = refused(await api.delete(f"/policy/{policy['id']}"), 422, errors.CODE_IN_USE)
    assert policy["id"] in message["arguments"]


async def test_clone_policy_copies_its_rules(api):
    gold = await by_name(api, "policy", "pp-gold", "id,snapshot_rules(name),replication_rules(name)")
    response = await api.post(f"/policy/{gold['id']}/clone", json={"name": "pp-gold-copy"})
    assert response.status_code == 200, response.text
    clone = (
        await api.get(
            f"/policy/{response.json()['id']}",
            params={"select": "name,type,snapshot_rules(name),replication_rules(name),file_systems,volumes"},
        )
    ).json()
    assert clone["snapshot_rules"] == gold["snapshot_rules"]
    assert clone["replication_rules"] == gold["replication_rules"]
    assert (clone["type"], clone["file_systems"], clone["volumes"]) == ("Protection", [], [])
    refused(await api.post(f"/policy/{gold['id']}/clone", json={"name": "pp-gold-copy"}), 422)
    refused(await api.post("/policy/missing/clone", json={"name": "x"}), 404)


async def test_async_policy_delete_and_modify(api):
    created = await api.post("/policy", json={"name": "async-pp", "snapshot_rule_ids": ["name:snap-4h-3d"]})
    policy_id = created.json()["id"]
    response = await api.patch(
        f"/policy/{policy_id}", params={"is_async": "true"}, json={"name": "async-pp-2"}
    )
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert (job["phase"], job["response_body"]) == ("Completed", None)
    response = await api.delete(f"/policy/{policy_id}", params={"is_async": "true"})
    assert response.status_code == 202
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    refused(await api.get(f"/policy/{policy_id}"), 404)


async def test_operator_may_not_create_policies(operator):
    response = await operator.post("/policy", json={"name": "x", "snapshot_rule_ids": ["name:snap-4h-3d"]})
    refused(response, 403, errors.CODE_FORBIDDEN)
