"""Fixtures for simulator tests: the app in-process (fast) with a logged-in client."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from console.simulator import DEFAULT_PASSWORD, DEFAULT_USER, SimulatorConfig, create_app
from tests.simulator.process import SimulatorProcess

BASE_URL = "https://sim.test/api/rest"
TERMINAL = {"Completed", "Failed", "Unrecoverable_Failed", "Skipped"}


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
    async with make_client() as client:
        response = await client.login()
        assert response.status_code == 200, response.text
        yield client


@pytest.fixture(scope="session")
def simulator_cert_dir(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("simulator-certs")


@pytest.fixture
def simulator_process(simulator_cert_dir):
    """The simulator as a real child process over TLS on loopback, with the control endpoint."""
    with SimulatorProcess(cert_dir=simulator_cert_dir, args=["--control", "--job-seconds", "0.3"]) as sim:
        yield sim
