"""Snapshot rules and replication rules: the schedules that protection policies are made of.

File snapshots taken by a schedule carry the rule in ``_snapshot_rule_id``; volume snapshots say so in
``protection_data.created_by_rule_id``. Deleting a rule with ``delete_snaps`` deletes those snapshots,
except volume snapshots in a snapshot set (the set goes as a whole).
"""

from __future__ import annotations

import re
from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import noun, renamed, require_free_name, target
from console.simulator.handlers.policies import (
    USER,
    policy_assignments,
    refuse_system_managed,
    user_copy,
)
from console.simulator.handlers.volume_family import SNAPSHOT, delete_volume_tree
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    Sim,
    created,
    done,
    operation,
    relation,
)
from console.simulator.store import Record

ALL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# Local snapshots are kept at most a year; the spec's 613200 hours (70 years) is for remote backup.
LOCAL_RETENTION_MAX_HOURS = 8760

RPO_MINUTES = {
    "Zero": 0,
    "Five_Minutes": 5,
    "Fifteen_Minutes": 15,
    "Thirty_Minutes": 30,
    "One_Hour": 60,
    "Six_Hours": 360,
    "Twelve_Hours": 720,
    "One_Day": 1440,
}
# Remote system capabilities a rule needs.
REMOTE_BACKUP = "Remote_Backup"
ASYNC_REPLICATION = ("Asynchronous_Block_Replication", "Asynchronous_File_Replication")
SYNC_REPLICATION = ("Synchronous_Block_Replication", "Block_Metro_Active_Active")


def remote_system_with(sim: Sim, ref: str, capabilities: tuple[str, ...], purpose: str) -> Record:
    remote = sim.store.require("remote_system", ref)
    if not set(capabilities) & set(remote.get("capabilities") or []):
        raise errors.unprocessable(
            f"The remote system {remote['name']} does not support {purpose}.", remote["id"], purpose
        )
    return remote


def _policies_of_rule(sim: Sim, rule_type: str, rule_id: str) -> list[Record]:
    return sim.store.related("policy", f"_{rule_type}_ids", rule_id)


def _assigned(sim: Sim, policies: list[Record]) -> list[Record]:
    return [p for p in policies if policy_assignments(sim, p["id"])]


def _rule_to_delete(sim: Sim, req: OpRequest) -> Record:
    """The rule a delete request targets, once it is known to be the user's and unused."""
    rule = target(sim, req)
    refuse_system_managed(req.resource_type, rule, "deleted")
    policies = _policies_of_rule(sim, req.resource_type, rule["id"])
    if policies:
        names = ", ".join(sorted(p["name"] for p in policies))
        state = "the assigned policies" if _assigned(sim, policies) else "the policies"
        raise errors.unprocessable(
            f"The {noun(req.resource_type)} {rule['name']} is used by {state} {names}; "
            "remove it from them first.",
            rule["id"],
            names,
            code=errors.CODE_IN_USE,
        )
    return rule


@operation("snapshot_rule", "clone", roles=STORAGE_ROLES)
@operation("replication_rule", "clone", roles=STORAGE_ROLES)
def clone_rule(sim: Sim, req: OpRequest) -> OpResult:
    rule = target(sim, req)
    clone = user_copy(sim, req.resource_type, rule, req.body)
    return done(rule, body={"id": clone["id"]})


# -- snapshot rules ------------------------------------------------------------------------------------


def _check_schedule(interval: str | None, time_of_day: str | None) -> None:
    if interval is not None and time_of_day is not None:
        raise errors.bad_request(
            "A snapshot rule takes either interval or time_of_day, not both.",
            "interval",
            "time_of_day",
            code=errors.CODE_INVALID_VALUE,
        )
    if interval is None and time_of_day is None:
        raise errors.bad_request(
            "A snapshot rule needs an interval or a time_of_day.",
            "interval",
            "time_of_day",
            code=errors.CODE_MISSING_REQUIRED,
        )
    if time_of_day is not None and TIME_OF_DAY.fullmatch(time_of_day) is None:
        raise errors.bad_request(
            f"time_of_day must be hh:mm on a 24-hour clock, not {time_of_day!r}.",
            "time_of_day",
            time_of_day,
            code=errors.CODE_INVALID_VALUE,
        )


def _days(days: list[str]) -> list[str]:
    if not days:
        raise errors.bad_request(
            "days_of_week needs at least one day.", "days_of_week", code=errors.CODE_INVALID_VALUE
        )
    return [d for d in ALL_DAYS if d in days]


def _check_retention(hours: int, remote_system_id: str | None) -> None:
    if remote_system_id is None and hours > LOCAL_RETENTION_MAX_HOURS:
        raise errors.bad_request(
            f"A local snapshot rule keeps snapshots at most {LOCAL_RETENTION_MAX_HOURS} hours (one year); "
            f"{hours} hours needs a remote system.",
            "desired_retention",
            hours,
            code=errors.CODE_RANGE,
        )


def _backup_system(sim: Sim, ref: str) -> Record:
    return remote_system_with(sim, ref, (REMOTE_BACKUP,), "remote backup")


def insert_snapshot_rule(sim: Sim, **values: Any) -> Record:
    """A new user-managed snapshot rule, every day of the week in UTC unless ``values`` say otherwise."""
    record: Record = {
        "id": sim.new_id(),
        "remote_system_id": None,
        "timezone": "UTC",
        "days_of_week": list(ALL_DAYS),
        "is_replica": False,
        "nas_access_type": "Snapshot",
        "is_read_only": False,
        "managed_by": USER,
        "managed_by_id": None,
        "is_secure": False,
    }
    record.update(values)
    return sim.insert("snapshot_rule", **record)


@operation("snapshot_rule", "create", roles=STORAGE_ROLES)
def create_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "snapshot_rule", body["name"])
    interval, time_of_day = body.get("interval"), body.get("time_of_day")
    _check_schedule(interval, time_of_day)
    remote_id = None
    if body.get("remote_system_id") is not None:
        remote_id = _backup_system(sim, body["remote_system_id"])["id"]
    _check_retention(body["desired_retention"], remote_id)
    settings: dict[str, Any] = {
        k: body[k] for k in ("timezone", "nas_access_type", "is_read_only", "is_secure") if k in body
    }
    if "days_of_week" in body:
        settings["days_of_week"] = _days(body["days_of_week"])
    rule = insert_snapshot_rule(
        sim,
        name=body["name"],
        remote_system_id=remote_id,
        interval=interval,
        time_of_day=time_of_day,
        desired_retention=body["desired_retention"],
        **settings,
    )
    return created(rule)


@operation("snapshot_rule", "modify", roles=STORAGE_ROLES)
def modify_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    rule = target(sim, req)
    body = req.body
    refuse_system_managed("snapshot_rule", rule, "changed")
    changes = renamed(sim, "snapshot_rule", rule, body)
    if "interval" in body or "time_of_day" in body:
        _check_schedule(body.get("interval"), body.get("time_of_day"))
        # Switching the kind of schedule drops the other one.
        changes["interval"] = body.get("interval")
        changes["time_of_day"] = body.get("time_of_day")
    if "days_of_week" in body:
        changes["days_of_week"] = _days(body["days_of_week"])
    if "remote_system_id" in body:
        changes["remote_system_id"] = _backup_system(sim, body["remote_system_id"])["id"]
    for key in ("timezone", "desired_retention", "nas_access_type", "is_secure"):
        if key in body:
            changes[key] = body[key]
    after = {**rule, **changes}
    _check_retention(after["desired_retention"], after["remote_system_id"])
    return done(sim.update("snapshot_rule", rule["id"], changes))


@operation("snapshot_rule", "delete", roles=STORAGE_ROLES)
def delete_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    rule = _rule_to_delete(sim, req)
    if req.body.get("delete_snaps", False):
        _delete_rule_snapshots(sim, rule["id"])
    sim.store.delete("snapshot_rule", rule["id"])
    return done(rule)


def _delete_rule_snapshots(sim: Sim, rule_id: str) -> None:
    """Delete the snapshots the rule's schedule took, but for members of snapshot sets. A clone of a
    deleted volume snapshot then hangs from the snapshot's source, as after deleting the snapshot."""
    for snap in list(sim.store.related("file_system", "_snapshot_rule_id", rule_id)):
        sim.store.delete("file_system", snap["id"])
    doomed = [
        volume
        for volume in sim.store.related("volume", "type", SNAPSHOT)
        if (volume.get("protection_data") or {}).get("created_by_rule_id") == rule_id
        and not volume.get("_volume_group_id")
    ]
    for volume in doomed:
        delete_volume_tree(sim, volume)


@relation("snapshot_rule", "policies")
def snapshot_rule_policies(sim: Sim, record: Record) -> list[Record]:
    return _policies_of_rule(sim, "snapshot_rule", record["id"])


# -- replication rules ---------------------------------------------------------------------------------


def _replication_remote(sim: Sim, ref: str, rpo: str) -> Record:
    if rpo == "Zero":
        return remote_system_with(sim, ref, SYNC_REPLICATION, "synchronous replication")
    return remote_system_with(sim, ref, ASYNC_REPLICATION, "asynchronous replication")


def insert_replication_rule(sim: Sim, **values: Any) -> Record:
    """A new user-managed replication rule; its alert threshold is its RPO unless ``values`` say
    otherwise."""
    record: Record = {
        "id": sim.new_id(),
        "is_replica": False,
        "is_read_only": False,
        "alert_threshold": RPO_MINUTES[values["rpo"]],
        "managed_by": USER,
        "managed_by_id": None,
    }
    record.update(values)
    return sim.insert("replication_rule", **record)


@operation("replication_rule", "create", roles=STORAGE_ROLES)
def create_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "replication_rule", body["name"])
    remote = _replication_remote(sim, body["remote_system_id"], body["rpo"])
    settings = {k: body[k] for k in ("is_read_only", "alert_threshold") if k in body}
    rule = insert_replication_rule(
        sim, name=body["name"], rpo=body["rpo"], remote_system_id=remote["id"], **settings
    )
    return created(rule)


@operation("replication_rule", "modify", roles=STORAGE_ROLES)
def modify_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    rule = target(sim, req)
    body = req.body
    refuse_system_managed("replication_rule", rule, "changed")
    changes = renamed(sim, "replication_rule", rule, body)
    wanted = {**rule, **body}
    rpo = wanted["rpo"]
    if "remote_system_id" in body or "rpo" in body:
        remote = _replication_remote(sim, wanted["remote_system_id"], rpo)
        if remote["id"] != rule["remote_system_id"]:
            assigned = _assigned(sim, _policies_of_rule(sim, "replication_rule", rule["id"]))
            if assigned:
                raise errors.unprocessable(
                    f"The replication rule {rule['name']} is in use by the assigned policy "
                    f"{assigned[0]['name']}; its remote system cannot change.",
                    rule["id"],
                    assigned[0]["id"],
                    code=errors.CODE_IN_USE,
                )
        changes["remote_system_id"] = remote["id"]
        changes["rpo"] = rpo
    if "alert_threshold" in body:
        changes["alert_threshold"] = body["alert_threshold"]
    return done(sim.update("replication_rule", rule["id"], changes))


@operation("replication_rule", "delete", roles=STORAGE_ROLES)
def delete_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    rule = _rule_to_delete(sim, req)
    sim.store.delete("replication_rule", rule["id"])
    return done(rule)


@relation("replication_rule", "policies")
def replication_rule_policies(sim: Sim, record: Record) -> list[Record]:
    return _policies_of_rule(sim, "replication_rule", record["id"])
