"""Volume groups and their snapshot sets: create, modify, delete, membership and the group actions.

A group keeps its members on one appliance. Its snapshot, clone, refresh and restore act on every
member at once (each member one step of the job); a snapshot set's members expire and are secured
together with the set.
"""

from __future__ import annotations

from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import (
    label,
    renamed,
    require_free_name,
    resolve_each,
    target,
    unused_name,
)
from console.simulator.handlers.mappings import volume_mappings
from console.simulator.handlers.metro import refuse_unless_paused, refuse_while_metro
from console.simulator.handlers.policies import assigned_policies, assigned_policy_id
from console.simulator.handlers.volume_copies import (
    backup_answer,
    backup_name,
    check_replication_destination,
    check_restore_source,
    clone_data,
    copy_content,
    destination_change,
    expiry_changes,
    make_clone,
    refresh_origin,
    restore_origin,
    set_origin,
    snapshot_data,
    snapshot_settings,
    take_snapshot,
)
from console.simulator.handlers.volume_family import (
    CLONE,
    SNAPSHOT,
    check_group_accepts,
    check_not_destination,
    delete_volume_tree,
    family_id,
    insert_group,
    is_locked,
    member_appliance,
    members,
    release_group_children,
    snapshot_sets,
)
from console.simulator.handlers.volumes import check_deletable
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    Sim,
    StepsFn,
    created,
    done,
    operation,
    relation,
)
from console.simulator.store import Record

# Settings of primary and clone groups that a snapshot set does not have.
PRIMARY_ONLY_FIELDS = ("is_write_order_consistent", "protection_policy_id", "qos_performance_policy_id")


def _check_can_join(volume: Record, group_id: str | None, appliance_id: str | None) -> None:
    name = label(volume)
    if volume["type"] == SNAPSHOT:
        raise errors.unprocessable(f"The snapshot {name} cannot join a volume group.", volume["id"])
    current = volume.get("_volume_group_id")
    if current is not None:
        where = "this" if current == group_id else "another"
        raise errors.unprocessable(
            f"The volume {name} is already a member of {where} volume group.",
            volume["id"],
            current,
            code=errors.CODE_IN_USE,
        )
    if volume.get("protection_policy_id"):
        raise errors.unprocessable(
            f"The volume {name} has its own protection policy; remove it before adding it to a group.",
            volume["id"],
            volume["protection_policy_id"],
        )
    if appliance_id is not None and volume.get("appliance_id") not in (None, appliance_id):
        raise errors.unprocessable(
            f"The volume {name} is on another appliance than the group's volumes.",
            volume["id"],
            appliance_id,
        )


def _add_members(sim: Sim, group: Record, volumes: list[Record]) -> None:
    appliance_id = member_appliance(sim, group)
    for volume in volumes:
        refuse_while_metro("volume", volume, "added to a volume group")
        _check_can_join(volume, group["id"], appliance_id)
        appliance_id = appliance_id or volume.get("appliance_id")
        sim.update("volume", volume["id"], {"_volume_group_id": group["id"]})


@operation("volume_group", "create", roles=STORAGE_ROLES)
def create_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    require_free_name(sim, "volume_group", body["name"])
    policies = assigned_policies(sim, "volume_group", body)
    volumes = resolve_each(sim, "volume", body.get("volume_ids") or [])
    group = insert_group(
        sim,
        name=body["name"],
        description=body.get("description"),
        is_write_order_consistent=body.get("is_write_order_consistent", True),
        **policies,
    )
    _add_members(sim, group, volumes)
    return created(group)


@operation("volume_group", "modify", roles=STORAGE_ROLES)
def modify_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    refuse_unless_paused(sim, "volume_group", group, "modified")
    body = req.body
    is_set = group["type"] == SNAPSHOT
    check_replication_destination(group, body, "volume group")
    changes: dict[str, Any] = renamed(sim, "volume_group", group, body, status=400 if is_set else 422)
    if "description" in body:
        changes["description"] = body["description"] or None
    for field in PRIMARY_ONLY_FIELDS:
        if field in body and is_set:
            raise errors.unprocessable(
                f"{field} cannot be set on the snapshot set {label(group)}.", group["id"], field
            )
    if "is_write_order_consistent" in body:
        changes["is_write_order_consistent"] = body["is_write_order_consistent"]
    for field in ("protection_policy_id", "qos_performance_policy_id"):
        if field in body:
            changes[field] = assigned_policy_id(sim, "volume_group", field, body[field])
    data = expiry_changes(sim, group, body, is_copy=is_set, kind="snapshot set")
    if data != (group.get("protection_data") or {}):
        changes["protection_data"] = data
        # The members of a snapshot set expire, and are secured, together with the set.
        for snap in members(sim, group["id"]):
            snap_data = {
                **(snap.get("protection_data") or {}),
                "expiration_timestamp": data.get("expiration_timestamp"),
                "is_secure": data.get("is_secure"),
            }
            sim.update("volume", snap["id"], {"protection_data": snap_data})
    turned_off = destination_change(group, body, is_copy=is_set, kind="volume group")
    if turned_off:
        changes.update(turned_off)
        for volume in members(sim, group["id"]):
            sim.update("volume", volume["id"], {"is_replication_destination": False})
    if changes:
        group = sim.update("volume_group", group["id"], changes)
    return done(group)


@operation("volume_group", "delete", roles=STORAGE_ROLES)
def delete_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    refuse_while_metro("volume_group", group, "deleted")
    current = members(sim, group["id"])
    mapped = [v for v in current if volume_mappings(sim, v["id"])]
    if mapped:
        raise errors.unprocessable(
            f"The volume group {label(group)} has mapped members ({', '.join(v['name'] for v in mapped)}); "
            "detach them first.",
            group["id"],
            code=errors.CODE_IN_USE,
        )
    sets = snapshot_sets(sim, group["id"]) if group["type"] != SNAPSHOT else []
    for snapshot_set in [group, *sets]:
        if is_locked(sim, snapshot_set.get("protection_data")):
            raise errors.unprocessable(
                f"The snapshot set {label(snapshot_set)} is secure and cannot be deleted before it expires.",
                snapshot_set["id"],
            )
    delete_members = bool(req.body.get("delete_members", False))
    leaving = frozenset({group["id"], *(s["id"] for s in sets)})
    if delete_members and group["type"] != SNAPSHOT:
        for volume in current:
            check_deletable(sim, volume, leaving=leaving)
    for snapshot_set in sets:
        _delete_group_records(sim, snapshot_set, delete_members=True)
    _delete_group_records(sim, group, delete_members=delete_members or group["type"] == SNAPSHOT)
    return done(group)


def _delete_group_records(sim: Sim, group: Record, *, delete_members: bool) -> None:
    for volume in members(sim, group["id"]):
        if delete_members:
            delete_volume_tree(sim, sim.store.require("volume", volume["id"]))
        else:
            sim.update("volume", volume["id"], {"_volume_group_id": None})
    release_group_children(sim, group)
    sim.store.delete("volume_group", group["id"])


@operation("volume_group", "add_members", roles=STORAGE_ROLES)
def add_group_members(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    check_group_accepts(group)
    refuse_while_metro("volume_group", group, "given new members")
    _add_members(sim, group, resolve_each(sim, "volume", req.body["volume_ids"]))
    return done(group)


@operation("volume_group", "remove_members", roles=STORAGE_ROLES)
def remove_group_members(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    check_group_accepts(group)
    refuse_while_metro("volume_group", group, "left by members")
    for volume in resolve_each(sim, "volume", req.body["volume_ids"]):
        if volume.get("_volume_group_id") != group["id"]:
            raise errors.unprocessable(
                f"The volume {label(volume)} is not a member of the volume group {label(group)}.",
                volume["id"],
                group["id"],
            )
        sim.update("volume", volume["id"], {"_volume_group_id": None})
    return done(group)


# -- copies of a whole group ------------------------------------------------------------------------------


def _member_steps(verb: str, last: str) -> StepsFn:
    def steps(sim: Sim, req: OpRequest) -> list[str]:
        found = (
            members(sim, req.target_id)
            if req.target_id and sim.store.get("volume_group", req.target_id)
            else []
        )
        name = req.body.get("name") or ""
        return [f"{verb} {v['name']}" for v in found] + [f"{last} {name}".rstrip()]

    return steps


def _insert_copy(sim: Sim, group: Record, **values: Any) -> Record:
    """A snapshot set or clone of ``group``, made up like it."""
    return insert_group(
        sim,
        is_write_order_consistent=group.get("is_write_order_consistent"),
        placement_rule=group.get("placement_rule"),
        **values,
    )


def _snapshot_group(sim: Sim, group: Record, profile: Record, *, default_name: str | None = None) -> Record:
    """A snapshot set of ``group``: a Snapshot volume group holding one snapshot per member."""
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"{label(group)} is a snapshot set; it cannot be snapshotted.", group["id"]
        )
    current = members(sim, group["id"])
    if not current:
        raise errors.unprocessable(
            f"The volume group {label(group)} has no members to snapshot.", group["id"]
        )
    name, expires, is_secure = snapshot_settings(
        sim, "volume_group", profile, default_name=default_name or sim.timestamp()
    )
    stamp = sim.timestamp()
    snapshot_set = _insert_copy(
        sim,
        group,
        name=name,
        description=profile.get("description"),
        type=SNAPSHOT,
        is_protectable=False,
        creation_timestamp=stamp,
        protection_data=snapshot_data(sim, group, stamp, expires=expires, is_secure=is_secure),
    )
    member_profile = {"expiration_timestamp": expires, "is_secure": is_secure}
    for volume in current:
        take_snapshot(
            sim,
            volume,
            member_profile,
            default_name=f"{volume['name']}.{name}",
            group_id=snapshot_set["id"],
            stamp=stamp,
        )
    return snapshot_set


@operation(
    "volume_group",
    "snapshot",
    roles=STORAGE_ROLES,
    steps=_member_steps("Create snapshot of volume", "Create snapshot set"),
)
def snapshot_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    snapshot_set = _snapshot_group(sim, group, req.body)
    return done(group, body={"id": snapshot_set["id"]})


@operation(
    "volume_group",
    "clone",
    roles=STORAGE_ROLES,
    steps=_member_steps("Create clone of volume", "Create clone volume group"),
)
def clone_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    body = req.body
    name = body["name"]
    require_free_name(sim, "volume_group", name)
    policies = assigned_policies(sim, "volume_group", body)
    stamp = sim.timestamp()
    clone = _insert_copy(
        sim,
        group,
        name=name,
        description=body.get("description"),
        type=CLONE,
        **policies,
        creation_timestamp=stamp,
        protection_data=clone_data(sim, group, stamp),
    )
    for volume in members(sim, group["id"]):
        make_clone(
            sim,
            volume,
            {},
            name=unused_name(sim, "volume", f"{volume['name']}.{name}"),
            group_id=clone["id"],
            stamp=stamp,
        )
    return done(group, body={"id": clone["id"]})


def _pair_members(sim: Sim, group: Record, source: Record, *, by_parent: bool) -> list[tuple[Record, Record]]:
    """Match each member of ``group`` with its counterpart in ``source``; refuse membership changes."""
    source_members = members(sim, source["id"])
    key = (lambda v: v.get("_parent_id")) if by_parent else family_id
    by_key = {key(v): v for v in source_members}
    pairs: list[tuple[Record, Record]] = []
    for volume in members(sim, group["id"]):
        counterpart = by_key.get(volume["id"] if by_parent else family_id(volume))
        if counterpart is None:
            break
        pairs.append((volume, counterpart))
    if len(pairs) != len(source_members) or len(pairs) != len(members(sim, group["id"])):
        raise errors.unprocessable(
            f"The members of {label(group)} and {label(source)} differ; "
            "the copy works only while both have the same volumes.",
            group["id"],
            source["id"],
        )
    return pairs


def _check_copy_target(group: Record, verb: str) -> None:
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(f"The snapshot set {label(group)} cannot be {verb}.", group["id"])
    check_not_destination(group, "volume group", verb)


def _backup_snapshot_set(sim: Sim, group: Record, body: Record) -> Record | None:
    """The snapshot set a refresh or restore takes of its target first, unless the body declines it."""
    if not body.get("create_backup_snap", True):
        return None
    profile = body.get("backup_snap_profile") or {}
    return _snapshot_group(sim, group, profile, default_name=backup_name(sim, group))


@operation(
    "volume_group",
    "refresh",
    roles=STORAGE_ROLES,
    steps=_member_steps("Refresh volume", "Refresh volume group"),
)
def refresh_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    refuse_unless_paused(sim, "volume_group", group, "refreshed")
    source = sim.store.require("volume_group", req.body["from_object_id"])
    _check_copy_target(group, "refreshed")
    if source["id"] == group["id"] or family_id(source) != family_id(group):
        raise errors.unprocessable(
            f"The volume group {label(group)} can be refreshed only from another group of its family.",
            group["id"],
            source["id"],
        )
    pairs = _pair_members(sim, group, source, by_parent=False)
    backup = _backup_snapshot_set(sim, group, req.body)
    origin = refresh_origin(sim, source)
    for volume, counterpart in pairs:
        copy_content(sim, volume["id"], counterpart, refresh_origin(sim, counterpart))
    set_origin(sim, "volume_group", group["id"], origin)
    return backup_answer(group, backup)


@operation(
    "volume_group",
    "restore",
    roles=STORAGE_ROLES,
    steps=_member_steps("Restore volume", "Restore volume group"),
)
def restore_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = target(sim, req)
    refuse_unless_paused(sim, "volume_group", group, "restored")
    snapshot_set = sim.store.require("volume_group", req.body["from_snap_id"])
    _check_copy_target(group, "restored")
    check_restore_source(snapshot_set, group, "volume group")
    pairs = _pair_members(sim, group, snapshot_set, by_parent=True)
    backup = _backup_snapshot_set(sim, group, req.body)
    for volume, snap in pairs:
        copy_content(sim, volume["id"], snap, restore_origin(snap, volume))
    set_origin(sim, "volume_group", group["id"], restore_origin(snapshot_set, group))
    return backup_answer(group, backup)


@relation("volume_group", "volumes")
def _group_volumes(sim: Sim, record: Record) -> list[Record]:
    return members(sim, record["id"])
