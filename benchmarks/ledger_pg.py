"""Benchmark: the PostgreSQL ledger beside the SQLite one, in one run, as ratios (PostgreSQL / SQLite).

Run: python benchmarks/ledger_pg.py [--records 2000] [--rows 20000]

Starts a throwaway cluster (tests/pgcluster.py: Unix socket, fsync off like the tests, so this compares
the code paths and the round trip, not disks). Times record() one by one (p50), record_many() in batches of
50 (the gateway writer's way; per row), spent() (a budget check) and stats() over --rows rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import pgcluster  # noqa: E402

from routesh.core.events import AttemptRecord  # noqa: E402
from routesh.usage.ledger import Ledger  # noqa: E402

T0 = time.time() - 86400 * 3


def row(i: int) -> AttemptRecord:
    return AttemptRecord(ts=T0 + i, request_id=f"r{i}", attempt=1, profile="p", route=f"route{i % 5}",
                         provider="anthropic", model="claude-sonnet-4-6", via="api", status="ok", input_tokens=1200,
                         output_tokens=300, cost_usd=0.0081, latency_ms=900.0, ttft_ms=200.0, prompt="fix the test")


def measure(led: Ledger, records: int, rows: int) -> dict[str, float]:
    led.record(row(-1))  # open and migrate first: once per process, not per attempt
    per = []
    for i in range(records):
        t = time.perf_counter()
        led.record(row(i))
        per.append(time.perf_counter() - t)
    batch = [row(records + i) for i in range(rows)]
    t = time.perf_counter()
    for k in range(0, rows, 50):
        led.record_many(batch[k:k + 50])
    many = (time.perf_counter() - t) / rows
    t = time.perf_counter()
    for _ in range(50):
        led.spent("p", T0)
    spent = (time.perf_counter() - t) / 50
    t = time.perf_counter()
    led.stats(None, "route")
    stats = time.perf_counter() - t
    return {"record p50": statistics.median(per), "record_many per row": many, "spent": spent, "stats": stats}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=20000)
    a = ap.parse_args()
    cluster = pgcluster.start()
    try:
        with tempfile.TemporaryDirectory() as tmp, Ledger(Path(tmp) / "u.db") as lite, \
                Ledger(cluster.url(cluster.fresh_db())) as pg:
            s, p = measure(lite, a.records, a.rows), measure(pg, a.records, a.rows)
    finally:
        cluster.stop()
    print(f"{'':22}{'sqlite':>12}{'postgresql':>12}{'ratio':>8}")
    for k in s:
        print(f"{k:22}{s[k] * 1e3:10.3f}ms{p[k] * 1e3:10.3f}ms{p[k] / s[k]:7.1f}x")


if __name__ == "__main__":
    main()
