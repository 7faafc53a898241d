"""The journal on its own: where it lives, what it keeps, for how long, and what it refuses."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import replace

import pytest

from console.jobs import DuplicateJob, Job, Journal, JournalError, Status, default_path
from console.jobs.model import Intent, ResourceRef

DAY = 86400.0


def entry(array: str = "lab", job_id: str | None = "job-1", status: Status = Status.TRACKING, **kw) -> Job:
    now = time.time()
    kw.setdefault("created", now)
    kw.setdefault("updated", now)
    return Job(key=0, array=array, job_id=job_id, status=status, **kw)


def test_the_journal_lives_in_the_per_user_data_directory():
    path = default_path()
    assert path.name == "jobs.sqlite3"
    assert path.parent.name == "powerstore-console"
    assert str(path).startswith(os.environ["XDG_DATA_HOME"])


async def test_an_intent_its_job_id_and_its_changes_survive_a_restart(journal_path):
    intent = Intent(
        method="POST",
        path="volume",
        body={"name": "db01", "size": 8192},
        user="admin",
        target=ResourceRef("volume", "create", name="db01"),
        at=time.time(),
    )
    async with Journal(journal_path) as journal:
        job = await journal.add(entry(job_id=None, status=Status.SENDING, intent=intent, origin="form"))
        job = replace(job, job_id="j-77", status=Status.TRACKING)
        await journal.save(job, {"status": "tracking", "job_id": "j-77"})
        running = replace(job, record={"phase": "In_Progress", "progress_percentage": 40})
        journal.record([(running, {"phase": "In_Progress", "progress_percentage": 40})])

    async with Journal(journal_path) as journal:
        (again,) = await journal.open_jobs()
        changes = await journal.observations(again.key)
        assert await journal.find("lab", "j-77") == again

    assert again.key == job.key and again.job_id == "j-77" and again.origin == "form"
    assert again.intent == intent
    assert (again.phase, again.progress) == ("In_Progress", 40)
    assert [c.status for c in changes] == [Status.SENDING, Status.TRACKING, Status.TRACKING]
    assert changes[-1].changes == {"phase": "In_Progress", "progress_percentage": 40}


async def test_finished_jobs_are_kept_for_the_retention_period_only(journal_path):
    now = time.time()
    async with Journal(journal_path) as journal:
        old = await journal.add(entry(job_id="old", status=Status.FINISHED, finished=now - 31 * DAY))
        recent = await journal.add(entry(job_id="recent", status=Status.FINISHED, finished=now - 29 * DAY))
        still_open = await journal.add(entry(job_id="open", created=now - 90 * DAY, updated=now - 90 * DAY))
        unknown = await journal.add(entry(job_id=None, status=Status.UNKNOWN, finished=now - 40 * DAY))

    async with Journal(journal_path) as journal:
        kept = {j.key for j in await journal.history()}
        pruned = journal.pruned
    async with Journal(journal_path, retention_days=7) as journal:
        shorter = {j.key for j in await journal.history()}

    assert kept == {recent.key, still_open.key}
    assert pruned == 2 and old.key not in kept and unknown.key not in kept
    assert shorter == {still_open.key}


async def test_history_is_newest_first_and_filters_by_array_time_and_status(journal_path):
    now = time.time()
    async with Journal(journal_path) as journal:
        a = await journal.add(entry("a", "1", Status.FINISHED, created=now - 3 * DAY, finished=now - 3 * DAY))
        b = await journal.add(entry("b", "1", Status.TRACKING))
        c = await journal.add(entry("a", "2", Status.GONE, finished=now))
        assert [j.key for j in await journal.history()] == [c.key, b.key, a.key]
        assert [j.key for j in await journal.history(array="a")] == [c.key, a.key]
        assert [j.key for j in await journal.history(since=now - DAY)] == [c.key, b.key]
        assert [j.key for j in await journal.history(statuses=[Status.GONE])] == [c.key]
        assert [j.key for j in await journal.history(limit=1)] == [c.key]
        assert await journal.job_ids("a") == {"1", "2"}


async def test_a_job_id_belongs_to_one_entry_per_array(journal_path):
    async with Journal(journal_path) as journal:
        first = await journal.add(entry("lab", "same"))
        with pytest.raises(DuplicateJob):
            await journal.add(entry("lab", "same"))
        other_array = await journal.add(entry("dr-site", "same"))
        orphan = await journal.add(entry("lab", None, Status.ORPHAN))
        with pytest.raises(DuplicateJob):
            await journal.save(replace(orphan, job_id="same", status=Status.TRACKING))
        # A refused write costs nothing else: the journal carries on.
        assert {j.key for j in await journal.open_jobs()} == {first.key, other_array.key, orphan.key}


async def test_a_closed_journal_refuses_work(journal_path):
    journal = Journal(journal_path)
    await journal.open()
    await journal.close()
    await journal.close()
    with pytest.raises(JournalError, match="not open"):
        await journal.history()
    with pytest.raises(JournalError, match="not open"):
        journal.record([(entry(), None)])


async def test_a_journal_from_a_newer_console_is_not_touched(journal_path):
    async with Journal(journal_path):
        pass
    with sqlite3.connect(journal_path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(JournalError, match="newer console"):
        await Journal(journal_path).open()
    # The refusal released the lock: a fixed file opens again.
    with sqlite3.connect(journal_path) as db:
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    async with Journal(journal_path) as journal:
        assert await journal.history() == []


async def test_a_newer_journal_is_refused_before_anything_in_it_changes(journal_path):
    async with Journal(journal_path):
        pass
    with sqlite3.connect(journal_path) as db:
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
        db.execute("DROP INDEX IF EXISTS entries_array")
        before = db.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(JournalError, match="newer console"):
        await Journal(journal_path).open()
    with sqlite3.connect(journal_path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("SELECT type, name FROM sqlite_master ORDER BY name").fetchall() == before


@pytest.mark.parametrize("version", ["2.0", "", None])
async def test_another_programs_database_is_refused_untouched(journal_path, version):
    journal_path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(journal_path) as db:
        db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        if version is not None:
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (version,))
    with pytest.raises(JournalError, match="not a job journal"):
        await Journal(journal_path).open()
    with sqlite3.connect(journal_path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "entries" not in tables


async def test_an_open_cancelled_while_the_writer_starts_leaves_nothing_locked(journal_path):
    opening = asyncio.ensure_future(Journal(journal_path).open())
    await asyncio.sleep(0)  # the writer thread is starting
    opening.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(opening, 10)
    async with asyncio.timeout(10), Journal(journal_path) as journal:
        assert await journal.history() == []


async def test_the_journal_is_in_wal_mode(journal_path):
    async with Journal(journal_path):
        with sqlite3.connect(journal_path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
