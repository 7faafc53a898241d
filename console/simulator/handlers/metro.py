"""Metro volumes and volume groups: ``configure_metro`` and ``end_metro``.

Configuring metro makes a ``Metro_Active_Active`` replication session with a remote PowerStore that
has the ``Block_Metro_Active_Active`` capability and a working data connection; this array's copy is
the preferred side. The resource shows the session in ``metro_replication_session_id``, the session
lists the resource in its ``volumes`` or ``volume_groups``. The remote copy is not modelled beyond
its id (``remote_resource_id``).

Rules where the reference is silent, chosen as the array's UI behaves: only primary volumes and
clones may become metro, not snapshots; a member of a volume group is made metro through its group;
a metro volume group must be write-order consistent; a metro resource cannot be deleted, nor (for a
volume) join a group, until metro is ended. As the spec says, a metro resource is modified, refreshed
or restored only while its session is paused (``replication_session`` ``pause``/``resume``).
"""

from __future__ import annotations

from console.simulator import errors
from console.simulator.handlers.common import label, noun, target
from console.simulator.handlers.protection_rules import remote_system_with
from console.simulator.operations import (
    STORAGE_ROLES,
    OpRequest,
    OpResult,
    Sim,
    done,
    iso_timestamp,
    operation,
    relation,
)
from console.simulator.store import Record

METRO_CAPABILITY = "Block_Metro_Active_Active"
SESSION_FIELD = "metro_replication_session_id"
PAUSED = "Paused"


def refuse_while_metro(type_name: str, record: Record, what: str) -> None:
    """422 for a change a metro resource does not allow (``what``: "deleted", ...)."""
    if record.get(SESSION_FIELD):
        raise errors.unprocessable(
            f"The {noun(type_name)} {label(record)} is in a metro configuration and cannot be {what}; "
            "end metro first.",
            record["id"],
            record[SESSION_FIELD],
            code=errors.CODE_IN_USE,
        )


def refuse_unless_paused(sim: Sim, type_name: str, record: Record, what: str) -> None:
    """422 for a change the spec allows a metro resource only while its session is paused
    (``what``: "modified", "refreshed", "restored")."""
    session_id = record.get(SESSION_FIELD)
    session = sim.store.get("replication_session", session_id) if session_id else None
    if session is not None and session.get("state") != PAUSED:
        raise errors.unprocessable(
            f"The {noun(type_name)} {label(record)} is in a metro configuration and can only be {what} "
            "while its replication session is paused.",
            record["id"],
            session["id"],
        )


def _check_candidate(sim: Sim, type_name: str, record: Record) -> None:
    name = label(record)
    if record.get(SESSION_FIELD):
        raise errors.unprocessable(f"The {noun(type_name)} {name} is already metro.", record["id"])
    if type_name == "volume":
        if record.get("type") == "Snapshot":
            raise errors.unprocessable(f"The snapshot {name} cannot be made metro.", record["id"])
        group_id = record.get("_volume_group_id")
        if group_id is not None:
            raise errors.unprocessable(
                f"The volume {name} is a member of a volume group; configure metro on the group.",
                record["id"],
                group_id,
            )
        return
    if record.get("type") == "Snapshot":
        raise errors.unprocessable(f"The snapshot set {name} cannot be made metro.", record["id"])
    if not record.get("is_write_order_consistent"):
        raise errors.unprocessable(
            f"The volume group {name} must be write-order consistent to be made metro.", record["id"]
        )


def _configure(sim: Sim, req: OpRequest) -> OpResult:
    type_name = req.resource_type
    record = target(sim, req)
    _check_candidate(sim, type_name, record)
    remote = remote_system_with(sim, req.body["remote_system_id"], (METRO_CAPABILITY,), "metro")
    if remote.get("data_connection_state") != "OK":
        raise errors.unprocessable(
            f"The data connection to the remote system {remote['name']} is not working "
            f"({remote.get('data_connection_state')}).",
            remote["id"],
        )
    session = sim.insert(
        "replication_session",
        id=sim.new_id(),
        state="OK",
        role="Metro_Preferred",
        resource_type=type_name,
        data_transfer_state="Active_Active",
        type="Metro_Active_Active",
        last_sync_timestamp=iso_timestamp(sim.now()),
        local_resource_id=record["id"],
        remote_resource_id=sim.new_id(),
        remote_system_id=remote["id"],
        progress_percentage=100,
        replication_rule_id=None,
        storage_element_pairs=[],
        failover_test_in_progress=False,
        data_connection_state="OK",
    )
    sim.update(type_name, record["id"], {SESSION_FIELD: session["id"]})
    return done(record, body={SESSION_FIELD: session["id"]}, status=200)


def _end(sim: Sim, req: OpRequest) -> OpResult:
    type_name = req.resource_type
    record = target(sim, req)
    session_id = record.get(SESSION_FIELD)
    if not session_id:
        raise errors.unprocessable(f"The {noun(type_name)} {label(record)} is not metro.", record["id"])
    sim.store.delete("replication_session", session_id)
    sim.update(type_name, record["id"], {SESSION_FIELD: None})
    return done(record)


for _type in ("volume", "volume_group"):
    operation(_type, "configure_metro", roles=STORAGE_ROLES)(_configure)
    operation(_type, "end_metro", roles=STORAGE_ROLES)(_end)


def _local(sim: Sim, session: Record, type_name: str) -> list[Record]:
    if session.get("resource_type") != type_name:
        return []
    record = sim.store.get(type_name, session.get("local_resource_id") or "")
    return [record] if record is not None else []


@operation("replication_session", "pause", roles=STORAGE_ROLES)
def pause_session(sim: Sim, req: OpRequest) -> OpResult:
    session = target(sim, req)
    if session.get("state") == PAUSED:
        raise errors.unprocessable("The replication session is already paused.", session["id"])
    sim.update("replication_session", session["id"], {"state": PAUSED, "data_transfer_state": "Paused"})
    return done(session)


@operation("replication_session", "resume", roles=STORAGE_ROLES)
def resume_session(sim: Sim, req: OpRequest) -> OpResult:
    session = target(sim, req)
    if session.get("state") != PAUSED:
        raise errors.unprocessable("The replication session is not paused.", session["id"])
    resumed = "Active_Active" if session.get("type") == "Metro_Active_Active" else "Asynchronous"
    sim.update("replication_session", session["id"], {"state": "OK", "data_transfer_state": resumed})
    return done(session)


@relation("replication_session", "volumes")
def session_volumes(sim: Sim, session: Record) -> list[Record]:
    return _local(sim, session, "volume")


@relation("replication_session", "volume_groups")
def session_volume_groups(sim: Sim, session: Record) -> list[Record]:
    return _local(sim, session, "volume_group")


@relation("volume_group", "replication_sessions")
def group_replication_sessions(sim: Sim, group: Record) -> list[Record]:
    return sim.store.related("replication_session", "local_resource_id", group["id"])
