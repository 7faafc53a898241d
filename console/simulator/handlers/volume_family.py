"""Volumes and volume groups as records: how they are built, their family tree, how they are deleted.

Snapshots and clones are volumes (``type`` Snapshot / Clone); a snapshot set is a volume group of
type Snapshot whose members are snapshot volumes. Hidden fields:

- ``volume._volume_group_id``: the group the volume belongs to (at most one).
- ``volume._parent_id`` / ``volume_group._parent_id``: a copy of ``protection_data.parent_id`` kept at
  the top level so the store can index the family tree (embedded objects are not indexed).
"""

from __future__ import annotations

from typing import Any

from console.simulator import errors
from console.simulator.handlers.common import label, parse_time
from console.simulator.operations import Sim
from console.simulator.store import Record

GIB = 1 << 30
SIZE_ALIGN = 8192
WWN_PREFIX = "naa.68ccf098"
NGUID_PREFIX = "nguid."

PRIMARY, CLONE, SNAPSHOT = "Primary", "Clone", "Snapshot"
# node_affinity until the first mapping picks a node.
SELECT_AT_ATTACH = "System_Select_At_Attach"
SELECTED_NODES = ("System_Selected_Node_A", "System_Selected_Node_B")

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


# -- building -----------------------------------------------------------------------------------------


def protection_data(sim: Sim, **values: Any) -> Record:
    """A whole ``protection_data`` object: a user's copy unless ``values`` say otherwise."""
    fields = sim.catalog.definitions.get(PROTECTION_DATA)
    names = list(fields.fields) if fields is not None else list(PROTECTION_DATA_FIELDS)
    data: Record = dict.fromkeys(names)
    data.update(is_app_consistent=False, is_secure=False, creator_type="User")
    data.update(values)
    data["creator_type_l10n"] = creator_label(sim, data["creator_type"])
    return data


def creator_label(sim: Sim, value: str | None) -> str | None:
    fields = sim.catalog.definitions.get(PROTECTION_DATA)
    field = fields.fields.get("creator_type") if fields is not None else None
    enum = field.enum if field is not None and field.enum else "StorageCreatorTypeEnum"
    return sim.label(enum, value)


def identity(sim: Sim) -> tuple[str, str]:
    """A fresh WWN and NGUID: 96 and 128 random bits, so no repeat is ever expected (and none is
    checked for)."""
    return f"{WWN_PREFIX}{sim.rng.getrandbits(96):024x}", f"{NGUID_PREFIX}{sim.rng.getrandbits(128):032x}"


def _next_nsid(sim: Sim) -> int:
    # Unique across the cluster, hence per appliance as well; one plain pass, cheaper than an index.
    return max((v.get("nsid") or 0 for v in sim.store.all("volume")), default=0) + 1


def insert_volume(sim: Sim, **values: Any) -> Record:
    """A new volume with the array's defaults for whatever ``values`` leaves out."""
    wwn, nguid = identity(sim)
    data = values.get("protection_data") or {}
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
        "_parent_id": data.get("parent_id"),
    }
    record.update(values)
    if "protection_data" not in values:
        record["protection_data"] = protection_data(sim, family_id=record["id"])
    return sim.insert("volume", **record)


def insert_group(sim: Sim, **values: Any) -> Record:
    """A new volume group with the array's defaults for whatever ``values`` leaves out."""
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
        "_parent_id": (values.get("protection_data") or {}).get("parent_id"),
    }
    record.update(values)
    if "protection_data" not in values:
        record["protection_data"] = protection_data(sim, family_id=record["id"])
    return sim.insert("volume_group", **record)


# -- the family tree ----------------------------------------------------------------------------------


def family_id(record: Record) -> str:
    return (record.get("protection_data") or {}).get("family_id") or record["id"]


def children(sim: Sim, type_name: str, parent_id: str) -> list[Record]:
    """The snapshots and clones taken directly of a volume (or of a volume group)."""
    return sim.store.related(type_name, "_parent_id", parent_id)


def snapshots(sim: Sim, volume_id: str) -> list[Record]:
    return [v for v in children(sim, "volume", volume_id) if v["type"] == SNAPSHOT]


def snapshot_sets(sim: Sim, group_id: str) -> list[Record]:
    return [g for g in children(sim, "volume_group", group_id) if g["type"] == SNAPSHOT]


def members(sim: Sim, group_id: str) -> list[Record]:
    """The volumes of a volume group (the snapshots of a snapshot set), by name."""
    return sorted(
        sim.store.related("volume", "_volume_group_id", group_id), key=lambda v: v["name"].casefold()
    )


def is_locked(sim: Sim, data: Record | None) -> bool:
    """Whether the copy with this ``protection_data`` is secure and has not expired yet: then it may be
    neither deleted nor made to expire earlier."""
    if not data or not data.get("is_secure"):
        return False
    expiration = data.get("expiration_timestamp")
    return expiration is None or parse_time(expiration, "expiration_timestamp") > sim.now()


def member_appliance(sim: Sim, group: Record) -> str | None:
    """The appliance a volume group keeps its volumes on (None while it has none)."""
    current = members(sim, group["id"])
    return current[0].get("appliance_id") if current else None


def check_not_destination(record: Record, kind: str, verb: str) -> None:
    if record.get("is_replication_destination"):
        raise errors.unprocessable(
            f"The {kind} {label(record)} is a replication destination and cannot be {verb}.", record["id"]
        )


def check_group_accepts(group: Record) -> None:
    """Membership changes happen only on primary and clone groups that replication does not control."""
    if group["type"] == SNAPSHOT:
        raise errors.unprocessable(
            f"{label(group)} is a snapshot set; its members cannot change.", group["id"]
        )
    check_not_destination(group, "volume group", "changed")


# -- deleting -----------------------------------------------------------------------------------------


def _parent_after_deleting(record: Record) -> str | None:
    """Where the copies of ``record`` hang once it is deleted: from its own parent (a primary has none)."""
    return None if record["type"] == PRIMARY else (record.get("protection_data") or {}).get("parent_id")


def _repoint(sim: Sim, type_name: str, copies: list[Record], parent_id: str | None) -> None:
    for copy in copies:
        data = {**(copy.get("protection_data") or {}), "parent_id": parent_id}
        sim.update(type_name, copy["id"], {"protection_data": data, "_parent_id": parent_id})


def delete_volume_tree(sim: Sim, volume: Record) -> None:
    """Delete a volume with its snapshots; its clones, and the clones of those snapshots, stay and hang
    from the volume's parent instead. (No checks: callers refuse what may not be deleted.)"""
    doomed, orphans = [volume], []
    for child in children(sim, "volume", volume["id"]):
        if child["type"] == SNAPSHOT:
            doomed.append(child)
            orphans += children(sim, "volume", child["id"])
        else:
            orphans.append(child)
    _repoint(sim, "volume", orphans, _parent_after_deleting(volume))
    for record in doomed:
        sim.store.delete("volume", record["id"])


def release_group_children(sim: Sim, group: Record) -> None:
    """Before a volume group is deleted: its clone groups hang from its parent instead."""
    _repoint(sim, "volume_group", children(sim, "volume_group", group["id"]), _parent_after_deleting(group))
