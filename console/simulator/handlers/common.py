"""What every handler module needs: the record a request targets, names, references, times."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from console.simulator import errors
from console.simulator.operations import OpRequest, Sim
from console.simulator.store import Record

NAME_MAX = 128


def target(sim: Sim, req: OpRequest) -> Record:
    """The record the request changes. The app resolved ``req.target_id`` before the handler ran; an
    async job's record can still have gone meanwhile, which fails the job with a 404."""
    return sim.store.require(req.resource_type, req.target_id or "", allow_name=False)


def label(record: Record) -> str:
    """How a message names a record: by its name, or by its id when it has none."""
    return record.get("name") or record["id"]


def noun(type_name: str) -> str:
    """A type's name as a message says it (``volume_group``: volume group)."""
    return type_name.replace("_", " ")


def public(record: Record) -> Record:
    """``record`` without its hidden ``_`` fields (for copies that must not share internals)."""
    return {k: v for k, v in record.items() if not k.startswith("_")}


def resolve_each(sim: Sim, type_name: str, refs: Iterable[str]) -> list[Record]:
    """The records that ``refs`` (ids or ``name:<n>``) point to, each once, in the order given."""
    found: dict[str, Record] = {}
    for ref in refs:
        record = sim.store.require(type_name, ref)
        found.setdefault(record["id"], record)
    return list(found.values())


# -- names --------------------------------------------------------------------------------------------


def require_nonblank_name(type_name: str, name: str) -> None:
    if not name.strip():
        what = noun(type_name)
        article = "An" if what[0] in "aeiou" else "A"
        raise errors.bad_request(f"{article} {what} name cannot be blank.", code=errors.CODE_INVALID_VALUE)


def require_free_name(
    sim: Sim,
    type_name: str,
    name: str,
    *,
    except_id: str | None = None,
    nonblank: bool = False,
    status: int = 422,
    code: str = errors.CODE_NAME_IN_USE,
) -> None:
    """Refuse a name another record of the type has (the store knows which types ignore case).

    Most conflicts are a 422; the reference records a 400 for some (snapshots, host groups)."""
    if nonblank:
        require_nonblank_name(type_name, name)
    if sim.store.name_taken(type_name, name, except_id=except_id):
        raise errors.fault(
            status, code, f"The name {name} is already used by another {noun(type_name)}.", name
        )


def renamed(
    sim: Sim,
    type_name: str,
    record: Record,
    body: dict[str, Any],
    *,
    nonblank: bool = False,
    status: int = 422,
    code: str = errors.CODE_NAME_IN_USE,
) -> dict[str, Any]:
    """The change a modify body makes to the record's name: ``{"name": ...}`` once the new name is
    found free, or nothing when the body keeps the name."""
    if "name" not in body or body["name"] == record["name"]:
        return {}
    require_free_name(
        sim, type_name, body["name"], except_id=record["id"], nonblank=nonblank, status=status, code=code
    )
    return {"name": body["name"]}


def free_name(base: str, taken: Callable[[str], bool], *, limit: int = NAME_MAX) -> str:
    """``base`` itself, or with the first counter (-2, -3 ...) that makes it free, for the names the
    simulator makes up (default snapshot and clone names)."""
    base = base[:limit]
    if not taken(base):
        return base
    for n in itertools.count(2):
        suffix = f"-{n}"
        candidate = base[: limit - len(suffix)] + suffix
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable")


def unused_name(sim: Sim, type_name: str, base: str) -> str:
    """``free_name`` among the names of ``type_name`` records."""
    return free_name(base, lambda name: sim.store.name_taken(type_name, name))


# -- times --------------------------------------------------------------------------------------------


def parse_time(value: Any, field: str) -> float:
    """Seconds since the epoch of an API timestamp; a 400 naming ``field`` when it is none."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise errors.bad_request(
            f"{field} is not a valid date and time: {value}.", field, value, code=errors.CODE_INVALID_VALUE
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
