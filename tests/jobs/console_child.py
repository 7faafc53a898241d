"""A small console-side process using the job engine, for crash tests (run by the tests, killed by them).

console_child.py engine JOURNAL BASE_URL CA COUNT PREFIX JOB_CONCURRENCY
    submit COUNT volume creates through a JobTracker, printing "sent <key> <name>" as each
    answer arrives; then keep following them until killed.
console_child.py writer JOURNAL ENTRIES
    rewrite ENTRIES journal entries in one batch per round as fast as possible, printing
    "round <n>" after each committed round.
console_child.py hold JOURNAL
    open the journal, print "open", and wait; exit 3 with the refusal on stderr if it is in use.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

from console.api import PowerStoreClient
from console.jobs import JobTracker, Journal, JournalInUse, PollPolicy, Status
from console.jobs.model import Job

POLICY = PollPolicy(min_interval=0.1, max_interval=0.5, orphan_settle=0.2)


async def engine(journal: Path, base_url: str, ca: str, count: int, prefix: str, concurrency: int) -> None:
    async with (
        PowerStoreClient(base_url, "admin", "Password123#", verify=ca, backoff=0.05) as client,
        Journal(journal) as store,
    ):
        tracker = JobTracker(store, policy=POLICY)
        tracker.add_array("lab", client)
        async with tracker:
            slots = asyncio.Semaphore(concurrency)

            async def one(index: int) -> None:
                name = f"{prefix}{index:03d}"
                async with slots:
                    job = await tracker.submit("lab", "POST", "volume", {"name": name, "size": 8 << 30})
                print(f"sent {job.key} {name}", flush=True)

            await asyncio.gather(*(one(i) for i in range(count)))
            print("all sent", flush=True)
            await asyncio.Event().wait()


async def writer(journal: Path, entries: int) -> None:
    async with Journal(journal) as store:
        now = time.time()
        jobs = [
            await store.add(Job(key=0, array="lab", status=Status.TRACKING, job_id=f"job-{i}", created=now))
            for i in range(entries)
        ]
        round_ = 0
        while True:
            round_ += 1
            record = {"phase": "In_Progress", "progress_percentage": round_ % 100, "round": round_}
            batch = [(replace(j, record=record, updated=time.time()), {"round": round_}) for j in jobs]
            store.record(batch)
            await store.flush()
            print(f"round {round_}", flush=True)


async def hold(journal: Path) -> int:
    try:
        async with Journal(journal):
            print("open", flush=True)
            await asyncio.Event().wait()
    except JournalInUse as refusal:
        print(str(refusal), file=sys.stderr, flush=True)
        return 3
    return 0


def main(argv: list[str]) -> int:
    mode, journal = argv[0], Path(argv[1])
    if mode == "engine":
        base_url, ca, count, prefix, concurrency = argv[2], argv[3], int(argv[4]), argv[5], int(argv[6])
        asyncio.run(engine(journal, base_url, ca, count, prefix, concurrency))
    elif mode == "writer":
        asyncio.run(writer(journal, int(argv[2])))
    elif mode == "hold":
        return asyncio.run(hold(journal))
    else:
        raise SystemExit(f"unknown mode {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
