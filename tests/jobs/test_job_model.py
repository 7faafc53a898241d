"""The engine's rules without a network: phases, outcomes, poll timing, orphan matching."""

from __future__ import annotations

import time

import pytest

from console.jobs import GONE_TEXT, UNKNOWN_TEXT, Job, Outcome, PollPolicy, Status
from console.jobs.model import Intent, ResourceRef, action_of, format_time, normalise_phase, parse_time
from console.jobs.recovery import Window, assign


@pytest.mark.parametrize(
    ("record", "phase"),
    [
        ({"phase": "Completed", "state": "COMPLETED"}, "Completed"),
        ({"state": "IN_PROGRESS"}, "In_Progress"),
        ({"phase": "unrecoverable_failed"}, "Unrecoverable_Failed"),
        ({"phase": None, "state": "failed"}, "Failed"),
        ({}, None),
    ],
)
def test_the_phase_is_read_case_insensitively_falling_back_to_state(record, phase):
    assert normalise_phase(record) == phase


@pytest.mark.parametrize(
    ("phase", "outcome"),
    [
        ("Completed", Outcome.SUCCEEDED),
        ("Failed", Outcome.FAILED),
        ("Unrecoverable_Failed", Outcome.UNRECOVERABLE),
        ("Skipped", Outcome.SKIPPED),
    ],
)
def test_a_terminal_phase_decides_the_outcome_whatever_the_status_code(phase, outcome):
    job = Job(key=1, array="a", status=Status.FINISHED, record={"phase": phase, "response_status": None})
    assert job.outcome is outcome


def test_what_the_panel_says_for_each_status():
    def job(status: Status, **record: object) -> Job:
        return Job(key=1, array="a", status=status, job_id="j", record=record)

    assert job(Status.TRACKING, phase="In_Progress", progress_percentage=40).status_text == "In progress 40%"
    assert job(Status.GONE, phase="Queued").status_text == f"{GONE_TEXT} (last seen: Queued)"
    assert job(Status.UNKNOWN).status_text == UNKNOWN_TEXT
    assert job(Status.TRACKING).outcome is None


def test_a_create_reports_the_new_id_and_a_modify_its_target():
    intent = Intent(
        "POST", "volume", {"name": "db"}, "admin", ResourceRef("volume", "create", name="db"), 0.0
    )
    body = {"response_type": "job_create_response", "id": 42}
    created = Job(key=1, array="a", status=Status.FINISHED, intent=intent, record={"response_body": body})
    assert created.resource is not None
    assert (created.resource.type, created.resource.id, created.resource.created_id) == ("volume", "42", "42")

    modify = Intent("PATCH", "host/h1", {}, "admin", ResourceRef("host", "modify", id="h1"), 0.0)
    changed = Job(key=2, array="a", status=Status.FINISHED, intent=modify, record={"phase": "Completed"})
    assert changed.resource is not None
    assert (changed.resource.type, changed.resource.id, changed.resource.created_id) == ("host", "h1", None)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "volume", ("volume", None, "create")),
        ("PATCH", "volume/v1", ("volume", "v1", "modify")),
        ("DELETE", "/host/name:esx%201/", ("host", "name:esx 1", "delete")),
        ("POST", "volume_group/g1/snapshot", ("volume_group", "g1", "snapshot")),
    ],
)
def test_the_target_of_a_request_is_read_from_its_path(method, path, expected):
    assert action_of(method, path) == expected


def test_timestamps_round_trip_in_the_api_form():
    stamp = "2024-05-01T10:00:00.120+00:00"
    assert format_time(parse_time(stamp) or 0) == stamp
    assert parse_time("2024-05-01T12:00:00.120+02:00") == parse_time(stamp)
    assert parse_time(None) is None and parse_time("soon") is None


def test_a_new_job_is_looked_at_within_a_second_and_a_long_one_every_few_seconds():
    policy = PollPolicy()
    assert policy.next_interval(age=0.0, until_finish=None) < 1.0
    assert policy.next_interval(age=600.0, until_finish=None) == policy.max_interval
    assert 1.0 < policy.max_interval <= 10.0
    # A known end brings the next look forward to just after it, never below the minimum.
    assert policy.next_interval(age=600.0, until_finish=1.0) == pytest.approx(1.0 + policy.finish_margin)
    assert policy.next_interval(age=600.0, until_finish=0.0) == policy.min_interval
    assert policy.next_interval(age=600.0, until_finish=-30.0) == policy.overdue_interval


def test_backoff_grows_and_is_capped():
    policy = PollPolicy(backoff_initial=1.0, backoff_max=8.0)
    waits = [policy.backoff(n) for n in range(1, 8)]
    assert waits[0] <= 1.2 and waits[-1] <= 8.0 * 1.2
    assert waits[3] > waits[0]


def _orphan(key: int, at: float, target: ResourceRef, user: str = "admin") -> Job:
    intent = Intent("POST", target.type, {}, user, target, at)
    return Job(key=key, array="a", status=Status.ORPHAN, intent=intent)


def _job(job_id: str, at: float, rtype: str = "volume", action: str = "create", **extra: object) -> dict:
    return {
        "id": job_id,
        "resource_type": rtype,
        "resource_action": action,
        "user": "admin",
        "parent_id": None,
        "start_time": format_time(at),
        **extra,
    }


def test_orphans_are_matched_to_the_closest_unclaimed_job_and_never_share_one():
    now = time.time()
    window = Window(before=60, after=180)
    target = ResourceRef("volume", "modify", id="v1")
    first, second = _orphan(1, now, target), _orphan(2, now + 1, target)
    jobs = [
        _job("claimed", now, action="modify", resource_id="v1"),
        _job("j1", now + 0.1, action="modify", resource_id="v1"),
        _job("j2", now + 1.1, action="modify", resource_id="v1"),
        _job("other-volume", now + 0.05, action="modify", resource_id="v2"),
        _job("too-late", now + 400, action="modify", resource_id="v1"),
    ]
    adopted = assign([second, first], jobs, {"claimed"}, window)
    assert {key: job["id"] for key, job in adopted.items()} == {1: "j1", 2: "j2"}

    third = _orphan(3, now + 2, target)
    assert 3 not in assign([first, second, third], jobs, {"claimed"}, window)


def test_an_orphaned_create_matches_only_a_job_for_its_name_and_user():
    now = time.time()
    window = Window(before=60, after=180)
    orphan = _orphan(1, now, ResourceRef("volume", "create", name="db01"))
    jobs = [
        _job("someone-else", now, user="ops", resource_name="db01"),
        _job("other-name", now, resource_name="db02"),
        _job("step", now, resource_name="db01", parent_id="root"),
    ]
    jobs[0]["user"] = "ops"
    assert assign([orphan], jobs, set(), window) == {}
    jobs.append(_job("right", now + 2, resource_name="DB01"))
    assert assign([orphan], jobs, set(), window)[1]["id"] == "right"


def test_the_search_window_follows_the_array_clock():
    now = time.time()
    orphan = _orphan(1, now, ResourceRef("volume", "create", name="db01"))
    job = _job("j", now + 3600, resource_name="db01")
    assert assign([orphan], [job], set(), Window(before=60, after=180)) == {}
    assert assign([orphan], [job], set(), Window(before=60, after=180, skew=3600))[1]["id"] == "j"
