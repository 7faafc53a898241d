"""What the engine knows about one job: its journal entry, its last observed record, its outcome.

A ``Job`` is an immutable snapshot. The tracker replaces it whenever something changes and hands
the new snapshot to listeners, so a listener can keep it without copying and never sees it change
under its feet. One ``Job`` is one journal entry: a request the console sent (with its intent), or
a job followed by id alone (``track``); ``key`` is the entry's number and never changes, while
``job_id`` is unknown until the array has answered (or an orphan has been matched).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

# JobPhaseEnum spelled as the spec does; ``state`` (JobStateEnum, deprecated) maps onto it.
PHASES = (
    "Pending",
    "Queued",
    "In_Progress",
    "Failing",
    "Completed",
    "Failed",
    "Unrecoverable_Failed",
    "Skipped",
)
_PHASE_BY_FOLDED = {p.lower(): p for p in PHASES}
TERMINAL_PHASES = frozenset({"Completed", "Failed", "Unrecoverable_Failed", "Skipped"})

GONE_TEXT = "no longer on the array"
UNKNOWN_TEXT = "outcome unknown: check the resource"

# Fields of a job whose change a viewer can see; a poll that changes none of them is not an event.
VISIBLE_FIELDS = (
    "phase",
    "state",
    "progress_percentage",
    "description_l10n",
    "resource_id",
    "resource_name",
    "start_time",
    "end_time",
    "estimated_completion_time",
    "response_status",
    "response_body",
)


class Status(enum.StrEnum):
    """Where an entry is in its life. Stored in the journal as these strings."""

    SENDING = "sending"
    """The intent is recorded and the request is on its way; no answer yet."""
    ORPHAN = "orphan"
    """The request may have reached the array but its answer was lost; a search will tell."""
    TRACKING = "tracking"
    """The job id is known and the job is not finished: it is being polled."""
    FINISHED = "finished"
    """The job reached a terminal phase (the outcome says which)."""
    GONE = "gone"
    """The array no longer knows the job id (404); the last observed state is kept."""
    UNKNOWN = "unknown"
    """An orphan for which the array's job list held no match: the outcome is unknown."""
    REFUSED = "refused"
    """The request was refused at once, or never sent: nothing happened on the array."""
    DONE = "done"
    """The array carried the request out at once instead of starting a job."""
    UNTRACKED = "untracked"
    """The user stopped following the job (it may still be running on the array)."""


OPEN_STATUSES = frozenset({Status.SENDING, Status.ORPHAN, Status.TRACKING})
FINAL_STATUSES = frozenset({Status.FINISHED, Status.GONE, Status.UNKNOWN, Status.REFUSED, Status.DONE})


class Outcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNRECOVERABLE = "unrecoverable"
    """Failed and its clean-up failed too: the system may be inconsistent (show it louder)."""
    SKIPPED = "skipped"
    GONE = "gone"
    UNKNOWN = "unknown"
    REFUSED = "refused"


_OUTCOME_BY_PHASE = {
    "Completed": Outcome.SUCCEEDED,
    "Failed": Outcome.FAILED,
    "Unrecoverable_Failed": Outcome.UNRECOVERABLE,
    "Skipped": Outcome.SKIPPED,
}


def normalise_phase(record: Mapping[str, Any]) -> str | None:
    """The job's phase in the spec's spelling: ``phase``, else the deprecated ``state``, any case."""
    for key in ("phase", "state"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return _PHASE_BY_FOLDED.get(value.lower(), value)
    return None


def is_terminal(record: Mapping[str, Any]) -> bool:
    return normalise_phase(record) in TERMINAL_PHASES


def parse_time(value: Any) -> float | None:
    """An API timestamp (``2024-05-01T10:00:00.120+00:00``) as epoch seconds; None if absent or odd."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        # Without an offset the array's zone is unknown; UTC is what arrays send.
        return stamp.replace(tzinfo=UTC).timestamp()
    return stamp.timestamp()


def format_time(epoch: float) -> str:
    """Epoch seconds in the API's form, for filters (``start_time=gte.…``)."""
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+00:00"


def action_of(method: str, path: str) -> tuple[str, str | None, str]:
    """(resource type, target id, action) of a change request path: ``volume`` + POST is a create,
    ``volume/<id>`` + PATCH a modify, + DELETE a delete, ``volume/<id>/snapshot`` the action."""
    parts = [unquote(p) for p in path.strip("/").split("?", 1)[0].split("/") if p]
    method = method.upper()
    if not parts:
        return "", None, ""
    rtype = parts[0]
    if len(parts) == 1:
        return rtype, None, "create" if method == "POST" else method.lower()
    target = parts[1]
    if len(parts) >= 3:
        return rtype, target, parts[2]
    return rtype, target, {"PATCH": "modify", "DELETE": "delete"}.get(method, method.lower())


@dataclass(frozen=True)
class ResourceRef:
    """The resource a request aims at. ``id`` is None for a create (or holds ``name:<n>``);
    ``name`` is the resource's name when known (a create's new name, for matching orphans)."""

    type: str
    action: str
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class ResourceChange:
    """Which resource a finished job changed, so that views refresh just that one.

    ``id`` is the resource the job reports (for a create the new object once it exists);
    ``created_id`` is the new object's id from a ``job_create_response``, None otherwise.
    """

    type: str
    action: str
    id: str | None
    created_id: str | None = None


@dataclass(frozen=True)
class Intent:
    """What the console was about to send, written down before sending it."""

    method: str
    path: str
    body: Any
    """A copy with secret values masked; never the password itself."""
    user: str
    target: ResourceRef
    at: float
    """Wall-clock time (epoch seconds) just before the request went out."""


@dataclass(frozen=True)
class Step:
    """A child step of a job (``parent_id``/``root_id``/``step_order``)."""

    id: str
    parent_id: str | None
    description: str
    phase: str | None
    progress: int | None
    step_order: int | None
    start_time: str | None = None
    end_time: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Step:
        return cls(
            id=str(record.get("id")),
            parent_id=_str_or_none(record.get("parent_id")),
            description=str(record.get("description_l10n") or ""),
            phase=normalise_phase(record),
            progress=_int_or_none(record.get("progress_percentage")),
            step_order=_int_or_none(record.get("step_order")),
            start_time=_str_or_none(record.get("start_time")),
            end_time=_str_or_none(record.get("end_time")),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "description_l10n": self.description,
            "phase": self.phase,
            "progress_percentage": self.progress,
            "step_order": self.step_order,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


@dataclass(frozen=True)
class Job:
    """One followed job (or request awaiting its job id), as the job panel shows it."""

    key: int
    array: str
    status: Status
    job_id: str | None = None
    origin: str = ""
    """Who asked for it (``"form:volume-create"``, ``"tracked"``, a script's name): free text."""
    intent: Intent | None = None
    record: Mapping[str, Any] = field(default_factory=dict)
    """The last observed ``job_instance`` fields (``response_body`` whole)."""
    steps: tuple[Step, ...] = ()
    stalled: bool = False
    """Progress has not moved for the configured time. A flag, not a failure."""
    error: str | None = None
    """Why a request was refused or not sent, or what the orphan search concluded."""
    created: float = 0.0
    updated: float = 0.0
    finished: float | None = None

    # -- derived -------------------------------------------------------------------------------

    @property
    def phase(self) -> str | None:
        return normalise_phase(self.record)

    @property
    def progress(self) -> int | None:
        return _int_or_none(self.record.get("progress_percentage"))

    @property
    def description(self) -> str:
        text = self.record.get("description_l10n")
        if isinstance(text, str) and text:
            return text
        if self.intent is not None:
            target = self.intent.target
            what = target.name or target.id or ""
            return f"{target.action.replace('_', ' ').capitalize()} {target.type} {what}".strip()
        return f"Job {self.job_id}" if self.job_id else "Request"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def outcome(self) -> Outcome | None:
        """How it ended; None while it is open (or untracked)."""
        if self.status is Status.FINISHED:
            return _OUTCOME_BY_PHASE.get(self.phase or "", Outcome.UNKNOWN)
        return {
            Status.GONE: Outcome.GONE,
            Status.UNKNOWN: Outcome.UNKNOWN,
            Status.REFUSED: Outcome.REFUSED,
            Status.DONE: Outcome.SUCCEEDED,
        }.get(self.status)

    @property
    def response_body(self) -> Any:
        return self.record.get("response_body")

    @property
    def response_status(self) -> str | None:
        return _str_or_none(self.record.get("response_status"))

    @property
    def resource(self) -> ResourceChange | None:
        """The resource this job changes (or changed), from the job record, else from the intent."""
        target = self.intent.target if self.intent is not None else None
        rtype = _str_or_none(self.record.get("resource_type")) or (target.type if target else None)
        if not rtype:
            return None
        action = _str_or_none(self.record.get("resource_action")) or (target.action if target else "")
        resource_id = _str_or_none(self.record.get("resource_id"))
        if resource_id is None and target is not None and target.id and not target.id.startswith("name:"):
            resource_id = target.id
        created = created_id(self.response_body)
        body = self.response_body
        if created is None and self.response_status == "201" and isinstance(body, Mapping):
            # A create the array carried out at once answers 201 with the bare ``{id}``.
            created = _str_or_none(body.get("id"))
        if created is not None and resource_id is None and action == "create":
            resource_id = created
        return ResourceChange(type=rtype, action=action, id=resource_id, created_id=created)

    @property
    def status_text(self) -> str:
        """A short human summary: ``In progress 40%``, ``Completed``, ``no longer on the array``…"""
        phase = self.phase
        shown = phase.replace("_", " ").capitalize() if phase else ""
        if self.status is Status.TRACKING:
            text = shown or "Waiting for the first look"
            if phase == "In_Progress" and self.progress is not None:
                text = f"{text} {self.progress}%"
            return f"{text} (stalled)" if self.stalled else text
        if self.status is Status.FINISHED:
            return shown
        if self.status is Status.GONE:
            return f"{GONE_TEXT} (last seen: {shown})" if shown else GONE_TEXT
        if self.status is Status.UNKNOWN:
            return UNKNOWN_TEXT
        if self.status is Status.SENDING:
            return "Sending"
        if self.status is Status.ORPHAN:
            return "Connection lost: looking for the job on the array"
        if self.status is Status.REFUSED:
            return f"Refused: {self.error}" if self.error else "Refused"
        if self.status is Status.DONE:
            return "Done at once"
        return "Not followed any more"


def created_id(body: Any) -> str | None:
    """The new object's id in a ``job_create_response`` body (ids coerced to strings)."""
    if not isinstance(body, Mapping) or body.get("response_type") != "job_create_response":
        return None
    return _str_or_none(body.get("id"))


def visible_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The visible fields whose value differs, with their new values."""
    return {name: new.get(name) for name in VISIBLE_FIELDS if old.get(name) != new.get(name)}


def _str_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None
