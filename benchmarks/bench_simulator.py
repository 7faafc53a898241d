"""Simulator scale benchmark (run by hand; figures go to docs/simulator.md).

Starts ``python -m console.simulator --volumes N`` as a real process over TLS on loopback and reports:
- start-up time (process start to the listening line),
- a filtered, ordered page of 2000 volumes (median of several requests),
- a poll of 1000 job ids with ``id=in.(...)`` in chunks of 100 (requests and median wall time).

    python benchmarks/bench_simulator.py [--volumes 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

LINE = re.compile(r"listening on (https?://\S+/api/rest)(?: \(CA certificate: (.+)\))?")


def start(volumes: int, cert_dir: Path) -> tuple[subprocess.Popen[str], str, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "console.simulator",
            "--port",
            "0",
            "--cert-dir",
            str(cert_dir),
            "--volumes",
            str(volumes),
            "--job-seconds",
            "30",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        match = LINE.search(line)
        if match:
            return proc, match.group(1), match.group(2), time.perf_counter() - t0
    raise SystemExit("the simulator did not start")


async def timed(coro_factory, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await coro_factory()
        times.append(time.perf_counter() - t0)
    return times


async def measure(base_url: str, ca: str, repeat: int) -> None:
    async with httpx.AsyncClient(base_url=base_url, verify=ca, timeout=60) as client:
        login = await client.get("/login_session", auth=("admin", "Password123#"))
        login.raise_for_status()
        client.headers["DELL-EMC-TOKEN"] = login.headers["DELL-EMC-TOKEN"]
        total = (await client.get("/volume", params={"limit": 1})).headers["content-range"].split("/")[1]
        fresh = iter(range(1, 10**6))

        async def page(offset: int, min_size: int = 1073741824) -> None:
            response = await client.get(
                "/volume",
                params={
                    "select": "id,name,size,type,state,creation_timestamp",
                    "type": "not.eq.Snapshot",
                    "size": f"gte.{min_size}",
                    "order": "name,id",
                    "limit": 2000,
                    "offset": offset,
                },
            )
            assert response.status_code == 206, response.status_code
            assert len(response.json()) == 2000

        # A filter not seen before is filtered and sorted afresh; the following pages of the same
        # query (scrolling) reuse that work until the data changes.
        cold = await timed(lambda: page(10000, 1073741824 + next(fresh)), repeat)
        offsets = iter(range(0, 10**9, 2000))
        warm = await timed(lambda: page(next(offsets)), repeat)
        print(f"volumes in the collection: {total}")
        print(
            "filtered, ordered page of 2000: first page of a new query median "
            f"{statistics.median(cold) * 1000:.0f} ms, "
            f"following pages median {statistics.median(warm) * 1000:.0f} ms"
        )

        volumes = (await client.get("/volume", params={"select": "id", "limit": 1000})).json()
        job_ids = []
        for volume in volumes:
            response = await client.patch(f"/volume/{volume['id']}", params={"is_async": "true"}, json={})
            job_ids.append(response.json()["id"])
        requests = 0

        async def poll() -> None:
            nonlocal requests
            requests = 0
            for i in range(0, len(job_ids), 100):
                chunk = job_ids[i : i + 100]
                response = await client.get(
                    "/job",
                    params={
                        "id": f"in.({','.join(chunk)})",
                        "select": "id,phase,state,progress_percentage",
                        "limit": 2000,
                    },
                )
                requests += 1
                assert len(response.json()) == len(chunk)

        poll_times = await timed(poll, repeat)
        print(
            f"poll of {len(job_ids)} jobs: {requests} requests, "
            f"median {statistics.median(poll_times) * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as certs:
        proc, base_url, ca, startup = start(args.volumes, Path(certs))
        try:
            print(f"start-up with --volumes {args.volumes}: {startup:.2f} s")
            asyncio.run(measure(base_url, ca, args.repeat))
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
