"""Async requests: 202 + job id, the job's phases, its outcome, steps, and persistence across restarts."""

from __future__ import annotations

import httpx
import pytest

from console.simulator import SimulatorConfig, create_app
from tests.simulator.conftest import BASE_URL, Clock, SimClient, clocked_client

JOB_SELECT = (
    "id,phase,state,progress_percentage,start_time,end_time,estimated_completion_time,response_status,"
    "response_body,resource_type,resource_action,resource_id,resource_name,description_l10n,user,"
    "parent_id,root_id,step_order,phase_l10n,state_l10n"
)


@pytest.fixture
async def slow():
    """A simulator whose jobs take about 10 s, with the clock in the test's hands."""
    app = create_app(SimulatorConfig(volumes=10, job_seconds=10, seed=3))
    async with clocked_client(app) as (client, clock):
        yield client, clock, app


async def get_job(client, job_id):
    response = await client.get(f"/job/{job_id}", params={"select": JOB_SELECT})
    assert response.status_code == 200
    return response.json()


async def first_volume(client, select="id,name,size,description"):
    return (await client.get("/volume", params={"select": select, "limit": 1, "order": "name"})).json()[0]


async def test_async_change_answers_202_with_a_job_id(api):
    volume = await first_volume(api)
    response = await api.patch(
        f"/volume/{volume['id']}", params={"is_async": "true"}, json={"description": "new"}
    )
    assert response.status_code == 202
    assert set(response.json()) == {"id"}


async def test_a_job_moves_through_every_phase_and_the_change_shows_only_at_the_end(slow):
    client, clock, _app = slow
    volume = await first_volume(client)
    response = await client.patch(
        f"/volume/{volume['id']}", params={"is_async": "true"}, json={"description": "later"}
    )
    job_id = response.json()["id"]
    seen = []
    progress = []
    for _ in range(40):
        job = await get_job(client, job_id)
        if not seen or seen[-1] != job["phase"]:
            seen.append(job["phase"])
        progress.append(job["progress_percentage"])
        if job["phase"] != "Completed":
            current = (await client.get(f"/volume/{volume['id']}", params={"select": "description"})).json()
            assert current["description"] == volume["description"], "visible before the job completed"
        else:
            break
        clock.advance(0.5)
    assert seen == ["Pending", "Queued", "In_Progress", "Completed"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert job["state"] == "COMPLETED" and job["phase_l10n"]
    assert job["end_time"] and job["start_time"] <= job["end_time"]
    assert job["resource_type"] == "volume" and job["resource_action"] == "modify"
    assert job["resource_id"] == volume["id"] and job["user"] == "admin"
    assert job["root_id"] == job_id and job["parent_id"] is None
    assert job["response_body"] is None and job["response_status"] == "204"
    assert (await client.get(f"/volume/{volume['id']}", params={"select": "description"})).json()[
        "description"
    ] == "later"


async def test_in_progress_jobs_report_an_estimate(slow):
    client, clock, _app = slow
    volume = await first_volume(client)
    job_id = (await client.patch(f"/volume/{volume['id']}", params={"is_async": "true"}, json={})).json()[
        "id"
    ]
    clock.advance(5)
    job = await get_job(client, job_id)
    assert job["phase"] == "In_Progress"
    assert 0 < job["progress_percentage"] < 100
    assert job["estimated_completion_time"] > job["start_time"]


async def test_async_create_reports_the_new_id(api):
    response = await api.post(
        "/volume", params={"is_async": "true"}, json={"name": "async-new", "size": 8 * 1048576}
    )
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert job["response_body"]["response_type"] == "job_create_response"
    new_id = job["response_body"]["id"]
    assert job["resource_id"] == new_id
    assert (await api.get(f"/volume/{new_id}", params={"select": "name"})).json()["name"] == "async-new"


async def test_validation_errors_of_async_requests_are_immediate_and_create_no_job(api):
    before = (await api.get("/job", params={"limit": 1})).headers.get("content-range")
    volume = await first_volume(api)
    response = await api.patch(f"/volume/{volume['id']}", params={"is_async": "true"}, json={"size": 1048576})
    assert response.status_code in (400, 422)
    response = await api.post("/volume", params={"is_async": "true"}, json={"name": "x"})
    assert response.status_code == 400
    assert (await api.get("/job", params={"limit": 1})).headers.get("content-range") == before


async def test_a_conflict_found_while_running_fails_the_job(slow):
    client, clock, _app = slow
    first = await client.post("/volume", params={"is_async": "true"}, json={"name": "twin", "size": 1048576})
    second = await client.post("/volume", params={"is_async": "true"}, json={"name": "twin", "size": 1048576})
    assert first.status_code == second.status_code == 202
    phases = set()
    for _ in range(60):
        clock.advance(0.5)
        jobs = [await get_job(client, r.json()["id"]) for r in (first, second)]
        phases |= {j["phase"] for j in jobs}
        if all(j["phase"] in ("Completed", "Failed") for j in jobs):
            break
    outcomes = sorted(j["phase"] for j in jobs)
    assert outcomes == ["Completed", "Failed"]
    assert "Failing" in phases
    failed = next(j for j in jobs if j["phase"] == "Failed")
    assert failed["state"] == "FAILED"
    assert failed["response_status"] == "422"
    body = failed["response_body"]
    assert body["response_type"] == "job_error_response"
    assert body["messages"][0]["message_l10n"]
    names = (await client.get("/volume", params={"select": "id", "name": "eq.twin"})).json()
    assert len(names) == 1


async def test_multi_step_jobs_have_child_steps(api):
    group = (
        await api.get("/volume_group", params={"select": "id,name", "type": "eq.Primary", "limit": 1})
    ).json()[0]
    response = await api.post(
        f"/volume_group/{group['id']}/snapshot", params={"is_async": "true"}, json={"name": "set-1"}
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    job = await api.wait_job(job_id)
    assert job["phase"] == "Completed"
    steps = (
        await api.get(
            "/job",
            params={
                "select": "id,parent_id,root_id,phase,step_order,description_l10n",
                "root_id": f"eq.{job_id}",
                "order": "step_order",
            },
        )
    ).json()
    children = [s for s in steps if s["id"] != job_id]
    assert len(children) >= 2
    assert all(
        s["parent_id"] == job_id and s["root_id"] == job_id and s["phase"] == "Completed" for s in children
    )
    orders = [s["step_order"] for s in children]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    nested = (await api.get(f"/job/{job_id}", params={"select": "id,children(id,step_order)"})).json()
    assert {c["id"] for c in nested["children"]} == {c["id"] for c in children}


async def test_jobs_stay_queryable_after_they_end(api):
    volume = await first_volume(api)
    job_id = (await api.patch(f"/volume/{volume['id']}", params={"is_async": "true"}, json={})).json()["id"]
    await api.wait_job(job_id)
    listed = (await api.get("/job", params={"id": f"eq.{job_id}", "select": "id,phase"})).json()
    assert listed == [{"id": job_id, "phase": "Completed"}]


async def test_state_persists_across_a_restart_and_running_jobs_finish(tmp_path):
    state = tmp_path / "state.json"
    config = SimulatorConfig(volumes=5, job_seconds=30, seed=4, state_file=state)
    app = create_app(config)
    async with SimClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        await client.login()
        created = await client.post("/volume", json={"name": "kept", "size": 1048576})
        assert created.status_code == 201
        job_id = (
            await client.post(
                "/volume", params={"is_async": "true"}, json={"name": "in-flight", "size": 1048576}
            )
        ).json()["id"]
    app.state.simulator.save_if_changed()
    assert state.exists()

    restarted = create_app(config)
    Clock(restarted.state.simulator).advance(60)
    async with SimClient(transport=httpx.ASGITransport(app=restarted), base_url=BASE_URL) as client:
        await client.login()
        names = {
            v["name"] for v in (await client.get("/volume", params={"select": "name", "limit": 2000})).json()
        }
        assert "kept" in names
        job = await get_job(client, job_id)
        assert job["phase"] == "Completed"
        assert "in-flight" in {
            v["name"] for v in (await client.get("/volume", params={"select": "name", "limit": 2000})).json()
        }


async def test_a_corrupt_state_file_is_a_clear_error(tmp_path):
    state = tmp_path / "state.json"
    state.write_text("{not json")
    with pytest.raises(SystemExit, match="cannot read the simulator state file"):
        create_app(SimulatorConfig(state_file=state))
    assert state.read_text() == "{not json", "the bad file is left as it was"


async def test_async_actions_with_array_answers_complete_and_later_requests_still_work(api):
    appliance = (await api.get("/appliance", params={"select": "id", "limit": 1})).json()[0]
    response = await api.post(
        f"/appliance/{appliance['id']}/forecast",
        params={"is_async": "true"},
        json={"metric_type": "Physical_Space_Used_One_Day"},
    )
    assert response.status_code == 202, response.text
    job = await api.wait_job(response.json()["id"])
    assert job["phase"] == "Completed"
    assert job["response_body"]["response_type"] == "job_appliance_forecast_response"
    assert (await api.get("/volume", params={"limit": 1})).status_code in (200, 206)
