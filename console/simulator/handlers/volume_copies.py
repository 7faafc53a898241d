"""Copies of volumes and volume groups: snapshots, clones, and content copied back by refresh and
restore, with the rules volumes and volume groups share for them.

A bad value in a body (an expiration in the past) is a 400, a request the current state forbids a
422, except a snapshot (set) name taken, which is a 400 as the reference records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeAlias

from console.simulator import errors
from console.simulator.handlers.common import label, parse_time, require_free_name, unused_name
from console.simulator.handlers.policies import assigned_policies, assigned_policy_id
from console.simulator.handlers.volume_family import (
    CLONE,
    SNAPSHOT,
    family_id,
    insert_volume,
    protection_data,
)
from console.simulator.operations import OpResult, Sim, done
from console.simulator.store import Record

Origin: TypeAlias = tuple[str | None, str | None]
"""Where a copy's content came from: ``protection_data.source_id`` and ``source_timestamp``."""

# Fields a replication destination still accepts (the rest is controlled by replication).
REPLICATION_DESTINATION_FIELDS = frozenset({"is_replication_destination", "force"})


# -- snapshots and clones -----------------------------------------------------------------------------


def expiration(sim: Sim, value: Any, field: str = "expiration_timestamp") -> str | None:
    """An expiration in the API's form; ``None`` (or empty) means the copy never expires."""
    if value is None or value == "":
        return None
    moment = parse_time(value, field)
    if moment <= sim.now():
        raise errors.bad_request(
            f"{field} must lie in the future: {value}.", field, value, code=errors.CODE_INVALID_VALUE
        )
    return sim.timestamp(moment)


def snapshot_settings(
    sim: Sim, type_name: str, profile: Record, *, default_name: str
) -> tuple[str, str | None, bool]:
    """The name, expiration and secure flag a snapshot body (``profile``) gives a new snapshot (of
    ``type_name`` volume) or snapshot set (``volume_group``)."""
    name = profile.get("name")
    if name:
        require_free_name(sim, type_name, name, status=400)
    else:
        name = unused_name(sim, type_name, default_name)
    expires = expiration(sim, profile.get("expiration_timestamp"))
    is_secure = bool(profile.get("is_secure"))
    if is_secure and expires is None:
        what = "snapshot" if type_name == "volume" else "snapshot set"
        raise errors.bad_request(f"A secure {what} needs an expiration_timestamp.", "is_secure")
    return name, expires, is_secure


def _copy_fields(source: Record) -> dict[str, Any]:
    return {
        "size": source["size"],
        "appliance_id": source.get("appliance_id"),
        "app_type": source.get("app_type"),
        "app_type_other": source.get("app_type_other"),
        "logical_used": source.get("logical_used") or 0,
    }


def snapshot_data(
    sim: Sim, source: Record, stamp: str, *, expires: str | None, is_secure: bool, creator_type: str = "User"
) -> Record:
    """The ``protection_data`` of a snapshot (or snapshot set) of ``source`` taken at ``stamp``."""
    return protection_data(
        sim,
        family_id=family_id(source),
        source_id=source["id"],
        parent_id=source["id"],
        source_timestamp=stamp,
        creator_type=creator_type,
        expiration_timestamp=expires,
        is_secure=is_secure,
    )


def clone_data(sim: Sim, source: Record, stamp: str) -> Record:
    """The ``protection_data`` of a clone of ``source`` taken at ``stamp``. A clone of a snapshot
    counts as a clone of the snapshot's source taken when the snapshot was."""
    if source["type"] == SNAPSHOT:
        origin = source.get("protection_data") or {}
        source_id, source_time = origin.get("source_id"), origin.get("source_timestamp")
    else:
        source_id, source_time = source["id"], stamp
    return protection_data(
        sim,
        family_id=family_id(source),
        source_id=source_id,
        parent_id=source["id"],
        source_timestamp=source_time,
    )


def take_snapshot(
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
            f"The volume {label(source)} is a snapshot; snapshots cannot be snapshotted.", source["id"]
        )
    name, expires, is_secure = snapshot_settings(sim, "volume", profile, default_name=default_name)
    performance = assigned_policy_id(
        sim, "volume", "performance_policy_id", profile.get("performance_policy_id")
    )
    stamp = stamp or sim.timestamp()
    creator = profile.get("creator_type") or "User"
    data = snapshot_data(sim, source, stamp, expires=expires, is_secure=is_secure, creator_type=creator)
    return insert_volume(
        sim,
        **_copy_fields(source),
        name=name,
        description=profile.get("description"),
        type=SNAPSHOT,
        performance_policy_id=performance or source.get("performance_policy_id"),
        creation_timestamp=stamp,
        protection_data=data,
        _volume_group_id=group_id,
    )


def make_clone(
    sim: Sim,
    source: Record,
    body: Record,
    *,
    name: str,
    group_id: str | None = None,
    stamp: str | None = None,
) -> Record:
    """A clone volume of ``source`` (a volume, clone or snapshot) with the policies of a clone body."""
    policies = assigned_policies(sim, "volume", body)
    stamp = stamp or sim.timestamp()
    data = clone_data(sim, source, stamp)
    return insert_volume(
        sim,
        **_copy_fields(source),
        name=name,
        description=body.get("description"),
        type=CLONE,
        protection_policy_id=policies["protection_policy_id"],
        performance_policy_id=policies["performance_policy_id"] or source.get("performance_policy_id"),
        qos_performance_policy_id=policies["qos_performance_policy_id"],
        creation_timestamp=stamp,
        protection_data=data,
        _volume_group_id=group_id,
    )


def compact_stamp(sim: Sim) -> str:
    """The current time as it goes into the names the simulator makes up (``20250102T030405``)."""
    return datetime.fromtimestamp(sim.now(), UTC).strftime("%Y%m%dT%H%M%S")


# -- refresh and restore ------------------------------------------------------------------------------


def refresh_origin(sim: Sim, source: Record) -> Origin:
    """The origin a refresh from ``source`` leaves on its target: the source, as of now (a snapshot's
    content is as of when it was taken)."""
    if source["type"] == SNAPSHOT:
        return source["id"], (source.get("protection_data") or {}).get("source_timestamp")
    return source["id"], sim.timestamp()


def check_restore_source(snapshot: Record, restored: Record, kind: str) -> None:
    """A volume (group) is restored only from its own snapshots (snapshot sets)."""
    if snapshot["type"] != SNAPSHOT or snapshot.get("_parent_id") != restored["id"]:
        copies = "snapshot" if kind == "volume" else "snapshot set"
        raise errors.unprocessable(
            f"{label(snapshot)} is not a {copies} of the {kind} {label(restored)}; "
            f"a {kind} is restored only from its own {copies}s.",
            snapshot["id"],
            restored["id"],
        )


def restore_origin(snapshot: Record, restored: Record) -> Origin:
    """The origin a restore from ``snapshot`` gives back to ``restored``: the snapshot's own."""
    data = snapshot.get("protection_data") or {}
    return data.get("source_id") or restored["id"], data.get("source_timestamp")


def set_origin(sim: Sim, type_name: str, record_id: str, origin: Origin, **changes: Any) -> None:
    current = sim.store.require(type_name, record_id)
    source_id, source_time = origin
    data = {**(current.get("protection_data") or {}), "source_id": source_id, "source_timestamp": source_time}
    sim.update(type_name, record_id, {**changes, "protection_data": data})


def copy_content(sim: Sim, volume_id: str, source: Record, origin: Origin) -> None:
    """What a refresh or restore changes: the data (seen as ``logical_used``) and its origin."""
    size = sim.store.require("volume", volume_id)["size"]
    set_origin(sim, "volume", volume_id, origin, logical_used=min(source.get("logical_used") or 0, size))


def backup_name(sim: Sim, record: Record) -> str:
    """The default name of the snapshot (set) a refresh or restore takes of ``record`` first."""
    return f"{record['name']}.backup-{compact_stamp(sim)}"


def backup_answer(record: Record, backup: Record | None) -> OpResult:
    return done(record, body={"backup_snapshot_id": backup["id"]}) if backup is not None else done(record)


# -- what a modify may change ---------------------------------------------------------------------------


def check_replication_destination(record: Record, body: Record, kind: str) -> None:
    """A replication destination takes only turning that off (or, with force, losing its protection
    policy): replication controls the rest."""
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
            f"The {kind} {label(record)} is a replication destination; only is_replication_destination "
            "can change (or, with force, the protection policy be removed).",
            record["id"],
        )


def destination_change(record: Record, body: Record, *, is_copy: bool, kind: str) -> dict[str, Any]:
    """The change of ``is_replication_destination`` a body asks for: only from true to false."""
    wanted = body.get("is_replication_destination")
    if "is_replication_destination" not in body or wanted == record.get("is_replication_destination"):
        return {}
    if wanted or is_copy:
        raise errors.unprocessable(
            f"is_replication_destination can only go from true to false, on a primary or clone {kind}.",
            record["id"],
        )
    return {"is_replication_destination": False}


def expiry_changes(sim: Sim, record: Record, body: Record, *, is_copy: bool, kind: str) -> Record:
    """The ``protection_data`` after the body's ``expiration_timestamp`` and ``is_secure``, which only
    a copy (a ``kind``: snapshot or snapshot set) has. Secure is for good, and keeps an expiration that
    may only move later."""
    old = record.get("protection_data") or {}
    name = label(record)
    for field in ("expiration_timestamp", "is_secure"):
        if field in body and not is_copy:
            raise errors.unprocessable(f"{field} applies to {kind}s only; {name} is not one.", record["id"])
    data = dict(old)
    if "expiration_timestamp" in body:
        data["expiration_timestamp"] = expiration(sim, body["expiration_timestamp"])
    if "is_secure" in body:
        if old.get("is_secure") and not body["is_secure"]:
            raise errors.unprocessable(f"The {kind} {name} is secure; that cannot be undone.", record["id"])
        data["is_secure"] = bool(body["is_secure"]) or bool(old.get("is_secure"))
    if data.get("is_secure"):
        if data.get("expiration_timestamp") is None:
            raise errors.unprocessable(f"The secure {kind} {name} needs an expiration time.", record["id"])
        if old.get("is_secure") and old.get("expiration_timestamp"):
            before = parse_time(old["expiration_timestamp"], "expiration_timestamp")
            if parse_time(data["expiration_timestamp"], "expiration_timestamp") < before:
                raise errors.unprocessable(
                    f"The expiration of the secure {kind} {name} can only be extended.", record["id"]
                )
    return data
