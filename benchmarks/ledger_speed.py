"""Benchmark: recording an attempt must add < 1 ms to a request; `routesh stats` (and `stats --outcomes`) over
100,000 rows must answer in < 1 s.

Run: python benchmarks/ledger_speed.py [--records 5000] [--rows 100000]

record(): N typical attempts are written one by one into a fresh WAL ledger in a temp dir
and timed per call (mean, p50, p99, max), next to two baselines: appending the record to a
Python list (the floor for "remember it at all") and a bare sqlite3 INSERT with the same
pragmas, no routesh. The first record of a process (open, pragmas, migrations) is timed
apart because it happens once per process, not per attempt.

stats: 100,000 rows over 30 days, 5 routes, 3 models, 10% errors, 1% routing misses are
bulk-loaded; then Ledger.stats() is timed in-process, and the whole `routesh stats` command
(interpreter start, imports, query, aggregation, rich rendering) is timed as a subprocess.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routesh.core.events import AttemptRecord  # noqa: E402
from routesh.usage.ledger import _INSERT, COLUMNS, Ledger  # noqa: E402

RECORD_BUDGET_US = 1000.0
STATS_BUDGET_S = 1.0


def typical(i: int) -> AttemptRecord:
    """An attempt as dispatch writes it: tokens, cost, timings, rule, prompt hash, no prompt text."""
    return AttemptRecord(
        ts=time.time(), request_id=f"01J{i:012d}", attempt=1, profile="work-approved", route="architect",
        provider="anthropic", model="claude-opus-4-7", via="api", status="ok", input_tokens=1234, output_tokens=567,
        cache_read_tokens=8000, cache_write_tokens=0, cost_usd=0.0245, latency_ms=2345.6, ttft_ms=412.3,
        rule="prefix /architect", prompt_sha256="ab" * 32, prompt_chars=4321, tag="review",
    )  # fmt: skip


def per_call_us(fn, items) -> list[float]:  # type: ignore[no-untyped-def]
    """Time fn(item) for each item, in microseconds."""
    out = []
    clock = time.perf_counter_ns
    for item in items:
        t = clock()
        fn(item)
        out.append((clock() - t) / 1000)
    return out


def summary(us: list[float]) -> str:
    """mean / p50 / p99 / max in µs."""
    s = sorted(us)
    p99 = s[min(len(s) - 1, int(len(s) * 0.99))]
    return f"mean {statistics.fmean(s):7.1f} µs  p50 {s[len(s) // 2]:7.1f}  p99 {p99:7.1f}  max {s[-1]:8.1f}"


def bench_record(tmp: Path, n: int) -> bool:
    """record() per call against the two baselines."""
    recs = [typical(i) for i in range(n)]

    t = time.perf_counter()
    cold = Ledger(tmp / "cold" / "usage.db")
    cold.record(recs[0])
    first_new_ms = (time.perf_counter() - t) * 1000
    cold.close()
    t = time.perf_counter()
    warm = Ledger(tmp / "cold" / "usage.db")
    warm.record(recs[0])
    first_existing_ms = (time.perf_counter() - t) * 1000
    warm.close()

    store: list[AttemptRecord] = []
    base_list = per_call_us(store.append, recs)

    bare = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    bare.execute("PRAGMA journal_mode = WAL")
    bare.execute("PRAGMA synchronous = NORMAL")
    bare.execute(f"CREATE TABLE attempts (id INTEGER PRIMARY KEY, {', '.join(COLUMNS)}, extra)")
    bare.execute("CREATE INDEX a_ts ON attempts(ts)")
    bare.execute("CREATE INDEX a_pts ON attempts(profile, ts, cost_usd)")
    bare.execute("CREATE INDEX a_req ON attempts(request_id)")
    sql = f"INSERT INTO attempts ({', '.join(COLUMNS)}, extra) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
    rows = [(*(getattr(r, c) for c in COLUMNS), None) for r in recs]
    base_sqlite = per_call_us(lambda row: bare.execute(sql, row), rows)
    bare.close()

    led = Ledger(tmp / "routesh" / "usage.db")
    led.record(recs[0])  # open and migrate outside the timing: once per process
    ours = per_call_us(led.record, recs)
    assert led.ok, led.last_error
    led.close()

    mean = statistics.fmean(ours)
    print(f"record(), {n} attempts, one per call (WAL, synchronous=NORMAL, persistent connection)")
    print(f"  Ledger.record      {summary(ours)}")
    print(f"  bare sqlite INSERT {summary(base_sqlite)}")
    print(f"  list.append        {summary(base_list)}")
    print(f"  ratio to bare sqlite insert: {mean / statistics.fmean(base_sqlite):.2f}x;"
          f" to list.append: {mean / statistics.fmean(base_list):.0f}x")  # fmt: skip
    print(f"  first record of a process: {first_new_ms:.1f} ms on a new file (create + migrate),"
          f" {first_existing_ms:.1f} ms on an existing one")  # fmt: skip
    ok = mean < RECORD_BUDGET_US
    print(f"  budget < {RECORD_BUDGET_US:.0f} µs per attempt: {'PASS' if ok else 'FAIL'} ({mean:.0f} µs)")
    return ok


def load_rows(db: Path, n: int) -> None:
    """n rows over the last 30 days, bulk-inserted (the write path is benchmarked above)."""
    rnd = random.Random(1)
    now = time.time()
    routes = ["default", "quick", "debug", "architect", "large-context"]
    models = ["claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7"]
    with Ledger(db) as led:
        led.count()  # create and migrate
        conn = led._connect()
        rows = []
        sketches = [rnd.getrandbits(64) - 2**63 for _ in range(200)]  # repeats among them make re-asks
        for i in range(n):
            status = "ok" if rnd.random() < 0.9 else rnd.choice(["error", "partial", "refused", "cancelled"])
            first = i % 2 == 0  # the outcome signals sit on a request's first row (migration 4)
            calls = rnd.randint(0, 3) if first else None
            turn = int(rnd.random() < 0.2) if first else None
            cost = rnd.random() * 0.2
            rows.append((
                now - rnd.random() * 30 * 86400, f"req{i // 2:08d}", i % 2 + 1, rnd.choice(["personal", "work"]),
                rnd.choice(routes), "anthropic", rnd.choice(models), "api", status, rnd.randint(100, 50_000),
                rnd.randint(10, 4000), rnd.randint(0, 20_000), 0, cost, rnd.uniform(300, 30_000),
                rnd.uniform(100, 3000), None, None, "ab" * 32, 1000, None, None, f"sess{i // 40:06d}", None,
                cost * rnd.uniform(0.5, 3), calls, rnd.randint(0, calls) if calls else calls,
                rnd.randint(0, 1) if first else None, 0 if first else None,
                ("Bash=1,Read=2" if calls else None), turn, rnd.choice(sketches) if turn else None, None,
            ))  # fmt: skip
        conn.execute("BEGIN")
        conn.executemany(_INSERT, rows)
        conn.execute(
            "INSERT INTO misses (request_id, ts, note) "
            "SELECT DISTINCT request_id, ts, NULL FROM attempts WHERE id % 100 = 0"
        )
        conn.execute("COMMIT")


_E2E = """
import sys, time
t0 = time.perf_counter()
from io import StringIO
from rich.console import Console
from routesh.core.catalog import Catalog
from routesh.usage.ledger import Ledger
from routesh.usage.charts import render_stats
c = Catalog()
rep = Ledger(sys.argv[1]).stats(None, sys.argv[2], input_price=lambda m: (c.get(m).input if c.get(m) else None))
render_stats(rep, Console(file=StringIO(), width=100))
print(f"{time.perf_counter() - t0:.3f}")
"""


def bench_stats(tmp: Path, n: int) -> bool:
    """Ledger.stats in-process, and the whole command as a subprocess."""
    data_home = tmp / "xdg"
    db = data_home / "routesh" / "usage.db"
    t = time.perf_counter()
    load_rows(db, n)
    print(f"\nstats over {n:,} rows (loaded in {time.perf_counter() - t:.1f} s)")
    ok = True
    with Ledger(db) as led:
        for by in ("route", "day", "model"):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                rep = led.stats(None, by, input_price={"claude-opus-4-7": 5.0, "claude-sonnet-4-6": 3.0}.get)
                times.append(time.perf_counter() - t)
            assert rep.total.attempts == n
            print(f"  Ledger.stats(by={by:5})  best {min(times) * 1000:6.0f} ms  worst {max(times) * 1000:6.0f} ms")
    for by in ("route", "day"):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", _E2E, str(db), by], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t
        ok &= wall < STATS_BUDGET_S
        print(
            f"  python: imports + stats + render (by {by}): {wall * 1000:6.0f} ms wall"
            f" ({float(out.stdout) * 1000:.0f} ms after start)"
        )
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "XDG_CONFIG_HOME": str(tmp / "cfg"), "HOME": str(tmp)}
    cmd = [sys.executable, "-m", "routesh", "stats", "--since", "60d"]
    t = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if run.returncode == 0 and f"{n // 2:,} requests" in run.stdout:
        ok &= wall < STATS_BUDGET_S
        print(f"  `routesh stats --since 60d` end to end: {wall * 1000:6.0f} ms wall")
    else:
        print(
            f"  `routesh stats` CLI not measured (exit {run.returncode}): {(run.stderr or run.stdout)[-300:].strip()}"
        )
    print(f"  budget < {STATS_BUDGET_S:.0f} s for the whole command: {'PASS' if ok else 'FAIL'}")
    return ok


_OUTCOMES_E2E = """
import sys, time
t0 = time.perf_counter()
from routesh.usage.ledger import Ledger
from routesh.usage.outcomes import outcomes_report
rep = outcomes_report(Ledger(sys.argv[1]), since_ts=None, until_ts=None)
print(f"{time.perf_counter() - t0:.3f} {rep['total']['requests']}")
"""


def bench_outcomes(tmp: Path, n: int) -> bool:
    """`stats --outcomes` over the rows bench_stats loaded: in-process, then the whole command."""
    data_home = tmp / "xdg"
    db = data_home / "routesh" / "usage.db"
    print(f"\nstats --outcomes over {n:,} rows (sessions, signals, re-asks, baseline)")
    from routesh.usage.outcomes import outcomes_report

    with Ledger(db) as led:
        times = []
        for _ in range(3):
            t = time.perf_counter()
            rep = outcomes_report(led, since_ts=None, until_ts=None)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        base = led.stats(None, "route")
        stats_s = time.perf_counter() - t
    assert rep["total"]["requests"] == n // 2
    print(f"  outcomes_report  best {min(times) * 1000:6.0f} ms  worst {max(times) * 1000:6.0f} ms"
          f"  ({min(times) / stats_s:.1f}x Ledger.stats(by=route) in the same run, {base.total.attempts:,} rows)")
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "XDG_CONFIG_HOME": str(tmp / "cfg"), "HOME": str(tmp)}
    t = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "routesh", "stats", "--outcomes", "--since", "60d"],
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    t = time.perf_counter()
    plain = subprocess.run([sys.executable, "-m", "routesh", "stats", "--since", "60d"], capture_output=True,
                           text=True, env=env)
    plain_wall = time.perf_counter() - t
    ok = run.returncode == 0 and plain.returncode == 0 and wall < STATS_BUDGET_S
    print(f"  `routesh stats --outcomes --since 60d` end to end: {wall * 1000:6.0f} ms wall"
          f" ({wall / plain_wall:.2f}x plain `routesh stats` in the same run)")
    print(f"  budget < {STATS_BUDGET_S:.0f} s for the whole command: {'PASS' if ok else 'FAIL'}")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        ok = bench_record(Path(d), args.records)
        ok &= bench_stats(Path(d), args.rows)
        ok &= bench_outcomes(Path(d), args.rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
