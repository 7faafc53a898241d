"""Shared pieces of the job engine tests: the simulator's control endpoint, clients, child processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from console.api import F, PowerStoreClient
from console.jobs import Event, JobAdded, JobChanged, JobFinished, JobTracker, Journal, PollPolicy
from tests.simulator.process import REPO_ROOT, SimulatorProcess

ADMIN = ("admin", "Password123#")
CHILD = Path(__file__).with_name("console_child.py")
QUIET = {"fault_rate": 0.0, "latency_ms": 0.0, "fail_next": 0, "drop_next_before": 0, "drop_next_after": 0}
# Quick looks and short waits, so that tests run in seconds; the logic is the same as the defaults.
FAST = PollPolicy(
    min_interval=0.1,
    max_interval=1.0,
    backoff_initial=0.2,
    backoff_max=1.0,
    login_retry=1.0,
    orphan_settle=0.2,
    stall_after=60.0,
)
VOLUME_SIZE = 8 << 30


class Control:
    """The simulator's test-only control endpoint."""

    def __init__(self, sim: SimulatorProcess) -> None:
        self.sim = sim

    async def call(self, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
        async with httpx.AsyncClient(verify=self.sim.ssl_context(), timeout=10) as http:
            response = await http.request(method, f"{self.sim.origin}/__control/{name}", json=body)
        response.raise_for_status()
        return response.json()

    async def stats(self) -> dict[str, Any]:
        return await self.call("GET", "stats")

    async def requests(self, key: str) -> int:
        return (await self.stats())["requests"].get(key, 0)

    async def reset(self) -> None:
        await self.call("POST", "reset")
        await self.faults(**QUIET)
        await self.config(idle_timeout=3600)

    async def faults(self, **knobs: Any) -> dict[str, Any]:
        return await self.call("POST", "faults", knobs)

    async def config(self, **settings: Any) -> dict[str, Any]:
        return await self.call("POST", "config", settings)

    async def expire_sessions(self) -> int:
        return (await self.call("POST", "expire_sessions"))["expired"]

    async def advance_clock(self, seconds: float) -> None:
        await self.call("POST", "clock", {"advance": seconds})


def client_for(sim: SimulatorProcess, **options: Any) -> PowerStoreClient:
    options.setdefault("verify", str(sim.ca_path))
    options.setdefault("backoff", 0.05)
    options.setdefault("timeout", 10.0)
    return PowerStoreClient(sim.base_url, *ADMIN, **options)


@contextlib.asynccontextmanager
async def running(
    journal_path: Path, arrays: dict[str, PowerStoreClient], policy: PollPolicy = FAST
) -> AsyncIterator[JobTracker]:
    """A journal and a started tracker following ``arrays``; both closed at the end."""
    async with Journal(journal_path) as journal:
        tracker = JobTracker(journal, policy=policy)
        for name, client in arrays.items():
            tracker.add_array(name, client)
        async with tracker:
            yield tracker


async def until(tracker: JobTracker, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, checking again after each event of the tracker."""
    async with tracker.events() as events, asyncio.timeout(timeout):
        while not condition():
            await events.get()


class Recorder:
    """Every event a tracker emits, for assertions."""

    def __init__(self, tracker: JobTracker) -> None:
        self.events: list[Event] = []
        self.subscription = tracker.subscribe(self.events.append)

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def per_key(self, kind: type[JobAdded | JobChanged | JobFinished]) -> Counter[int]:
        return Counter(e.job.key for e in self.of(kind))


async def jobs_on_array(client: PowerStoreClient, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Volume-create jobs on the array per volume name (to prove nothing ran twice or went missing)."""
    wanted = set(names)
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}
    where = (F("resource_type") == "volume") & (F("resource_action") == "create")
    async for job in client.iterate("job", select="id,resource_name,phase,parent_id", where=where):
        if job.get("resource_name") in wanted and job.get("parent_id") in (None, job["id"]):
            found[job["resource_name"]].append(job)
    return found


async def volume_names(client: PowerStoreClient, prefix: str) -> set[str]:
    where = F("name").ilike(f"{prefix}*")
    return {v["name"] async for v in client.iterate("volume", select="id,name", where=where)}


def child(*args: str) -> subprocess.Popen[str]:
    """Start ``console_child.py`` (a small console using the engine) as a real process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, str(CHILD), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def read_until(process: subprocess.Popen[str], predicate: Any, timeout: float = 30.0) -> list[str]:
    """Lines of the child's output until ``predicate(line)`` holds (read off the event loop)."""
    assert process.stdout is not None
    stream = process.stdout
    lines: list[str] = []

    def read() -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))
            if predicate(lines[-1]):
                return
        raise AssertionError(f"the child ended early: {lines[-5:]}\n{_stderr(process)}")

    await asyncio.wait_for(asyncio.to_thread(read), timeout)
    return lines


def kill9(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait(10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None or process.stderr is None:
        return ""
    return process.stderr.read()
