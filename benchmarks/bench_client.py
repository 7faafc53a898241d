"""Client benchmark (run by hand; the figures go to docs/client.md).

Starts the simulator as a real process over TLS on loopback with N volumes and reports, as medians
of several runs, the requests (counted by the simulator) and wall time to:

- walk every volume (``id,name``) with ``PowerStoreClient.iterate`` and with Dell's PyPowerStore
  (``get_volumes(all_pages=True)``: first page of 100, then ``Range`` pages);
- fetch the state of 1000 jobs with ``PowerStoreClient.jobs`` (``id=in.(…)`` batches over one
  kept-alive connection) and the way a PyPowerStore script does it (``get_job_details`` per job,
  each request on a new TLS connection; PyPowerStore also probes the array version before each),
  plus the same one-GET-per-job pattern without the probe (``requests``, one login);

and the ratios between the two ways. Each run includes its own login (and logout for ours).

    python benchmarks/bench_client.py [--volumes 100000] [--jobs 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.api import PowerStoreClient
from tests.simulator.process import SimulatorProcess

USER, PASSWORD = "admin", "Password123#"


def request_count(sim: SimulatorProcess) -> int:
    response = httpx.get(f"{sim.origin}/__control/stats", verify=sim.ssl_context(), timeout=30)
    response.raise_for_status()
    return sum(response.json()["requests"].values())


def measure(sim: SimulatorProcess, work: Callable[[], int]) -> tuple[int, float, int]:
    """(requests, seconds, items) of one run of ``work`` (which returns how many items it got)."""
    before = request_count(sim)
    started = time.perf_counter()
    items = work()
    elapsed = time.perf_counter() - started
    return request_count(sim) - before, elapsed, items


def client_for(sim: SimulatorProcess) -> PowerStoreClient:
    return PowerStoreClient(sim.base_url, USER, PASSWORD, verify=str(sim.ca_path), timeout=300)


def console_walk(sim: SimulatorProcess) -> int:
    async def walk() -> int:
        async with client_for(sim) as client:
            return len({v["id"] async for v in client.iterate("volume", select="id,name")})

    return asyncio.run(walk())


def console_jobs(sim: SimulatorProcess, ids: list[str]) -> int:
    async def poll() -> int:
        async with client_for(sim) as client:
            return sum(1 for job in await client.jobs(ids) if job.get("phase"))

    return asyncio.run(poll())


def pypowerstore(sim: SimulatorProcess) -> Any:
    from PyPowerStore import powerstore_conn

    return powerstore_conn.PowerStoreConn(
        USER, PASSWORD, "127.0.0.1", verify=str(sim.ca_path), port_no=sim.port, timeout=300
    )


def sdk_walk(sim: SimulatorProcess) -> int:
    volumes = pypowerstore(sim).provisioning.get_volumes(all_pages=True)
    return len({v["id"] for v in volumes})


def sdk_jobs(sim: SimulatorProcess, ids: list[str]) -> int:
    conn = pypowerstore(sim)
    return sum(1 for job_id in ids if conn.provisioning.get_job_details(job_id).get("id"))


def plain_jobs(sim: SimulatorProcess, ids: list[str]) -> int:
    """One GET per job on a new TLS connection each, after one login: the SDK's way minus its probes."""
    import requests

    login = requests.get(
        f"{sim.base_url}/login_session", auth=(USER, PASSWORD), verify=str(sim.ca_path), timeout=300
    )
    headers = {"Cookie": f"auth_cookie={login.cookies['auth_cookie']}", "Accept": "application/json"}
    found = 0
    for job_id in ids:
        response = requests.get(
            f"{sim.base_url}/job/{job_id}",
            params={"select": "id,phase,state,progress_percentage,response_body"},
            headers=headers,
            verify=str(sim.ca_path),
            timeout=300,
        )
        found += response.status_code == 200
    return found


def make_jobs(sim: SimulatorProcess, count: int) -> list[str]:
    async def submit() -> list[str]:
        async with client_for(sim) as client:
            volumes = (await client.query("volume", select="id", limit=2000)).items
            return list(
                await asyncio.gather(
                    *(
                        client.submit(
                            "PATCH", f"volume/{volumes[n % len(volumes)]['id']}", {"description": f"b{n}"}
                        )
                        for n in range(count)
                    )
                )
            )

    return asyncio.run(submit())


def report(name: str, runs: list[tuple[int, float, int]]) -> tuple[float, float]:
    requests = statistics.median(r[0] for r in runs)
    seconds = statistics.median(r[1] for r in runs)
    items = statistics.median(r[2] for r in runs)
    print(f"| {name} | {requests:.0f} | {seconds:.2f} s | {items:.0f} |", flush=True)
    return requests, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--volumes", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as certs:
        simulator = SimulatorProcess(
            cert_dir=Path(certs),
            args=["--control", "--volumes", str(args.volumes), "--job-seconds", "3600"],
            startup_timeout=300,
        )
        with simulator as sim:
            print(f"simulator with {args.volumes} volumes at {sim.base_url}; creating {args.jobs} jobs…")
            ids = make_jobs(sim, args.jobs)
            print("\n| work | requests | wall time | items |\n|---|---|---|---|")
            ours_walk = report(
                "walk volumes, PowerStoreClient.iterate",
                [measure(sim, lambda: console_walk(sim)) for _ in range(args.repeat)],
            )
            sdk_walk_ = report(
                "walk volumes, PyPowerStore get_volumes(all_pages=True)",
                [measure(sim, lambda: sdk_walk(sim)) for _ in range(args.repeat)],
            )
            ours_jobs = report(
                f"state of {args.jobs} jobs, PowerStoreClient.jobs",
                [measure(sim, lambda: console_jobs(sim, ids)) for _ in range(args.repeat)],
            )
            sdk_jobs_ = report(
                f"state of {args.jobs} jobs, PyPowerStore get_job_details per job",
                [measure(sim, lambda: sdk_jobs(sim, ids)) for _ in range(args.repeat)],
            )
            plain_jobs_ = report(
                f"state of {args.jobs} jobs, one GET per job, new TLS connection each (requests)",
                [measure(sim, lambda: plain_jobs(sim, ids)) for _ in range(args.repeat)],
            )
            print("\n| ratio (other way / PowerStoreClient) | requests | wall time |\n|---|---|---|")
            for name, ours, theirs in (
                ("walk volumes: PyPowerStore", ours_walk, sdk_walk_),
                ("job states: PyPowerStore", ours_jobs, sdk_jobs_),
                ("job states: one GET per job, new connection each", ours_jobs, plain_jobs_),
            ):
                print(f"| {name} | {theirs[0] / ours[0]:.1f}x | {theirs[1] / ours[1]:.1f}x |")


if __name__ == "__main__":
    main()
