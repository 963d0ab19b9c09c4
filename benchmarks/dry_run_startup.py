"""Cold start of `routesh --dry-run` as a ratio to `python -c pass` on the same interpreter (target: < 5x).

Runs both interleaved, many times, and prints medians and the ratio. Bytecode caching is on (as on a
user's machine) even where PYTHONDONTWRITEBYTECODE is set, via a private PYTHONPYCACHEPREFIX.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

RUNS = int(os.environ.get("RUNS", "30"))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="routesh-bench-pyc-")
    env["HOME"] = tempfile.mkdtemp(prefix="routesh-bench-home-")
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "ROUTESH_CONFIG"):
        env.pop(var, None)
    script = [sys.executable, "-m", "routesh"]
    exe = shutil.which("routesh")
    if exe and open(exe, "rb").read(2) == b"#!" and b"python" in open(exe, "rb").readline():
        script = [exe]
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "routesh --dry-run": [*script, "--dry-run", "/architect We are splitting billing from the monolith"],
        "routesh --dry-run --json": [*script, "--dry-run", "--json", "fix the failing test in the parser"],
    }
    for cmd in cases.values():  # warm the bytecode cache and the page cache
        timed(cmd, env)
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(RUNS):
        for name, cmd in cases.items():
            samples[name].append(timed(cmd, env))
    base = statistics.median(samples["python -c pass"])
    print(f"{'case':28} {'median ms':>10} {'ratio':>7}")
    for name, vals in samples.items():
        med = statistics.median(vals)
        print(f"{name:28} {med * 1000:10.1f} {med / base:7.2f}x")
    print("target: routesh --dry-run < 5x python -c pass")


if __name__ == "__main__":
    main()
