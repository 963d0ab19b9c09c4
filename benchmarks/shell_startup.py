"""How long `routesh` takes to show a prompt you can type at, measured in a pseudo-terminal.

Each run spawns `python -m routesh` in a fresh pty (temp HOME and XDG dirs, the built-in
routes.yaml), answers the terminal queries a real terminal would (cursor position), and stops the
clock when the prompt's `›` is written. The baseline is `python -c pass` spawned the same way,
timed until it exits. Prints the medians and their ratio (target: under 10x).

    python benchmarks/shell_startup.py [--runs 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT_MARK = "›".encode()
CPR_QUERY = b"\x1b[6n"


def _env(home: Path) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
           "XDG_STATE_HOME": str(home / ".local/state"), "XDG_CACHE_HOME": str(home / ".cache"),
           "COLUMNS": "120", "LINES": "40"}
    return env


def spawn_and_time(argv: list[str], env: dict[str, str], *, until: bytes | None, timeout: float = 20.0) -> float:
    """Seconds from spawn until `until` appears in the output (or, with None, until the child exits)."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["HOME"],
                            start_new_session=True, close_fds=True)
    os.close(slave)
    seen = b""
    elapsed: float | None = None
    try:
        deadline = start + timeout
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the pty
                    data = b""
                if not data and until is None:
                    proc.wait(timeout)
                    elapsed = time.perf_counter() - start
                    break
                seen += data
                if CPR_QUERY in data:  # answer like a terminal: the cursor is at row 1, column 1
                    os.write(master, b"\x1b[1;1R")
                if until is not None and until in seen:
                    elapsed = time.perf_counter() - start
                    break
            elif until is None and proc.poll() is not None:
                elapsed = time.perf_counter() - start
                break
        if elapsed is None:
            raise RuntimeError(f"{argv[1:]} not ready after {timeout}s; output: {seen[-400:]!r}")
        return elapsed
    finally:
        if proc.poll() is None:
            try:
                os.write(master, b"\x04")  # Ctrl-D: leave the shell the way a user does
                proc.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        os.close(master)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="routesh-bench-") as tmp:
        home = Path(tmp)
        env = _env(home)
        env["PYTHONPATH"] = str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else "")
        shell = [sys.executable, "-m", "routesh"]
        base = [sys.executable, "-c", "pass"]
        spawn_and_time(shell, env, until=PROMPT_MARK)  # warm the OS file cache and write .pyc files once
        spawn_and_time(base, env, until=None)
        shell_s, base_s = [], []
        for _ in range(args.runs):  # interleaved, so machine load hits both alike
            base_s.append(spawn_and_time(base, env, until=None))
            shell_s.append(spawn_and_time(shell, env, until=PROMPT_MARK))
    med_shell, med_base = statistics.median(shell_s), statistics.median(base_s)
    result = {
        "runs": args.runs,
        "shell_ready_ms_median": round(med_shell * 1000, 1),
        "shell_ready_ms_p90": round(sorted(shell_s)[int(0.9 * (len(shell_s) - 1))] * 1000, 1),
        "python_pass_ms_median": round(med_base * 1000, 1),
        "ratio": round(med_shell / med_base, 2),
        "target_ratio": 10,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"routesh shell ready: median {result['shell_ready_ms_median']} ms "
              f"(p90 {result['shell_ready_ms_p90']} ms) over {args.runs} runs")
        print(f"python -c pass:      median {result['python_pass_ms_median']} ms")
        print(f"ratio: {result['ratio']}x (target < 10x)")
    return 0 if result["ratio"] < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
