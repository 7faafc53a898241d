"""Orphans: requests that may have reached the array but whose answer (the job id) never arrived.

The connection dropped after sending, or the console died between writing the intent and reading
the 202. The request is never sent again (it may have run). Instead the array's job list is
searched for a top-level job of the same resource type and action, started by the same user
within the intent's time window, on the same resource (its id, or for a create its new name).
The closest such job that no other entry of the journal claims is adopted and followed; when
there is none, the outcome is unknown and the user is told to check the resource.

Several orphans of one kind are searched with one query. Orphans are matched oldest first, and a
job adopted by one is never offered to another, so two intents never share a job.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from console.api import F, PowerStoreClient, all_of
from console.api.expressions import Expression
from console.jobs.model import Intent, Job, format_time, parse_time

log = logging.getLogger(__name__)

# What the search asks of each candidate job (enough to adopt it without another request).
SEARCH_FIELDS = (
    "id,resource_type,resource_action,resource_id,resource_name,description_l10n,phase,state,"
    "progress_percentage,start_time,end_time,estimated_completion_time,user,parent_id,root_id,"
    "response_status,response_body"
)


@dataclass(frozen=True)
class Window:
    """The array-clock span in which an orphan's job must have started."""

    before: float
    after: float
    skew: float = 0.0
    """Array clock minus ours, in seconds."""

    def bounds(self, intent: Intent) -> tuple[float, float]:
        centre = intent.at + self.skew
        return centre - self.before, centre + self.after

    def centre(self, intent: Intent) -> float:
        return intent.at + self.skew


def search_filter(intents: Sequence[Intent], window: Window, *, action_filter: bool) -> Expression:
    """The ``/job`` filter covering every intent of one group (same type, action and user)."""
    first = intents[0]
    lows, highs = zip(*(window.bounds(i) for i in intents), strict=True)
    terms: list[Expression] = [
        F("resource_type") == first.target.type,
        F("user") == first.user,
        F("start_time") >= format_time(min(lows)),
        F("start_time") <= format_time(max(highs)),
    ]
    if action_filter:
        terms.append(F("resource_action") == first.target.action)
    return all_of(*terms)


def matches(intent: Intent, job: Mapping[str, Any], window: Window, *, action_filter: bool) -> bool:
    """Could ``job`` be the one ``intent`` started?"""
    target = intent.target
    if job.get("parent_id") not in (None, "", job.get("id")):
        return False
    if job.get("resource_type") != target.type or job.get("user") != intent.user:
        return False
    if action_filter and job.get("resource_action") != target.action:
        return False
    started = parse_time(job.get("start_time"))
    low, high = window.bounds(intent)
    if started is None or not low <= started <= high:
        return False
    name = job.get("resource_name")
    if target.id is not None and target.action != "create":
        if target.id.startswith("name:"):
            wanted = target.id[5:]
            if not isinstance(name, str) or name.casefold() != wanted.casefold():
                return False
        elif str(job.get("resource_id") or "") != target.id:
            return False
    elif target.name and isinstance(name, str) and name and name.casefold() != target.name.casefold():
        return False
    return True


def _rank(intent: Intent, job: Mapping[str, Any], window: Window) -> tuple[int, float]:
    """Lower is better: a job naming the intended resource first, then the closest in time."""
    name = job.get("resource_name")
    wanted = intent.target.name
    named = wanted is not None and isinstance(name, str) and name.casefold() == wanted.casefold()
    started = parse_time(job.get("start_time")) or 0.0
    return (0 if named else 1, abs(started - window.centre(intent)))


def assign(
    orphans: Sequence[Job],
    candidates: Iterable[Mapping[str, Any]],
    claimed: Collection[str],
    window: Window,
    *,
    action_filter: Mapping[str, bool] | None = None,
) -> dict[int, Mapping[str, Any]]:
    """Entry key -> adopted job, for the orphans that have a match (oldest intent first; a job goes
    to one entry at most, and never to one when ``claimed`` already holds its id)."""
    pool = [c for c in candidates if str(c.get("id")) not in claimed]
    taken: set[str] = set()
    adopted: dict[int, Mapping[str, Any]] = {}
    for orphan in sorted(orphans, key=lambda j: (j.intent.at if j.intent else 0.0, j.key)):
        intent = orphan.intent
        if intent is None:
            continue
        use_action = (action_filter or {}).get(intent.target.action, True)
        fitting = [
            c
            for c in pool
            if str(c.get("id")) not in taken and matches(intent, c, window, action_filter=use_action)
        ]
        if not fitting:
            continue
        best = min(fitting, key=lambda c: _rank(intent, c, window))
        taken.add(str(best.get("id")))
        adopted[orphan.key] = best
    return adopted


async def search(
    client: PowerStoreClient,
    orphans: Sequence[Job],
    claimed: Collection[str],
    window: Window,
    *,
    known_actions: Collection[str],
) -> dict[int, Mapping[str, Any] | None]:
    """Look for every orphan's job; entry key -> the adopted job, or None when none matched.

    ``known_actions``: the ``ResourceActionEnum`` values. An action outside it (the array reports
    such jobs under another action) is matched on type, resource, user and time alone.
    """
    groups: dict[tuple[str, str, str], list[Job]] = {}
    for orphan in orphans:
        if orphan.intent is None:
            continue
        target = orphan.intent.target
        action = target.action if target.action in known_actions else ""
        groups.setdefault((target.type, action, orphan.intent.user), []).append(orphan)
    action_filter = {
        o.intent.target.action: o.intent.target.action in known_actions for o in orphans if o.intent
    }
    candidates: list[Mapping[str, Any]] = []
    for (_rtype, action, _user), members in groups.items():
        intents = [m.intent for m in members if m.intent is not None]
        where = search_filter(intents, window, action_filter=bool(action))
        found = [
            job async for job in client.iterate("job", select=SEARCH_FIELDS, where=where, order="start_time")
        ]
        log.info("orphan search: %d candidate job(s) for %d request(s)", len(found), len(members))
        candidates += found
    adopted = assign(orphans, candidates, claimed, window, action_filter=action_filter)
    return {o.key: adopted.get(o.key) for o in orphans}
