"""Async jobs: the request runs when its job reaches the end of In_Progress, as on an array.

A job's whole timeline is planned when it is submitted and kept in the job record (``_plan``), so
its phase at any moment follows from the clock alone: a restarted simulator (``--state``) carries
on where it stopped, and a job whose end passed while the simulator was down completes at once.
The change itself becomes visible only at completion; a refusal found then (a name taken by a
concurrent request) ends the job in Failing, then Failed, with a ``job_error_response``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from console.simulator import errors
from console.simulator.operations import OpRequest, OpResult, Sim, relation
from console.simulator.store import Record

log = logging.getLogger(__name__)

TERMINAL_PHASES = frozenset({"Completed", "Failed", "Unrecoverable_Failed", "Skipped"})
LEGACY_STATE = {
    "Pending": "PENDING",
    "Queued": "QUEUED",
    "In_Progress": "IN_PROGRESS",
    "Failing": "FAILING",
    "Completed": "COMPLETED",
    "Failed": "FAILED",
    "Unrecoverable_Failed": "UNRECOVERABLE_FAILED",
    "Skipped": "SKIPPED",
}
# Where the timeline's phases start, as shares of the job's duration.
QUEUED_AT, RUNNING_AT = 0.05, 0.15
# Clean-up time of a failing job, as a share of its duration.
FAILING_SHARE = 0.2
DURATION_BAND = (0.6, 1.4)
# Requests come in bursts (a poll of 1000 jobs is 10 requests); moving every job along once per
# burst is enough.
ADVANCE_INTERVAL = 0.05

Executor = Callable[[OpRequest], OpResult]


class JobRunner:
    """Plans jobs, moves them along their timeline, and runs their requests at completion."""

    def __init__(self, sim: Sim, execute: Executor) -> None:
        self.sim = sim
        self.execute = execute
        self._advanced_at = float("-inf")
        self._active: set[str] = {
            job["id"]
            for job in sim.store.all("job")
            if job.get("_plan") is not None and job["phase"] not in TERMINAL_PHASES
        }

    @property
    def active_count(self) -> int:
        return len(self._active)

    def submit(self, request: OpRequest, *, resource_name: str | None, steps: list[str] | None = None) -> str:
        sim = self.sim
        t0 = sim.now()
        duration = sim.config.job_seconds * sim.rng.uniform(*DURATION_BAND)
        job_id = sim.new_id()
        plan: dict[str, Any] = {
            "created": t0,
            "queued": t0 + duration * QUEUED_AT,
            "running": t0 + duration * RUNNING_AT,
            "end": t0 + duration,
            "fail_end": None,
            "request": request.to_json(),
            "steps": [],
        }
        job = self._new_job(
            job_id,
            request.resource_type,
            request.action,
            request.target_id,
            resource_name,
            self._describe(request, resource_name),
            request.caller.user,
            t0,
        )
        job["_plan"] = plan
        sim.store.insert("job", job)
        if steps:
            span = (plan["end"] - plan["running"]) / len(steps)
            order = int(t0 * 1000) % 1_000_000 * 10
            for index, text in enumerate(steps):
                step_id = sim.new_id()
                step = self._new_job(
                    step_id,
                    request.resource_type,
                    request.action,
                    request.target_id,
                    resource_name,
                    text,
                    request.caller.user,
                    t0,
                )
                step.update(parent_id=job_id, root_id=job_id, step_order=order + 1000 * (index + 1) + 7)
                sim.store.insert("job", step)
                start = plan["running"] + span * index
                plan["steps"].append({"id": step_id, "start": start, "end": start + span})
        self._active.add(job_id)
        return job_id

    def _new_job(
        self,
        job_id: str,
        type_name: str,
        action: str,
        resource_id: str | None,
        resource_name: str | None,
        description: str,
        user: str,
        t0: float,
    ) -> Record:
        sim = self.sim
        # upload/hosts is an "upload"; an action the enum does not know shows as a modify.
        verb = action.split("/", 1)[0]
        resource_action = verb if self._is_enum_value("ResourceActionEnum", verb) else "modify"
        return {
            "id": job_id,
            "resource_action": resource_action,
            "resource_action_l10n": sim.label("ResourceActionEnum", resource_action),
            "resource_type": type_name,
            "resource_type_l10n": sim.label("ResourceTypeEnum", type_name),
            "resource_id": resource_id,
            "resource_name": resource_name,
            "description_l10n": description,
            "start_time": sim.timestamp(t0),
            "end_time": None,
            "estimated_completion_time": None,
            "progress_percentage": 0,
            "parent_id": None,
            "root_id": job_id,
            "step_order": int(t0 * 1000) % 1_000_000 * 10,
            "user": user,
            "response_body": None,
            "response_status": None,
            "response_status_l10n": None,
            **self._phase_fields("Pending"),
        }

    def _is_enum_value(self, enum_name: str, value: str) -> bool:
        enum = self.sim.catalog.enums.get(enum_name)
        return enum is not None and value in enum.values

    def _describe(self, request: OpRequest, name: str | None) -> str:
        sim = self.sim
        action = sim.label("ResourceActionEnum", request.action) or request.action
        if not self._is_enum_value("ResourceActionEnum", request.action):
            action = request.action.replace("_", " ")
        kind = sim.label("ResourceTypeEnum", request.resource_type) or request.resource_type
        text = f"{action.capitalize()} {kind.lower()}"
        return f"{text} {name}" if name else text

    def _phase_fields(self, phase: str) -> dict[str, Any]:
        state = LEGACY_STATE[phase]
        return {
            "phase": phase,
            "phase_l10n": self.sim.label("JobPhaseEnum", phase),
            "state": state,
            "state_l10n": self.sim.label("JobStateEnum", state),
        }

    # -- moving along ------------------------------------------------------------------------------

    def advance(self) -> None:
        """Bring every active job up to the present; run the requests whose time has come, in order."""
        now = self.sim.now()
        if not self._active or 0 <= now - self._advanced_at < ADVANCE_INTERVAL:
            return
        self._advanced_at = now
        store = self.sim.store
        jobs = [job for job_id in self._active if (job := store.get("job", job_id)) is not None]
        for job in sorted(jobs, key=lambda j: j["_plan"]["end"]):
            try:
                self._advance_job(job, now)
            except Exception:
                # A bug in one job must not stop the others, nor every request that advances them.
                log.exception("job %s could not advance; it ends as Unrecoverable_Failed", job["id"])
                self._set(
                    job, {"end_time": self.sim.timestamp(now), **self._phase_fields("Unrecoverable_Failed")}
                )
        self._active = {
            job_id
            for job_id in self._active
            if (job := store.get("job", job_id)) is not None and job["phase"] not in TERMINAL_PHASES
        }

    def _advance_job(self, job: Record, now: float) -> None:
        plan = job["_plan"]
        if plan["fail_end"] is not None:
            if now >= plan["fail_end"]:
                self._set(
                    job, {"end_time": self.sim.timestamp(plan["fail_end"]), **self._phase_fields("Failed")}
                )
            return
        if now >= plan["end"]:
            self._complete(job, plan)
            return
        if now >= plan["running"]:
            span = plan["end"] - plan["running"]
            progress = min(99, int((now - plan["running"]) / span * 100)) if span > 0 else 99
            changes = {
                "progress_percentage": progress,
                "estimated_completion_time": self.sim.timestamp(plan["end"]),
                **self._phase_fields("In_Progress"),
            }
        elif now >= plan["queued"]:
            changes = self._phase_fields("Queued")
        else:
            return
        self._set(job, changes)
        self._advance_steps(plan, now)

    def _advance_steps(self, plan: dict[str, Any], now: float) -> None:
        for step in plan["steps"]:
            if now >= step["end"]:
                changes = {
                    "progress_percentage": 100,
                    "end_time": self.sim.timestamp(step["end"]),
                    **self._phase_fields("Completed"),
                }
            elif now >= step["start"]:
                span = step["end"] - step["start"]
                changes = {
                    "progress_percentage": min(99, int((now - step["start"]) / span * 100)) if span else 99,
                    **self._phase_fields("In_Progress"),
                }
            else:
                continue
            record = self.sim.store.get("job", step["id"])
            if record is not None:
                self._set(record, changes)

    def _complete(self, job: Record, plan: dict[str, Any]) -> None:
        request = OpRequest.from_json(plan["request"])
        try:
            result = self.execute(request)
            response_body = self._response_body(request, result)
        except errors.ApiFault as refusal:
            self._fail(job, plan, refusal)
            return
        except Exception:
            log.exception(
                "job %s: the handler of %s %s crashed", job["id"], request.resource_type, request.action
            )
            self._fail(job, plan, errors.fault(500, errors.CODE_INTERNAL, "Internal error."))
            return
        changes: dict[str, Any] = {
            "progress_percentage": 100,
            "end_time": self.sim.timestamp(plan["end"]),
            "estimated_completion_time": self.sim.timestamp(plan["end"]),
            "response_status": str(result.status),
            "response_status_l10n": self.sim.label("HttpStatusEnum", str(result.status)),
            "response_body": response_body,
            **self._phase_fields("Completed"),
        }
        if result.resource_id is not None:
            changes["resource_id"] = result.resource_id
        if result.resource_name is not None:
            changes["resource_name"] = result.resource_name
        self._set(job, changes)
        for step in plan["steps"]:
            record = self.sim.store.get("job", step["id"])
            if record is not None and record["phase"] not in TERMINAL_PHASES:
                self._set(
                    record,
                    {
                        "progress_percentage": 100,
                        "end_time": self.sim.timestamp(plan["end"]),
                        **self._phase_fields("Completed"),
                    },
                )

    def _response_body(self, request: OpRequest, result: OpResult) -> dict[str, Any] | None:
        body = result.body
        if isinstance(body, list):
            # Array answers (forecast) have a job response of one element's shape [inferred].
            body = body[0] if body and isinstance(body[0], dict) else None
        if body is None:
            return None
        if result.status == 201:
            return {"response_type": "job_create_response", **body}
        specific = self.sim.catalog.job_response_type(request.resource_type, request.action)
        return {"response_type": specific or "job_create_response", **body}

    def _fail(self, job: Record, plan: dict[str, Any], refusal: errors.ApiFault) -> None:
        plan = {**plan, "fail_end": plan["end"] + max(0.05, (plan["end"] - plan["created"]) * FAILING_SHARE)}
        status = str(refusal.status)
        self._set(
            job,
            {
                "_plan": plan,
                "response_status": status,
                "response_status_l10n": self.sim.label("HttpStatusEnum", status),
                "response_body": {"response_type": "job_error_response", **refusal.to_json()},
                **self._phase_fields("Failing"),
            },
        )
        failed_step = False
        for step in plan["steps"]:
            record = self.sim.store.get("job", step["id"])
            if record is None or record["phase"] in TERMINAL_PHASES:
                continue
            phase = "Skipped" if failed_step else "Failed"
            failed_step = True
            self._set(record, {"end_time": self.sim.timestamp(plan["end"]), **self._phase_fields(phase)})

    def _set(self, job: Record, changes: dict[str, Any]) -> None:
        if any(job.get(k) != v for k, v in changes.items()):
            self.sim.store.update("job", job["id"], changes)


@relation("job", "children")
def _job_children(sim: Sim, job: Record) -> list[Record]:
    return sim.store.related("job", "parent_id", job["id"])


@relation("job", "leafs")
def _job_leafs(sim: Sim, job: Record) -> list[Record]:
    """The steps under a job that have no steps of their own."""
    steps = [s for s in sim.store.related("job", "root_id", job["id"]) if s["id"] != job["id"]]
    parents = {s["parent_id"] for s in steps}
    return [s for s in steps if s["id"] not in parents]
