"""The job tracker: follows every outstanding job of every connected array until it ends.

One asyncio task per array, so a slow or unreachable array never delays another. A task's tick
asks for all of its array's due jobs at once (``id=in.(…)``, which the client splits into URL-safe
batches of about a hundred), plus jobs due shortly, so that they share the request. Each job's next
look follows ``PollPolicy``. A tick first does all its network work, then applies the results, so
a tick whose requests fail changes nothing and is simply tried again. Applying yields to the loop
every few hundred jobs (each job's update is whole in itself), so a tick of a thousand changed jobs
never freezes a GUI; the tick's journal writes go to the journal's writer thread in one batch.

Every change request goes through ``submit``: the intent is committed to the journal, then the
request is sent, then the job id is committed and the job followed. A request whose answer was
lost becomes an orphan, resolved by a search of the array's jobs (``recovery``), never resent.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from console.api import (
    ApiError,
    AuthenticationFailed,
    CompletedWithoutJob,
    ConnectionLost,
    F,
    NotFound,
    PowerStoreClient,
    ValidationRefused,
)
from console.api.redaction import redact
from console.jobs import recovery
from console.jobs.events import (
    ArrayChanged,
    Event,
    EventBus,
    EventStream,
    JobAdded,
    JobChanged,
    JobFinished,
    Listener,
    Reachability,
    Subscription,
)
from console.jobs.journal import DuplicateJob, Journal, JournalError, Observation
from console.jobs.model import (
    GONE_TEXT,
    TERMINAL_PHASES,
    UNKNOWN_TEXT,
    Intent,
    Job,
    ResourceRef,
    Status,
    Step,
    action_of,
    normalise_phase,
    parse_time,
    visible_changes,
)
from console.jobs.schedule import ClockSkew, PollPolicy, Progress

log = logging.getLogger(__name__)

POLL_FIELDS = (
    "id,resource_type,resource_action,resource_id,resource_name,description_l10n,phase,state,"
    "progress_percentage,start_time,end_time,estimated_completion_time,user,parent_id,root_id,"
    "response_status,response_body,children(id)"
)
# For arrays that refuse the full list (an older API version without some field): the essentials.
BASIC_POLL_FIELDS = (
    "id,resource_type,resource_action,resource_id,resource_name,description_l10n,state,"
    "progress_percentage,start_time,end_time,user,response_body"
)
STEP_FIELDS = (
    "id,parent_id,root_id,description_l10n,phase,state,progress_percentage,step_order,start_time,end_time"
)
# Root ids per step query (UUIDs in ``root_id=in.(…)``), well within a safe URL length.
STEP_BATCH = 60
# Jobs applied between two yields to the event loop (a few milliseconds of work).
APPLY_SLICE = 100
WRITE_METHODS = frozenset({"POST", "PATCH", "DELETE"})


@dataclass(frozen=True)
class TickReport:
    """What one tick of one array did (for benchmarks and diagnostics; see ``on_tick``)."""

    array: str
    polled: int
    changed: int
    finished: int
    seconds: float
    """Wall time of the tick, network included."""
    cpu: float
    """Process CPU time spent during the tick (the client's work included)."""
    journal_seconds: float
    """Event-loop time spent handing the tick's changes to the journal."""
    ok: bool


@dataclass(frozen=True)
class ArrayState:
    reachability: Reachability
    reason: str = ""
    retry_in: float | None = None


@dataclass(eq=False)
class _Watch:
    """Scheduling state of one followed job (internal, mutable)."""

    job: Job
    next_poll: float
    since: float
    moved_at: float
    interval: float = 0.0
    progress: Progress = field(default_factory=Progress)
    sent: tuple[float, float] | None = None
    """Wall-clock span of the submit (sent, answered), for one clock-skew sample."""


@dataclass(eq=False)
class _Array:
    name: str
    client: PowerStoreClient
    user: str | None
    watches: dict[int, _Watch] = field(default_factory=dict)
    orphans: dict[int, float] = field(default_factory=dict)
    """Entry key -> monotonic time from which it may be searched."""
    inflight: int = 0
    submits: int = 0
    reachability: Reachability = Reachability.UNKNOWN
    reason: str = ""
    failures: int = 0
    retry_at: float | None = None
    skew: ClockSkew = field(default_factory=ClockSkew)
    select: str = POLL_FIELDS
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class UnknownArray(KeyError):
    def __str__(self) -> str:
        return f"no array named {self.args[0]!r} is connected to the job tracker"


class JobTracker:
    """Follows jobs on one or more arrays; see the module text.

    ``journal``: an open ``Journal`` (the caller opens and closes it). ``policy``: timings.
    ``on_tick``: called after every tick with a ``TickReport``.

    Use ``async with JobTracker(journal) as tracker`` (or ``start()``/``aclose()``); add arrays with
    ``add_array`` before or after starting.
    """

    def __init__(
        self,
        journal: Journal,
        *,
        policy: PollPolicy | None = None,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        self.journal = journal
        self.policy = policy or PollPolicy()
        self.on_tick = on_tick
        self._bus = EventBus()
        self._arrays: dict[str, _Array] = {}
        self._jobs: dict[int, Job] = {}
        self._waiters: dict[int, list[asyncio.Future[Job]]] = {}
        self._started = False
        self._closed = False
        self._background: set[asyncio.Future[None]] = set()
        """Journal commits of job ids whose submit was cancelled after the array's answer."""
        self._ended: collections.deque[int] = collections.deque()
        """Keys of ended entries in ``_jobs``, in the order they ended (the oldest are let go)."""
        self._pruning: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume every entry the journal holds open, and start following the arrays added so far.

        An entry still "sending" was cut off by the end of the previous console: it may have reached
        the array, so it becomes an orphan to search for (it is never sent again).
        """
        if self._started:
            return
        if self._closed:
            raise RuntimeError("the job tracker is closed")
        self._started = True
        resumed = await self.journal.open_jobs()
        cut_off: list[tuple[Job, Mapping[str, Any] | None]] = []
        now = time.time()
        for job in resumed:
            if job.status is Status.SENDING:
                job = replace(job, status=Status.ORPHAN, updated=now)
                cut_off.append((job, {"status": Status.ORPHAN.value}))
            self._jobs[job.key] = job
        self.journal.record(cut_off)
        for job in resumed:
            self._bus.emit(JobAdded(self._jobs[job.key]))
        for arr in self._arrays.values():
            self._take_open_jobs(arr)
            self._launch(arr)
        self._pruning = asyncio.ensure_future(self._prune_forever())

    async def aclose(self) -> None:
        """Stop polling and wait for the journal to hold everything seen. Jobs still open stay open
        in the journal and are resumed by the next ``start``. The journal stays open."""
        if self._closed:
            return
        self._closed = True
        tasks = [arr.task for arr in self._arrays.values() if arr.task is not None]
        if self._pruning is not None:
            tasks.append(self._pruning)
            self._pruning = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for arr in self._arrays.values():
            arr.task = None
        await asyncio.gather(*self._background, return_exceptions=True)
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.cancel()
        self._waiters.clear()
        if self.journal.is_open:
            await self.journal.flush()

    async def __aenter__(self) -> JobTracker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- arrays ----------------------------------------------------------------------------------

    def add_array(self, name: str, client: PowerStoreClient, *, user: str | None = None) -> None:
        """Follow jobs on ``name`` through ``client`` (not owned: the caller closes it). ``user``:
        the user name the array shows in its jobs, used until the client has a session."""
        if name in self._arrays:
            raise ValueError(f"an array named {name!r} is already connected to the job tracker")
        arr = _Array(name, client, user)
        self._arrays[name] = arr
        if self._started:
            self._take_open_jobs(arr)
            self._launch(arr)

    async def remove_array(self, name: str) -> None:
        """Stop following jobs on ``name``; its open entries stay in the journal (and in ``jobs()``)
        and are followed again when the array is added again."""
        arr = self._array(name)
        del self._arrays[name]
        if arr.task is not None:
            arr.task.cancel()
            await asyncio.gather(arr.task, return_exceptions=True)

    def array_state(self, name: str) -> ArrayState:
        arr = self._array(name)
        retry = None if arr.retry_at is None else max(0.0, arr.retry_at - time.monotonic())
        return ArrayState(arr.reachability, arr.reason, retry)

    @property
    def arrays(self) -> list[str]:
        return list(self._arrays)

    def wake(self, name: str | None = None) -> None:
        """Try now instead of waiting out a backoff (e.g. after new credentials were given)."""
        for arr in self._arrays.values() if name is None else [self._array(name)]:
            arr.retry_at = None
            arr.wake.set()

    # -- the one door for changes ----------------------------------------------------------------

    async def submit(
        self,
        array: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        resource: ResourceRef | None = None,
        origin: str = "",
    ) -> Job:
        """Send a change as an asynchronous request and follow its job.

        The intent (with passwords masked) is committed to the journal before the request goes
        out. Raises when nothing happened on the array: the array refused the request
        (``ValidationRefused``, ``PermissionDenied``, ``NotFound``...), was busy (``ServerBusy``:
        not retried; offer the user a retry), or could not be reached before anything was sent
        (``ConnectionLost``); the entry is then recorded as refused. Returns the entry otherwise:
        following its job, finished at once (``CompletedWithoutJob``), or an orphan when the
        answer was lost after sending (it is looked for on the array, never resent).

        ``resource``: the target (default: from the path, and the body's ``name`` for a create).
        ``origin``: who asked (free text shown in the job panel).
        """
        self._check_running()
        arr = self._array(array)
        method = method.upper()
        if method not in WRITE_METHODS:
            raise ValueError(f"a change is POST, PATCH or DELETE, not {method}")
        path = path.strip("/")
        target = resource or _target(method, path, body)
        user = await self._user(arr)
        now = time.time()
        intent = Intent(method=method, path=path, body=redact(body), user=user, target=target, at=now)
        draft = Job(
            key=0, array=array, status=Status.SENDING, origin=origin, intent=intent, created=now, updated=now
        )
        arr.inflight += 1
        arr.submits += 1
        try:
            job = await self.journal.add(draft)
            self._jobs[job.key] = job
            self._bus.emit(JobAdded(job))
            return await self._send(arr, job, method, path, body)
        finally:
            arr.inflight -= 1
            arr.wake.set()

    async def _send(self, arr: _Array, job: Job, method: str, path: str, body: Any) -> Job:
        sent = time.time()
        try:
            job_id = await arr.client.submit(method, path, body)
        except CompletedWithoutJob as done:
            record = {"response_body": done.result, "response_status": str(done.status)}
            await self._settle(replace(job, status=Status.DONE, record=record), {"status": "done"})
            self._reachable(arr)
            return self._jobs[job.key]
        except ConnectionLost as lost:
            if not lost.may_have_reached_server:
                await self._refuse(job, f"not sent: {lost.reason}")
                raise
            orphan = replace(job, status=Status.ORPHAN, error=lost.reason, updated=time.time())
            await self._settle(orphan, {"status": "orphan", "error": lost.reason})
            arr.orphans[job.key] = time.monotonic() + self.policy.orphan_settle
            log.warning(
                "%s %s on %s: the answer was lost (%s); looking for its job", method, path, arr.name, lost
            )
            return self._jobs[job.key]
        except ApiError as refusal:
            await self._refuse(job, str(refusal))
            if isinstance(refusal, AuthenticationFailed):
                self._failed(arr, Reachability.LOGIN_FAILED, refusal)
            raise
        except asyncio.CancelledError:
            # Cancelled while the request was out: it may have run, so it is an orphan to search for.
            orphan = replace(job, status=Status.ORPHAN, error="cancelled while sending", updated=time.time())
            arr.orphans[job.key] = time.monotonic() + self.policy.orphan_settle
            self._publish(orphan, frozenset({"status"}))
            # Not awaited (we are being cancelled); if this write is lost, the entry is still
            # "sending" in the journal, which the next start treats as an orphan just the same.
            with contextlib.suppress(JournalError):
                self.journal.record([(orphan, {"status": "orphan"})])
            raise
        answered = time.time()
        tracking = replace(job, job_id=job_id, status=Status.TRACKING, updated=answered)
        self._reachable(arr)
        commit = asyncio.ensure_future(self._commit_job_id(arr, tracking, (sent, answered)))
        self._background.add(commit)
        commit.add_done_callback(self._background.discard)
        # A caller cancelled now (a dialog closed) stops neither the job id reaching the journal nor
        # the job being followed: the array runs it.
        await asyncio.shield(commit)
        return tracking

    async def _commit_job_id(self, arr: _Array, tracking: Job, sent: tuple[float, float]) -> None:
        try:
            await self._settle(tracking, {"status": "tracking", "job_id": tracking.job_id})
        except DuplicateJob:
            # Only an orphan search racing this answer could have claimed it; the answer wins.
            log.error("job %s of %s was already adopted by another entry", tracking.job_id, arr.name)
            self._jobs[tracking.key] = tracking
        # Polled only once the job id is committed: a poll's newer state is never overwritten by it.
        mono = time.monotonic()
        watch = _Watch(tracking, next_poll=mono + self.policy.min_interval, since=mono, moved_at=mono)
        watch.sent = sent
        arr.watches[tracking.key] = watch
        arr.wake.set()

    async def _refuse(self, job: Job, reason: str) -> None:
        refused = replace(job, status=Status.REFUSED, error=reason, updated=time.time())
        await self._settle(refused, {"status": "refused", "error": reason})

    async def track(self, array: str, job_id: str, *, origin: str = "tracked") -> Job:
        """Follow a job started elsewhere (the GUI, the CLI, another tool) by its id. Following a
        job already in the journal returns its entry (following it again if it was untracked)."""
        self._check_running()
        arr = self._array(array)
        job_id = str(job_id)
        existing = next((j for j in self._jobs.values() if j.array == array and j.job_id == job_id), None)
        if existing is None:
            existing = await self.journal.find(array, job_id)
        if existing is not None:
            if existing.key not in self._jobs:
                # From an earlier session's history: shown again in this one.
                self._jobs[existing.key] = existing
                self._bus.emit(JobAdded(existing))
            if existing.status is not Status.UNTRACKED:
                return self._jobs[existing.key]
            job = replace(existing, status=Status.TRACKING, updated=time.time())
            await self._settle(job, {"status": "tracking"})
        else:
            now = time.time()
            draft = Job(
                key=0,
                array=array,
                status=Status.TRACKING,
                job_id=job_id,
                origin=origin,
                created=now,
                updated=now,
            )
            job = await self.journal.add(draft)
            self._jobs[job.key] = job
            self._bus.emit(JobAdded(job))
        mono = time.monotonic()
        arr.watches[job.key] = _Watch(job, next_poll=mono, since=mono, moved_at=mono)
        arr.wake.set()
        return job

    async def untrack(self, key: int) -> Job:
        """Stop following an entry (the API cannot cancel a job: it may still run on the array)."""
        job = self.get(key)
        if not job.is_open:
            return job
        if job.status is Status.SENDING:
            raise ValueError("the request is still on its way; its job can be untracked once it is known")
        arr = self._arrays.get(job.array)
        if arr is not None:
            arr.watches.pop(key, None)
            arr.orphans.pop(key, None)
        await self._settle(
            replace(job, status=Status.UNTRACKED, updated=time.time()), {"status": "untracked"}
        )
        return self._jobs[key]

    async def recheck(self, key: int) -> Job:
        """Search the array again for an entry whose outcome is unknown (e.g. after the array was
        down when the first search ran)."""
        job = self.get(key)
        if job.status is not Status.UNKNOWN or job.intent is None:
            return job
        arr = self._array(job.array)
        orphan = replace(job, status=Status.ORPHAN, finished=None, error=None, updated=time.time())
        await self._settle(orphan, {"status": "orphan"})
        arr.orphans[key] = time.monotonic()
        arr.wake.set()
        return orphan

    # -- reading ---------------------------------------------------------------------------------

    def get(self, key: int) -> Job:
        try:
            return self._jobs[key]
        except KeyError:
            raise KeyError(
                f"no job entry {key} in this session (ended entries beyond the most recent "
                f"{self.policy.keep_finished} are in history())"
            ) from None

    def poll_interval(self, key: int) -> float | None:
        """The current wait between two looks at a followed job; None when it is not being polled."""
        job = self.get(key)
        arr = self._arrays.get(job.array)
        watch = arr.watches.get(key) if arr is not None else None
        if watch is None:
            return None
        return watch.interval or self.policy.min_interval

    def jobs(self, *, array: str | None = None, open_only: bool = False) -> list[Job]:
        """Entries of this session (resumed, submitted or tracked), oldest first."""
        return [
            j
            for j in self._jobs.values()
            if (array is None or j.array == array) and (not open_only or j.is_open)
        ]

    async def history(
        self, *, days: float | None = None, array: str | None = None, limit: int | None = None
    ) -> list[Job]:
        """Entries from the journal, newest first, including earlier sessions' finished jobs."""
        since = None if days is None else time.time() - days * 86400
        return await self.journal.history(array=array, since=since, limit=limit)

    async def observations(self, key: int) -> list[Observation]:
        return await self.journal.observations(key)

    def subscribe(self, listener: Listener) -> Subscription:
        """Call ``listener(event)`` on the event loop for every event from now on."""
        return self._bus.subscribe(listener)

    def events(self) -> EventStream:
        """An async iterator of the events from now on (``async with tracker.events() as s``)."""
        return self._bus.stream()

    async def wait(self, key: int) -> Job:
        """The entry once it is final (or untracked). Bound the wait with ``asyncio.timeout``."""
        found = self._jobs.get(key)
        if found is None:
            # Ended long enough ago to have left memory: the journal has it.
            stored = await self.journal.get(key) if self.journal.is_open else None
            if stored is None or stored.is_open:
                self.get(key)  # raises KeyError, saying where ended entries are
            assert stored is not None
            return stored
        if not found.is_open:
            return found
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(key, []).append(future)
        try:
            return await future
        finally:
            waiters = self._waiters.get(key, [])
            if future in waiters:
                waiters.remove(future)

    async def wait_all(self, keys: Iterable[int] | None = None) -> list[Job]:
        """Every given entry (default: every open one) once final, in the order given."""
        chosen = list(keys) if keys is not None else [j.key for j in self._jobs.values() if j.is_open]
        return list(await asyncio.gather(*(self.wait(k) for k in chosen)))

    # -- publishing ------------------------------------------------------------------------------

    async def _settle(self, job: Job, changes: Mapping[str, Any]) -> None:
        """Commit an entry's new state to the journal, then publish it."""
        if job.is_final and job.finished is None:
            job = replace(job, finished=job.updated)
        await self.journal.save(job, changes)
        self._publish(job, frozenset(changes))

    def _publish(self, job: Job, changed: frozenset[str]) -> None:
        self._jobs[job.key] = job
        if job.is_final:
            self._bus.emit(JobFinished(job))
            self._remember_ended(job.key)
        else:
            self._bus.emit(JobChanged(job, changed))
        if not job.is_open:
            for waiter in self._waiters.pop(job.key, []):
                if not waiter.done():
                    waiter.set_result(job)

    def _remember_ended(self, key: int) -> None:
        self._ended.append(key)
        while len(self._ended) > self.policy.keep_finished:
            oldest = self._ended.popleft()
            job = self._jobs.get(oldest)
            # An "outcome unknown" entry stays: the user may still ask for it to be rechecked.
            if (
                job is not None
                and job.is_final
                and job.status is not Status.UNKNOWN
                and oldest not in self._ended
            ):
                del self._jobs[oldest]

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(self.policy.prune_every)
            try:
                pruned = await self.journal.prune()
            except JournalError as exc:
                log.warning("applying the job journal's retention rule failed: %s", exc)
                continue
            if pruned:
                log.info("%d ended job entries older than the retention period left the journal", pruned)

    # -- the per-array loop ------------------------------------------------------------------------

    def _launch(self, arr: _Array) -> None:
        if arr.task is None and not self._closed:
            arr.task = asyncio.create_task(self._run(arr), name=f"jobs:{arr.name}")

    def _take_open_jobs(self, arr: _Array) -> None:
        mono = time.monotonic()
        for job in self._jobs.values():
            if job.array != arr.name:
                continue
            if job.status is Status.TRACKING:
                arr.watches[job.key] = _Watch(job, next_poll=mono, since=mono, moved_at=mono)
            elif job.status is Status.ORPHAN:
                arr.orphans[job.key] = mono
        arr.wake.set()

    async def _run(self, arr: _Array) -> None:
        while True:
            delay = self._until_next(arr, time.monotonic())
            if delay is None or delay > 0:
                arr.wake.clear()
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
                # comes as the event is set (aclose() then waited for this task forever).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await arr.wake.wait()
                continue
            try:
                await self._tick(arr)
            except Exception:
                log.exception("a tick on %s failed", arr.name)
                await asyncio.sleep(self.policy.backoff(1))

    def _until_next(self, arr: _Array, now: float) -> float | None:
        """Seconds until this array has work (None: nothing until woken)."""
        if arr.retry_at is not None:
            if now < arr.retry_at:
                return arr.retry_at - now
            arr.retry_at = None
        times = [w.next_poll for w in arr.watches.values()]
        if arr.orphans and arr.inflight == 0:
            times.append(min(arr.orphans.values()))
        if not times:
            return None
        return max(0.0, min(times) - now)

    async def _tick(self, arr: _Array) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        updates: list[tuple[Job, Mapping[str, Any] | None]] = []
        polled = changed = finished = 0
        ok = True
        try:
            batch = self._batch(arr, time.monotonic())
            if batch:
                polled = len(batch)
                changed, finished = await self._poll(arr, batch, updates)
            if arr.orphans and arr.inflight == 0:
                await self._resolve_orphans(arr, updates)
        except AuthenticationFailed as exc:
            ok = False
            self._failed(arr, Reachability.LOGIN_FAILED, exc)
        except ValidationRefused as exc:
            ok = False
            if arr.select != BASIC_POLL_FIELDS:
                log.warning(
                    "%s refused the job query (%s); asking for fewer fields from now on", arr.name, exc
                )
                arr.select = BASIC_POLL_FIELDS
            else:
                self._failed(arr, Reachability.UNREACHABLE, exc)
        except ApiError as exc:
            ok = False
            self._failed(arr, Reachability.UNREACHABLE, exc)
        except Exception as exc:
            # A bug must not end the array's task: every job would silently stop being followed.
            ok = False
            log.exception("following jobs on %s failed", arr.name)
            self._failed(arr, Reachability.UNREACHABLE, exc)
        else:
            self._reachable(arr)
        finally:
            handed = time.perf_counter()
            try:
                self.journal.record(_still_current(updates, self._jobs))
            except Exception:
                # The states are published and polling goes on; the journal error is logged once here.
                log.exception("the job journal did not take the changes of a tick on %s", arr.name)
            journal_seconds = time.perf_counter() - handed
        if self.on_tick is not None:
            report = TickReport(
                arr.name,
                polled,
                changed,
                finished,
                time.perf_counter() - started,
                time.process_time() - cpu,
                journal_seconds,
                ok,
            )
            try:
                self.on_tick(report)
            except Exception:
                log.exception("the tick observer failed")

    def _batch(self, arr: _Array, now: float) -> list[_Watch]:
        """The due jobs, topped up with jobs due shortly to fill the last request."""
        due: list[_Watch] = []
        soon: list[_Watch] = []
        for watch in arr.watches.values():
            if watch.next_poll <= now:
                due.append(watch)
            elif watch.next_poll - now <= min(self.policy.coalesce, watch.interval / 2):
                soon.append(watch)
        if not due:
            return []
        size = self.policy.batch_size
        room = math.ceil(len(due) / size) * size - len(due)
        soon.sort(key=lambda w: w.next_poll)
        return due + soon[:room]

    async def _poll(
        self, arr: _Array, batch: list[_Watch], updates: list[tuple[Job, Mapping[str, Any] | None]]
    ) -> tuple[int, int]:
        ids = [w.job.job_id for w in batch if w.job.job_id]
        records = await arr.client.jobs(ids, select=arr.select)
        by_id: dict[str, Mapping[str, Any]] = {str(r.get("id")): r for r in records}
        gone: set[int] = set()
        for watch in batch:
            if watch.job.job_id not in by_id:
                record = await self._confirm(arr, watch)
                if record is None:
                    gone.add(watch.job.key)
                else:
                    by_id[str(watch.job.job_id)] = record
        stepful = [
            w.job.job_id
            for w in batch
            if w.job.job_id in by_id
            and by_id[w.job.job_id].get("children")
            and (visible_changes(w.job.record, by_id[w.job.job_id]) or not w.job.steps)
        ]
        steps = await self._steps(arr, [s for s in stepful if s is not None]) if stepful else {}
        # Every answer is in: apply them, one whole job at a time.
        now, wall = time.monotonic(), time.time()
        changed = finished = 0
        for index, watch in enumerate(batch):
            if index and index % APPLY_SLICE == 0:
                await asyncio.sleep(0)
            if arr.watches.get(watch.job.key) is not watch:
                continue  # untracked while the answer was on its way
            job_id = watch.job.job_id
            if watch.job.key in gone:
                job = replace(watch.job, status=Status.GONE, error=GONE_TEXT, updated=wall, finished=wall)
                del arr.watches[job.key]
                self._publish(job, frozenset({"status"}))
                updates.append((job, {"status": "gone"}))
                finished += 1
                continue
            assert job_id is not None
            result = self._observe(arr, watch, by_id[job_id], steps.get(job_id), now, wall)
            if result is not None:
                job, what = result
                changed += 1
                finished += job.is_final
                updates.append(
                    (
                        job,
                        {name: job.record.get(name) for name in what if name in job.record}
                        | _meta(what, job),
                    )
                )
        return changed, finished

    async def _confirm(self, arr: _Array, watch: _Watch) -> Mapping[str, Any] | None:
        """A job missing from a batch answer: ask for it alone; None when the array says 404."""
        if not self.policy.gone_confirm:
            return None
        try:
            return await arr.client.get("job", str(watch.job.job_id), select=arr.select)
        except NotFound:
            return None

    async def _steps(self, arr: _Array, roots: list[str]) -> dict[str, tuple[Step, ...]]:
        found: dict[str, list[Mapping[str, Any]]] = {root: [] for root in roots}
        for start in range(0, len(roots), STEP_BATCH):
            chunk = roots[start : start + STEP_BATCH]
            where = F("root_id").is_in(chunk)
            async for step in arr.client.iterate("job", select=STEP_FIELDS, where=where, order="step_order"):
                root = str(step.get("root_id"))
                if root in found and str(step.get("id")) != root:
                    found[root].append(step)
        return {
            root: tuple(Step.from_record(s) for s in sorted(items, key=lambda s: s.get("step_order") or 0))
            for root, items in found.items()
        }

    def _observe(
        self,
        arr: _Array,
        watch: _Watch,
        raw: Mapping[str, Any],
        steps: tuple[Step, ...] | None,
        now: float,
        wall: float,
        extra: Iterable[str] = (),
    ) -> tuple[Job, frozenset[str]] | None:
        """Apply one observed record; returns the new snapshot and what changed, or None.
        ``extra`` names changes made before (``job_id``, ``status`` of an adopted orphan)."""
        old = watch.job
        record = {k: v for k, v in raw.items() if k != "children"}
        what = set(visible_changes(old.record, record)) | set(extra)
        phase = normalise_phase(record)
        final = phase in TERMINAL_PHASES
        moved = bool(what & {"phase", "state", "progress_percentage"}) or not old.record
        stalled = old.stalled
        if moved:
            watch.moved_at = now
            stalled = False
        elif not final and now - watch.moved_at >= self.policy.stall_after:
            stalled = True
        if stalled != old.stalled:
            what.add("stalled")
        if steps is not None and steps != old.steps:
            what.add("steps")
        if watch.sent is not None:
            start = parse_time(record.get("start_time"))
            if start is not None:
                arr.skew.add(start, *watch.sent)
            watch.sent = None
        watch.progress.observe(now, _progress(record))
        if not final:
            watch.interval = self._interval(arr, watch, record, now, wall)
            watch.next_poll = now + watch.interval
        if not what and not final:
            watch.job = replace(old, record=record) if record != old.record else old
            return None
        job = replace(
            old,
            record=record,
            steps=steps if steps is not None else old.steps,
            stalled=stalled and not final,
            updated=wall,
            status=Status.FINISHED if final else Status.TRACKING,
            finished=wall if final else None,
        )
        if final:
            what.add("status")
            del arr.watches[job.key]
        else:
            watch.job = job
        self._publish(job, frozenset(what))
        return job, frozenset(what)

    def _interval(
        self, arr: _Array, watch: _Watch, record: Mapping[str, Any], now: float, wall: float
    ) -> float:
        age = now - watch.since
        start = parse_time(record.get("start_time"))
        if start is not None:
            age = max(age, wall - arr.skew.to_local(start))
        until: float | None = None
        estimate = parse_time(record.get("estimated_completion_time"))
        if estimate is not None:
            until = arr.skew.to_local(estimate) - wall
        else:
            until = watch.progress.until_finish(now)
        return self.policy.next_interval(age=age, until_finish=until)

    async def _resolve_orphans(
        self, arr: _Array, updates: list[tuple[Job, Mapping[str, Any] | None]]
    ) -> None:
        now = time.monotonic()
        ready = [self._jobs[key] for key, at in arr.orphans.items() if at <= now]
        if not ready:
            return
        submits_before = arr.submits
        claimed = await self.journal.job_ids(arr.name)
        claimed |= {j.job_id for j in self._jobs.values() if j.array == arr.name and j.job_id}
        window = recovery.Window(self.policy.orphan_before, self.policy.orphan_after, arr.skew.seconds)
        enum = arr.client.catalog.enums.get("ResourceActionEnum")
        known = set(enum.values) if enum is not None else set()
        found = await recovery.search(arr.client, ready, claimed, window, known_actions=known)
        if arr.submits != submits_before or arr.inflight:
            # A request went out meanwhile; its job could be mistaken for an orphan's. Search again later.
            for job in ready:
                arr.orphans[job.key] = time.monotonic() + self.policy.orphan_settle
            return
        mono, wall = time.monotonic(), time.time()
        for job in ready:
            if arr.orphans.pop(job.key, None) is None:
                continue
            record = found.get(job.key)
            if record is None:
                unknown = replace(job, status=Status.UNKNOWN, error=UNKNOWN_TEXT, updated=wall, finished=wall)
                self._publish(unknown, frozenset({"status"}))
                updates.append((unknown, {"status": "unknown"}))
                log.warning("no job on %s matches the lost request %s %s", arr.name, *_intent_label(job))
                continue
            job_id = str(record.get("id"))
            adopted = replace(job, job_id=job_id, status=Status.TRACKING, error=None, updated=wall)
            watch = _Watch(adopted, next_poll=mono, since=mono, moved_at=mono)
            arr.watches[job.key] = watch
            log.info("adopted job %s on %s for the lost request %s %s", job_id, arr.name, *_intent_label(job))
            result = self._observe(arr, watch, record, None, mono, wall, extra=("job_id", "status"))
            now_job = result[0] if result is not None else adopted
            changes = {k: now_job.record.get(k) for k in ("phase", "progress_percentage")}
            updates.append((now_job, changes | {"job_id": job_id, "status": now_job.status.value}))

    # -- reachability ----------------------------------------------------------------------------

    def _reachable(self, arr: _Array) -> None:
        arr.failures = 0
        arr.retry_at = None
        if arr.reachability is not Reachability.REACHABLE:
            arr.reachability, arr.reason = Reachability.REACHABLE, ""
            self._bus.emit(ArrayChanged(arr.name, Reachability.REACHABLE))

    def _failed(self, arr: _Array, state: Reachability, exc: BaseException) -> None:
        arr.failures += 1
        if state is Reachability.LOGIN_FAILED:
            delay = self.policy.login_retry
        else:
            delay = self.policy.backoff(arr.failures)
        arr.retry_at = time.monotonic() + delay
        reason = str(exc) or type(exc).__name__
        if arr.reachability is not state:
            arr.reachability, arr.reason = state, reason
            log.warning("jobs on %s: %s; next attempt in %.1f s", arr.name, reason, delay)
            self._bus.emit(ArrayChanged(arr.name, state, reason, delay))

    # -- helpers ---------------------------------------------------------------------------------

    def _array(self, name: str) -> _Array:
        try:
            return self._arrays[name]
        except KeyError:
            raise UnknownArray(name) from None

    def _check_running(self) -> None:
        if not self._started or self._closed:
            raise RuntimeError("the job tracker is not running (use start() or 'async with')")

    async def _user(self, arr: _Array) -> str:
        """The user name as the array spells it in jobs: the session's, else the one given."""
        session = arr.client.session
        if session is not None and session.user:
            return session.user
        if arr.user:
            return arr.user
        return (await arr.client.login()).user


def _target(method: str, path: str, body: Any) -> ResourceRef:
    rtype, target_id, action = action_of(method, path)
    name = body.get("name") if isinstance(body, dict) and action == "create" else None
    if target_id is not None and target_id.startswith("name:"):
        name = target_id[5:]
    return ResourceRef(type=rtype, action=action, id=target_id, name=str(name) if name else None)


def _progress(record: Mapping[str, Any]) -> int | None:
    value = record.get("progress_percentage")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _meta(what: Iterable[str], job: Job) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if "status" in what:
        extra["status"] = job.status.value
    if "stalled" in what:
        extra["stalled"] = job.stalled
    if "steps" in what:
        extra["steps"] = len(job.steps)
    return extra


def _intent_label(job: Job) -> tuple[str, str]:
    return (job.intent.method, job.intent.path) if job.intent is not None else ("?", "?")


__all__ = ["ArrayState", "Event", "JobTracker", "TickReport", "UnknownArray"]


def _still_current(
    updates: list[tuple[Job, Mapping[str, Any] | None]], jobs: Mapping[int, Job]
) -> list[tuple[Job, Mapping[str, Any] | None]]:
    """A tick's journal writes, less those of entries changed meanwhile by something else (an
    untrack while the tick awaited the array): their newer state is already in the journal. An
    entry that left memory meanwhile (it ended, and newer ones pushed it out) is written."""
    produced = {id(job) for job, _ in updates}
    return [
        (job, changes)
        for job, changes in updates
        if (current := jobs.get(job.key)) is None or id(current) in produced
    ]
