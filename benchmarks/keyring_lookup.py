"""How much the key lookup adds to every `routesh` start, against `python -c pass` and `keyring`.

Run inside the throwaway keyring session, so the D-Bus rows have a Secret Service to talk to:

    bash scripts/test --exec python3 benchmarks/keyring_lookup.py [ROUNDS]

Each row is a fresh interpreter (what a user's next command pays), rounds interleaved so noise
from other processes spreads evenly; the median is reported.  It stores a throwaway key under the
profile "bench" and deletes it at the end.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PROVIDER = 'Provider("anthropic", "anthropic", key_env="ANTHROPIC_API_KEY")'
LOOKUP = (
    "from routesh.core.config import Provider\nfrom routesh.keys.secrets import lookup_key\n"
    f"lookup_key('bench', {PROVIDER}, fetch={{fetch}})"
)
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("python -c pass", "pass", {}),
    ("import routesh.core.config", "import routesh.core.config", {}),
    ("import routesh.keys.secrets", "import routesh.core.config, routesh.keys.secrets", {}),
    ("lookup, no D-Bus", LOOKUP.format(fetch=True),
     {"DBUS_SESSION_BUS_ADDRESS": "", "XDG_RUNTIME_DIR": "/nonexistent"}),
    ("lookup presence (dry-run)", LOOKUP.format(fetch=False), {}),
    ("lookup with value", LOOKUP.format(fetch=True), {}),
    ("keyring.get_password", "import keyring; keyring.get_password('routesh', 'bench/anthropic')", {}),
]


# Users have .pyc files; this machine sets PYTHONDONTWRITEBYTECODE, which would add every module's
# compile time to every row. Cache bytecode in a temp dir instead (warmed by the first round).
PYC_DIR = tempfile.mkdtemp(prefix="routesh-bench-pyc-")
BASE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"PYTHONPYCACHEPREFIX": PYC_DIR}


def _run(code: str, env: dict[str, str]) -> float:
    """Wall time of one fresh interpreter running `code`, in ms."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env={**BASE_ENV, **env}, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    """Print the median start-up cost of each case, and its ratio to `python -c pass`."""
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    have_bus = bool(os.environ.get("DBUS_SESSION_BUS_ADDRESS"))
    cases = [c for c in CASES if have_bus or c[2] or c[1] in ("pass", "import routesh.core.config",
                                                                 "import routesh.core.config, routesh.keys.secrets")]
    if have_bus:
        from routesh.keys.secrets import set_key

        set_key("bench", "anthropic", "sk-ant-bench-" + "x" * 80)
    try:
        for _name, code, env in cases:  # warm the bytecode cache and the OS page cache
            _run(code, env)
        times: dict[str, list[float]] = {name: [] for name, _, _ in cases}
        for _ in range(rounds):
            for name, code, env in cases:
                times[name].append(_run(code, env))
    finally:
        if have_bus:
            from routesh.keys.secrets import delete_key

            delete_key("bench", "anthropic")
        shutil.rmtree(PYC_DIR, ignore_errors=True)
    base = statistics.median(times["python -c pass"])
    print(f"{'case':28s} {'median ms':>10s} {'min ms':>8s} {'x pass':>7s}   ({rounds} rounds)")
    for name, _, _ in cases:
        med = statistics.median(times[name])
        print(f"{name:28s} {med:10.1f} {min(times[name]):8.1f} {med / base:7.2f}")
    if not have_bus:
        print("(no DBUS_SESSION_BUS_ADDRESS: run under `bash scripts/test --exec ...` for the keyring rows)")


if __name__ == "__main__":
    main()
