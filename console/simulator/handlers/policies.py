"""Policies: protection (snapshot and replication rules), performance, QoS and file QoS.

Hidden fields: a policy keeps its rules in ``_snapshot_rule_ids`` / ``_replication_rule_ids`` (lists, so
``store.lookup`` finds the policies of a rule) and its block QoS rule in ``_io_limit_rule_id`` (the
instance shows it only through the ``io_limit_rule`` relation).

The predefined performance policies (``default_high``, ``default_medium``, ``default_low``) cannot be
changed, deleted or cloned. Policies and rules that the array manages itself (``managed_by`` other
than ``User``, or ``is_read_only``) cannot be changed or deleted, and are cloned only with ``force``.

Assigning policies is the business of the assigned resources (volume, volume group, file system,
NAS server): they resolve the policy with ``assigned_policy_id``, which checks its kind.
"""

from __future__ import annotations

import copy
from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import noun, renamed, require_free_name, resolve_each, target
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
MAX_LOCAL_SNAPSHOT_RULES = 4


# -- for the resources that policies are assigned to ------------------------------------------------------


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


def assigned_policy_id(sim: Sim, type_name: str, field: str, ref: str | None) -> str | None:
    """The id of the policy a body assigns to a ``type_name`` with ``field``; None (or "") unassigns."""
    if ref is None or ref == "":
        return None
    return require_policy(sim, ref, ASSIGNMENT_FIELDS[type_name][field], field)["id"]


def assigned_policies(sim: Sim, type_name: str, body: dict[str, Any]) -> dict[str, str | None]:
    """The policy a create or clone body assigns with each assignment field of ``type_name``."""
    return {
        field: assigned_policy_id(sim, type_name, field, body.get(field))
        for field in ASSIGNMENT_FIELDS[type_name]
    }


def policy_assignments(sim: Sim, policy_id: str) -> list[tuple[str, Record]]:
    """Every resource the policy is assigned to, as (type, record)."""
    found: list[tuple[str, Record]] = []
    for type_name, fields in ASSIGNMENT_FIELDS.items():
        for field in fields:
            found += [(type_name, r) for r in sim.store.related(type_name, field, policy_id)]
    return found


# -- who manages a policy or rule -----------------------------------------------------------------------


def _user_managed(record: Record) -> bool:
    return record.get("managed_by") in (None, USER) and not record.get("is_read_only")


def refuse_system_managed(type_name: str, record: Record, verb: str) -> None:
    if not _user_managed(record):
        raise errors.unprocessable(
            f"The {noun(type_name)} {record['name']} is managed by the system ({record.get('managed_by')}) "
            f"and cannot be {verb}.",
            record["id"],
        )


def user_copy(sim: Sim, type_name: str, record: Record, body: dict[str, Any]) -> Record:
    """The ``clone`` action of a policy or rule: a copy under the body's name that the user manages
    (of a record the system manages, only with ``force``)."""
    if not _user_managed(record) and not body.get("force", False):
        raise errors.unprocessable(
            f"The {noun(type_name)} {record['name']} is not managed by a user; cloning it needs force=true.",
            record["id"],
        )
    require_free_name(sim, type_name, body["name"])
    values = copy.deepcopy(record)
    values.update(
        id=sim.new_id(),
        name=body["name"],
        is_replica=False,
        is_read_only=False,
        managed_by=USER,
        managed_by_id=None,
    )
    return sim.insert(type_name, **values)


# -- policies ------------------------------------------------------------------------------------------


def insert_policy(
    sim: Sim, name: str, kind: str, *, policy_id: str | None = None, read_only: bool = False, **values: Any
) -> Record:
    """A new user-managed policy of ``kind``, without rules unless ``values`` give them."""
    record: Record = {
        "id": policy_id or sim.new_id(),
        "name": name,
        "description": None,
        "type": kind,
        "managed_by": USER,
        "managed_by_id": None,
        "is_read_only": read_only,
        "is_replica": False,
        "_snapshot_rule_ids": [],
        "_replication_rule_ids": [],
        "_io_limit_rule_id": None,
    }
    record.update(values)
    return sim.insert("policy", **record)


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


def _rule_ids(sim: Sim, rule_type: str, refs: list[str]) -> list[str]:
    return [rule["id"] for rule in resolve_each(sim, rule_type, refs)]


@operation("policy", "create", roles=STORAGE_ROLES)
def create_policy(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "policy", body["name"])
    kind = _kind_from_body(body)
    values: dict[str, Any] = {"policy_id": sim.new_id(), "description": body.get("description")}
    if kind == PROTECTION:
        values["_snapshot_rule_ids"] = _rule_ids(sim, "snapshot_rule", body.get("snapshot_rule_ids", []))
        values["_replication_rule_ids"] = _rule_ids(
            sim, "replication_rule", body.get("replication_rule_ids", [])
        )
        _check_rule_set(sim, values["_snapshot_rule_ids"], values["_replication_rule_ids"])
    elif kind == QOS:
        values["_io_limit_rule_id"] = sim.store.require("io_limit_rule", body["io_limit_rule_id"])["id"]
    else:
        values["file_io_limit_rule_id"] = sim.store.require(
            "file_io_limit_rule", body["file_io_limit_rule_id"]
        )["id"]
    return created(insert_policy(sim, body["name"], kind, **values))


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
        return _rule_ids(sim, rule_type, body[whole])
    current = list(policy[f"_{rule_type}_ids"])
    for rid in _rule_ids(sim, rule_type, body.get(add, [])):
        if rid in current:
            raise errors.unprocessable(
                f"The {noun(rule_type)} {rid} is already in the policy {policy['name']}.", rid
            )
        current.append(rid)
    for rid in _rule_ids(sim, rule_type, body.get(remove, [])):
        if rid not in current:
            raise errors.unprocessable(
                f"The {noun(rule_type)} {rid} is not in the policy {policy['name']}.", rid
            )
        current.remove(rid)
    return current


def _refuse_predefined(policy: Record, verb: str) -> None:
    if policy["type"] == PERFORMANCE:
        raise errors.unprocessable(
            f"The performance policy {policy['name']} is predefined and cannot be {verb}.", policy["id"]
        )


@operation("policy", "modify", roles=STORAGE_ROLES)
def modify_policy(sim: Sim, req: OpRequest) -> OpResult:
    policy = target(sim, req)
    body = req.body
    _refuse_predefined(policy, "changed")
    refuse_system_managed("policy", policy, "changed")
    changes = renamed(sim, "policy", policy, body)
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
    policy = target(sim, req)
    _refuse_predefined(policy, "deleted")
    refuse_system_managed("policy", policy, "deleted")
    assigned = policy_assignments(sim, policy["id"])
    if assigned:
        type_name, record = assigned[0]
        raise errors.unprocessable(
            f"The policy {policy['name']} is assigned to {len(assigned)} resource(s), among them the "
            f"{noun(type_name)} {record.get('name')}; unassign it first.",
            policy["id"],
            record["id"],
            code=errors.CODE_IN_USE,
        )
    sim.store.delete("policy", policy["id"])
    return done(policy)


@operation("policy", "clone", roles=STORAGE_ROLES)
def clone_policy(sim: Sim, req: OpRequest) -> OpResult:
    policy = target(sim, req)
    _refuse_predefined(policy, "cloned")
    clone = user_copy(sim, "policy", policy, req.body)
    return done(policy, body={"id": clone["id"]})


# -- relations -----------------------------------------------------------------------------------------


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
