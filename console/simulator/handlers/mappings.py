"""Host mappings: which volume a host or host group sees, under which logical unit number (LUN).

``host_volume_mapping`` records (``host_id`` or ``host_group_id``, ``volume_id``,
``logical_unit_number``) change only through the attach/detach actions of volumes, hosts and host
groups, which all come here. A host sees its own mappings and its group's in one LUN space; a volume
is mapped to a host at most once, directly or through the group. Automatic LUNs start at 1.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.simulator import errors
from console.simulator.handlers.common import label
from console.simulator.handlers.volume_family import SELECT_AT_ATTACH, SELECTED_NODES, SNAPSHOT
from console.simulator.operations import Sim
from console.simulator.store import Record

FIRST_AUTO_LUN = 1
MAX_LUN = 16383


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
            host["id"], None, frozenset({host["id"]}), frozenset({group_id} if group_id else ()), label(host)
        )
    if host_group_id:
        group = sim.store.require("host_group", host_group_id)
        hosts = sim.store.lookup("host", "host_group_id", group["id"])
        return HostTarget(None, group["id"], frozenset(hosts), frozenset({group["id"]}), label(group))
    raise errors.bad_request(
        "Give host_id or host_group_id.", "host_id", "host_group_id", code=errors.CODE_MISSING_REQUIRED
    )


def body_target(sim: Sim, body: Record) -> HostTarget:
    """The host or host group a request body names in ``host_id`` or ``host_group_id``."""
    return host_target(sim, host_id=body.get("host_id"), host_group_id=body.get("host_group_id"))


def optional_body_target(sim: Sim, body: Record) -> HostTarget | None:
    """``body_target``, or None when the body names neither (a volume made without mapping it)."""
    if not body.get("host_id") and not body.get("host_group_id"):
        return None
    return body_target(sim, body)


def volume_mappings(sim: Sim, volume_id: str) -> list[Record]:
    return sim.store.related("host_volume_mapping", "volume_id", volume_id)


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
            f"The snapshot {label(volume)} cannot be mapped to hosts; map a clone of it instead.",
            volume["id"],
        )
    current = _target_mappings(sim, target)
    if any(m["volume_id"] == volume["id"] for m in current):
        raise errors.unprocessable(
            f"The volume {label(volume)} is already mapped to {target.label}.",
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
    for mapping in volume_mappings(sim, volume["id"]):
        if target.host_id is not None and mapping["host_id"] == target.host_id:
            break
        if target.host_group_id is not None and mapping["host_group_id"] == target.host_group_id:
            break
    else:
        through_group = target.host_id is not None and any(
            m["host_group_id"] in target.group_ids for m in volume_mappings(sim, volume["id"])
        )
        text = f"The volume {label(volume)} is not mapped to {target.label}."
        if through_group:
            text += " It is mapped to the host's host group; detach it from the group."
        raise errors.unprocessable(text, volume["id"], target.label, code=errors.CODE_VOLUME_NOT_MAPPED)
    sim.store.delete("host_volume_mapping", mapping["id"])
    return mapping
