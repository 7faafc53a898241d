"""Fixtures for client tests: one simulator process per test module, over real TLS on loopback.

Tests that change data or the simulator's knobs use ``control`` (``fresh``), which resets data,
faults and settings first, so a module's tests stay independent while sharing one process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.api import PowerStoreClient
from tests.simulator.process import SimulatorProcess

ADMIN = ("admin", "Password123#")
OPERATOR = ("operator", "Operator#Pass1")
STORAGE_ADMIN = ("storage.admin", "Storage#Admin1")
QUIET_FAULTS = {
    "fault_rate": 0.0,
    "latency_ms": 0.0,
    "fail_next": 0,
    "drop_next_before": 0,
    "drop_next_after": 0,
}


class Control:
    """The simulator's test-only control endpoint (``/__control/…``)."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.sim = sim

    async def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(verify=self.sim.ssl_context(), timeout=10) as http:
            response = await http.request(method, f"{self.sim.origin}/__control/{name}", json=body)
        response.raise_for_status()
        return response.json()

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "stats")

    async def requests(self, key: str) -> int:
        """How many API requests ``key`` (``"GET volume"``, ``"POST logout"``...) were made."""
        return (await self.stats())["requests"].get(key, 0)

    async def logins(self) -> int:
        return (await self.stats())["logins"]

    async def reset(self) -> None:
        await self._call("POST", "reset")
        await self.faults(**QUIET_FAULTS)
        await self.config(idle_timeout=3600)

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        return await self._call("POST", "faults", knobs)

    async def expire_sessions(self) -> int:
        return (await self._call("POST", "expire_sessions"))["expired"]

    async def config(self, **settings: Any) -> dict[str, Any]:
        return await self._call("POST", "config", settings)

    async def advance_clock(self, seconds: float) -> None:
        await self._call("POST", "clock", {"advance": seconds})


class FakeClock:
    """A monotonic clock the test moves by hand (for the client's idle timer)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def api_cert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-simulator-certs")


@pytest.fixture(scope="module")
def sim(api_cert_dir: Path) -> Iterator[SimulatorProcess]:
    """A simulator child process over TLS, with the control endpoint, shared by a test module."""
    with SimulatorProcess(cert_dir=api_cert_dir, args=["--control", "--job-seconds", "0.3"]) as process:
        yield process


@pytest.fixture
async def control(sim: SimulatorProcess) -> Control:
    """The control endpoint, after a reset to fresh data, no faults and default settings."""
    ctl = Control(sim)
    await ctl.reset()
    return ctl


@pytest.fixture
async def make_client(sim: SimulatorProcess) -> AsyncIterator[Callable[..., PowerStoreClient]]:
    """Build clients for the simulator (not logged in yet); all are closed at the end."""
    clients: list[PowerStoreClient] = []

    def make(user: tuple[str, str] = ADMIN, **options: Any) -> PowerStoreClient:
        options.setdefault("verify", str(sim.ca_path))
        options.setdefault("backoff", 0.01)
        options.setdefault("timeout", 10.0)
        client = PowerStoreClient(sim.base_url, *user, **options)
        clients.append(client)
        return client

    yield make
    await asyncio.gather(*(c.aclose() for c in clients))


@pytest.fixture
async def client(control: Control, make_client: Callable[..., PowerStoreClient]) -> PowerStoreClient:
    """An admin client, logged in, on fresh data."""
    api = make_client()
    await api.login()
    return api


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    return httpx.Response(status, content=content, headers=all_headers)


LOGIN_BODY = [
    {
        "id": "s1",
        "user": "admin",
        "role_ids": ["1"],
        "idle_timeout": 3600,
        "is_password_change_required": False,
        "is_built_in_user": True,
    }
]


def login_response(cookie: str = "c1", token: str | None = "t1") -> httpx.Response:
    headers = {"set-cookie": f"auth_cookie={cookie}; HttpOnly; Path=/; Secure"}
    if token is not None:
        headers["DELL-EMC-TOKEN"] = token
    return json_response(200, LOGIN_BODY, headers)


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], *, own_logout: bool = False, **options: Any
) -> PowerStoreClient:
    """A client whose network is ``handler`` (for answers a real server cannot be made to give).

    ``POST /logout`` is answered 204 without calling ``handler`` unless ``own_logout``."""

    def network(request: httpx.Request) -> httpx.Response:
        if not own_logout and request.url.path.endswith("/logout"):
            return httpx.Response(204)
        return handler(request)

    options.setdefault("backoff", 0.0)
    return PowerStoreClient(
        "https://array.test", "admin", "Password123#", transport=httpx.MockTransport(network), **options
    )
