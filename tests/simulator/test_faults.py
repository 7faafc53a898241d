"""Fault injection: 503 answers, dropped connections before and after the app, latency, random rates."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from console.simulator.config import SimulatorConfig
from console.simulator.errors import CODE_BUSY
from console.simulator.faults import (
    Fault,
    FaultMiddleware,
    FaultSettings,
    InjectedDisconnect,
    build_fault_settings,
)
from console.simulator.server import SimulatorServer, bind_socket
from tests.simulator.process import SimulatorProcess


class Recorder:
    """A stand-in API: counts what reached it, so tests can tell whether a request got through."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.created: list[object] = []

    def app(self, settings: FaultSettings) -> Starlette:
        async def thing(request: Request) -> Response:
            self.calls[f"{request.method} thing"] += 1
            if request.method == "POST":
                self.created.append(await request.json())
                return JSONResponse({"id": str(len(self.created))}, status_code=201)
            return JSONResponse([{"id": "1", "name": "a" * 200}])

        async def empty(request: Request) -> Response:
            self.calls[f"{request.method} empty"] += 1
            return Response(status_code=204)

        async def boom(request: Request) -> Response:
            raise RuntimeError("a genuine bug")

        async def control(request: Request) -> Response:
            self.calls["control"] += 1
            return JSONResponse({"ok": True})

        return Starlette(
            routes=[
                Route("/api/rest/thing", thing, methods=["GET", "POST", "HEAD"]),
                Route("/api/rest/empty", empty, methods=["DELETE"]),
                Route("/api/rest/boom", boom),
                Route("/__control/ping", control, methods=["GET", "POST"]),
            ],
            middleware=[Middleware(FaultMiddleware, settings=settings)],
        )


def in_process(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim/api/rest/")


@contextlib.asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[str]:
    """The app behind a real uvicorn on a loopback port, in this event loop."""
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(app, log_config=None, http="h11", ws="none", lifespan="off", access_log=False)
    started = asyncio.Event()
    server = SimulatorServer(config, started.set, handle_signals=False)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            await started.wait()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/rest/"
    finally:
        server.should_exit = True
        await task
        sock.close()


def server_complaints(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name} {r.levelname}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING
    ]


# -- settings ---------------------------------------------------------------------------------------------


def test_build_fault_settings_takes_rate_and_latency_from_the_config():
    settings = build_fault_settings(SimulatorConfig(fault_rate=0.25, latency_ms=40, seed=7))
    assert (settings.fault_rate, settings.latency_ms, settings.drop_share) == (0.25, 40, 0.5)
    again = build_fault_settings(SimulatorConfig(fault_rate=0.25, latency_ms=40, seed=7))
    assert [settings.decide() for _ in range(50)] == [again.decide() for _ in range(50)]


@pytest.mark.parametrize(
    "changes",
    [
        {"fault_rate": 1.5},
        {"fault_rate": -0.1},
        {"drop_share": 2},
        {"latency_ms": -1},
        {"fail_next": -1},
        {"drop_next_after": 1.5},
        {"fault_rate": "0.5"},
        {"fault_rate": float("nan")},
        {"latency_ms": float("inf")},
    ],
)
def test_invalid_settings_are_refused(changes):
    with pytest.raises(ValueError, match=next(iter(changes))):
        FaultSettings(**changes)


def test_update_is_all_or_nothing():
    settings = FaultSettings()
    with pytest.raises(ValueError, match="fault_rate"):
        settings.update(latency_ms=10, fault_rate=3)
    assert settings.latency_ms == 0
    with pytest.raises(ValueError, match="unknown"):
        settings.update(colour="red")
    settings.update(latency_ms=10, fail_next=2)
    assert (settings.latency_ms, settings.fail_next) == (10, 2)


def test_reseeding_through_update_restarts_the_sequence():
    settings = FaultSettings(fault_rate=0.5, seed=3)
    first = [settings.decide() for _ in range(40)]
    settings.update(seed=3)
    assert [settings.decide() for _ in range(40)] == first


def test_random_faults_follow_the_rate_and_are_reproducible_with_a_seed():
    settings = FaultSettings(fault_rate=0.3, seed=42)
    outcomes = [settings.decide() for _ in range(4000)]
    counts = Counter(outcomes)

    faults = len(outcomes) - counts[Fault.NONE]
    assert 0.27 < faults / len(outcomes) < 0.33
    drops = counts[Fault.DROP_BEFORE] + counts[Fault.DROP_AFTER]
    assert 0.43 < drops / faults < 0.57
    assert counts[Fault.DROP_BEFORE] > 0.35 * drops
    assert counts[Fault.DROP_AFTER] > 0.35 * drops
    assert settings.injected == {kind.value: n for kind, n in counts.items() if kind is not Fault.NONE}

    same_seed = FaultSettings(fault_rate=0.3, seed=42)
    other_seed = FaultSettings(fault_rate=0.3, seed=43)
    assert [same_seed.decide() for _ in range(4000)] == outcomes
    assert [other_seed.decide() for _ in range(4000)] != outcomes


@pytest.mark.parametrize(
    ("drop_share", "expected"), [(0.0, {Fault.BUSY}), (1.0, {Fault.DROP_BEFORE, Fault.DROP_AFTER})]
)
def test_drop_share_splits_faults_between_busy_and_dropped(drop_share, expected):
    settings = FaultSettings(fault_rate=1.0, drop_share=drop_share, seed=1)
    assert {settings.decide() for _ in range(200)} == expected


def test_one_shot_counters_come_first_and_run_out():
    settings = FaultSettings(fail_next=1, drop_next_before=1, drop_next_after=1)
    assert [settings.decide() for _ in range(4)] == [
        Fault.BUSY,
        Fault.DROP_BEFORE,
        Fault.DROP_AFTER,
        Fault.NONE,
    ]
    assert (settings.fail_next, settings.drop_next_before, settings.drop_next_after) == (0, 0, 0)


# -- in-process (httpx.ASGITransport) ------------------------------------------------------------------


async def test_busy_answer_is_a_503_in_the_error_shape_then_service_resumes():
    recorder = Recorder()
    settings = FaultSettings(fail_next=1)
    async with in_process(recorder.app(settings)) as client:
        busy = await client.get("thing")
        ok = await client.get("thing")

    assert busy.status_code == 503
    assert busy.headers["content-type"] == "application/json"
    (message,) = busy.json()["messages"]
    assert message["code"] == CODE_BUSY
    assert message["severity"] == "Error"
    assert message["severity_l10n"] == "Error"
    assert message["message_l10n"]
    assert ok.status_code == 200
    assert recorder.calls["GET thing"] == 1


async def test_control_endpoint_is_never_faulted_or_delayed():
    recorder = Recorder()
    settings = FaultSettings(fault_rate=1.0, latency_ms=300, fail_next=5, drop_next_before=5)
    async with in_process(recorder.app(settings)) as client:
        started = time.monotonic()
        responses = [await client.get("http://sim/__control/ping") for _ in range(5)]
        elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [200] * 5
    assert elapsed < 0.3
    assert settings.fail_next == 5
    assert settings.drop_next_before == 5


async def test_latency_delays_every_api_request():
    recorder = Recorder()
    settings = FaultSettings(latency_ms=150)
    async with in_process(recorder.app(settings)) as client:
        started = time.monotonic()
        await client.get("thing")
        await client.get("thing")
        elapsed = time.monotonic() - started
        settings.latency_ms = 0
        started = time.monotonic()
        await client.get("thing")
        undelayed = time.monotonic() - started

    assert elapsed >= 0.3
    assert undelayed < 0.15


async def test_latency_applies_to_faulted_requests_too():
    settings = FaultSettings(latency_ms=120, fail_next=1)
    async with in_process(Recorder().app(settings)) as client:
        started = time.monotonic()
        response = await client.get("thing")
    assert response.status_code == 503
    assert time.monotonic() - started >= 0.12


async def test_drop_before_in_process_raises_a_transport_error_and_skips_the_app():
    recorder = Recorder()
    async with in_process(recorder.app(FaultSettings(drop_next_before=1))) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("thing", json={"name": "lost"})
        assert (await client.get("thing")).status_code == 200

    assert recorder.created == []


async def test_drop_after_in_process_raises_a_transport_error_after_the_app_ran():
    recorder = Recorder()
    async with in_process(recorder.app(FaultSettings(drop_next_after=1))) as client:
        with pytest.raises(httpx.TransportError) as raised:
            await client.post("thing", json={"name": "orphan"})

    assert isinstance(raised.value, InjectedDisconnect)
    assert recorder.created == [{"name": "orphan"}]


async def test_head_requests_get_a_busy_answer_instead_of_a_drop():
    settings = FaultSettings(drop_next_before=1)
    async with in_process(Recorder().app(settings)) as client:
        response = await client.head("thing")
    assert response.status_code == 503
    assert settings.injected == {"busy": 1}


# -- over real TCP (uvicorn) -------------------------------------------------------------------------------


async def test_drop_before_over_tcp_cuts_the_connection_and_the_app_never_sees_it(caplog):
    caplog.set_level(logging.INFO)
    recorder = Recorder()
    settings = FaultSettings(drop_next_before=1)
    async with serving(recorder.app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post("thing", json={"name": "lost"})
        after = await client.get("thing")

    assert recorder.created == []
    assert after.status_code == 200
    assert server_complaints(caplog) == []


async def test_drop_after_over_tcp_leaves_an_orphan_change(caplog):
    caplog.set_level(logging.INFO)
    recorder = Recorder()
    settings = FaultSettings(drop_next_after=1)
    async with serving(recorder.app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.post("thing", json={"name": "orphan"})
        after = await client.get("thing")

    assert recorder.created == [{"name": "orphan"}]
    assert after.status_code == 200
    assert server_complaints(caplog) == []


async def test_drop_after_a_bodiless_answer_is_still_cut_short(caplog):
    caplog.set_level(logging.INFO)
    recorder = Recorder()
    settings = FaultSettings(drop_next_after=1)
    async with serving(recorder.app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            await client.delete("empty")

    assert recorder.calls["DELETE empty"] == 1
    assert server_complaints(caplog) == []


async def test_streaming_client_sees_headers_then_a_transport_error():
    settings = FaultSettings(drop_next_after=1)
    async with (
        serving(Recorder().app(settings)) as url,
        httpx.AsyncClient(base_url=url, timeout=5) as client,
        client.stream("GET", "thing") as response,
    ):
        assert response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            await response.aread()


async def test_busy_over_tcp_keeps_the_connection_usable(caplog):
    caplog.set_level(logging.INFO)
    settings = FaultSettings(fail_next=2)
    async with serving(Recorder().app(settings)) as url, httpx.AsyncClient(base_url=url, timeout=5) as client:
        statuses = [(await client.get("thing")).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert server_complaints(caplog) == []


async def test_genuine_app_errors_are_still_logged(caplog):
    caplog.set_level(logging.INFO)
    async with (
        serving(Recorder().app(FaultSettings())) as url,
        httpx.AsyncClient(base_url=url, timeout=5) as client,
    ):
        response = await client.get("boom")
    assert response.status_code == 500
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)


# -- the real simulator process -------------------------------------------------------------------------


def test_simulator_process_with_every_request_faulted(tmp_path):
    with (
        SimulatorProcess(tls=False, args=["--fault-rate", "1", "--seed", "5"]) as sim,
        sim.client() as client,
    ):
        outcomes = Counter()
        for _ in range(40):
            try:
                response = client.get("login_session", auth=("admin", "Password123#"))
            except httpx.TransportError:
                outcomes["dropped"] += 1
            else:
                assert response.status_code == 503
                assert response.json()["messages"][0]["code"] == CODE_BUSY
                outcomes["busy"] += 1
        sim.stop()

    assert outcomes["busy"] > 5
    assert outcomes["dropped"] > 5
    assert "Traceback" not in sim.stderr
    assert "Exception in ASGI application" not in sim.stderr
    assert sim.stdout.strip() == sim.listening_line


def test_simulator_process_latency(tmp_path):
    with SimulatorProcess(tls=False, args=["--latency-ms", "200"]) as sim, sim.client() as client:
        client.get("login_session")
        started = time.monotonic()
        client.get("login_session")
        assert time.monotonic() - started >= 0.2


def _login(client: httpx.Client) -> None:
    response = client.get("login_session", auth=("admin", "Password123#"))
    assert response.status_code == 200, response.text
    client.headers["DELL-EMC-TOKEN"] = response.headers["DELL-EMC-TOKEN"]


def _volumes_named(client: httpx.Client, name: str) -> list[dict]:
    response = client.get("volume", params={"name": f"eq.{name}", "select": "id,name"})
    assert response.status_code == 200, response.text
    return response.json()


def test_control_endpoint_drives_drops_in_the_real_simulator(tmp_path):
    with SimulatorProcess(cert_dir=tmp_path, args=["--control"]) as sim, sim.client() as client:
        _login(client)
        control = sim.origin + "/__control/faults"

        assert client.post(control, json={"drop_next_before": 1}).status_code == 200
        with pytest.raises(httpx.TransportError):
            client.post("volume", json={"name": "never-made", "size": 1024**3})
        assert _volumes_named(client, "never-made") == []

        assert client.post(control, json={"drop_next_after": 1}).status_code == 200
        with pytest.raises(httpx.TransportError):
            client.post("volume", json={"name": "orphan", "size": 1024**3})
        # The change happened although its caller only saw the connection drop.
        assert len(_volumes_named(client, "orphan")) == 1

        assert client.post(control, json={"fail_next": 1}).status_code == 200
        assert client.get("volume").status_code == 503
        assert client.get("volume").status_code == 200
        sim.stop()

    assert "Traceback" not in sim.stderr
