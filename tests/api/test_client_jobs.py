"""Submits and jobs against the simulator, lost connections, and what only a mock can show."""

from __future__ import annotations

import asyncio
import json
import random
import uuid

import httpx
import pytest

from console.api import CompletedWithoutJob, ConnectionLost, F, ValidationRefused
from console.api.params import MAX_URL_LENGTH
from tests.api.conftest import json_response, login_response, mock_client

TERMINAL = {"Completed", "Failed", "Unrecoverable_Failed", "Skipped"}


async def wait_for(client, job_id: str, timeout: float = 10.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        job = await client.job(job_id)
        if job["phase"] in TERMINAL:
            return job
        assert loop.time() < deadline, f"job {job_id} still {job['phase']}"
        await asyncio.sleep(0.05)


async def first_volume(client) -> dict:
    return (await client.query("volume", select="id,name", where=F("type") != "Snapshot", limit=1)).items[0]


async def test_submit_returns_the_job_id_and_the_job_completes(control, client):
    volume = await first_volume(client)
    job_id = await client.submit("PATCH", f"volume/{volume['id']}", {"description": "via a job"})
    job = await wait_for(client, job_id)
    assert job["id"] == job_id
    assert job["phase"] == "Completed"
    assert job["resource_action"] == "modify"
    assert job["resource_id"] == volume["id"]
    assert (await client.get("volume", volume["id"], select="description"))["description"] == "via a job"


async def test_submit_of_a_create_and_of_an_action(control, client):
    create = await client.submit("POST", "/volume/", {"name": "new-from-client", "size": 8 << 30})
    assert (await wait_for(client, create))["phase"] == "Completed"
    created = await client.get("volume", "name:new-from-client", select="id")
    snap = await client.submit("POST", f"volume/{created['id']}/snapshot", {"name": "snap-1"})
    job = await wait_for(client, snap)
    assert job["phase"] == "Completed"
    assert job["response_body"]["id"]


async def test_a_refused_submit_raises_at_once_and_starts_no_job(control, client):
    volume = await first_volume(client)
    before = (await client.query("job", limit=1)).total
    with pytest.raises(ValidationRefused):
        await client.submit("PATCH", f"volume/{volume['id']}", {"size": 8192})
    assert (await client.query("job", limit=1)).total == before


async def test_submit_takes_only_changes(client):
    with pytest.raises(ValueError, match="POST, PATCH or DELETE"):
        await client.submit("GET", "volume")


async def test_job_with_its_steps(control, client):
    group = (await client.query("volume_group", select="id", limit=1)).items[0]
    job_id = await client.submit("POST", f"volume_group/{group['id']}/snapshot", {"name": "set-1"})
    job = await client.job(job_id, steps=True)
    assert job["steps"]
    assert all(step["root_id"] == job_id for step in job["steps"])
    orders = [step["step_order"] for step in job["steps"]]
    assert orders == sorted(orders)
    assert "steps" not in await client.job(job_id)


async def test_jobs_of_a_thousand_ids_in_a_few_requests(control, client):
    seeded = [j["id"] for j in (await client.query("job", select="id", limit=2000)).items]
    volumes = (await client.query("volume", select="id", limit=2000)).items
    submits = [
        client.submit("PATCH", f"volume/{volumes[n % len(volumes)]['id']}", {"description": f"batch {n}"})
        for n in range(100 - len(seeded))
    ]
    real = seeded + list(await asyncio.gather(*submits))
    # Ids the array no longer knows (long gone, or from another array) are simply not returned.
    gone = [str(uuid.uuid4()) for _ in range(900)]
    ids = real + gone
    random.Random(3).shuffle(ids)
    assert len(ids) == len(set(ids)) == 1000
    before = await control.requests("GET job")
    jobs = await client.jobs(ids)
    requests = await control.requests("GET job") - before
    assert [j["id"] for j in jobs] == [i for i in ids if i in set(real)]
    assert all(j["phase"] and "response_body" in j for j in jobs)
    # About a hundred UUIDs per request keep each URL within 4 KB: ten requests, not a thousand.
    assert requests <= 11


async def test_jobs_batches_keep_urls_short_and_skip_unknown_ids():
    urls: list[str] = []
    known = {str(uuid.UUID(int=n)) for n in range(0, 1000, 2)}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        urls.append(str(request.url))
        wanted = request.url.params["id"][len("in.(") : -1].split(",")
        return json_response(200, [{"id": i, "phase": "Completed"} for i in wanted if i in known])

    ids = [str(uuid.UUID(int=n)) for n in range(1000)]
    async with mock_client(handler) as client:
        jobs = await client.jobs([*ids, ids[0]])
        assert await client.jobs([]) == []
    assert [j["id"] for j in jobs] == [i for i in ids if i in known]
    assert all(len(url) <= MAX_URL_LENGTH for url in urls)
    # Every URL is nearly full (about 4 KB with the default job fields): 11 requests for 1000 ids.
    assert all(len(url) > MAX_URL_LENGTH - 100 for url in urls[:-1])
    assert len(urls) == 11


async def test_a_read_is_retried_after_a_lost_connection(control, client):
    await control.faults(drop_next_before=1)
    assert len((await client.query("volume", limit=1)).items) == 1
    await control.faults(drop_next_after=1)
    assert len((await client.query("volume", limit=1)).items) == 1
    stats = await control.stats()
    assert stats["faults"]["drop_next_before"] == 0
    assert stats["faults"]["drop_next_after"] == 0
    # Dropped before: the app never saw it; dropped after: it ran, then was asked again.
    assert stats["requests"]["GET volume"] == 3


async def test_a_read_gives_up_after_a_few_lost_connections(control, client):
    await control.faults(drop_next_before=10)
    with pytest.raises(ConnectionLost) as caught:
        await client.query("volume", limit=1)
    assert caught.value.may_have_reached_server is True
    assert (await control.stats())["faults"]["drop_next_before"] == 10 - 4


async def test_a_change_that_lost_its_answer_is_not_retried(control, client):
    volume = await first_volume(client)
    jobs_before = (await client.query("job", limit=1)).total
    await control.faults(drop_next_after=1)
    with pytest.raises(ConnectionLost) as caught:
        await client.submit("PATCH", f"volume/{volume['id']}", {"description": "maybe"})
    error = caught.value
    assert error.may_have_reached_server is True
    assert error.method == "PATCH"
    assert error.path == f"volume/{volume['id']}"
    assert await control.requests("PATCH volume") == 1
    # The array did start the job: the outcome is for the job engine to find out.
    assert (await client.query("job", limit=1)).total == jobs_before + 1


async def test_a_change_whose_connection_failed_before_sending_is_retried():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        calls.append(request.method)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return json_response(202, {"id": "job-1"})

    async with mock_client(handler) as client:
        assert await client.submit("POST", "volume", {"name": "v", "size": 8192}) == "job-1"
    assert calls == ["POST", "POST"]


async def test_a_change_that_timed_out_waiting_is_not_retried():
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        calls.append(request.method)
        raise httpx.ReadTimeout("timed out", request=request)

    async with mock_client(handler) as client:
        with pytest.raises(ConnectionLost, match="timed out") as caught:
            await client.submit("DELETE", "volume/v1")
    assert caught.value.may_have_reached_server is True
    assert calls == ["DELETE"]


async def test_a_submit_answered_synchronously_is_reported_as_such():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("login_session"):
            return login_response()
        assert request.url.params["is_async"] == "true"
        return json_response(201, {"id": "vol-1"})

    async with mock_client(handler) as client:
        with pytest.raises(CompletedWithoutJob) as caught:
            await client.submit("POST", "volume", {"name": "v", "size": 8192})
    assert caught.value.result == {"id": "vol-1"}
    assert caught.value.status == 201


# -- credentials and tokens on the wire ----------------------------------------------------------------


async def test_basic_only_on_login_then_cookie_and_the_newest_token():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("login_session"):
            return login_response(cookie="c1", token="t1")
        if request.method == "GET":
            # The array may hand out a new token on any answer.
            return json_response(200, [{"id": "v1"}], {"DELL-EMC-TOKEN": "t2"})
        return json_response(202, {"id": "job-1"})

    async with mock_client(handler, own_logout=True) as client:
        await client.query("volume")
        await client.submit("PATCH", "volume/v1", {"description": "x"})
    login, get, patch, logout = seen
    assert login.headers["authorization"].startswith("Basic ")
    assert "cookie" not in login.headers
    for request in (get, patch, logout):
        assert "authorization" not in request.headers
        assert request.headers["cookie"] == "auth_cookie=c1"
    assert get.headers["dell-emc-token"] == "t1"
    assert patch.headers["dell-emc-token"] == "t2"
    assert logout.headers["dell-emc-token"] == "t2"
    assert logout.url.path == "/api/rest/logout"
    assert json.loads(patch.content) == {"description": "x"}
    assert patch.headers["content-type"] == "application/json"
    assert get.headers["accept"] == "application/json"


async def test_a_login_without_token_takes_one_from_a_later_answer(caplog):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("login_session"):
            return login_response(token=None)
        if request.method == "GET":
            return json_response(200, [], {"DELL-EMC-TOKEN": "late"})
        return json_response(202, {"id": "job-1"})

    async with mock_client(handler) as client:
        assert "DELL-EMC-TOKEN" in caplog.text
        await client.query("volume")
        await client.submit("DELETE", "volume/v1")
    assert "dell-emc-token" not in seen[1].headers
    assert seen[2].headers["dell-emc-token"] == "late"


async def test_a_new_cookie_on_a_later_answer_is_used():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("login_session"):
            return login_response(cookie="first")
        return json_response(200, [], {"set-cookie": "auth_cookie=second; Path=/; Secure"})

    async with mock_client(handler) as client:
        await client.query("volume")
        await client.query("volume")
    assert seen[1].headers["cookie"] == "auth_cookie=first"
    assert seen[2].headers["cookie"] == "auth_cookie=second"
