"""Policies (protection, performance, QoS, file QoS), snapshot rules and replication rules.

Hidden fields: a policy keeps its rules in ``_snapshot_rule_ids`` / ``_replication_rule_ids`` (lists, so
``store.lookup`` finds the policies of a rule) and its block QoS rule in ``_io_limit_rule_id`` (the
instance shows it only through the ``io_limit_rule`` relation). File snapshots taken by a schedule
carry ``_snapshot_rule_id``; volume snapshots say so in ``protection_data.created_by_rule_id``.

The predefined performance policies (``default_high``, ``default_medium``, ``default_low``) cannot be
changed, deleted or cloned. Rules and policies that the array manages itself (``managed_by`` other
than ``User``, or ``is_read_only``) cannot be changed or deleted, and are cloned only with ``force``.

Assigning policies is the business of the assigned resources (volume, volume group, file system,
NAS server): they check the kind of the policy with ``require_policy``.
"""

from __future__ import annotations

import re
from typing import Any

from console.simulator import errors
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    RelationRule,
    Sim,
    created,
    done,
    operation,
    relation,
)
from console.simulator.store import Record

PROTECTION, PERFORMANCE, QOS, FILE_PERFORMANCE = "Protection", "Performance", "QoS", "File_Performance"
USER = "User"

# Where resources point at policies, and which kind of policy each field takes.
ASSIGNMENT_FIELDS: dict[str, dict[str, str]] = {
    "volume": {
        "protection_policy_id": PROTECTION,
        "performance_policy_id": PERFORMANCE,
        "qos_performance_policy_id": QOS,
    },
    "volume_group": {"protection_policy_id": PROTECTION, "qos_performance_policy_id": QOS},
    "file_system": {"protection_policy_id": PROTECTION, "performance_policy_id": FILE_PERFORMANCE},
    "nas_server": {"protection_policy_id": PROTECTION, "performance_policy_id": FILE_PERFORMANCE},
}

PREDEFINED_PERFORMANCE = (("default_high", "High"), ("default_medium", "Medium"), ("default_low", "Low"))
DEFAULT_PERFORMANCE_POLICY = "default_medium"

ALL_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TIME_OF_DAY = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
# Local snapshots are kept at most a year; the spec's 613200 hours (70 years) is for remote backup.
LOCAL_RETENTION_MAX_HOURS = 8760
MAX_LOCAL_SNAPSHOT_RULES = 4

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

# Names of seeded records other seed modules pick by name.
FILE_POLICY_NAME = "pp-file-daily"
FILE_QOS_POLICY_NAME = "fqos-500mbps"
DAILY_RULE_NAME = "snap-daily-2300-7d"


# -- helpers shared with other handler modules ------------------------------------------------------------


def require_policy(sim: Sim, ref: str, kind: str, field: str) -> Record:
    """The policy ``ref`` names (id or ``name:<n>``) for the assignment field ``field``: 404 when it does
    not exist, 422 when it is not of ``kind`` (``Protection``, ``Performance``, ``QoS``,
    ``File_Performance``)."""
    policy = sim.store.require("policy", ref)
    if policy["type"] != kind:
        raise errors.unprocessable(
            f"The policy {policy['name']} is a {policy['type']} policy; {field} takes a {kind} policy.",
            policy["id"],
            field,
        )
    return policy


def policy_assignments(sim: Sim, policy_id: str) -> list[tuple[str, Record]]:
    """Every resource the policy is assigned to, as (type, record)."""
    found: list[tuple[str, Record]] = []
    for type_name, fields in ASSIGNMENT_FIELDS.items():
        for field in fields:
            found += [(type_name, r) for r in sim.store.related(type_name, field, policy_id)]
    return found


def require_unique_name(sim: Sim, type_name: str, name: str, except_id: str | None = None) -> None:
    if sim.store.name_taken(type_name, name, except_id=except_id):
        kind = type_name.replace("_", " ")
        raise errors.unprocessable(
            f"The name {name} is already used by another {kind}.", name, code=errors.CODE_NAME_IN_USE
        )


def _user_managed(record: Record) -> bool:
    return record.get("managed_by") in (None, USER) and not record.get("is_read_only")


def _refuse_system_managed(record: Record, kind: str, verb: str) -> None:
    if not _user_managed(record):
        raise errors.unprocessable(
            f"The {kind} {record['name']} is managed by the system ({record.get('managed_by')}) "
            f"and cannot be {verb}.",
            record["id"],
        )


def _check_clone_source(record: Record, kind: str, force: bool) -> None:
    if not _user_managed(record) and not force:
        raise errors.unprocessable(
            f"The {kind} {record['name']} is not managed by a user; cloning it needs force=true.",
            record["id"],
        )


def _resolve_ids(sim: Sim, type_name: str, refs: list[str]) -> list[str]:
    """The ids behind ``refs`` (ids or ``name:<n>``), without repeats, in the order given."""
    ids: list[str] = []
    for ref in refs:
        rid = sim.store.require(type_name, ref)["id"]
        if rid not in ids:
            ids.append(rid)
    return ids


def _remote_system(sim: Sim, ref: str, capabilities: tuple[str, ...], purpose: str) -> Record:
    remote = sim.store.require("remote_system", ref)
    if not set(capabilities) & set(remote.get("capabilities") or []):
        raise errors.unprocessable(
            f"The remote system {remote['name']} does not support {purpose}.", remote["id"], purpose
        )
    return remote


# -- snapshot rules -------------------------------------------------------------------------------------


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


def _policies_of_rule(sim: Sim, rule_type: str, rule_id: str) -> list[Record]:
    return sim.store.related("policy", f"_{rule_type}_ids", rule_id)


@operation("snapshot_rule", "create", roles=STORAGE_ROLES)
def create_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_unique_name(sim, "snapshot_rule", body["name"])
    interval, time_of_day = body.get("interval"), body.get("time_of_day")
    _check_schedule(interval, time_of_day)
    remote_id = None
    if body.get("remote_system_id") is not None:
        remote_id = _remote_system(sim, body["remote_system_id"], (REMOTE_BACKUP,), "remote backup")["id"]
    _check_retention(body["desired_retention"], remote_id)
    days = _days(body["days_of_week"]) if "days_of_week" in body else list(ALL_DAYS)
    rule = sim.insert(
        "snapshot_rule",
        id=sim.new_id(),
        name=body["name"],
        remote_system_id=remote_id,
        interval=interval,
        time_of_day=time_of_day,
        timezone=body.get("timezone", "UTC"),
        days_of_week=days,
        desired_retention=body["desired_retention"],
        is_replica=False,
        nas_access_type=body.get("nas_access_type", "Snapshot"),
        is_read_only=body.get("is_read_only", False),
        managed_by=USER,
        managed_by_id=None,
        is_secure=body.get("is_secure", False),
    )
    return created(rule)


@operation("snapshot_rule", "modify", roles=STORAGE_ROLES)
def modify_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    rule = sim.store.get("snapshot_rule", req.target_id)
    assert rule is not None
    body = req.body
    _refuse_system_managed(rule, "snapshot rule", "changed")
    changes: dict[str, Any] = {}
    if "name" in body:
        require_unique_name(sim, "snapshot_rule", body["name"], except_id=rule["id"])
        changes["name"] = body["name"]
    if "interval" in body or "time_of_day" in body:
        _check_schedule(body.get("interval"), body.get("time_of_day"))
        # Switching the kind of schedule drops the other one.
        changes["interval"] = body.get("interval")
        changes["time_of_day"] = body.get("time_of_day")
    if "days_of_week" in body:
        changes["days_of_week"] = _days(body["days_of_week"])
    if "remote_system_id" in body:
        remote = _remote_system(sim, body["remote_system_id"], (REMOTE_BACKUP,), "remote backup")
        changes["remote_system_id"] = remote["id"]
    for key in ("timezone", "desired_retention", "nas_access_type", "is_secure"):
        if key in body:
            changes[key] = body[key]
    after = {**rule, **changes}
    _check_retention(after["desired_retention"], after["remote_system_id"])
    return done(sim.update("snapshot_rule", rule["id"], changes))


@operation("snapshot_rule", "delete", roles=STORAGE_ROLES)
def delete_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    rule = sim.store.get("snapshot_rule", req.target_id)
    assert rule is not None
    _refuse_system_managed(rule, "snapshot rule", "deleted")
    policies = _policies_of_rule(sim, "snapshot_rule", rule["id"])
    if policies:
        names = ", ".join(sorted(p["name"] for p in policies))
        raise errors.unprocessable(
            f"The snapshot rule {rule['name']} is used by the policies {names}; remove it from them first.",
            rule["id"],
            names,
            code=errors.CODE_IN_USE,
        )
    if req.body.get("delete_snaps", False):
        _delete_rule_snapshots(sim, rule["id"])
    sim.store.delete("snapshot_rule", rule["id"])
    return done(rule)


def _delete_rule_snapshots(sim: Sim, rule_id: str) -> None:
    """Delete the snapshots the rule's schedule took. Volume snapshots that are mapped, in a snapshot
    set or the parent of other volumes stay (volumes.py keeps those links)."""
    for snap in list(sim.store.related("file_system", "_snapshot_rule_id", rule_id)):
        sim.store.delete("file_system", snap["id"])
    # Decide first, delete after: each deletion invalidates the store's indexes.
    doomed = [
        volume["id"]
        for volume in sim.store.related("volume", "type", "Snapshot")
        if (volume.get("protection_data") or {}).get("created_by_rule_id") == rule_id
        and not volume.get("_volume_group_id")
        and not sim.store.lookup("host_volume_mapping", "volume_id", volume["id"])
        and not sim.store.lookup("volume", "_parent_id", volume["id"])
    ]
    for volume_id in doomed:
        sim.store.delete("volume", volume_id)


@operation("snapshot_rule", "clone", roles=STORAGE_ROLES)
def clone_snapshot_rule(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    rule = sim.store.get("snapshot_rule", req.target_id)
    assert rule is not None
    _check_clone_source(rule, "snapshot rule", req.body.get("force", False))
    require_unique_name(sim, "snapshot_rule", req.body["name"])
    copy = {k: v for k, v in rule.items() if not k.startswith("_")}
    copy.update(
        id=sim.new_id(),
        name=req.body["name"],
        is_replica=False,
        is_read_only=False,
        managed_by=USER,
        managed_by_id=None,
    )
    clone = sim.insert("snapshot_rule", **copy)
    return done(rule, body={"id": clone["id"]})


@relation("snapshot_rule", "policies")
def snapshot_rule_policies(sim: Sim, record: Record) -> list[Record]:
    return _policies_of_rule(sim, "snapshot_rule", record["id"])


# -- replication rules ----------------------------------------------------------------------------------


def _replication_remote(sim: Sim, ref: str, rpo: str) -> Record:
    if rpo == "Zero":
        return _remote_system(sim, ref, SYNC_REPLICATION, "synchronous replication")
    return _remote_system(sim, ref, ASYNC_REPLICATION, "asynchronous replication")


def _assigned_policies(sim: Sim, policies: list[Record]) -> list[Record]:
    return [p for p in policies if policy_assignments(sim, p["id"])]


@operation("replication_rule", "create", roles=STORAGE_ROLES)
def create_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_unique_name(sim, "replication_rule", body["name"])
    remote = _replication_remote(sim, body["remote_system_id"], body["rpo"])
    rule = sim.insert(
        "replication_rule",
        id=sim.new_id(),
        name=body["name"],
        rpo=body["rpo"],
        remote_system_id=remote["id"],
        is_replica=False,
        is_read_only=body.get("is_read_only", False),
        alert_threshold=body.get("alert_threshold", RPO_MINUTES[body["rpo"]]),
        managed_by=USER,
        managed_by_id=None,
    )
    return created(rule)


@operation("replication_rule", "modify", roles=STORAGE_ROLES)
def modify_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    rule = sim.store.get("replication_rule", req.target_id)
    assert rule is not None
    body = req.body
    _refuse_system_managed(rule, "replication rule", "changed")
    changes: dict[str, Any] = {}
    if "name" in body:
        require_unique_name(sim, "replication_rule", body["name"], except_id=rule["id"])
        changes["name"] = body["name"]
    wanted = {**rule, **body}
    rpo = wanted["rpo"]
    if "remote_system_id" in body or "rpo" in body:
        remote = _replication_remote(sim, wanted["remote_system_id"], rpo)
        if remote["id"] != rule["remote_system_id"]:
            assigned = _assigned_policies(sim, _policies_of_rule(sim, "replication_rule", rule["id"]))
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
    assert req.target_id is not None
    rule = sim.store.get("replication_rule", req.target_id)
    assert rule is not None
    _refuse_system_managed(rule, "replication rule", "deleted")
    policies = _policies_of_rule(sim, "replication_rule", rule["id"])
    if policies:
        names = ", ".join(sorted(p["name"] for p in policies))
        assigned = _assigned_policies(sim, policies)
        state = "the assigned policies" if assigned else "the policies"
        raise errors.unprocessable(
            f"The replication rule {rule['name']} is used by {state} {names}; remove it from them first.",
            rule["id"],
            names,
            code=errors.CODE_IN_USE,
        )
    sim.store.delete("replication_rule", rule["id"])
    return done(rule)


@operation("replication_rule", "clone", roles=STORAGE_ROLES)
def clone_replication_rule(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    rule = sim.store.get("replication_rule", req.target_id)
    assert rule is not None
    _check_clone_source(rule, "replication rule", req.body.get("force", False))
    require_unique_name(sim, "replication_rule", req.body["name"])
    copy = {k: v for k, v in rule.items() if not k.startswith("_")}
    copy.update(
        id=sim.new_id(),
        name=req.body["name"],
        is_replica=False,
        is_read_only=False,
        managed_by=USER,
        managed_by_id=None,
    )
    clone = sim.insert("replication_rule", **copy)
    return done(rule, body={"id": clone["id"]})


@relation("replication_rule", "policies")
def replication_rule_policies(sim: Sim, record: Record) -> list[Record]:
    return _policies_of_rule(sim, "replication_rule", record["id"])


# -- policies ----------------------------------------------------------------------------------------------


def _check_rule_set(sim: Sim, snapshot_ids: list[str], replication_ids: list[str]) -> None:
    """The limits of one protection policy: a few local snapshot rules, one remote backup rule, one
    asynchronous and one synchronous replication rule."""
    snapshot_rules = [sim.store.get("snapshot_rule", i) or {} for i in snapshot_ids]
    local = [r for r in snapshot_rules if not r.get("remote_system_id")]
    if len(local) > MAX_LOCAL_SNAPSHOT_RULES:
        raise errors.unprocessable(
            f"A protection policy takes at most {MAX_LOCAL_SNAPSHOT_RULES} local snapshot rules.",
            MAX_LOCAL_SNAPSHOT_RULES,
        )
    if len(snapshot_rules) - len(local) > 1:
        raise errors.unprocessable("A protection policy takes at most one remote backup snapshot rule.", 1)
    replication_rules = [sim.store.get("replication_rule", i) or {} for i in replication_ids]
    sync = [r for r in replication_rules if r.get("rpo") == "Zero"]
    if len(sync) > 1 or len(replication_rules) - len(sync) > 1:
        raise errors.unprocessable(
            "A protection policy takes at most one asynchronous and one synchronous replication rule.", 1
        )


def _kind_from_body(body: dict[str, Any]) -> str:
    kinds = set()
    if body.get("snapshot_rule_ids") or body.get("replication_rule_ids"):
        kinds.add(PROTECTION)
    if body.get("io_limit_rule_id") is not None:
        kinds.add(QOS)
    if body.get("file_io_limit_rule_id") is not None:
        kinds.add(FILE_PERFORMANCE)
    if not kinds:
        raise errors.bad_request(
            "A policy needs at least one snapshot or replication rule, or an I/O limit rule.",
            "snapshot_rule_ids",
            "replication_rule_ids",
            code=errors.CODE_MISSING_REQUIRED,
        )
    if len(kinds) > 1:
        raise errors.bad_request(
            "A policy holds protection rules or one I/O limit rule, not a mix of them.",
            code=errors.CODE_INVALID_VALUE,
        )
    return kinds.pop()


@operation("policy", "create", roles=STORAGE_ROLES)
def create_policy(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_unique_name(sim, "policy", body["name"])
    kind = _kind_from_body(body)
    values: dict[str, Any] = {
        "id": sim.new_id(),
        "name": body["name"],
        "description": body.get("description"),
        "type": kind,
        "managed_by": USER,
        "managed_by_id": None,
        "is_read_only": False,
        "is_replica": False,
        "_snapshot_rule_ids": [],
        "_replication_rule_ids": [],
        "_io_limit_rule_id": None,
    }
    if kind == PROTECTION:
        values["_snapshot_rule_ids"] = _resolve_ids(sim, "snapshot_rule", body.get("snapshot_rule_ids", []))
        values["_replication_rule_ids"] = _resolve_ids(
            sim, "replication_rule", body.get("replication_rule_ids", [])
        )
        _check_rule_set(sim, values["_snapshot_rule_ids"], values["_replication_rule_ids"])
    elif kind == QOS:
        values["_io_limit_rule_id"] = sim.store.require("io_limit_rule", body["io_limit_rule_id"])["id"]
    else:
        values["file_io_limit_rule_id"] = sim.store.require(
            "file_io_limit_rule", body["file_io_limit_rule_id"]
        )["id"]
    return created(sim.insert("policy", **values))


def _new_rule_list(sim: Sim, policy: Record, body: dict[str, Any], rule_type: str) -> list[str] | None:
    """The policy's rule ids of ``rule_type`` after the change, or None when the body leaves them."""
    whole, add, remove = f"{rule_type}_ids", f"add_{rule_type}_ids", f"remove_{rule_type}_ids"
    if whole not in body and add not in body and remove not in body:
        return None
    if whole in body and (add in body or remove in body):
        raise errors.bad_request(
            f"{whole} replaces the whole list; it cannot come with {add} or {remove}.",
            whole,
            code=errors.CODE_INVALID_VALUE,
        )
    if whole in body:
        return _resolve_ids(sim, rule_type, body[whole])
    current = list(policy[f"_{rule_type}_ids"])
    for rid in _resolve_ids(sim, rule_type, body.get(add, [])):
        if rid in current:
            raise errors.unprocessable(
                f"The {rule_type.replace('_', ' ')} {rid} is already in the policy {policy['name']}.", rid
            )
        current.append(rid)
    for rid in _resolve_ids(sim, rule_type, body.get(remove, [])):
        if rid not in current:
            raise errors.unprocessable(
                f"The {rule_type.replace('_', ' ')} {rid} is not in the policy {policy['name']}.", rid
            )
        current.remove(rid)
    return current


def _refuse_fixed_policy(policy: Record, verb: str) -> None:
    if policy["type"] == PERFORMANCE:
        raise errors.unprocessable(
            f"The performance policy {policy['name']} is predefined and cannot be {verb}.", policy["id"]
        )
    _refuse_system_managed(policy, "policy", verb)


@operation("policy", "modify", roles=STORAGE_ROLES)
def modify_policy(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    policy = sim.store.get("policy", req.target_id)
    assert policy is not None
    body = req.body
    _refuse_fixed_policy(policy, "changed")
    changes: dict[str, Any] = {}
    if "name" in body:
        require_unique_name(sim, "policy", body["name"], except_id=policy["id"])
        changes["name"] = body["name"]
    if "description" in body:
        changes["description"] = body["description"]
    snapshot_ids = _new_rule_list(sim, policy, body, "snapshot_rule")
    replication_ids = _new_rule_list(sim, policy, body, "replication_rule")
    if snapshot_ids is not None or replication_ids is not None:
        if policy["type"] != PROTECTION:
            raise errors.bad_request(
                f"The policy {policy['name']} is a {policy['type']} policy; it takes no protection rules.",
                policy["id"],
                code=errors.CODE_INVALID_VALUE,
            )
        snapshot_ids = policy["_snapshot_rule_ids"] if snapshot_ids is None else snapshot_ids
        replication_ids = policy["_replication_rule_ids"] if replication_ids is None else replication_ids
        if not snapshot_ids and not replication_ids:
            raise errors.unprocessable(
                f"The protection policy {policy['name']} would be left without rules.", policy["id"]
            )
        _check_rule_set(sim, snapshot_ids, replication_ids)
        changes["_snapshot_rule_ids"] = snapshot_ids
        changes["_replication_rule_ids"] = replication_ids
    for field, rule_type, kind, hidden in (
        ("io_limit_rule_id", "io_limit_rule", QOS, "_io_limit_rule_id"),
        ("file_io_limit_rule_id", "file_io_limit_rule", FILE_PERFORMANCE, "file_io_limit_rule_id"),
    ):
        if field not in body:
            continue
        if policy["type"] != kind:
            raise errors.bad_request(
                f"The policy {policy['name']} is a {policy['type']} policy; {field} is for {kind} policies.",
                field,
                code=errors.CODE_INVALID_VALUE,
            )
        rule_id = sim.store.require(rule_type, body[field])["id"]
        if rule_id != policy[hidden] and policy_assignments(sim, policy["id"]):
            raise errors.unprocessable(
                f"The policy {policy['name']} is assigned; its limit rule changes only while unassigned.",
                policy["id"],
                code=errors.CODE_IN_USE,
            )
        changes[hidden] = rule_id
    return done(sim.update("policy", policy["id"], changes))


@operation("policy", "delete", roles=STORAGE_ROLES)
def delete_policy(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    policy = sim.store.get("policy", req.target_id)
    assert policy is not None
    _refuse_fixed_policy(policy, "deleted")
    assigned = policy_assignments(sim, policy["id"])
    if assigned:
        type_name, record = assigned[0]
        raise errors.unprocessable(
            f"The policy {policy['name']} is assigned to {len(assigned)} resource(s), among them the "
            f"{type_name.replace('_', ' ')} {record.get('name')}; unassign it first.",
            policy["id"],
            record["id"],
            code=errors.CODE_IN_USE,
        )
    sim.store.delete("policy", policy["id"])
    return done(policy)


@operation("policy", "clone", roles=STORAGE_ROLES)
def clone_policy(sim: Sim, req: OpRequest) -> OpResult:
    assert req.target_id is not None
    policy = sim.store.get("policy", req.target_id)
    assert policy is not None
    if policy["type"] == PERFORMANCE:
        raise errors.unprocessable(
            f"The performance policy {policy['name']} is predefined and cannot be cloned.", policy["id"]
        )
    _check_clone_source(policy, "policy", req.body.get("force", False))
    require_unique_name(sim, "policy", req.body["name"])
    copy = dict(policy)
    copy.update(
        id=sim.new_id(),
        name=req.body["name"],
        managed_by=USER,
        managed_by_id=None,
        is_read_only=False,
        is_replica=False,
        _snapshot_rule_ids=list(policy["_snapshot_rule_ids"]),
        _replication_rule_ids=list(policy["_replication_rule_ids"]),
    )
    clone = sim.insert("policy", **copy)
    return done(policy, body={"id": clone["id"]})


def _rules(sim: Sim, rule_type: str, ids: list[str]) -> list[Record]:
    return [r for r in (sim.store.get(rule_type, i) for i in ids) if r is not None]


@relation("policy", "snapshot_rules")
def policy_snapshot_rules(sim: Sim, record: Record) -> list[Record]:
    return _rules(sim, "snapshot_rule", record.get("_snapshot_rule_ids") or [])


@relation("policy", "replication_rules")
def policy_replication_rules(sim: Sim, record: Record) -> list[Record]:
    return _rules(sim, "replication_rule", record.get("_replication_rule_ids") or [])


@relation("policy", "io_limit_rule")
def policy_io_limit_rule(sim: Sim, record: Record) -> Record | None:
    rule_id = record.get("_io_limit_rule_id")
    return sim.store.get("io_limit_rule", rule_id) if rule_id else None


@relation("io_limit_rule", "policies")
def io_limit_rule_policies(sim: Sim, record: Record) -> list[Record]:
    return sim.store.related("policy", "_io_limit_rule_id", record["id"])


def _assigned_by(type_name: str, *fields: str) -> RelationRule:
    """Register ``policy.<relation>`` as the records of ``type_name`` whose ``fields`` hold the policy."""

    def rule(sim: Sim, record: Record) -> list[Record]:
        found: dict[str, Record] = {}
        for field in fields:
            for item in sim.store.related(type_name, field, record["id"]):
                found.setdefault(item["id"], item)
        return list(found.values())

    return rule


relation("policy", "volumes")(_assigned_by("volume", "protection_policy_id", "performance_policy_id"))
relation("policy", "qos_volumes")(_assigned_by("volume", "qos_performance_policy_id"))
relation("policy", "volume_groups")(_assigned_by("volume_group", "protection_policy_id"))
relation("policy", "qos_volume_groups")(_assigned_by("volume_group", "qos_performance_policy_id"))
relation("policy", "file_systems")(_assigned_by("file_system", "protection_policy_id"))
relation("policy", "file_systems_with_qos")(_assigned_by("file_system", "performance_policy_id"))
relation("policy", "nas_servers")(_assigned_by("nas_server", "protection_policy_id"))
relation("policy", "nas_servers_with_qos")(_assigned_by("nas_server", "performance_policy_id"))
relation("policy", "virtual_volumes")(_assigned_by("virtual_volume", "protection_policy_id"))
relation("policy", "virtual_machines")(_assigned_by("virtual_machine", "protection_policy_id"))


# -- seed ------------------------------------------------------------------------------------------------


def seed(sim: Sim) -> None:
    """Remote systems, limit rules, the predefined performance policies, snapshot and replication rules
    and protection policies of a mid-size shop."""
    dr_site, backup = _seed_remote_systems(sim)
    for policy_id, name in PREDEFINED_PERFORMANCE:
        sim.insert(
            "policy",
            id=policy_id,
            name=name,
            description=None,
            type=PERFORMANCE,
            managed_by=USER,
            managed_by_id=None,
            is_read_only=True,
            is_replica=False,
            _snapshot_rule_ids=[],
            _replication_rule_ids=[],
            _io_limit_rule_id=None,
        )
    snap = {}
    for name, interval, time_of_day, timezone, days, hours, remote in (
        ("snap-hourly-24h", "One_Hour", None, "UTC", ALL_DAYS, 24, None),
        ("snap-4h-3d", "Four_Hours", None, "UTC", ALL_DAYS, 72, None),
        (DAILY_RULE_NAME, None, "23:00", "America__New_York", ALL_DAYS, 168, None),
        ("snap-weekly-sun-30d", None, "02:00", "America__New_York", ("Sunday",), 720, None),
        ("backup-daily-ppdd-90d", None, "01:00", "UTC", ALL_DAYS, 2160, backup),
    ):
        snap[name] = sim.insert(
            "snapshot_rule",
            id=sim.new_id(),
            name=name,
            remote_system_id=remote["id"] if remote else None,
            interval=interval,
            time_of_day=time_of_day,
            timezone=timezone,
            days_of_week=list(days),
            desired_retention=hours,
            is_replica=False,
            nas_access_type="Snapshot",
            is_read_only=False,
            managed_by=USER,
            managed_by_id=None,
            is_secure=False,
        )["id"]
    repl = {}
    for name, rpo in (("repl-dr-15m", "Fifteen_Minutes"), ("repl-dr-1h", "One_Hour")):
        repl[name] = sim.insert(
            "replication_rule",
            id=sim.new_id(),
            name=name,
            rpo=rpo,
            remote_system_id=dr_site["id"],
            is_replica=False,
            is_read_only=False,
            alert_threshold=RPO_MINUTES[rpo],
            managed_by=USER,
            managed_by_id=None,
        )["id"]
    for name, description, snaps, repls in (
        (
            "pp-gold",
            "Tier 1 databases: hourly snapshots, DR copy every 15 minutes",
            ("snap-hourly-24h", DAILY_RULE_NAME),
            ("repl-dr-15m",),
        ),
        (
            "pp-silver",
            "Business apps: snapshots every 4 hours and nightly",
            ("snap-4h-3d", DAILY_RULE_NAME),
            (),
        ),
        (
            "pp-bronze",
            "Dev and test: nightly and weekly snapshots",
            (DAILY_RULE_NAME, "snap-weekly-sun-30d"),
            (),
        ),
        (
            FILE_POLICY_NAME,
            "File shares: nightly snapshots, weekly kept a month",
            (DAILY_RULE_NAME, "snap-weekly-sun-30d"),
            (),
        ),
        (
            "pp-vault",
            "Long-term copies on the backup appliance, DR copy hourly",
            (DAILY_RULE_NAME, "backup-daily-ppdd-90d"),
            ("repl-dr-1h",),
        ),
    ):
        _seed_policy(
            sim,
            name,
            description,
            PROTECTION,
            snapshot_rule_ids=[snap[s] for s in snaps],
            replication_rule_ids=[repl[r] for r in repls],
        )
    _seed_limit_policies(sim)


def _seed_policy(sim: Sim, name: str, description: str, kind: str, **rules: Any) -> Record:
    return sim.insert(
        "policy",
        id=sim.new_id(),
        name=name,
        description=description,
        type=kind,
        managed_by=USER,
        managed_by_id=None,
        is_read_only=False,
        is_replica=False,
        file_io_limit_rule_id=rules.get("file_io_limit_rule_id"),
        _snapshot_rule_ids=rules.get("snapshot_rule_ids", []),
        _replication_rule_ids=rules.get("replication_rule_ids", []),
        _io_limit_rule_id=rules.get("io_limit_rule_id"),
    )


def _seed_limit_policies(sim: Sim) -> None:
    iops = sim.insert(
        "io_limit_rule",
        id=sim.new_id(),
        name="iops-cap-5k",
        type="Absolute",
        max_iops=5000,
        max_bw=204800,
        burst_percentage=20,
    )
    bandwidth = sim.insert("file_io_limit_rule", id=sim.new_id(), name="fs-bw-500", max_bw=500)
    _seed_policy(
        sim, "qos-dev-5k-iops", "Caps noisy dev volumes at 5000 IOPS", QOS, io_limit_rule_id=iops["id"]
    )
    _seed_policy(
        sim,
        FILE_QOS_POLICY_NAME,
        "Caps bulk file systems at 500 MB/s",
        FILE_PERFORMANCE,
        file_io_limit_rule_id=bandwidth["id"],
    )


def _seed_remote_systems(sim: Sim) -> tuple[Record, Record]:
    """A second PowerStore for replication and a PowerProtect DD for remote backup, unless another seed
    module already placed remote systems of those kinds."""
    existing = sim.store.all("remote_system")
    dr_site = next((r for r in existing if r.get("type") == "PowerStore"), None)
    backup = next((r for r in existing if r.get("type") == "PowerProtect_DD"), None)
    net = sim.rng.randrange(20, 60)
    if dr_site is None:
        dr_site = sim.insert(
            "remote_system",
            id=sim.new_id(),
            name="ps-dr-site-b",
            description="DR array in the secondary data centre",
            serial_number=f"PS{sim.rng.getrandbits(48):012x}",
            version="4.1.0.0",
            management_address=f"10.{net}.8.20",
            management_port=443,
            type="PowerStore",
            user_name="admin",
            state="OK",
            data_connection_type="iSCSI",
            data_connection_state="OK",
            iscsi_addresses=[f"10.{net}.9.21", f"10.{net}.9.22"],
            fc_target_wwns=[],
            discovery_chap_mode="Disabled",
            session_chap_mode="Disabled",
            data_network_latency="Low",
            data_connections=[],
            capabilities=[
                "Asynchronous_Block_Replication",
                "Asynchronous_File_Replication",
                "Asynchronous_Vvol_Replication",
                "Synchronous_Block_Replication",
                "Block_Metro_Active_Active",
            ],
            file_connection_address=f"10.{net}.9.30",
            file_connection_state="OK",
            appliance_details=[],
            powerstore_data_network_configuration=[],
        )
    if backup is None:
        backup = sim.insert(
            "remote_system",
            id=sim.new_id(),
            name="ppdd-backup-01",
            description="PowerProtect DD for long-term snapshot copies",
            serial_number=f"APM{sim.rng.randrange(10**10, 10**11)}",
            version="7.13.0.0",
            management_address=f"10.{net}.8.40",
            management_port=3009,
            type="PowerProtect_DD",
            user_name="sysadmin",
            state="OK",
            data_connection_type="DD_Boost",
            data_connection_state="OK",
            iscsi_addresses=[],
            fc_target_wwns=[],
            discovery_chap_mode="Disabled",
            session_chap_mode="Disabled",
            data_network_latency="Low",
            data_connections=[],
            capabilities=[REMOTE_BACKUP],
            appliance_details=[],
            powerstore_data_network_configuration=[],
        )
    return dr_site, backup
