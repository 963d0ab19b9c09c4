"""Benchmark: every `routesh ui` page must answer in < 300 ms over a ledger of 100,000 rows.

Run: python benchmarks/ui_pages.py [--rows 100000] [--runs 15]

The rows (30 days, 5 routes, 3 models, 2 profiles, 10% errors, 1% misses) are bulk-loaded as in
ledger_speed.py. `routesh ui` is started as its own process (XDG_DATA_HOME pointing at the temp dir),
then each page is fetched --runs times over a fresh connection, as a browser would, after one warm-up.
Two baselines are measured in the same run: the HTTP floor (GET /static/style.css from the same
server: connection, parsing, the checks, no ledger) and a bare SQLite query (COUNT and SUM over the
7-day window, in this process, no routesh). Each page prints its p50 and p95 in ms and its p50 as a
ratio to both baselines; the verdict is on the slowest page's p50.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger_speed import load_rows  # noqa: E402

BUDGET_MS = 300.0
PAGES = ("/", "/?since=30d", "/outcomes", "/requests", "/requests?route=debug&status=error", "/requests?page=40",
         "/request?id=req00012345", "/playground", "/config", "POST /api/dry-run")


def fetch(port: int, token: str, page: str) -> float:
    """One request over a new connection; ms until the whole body is read."""
    method, _, path = page.rpartition(" ")
    method = method or "GET"
    body = json.dumps({"prompt": "/debug why does the login test flake on CI?"}).encode() if method == "POST" else None
    sep = "&" if "?" in path else "?"
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request(method, f"{path}{sep}token={token}", body, {"Content-Type": "application/json"} if body else {})
    r = c.getresponse()
    r.read()
    c.close()
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        raise SystemExit(f"{page}: HTTP {r.status}")
    return ms


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    fn()  # warm-up
    return sorted(fn() for _ in range(runs))


def p(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(len(values) * q))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db = tmp / "data" / "routesh" / "usage.db"
        t = time.perf_counter()
        load_rows(db, args.rows)
        print(f"{args.rows:,} rows loaded in {time.perf_counter() - t:.1f} s")
        env = dict(os.environ, XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"),
                   XDG_STATE_HOME=str(tmp / "state"), HOME=str(tmp))
        proc = subprocess.Popen([sys.executable, "-m", "routesh", "ui", "--no-open"], stdout=subprocess.PIPE,
                                text=True, env=env, cwd=tmp, start_new_session=True)
        try:
            assert proc.stdout is not None
            m = re.search(r":(\d+)/\?token=(\S+)", proc.stdout.readline())
            if not m:
                raise SystemExit("routesh ui printed no address")
            port, token = int(m.group(1)), m.group(2)

            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            since = time.time() - 7 * 86400

            def bare() -> float:
                t = time.perf_counter()
                conn.execute("SELECT COUNT(*), SUM(cost_usd) FROM attempts WHERE ts >= ?", (since,)).fetchall()
                return (time.perf_counter() - t) * 1000

            base_sql = statistics.median(timed(bare, args.runs))
            base_http = statistics.median(timed(lambda: fetch(port, token, "/static/style.css"), args.runs))
            print(f"baselines: bare SQLite COUNT+SUM over 7 days {base_sql:.1f} ms; "
                  f"HTTP floor (a static file from the same server) {base_http:.1f} ms")
            print(f"{'page':42} {'p50 ms':>8} {'p95 ms':>8} {'x HTTP':>8} {'x SQL':>8}")
            worst = 0.0
            for page in PAGES:
                ms = timed(lambda page=page: fetch(port, token, page), args.runs)
                p50 = statistics.median(ms)
                worst = max(worst, p50)
                print(f"{page:42} {p50:8.1f} {p(ms, 0.95):8.1f} {p50 / base_http:8.1f} {p50 / base_sql:8.1f}")
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            proc.wait(10)
    ok = worst < BUDGET_MS
    print(f"slowest page p50 {worst:.0f} ms; budget < {BUDGET_MS:.0f} ms per page: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
