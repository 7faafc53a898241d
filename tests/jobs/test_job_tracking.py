"""Following jobs on a simulator over TLS: submit, batched polling, events, steps, journal, history."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections import Counter

import pytest

from console.api import PowerStoreClient, ValidationRefused
from console.jobs import (
    GONE_TEXT,
    ArrayChanged,
    JobAdded,
    JobChanged,
    JobFinished,
    JobTracker,
    Journal,
    Outcome,
    PollPolicy,
    Reachability,
    Status,
    TickReport,
)
from tests.jobs.helpers import FAST, VOLUME_SIZE, Control, Recorder, client_for, running, until
from tests.simulator.process import SimulatorProcess


async def test_200_jobs_are_followed_to_their_final_phase_in_batches(client, control, journal_path):
    reports: list[TickReport] = []
    async with Journal(journal_path) as journal:
        tracker = JobTracker(journal, policy=FAST, on_tick=reports.append)
        tracker.add_array("lab", client)
        async with tracker:
            seen = Recorder(tracker)
            names = [f"batch-{i:03d}" for i in range(200)]
            submitted = await asyncio.gather(
                *(tracker.submit("lab", "POST", "volume", {"name": n, "size": VOLUME_SIZE}) for n in names)
            )
            async with asyncio.timeout(30):
                done = await tracker.wait_all(j.key for j in submitted)

    assert [j.outcome for j in done] == [Outcome.SUCCEEDED] * 200
    assert all(j.phase == "Completed" and j.progress == 100 for j in done)
    assert len({j.job_id for j in done}) == 200
    # One JobAdded and one JobFinished per job; a JobChanged only when something visible changed.
    assert seen.per_key(JobAdded) == Counter(j.key for j in done)
    assert seen.per_key(JobFinished) == Counter(j.key for j in done)
    assert all(e.changed for e in seen.of(JobChanged))
    # Batched: the job requests are the ticks' id=in.(...) chunks, not one request per job and look.
    stats = await control.stats()
    looks = sum(r.polled for r in reports)
    assert looks >= 200
    assert stats["requests"]["GET job"] <= sum(math.ceil(r.polled / 90) for r in reports if r.polled)
    assert stats["requests"]["GET job"] < looks / 5
    assert stats["requests"]["POST volume"] == 200


async def test_a_finished_create_names_the_new_resource(client, journal_path):
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit("lab", "POST", "volume", {"name": "fresh-01", "size": VOLUME_SIZE})
        async with asyncio.timeout(10):
            done = await tracker.wait(job.key)
        created = await client.get("volume", "name:fresh-01", select="id")

        modify = await tracker.submit("lab", "PATCH", f"volume/{created['id']}", {"description": "x"})
        async with asyncio.timeout(10):
            modified = await tracker.wait(modify.key)

    assert done.resource is not None
    assert (done.resource.type, done.resource.action) == ("volume", "create")
    assert done.resource.created_id == created["id"]
    assert done.response_body == {"response_type": "job_create_response", "id": created["id"]}
    assert modified.resource is not None
    assert (modified.resource.type, modified.resource.action, modified.resource.id) == (
        "volume",
        "modify",
        created["id"],
    )
    assert modified.resource.created_id is None


async def test_a_refused_request_raises_at_once_and_is_recorded(client, control, journal_path):
    async with running(journal_path, {"lab": client}) as tracker:
        with pytest.raises(ValidationRefused) as refusal:
            await tracker.submit("lab", "POST", "volume", {"name": "bad", "size": 1000})
        (entry,) = tracker.jobs()
        history = await tracker.history()

    assert entry.status is Status.REFUSED and entry.outcome is Outcome.REFUSED
    assert entry.job_id is None
    assert entry.error and str(refusal.value.messages[0].text) in entry.error
    assert [h.key for h in history] == [entry.key]
    assert await control.requests("POST volume") == 1


async def test_child_steps_are_kept_current_and_final(client, journal_path):
    group = (await client.query("volume_group", select="id", limit=1)).items[0]["id"]
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit("lab", "POST", f"volume_group/{group}/snapshot", {"name": "nightly"})
        async with asyncio.timeout(10):
            done = await tracker.wait(job.key)

    assert done.outcome is Outcome.SUCCEEDED
    assert len(done.steps) >= 2
    assert all(step.phase == "Completed" and step.parent_id == done.job_id for step in done.steps)
    orders = [step.step_order for step in done.steps]
    assert orders == sorted(orders)


async def test_a_job_started_elsewhere_is_followed_by_id(client, journal_path):
    job_id = await client.submit("POST", "volume", {"name": "from-cli", "size": VOLUME_SIZE})
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.track("lab", job_id, origin="cli")
        again = await tracker.track("lab", job_id)
        async with asyncio.timeout(10):
            done = await tracker.wait(job.key)

    assert again.key == job.key
    assert done.job_id == job_id and done.origin == "cli"
    assert done.outcome is Outcome.SUCCEEDED and done.intent is None


async def test_untracking_stops_the_polling(client, control, journal_path):
    await control.config(job_seconds=30)
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit("lab", "POST", "volume", {"name": "long-one", "size": VOLUME_SIZE})
        await asyncio.sleep(0.4)
        stopped = await tracker.untrack(job.key)
        before = await control.requests("GET job")
        await asyncio.sleep(1.0)
        after = await control.requests("GET job")

    assert stopped.status is Status.UNTRACKED and stopped.outcome is None
    assert after == before


async def test_stalled_progress_is_flagged_and_cleared(client, control, journal_path):
    await control.config(job_seconds=1000)
    policy = PollPolicy(min_interval=0.1, max_interval=0.3, stall_after=0.6)
    async with running(journal_path, {"lab": client}, policy) as tracker:
        seen = Recorder(tracker)
        job = await tracker.submit("lab", "POST", "volume", {"name": "slow-one", "size": VOLUME_SIZE})
        await until(tracker, lambda: tracker.get(job.key).stalled)
        stalled = tracker.get(job.key)
        await control.advance_clock(500)
        await until(tracker, lambda: not tracker.get(job.key).stalled)
        moving = tracker.get(job.key)

    assert stalled.status is Status.TRACKING and stalled.outcome is None
    assert "stalled" in stalled.status_text
    assert moving.progress is not None and moving.progress > (stalled.progress or 0)
    flags = [e.job.stalled for e in seen.of(JobChanged) if "stalled" in e.changed]
    assert flags == [True, False]


async def test_a_job_the_array_forgot_is_no_longer_on_the_array(client, control, journal_path):
    await control.config(job_seconds=30)
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit("lab", "POST", "volume", {"name": "forgotten", "size": VOLUME_SIZE})
        await until(tracker, lambda: tracker.get(job.key).phase is not None)
        last_seen = tracker.get(job.key).phase
        await control.call("POST", "reset")  # the array loses every job, as after a long outage
        async with asyncio.timeout(10):
            gone = await tracker.wait(job.key)

    assert gone.status is Status.GONE and gone.outcome is Outcome.GONE
    assert gone.phase == last_seen
    assert gone.status_text.startswith(GONE_TEXT)


async def test_session_expiry_during_polling_costs_one_login(client, control, journal_path):
    await control.config(job_seconds=1.5)
    async with running(journal_path, {"lab": client}) as tracker:
        jobs = await asyncio.gather(
            *(
                tracker.submit("lab", "POST", "volume", {"name": f"exp-{i}", "size": VOLUME_SIZE})
                for i in range(40)
            )
        )
        logins = (await control.stats())["logins"]
        await asyncio.sleep(0.3)
        assert await control.expire_sessions() >= 1
        async with asyncio.timeout(15):
            done = await tracker.wait_all(j.key for j in jobs)

    assert {j.outcome for j in done} == {Outcome.SUCCEEDED}
    assert (await control.stats())["logins"] == logins + 1


async def test_passwords_never_reach_the_journal(client, journal_path):
    secret = "Sup3r#Secret_Pass"
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit(
            "lab", "POST", "local_user", {"name": "tempuser", "password": secret, "role_id": "3"}
        )
        async with asyncio.timeout(10):
            done = await tracker.wait(job.key)

    assert done.outcome is Outcome.SUCCEEDED
    assert done.intent is not None and done.intent.body["password"] == "***"
    for path in journal_path.parent.iterdir():
        assert secret.encode() not in path.read_bytes(), path


async def test_history_and_resumption_across_sessions(client, control, journal_path):
    async with running(journal_path, {"lab": client}) as tracker:
        quick = await tracker.submit("lab", "POST", "volume", {"name": "quick", "size": VOLUME_SIZE})
        async with asyncio.timeout(10):
            await tracker.wait(quick.key)
        await control.config(job_seconds=2.0)
        slow = await tracker.submit("lab", "POST", "volume", {"name": "slower", "size": VOLUME_SIZE})

    async with running(journal_path, {"lab": client}) as tracker:
        resumed = tracker.jobs()
        history = await tracker.history(days=1)
        async with asyncio.timeout(10):
            done = await tracker.wait(slow.key)
        steps = await tracker.observations(slow.key)

    assert [j.key for j in resumed] == [slow.key]
    assert {j.key for j in history} == {quick.key, slow.key}
    assert next(j for j in history if j.key == quick.key).outcome is Outcome.SUCCEEDED
    assert done.outcome is Outcome.SUCCEEDED and done.job_id == slow.job_id
    statuses = [o.status for o in steps]
    assert statuses[:2] == [Status.SENDING, Status.TRACKING] and statuses[-1] is Status.FINISHED
    assert steps[-1].changes["response_body"]["response_type"] == "job_create_response"


async def test_the_event_stream_tells_a_job_from_start_to_end(client, journal_path):
    async with running(journal_path, {"lab": client}) as tracker, tracker.events() as events:
        job = await tracker.submit("lab", "POST", "volume", {"name": "streamed", "size": VOLUME_SIZE})
        kinds = []
        async with asyncio.timeout(10):
            async for event in events:
                if isinstance(event, ArrayChanged):
                    assert event.reachability is Reachability.REACHABLE
                    continue
                assert event.job.key == job.key
                kinds.append(type(event))
                if isinstance(event, JobFinished):
                    break

    assert kinds[0] is JobAdded and kinds[-1] is JobFinished
    assert set(kinds[1:-1]) == {JobChanged}


async def test_unknown_arrays_and_methods_are_refused_before_anything_is_written(
    client: PowerStoreClient, journal_path
):
    async with running(journal_path, {"lab": client}) as tracker:
        with pytest.raises(KeyError, match="no array named 'other'"):
            await tracker.submit("other", "POST", "volume", {"name": "x"})
        with pytest.raises(ValueError, match="POST, PATCH or DELETE"):
            await tracker.submit("lab", "GET", "volume")
        assert tracker.jobs() == []
        assert await tracker.history() == []


async def test_one_slow_array_never_delays_another(sim, jobs_cert_dir, client, control, journal_path):
    args = ["--control", "--job-seconds", "0.5", "--volumes", "5"]
    with SimulatorProcess(cert_dir=jobs_cert_dir, args=args) as other:
        slow = Control(other)
        async with (
            client_for(other, timeout=30.0) as far,
            running(journal_path, {"near": client, "far": far}) as tracker,
        ):
            seen = Recorder(tracker)
            far_job = await tracker.submit("far", "POST", "volume", {"name": "far-1", "size": VOLUME_SIZE})
            await slow.faults(latency_ms=3000)
            near_jobs = [
                await tracker.submit("near", "POST", "volume", {"name": f"near-{i}", "size": VOLUME_SIZE})
                for i in range(5)
            ]
            async with asyncio.timeout(4):
                near_done = await tracker.wait_all(j.key for j in near_jobs)
            assert tracker.get(far_job.key).is_open
            other.kill()
            await until(
                tracker, lambda: tracker.array_state("far").reachability is Reachability.UNREACHABLE, 20
            )
            more = await tracker.submit("near", "POST", "volume", {"name": "near-late", "size": VOLUME_SIZE})
            async with asyncio.timeout(4):
                late = await tracker.wait(more.key)

    assert {j.outcome for j in near_done} == {Outcome.SUCCEEDED}
    assert late.outcome is Outcome.SUCCEEDED
    assert tracker.get(far_job.key).status is Status.TRACKING
    changes = [(e.array, e.reachability) for e in seen.of(ArrayChanged)]
    assert ("far", Reachability.UNREACHABLE) in changes
    assert ("near", Reachability.UNREACHABLE) not in changes


async def test_an_array_removed_and_added_again_carries_on_with_its_jobs(client, control, journal_path):
    await control.config(job_seconds=1.0)
    async with running(journal_path, {"lab": client}) as tracker:
        job = await tracker.submit("lab", "POST", "volume", {"name": "paused", "size": VOLUME_SIZE})
        await tracker.remove_array("lab")
        assert tracker.arrays == [] and tracker.get(job.key).is_open
        tracker.add_array("lab", client)
        async with asyncio.timeout(10):
            done = await tracker.wait(job.key)

    assert done.outcome is Outcome.SUCCEEDED


async def test_a_long_running_tracker_lets_old_ended_entries_go_and_applies_the_retention(
    client, journal_path
):
    policy = dataclasses.replace(FAST, keep_finished=3, prune_every=0.3)
    journal = Journal(journal_path, retention_days=2 / 86400)
    async with journal, JobTracker(journal, policy=policy) as tracker:
        tracker.add_array("lab", client)
        submitted = [
            await tracker.submit("lab", "POST", "volume", {"name": f"keep-{i}", "size": VOLUME_SIZE})
            for i in range(5)
        ]
        async with asyncio.timeout(30):
            ended = [await tracker.wait(job.key) for job in submitted]  # from the journal if let go
        assert [j.outcome for j in ended] == [Outcome.SUCCEEDED] * 5
        # The three that ended last stay in memory; the others are in the journal only.
        in_memory = {j.key for j in tracker.jobs()}
        assert len(in_memory) == 3
        assert len(await tracker.history()) == 5
        evicted = next(j.key for j in submitted if j.key not in in_memory)
        with pytest.raises(KeyError, match="history"):
            tracker.get(evicted)
        # While the console runs on, the retention rule (2 s here) empties the journal.
        for _ in range(50):
            if not await tracker.history():
                break
            await asyncio.sleep(0.2)
        assert await tracker.history() == []
