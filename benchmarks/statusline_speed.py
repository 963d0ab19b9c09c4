"""The Claude Code status line command must answer in < 50 ms: timed against `python -c pass` in the same run.

The command exactly as `routesh code` hands it to Claude Code (statusline_setup.status_command), run
as a subprocess with a session's JSON on stdin, over a ledger of 100,000 rows (the session's rows
found through the session index), alternating with the two baselines:

    python -c pass          the interpreter's start, with site
    python -I -S -c pass    the same flags ours uses: the floor for any Python status line

    python benchmarks/statusline_speed.py [--runs 40] [--rows 100000]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ledger_speed import load_rows  # noqa: E402

from routesh.core.config import Budget, Profile  # noqa: E402
from routesh.usage.statusline_setup import status_command  # noqa: E402

BUDGET_MS = 50.0


def timed(argv: list[str], stdin: bytes) -> tuple[float, bytes]:
    t = time.perf_counter()
    p = subprocess.run(argv, input=stdin, capture_output=True, check=True)
    return (time.perf_counter() - t) * 1000, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "usage.db"
        load_rows(db, args.rows)
        ours = shlex.split(status_command(db, Profile("personal", budget=Budget(daily_usd=20.0)), None))
        stdin = json.dumps({"session_id": "sess000042", "model": {"id": "x"}, "cost": {}}).encode()
        runs: dict[str, list[float]] = {"status line": [], "python -c pass": [], "python -I -S -c pass": []}
        argvs = {"status line": ours, "python -c pass": [sys.executable, "-c", "pass"],
                 "python -I -S -c pass": [sys.executable, "-I", "-S", "-c", "pass"]}
        line = b""
        for _ in range(args.runs):
            for name, argv in argvs.items():
                ms, out = timed(argv, stdin)
                runs[name].append(ms)
                if name == "status line":
                    line = out
    print(f"status line over {args.rows:,} ledger rows, {args.runs} runs each, alternating:")
    print(f"  output: {line.decode().strip()}")
    base = statistics.median(runs["python -c pass"])
    for name, ms in runs.items():
        med = statistics.median(ms)
        print(f"  {name:22} median {med:6.1f} ms  ({med / base:.2f}x python -c pass)")
    med = statistics.median(runs["status line"])
    ok = med < BUDGET_MS and line.startswith(b"routesh \xc2\xb7 ")
    print(f"  budget < {BUDGET_MS:.0f} ms at the median: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
