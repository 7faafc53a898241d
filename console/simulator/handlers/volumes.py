"""Volumes, their snapshots and clones: create, modify, delete and the volume actions.

Rules whose status the reference leaves open were settled here as follows: a bad value in the body
(size not a multiple of 8192, an expiration in the past, both ``host_id`` and ``host_group_id``) is a
400; a request the current state forbids (shrinking, deleting something in use, a name taken) is a
422, except a snapshot name taken, which is a 400 as the reference records. ``immediate: false``
deletes at once too: there is no recycle bin in the simulator.
"""

from __future__ import annotations

from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import label, renamed, require_free_name, target, unused_name
from console.simulator.handlers.mappings import (
    body_target,
    map_volume,
    optional_body_target,
    unmap_volume,
    volume_mappings,
)
from console.simulator.handlers.metro import refuse_unless_paused, refuse_while_metro
from console.simulator.handlers.policies import (
    ASSIGNMENT_FIELDS,
    DEFAULT_PERFORMANCE_POLICY,
    assigned_policies,
    assigned_policy_id,
)
from console.simulator.handlers.volume_copies import (
    backup_answer,
    backup_name,
    check_replication_destination,
    check_restore_source,
    compact_stamp,
    copy_content,
    destination_change,
    expiry_changes,
    make_clone,
    refresh_origin,
    restore_origin,
    take_snapshot,
)
from console.simulator.handlers.volume_family import (
    SIZE_ALIGN,
    SNAPSHOT,
    check_group_accepts,
    check_not_destination,
    delete_volume_tree,
    family_id,
    insert_volume,
    is_locked,
    member_appliance,
    snapshots,
)
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

OTHER_APP_TYPES = frozenset(
    {
        "Relational_Databases_Other",
        "Big_Data_Analytics_Other",
        "Business_Applications_Other",
        "Healthcare_Other",
        "Virtualization_Other",
        "Other",
    }
)


def _check_size(size: int, field: str = "size") -> None:
    if size % SIZE_ALIGN:
        raise errors.bad_request(
            f"{field} must be a multiple of {SIZE_ALIGN} bytes: {size}.",
            field,
            size,
            code=errors.CODE_INVALID_VALUE,
        )


def _default_performance_policy(sim: Sim) -> str | None:
    policy = sim.store.get("policy", DEFAULT_PERFORMANCE_POLICY)
    return policy["id"] if policy is not None else None


def _app_type(body: Record, current: Record | None) -> dict[str, Any]:
    """The app type fields after a change: ``app_type_other`` only describes an "other" kind."""
    if "app_type" not in body and "app_type_other" not in body:
        return {}
    app_type = body["app_type"] if "app_type" in body else (current or {}).get("app_type")
    other = body.get("app_type_other")
    if other is None and current is not None and "app_type_other" not in body:
        other = current.get("app_type_other")
    if other and app_type not in OTHER_APP_TYPES:
        if "app_type_other" in body:
            raise errors.unprocessable(
                f"app_type_other describes only an 'other' application type, not {app_type}.",
                "app_type_other",
                app_type,
            )
        other = None
    return {"app_type": app_type, "app_type_other": other}


def _pick_appliance(sim: Sim) -> str | None:
    """Where a new volume goes when the request does not say: the cluster's primary appliance.

    (Spreading new volumes over the appliances would make grouping them fail half of the time, since
    a volume group keeps its members on one appliance.)"""
    appliances = sorted(a["id"] for a in sim.store.all("appliance"))
    for cluster in sim.store.all("cluster"):
        if cluster.get("primary_appliance_id") in appliances:
            return cluster["primary_appliance_id"]
    return appliances[0] if appliances else None


def check_deletable(sim: Sim, volume: Record, *, leaving: frozenset[str] = frozenset()) -> None:
    """Refuse deleting ``volume`` while in use; ``leaving`` are groups deleted in the same request."""
    name = label(volume)
    refuse_while_metro("volume", volume, "deleted")
    if volume_mappings(sim, volume["id"]):
        raise errors.unprocessable(
            f"The volume {name} is mapped to hosts; detach it first.", volume["id"], code=errors.CODE_IN_USE
        )
    group_id = volume.get("_volume_group_id")
    if group_id is not None and group_id not in leaving:
        group = sim.store.get("volume_group", group_id)
        raise errors.unprocessable(
            f"The volume {name} is a member of the volume group {label(group or {'id': group_id})}; "
            "remove it from the group first.",
            volume["id"],
            group_id,
            code=errors.CODE_IN_USE,
        )
    if volume.get("protection_policy_id"):
        raise errors.unprocessable(
            f"The volume {name} is protected by a protection policy; remove the policy first.",
            volume["id"],
            volume["protection_policy_id"],
            code=errors.CODE_IN_USE,
        )
    if is_locked(sim, volume.get("protection_data")):
        raise errors.unprocessable(
            f"The snapshot {name} is secure and cannot be deleted before it expires.", volume["id"]
        )
    for snap in snapshots(sim, volume["id"]):
        snap_group = snap.get("_volume_group_id")
        if snap_group is not None and snap_group not in leaving:
            raise errors.unprocessable(
                f"The volume {name} has the snapshot {snap['name']} in a snapshot set; "
                "delete the snapshot set first.",
                volume["id"],
                snap_group,
                code=errors.CODE_IN_USE,
            )
        if is_locked(sim, snap.get("protection_data")):
            raise errors.unprocessable(
                f"The volume {name} has the secure snapshot {snap['name']}, which has not expired yet.",
                volume["id"],
                snap["id"],
            )


# -- handlers -------------------------------------------------------------------------------------------


@operation("volume", "create", roles=STORAGE_ROLES)
def create_volume(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    name, size = body["name"], body["size"]
    _check_size(size)
    if body.get("min_size") is not None and body["min_size"] > size:
        raise errors.bad_request("min_size may not exceed size.", "min_size", code=errors.CODE_INVALID_VALUE)
    if body.get("sector_size") not in (None, 512, 4096):
        raise errors.bad_request(
            "sector_size must be 512 or 4096.",
            "sector_size",
            body["sector_size"],
            code=errors.CODE_INVALID_VALUE,
        )
    require_free_name(sim, "volume", name)
    where = optional_body_target(sim, body)
    policies = assigned_policies(sim, "volume", body)
    group = None
    if body.get("volume_group_id"):
        group = sim.store.require("volume_group", body["volume_group_id"])
        check_group_accepts(group)
        if policies["protection_policy_id"]:
            raise errors.unprocessable(
                "A volume created in a volume group takes the group's protection; "
                "give no protection_policy_id.",
                group["id"],
            )
    appliance_id = member_appliance(sim, group) if group is not None else None
    if body.get("appliance_id"):
        chosen = sim.store.require("appliance", body["appliance_id"])["id"]
        if appliance_id is not None and chosen != appliance_id:
            raise errors.unprocessable(
                f"The volume group {label(group or {})} keeps its volumes on another appliance.", chosen
            )
        appliance_id = chosen
    volume = insert_volume(
        sim,
        name=name,
        size=size,
        description=body.get("description"),
        appliance_id=appliance_id or _pick_appliance(sim),
        protection_policy_id=policies["protection_policy_id"],
        performance_policy_id=policies["performance_policy_id"] or _default_performance_policy(sim),
        qos_performance_policy_id=policies["qos_performance_policy_id"],
        _volume_group_id=group["id"] if group is not None else None,
        **_app_type(body, None),
    )
    if where is not None:
        map_volume(sim, volume, where, body.get("logical_unit_number"))
    return created(volume)


@operation("volume", "modify", roles=STORAGE_ROLES)
def modify_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    refuse_unless_paused(sim, "volume", volume, "modified")
    body = req.body
    name = label(volume)
    is_snap = volume["type"] == SNAPSHOT
    check_replication_destination(volume, body, "volume")
    changes: dict[str, Any] = renamed(sim, "volume", volume, body, status=400 if is_snap else 422)
    if "description" in body:
        changes["description"] = body["description"]
    if "size" in body and body["size"] != volume["size"]:
        _check_size(body["size"])
        if is_snap:
            raise errors.unprocessable(f"The size of the snapshot {name} cannot change.", volume["id"])
        if body["size"] < volume["size"]:
            raise errors.unprocessable(
                f"The volume {name} can only grow: {body['size']} is below its size {volume['size']}.",
                volume["id"],
                body["size"],
            )
        changes["size"] = body["size"]
    data = expiry_changes(sim, volume, body, is_copy=is_snap, kind="snapshot")
    if data != (volume.get("protection_data") or {}):
        changes["protection_data"] = data
    for field in ASSIGNMENT_FIELDS["volume"]:
        if field not in body:
            continue
        if body[field] is None and field == "performance_policy_id":
            raise errors.bad_request("performance_policy_id cannot be cleared.", field)
        policy_id = assigned_policy_id(sim, "volume", field, body[field])
        if field == "protection_policy_id" and policy_id is not None:
            if is_snap:
                raise errors.unprocessable(
                    f"The snapshot {name} cannot take a protection policy.", volume["id"]
                )
            if volume.get("_volume_group_id"):
                raise errors.unprocessable(
                    f"The volume {name} is protected through its volume group; "
                    "it cannot take a protection policy of its own.",
                    volume["id"],
                    volume["_volume_group_id"],
                )
        changes[field] = policy_id
    if "node_affinity" in body:
        changes["node_affinity"] = body["node_affinity"]
    changes.update(_app_type(body, volume))
    changes.update(destination_change(volume, body, is_copy=is_snap, kind="volume"))
    if changes:
        volume = sim.update("volume", volume["id"], changes)
    return done(volume)


@operation("volume", "delete", roles=STORAGE_ROLES)
def delete_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    check_deletable(sim, volume)
    delete_volume_tree(sim, volume)
    return done(volume)


@operation("volume", "snapshot", roles=STORAGE_ROLES)
def snapshot_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    stamp = sim.timestamp()
    snap = take_snapshot(sim, volume, req.body, default_name=stamp, stamp=stamp)
    return done(volume, body={"id": snap["id"]})


@operation("volume", "clone", roles=STORAGE_ROLES)
def clone_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    body = req.body
    if body.get("name"):
        require_free_name(sim, "volume", body["name"])
        name = body["name"]
    else:
        name = unused_name(sim, "volume", f"{volume['name']}.clone-{compact_stamp(sim)}")
    where = optional_body_target(sim, body)
    clone = make_clone(sim, volume, body, name=name)
    if where is not None:
        map_volume(sim, clone, where, body.get("logical_unit_number"))
    return done(volume, body={"id": clone["id"]})


def _backup_snapshot(sim: Sim, volume: Record, body: Record) -> Record | None:
    """The snapshot a refresh or restore takes of its target first, unless the body declines it."""
    if not body.get("create_backup_snap", True) or volume["type"] == SNAPSHOT:
        return None
    profile = body.get("backup_snap_profile") or {}
    return take_snapshot(sim, volume, profile, default_name=backup_name(sim, volume))


@operation("volume", "refresh", roles=STORAGE_ROLES)
def refresh_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    refuse_unless_paused(sim, "volume", volume, "refreshed")
    source = sim.store.require("volume", req.body["from_object_id"])
    if source["id"] == volume["id"]:
        raise errors.unprocessable("A volume cannot be refreshed from itself.", volume["id"])
    if family_id(source) != family_id(volume):
        raise errors.unprocessable(
            f"The volume {label(source)} is not in the family of {label(volume)}; "
            "refresh works within a family of volumes, snapshots and clones.",
            source["id"],
            volume["id"],
        )
    check_not_destination(volume, "volume", "refreshed")
    backup = _backup_snapshot(sim, volume, req.body)
    copy_content(sim, volume["id"], source, refresh_origin(sim, source))
    return backup_answer(volume, backup)


@operation("volume", "restore", roles=STORAGE_ROLES)
def restore_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    refuse_unless_paused(sim, "volume", volume, "restored")
    snap = sim.store.require("volume", req.body["from_snap_id"])
    if volume["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"The snapshot {label(volume)} cannot be restored; refresh it.", volume["id"]
        )
    check_restore_source(snap, volume, "volume")
    check_not_destination(volume, "volume", "restored")
    backup = _backup_snapshot(sim, volume, req.body)
    copy_content(sim, volume["id"], snap, restore_origin(snap, volume))
    return backup_answer(volume, backup)


@operation("volume", "attach", roles=STORAGE_ROLES)
def attach_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    map_volume(sim, volume, body_target(sim, req.body), req.body.get("logical_unit_number"))
    return done(volume)


@operation("volume", "detach", roles=STORAGE_ROLES)
def detach_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = target(sim, req)
    unmap_volume(sim, volume, body_target(sim, req.body))
    return done(volume)


@relation("volume", "volume_groups")
def _volume_groups(sim: Sim, record: Record) -> list[Record]:
    group_id = record.get("_volume_group_id")
    group = sim.store.get("volume_group", group_id) if group_id else None
    return [group] if group is not None else []
