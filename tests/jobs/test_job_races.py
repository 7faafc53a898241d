"""Interleavings a real array cannot be made to produce on cue (hence httpx.MockTransport): a submit
cancelled just after the array's answer, and an untrack while a tick awaits the array."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from console.api import PowerStoreClient
from console.jobs import JobTracker, Journal, PollPolicy, Status
from console.jobs.model import Intent, Job, ResourceRef
from tests.api.conftest import json_response, login_response

COMPLETED = {"id": "j1", "phase": "Completed", "state": "COMPLETED", "progress_percentage": 100}


def client_with(handler) -> PowerStoreClient:
    async def network(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/logout"):
            return httpx.Response(204)
        if request.url.path.endswith("login_session"):
            return login_response()
        return await handler(request)

    return PowerStoreClient(
        "https://array.test", "admin", "Password123#", transport=httpx.MockTransport(network), backoff=0.0
    )


async def test_a_submit_cancelled_after_the_answer_still_follows_its_job(tmp_path, monkeypatch):
    async def array(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return json_response(202, {"id": "j1"})
        return json_response(200, [COMPLETED])

    client = client_with(array)
    async with Journal(tmp_path / "jobs.sqlite3") as journal, JobTracker(journal) as tracker:
        tracker.add_array("a", client)
        committing, go_on = asyncio.Event(), asyncio.Event()
        save = journal.save

        async def slow_save(job, changes=None):  # a slow disk just as the job id is written
            if changes and changes.get("job_id"):
                committing.set()
                await go_on.wait()
            await save(job, changes)

        monkeypatch.setattr(journal, "save", slow_save)
        submit = asyncio.ensure_future(tracker.submit("a", "POST", "volume", {"name": "v1", "size": 8192}))
        await asyncio.wait_for(committing.wait(), 5)
        submit.cancel()  # the dialog that submitted it closes
        go_on.set()
        with pytest.raises(asyncio.CancelledError):
            await submit
        [entry] = tracker.jobs()
        finished = await asyncio.wait_for(tracker.wait(entry.key), 10)
        assert finished.status is Status.FINISHED
        stored = await journal.get(entry.key)
        assert (stored.job_id, stored.status) == ("j1", Status.FINISHED)
    await client.aclose()


async def test_an_untrack_during_a_tick_is_not_undone_by_the_tick(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    now = time.time()
    async with Journal(path) as journal:
        followed = await journal.add(
            Job(key=0, array="a", status=Status.TRACKING, job_id="k1", created=now, updated=now)
        )
        intent = Intent(
            "PATCH", "volume/v9", {"size": 16384}, "admin", ResourceRef("volume", "modify", "v9"), now
        )
        await journal.add(
            Job(key=0, array="a", status=Status.ORPHAN, intent=intent, created=now, updated=now)
        )
    searching, answer = asyncio.Event(), asyncio.Event()

    async def array(request: httpx.Request) -> httpx.Response:
        if "user" in request.url.params:  # the orphan search of the same tick
            searching.set()
            await answer.wait()
            return json_response(200, [])
        return json_response(
            200,
            [
                {
                    **COMPLETED,
                    "id": "k1",
                    "phase": "In_Progress",
                    "state": "IN_PROGRESS",
                    "progress_percentage": 10,
                }
            ],
        )

    client = client_with(array)
    async with Journal(path) as journal, JobTracker(journal) as tracker:
        tracker.add_array("a", client)
        await asyncio.wait_for(searching.wait(), 10)  # k1's progress is polled, the tick goes on
        await tracker.untrack(followed.key)
        answer.set()
        for _ in range(200):
            if all(j.status is not Status.ORPHAN for j in tracker.jobs()):
                break
            await asyncio.sleep(0.05)
        await journal.flush()
        assert tracker.get(followed.key).status is Status.UNTRACKED
        assert (await journal.get(followed.key)).status is Status.UNTRACKED
    await client.aclose()


async def test_a_slow_job_id_commit_never_undoes_a_finish(tmp_path, monkeypatch):
    import console.jobs.journal as journal_module

    answered = asyncio.Event()

    async def array(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            answered.set()
            return json_response(202, {"id": "j1"})
        return json_response(200, [COMPLETED])

    write = journal_module._update

    def slow_update(conn, items):  # a slow disk just as the job id is written (writer thread)
        if any(changes and changes.get("job_id") for _, changes in items):
            time.sleep(1.0)
        return write(conn, items)

    monkeypatch.setattr(journal_module, "_update", slow_update)
    client = client_with(array)
    async with Journal(tmp_path / "jobs.sqlite3") as journal, JobTracker(journal) as tracker:
        tracker.add_array("a", client)
        submit = asyncio.ensure_future(tracker.submit("a", "POST", "volume", {"name": "v1", "size": 8192}))
        await asyncio.wait_for(answered.wait(), 5)
        await asyncio.sleep(0.05)
        submit.cancel()
        with pytest.raises(asyncio.CancelledError):
            await submit
        [entry] = tracker.jobs()
        finished = await asyncio.wait_for(tracker.wait(entry.key), 10)
        assert finished.status is Status.FINISHED
        await journal.flush()
        assert (await journal.get(entry.key)).status is Status.FINISHED
        assert tracker.get(entry.key).status is Status.FINISHED
    await client.aclose()


async def test_entries_that_leave_memory_in_the_tick_that_ends_them_reach_the_journal(tmp_path):
    path = tmp_path / "jobs.sqlite3"
    now = time.time()
    async with Journal(path) as journal:
        keys = [
            (
                await journal.add(
                    Job(key=0, array="a", status=Status.TRACKING, job_id=f"k{i}", created=now, updated=now)
                )
            ).key
            for i in range(3)
        ]

    async def array(request: httpx.Request) -> httpx.Response:
        return json_response(200, [{**COMPLETED, "id": f"k{i}"} for i in range(3)])

    client = client_with(array)
    policy = PollPolicy(keep_finished=2)
    async with Journal(path) as journal, JobTracker(journal, policy=policy) as tracker:
        tracker.add_array("a", client)
        async with asyncio.timeout(10):
            await tracker.wait_all(keys)
        await journal.flush()
        assert [(await journal.get(k)).status for k in keys] == [Status.FINISHED] * 3
        assert len(tracker.jobs()) == 2
    await client.aclose()
