"""Crashes: ``kill -9`` of a real console process, mid-flight and mid-write; two consoles, one journal."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections import Counter

import pytest

from console.jobs import JobTracker, Journal, JournalInUse, Outcome, Status
from tests.jobs.helpers import FAST, child, jobs_on_array, kill9, read_until


async def test_a_console_killed_with_jobs_in_flight_resumes_every_job(sim, client, control, journal_path):
    await control.config(job_seconds=3.0)
    process = child("engine", str(journal_path), sim.base_url, str(sim.ca_path), "60", "crash-", "8")
    sent = Counter[str]()

    def enough(line: str) -> bool:
        sent[line.split()[0]] += 1
        return sent["sent"] >= 25

    try:
        lines = await read_until(process, enough, 30)
    finally:
        kill9(process)
    answered = {line.split()[2] for line in lines if line.startswith("sent ")}
    await asyncio.sleep(0.3)  # requests the child had on the wire reach the array, or never will
    posts_at_kill = await control.requests("POST volume")

    async with Journal(journal_path) as journal:
        left_open = await journal.open_jobs()
        tracker = JobTracker(journal, policy=FAST)
        tracker.add_array("lab", client)
        async with tracker:
            async with asyncio.timeout(30):
                await tracker.wait_all()
            entries = await tracker.history()

    assert any(j.status is Status.TRACKING for j in left_open), "no job was in flight at the kill"
    names = {j.intent.target.name: j for j in entries if j.intent is not None}
    assert len(names) == len(entries) >= len(answered) >= 20
    on_array = await jobs_on_array(client, [f"crash-{i:03d}" for i in range(60)])
    for name, jobs in on_array.items():
        assert len(jobs) <= 1, f"{name} ran {len(jobs)} times"
        if jobs:
            # Every job that reached the array is in the journal, followed to its end.
            entry = names[name]
            assert entry.job_id == jobs[0]["id"]
            assert entry.outcome is Outcome.SUCCEEDED
        elif name in names:
            # Cut off before the array saw it: not a success, not lost, but said so.
            assert names[name].outcome is Outcome.UNKNOWN
    for name in answered:
        assert names[name].outcome is Outcome.SUCCEEDED
    # Nothing was sent again after the restart; each intent went out once at most.
    posts = await control.requests("POST volume")
    assert posts == posts_at_kill
    assert sum(1 for jobs in on_array.values() if jobs) <= posts <= len(entries)


@pytest.mark.parametrize("attempt", range(3))
async def test_the_journal_stays_consistent_when_killed_mid_write(tmp_path, attempt):
    path = tmp_path / "jobs.sqlite3"
    process = child("writer", str(path), "200")
    try:
        await read_until(process, lambda line: line == f"round {3 + attempt * 4}", 30)
        await asyncio.sleep(random.uniform(0.0, 0.05))
    finally:
        kill9(process)

    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    async with Journal(path) as journal:
        entries = await journal.history()
        observed = [len(await journal.observations(j.key)) for j in entries]
    assert len(entries) == 200
    # Each round is one transaction: every entry shows the same last round, with as many observations.
    rounds = Counter(j.record.get("round") for j in entries)
    assert len(rounds) == 1 and next(iter(rounds)) >= 3
    assert len(set(observed)) == 1


async def test_a_second_console_on_the_same_journal_is_refused(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    async with Journal(path):
        other = child("hold", str(path))
        code = await asyncio.to_thread(other.wait, 30)
        message = other.stderr.read() if other.stderr else ""
        kill9(other)
    assert code == 3
    assert "in use by another PowerStore Console" in message and str(path) in message

    holder = child("hold", str(path))
    try:
        await read_until(holder, lambda line: line == "open")
        with pytest.raises(JournalInUse) as refused:
            await Journal(path).open()
        assert refused.value.pid == holder.pid
    finally:
        kill9(holder)
    # The operating system dropped the killed holder's lock: no stale lock to clean up.
    async with Journal(path) as journal:
        assert await journal.history() == []
