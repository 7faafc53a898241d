"""The job journal: an SQLite file in the per-user data directory that never forgets a job.

It records the intent of every change before the request goes out, the job id when the answer
arrives, and every observed change of every followed job, so that a console that crashed, lost its
connection or was closed can carry on where it stopped.

All database work happens on one writer thread that owns the connection (SQLite connections
belong to one thread). The event loop only queues work: ``record`` (a poll tick's changes) returns
at once, ``add``/``save`` return once the write is committed, reads return their rows. Work queued
while a transaction commits is committed together in the next one (group commit), so a burst of
200 submits costs a handful of commits, not 200. WAL mode with ``synchronous=FULL``: a committed
intent survives a crash of the process (``kill -9``) and of the machine; an interrupted
transaction leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import platformdirs

from console.jobs.lock import JournalLock
from console.jobs.model import FINAL_STATUSES, OPEN_STATUSES, Intent, Job, ResourceRef, Status, Step

log = logging.getLogger(__name__)

APP_NAME = "powerstore-console"
FILE_NAME = "jobs.sqlite3"
SCHEMA_VERSION = 1
DEFAULT_RETENTION_DAYS = 30.0
# Work items committed together at most; bounds the time a reader waits behind a big batch.
MAX_GROUP = 500

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    array TEXT NOT NULL,
    job_id TEXT,
    status TEXT NOT NULL,
    origin TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    stalled INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    method TEXT,
    path TEXT,
    body TEXT,
    user TEXT,
    target_type TEXT,
    target_action TEXT,
    target_id TEXT,
    target_name TEXT,
    intent_at REAL,
    phase TEXT,
    progress INTEGER,
    description TEXT,
    record TEXT NOT NULL DEFAULT '{}',
    steps TEXT NOT NULL DEFAULT '[]'
);
CREATE UNIQUE INDEX IF NOT EXISTS entries_job ON entries(array, job_id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_status ON entries(status);
CREATE INDEX IF NOT EXISTS entries_finished ON entries(finished);
CREATE TABLE IF NOT EXISTS observations (
    id INTEGER PRIMARY KEY,
    entry_id INTEGER NOT NULL REFERENCES entries(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    phase TEXT,
    progress INTEGER,
    changes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_entry ON observations(entry_id);
"""

_ENTRY_COLUMNS = (
    "array, job_id, status, origin, created, updated, finished, stalled, error, "
    "method, path, body, user, target_type, target_action, target_id, target_name, intent_at, "
    "phase, progress, description, record, steps"
)
_INSERT = f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES ({', '.join('?' * 23)})"
_UPDATE = (
    "UPDATE entries SET job_id=?, status=?, updated=?, finished=?, stalled=?, error=?, phase=?, progress=?, "
    "description=?, record=?, steps=? WHERE id=?"
)
_OBSERVE = (
    "INSERT INTO observations (entry_id, at, status, phase, progress, changes) VALUES (?, ?, ?, ?, ?, ?)"
)


def default_path() -> Path:
    """``jobs.sqlite3`` in the per-user data directory (``~/.local/share/powerstore-console`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / FILE_NAME


class JournalError(RuntimeError):
    """The journal could not be read or written (disk full, damaged file, newer schema...)."""


class DuplicateJob(JournalError):
    """The job id already belongs to another entry of the same array."""


@dataclass(frozen=True)
class Observation:
    """One recorded change of an entry: what changed (``changes``) and the state after it."""

    at: float
    status: Status
    phase: str | None
    progress: int | None
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class CommitStats:
    items: int
    rows: int
    seconds: float


class _Work:
    __slots__ = ("fn", "future", "loop", "rows")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], Any],
        future: asyncio.Future[Any] | None,
        loop: asyncio.AbstractEventLoop | None,
        rows: int,
    ) -> None:
        self.fn = fn
        self.future = future
        self.loop = loop
        self.rows = rows


_STOP = object()


class Journal:
    """The journal at ``path`` (default: ``default_path()``). Use ``async with Journal(path) as j``
    or ``await j.open()`` / ``await j.close()``.

    ``retention_days``: finished entries older than this are deleted when the journal opens.
    ``durable=False`` trades the machine-crash guarantee for speed (``synchronous=NORMAL``; a
    process crash still loses nothing committed). Opening raises ``JournalInUse`` when another
    console holds the journal.
    """

    def __init__(
        self,
        path: Path | str | None = None,
        *,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        durable: bool = True,
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.retention_days = retention_days
        self.durable = durable
        self.commits: deque[CommitStats] = deque(maxlen=1000)
        """Recent commits of the writer thread (for benchmarks and diagnostics)."""
        self._lock = JournalLock(self.path.with_name(self.path.name + ".lock"))
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._state = "new"
        self._failure: BaseException | None = None
        self.pruned = 0
        """Entries deleted by the retention rule when the journal opened."""

    # -- lifecycle -------------------------------------------------------------------------------

    async def open(self) -> Journal:
        if self._state == "open":
            return self
        if self._state != "new":
            raise JournalError("a closed journal cannot be opened again; make a new Journal")
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[int] = loop.create_future()
        self._thread = threading.Thread(
            target=self._run, args=(loop, ready), name=f"job-journal:{self.path.name}", daemon=True
        )
        self._thread.start()
        try:
            self.pruned = await ready
        except BaseException:
            # Failed, or cancelled while the writer was starting: a writer that did start waits for
            # work, so it is told to stop, or it would keep the file locked for good.
            self._queue.put(_STOP)
            self._state = "closed"
            await asyncio.shield(asyncio.to_thread(self._thread.join))
            raise
        self._state = "open"
        return self

    async def close(self) -> None:
        """Write everything queued, close the file and release the lock. Closing twice is harmless."""
        if self._state != "open":
            self._state = "closed"
            return
        self._state = "closing"
        self._queue.put(_STOP)
        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join)
        self._state = "closed"

    @property
    def is_open(self) -> bool:
        return self._state == "open"

    async def __aenter__(self) -> Journal:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- writing -----------------------------------------------------------------------------------

    async def add(self, job: Job) -> Job:
        """A new entry, committed; returns ``job`` with its ``key``. ``DuplicateJob`` when the job
        id is already in the journal for that array."""
        return await self._call(lambda conn: replace(job, key=_insert(conn, job)), rows=1)

    async def save(self, job: Job, changes: Mapping[str, Any] | None = None) -> None:
        """Store the entry's current state (and an observation of ``changes``), committed."""
        await self._call(lambda conn: _update(conn, [(job, changes)]), rows=1)

    def record(self, updates: Sequence[tuple[Job, Mapping[str, Any] | None]]) -> None:
        """Store several entries' states and observations in one transaction, without waiting.

        Costs the caller only a queue put: rows are serialised and written on the writer thread.
        Jobs are immutable snapshots, so handing them over is safe.
        """
        if not updates:
            return
        self._check_open()
        items = list(updates)
        self._queue.put(_Work(lambda conn: _update(conn, items), None, None, len(items)))

    async def flush(self) -> None:
        """Wait until everything queued so far is committed."""
        await self._call(lambda conn: None, rows=0)

    # -- reading -----------------------------------------------------------------------------------

    async def open_jobs(self) -> list[Job]:
        """Entries still open (sending, orphaned, tracking), oldest first."""
        statuses = sorted(s.value for s in OPEN_STATUSES)
        sql = f"SELECT * FROM entries WHERE status IN ({','.join('?' * len(statuses))}) ORDER BY id"
        return await self._call(lambda conn: [_job(row) for row in conn.execute(sql, statuses)])

    async def history(
        self,
        *,
        array: str | None = None,
        since: float | None = None,
        statuses: Iterable[Status] | None = None,
        limit: int | None = None,
    ) -> list[Job]:
        """Entries newest first: of one array, created since ``since`` (epoch seconds), with the given
        statuses, at most ``limit``."""
        where: list[str] = []
        args: list[Any] = []
        if array is not None:
            where.append("array = ?")
            args.append(array)
        if since is not None:
            where.append("created >= ?")
            args.append(since)
        if statuses is not None:
            wanted = [Status(s).value for s in statuses]
            where.append(f"status IN ({','.join('?' * len(wanted))})")
            args += wanted
        sql = "SELECT * FROM entries"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return await self._call(lambda conn: [_job(row) for row in conn.execute(sql, args)])

    async def get(self, key: int) -> Job | None:
        def read(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute("SELECT * FROM entries WHERE id = ?", (key,)).fetchone()
            return _job(row) if row is not None else None

        return await self._call(read)

    async def find(self, array: str, job_id: str) -> Job | None:
        def read(conn: sqlite3.Connection) -> Job | None:
            row = conn.execute(
                "SELECT * FROM entries WHERE array = ? AND job_id = ?", (array, job_id)
            ).fetchone()
            return _job(row) if row is not None else None

        return await self._call(read)

    async def job_ids(self, array: str) -> set[str]:
        """Every job id the journal holds for ``array`` (claimed jobs, for the orphan search)."""

        def read(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute("SELECT job_id FROM entries WHERE array = ? AND job_id IS NOT NULL", (array,))
            return {row[0] for row in rows}

        return await self._call(read)

    async def observations(self, key: int) -> list[Observation]:
        """The recorded changes of one entry, oldest first."""

        def read(conn: sqlite3.Connection) -> list[Observation]:
            rows = conn.execute(
                "SELECT at, status, phase, progress, changes FROM observations "
                "WHERE entry_id = ? ORDER BY id",
                (key,),
            )
            return [Observation(r[0], Status(r[1]), r[2], r[3], json.loads(r[4])) for r in rows]

        return await self._call(read)

    async def prune(self, days: float | None = None) -> int:
        """Delete final entries that ended more than ``days`` (default: the retention) ago."""
        keep = self.retention_days if days is None else days
        return await self._call(lambda conn: _prune(conn, keep))

    # -- the writer thread -------------------------------------------------------------------------

    async def _call(self, fn: Callable[[sqlite3.Connection], T], *, rows: int = 0) -> T:
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Work(fn, future, loop, rows))
        return await future

    def _check_open(self) -> None:
        if self._state != "open":
            raise JournalError(f"the job journal {self.path} is not open")
        if self._failure is not None:
            raise JournalError(f"the job journal {self.path} stopped: {self._failure}")

    def _run(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[int]) -> None:
        try:
            self._lock.acquire()
            conn = _connect(self.path, durable=self.durable)
        except BaseException as exc:
            self._lock.release()
            _settle(loop, ready, None, exc)
            return
        try:
            try:
                pruned = _prune(conn, self.retention_days)
            except sqlite3.Error as exc:
                _settle(loop, ready, None, JournalError(f"cannot use the job journal {self.path}: {exc}"))
                return
            _settle(loop, ready, pruned, None)
            try:
                self._serve(conn)
            except BaseException as exc:
                # A bug here must not leave callers waiting forever on futures nobody will settle.
                self._failure = exc
                log.exception("the job journal writer stopped")
                self._fail_queued(exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
            self._lock.release()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            group: list[_Work] = [first]
            stop = False
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                group.append(item)
            self._commit(conn, group)
            if stop:
                return

    def _fail_queued(self, exc: BaseException) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Work) and item.future is not None and item.loop is not None:
                _settle(item.loop, item.future, None, JournalError(f"the job journal stopped: {exc}"))

    def _commit(self, conn: sqlite3.Connection, group: list[_Work]) -> None:
        started = time.perf_counter()
        outcomes: list[tuple[Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for work in group:
                conn.execute("SAVEPOINT work")
                try:
                    result = work.fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO work")
                    conn.execute("RELEASE work")
                    outcomes.append((None, _journal_error(exc, self.path)))
                else:
                    conn.execute("RELEASE work")
                    outcomes.append((result, None))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            failure = _journal_error(exc, self.path)
            log.error("writing the job journal %s failed: %s", self.path, exc)
            outcomes = [(None, failure)] * len(group)
        self.commits.append(
            CommitStats(len(group), sum(w.rows for w in group), time.perf_counter() - started)
        )
        for work, (result, error) in zip(group, outcomes, strict=True):
            if work.future is not None and work.loop is not None:
                _settle(work.loop, work.future, result, error)
            elif error is not None:
                log.error("a batch of job updates could not be written to the journal: %s", error)


def _settle(
    loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], result: Any, error: BaseException | None
) -> None:
    def apply() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    # The loop may be gone when the console shuts down without closing the journal.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(apply)


def _journal_error(exc: BaseException, path: Path) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError) and "job_id" in str(exc):
        return DuplicateJob(f"the job is already in the journal: {exc}")
    if isinstance(exc, sqlite3.Error):
        return JournalError(f"the job journal {path} could not be written: {exc}")
    return exc


def _connect(path: Path, *, durable: bool) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot open the job journal {path}: {exc}") from exc
    try:
        conn.row_factory = sqlite3.Row
        # What the file is, before anything is changed in it: a newer console's journal or another
        # program's database is refused untouched.
        _check_is_journal(conn, path)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"the job journal {path} cannot use WAL mode (it is in {mode} mode)")
        conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys=ON")
        # One transaction: a journal cut off while being created is an empty database, not a
        # stranger without a version.
        conn.executescript(
            f"BEGIN;\n{SCHEMA}\nINSERT OR IGNORE INTO meta (key, value) "
            f"VALUES ('schema_version', '{SCHEMA_VERSION}');\nCOMMIT;"
        )
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise JournalError(f"cannot use the job journal {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _check_is_journal(conn: sqlite3.Connection, path: Path) -> None:
    """An empty database becomes a journal; anything else must be one of a schema this console
    knows."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return
    version = None
    if "meta" in tables:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = row[0] if row is not None else None
    try:
        number = int(version) if version is not None else None
    except (TypeError, ValueError):
        number = None
    if number is None:
        raise JournalError(
            f"{path} is not a job journal of this console (it holds {', '.join(sorted(tables))}); "
            "move it away or choose another file"
        )
    if number > SCHEMA_VERSION:
        raise JournalError(
            f"the job journal {path} was written by a newer console (schema {number}); update this one"
        )


def _prune(conn: sqlite3.Connection, days: float) -> int:
    cutoff = time.time() - days * 86400
    finals = [s.value for s in FINAL_STATUSES]
    marks = ",".join("?" * len(finals))
    cursor = conn.execute(
        f"DELETE FROM entries WHERE (status IN ({marks}) AND finished < ?) OR (status = ? AND updated < ?)",
        [*finals, cutoff, Status.UNTRACKED.value, cutoff],
    )
    return cursor.rowcount


def _insert(conn: sqlite3.Connection, job: Job) -> int:
    intent = job.intent
    target = intent.target if intent is not None else None
    try:
        cursor = conn.execute(
            _INSERT,
            (
                job.array,
                job.job_id,
                job.status.value,
                job.origin,
                job.created,
                job.updated,
                job.finished,
                int(job.stalled),
                job.error,
                intent.method if intent else None,
                intent.path if intent else None,
                json.dumps(intent.body) if intent else None,
                intent.user if intent else None,
                target.type if target else None,
                target.action if target else None,
                target.id if target else None,
                target.name if target else None,
                intent.at if intent else None,
                job.phase,
                job.progress,
                job.description,
                json.dumps(dict(job.record)),
                json.dumps([s.to_json() for s in job.steps]),
            ),
        )
    except sqlite3.IntegrityError as exc:
        raise DuplicateJob(f"job {job.job_id} of {job.array} is already in the journal") from exc
    key = cursor.lastrowid
    assert key is not None
    _observe(conn, key, job, {"status": job.status.value, **({"job_id": job.job_id} if job.job_id else {})})
    return key


def _update(conn: sqlite3.Connection, items: Sequence[tuple[Job, Mapping[str, Any] | None]]) -> None:
    rows = []
    observations = []
    for job, changes in items:
        rows.append(
            (
                job.job_id,
                job.status.value,
                job.updated,
                job.finished,
                int(job.stalled),
                job.error,
                job.phase,
                job.progress,
                job.description,
                json.dumps(dict(job.record)),
                json.dumps([s.to_json() for s in job.steps]),
                job.key,
            )
        )
        if changes:
            observations.append(
                (job.key, job.updated, job.status.value, job.phase, job.progress, json.dumps(dict(changes)))
            )
    try:
        conn.executemany(_UPDATE, rows)
    except sqlite3.IntegrityError:
        # One entry claiming a job id another entry holds must not cost the whole batch.
        for row in rows:
            try:
                conn.execute(_UPDATE, row)
            except sqlite3.IntegrityError as exc:
                if len(rows) == 1:
                    raise DuplicateJob(f"job {row[0]} is already in the journal") from exc
                log.error("entry %s not updated: job %s is already in the journal", row[-1], row[0])
    if observations:
        conn.executemany(_OBSERVE, observations)


def _observe(conn: sqlite3.Connection, key: int, job: Job, changes: Mapping[str, Any]) -> None:
    conn.execute(
        _OBSERVE, (key, job.updated, job.status.value, job.phase, job.progress, json.dumps(dict(changes)))
    )


def _job(row: sqlite3.Row) -> Job:
    intent = None
    if row["method"] is not None:
        intent = Intent(
            method=row["method"],
            path=row["path"],
            body=json.loads(row["body"]) if row["body"] is not None else None,
            user=row["user"] or "",
            target=ResourceRef(
                type=row["target_type"] or "",
                action=row["target_action"] or "",
                id=row["target_id"],
                name=row["target_name"],
            ),
            at=row["intent_at"] or row["created"],
        )
    record = json.loads(row["record"]) if row["record"] else {}
    steps = tuple(Step.from_record(s) for s in json.loads(row["steps"] or "[]"))
    status = Status(row["status"])
    return Job(
        key=row["id"],
        array=row["array"],
        status=status,
        job_id=row["job_id"],
        origin=row["origin"] or "",
        intent=intent,
        record=record,
        steps=steps,
        stalled=bool(row["stalled"]),
        error=row["error"],
        created=row["created"],
        updated=row["updated"],
        finished=row["finished"],
    )


__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "CommitStats",
    "DuplicateJob",
    "Journal",
    "JournalError",
    "Observation",
    "default_path",
]
