"""Query engine speed over 100,000 volume-like records (median of several runs per query).

    python benchmarks/bench_query.py [--records N] [--runs N]

The budget: a filtered, ordered page of 2000 must take well under a second. Exits 1 when the first
query (the budget case) takes a second or more.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from console.catalog import Catalog, load_catalog
from console.simulator.query import execute, parse_query

GIB = 1024**3
BUDGET_SECONDS = 1.0


def volumes(catalog: Catalog, n: int) -> list[dict]:
    rng = random.Random(7)
    plain = [name for name, f in catalog.instance_fields("volume").items() if not f.is_relation]
    rows = []
    for k in range(n):
        record = dict.fromkeys(plain)
        snapshot = k % 4 == 0
        record.update(
            id=f"{rng.getrandbits(128):032x}",
            name=f"{'Vol' if k % 2 else 'vol'}-{rng.randrange(10**6):06d}-{k}",
            description=rng.choice([None, "", "prod data", "x test y", "scratch"]),
            type="Snapshot" if snapshot else rng.choice(["Primary", "Clone"]),
            state="Ready",
            size=rng.randrange(1, 1024) * GIB,
            logical_used=rng.choice([None, rng.randrange(0, 10**12)]),
            creation_timestamp=(
                f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
                f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000+00:00"
            ),
            protection_policy_id=rng.choice([None, "p1", "p2", "p3"]),
            protection_data={"source_id": f"{k - 1}" if snapshot else None, "creator_type": "User"},
            is_replication_destination=False,
        )
        rows.append(record)
    return rows


class Resolver:
    def __init__(self) -> None:
        self.policies = {f"p{n}": {"id": f"p{n}", "name": f"Policy {4 - n}"} for n in (1, 2, 3)}

    def resolve(self, type_name: str, record: dict, field_name: str) -> dict | list[dict] | None:
        if field_name == "protection_policy":
            return self.policies.get(record.get("protection_policy_id") or "")
        return [] if field_name.endswith("s") else None


QUERIES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "filter size+ilike, order name,id, page 2000",
        [
            ("select", "id,name,size,type,creation_timestamp"),
            ("size", f"gte.{256 * GIB}"),
            ("name", "ilike.*1*"),
            ("order", "name,id"),
            ("limit", "2000"),
        ],
    ),
    (
        "no filter, order name,id, offset 50000",
        [("order", "name,id"), ("offset", "50000"), ("limit", "2000")],
    ),
    (
        "type+timestamp, order timestamp desc",
        [
            ("type", "eq.Snapshot"),
            ("creation_timestamp", "gte.2024-06-01T00:00:00.000+00:00"),
            ("order", "creation_timestamp.desc"),
            ("limit", "2000"),
        ],
    ),
    (
        "or group with regex like, order size desc,name",
        [
            ("or", "(name.ilike.vol-*4*2,description.like.x*y)"),
            ("order", "size.desc,name"),
            ("limit", "2000"),
        ],
    ),
    (
        "order through a relation, select it",
        [
            ("select", "id,name,protection_policy(name)"),
            ("order", "protection_policy.name,id"),
            ("limit", "2000"),
        ],
    ),
    ("embedded ->> filter", [("protection_data->>source_id", "eq.4095"), ("type", "eq.Snapshot")]),
]


def median_of(fn, runs: int) -> tuple[float, object]:
    timings = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings), result


def measure(
    catalog: Catalog, rows: list[dict], params: list[tuple[str, str]], runs: int
) -> tuple[float, int]:
    resolver = Resolver()

    def once() -> int:
        return execute(catalog, "volume", parse_query(catalog, "volume", params), rows, resolver).total

    seconds, total = median_of(once, runs)
    assert isinstance(total, int)
    return seconds, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    catalog = load_catalog()
    start = time.perf_counter()
    rows = volumes(catalog, args.records)
    print(f"{args.records} records built in {time.perf_counter() - start:.2f} s; median of {args.runs} runs")
    # The same machine's speed at the simplest work, to read the figures against.
    cutoff = 256 * GIB
    reference, _ = median_of(lambda: [r for r in rows if r.get("size") >= cutoff], args.runs)
    print(f"  {reference * 1000:8.1f} ms  reference: a plain Python filter over the records")
    budget_case = None
    for label, params in QUERIES:
        seconds, total = measure(catalog, rows, params, args.runs)
        budget_case = seconds if budget_case is None else budget_case
        print(f"  {seconds * 1000:8.1f} ms  {total:7d} matches  {label}")
    assert budget_case is not None
    verdict = "within" if budget_case < BUDGET_SECONDS else "OVER"
    print(f"budget case {budget_case * 1000:.1f} ms: {verdict} the {BUDGET_SECONDS:.0f} s budget")
    return 0 if budget_case < BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
