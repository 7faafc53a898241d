"""Volumes, volume groups and host mappings: their changes, relations and seed data.

Snapshots and clones are volumes (``type`` Snapshot / Clone); a snapshot set is a volume group of
type Snapshot whose members are snapshot volumes. Hidden fields:

- ``volume._volume_group_id``: the group the volume belongs to (at most one).
- ``volume._parent_id`` / ``volume_group._parent_id``: a copy of ``protection_data.parent_id`` kept at
  the top level so the store can index the family tree (embedded objects are not indexed).

``host_volume_mapping`` records (``host_id`` or ``host_group_id``, ``volume_id``,
``logical_unit_number``) change only through attach/detach; ``host_target``, ``map_volume`` and
``unmap_volume`` are public so the host and host group handlers can share the LUN rules.

Rules whose status the reference leaves open were settled here as follows: a bad value in the body
(size not a multiple of 8192, an expiration in the past, both ``host_id`` and ``host_group_id``) is a
400; a request the current state forbids (shrinking, deleting something in use, a name taken) is a
422, except a snapshot name taken, which is a 400 as the reference records. Automatic LUNs start at
1. ``immediate: false`` deletes at once too: there is no recycle bin in the simulator.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from console.simulator import errors
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

GIB = 1 << 30
SIZE_ALIGN = 8192
FIRST_AUTO_LUN = 1
MAX_LUN = 16383
NAME_MAX = 128
WWN_PREFIX = "naa.68ccf098"
NGUID_PREFIX = "nguid."
DEFAULT_PERFORMANCE_POLICY = "default_medium"

PRIMARY, CLONE, SNAPSHOT = "Primary", "Clone", "Snapshot"
SELECT_AT_ATTACH = "System_Select_At_Attach"
SELECTED_NODES = ("System_Selected_Node_A", "System_Selected_Node_B")
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
POLICY_KINDS = {
    "protection_policy_id": "Protection",
    "performance_policy_id": "Performance",
    "qos_performance_policy_id": "QoS",
}
PROTECTION_DATA = "protection_data_instance"
PROTECTION_DATA_FIELDS = (
    "created_by_rule_id",
    "created_by_rule_name",
    "creator_type",
    "expiration_timestamp",
    "source_timestamp",
    "family_id",
    "source_id",
    "parent_id",
    "copy_signature",
    "is_app_consistent",
    "is_secure",
    "creator_type_l10n",
)


# -- small helpers --------------------------------------------------------------------------------------


def _parse_time(value: Any, field: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise errors.bad_request(
            f"{field} is not a valid date and time: {value}.", field, value, code=errors.CODE_INVALID_VALUE
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _expiration(sim: Sim, value: Any, field: str = "expiration_timestamp") -> str | None:
    """An expiration in the API's form; ``None`` (or empty) means the copy never expires."""
    if value is None or value == "":
        return None
    moment = _parse_time(value, field)
    if moment <= sim.now():
        raise errors.bad_request(
            f"{field} must lie in the future: {value}.", field, value, code=errors.CODE_INVALID_VALUE
        )
    return sim.timestamp(moment)


def _is_locked(sim: Sim, protection_data: Record | None) -> bool:
    """A secure copy that has not expired yet may be neither deleted nor made to expire earlier."""
    if not protection_data or not protection_data.get("is_secure"):
        return False
    expiration = protection_data.get("expiration_timestamp")
    return expiration is None or _parse_time(expiration, "expiration_timestamp") > sim.now()


def _check_size(size: int, field: str = "size") -> None:
    if size % SIZE_ALIGN:
        raise errors.bad_request(
            f"{field} must be a multiple of {SIZE_ALIGN} bytes: {size}.",
            field,
            size,
            code=errors.CODE_INVALID_VALUE,
        )


def _name_conflict(type_name: str, name: str, *, snapshot: bool) -> errors.ApiFault:
    text = f"The name {name} is already used by another {type_name.replace('_', ' ')}."
    if snapshot:
        return errors.bad_request(text, name, code=errors.CODE_NAME_IN_USE)
    return errors.unprocessable(text, name, code=errors.CODE_NAME_IN_USE)


def _check_name(
    sim: Sim, type_name: str, name: str, *, except_id: str | None = None, snapshot: bool = False
) -> None:
    if sim.store.name_taken(type_name, name, except_id=except_id):
        raise _name_conflict(type_name, name, snapshot=snapshot)


def _free_name(sim: Sim, type_name: str, base: str) -> str:
    """``base`` itself, or with a counter appended when taken (for names the simulator makes up)."""
    base = base[:NAME_MAX]
    if not sim.store.name_taken(type_name, base):
        return base
    for n in itertools.count(2):
        suffix = f"-{n}"
        candidate = base[: NAME_MAX - len(suffix)] + suffix
        if not sim.store.name_taken(type_name, candidate):
            return candidate
    raise AssertionError("unreachable")


def _compact_stamp(sim: Sim) -> str:
    return datetime.fromtimestamp(sim.now(), UTC).strftime("%Y%m%dT%H%M%S")


def _policy_id(sim: Sim, field: str, ref: Any) -> str | None:
    """The id of the policy ``ref`` names, which must be of the kind ``field`` takes."""
    if ref is None or ref == "":
        return None
    policy = sim.store.require("policy", ref)
    kind = POLICY_KINDS[field]
    if policy.get("type") is not None and policy["type"] != kind:
        raise errors.unprocessable(
            f"The policy {policy.get('name') or policy['id']} is a {policy['type']} policy; "
            f"{field} takes a {kind} policy.",
            policy["id"],
            field,
        )
    return policy["id"]


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


def _protection_data(sim: Sim, **values: Any) -> Record:
    fields = sim.catalog.definitions.get(PROTECTION_DATA)
    names = list(fields.fields) if fields is not None else list(PROTECTION_DATA_FIELDS)
    data: Record = dict.fromkeys(names)
    data.update(is_app_consistent=False, is_secure=False, creator_type="User")
    data.update(values)
    data["creator_type_l10n"] = _creator_label(sim, data["creator_type"])
    return data


def _creator_label(sim: Sim, value: str | None) -> str | None:
    fields = sim.catalog.definitions.get(PROTECTION_DATA)
    field = fields.fields.get("creator_type") if fields is not None else None
    enum = field.enum if field is not None and field.enum else "StorageCreatorTypeEnum"
    return sim.label(enum, value)


def _identity(sim: Sim) -> tuple[str, str]:
    """A fresh WWN and NGUID: 96 and 128 random bits, so no repeat is ever expected (and none checked
    for: an index lookup costs a pass over every volume after each change)."""
    return f"{WWN_PREFIX}{sim.rng.getrandbits(96):024x}", f"{NGUID_PREFIX}{sim.rng.getrandbits(128):032x}"


def _next_nsid(sim: Sim) -> int:
    # Unique across the cluster, hence per appliance as well; one plain pass, cheaper than an index.
    return max((v.get("nsid") or 0 for v in sim.store.all("volume")), default=0) + 1


def _pick_appliance(sim: Sim) -> str | None:
    """Where a new volume goes when the request does not say: the cluster's primary appliance.

    (Spreading new volumes over the appliances would make grouping them fail half of the time, since
    a volume group keeps its members on one appliance.)"""
    appliances = sorted(a["id"] for a in sim.store.all("appliance"))
    for cluster in sim.store.all("cluster"):
        if cluster.get("primary_appliance_id") in appliances:
            return cluster["primary_appliance_id"]
    return appliances[0] if appliances else None


def _volume(sim: Sim, ref: str | None) -> Record:
    return sim.store.require("volume", ref or "")


def _group(sim: Sim, ref: str | None) -> Record:
    return sim.store.require("volume_group", ref or "")


def _label(record: Record) -> str:
    return record.get("name") or record["id"]


def _children(sim: Sim, type_name: str, parent_id: str) -> list[Record]:
    return sim.store.related(type_name, "_parent_id", parent_id)


def _snapshots(sim: Sim, volume_id: str) -> list[Record]:
    return [v for v in _children(sim, "volume", volume_id) if v["type"] == SNAPSHOT]


def members(sim: Sim, group_id: str) -> list[Record]:
    """The volumes of a volume group (the snapshots of a snapshot set), by name."""
    return sorted(
        sim.store.related("volume", "_volume_group_id", group_id), key=lambda v: v["name"].casefold()
    )


def _snapshot_sets(sim: Sim, group_id: str) -> list[Record]:
    return [g for g in _children(sim, "volume_group", group_id) if g["type"] == SNAPSHOT]


def _mappings(sim: Sim, volume_id: str) -> list[Record]:
    return sim.store.related("host_volume_mapping", "volume_id", volume_id)


# -- host mappings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HostTarget:
    """A host or a host group, with every host and group whose LUN space a mapping to it occupies."""

    host_id: str | None
    host_group_id: str | None
    host_ids: frozenset[str]
    group_ids: frozenset[str]
    label: str


def host_target(sim: Sim, *, host_id: str | None = None, host_group_id: str | None = None) -> HostTarget:
    """Resolve ``host_id`` or ``host_group_id`` (ids or ``name:`` references; exactly one)."""
    if host_id and host_group_id:
        raise errors.bad_request(
            "Give either host_id or host_group_id, not both.", "host_id", "host_group_id"
        )
    if host_id:
        host = sim.store.require("host", host_id)
        group_id = host.get("host_group_id")
        return HostTarget(
            host["id"], None, frozenset({host["id"]}), frozenset({group_id} if group_id else ()), _label(host)
        )
    if host_group_id:
        group = sim.store.require("host_group", host_group_id)
        hosts = sim.store.lookup("host", "host_group_id", group["id"])
        return HostTarget(None, group["id"], frozenset(hosts), frozenset({group["id"]}), _label(group))
    raise errors.bad_request(
        "Give host_id or host_group_id.", "host_id", "host_group_id", code=errors.CODE_MISSING_REQUIRED
    )


def _optional_target(sim: Sim, body: Record) -> HostTarget | None:
    if not body.get("host_id") and not body.get("host_group_id"):
        return None
    return host_target(sim, host_id=body.get("host_id"), host_group_id=body.get("host_group_id"))


def _target_mappings(sim: Sim, target: HostTarget) -> list[Record]:
    found: list[Record] = []
    for host_id in target.host_ids:
        found += sim.store.related("host_volume_mapping", "host_id", host_id)
    for group_id in target.group_ids:
        found += sim.store.related("host_volume_mapping", "host_group_id", group_id)
    return found


def luns_in_use(sim: Sim, target: HostTarget) -> set[int]:
    """LUNs a new mapping to ``target`` may not take (on the host, its group, or the group's hosts)."""
    return {m["logical_unit_number"] for m in _target_mappings(sim, target)}


def map_volume(sim: Sim, volume: Record, target: HostTarget, lun: int | None = None) -> Record:
    """Map ``volume`` to a host or host group; the lowest free LUN from 1 when ``lun`` is None."""
    if volume["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"The snapshot {_label(volume)} cannot be mapped to hosts; map a clone of it instead.",
            volume["id"],
        )
    current = _target_mappings(sim, target)
    if any(m["volume_id"] == volume["id"] for m in current):
        raise errors.unprocessable(
            f"The volume {_label(volume)} is already mapped to {target.label}.",
            volume["id"],
            target.label,
            code=errors.CODE_IN_USE,
        )
    used = {m["logical_unit_number"] for m in current}
    if lun is None:
        lun = next((n for n in range(FIRST_AUTO_LUN, MAX_LUN + 1) if n not in used), None)
        if lun is None:
            raise errors.unprocessable(f"No logical unit number is free on {target.label}.", target.label)
    elif lun in used:
        raise errors.unprocessable(
            f"Logical unit number {lun} is already in use on {target.label}.", lun, target.label
        )
    mapping = sim.insert(
        "host_volume_mapping",
        id=sim.new_id(),
        host_id=target.host_id,
        host_group_id=target.host_group_id,
        volume_id=volume["id"],
        logical_unit_number=lun,
    )
    if volume.get("node_affinity") == SELECT_AT_ATTACH:
        sim.update("volume", volume["id"], {"node_affinity": sim.rng.choice(SELECTED_NODES)})
    return mapping


def unmap_volume(sim: Sim, volume: Record, target: HostTarget) -> Record:
    """Remove the mapping of ``volume`` to exactly this host or host group; returns the mapping."""
    for mapping in _mappings(sim, volume["id"]):
        if target.host_id is not None and mapping["host_id"] == target.host_id:
            break
        if target.host_group_id is not None and mapping["host_group_id"] == target.host_group_id:
            break
    else:
        through_group = target.host_id is not None and any(
            m["host_group_id"] in target.group_ids for m in _mappings(sim, volume["id"])
        )
        text = f"The volume {_label(volume)} is not mapped to {target.label}."
        if through_group:
            text += " It is mapped to the host's host group; detach it from the group."
        raise errors.unprocessable(text, volume["id"], target.label, code=errors.CODE_VOLUME_NOT_MAPPED)
    sim.store.delete("host_volume_mapping", mapping["id"])
    return mapping


# -- building volumes ---------------------------------------------------------------------------------


def _insert_volume(sim: Sim, **values: Any) -> Record:
    """A new volume with the array's defaults for whatever ``values`` leaves out."""
    wwn, nguid = _identity(sim)
    protection_data = values.get("protection_data") or {}
    record: Record = {
        "id": sim.new_id(),
        "type": PRIMARY,
        "state": "Ready",
        "wwn": wwn,
        "nguid": nguid,
        "nsid": _next_nsid(sim),
        "logical_used": 0,
        "node_affinity": SELECT_AT_ATTACH,
        "creation_timestamp": sim.timestamp(),
        "is_replication_destination": False,
        "is_host_access_available": True,
        "_volume_group_id": None,
        "_parent_id": protection_data.get("parent_id"),
    }
    record.update(values)
    if "protection_data" not in values:
        record["protection_data"] = _protection_data(sim, family_id=record["id"])
    return sim.insert("volume", **record)


def _copy_fields(source: Record) -> dict[str, Any]:
    return {
        "size": source["size"],
        "appliance_id": source.get("appliance_id"),
        "app_type": source.get("app_type"),
        "app_type_other": source.get("app_type_other"),
    }


def _family_id(record: Record) -> str:
    return (record.get("protection_data") or {}).get("family_id") or record["id"]


def _take_snapshot(
    sim: Sim,
    source: Record,
    profile: Record,
    *,
    default_name: str,
    group_id: str | None = None,
    stamp: str | None = None,
) -> Record:
    """A snapshot volume of ``source`` described by a ``volume_snapshot`` body."""
    if source["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"The volume {_label(source)} is a snapshot; snapshots cannot be snapshotted.", source["id"]
        )
    name = profile.get("name")
    if name:
        _check_name(sim, "volume", name, snapshot=True)
    else:
        name = _free_name(sim, "volume", default_name)
    expiration = _expiration(sim, profile.get("expiration_timestamp"))
    is_secure = bool(profile.get("is_secure"))
    if is_secure and expiration is None:
        raise errors.bad_request("A secure snapshot needs an expiration_timestamp.", "is_secure")
    performance = _policy_id(sim, "performance_policy_id", profile.get("performance_policy_id"))
    stamp = stamp or sim.timestamp()
    protection_data = _protection_data(
        sim,
        family_id=_family_id(source),
        source_id=source["id"],
        parent_id=source["id"],
        source_timestamp=stamp,
        creator_type=profile.get("creator_type") or "User",
        expiration_timestamp=expiration,
        is_secure=is_secure,
    )
    return _insert_volume(
        sim,
        **_copy_fields(source),
        name=name,
        description=profile.get("description"),
        type=SNAPSHOT,
        logical_used=source.get("logical_used") or 0,
        performance_policy_id=performance or source.get("performance_policy_id"),
        creation_timestamp=stamp,
        protection_data=protection_data,
        _volume_group_id=group_id,
    )


def _make_clone(
    sim: Sim,
    source: Record,
    body: Record,
    *,
    name: str,
    group_id: str | None = None,
    stamp: str | None = None,
) -> Record:
    """A clone volume of ``source`` (a volume, clone or snapshot) with the policies of a clone body.

    A clone of a snapshot counts as a clone of the snapshot's source taken when the snapshot was."""
    policies = {field: _policy_id(sim, field, body.get(field)) for field in POLICY_KINDS}
    stamp = stamp or sim.timestamp()
    source_data = source.get("protection_data") or {}
    if source["type"] == SNAPSHOT:
        source_id, source_time = source_data.get("source_id"), source_data.get("source_timestamp")
    else:
        source_id, source_time = source["id"], stamp
    protection_data = _protection_data(
        sim,
        family_id=_family_id(source),
        source_id=source_id,
        parent_id=source["id"],
        source_timestamp=source_time,
    )
    return _insert_volume(
        sim,
        **_copy_fields(source),
        name=name,
        description=body.get("description"),
        type=CLONE,
        logical_used=source.get("logical_used") or 0,
        protection_policy_id=policies["protection_policy_id"],
        performance_policy_id=policies["performance_policy_id"] or source.get("performance_policy_id"),
        qos_performance_policy_id=policies["qos_performance_policy_id"],
        creation_timestamp=stamp,
        protection_data=protection_data,
        _volume_group_id=group_id,
    )


def _copy_content(
    sim: Sim, target: Record, source: Record, *, source_id: str, source_time: str | None
) -> None:
    """What a refresh or restore changes: the data (seen as ``logical_used``) and its provenance."""
    data = {**(target.get("protection_data") or {}), "source_id": source_id, "source_timestamp": source_time}
    used = min(source.get("logical_used") or 0, target["size"])
    sim.update("volume", target["id"], {"logical_used": used, "protection_data": data})


def _provenance(sim: Sim, source: Record) -> tuple[str, str | None]:
    """The ``source_id`` and ``source_timestamp`` a refresh from ``source`` leaves on its target."""
    if source["type"] == SNAPSHOT:
        return source["id"], (source.get("protection_data") or {}).get("source_timestamp")
    return source["id"], sim.timestamp()


# -- deleting -----------------------------------------------------------------------------------------


def _check_deletable(sim: Sim, volume: Record, *, leaving: frozenset[str] = frozenset()) -> None:
    """Refuse deleting ``volume`` while in use; ``leaving`` are groups deleted in the same request."""
    label = _label(volume)
    if _mappings(sim, volume["id"]):
        raise errors.unprocessable(
            f"The volume {label} is mapped to hosts; detach it first.", volume["id"], code=errors.CODE_IN_USE
        )
    group_id = volume.get("_volume_group_id")
    if group_id is not None and group_id not in leaving:
        group = sim.store.get("volume_group", group_id)
        raise errors.unprocessable(
            f"The volume {label} is a member of the volume group {_label(group or {'id': group_id})}; "
            "remove it from the group first.",
            volume["id"],
            group_id,
            code=errors.CODE_IN_USE,
        )
    if volume.get("protection_policy_id"):
        raise errors.unprocessable(
            f"The volume {label} is protected by a protection policy; remove the policy first.",
            volume["id"],
            volume["protection_policy_id"],
            code=errors.CODE_IN_USE,
        )
    if _is_locked(sim, volume.get("protection_data")):
        raise errors.unprocessable(
            f"The snapshot {label} is secure and cannot be deleted before it expires.", volume["id"]
        )
    for snap in _snapshots(sim, volume["id"]):
        snap_group = snap.get("_volume_group_id")
        if snap_group is not None and snap_group not in leaving:
            raise errors.unprocessable(
                f"The volume {label} has the snapshot {snap['name']} in a snapshot set; "
                "delete the snapshot set first.",
                volume["id"],
                snap_group,
                code=errors.CODE_IN_USE,
            )
        if _is_locked(sim, snap.get("protection_data")):
            raise errors.unprocessable(
                f"The volume {label} has the secure snapshot {snap['name']}, which has not expired yet.",
                volume["id"],
                snap["id"],
            )


def _reparent_groups(sim: Sim, group: Record) -> None:
    """The clones of a deleted volume group move to its parent (to none when it was a primary)."""
    new_parent = None if group["type"] == PRIMARY else (group.get("protection_data") or {}).get("parent_id")
    for child in _children(sim, "volume_group", group["id"]):
        data = {**(child.get("protection_data") or {}), "parent_id": new_parent}
        sim.update("volume_group", child["id"], {"protection_data": data, "_parent_id": new_parent})


def _delete_volume_tree(sim: Sim, volume: Record) -> None:
    """Delete a volume with its snapshots; its clones, and the clones of those snapshots, stay.

    The family tree is read before anything changes: each change makes the next index lookup a pass
    over every volume."""
    new_parent = None if volume["type"] == PRIMARY else (volume.get("protection_data") or {}).get("parent_id")
    doomed, orphans = [volume], []
    for child in _children(sim, "volume", volume["id"]):
        if child["type"] == SNAPSHOT:
            doomed.append(child)
            orphans += _children(sim, "volume", child["id"])
        else:
            orphans.append(child)
    for orphan in orphans:
        data = {**(orphan.get("protection_data") or {}), "parent_id": new_parent}
        sim.update("volume", orphan["id"], {"protection_data": data, "_parent_id": new_parent})
    for record in doomed:
        sim.store.delete("volume", record["id"])


# -- volume handlers ----------------------------------------------------------------------------------


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
    _check_name(sim, "volume", name)
    target = _optional_target(sim, body)
    policies = {field: _policy_id(sim, field, body.get(field)) for field in POLICY_KINDS}
    group = None
    if body.get("volume_group_id"):
        group = _group(sim, body["volume_group_id"])
        _check_group_accepts(sim, group)
        if policies["protection_policy_id"]:
            raise errors.unprocessable(
                "A volume created in a volume group takes the group's protection; "
                "give no protection_policy_id.",
                group["id"],
            )
    appliance_id = _member_appliance(sim, group) if group is not None else None
    if body.get("appliance_id"):
        chosen = sim.store.require("appliance", body["appliance_id"])["id"]
        if appliance_id is not None and chosen != appliance_id:
            raise errors.unprocessable(
                f"The volume group {_label(group or {})} keeps its volumes on another appliance.", chosen
            )
        appliance_id = chosen
    volume = _insert_volume(
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
    if target is not None:
        map_volume(sim, volume, target, body.get("logical_unit_number"))
    return created(volume)


# Fields a replication destination still accepts (the rest is controlled by replication).
REPLICATION_DESTINATION_FIELDS = frozenset({"is_replication_destination", "force"})


@operation("volume", "modify", roles=STORAGE_ROLES)
def modify_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    body = req.body
    label = _label(volume)
    is_snap = volume["type"] == SNAPSHOT
    _check_replication_destination(volume, body, "volume")
    changes: dict[str, Any] = {}
    data = dict(volume.get("protection_data") or {})
    if "name" in body and body["name"] != volume["name"]:
        _check_name(sim, "volume", body["name"], except_id=volume["id"], snapshot=is_snap)
        changes["name"] = body["name"]
    if "description" in body:
        changes["description"] = body["description"]
    if "size" in body and body["size"] != volume["size"]:
        _check_size(body["size"])
        if is_snap:
            raise errors.unprocessable(f"The size of the snapshot {label} cannot change.", volume["id"])
        if body["size"] < volume["size"]:
            raise errors.unprocessable(
                f"The volume {label} can only grow: {body['size']} is below its size {volume['size']}.",
                volume["id"],
                body["size"],
            )
        changes["size"] = body["size"]
    if "expiration_timestamp" in body:
        if not is_snap:
            raise errors.unprocessable(
                f"Only snapshots expire; {label} is a {volume['type']} volume.", volume["id"]
            )
        data["expiration_timestamp"] = _expiration(sim, body["expiration_timestamp"])
    if "is_secure" in body:
        if not is_snap:
            raise errors.unprocessable(f"Only snapshots can be secure; {label} is not one.", volume["id"])
        if data.get("is_secure") and not body["is_secure"]:
            raise errors.unprocessable(
                f"The snapshot {label} is secure; that cannot be undone.", volume["id"]
            )
        data["is_secure"] = bool(body["is_secure"]) or bool(data.get("is_secure"))
    _check_secure_change(sim, volume.get("protection_data") or {}, data, label, volume["id"])
    if data != (volume.get("protection_data") or {}):
        changes["protection_data"] = data
    for field in POLICY_KINDS:
        if field not in body:
            continue
        if body[field] is None and field == "performance_policy_id":
            raise errors.bad_request("performance_policy_id cannot be cleared.", field)
        policy_id = _policy_id(sim, field, body[field])
        if field == "protection_policy_id" and policy_id is not None:
            if is_snap:
                raise errors.unprocessable(
                    f"The snapshot {label} cannot take a protection policy.", volume["id"]
                )
            if volume.get("_volume_group_id"):
                raise errors.unprocessable(
                    f"The volume {label} is protected through its volume group; "
                    "it cannot take a protection policy of its own.",
                    volume["id"],
                    volume["_volume_group_id"],
                )
        changes[field] = policy_id
    if "node_affinity" in body:
        changes["node_affinity"] = body["node_affinity"]
    changes.update(_app_type(body, volume))
    if "is_replication_destination" in body and body["is_replication_destination"] != volume.get(
        "is_replication_destination"
    ):
        if body["is_replication_destination"] or is_snap:
            raise errors.unprocessable(
                "is_replication_destination can only go from true to false, on a primary or clone volume.",
                volume["id"],
            )
        changes["is_replication_destination"] = False
    if changes:
        volume = sim.update("volume", volume["id"], changes)
    return done(volume)


def _check_replication_destination(record: Record, body: Record, kind: str) -> None:
    if not record.get("is_replication_destination"):
        return
    other = set(body) - REPLICATION_DESTINATION_FIELDS
    if (
        body.get("force")
        and other <= {"protection_policy_id"}
        and body.get("protection_policy_id") in (None, "")
    ):
        return
    if other:
        raise errors.unprocessable(
            f"The {kind} {_label(record)} is a replication destination; only is_replication_destination "
            "can change (or, with force, the protection policy be removed).",
            record["id"],
        )


def _check_secure_change(sim: Sim, old: Record, new: Record, label: str, record_id: str) -> None:
    """A secure copy must keep an expiration, which may only move later."""
    if not new.get("is_secure"):
        return
    if new.get("expiration_timestamp") is None:
        raise errors.unprocessable(f"The secure snapshot {label} needs an expiration time.", record_id)
    if old.get("is_secure") and old.get("expiration_timestamp"):
        before = _parse_time(old["expiration_timestamp"], "expiration_timestamp")
        if _parse_time(new["expiration_timestamp"], "expiration_timestamp") < before:
            raise errors.unprocessable(
                f"The expiration of the secure snapshot {label} can only be extended.", record_id
            )


@operation("volume", "delete", roles=STORAGE_ROLES)
def delete_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    _check_deletable(sim, volume)
    _delete_volume_tree(sim, volume)
    return done(volume)


@operation("volume", "snapshot", roles=STORAGE_ROLES)
def snapshot_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    stamp = sim.timestamp()
    snap = _take_snapshot(sim, volume, req.body, default_name=stamp, stamp=stamp)
    return done(volume, body={"id": snap["id"]})


@operation("volume", "clone", roles=STORAGE_ROLES)
def clone_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    body = req.body
    if body.get("name"):
        _check_name(sim, "volume", body["name"])
        name = body["name"]
    else:
        name = _free_name(sim, "volume", f"{volume['name']}.clone-{_compact_stamp(sim)}")
    target = _optional_target(sim, body)
    clone = _make_clone(sim, volume, body, name=name)
    if target is not None:
        map_volume(sim, clone, target, body.get("logical_unit_number"))
    return done(volume, body={"id": clone["id"]})


def _backup_snapshot(sim: Sim, volume: Record, body: Record) -> Record | None:
    if not body.get("create_backup_snap", True) or volume["type"] == SNAPSHOT:
        return None
    default = f"{volume['name']}.backup-{_compact_stamp(sim)}"
    return _take_snapshot(sim, volume, body.get("backup_snap_profile") or {}, default_name=default)


def _backup_answer(volume: Record, backup: Record | None) -> OpResult:
    return done(volume, body={"backup_snapshot_id": backup["id"]}) if backup is not None else done(volume)


@operation("volume", "refresh", roles=STORAGE_ROLES)
def refresh_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    source = _volume(sim, req.body["from_object_id"])
    if source["id"] == volume["id"]:
        raise errors.unprocessable("A volume cannot be refreshed from itself.", volume["id"])
    if _family_id(source) != _family_id(volume):
        raise errors.unprocessable(
            f"The volume {_label(source)} is not in the family of {_label(volume)}; "
            "refresh works within a family of volumes, snapshots and clones.",
            source["id"],
            volume["id"],
        )
    _check_not_destination(volume, "volume", "refreshed")
    backup = _backup_snapshot(sim, volume, req.body)
    source_id, source_time = _provenance(sim, source)
    _copy_content(
        sim, sim.store.require("volume", volume["id"]), source, source_id=source_id, source_time=source_time
    )
    return _backup_answer(volume, backup)


@operation("volume", "restore", roles=STORAGE_ROLES)
def restore_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    snap = _volume(sim, req.body["from_snap_id"])
    if volume["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"The snapshot {_label(volume)} cannot be restored; refresh it.", volume["id"]
        )
    if snap["type"] != SNAPSHOT or snap.get("_parent_id") != volume["id"]:
        raise errors.unprocessable(
            f"{_label(snap)} is not a snapshot of the volume {_label(volume)}; "
            "a volume is restored only from its own snapshots.",
            snap["id"],
            volume["id"],
        )
    _check_not_destination(volume, "volume", "restored")
    backup = _backup_snapshot(sim, volume, req.body)
    data = snap.get("protection_data") or {}
    _copy_content(
        sim,
        sim.store.require("volume", volume["id"]),
        snap,
        source_id=data.get("source_id") or volume["id"],
        source_time=data.get("source_timestamp"),
    )
    return _backup_answer(volume, backup)


def _check_not_destination(record: Record, kind: str, verb: str) -> None:
    if record.get("is_replication_destination"):
        raise errors.unprocessable(
            f"The {kind} {_label(record)} is a replication destination and cannot be {verb}.", record["id"]
        )


@operation("volume", "attach", roles=STORAGE_ROLES)
def attach_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    target = host_target(sim, host_id=req.body.get("host_id"), host_group_id=req.body.get("host_group_id"))
    map_volume(sim, volume, target, req.body.get("logical_unit_number"))
    return done(volume)


@operation("volume", "detach", roles=STORAGE_ROLES)
def detach_volume(sim: Sim, req: OpRequest) -> OpResult:
    volume = _volume(sim, req.target_id)
    target = host_target(sim, host_id=req.body.get("host_id"), host_group_id=req.body.get("host_group_id"))
    unmap_volume(sim, volume, target)
    return done(volume)


# -- volume groups ------------------------------------------------------------------------------------


def _member_appliance(sim: Sim, group: Record) -> str | None:
    current = members(sim, group["id"])
    return current[0].get("appliance_id") if current else None


def _check_group_accepts(sim: Sim, group: Record) -> None:
    """Membership changes happen only on primary and clone groups that replication does not control."""
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"{_label(group)} is a snapshot set; its members cannot change.", group["id"]
        )
    _check_not_destination(group, "volume group", "changed")


def _check_can_join(sim: Sim, volume: Record, group_id: str | None, appliance_id: str | None) -> None:
    label = _label(volume)
    if volume["type"] == SNAPSHOT:
        raise errors.unprocessable(f"The snapshot {label} cannot join a volume group.", volume["id"])
    current = volume.get("_volume_group_id")
    if current is not None:
        where = "this" if current == group_id else "another"
        raise errors.unprocessable(
            f"The volume {label} is already a member of {where} volume group.",
            volume["id"],
            current,
            code=errors.CODE_IN_USE,
        )
    if volume.get("protection_policy_id"):
        raise errors.unprocessable(
            f"The volume {label} has its own protection policy; remove it before adding it to a group.",
            volume["id"],
            volume["protection_policy_id"],
        )
    if appliance_id is not None and volume.get("appliance_id") not in (None, appliance_id):
        raise errors.unprocessable(
            f"The volume {label} is on another appliance than the group's volumes.",
            volume["id"],
            appliance_id,
        )


def _resolve_members(sim: Sim, refs: Iterable[str]) -> list[Record]:
    found: dict[str, Record] = {}
    for ref in refs:
        volume = _volume(sim, ref)
        found.setdefault(volume["id"], volume)
    return list(found.values())


def _add_members(sim: Sim, group: Record, volumes: list[Record]) -> None:
    appliance_id = _member_appliance(sim, group)
    for volume in volumes:
        _check_can_join(sim, volume, group["id"], appliance_id)
        appliance_id = appliance_id or volume.get("appliance_id")
        sim.update("volume", volume["id"], {"_volume_group_id": group["id"]})


def _insert_group(sim: Sim, **values: Any) -> Record:
    record: Record = {
        "id": sim.new_id(),
        "type": PRIMARY,
        "creation_timestamp": sim.timestamp(),
        "is_protectable": True,
        "is_write_order_consistent": True,
        "placement_rule": "Same_Appliance",
        "is_replication_destination": False,
        "is_host_access_available": True,
        "is_importing": False,
        "_parent_id": None,
    }
    record.update(values)
    if "protection_data" not in values:
        record["protection_data"] = _protection_data(sim, family_id=record["id"])
    return sim.insert("volume_group", **record)


@operation("volume_group", "create", roles=STORAGE_ROLES)
def create_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    body = req.body
    _check_name(sim, "volume_group", body["name"])
    protection = _policy_id(sim, "protection_policy_id", body.get("protection_policy_id"))
    qos = _policy_id(sim, "qos_performance_policy_id", body.get("qos_performance_policy_id"))
    volumes = _resolve_members(sim, body.get("volume_ids") or [])
    group = _insert_group(
        sim,
        name=body["name"],
        description=body.get("description"),
        is_write_order_consistent=body.get("is_write_order_consistent", True),
        protection_policy_id=protection,
        qos_performance_policy_id=qos,
    )
    _add_members(sim, group, volumes)
    return created(group)


@operation("volume_group", "modify", roles=STORAGE_ROLES)
def modify_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    body = req.body
    label = _label(group)
    is_set = group["type"] == SNAPSHOT
    _check_replication_destination(group, body, "volume group")
    changes: dict[str, Any] = {}
    if "name" in body and body["name"] != group["name"]:
        _check_name(sim, "volume_group", body["name"], except_id=group["id"], snapshot=is_set)
        changes["name"] = body["name"]
    if "description" in body:
        changes["description"] = body["description"] or None
    only_primary = ("is_write_order_consistent", "protection_policy_id", "qos_performance_policy_id")
    for field in only_primary:
        if field in body and is_set:
            raise errors.unprocessable(
                f"{field} cannot be set on the snapshot set {label}.", group["id"], field
            )
    if "is_write_order_consistent" in body:
        changes["is_write_order_consistent"] = body["is_write_order_consistent"]
    for field in ("protection_policy_id", "qos_performance_policy_id"):
        if field in body:
            changes[field] = _policy_id(sim, field, body[field])
    old_data = group.get("protection_data") or {}
    data = dict(old_data)
    for field in ("expiration_timestamp", "is_secure"):
        if field in body and not is_set:
            raise errors.unprocessable(
                f"{field} applies to snapshot sets only; {label} is not one.", group["id"]
            )
    if "expiration_timestamp" in body:
        data["expiration_timestamp"] = _expiration(sim, body["expiration_timestamp"])
    if "is_secure" in body:
        if old_data.get("is_secure") and not body["is_secure"]:
            raise errors.unprocessable(
                f"The snapshot set {label} is secure; that cannot be undone.", group["id"]
            )
        data["is_secure"] = bool(body["is_secure"]) or bool(old_data.get("is_secure"))
    _check_secure_change(sim, old_data, data, label, group["id"])
    if data != old_data:
        changes["protection_data"] = data
        # The members of a snapshot set expire, and are secured, together with the set.
        for snap in members(sim, group["id"]):
            snap_data = {
                **(snap.get("protection_data") or {}),
                "expiration_timestamp": data.get("expiration_timestamp"),
                "is_secure": data.get("is_secure"),
            }
            sim.update("volume", snap["id"], {"protection_data": snap_data})
    if "is_replication_destination" in body and body["is_replication_destination"] != group.get(
        "is_replication_destination"
    ):
        if body["is_replication_destination"] or is_set:
            raise errors.unprocessable(
                "is_replication_destination can only change from true to false, on a primary or clone group.",
                group["id"],
            )
        changes["is_replication_destination"] = False
        for volume in members(sim, group["id"]):
            sim.update("volume", volume["id"], {"is_replication_destination": False})
    if changes:
        group = sim.update("volume_group", group["id"], changes)
    return done(group)


@operation("volume_group", "delete", roles=STORAGE_ROLES)
def delete_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    label = _label(group)
    current = members(sim, group["id"])
    mapped = [v for v in current if _mappings(sim, v["id"])]
    if mapped:
        raise errors.unprocessable(
            f"The volume group {label} has mapped members ({', '.join(v['name'] for v in mapped)}); "
            "detach them first.",
            group["id"],
            code=errors.CODE_IN_USE,
        )
    sets = _snapshot_sets(sim, group["id"]) if group["type"] != SNAPSHOT else []
    for snapshot_set in [group, *sets]:
        if _is_locked(sim, snapshot_set.get("protection_data")):
            raise errors.unprocessable(
                f"The snapshot set {_label(snapshot_set)} is secure and cannot be deleted before it expires.",
                snapshot_set["id"],
            )
    delete_members = bool(req.body.get("delete_members", False))
    leaving = frozenset({group["id"], *(s["id"] for s in sets)})
    if delete_members and group["type"] != SNAPSHOT:
        for volume in current:
            _check_deletable(sim, volume, leaving=leaving)
    for snapshot_set in sets:
        _delete_group_records(sim, snapshot_set, delete_members=True)
    _delete_group_records(sim, group, delete_members=delete_members or group["type"] == SNAPSHOT)
    return done(group)


def _delete_group_records(sim: Sim, group: Record, *, delete_members: bool) -> None:
    for volume in members(sim, group["id"]):
        if delete_members:
            _delete_volume_tree(sim, sim.store.require("volume", volume["id"]))
        else:
            sim.update("volume", volume["id"], {"_volume_group_id": None})
    _reparent_groups(sim, group)
    sim.store.delete("volume_group", group["id"])


@operation("volume_group", "add_members", roles=STORAGE_ROLES)
def add_group_members(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    _check_group_accepts(sim, group)
    _add_members(sim, group, _resolve_members(sim, req.body["volume_ids"]))
    return done(group)


@operation("volume_group", "remove_members", roles=STORAGE_ROLES)
def remove_group_members(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    _check_group_accepts(sim, group)
    for volume in _resolve_members(sim, req.body["volume_ids"]):
        if volume.get("_volume_group_id") != group["id"]:
            raise errors.unprocessable(
                f"The volume {_label(volume)} is not a member of the volume group {_label(group)}.",
                volume["id"],
                group["id"],
            )
        sim.update("volume", volume["id"], {"_volume_group_id": None})
    return done(group)


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


def _snapshot_group(sim: Sim, group: Record, profile: Record, *, default_name: str | None = None) -> Record:
    """A snapshot set of ``group``: a Snapshot volume group holding one snapshot per member."""
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"{_label(group)} is a snapshot set; it cannot be snapshotted.", group["id"]
        )
    current = members(sim, group["id"])
    if not current:
        raise errors.unprocessable(
            f"The volume group {_label(group)} has no members to snapshot.", group["id"]
        )
    name = profile.get("name")
    if name:
        _check_name(sim, "volume_group", name, snapshot=True)
    else:
        name = _free_name(sim, "volume_group", default_name or sim.timestamp())
    expiration = _expiration(sim, profile.get("expiration_timestamp"))
    is_secure = bool(profile.get("is_secure"))
    if is_secure and expiration is None:
        raise errors.bad_request("A secure snapshot set needs an expiration_timestamp.", "is_secure")
    stamp = sim.timestamp()
    snapshot_set = _insert_group(
        sim,
        name=name,
        description=profile.get("description"),
        type=SNAPSHOT,
        is_protectable=False,
        is_write_order_consistent=group.get("is_write_order_consistent"),
        placement_rule=group.get("placement_rule"),
        creation_timestamp=stamp,
        protection_data=_protection_data(
            sim,
            family_id=_family_id(group),
            source_id=group["id"],
            parent_id=group["id"],
            source_timestamp=stamp,
            expiration_timestamp=expiration,
            is_secure=is_secure,
        ),
        _parent_id=group["id"],
    )
    member_profile = {"expiration_timestamp": expiration, "is_secure": is_secure}
    for volume in current:
        _take_snapshot(
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
    group = _group(sim, req.target_id)
    snapshot_set = _snapshot_group(sim, group, req.body)
    return done(group, body={"id": snapshot_set["id"]})


@operation(
    "volume_group",
    "clone",
    roles=STORAGE_ROLES,
    steps=_member_steps("Create clone of volume", "Create clone volume group"),
)
def clone_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    body = req.body
    name = body["name"]
    _check_name(sim, "volume_group", name)
    protection = _policy_id(sim, "protection_policy_id", body.get("protection_policy_id"))
    qos = _policy_id(sim, "qos_performance_policy_id", body.get("qos_performance_policy_id"))
    stamp = sim.timestamp()
    group_data = group.get("protection_data") or {}
    if group["type"] == SNAPSHOT:
        source_id, source_time = group_data.get("source_id"), group_data.get("source_timestamp")
    else:
        source_id, source_time = group["id"], stamp
    clone = _insert_group(
        sim,
        name=name,
        description=body.get("description"),
        type=CLONE,
        is_write_order_consistent=group.get("is_write_order_consistent"),
        placement_rule=group.get("placement_rule"),
        protection_policy_id=protection,
        qos_performance_policy_id=qos,
        creation_timestamp=stamp,
        protection_data=_protection_data(
            sim,
            family_id=_family_id(group),
            source_id=source_id,
            parent_id=group["id"],
            source_timestamp=source_time,
        ),
        _parent_id=group["id"],
    )
    for volume in members(sim, group["id"]):
        _make_clone(
            sim,
            volume,
            {},
            name=_free_name(sim, "volume", f"{volume['name']}.{name}"),
            group_id=clone["id"],
            stamp=stamp,
        )
    return done(group, body={"id": clone["id"]})


def _pair_members(
    sim: Sim, target: Record, source: Record, *, by_parent: bool
) -> list[tuple[Record, Record]]:
    """Match each member of ``target`` with its counterpart in ``source``; refuse membership changes."""
    source_members = members(sim, source["id"])
    key = (lambda v: v.get("_parent_id")) if by_parent else _family_id
    by_key = {key(v): v for v in source_members}
    pairs: list[tuple[Record, Record]] = []
    for volume in members(sim, target["id"]):
        counterpart = by_key.get(volume["id"] if by_parent else _family_id(volume))
        if counterpart is None:
            break
        pairs.append((volume, counterpart))
    if len(pairs) != len(source_members) or len(pairs) != len(members(sim, target["id"])):
        raise errors.unprocessable(
            f"The members of {_label(target)} and {_label(source)} differ; "
            "the copy works only while both have the same volumes.",
            target["id"],
            source["id"],
        )
    return pairs


def _group_backup(sim: Sim, group: Record, body: Record) -> Record | None:
    if not body.get("create_backup_snap", True):
        return None
    default = f"{group['name']}.backup-{_compact_stamp(sim)}"
    return _snapshot_group(sim, group, body.get("backup_snap_profile") or {}, default_name=default)


def _check_copy_target(group: Record, verb: str) -> None:
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(f"The snapshot set {_label(group)} cannot be {verb}.", group["id"])
    _check_not_destination(group, "volume group", verb)


@operation(
    "volume_group",
    "refresh",
    roles=STORAGE_ROLES,
    steps=_member_steps("Refresh volume", "Refresh volume group"),
)
def refresh_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    source = _group(sim, req.body["from_object_id"])
    _check_copy_target(group, "refreshed")
    if source["id"] == group["id"] or _family_id(source) != _family_id(group):
        raise errors.unprocessable(
            f"The volume group {_label(group)} can be refreshed only from another group of its family.",
            group["id"],
            source["id"],
        )
    pairs = _pair_members(sim, group, source, by_parent=False)
    backup = _group_backup(sim, group, req.body)
    source_id, source_time = _provenance(sim, source)
    for volume, counterpart in pairs:
        member_id, member_time = _provenance(sim, counterpart)
        _copy_content(
            sim, _volume(sim, volume["id"]), counterpart, source_id=member_id, source_time=member_time
        )
    _set_group_provenance(sim, group, source_id, source_time)
    return _backup_answer(group, backup)


@operation(
    "volume_group",
    "restore",
    roles=STORAGE_ROLES,
    steps=_member_steps("Restore volume", "Restore volume group"),
)
def restore_volume_group(sim: Sim, req: OpRequest) -> OpResult:
    group = _group(sim, req.target_id)
    snapshot_set = _group(sim, req.body["from_snap_id"])
    _check_copy_target(group, "restored")
    if snapshot_set["type"] != SNAPSHOT or snapshot_set.get("_parent_id") != group["id"]:
        raise errors.unprocessable(
            f"{_label(snapshot_set)} is not a snapshot set of the volume group {_label(group)}; "
            "a group is restored only from its own snapshot sets.",
            snapshot_set["id"],
            group["id"],
        )
    pairs = _pair_members(sim, group, snapshot_set, by_parent=True)
    backup = _group_backup(sim, group, req.body)
    for volume, snap in pairs:
        data = snap.get("protection_data") or {}
        _copy_content(
            sim,
            _volume(sim, volume["id"]),
            snap,
            source_id=data.get("source_id") or volume["id"],
            source_time=data.get("source_timestamp"),
        )
    set_data = snapshot_set.get("protection_data") or {}
    _set_group_provenance(
        sim, group, set_data.get("source_id") or group["id"], set_data.get("source_timestamp")
    )
    return _backup_answer(group, backup)


def _set_group_provenance(sim: Sim, group: Record, source_id: str, source_time: str | None) -> None:
    current = _group(sim, group["id"])
    data = {**(current.get("protection_data") or {}), "source_id": source_id, "source_timestamp": source_time}
    sim.update("volume_group", group["id"], {"protection_data": data})


# -- relations ----------------------------------------------------------------------------------------


@relation("volume", "volume_groups")
def _volume_groups(sim: Sim, record: Record) -> list[Record]:
    group_id = record.get("_volume_group_id")
    group = sim.store.get("volume_group", group_id) if group_id else None
    return [group] if group is not None else []


@relation("volume_group", "volumes")
def _group_volumes(sim: Sim, record: Record) -> list[Record]:
    return members(sim, record["id"])


# -- seed data ----------------------------------------------------------------------------------------

# Naming schemes of a typical shop: prefix, environments, application type, sizes in GiB.
SCHEMES: tuple[tuple[str, tuple[str, ...], str, tuple[int, ...]], ...] = (
    ("sql", ("prod", "dev", "test"), "Relational_Databases_SQL_Server", (100, 200, 250, 500, 1024)),
    ("ora", ("erp", "crm", "dw"), "Relational_Databases_Oracle", (256, 512, 1024, 2048, 4096)),
    ("pg", ("prod", "stage"), "Relational_Databases_PostgreSQL", (50, 100, 200, 500)),
    (
        "esx-ds",
        ("cluster-a", "cluster-b", "mgmt"),
        "Virtualization_Virtual_Servers_VSI",
        (1024, 2048, 4096, 8192, 16384),
    ),
    ("vdi", ("gold", "pool-a", "pool-b"), "Virtualization_Virtual_Desktops_VDI", (512, 1024, 2048)),
    ("exch-db", ("dag1", "dag2"), "Business_Applications_Exchange", (500, 1024, 2048)),
    ("sap-hana", ("data", "log", "shared"), "Big_Data_Analytics_SAP_HANA", (256, 512, 1024, 2048)),
    ("splunk", ("hot", "warm", "cold"), "Big_Data_Analytics_Splunk", (1024, 2048, 4096, 10240)),
    ("boot", ("esx", "lnx", "win"), "Boot_Volume_Other", (8, 16, 32, 64)),
    ("k8s-pvc", (), "Virtualization_Containers_Kubernetes", (8, 10, 16, 20, 32, 50, 100)),
)
DESCRIPTIONS = (
    "",
    "",
    "",
    "Production",
    "Owned by the DBA team",
    "Do not delete",
    "Migrated from VNX",
    "Test data",
)
SEED_GROUPS = 5
SEED_GROUP_MEMBERS = 8
SEED_SNAPSHOT_SHARE = 0.10
SEED_PROTECTED_SHARE = 0.25
SEED_MAPPED_SHARE = 0.7
# Keeps seeded hosts at a realistic number of LUNs (the array allows up to 16383).
SEED_LUN_CAP = 254
DAY = 86400.0


class _Seeder:
    """Builds the seed records as plain dicts, then inserts them in one pass (100,000 in a few seconds)."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.rng = sim.rng
        self.random = sim.rng.random
        self.bits = sim.rng.getrandbits
        self.now = sim.now()
        self.store = sim.store
        self.template = sim.new_record(
            "volume",
            state="Ready",
            node_affinity=SELECT_AT_ATTACH,
            is_replication_destination=False,
            is_host_access_available=True,
            _volume_group_id=None,
        )
        self.group_template = sim.new_record("volume_group")
        self.data_template = _protection_data(sim)
        self.twins: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.days: dict[int, str] = {}
        self.names = {v["name"].casefold() for v in self.store.all("volume")}
        self.counters: dict[tuple[str, str], int] = {}
        self.appliances = sorted(a["id"] for a in self.store.all("appliance")) or [None]
        self.nsid: dict[str | None, int] = {}
        for volume in self.store.all("volume"):
            key = volume.get("appliance_id")
            self.nsid[key] = max(self.nsid.get(key, 0), volume.get("nsid") or 0)
        policies = sorted(self.store.all("policy"), key=lambda p: p["id"])
        self.protection = [p["id"] for p in policies if p.get("type") == "Protection"]
        self.qos = [p["id"] for p in policies if p.get("type") == "QoS"]
        performance = [p["id"] for p in policies if p.get("type") == "Performance"]
        default = DEFAULT_PERFORMANCE_POLICY if DEFAULT_PERFORMANCE_POLICY in performance else None
        self.performance_default = default or (performance[0] if performance else None)
        self.performance = performance
        # The local snapshot rules of each protection policy (protection.py keeps them in a hidden list).
        self.policy_rules: dict[str, list[Record]] = {}
        for policy in policies:
            rules = [self.store.get("snapshot_rule", r) for r in policy.get("_snapshot_rule_ids") or ()]
            self.policy_rules[policy["id"]] = [
                r for r in rules if r is not None and not r.get("remote_system_id")
            ]
        self.volumes: list[Record] = []
        self.groups: list[Record] = []
        self.clusters: dict[tuple[str, str], list[Record]] = {}

    # -- cheap building blocks (Sim's general ones cost too much a hundred thousand times over) --

    def pick(self, items: Any) -> Any:
        return items[int(self.random() * len(items))]

    def new_id(self) -> str:
        """A random version 4 UUID, like ``Sim.new_id`` but drawn from the seed's random stream."""
        n = self.bits(128) & ~(0xF000 << 64) & ~(0xC000 << 48) | (0x4000 << 64) | (0x8000 << 48)
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def stamp(self, t: float) -> str:
        """``Sim.timestamp`` for past moments, with the date part computed once per day."""
        ms = int(t * 1000)
        day, rest = divmod(ms, 86_400_000)
        date = self.days.get(day)
        if date is None:
            date = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
            self.days[day] = date
        seconds, millis = divmod(rest, 1000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{date}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}+00:00"

    def twin(self, type_name: str, *pairs: tuple[str, Any]) -> dict[str, Any]:
        """The ``*_l10n`` twins of several enum values at once (cached: few combinations exist)."""
        key = (type_name, *pairs)
        found = self.twins.get(key)
        if found is None:
            found = self.sim.with_labels(type_name, dict(pairs))
            self.twins[key] = found
        return found

    def unique_name(self, base: str) -> str:
        name, n = base, 1
        while name.casefold() in self.names:
            n += 1
            name = f"{base}-{n}"
        self.names.add(name.casefold())
        return name

    def volume(self, values: Record) -> Record:
        appliance_id = values["appliance_id"]
        nsid = self.nsid.get(appliance_id, 0) + 1
        self.nsid[appliance_id] = nsid
        record = self.template.copy()
        record["wwn"] = f"{WWN_PREFIX}{self.bits(96):024x}"
        record["nguid"] = f"{NGUID_PREFIX}{self.bits(128):032x}"
        record["nsid"] = nsid
        record.update(values)
        record["_parent_id"] = record["protection_data"]["parent_id"]
        self.volumes.append(record)
        return record

    def protection_data(self, **values: Any) -> Record:
        data = self.data_template.copy()
        data.update(values)
        data["creator_type_l10n"] = self.creator_label(data["creator_type"])
        return data

    def creator_label(self, value: str) -> str | None:
        key = ("protection_data", ("creator_type", value))
        if key not in self.twins:
            self.twins[key] = {"label": _creator_label(self.sim, value)}
        return self.twins[key]["label"]

    # -- the plan --

    def run(self, count: int) -> None:
        ordinary = [self.ordinary() for _ in range(count)]
        self.make_groups()
        self.protect(ordinary)
        self.make_snapshots(ordinary)
        if self.groups:
            self.make_snapshot_set(self.groups[0])
        clones = self.make_clones(ordinary)
        mappings = self.map(ordinary, clones)
        insert = self.store.insert
        twin = self.twin
        for record in self.volumes:
            del record["_created"]
            record.update(
                twin(
                    "volume",
                    ("type", record["type"]),
                    ("state", record["state"]),
                    ("node_affinity", record["node_affinity"]),
                    ("app_type", record["app_type"]),
                )
            )
            insert("volume", record)
        for group in self.groups:
            insert("volume_group", group)
        for mapping in mappings:
            insert("host_volume_mapping", mapping)

    def ordinary(self) -> Record:
        random, pick = self.random, self.pick
        prefix, envs, app_type, sizes = pick(SCHEMES)
        if envs:
            env = pick(envs)
            n = self.counters.get((prefix, env), 0) + 1
            self.counters[(prefix, env)] = n
            name = self.unique_name(f"{prefix}-{env}-{n:02d}")
        else:
            env = ""
            name = self.unique_name(f"{prefix}-{self.bits(32):08x}")
        size = pick(sizes) * GIB
        created_at = self.now - DAY - random() * (3 * 365 - 1) * DAY
        volume_id = self.new_id()
        performance = self.performance_default
        if self.performance and random() < 0.2:
            performance = pick(self.performance)
        record = self.volume(
            {
                "id": volume_id,
                "name": name,
                "description": pick(DESCRIPTIONS) or None,
                "type": PRIMARY,
                "size": size,
                "logical_used": int(size * (0.02 + random() * 0.88)) // SIZE_ALIGN * SIZE_ALIGN,
                "appliance_id": pick(self.appliances),
                "creation_timestamp": self.stamp(created_at),
                "performance_policy_id": performance,
                "qos_performance_policy_id": self.qos[0] if self.qos and random() < 0.05 else None,
                "app_type": app_type,
                "protection_data": self.protection_data(family_id=volume_id),
                "_created": created_at,
            }
        )
        if env:
            self.clusters.setdefault((prefix, env), []).append(record)
        return record

    def make_groups(self) -> None:
        existing = {g["name"].casefold() for g in self.store.all("volume_group")}
        clusters = sorted(self.clusters.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        for (prefix, env), volumes in clusters[:SEED_GROUPS]:
            name = f"{prefix}-{env}-vg"
            if name.casefold() in existing:
                continue
            appliance_id = volumes[0]["appliance_id"]
            chosen = [v for v in volumes if v["appliance_id"] == appliance_id][:SEED_GROUP_MEMBERS]
            created_at = min(v["_created"] for v in chosen) + DAY
            group = self.group(
                name=name,
                description=f"Write-order consistent set of {prefix} {env} volumes",
                type=PRIMARY,
                creation_timestamp=self.stamp(min(created_at, self.now - 3600)),
                protection_policy_id=self.protection[len(self.groups) % len(self.protection)]
                if self.protection and len(self.groups) % 2 == 0
                else None,
            )
            for volume in chosen:
                volume["_volume_group_id"] = group["id"]

    def group(self, **values: Any) -> Record:
        record = dict(self.group_template)
        group_id = self.new_id()
        record.update(
            id=group_id,
            is_protectable=True,
            is_write_order_consistent=True,
            placement_rule="Same_Appliance",
            is_replication_destination=False,
            is_host_access_available=True,
            is_importing=False,
            protection_data=self.protection_data(family_id=group_id),
            _parent_id=None,
        )
        record.update(values)
        record.update(
            self.twin("volume_group", ("type", record["type"]), ("placement_rule", record["placement_rule"]))
        )
        self.groups.append(record)
        return record

    def protect(self, ordinary: list[Record]) -> None:
        if not self.protection:
            return
        random = self.random
        for volume in ordinary:
            if volume["_volume_group_id"] is None and random() < SEED_PROTECTED_SHARE:
                volume["protection_policy_id"] = self.pick(self.protection)

    def make_snapshots(self, ordinary: list[Record]) -> None:
        random = self.random
        for volume in ordinary:
            if random() >= SEED_SNAPSHOT_SHARE:
                continue
            rules = self.policy_rules.get(volume["protection_policy_id"] or "")
            for _ in range(1 + int(random() * 3)):
                rule = self.pick(rules) if rules else None
                if rule is not None:
                    # A scheduled snapshot lives within its rule's retention, which sets its expiration.
                    retention = (rule.get("desired_retention") or 24) * 3600.0
                    taken = max(volume["_created"], self.now - 600 - random() * retention)
                    expires: str | None = self.stamp(taken + retention)
                else:
                    taken = volume["_created"] + random() * (self.now - 600 - volume["_created"])
                    expires = self.stamp(self.now + DAY + random() * 29 * DAY) if random() < 0.3 else None
                self.snapshot(volume, taken, expires, rule)

    def snapshot(
        self,
        volume: Record,
        taken: float,
        expires: str | None,
        rule: Record | None = None,
        *,
        name: str | None = None,
        group_id: str | None = None,
    ) -> Record:
        stamp = self.stamp(taken)
        moment = f"{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}-{stamp[11:13]}{stamp[14:16]}"
        data = self.protection_data(
            family_id=volume["protection_data"]["family_id"],
            source_id=volume["id"],
            parent_id=volume["id"],
            source_timestamp=stamp,
            creator_type="Scheduler" if rule is not None else "User",
            created_by_rule_id=rule["id"] if rule is not None else None,
            created_by_rule_name=rule.get("name") if rule is not None else None,
            expiration_timestamp=expires,
        )
        return self.volume(
            {
                "id": self.new_id(),
                "name": self.unique_name(name or f"{volume['name']}.snap-{moment}"),
                "type": SNAPSHOT,
                "size": volume["size"],
                "logical_used": volume["logical_used"],
                "appliance_id": volume["appliance_id"],
                "creation_timestamp": stamp,
                "performance_policy_id": volume["performance_policy_id"],
                "app_type": volume["app_type"],
                "protection_data": data,
                "_volume_group_id": group_id,
                "_created": taken,
            }
        )

    def make_snapshot_set(self, group: Record) -> None:
        group_members = [v for v in self.volumes if v["_volume_group_id"] == group["id"]]
        if not group_members:
            return
        taken = self.now - DAY - self.random() * 6 * DAY
        stamp = self.stamp(taken)
        name = f"{group['name']}.snapset-{stamp[0:4]}{stamp[5:7]}{stamp[8:10]}"
        snapshot_set = self.group(
            name=name,
            type=SNAPSHOT,
            is_protectable=False,
            creation_timestamp=stamp,
            protection_data=self.protection_data(
                family_id=group["id"], source_id=group["id"], parent_id=group["id"], source_timestamp=stamp
            ),
            _parent_id=group["id"],
        )
        for volume in group_members:
            self.snapshot(volume, taken, None, name=f"{volume['name']}.{name}", group_id=snapshot_set["id"])

    def make_clones(self, ordinary: list[Record]) -> list[Record]:
        if not ordinary:
            return []
        random, pick = self.random, self.pick
        snapshots = [v for v in self.volumes if v["type"] == SNAPSHOT and v["_volume_group_id"] is None]
        clones = []
        for _ in range(min(max(2, len(ordinary) // 100), 200)):
            if snapshots and random() < 0.3:
                source = pick(snapshots)
                source_id = source["protection_data"]["source_id"]
                source_time = source["protection_data"]["source_timestamp"]
            else:
                source = pick(ordinary)
                source_id, source_time = source["id"], None
            taken = source["_created"] + random() * (self.now - 600 - source["_created"])
            stamp = self.stamp(taken)
            base = source["name"].split(".snap-")[0]
            data = self.protection_data(
                family_id=source["protection_data"]["family_id"],
                source_id=source_id,
                parent_id=source["id"],
                source_timestamp=source_time or stamp,
            )
            clones.append(
                self.volume(
                    {
                        "id": self.new_id(),
                        "name": self.unique_name(f"{base}-{pick(('clone', 'test', 'dev-copy'))}"),
                        "type": CLONE,
                        "size": source["size"],
                        "logical_used": source["logical_used"],
                        "appliance_id": source["appliance_id"],
                        "creation_timestamp": stamp,
                        "performance_policy_id": source["performance_policy_id"],
                        "app_type": source["app_type"],
                        "protection_data": data,
                        "_created": taken,
                    }
                )
            )
        return clones

    def map(self, ordinary: list[Record], clones: list[Record]) -> list[Record]:
        """Mappings onto the hosts and host groups already seeded; each group's members share a target."""
        hosts = sorted(self.store.all("host"), key=lambda h: h["id"])
        host_groups = sorted(self.store.all("host_group"), key=lambda g: g["id"])
        group_hosts: dict[str, list[str]] = {g["id"]: [] for g in host_groups}
        for host in hosts:
            if host.get("host_group_id") in group_hosts:
                group_hosts[host["host_group_id"]].append(host["id"])
        next_lun: dict[str, int] = {h["id"]: FIRST_AUTO_LUN for h in hosts}
        next_lun.update({g["id"]: FIRST_AUTO_LUN for g in host_groups})
        for mapping in self.store.all("host_volume_mapping"):
            owner = mapping.get("host_id") or mapping.get("host_group_id")
            if owner in next_lun:
                next_lun[owner] = max(next_lun[owner], mapping["logical_unit_number"] + 1)
        for group_id, members_ in group_hosts.items():
            top = max([next_lun[group_id], *(next_lun[h] for h in members_)])
            for key in (group_id, *members_):
                next_lun[key] = top
        targets: list[tuple[str, str]] = [("host", h["id"]) for h in hosts]
        targets += [("host_group", g["id"]) for g in host_groups]
        # Volumes go preferably to hosts named like them (sql-* volumes to sql-* hosts, k8s-* to k8s-*).
        by_token: dict[str, list[tuple[str, str]]] = {}
        for kind, records in (("host", hosts), ("host_group", host_groups)):
            for record in records:
                by_token.setdefault(record["name"].split("-")[0], []).append((kind, record["id"]))
        mappings: list[Record] = []
        template = self.sim.new_record("host_volume_mapping")
        chosen_for_group: dict[str, tuple[str, str] | None] = {}
        random = self.random

        def place(volume: Record, target: tuple[str, str]) -> bool:
            kind, target_id = target
            owners = [target_id, *(group_hosts.get(target_id, ()) if kind == "host_group" else ())]
            lun = max(next_lun[o] for o in owners)
            if lun > SEED_LUN_CAP:
                return False
            for owner in owners:
                next_lun[owner] = lun + 1
            record = dict(template)
            record.update(
                id=self.new_id(),
                host_id=target_id if kind == "host" else None,
                host_group_id=target_id if kind == "host_group" else None,
                volume_id=volume["id"],
                logical_unit_number=lun,
            )
            mappings.append(record)
            volume["node_affinity"] = self.pick(SELECTED_NODES)
            return True

        for volume in [*ordinary, *clones]:
            if not targets:
                break
            group_id = volume["_volume_group_id"]
            if group_id is not None and group_id in chosen_for_group:
                target = chosen_for_group[group_id]
            else:
                share = SEED_MAPPED_SHARE if volume["type"] == PRIMARY else 0.5
                target = None
                if random() < share:
                    alike = [t for t in by_token.get(volume["name"].split("-")[0], ()) if t in targets]
                    pool = alike if alike and random() < 0.8 else targets
                    target = self.pick(pool)
                if group_id is not None:
                    chosen_for_group[group_id] = target
            if target is not None and target in targets and not place(volume, target):
                targets.remove(target)
        return mappings


def seed(sim: Sim) -> None:
    """Seed ``sim.config.volumes`` ordinary volumes with snapshots, clones, groups and mappings."""
    seeder = _Seeder(sim)
    seeder.run(max(0, sim.config.volumes))
