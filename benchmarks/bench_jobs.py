"""Job engine benchmark (run by hand; the figures go to docs/jobs.md).

Starts the simulator as a real process over TLS on loopback, puts N jobs in flight (volume
creates, each lasting about ``--job-seconds``), and follows them to the end twice:

- with ``JobTracker`` (batched ``id=in.(…)`` polling, adaptive per-job intervals, journal on);
- the way scripts on Dell's SDKs do it: every outstanding job on its own ``GET /job/{id}``, all
  of them every ``--sdk-interval`` seconds (same client and kept-alive connections, so the
  comparison isolates the polling pattern, not connection reuse).

The tracker that submitted the jobs is closed and a new one resumes them from the journal (as after
a console restart), so its first tick asks for all N jobs at once. For each way the benchmark
reports, over the ticks (rounds) after all N jobs were submitted: HTTP requests per
tick against the target ceil(N/100)+1, console CPU time per tick (process-wide, journal writer
thread included), and the delay between a job's ``end_time`` on the array and the moment it was
reported finished (median and 95th percentile; the simulator moves jobs along every 0.05-0.1 s,
which is part of the delay). For the tracker also: event-loop time per tick handing changes to
the journal, and the writer thread's commit times. Then a journal micro-benchmark: 1000 changed
jobs handed over in one tick, and committed.

    python benchmarks/bench_jobs.py [--jobs 1000] [--job-seconds 40] [--sdk-interval 1]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.api import PowerStoreClient
from console.jobs import Job, JobFinished, JobTracker, Journal, Status, TickReport
from console.jobs.model import TERMINAL_PHASES, normalise_phase, parse_time
from tests.simulator.process import SimulatorProcess

USER, PASSWORD = "admin", "Password123#"
SIZE = 8 << 30


class LagProbe:
    """Measures the event loop's largest stall (how late a 10 ms timer fires, at worst) and the
    longest garbage collection meanwhile."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_gc = 0.0
        self._gc_started = 0.0
        self._task: asyncio.Task[None] | None = None

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.worst_gc = max(self.worst_gc, time.perf_counter() - self._gc_started)

    async def _run(self) -> None:
        while True:
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.perf_counter() - due)

    async def __aenter__(self) -> LagProbe:
        gc.callbacks.append(self._gc)
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._gc)
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class CountingTransport(httpx.AsyncBaseTransport):
    """The network, counting ``GET …/job`` requests (the polls)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.job_gets = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET" and "/api/rest/job" in request.url.path:
            self.job_gets += 1
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def client_for(sim: SimulatorProcess) -> tuple[PowerStoreClient, CountingTransport]:
    counting = CountingTransport(
        httpx.AsyncHTTPTransport(verify=sim.ssl_context(), limits=httpx.Limits(max_connections=20))
    )
    client = PowerStoreClient(sim.base_url, USER, PASSWORD, transport=counting, timeout=120)
    return client, counting


def control(sim: SimulatorProcess, name: str, body: dict[str, Any]) -> None:
    httpx.post(f"{sim.origin}/__control/{name}", json=body, verify=sim.ssl_context(), timeout=30)


@dataclass
class Tick:
    in_flight: int
    requests: int
    cpu: float
    journal: float = 0.0


@dataclass
class Run:
    name: str
    jobs: int
    seconds: float = 0.0
    ticks: list[Tick] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)
    intervals: list[float] = field(default_factory=list)
    running_intervals: list[float] = field(default_factory=list)
    loop_lag: float = 0.0
    gc_pause: float = 0.0
    commits: list[tuple[int, float]] = field(default_factory=list)


async def submit_all(client: PowerStoreClient, names: Sequence[str], tracker: JobTracker | None) -> list[Any]:
    slots = asyncio.Semaphore(20)

    async def one(name: str) -> Any:
        async with slots:
            body = {"name": name, "size": SIZE}
            if tracker is not None:
                return await tracker.submit("sim", "POST", "volume", body)
            return await client.submit("POST", "volume", body)

    return await asyncio.gather(*(one(n) for n in names))


async def run_tracker(sim: SimulatorProcess, n: int, work: Path) -> Run:
    run = Run("JobTracker (batched)", n)
    client, counting = client_for(sim)
    measuring = False
    last_interval: dict[int, float] = {}
    tracker: JobTracker

    def on_tick(report: TickReport) -> None:
        nonlocal last_requests
        requests = counting.job_gets - last_requests
        last_requests = counting.job_gets
        if measuring:
            open_jobs = tracker.jobs(open_only=True)
            in_flight = len(open_jobs) + report.finished
            run.ticks.append(Tick(in_flight, requests, report.cpu, report.journal_seconds))
            for job in open_jobs:
                interval = tracker.poll_interval(job.key)
                if interval is not None:
                    last_interval[job.key] = interval
                    run.running_intervals.append(interval)

    def on_event(event: Any) -> None:
        if measuring and isinstance(event, JobFinished):
            end = parse_time(event.job.record.get("end_time"))
            if end is not None:
                run.delays.append(time.time() - end)
                if event.job.key in last_interval:
                    run.intervals.append(last_interval[event.job.key])

    last_requests = 0
    async with client, Journal(work / "bench-jobs.sqlite3") as journal:
        submitting = JobTracker(journal)
        submitting.add_array("sim", client)
        async with submitting:
            jobs = await submit_all(client, [f"bench-t-{i:05d}" for i in range(n)], submitting)
        # The console restarts: a new tracker resumes every job in flight from the journal, and its
        # first tick asks for all of them at once (the worst case for requests per tick).
        tracker = JobTracker(journal, on_tick=on_tick)
        tracker.add_array("sim", client)
        tracker.subscribe(on_event)
        last_requests = counting.job_gets
        measuring = True
        started = time.perf_counter()
        async with tracker, LagProbe() as lag:
            await tracker.wait_all(j.key for j in jobs)
        run.seconds = time.perf_counter() - started
        run.loop_lag = lag.worst
        run.gc_pause = lag.worst_gc
        measuring = False
        run.commits = [(c.rows, c.seconds) for c in journal.commits if c.rows]
    return run


async def run_sdk_style(sim: SimulatorProcess, n: int, interval: float) -> Run:
    run = Run(f"one GET per job every {interval:g} s", n)
    client, counting = client_for(sim)
    async with client:
        ids = await submit_all(client, [f"bench-s-{i:05d}" for i in range(n)], None)
        outstanding = set(ids)
        started = time.perf_counter()
        async with LagProbe() as lag:
            await sdk_rounds(client, counting, outstanding, interval, run)
        run.seconds = time.perf_counter() - started
        run.loop_lag = lag.worst
        run.gc_pause = lag.worst_gc
    return run


async def sdk_rounds(
    client: PowerStoreClient, counting: CountingTransport, outstanding: set[str], interval: float, run: Run
) -> None:
    """Every outstanding job on its own GET, all of them every ``interval`` seconds."""
    while outstanding:
        round_started = time.perf_counter()
        cpu, before = time.process_time(), counting.job_gets
        in_flight = len(outstanding)
        answers = await asyncio.gather(
            *(client.get("job", job_id, select="id,phase,state,end_time") for job_id in outstanding)
        )
        now = time.time()
        for job in answers:
            if normalise_phase(job) in TERMINAL_PHASES:
                outstanding.discard(job["id"])
                end = parse_time(job.get("end_time"))
                if end is not None:
                    run.delays.append(now - end)
                    run.intervals.append(interval)
        run.ticks.append(Tick(in_flight, counting.job_gets - before, time.process_time() - cpu))
        await asyncio.sleep(max(0.0, interval - (time.perf_counter() - round_started)))


async def journal_micro(work: Path, n: int) -> dict[str, float]:
    """Hand one tick of ``n`` changed jobs to the journal, then wait for the commit."""
    handoff: list[float] = []
    commit: list[float] = []
    async with Journal(work / "micro.sqlite3") as journal:
        now = time.time()
        jobs = [
            await journal.add(Job(key=0, array="sim", status=Status.TRACKING, job_id=f"j{i}", created=now))
            for i in range(n)
        ]
        for round_ in range(10):
            record = {
                "id": "x",
                "phase": "In_Progress",
                "state": "IN_PROGRESS",
                "progress_percentage": round_ * 10,
                "description_l10n": "Create volume bench-00001",
                "start_time": "2026-01-01T00:00:00.000+00:00",
                "estimated_completion_time": "2026-01-01T00:00:20.000+00:00",
                "response_body": None,
            }
            batch = [
                (replace(job, record=record, updated=time.time()), {"progress_percentage": round_ * 10})
                for job in jobs
            ]
            started = time.perf_counter()
            journal.record(batch)
            handoff.append(time.perf_counter() - started)
            await journal.flush()
            commit.append(time.perf_counter() - started)
    return {"handoff_ms": statistics.median(handoff) * 1000, "commit_ms": statistics.median(commit) * 1000}


def summary(run: Run) -> dict[str, float]:
    ticks = [t for t in run.ticks if t.in_flight > 0]
    excess = [t.requests - math.ceil(t.in_flight / 100) for t in ticks]
    delays = sorted(run.delays)
    return {
        "ticks": len(ticks),
        "requests": sum(t.requests for t in ticks),
        "req_per_tick": statistics.mean(t.requests for t in ticks),
        "req_max_excess": max(excess),
        "req_first_tick": ticks[0].requests,
        "in_flight_first_tick": ticks[0].in_flight,
        "req_at_full": max((t.requests for t in ticks if t.in_flight >= run.jobs * 0.9), default=0),
        "cpu_ms_per_tick": statistics.mean(t.cpu for t in ticks) * 1000,
        "cpu_s_total": sum(t.cpu for t in ticks),
        "journal_ms_per_tick": statistics.mean(t.journal for t in ticks) * 1000,
        "journal_ms_max": max(t.journal for t in ticks) * 1000,
        "delay_median": statistics.median(delays),
        "delay_p95": delays[int(len(delays) * 0.95) - 1],
        "interval_median": statistics.median(run.intervals) if run.intervals else float("nan"),
        "running_interval": statistics.median(run.running_intervals or run.intervals),
        "loop_lag_ms": run.loop_lag * 1000,
        "gc_pause_ms": run.gc_pause * 1000,
        "reported": len(delays),
        "seconds": run.seconds,
    }


def report(tracked: Run, sdk: Run, micro: dict[str, float], n: int) -> None:
    a, b = summary(tracked), summary(sdk)
    print(f"\n{n} jobs in flight; target requests per tick <= ceil(N/100)+1 = {math.ceil(n / 100) + 1}\n")
    rows = [
        ("ticks (rounds) measured", "ticks", "{:.0f}"),
        ("job requests, total", "requests", "{:.0f}"),
        ("requests per tick, mean", "req_per_tick", "{:.1f}"),
        ("jobs asked for in the first tick", "in_flight_first_tick", "{:.0f}"),
        ("requests in the first tick", "req_first_tick", "{:.0f}"),
        ("requests per tick with >=90% of N in flight, max", "req_at_full", "{:.0f}"),
        ("requests above ceil(N/100), worst tick", "req_max_excess", "{:.0f}"),
        ("CPU per tick, mean (ms)", "cpu_ms_per_tick", "{:.1f}"),
        ("CPU total while following (s)", "cpu_s_total", "{:.2f}"),
        ("finish -> reported, median (s)", "delay_median", "{:.2f}"),
        ("finish -> reported, p95 (s)", "delay_p95", "{:.2f}"),
        ("poll interval while running, median (s)", "running_interval", "{:.2f}"),
        ("poll interval of the look before the finish, median (s)", "interval_median", "{:.2f}"),
        ("largest event-loop stall (ms)", "loop_lag_ms", "{:.0f}"),
        ("longest garbage collection meanwhile (ms)", "gc_pause_ms", "{:.0f}"),
        ("jobs reported finished", "reported", "{:.0f}"),
        ("wall time from last submit to last finish (s)", "seconds", "{:.1f}"),
    ]
    print(f"| | {tracked.name} | {sdk.name} | ratio |")
    print("|---|---:|---:|---:|")
    for label, key, fmt in rows:
        ratio = b[key] / a[key] if a[key] else float("nan")
        print(f"| {label} | {fmt.format(a[key])} | {fmt.format(b[key])} | {ratio:.1f}x |")
    print(
        f"\nloop time handing a tick's changes to the journal: mean {a['journal_ms_per_tick']:.3f} ms, "
        f"max {a['journal_ms_max']:.3f} ms"
    )
    big = [s for rows, s in tracked.commits if rows >= 100]
    if big:
        print(
            f"writer-thread commits of >=100 rows: {len(big)}, median {statistics.median(big) * 1000:.1f} ms"
        )
    print(
        f"journal, 1000 changed jobs in one tick: hand-off {micro['handoff_ms']:.3f} ms on the loop, "
        f"committed after {micro['commit_ms']:.1f} ms (writer thread)"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=40.0)
    parser.add_argument("--sdk-interval", type=float, default=1.0)
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() once the catalog is loaded, as an app could"
    )
    args = parser.parse_args(argv)
    if args.gc_freeze:
        from console.catalog import load_catalog

        load_catalog()
        gc.collect()
        gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flags = ["--control", "--job-seconds", str(args.job_seconds), "--volumes", "20"]
        with SimulatorProcess(cert_dir=work / "certs", args=flags) as sim:
            tracked = asyncio.run(run_tracker(sim, args.jobs, work))
            control(sim, "reset", {})
            sdk = asyncio.run(run_sdk_style(sim, args.jobs, args.sdk_interval))
        micro = asyncio.run(journal_micro(work, 1000))
    report(tracked, sdk, micro, args.jobs)


if __name__ == "__main__":
    main()
