"""Fixtures for simulator tests: the app in-process (fast) with a logged-in client, and the small
helpers the resource tests share."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from console.simulator import DEFAULT_PASSWORD, DEFAULT_USER, SimulatorConfig, create_app
from tests.simulator.process import SimulatorProcess

BASE_URL = "https://sim.test/api/rest"
TERMINAL = {"Completed", "Failed", "Unrecoverable_Failed", "Skipped"}
OPERATOR = ("operator", "Operator#Pass1")
STORAGE_ADMIN = ("storage.admin", "Storage#Admin1")
SECURITY_ADMIN = ("security.admin", "Security#Admin1")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class SimClient(httpx.AsyncClient):
    """An httpx client bound to an in-process simulator that logs in as the array expects."""

    token: str | None = None

    async def login(self, user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD) -> httpx.Response:
        response = await self.get(
            "/login_session",
            params={"select": "id,user,role_ids,idle_timeout,is_password_change_required"},
            headers={"Authorization": basic(user, password)},
        )
        if response.status_code == 200:
            self.token = response.headers["DELL-EMC-TOKEN"]
            self.headers["DELL-EMC-TOKEN"] = self.token
        return response

    async def wait_job(self, job_id: str, *, timeout: float = 10.0) -> dict:
        """Poll a job until its phase is terminal; return it with everything useful selected."""
        select = (
            "id,phase,state,progress_percentage,response_status,response_body,resource_id,"
            "resource_type,resource_action,description_l10n,parent_id,root_id,step_order"
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            response = await self.get(f"/job/{job_id}", params={"select": select})
            response.raise_for_status()
            job = response.json()
            if job["phase"] in TERMINAL:
                return job
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"job {job_id} still {job['phase']} after {timeout} s")
            await asyncio.sleep(0.02)

    async def job_steps(self, job_id: str, select: str = "description_l10n,phase") -> list[dict]:
        """The child steps of a job, in their order."""
        params = {"select": select, "parent_id": f"eq.{job_id}", "order": "step_order"}
        response = await self.get("/job", params=params)
        response.raise_for_status()
        return response.json()


class Clock:
    """The simulator's clock under the test's control."""

    def __init__(self, simulator) -> None:
        self.real = simulator.sim.clock
        self.offset = 0.0
        simulator.sim.clock = lambda: self.real() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@contextlib.asynccontextmanager
async def clocked_client(app: Starlette) -> AsyncIterator[tuple[SimClient, Clock]]:
    """A client of ``app``, logged in as admin, with the simulator's clock in the test's hands."""
    clock = Clock(app.state.simulator)
    async with SimClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client:
        await client.login()
        yield client, clock


# -- requests and answers --------------------------------------------------------------------------------


async def posted_id(client: httpx.AsyncClient, path: str, body: dict, status: int = 201) -> str:
    """POST ``body`` to ``path``, expecting ``status``; the id of what it made."""
    response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    return response.json()["id"]


async def fetch(client: httpx.AsyncClient, path: str, select: str) -> dict:
    """The selected fields of the one resource at ``path``."""
    response = await client.get(path, params={"select": select})
    assert response.status_code == 200, response.text
    return response.json()


async def by_name(client: httpx.AsyncClient, type_name: str, name: str, select: str = "id,name") -> dict:
    return await fetch(client, f"/{type_name}/name:{name}", select)


async def all_of(
    client: httpx.AsyncClient, type_name: str, select: str = "id,name", **filters: str
) -> list[dict]:
    response = await client.get(f"/{type_name}", params={"select": select, "limit": 2000, **filters})
    assert response.status_code in (200, 206), response.text
    return response.json()


def code_of(response: httpx.Response) -> str:
    return response.json()["messages"][0]["code"]


def refused(response: httpx.Response, status: int, code: str | None = None) -> dict:
    """The first message of a refusal with ``status`` (and ``code``, when given)."""
    assert response.status_code == status, response.text
    message = response.json()["messages"][0]
    assert message["severity"] == "Error"
    assert message["message_l10n"]
    if code is not None:
        assert message["code"] == code
    return message


@contextlib.asynccontextmanager
async def logged_in(
    make_client: Callable[[], SimClient], user: str = DEFAULT_USER, password: str = DEFAULT_PASSWORD
) -> AsyncIterator[SimClient]:
    """A client of ``make_client``, logged in as ``user``."""
    async with make_client() as client:
        response = await client.login(user, password)
        assert response.status_code == 200, response.text
        yield client


# -- fixtures ---------------------------------------------------------------------------------------------


@pytest.fixture
def sim_config() -> SimulatorConfig:
    return SimulatorConfig(volumes=30, job_seconds=0.05, seed=7)


@pytest.fixture
def sim_app(sim_config: SimulatorConfig) -> Starlette:
    return create_app(sim_config)


@pytest.fixture
def make_client(sim_app: Starlette) -> Callable[[], SimClient]:
    clients: list[SimClient] = []

    def make() -> SimClient:
        client = SimClient(transport=httpx.ASGITransport(app=sim_app), base_url=BASE_URL)
        clients.append(client)
        return client

    yield make
    # httpx's ASGI transport holds nothing that needs awaiting; dropping the clients is enough.
    clients.clear()


@pytest.fixture
async def anon(make_client: Callable[[], SimClient]) -> AsyncIterator[SimClient]:
    """A client that has not logged in."""
    async with make_client() as client:
        yield client


@pytest.fixture
async def api(make_client: Callable[[], SimClient]) -> AsyncIterator[SimClient]:
    """A client logged in as admin (Administrator)."""
    async with logged_in(make_client) as client:
        yield client


@pytest.fixture
async def operator(make_client: Callable[[], SimClient]) -> AsyncIterator[SimClient]:
    """A client logged in as an Operator, who may look but not change."""
    async with logged_in(make_client, *OPERATOR) as client:
        yield client


@pytest.fixture(scope="session")
def simulator_cert_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("simulator-certs")


@pytest.fixture
def simulator_process(simulator_cert_dir):
    """The simulator as a real child process over TLS on loopback, with the control endpoint."""
    with SimulatorProcess(cert_dir=simulator_cert_dir, args=["--control", "--job-seconds", "0.3"]) as sim:
        yield sim
