"""Speed a user feels, side by side with simonw's `llm` in one run, against the local test upstream.

    python benchmarks/vs_llm.py --llm /path/to/venv/bin/llm [--runs 15] [--only oneshot,shell,dry,prompt]

`llm` lives in a separate venv (`python -m venv V && V/bin/pip install llm llm-anthropic`), pointed at
the same upstream through ANTHROPIC_BASE_URL / OPENAI_BASE_URL (which the SDKs under llm read).

Cases (each timed interleaved with its baseline, medians, ratios printed; reported, not asserted):
- one-shot answer, Anthropic and OpenAI route: `routesh "..."` vs `llm -m MODEL "..."` (wall, spawn to exit)
- the shell's first answer in a pty: Enter typed as soon as the prompt shows, until the answer's text
  appears; `routesh` vs `llm chat -m MODEL`
- `routesh --dry-run` (default config, and 1,000 keyword rules) vs a clean interpreter
- the shell reaching its prompt vs a clean interpreter

The clean interpreter is `python -I -S -c pass` on the base interpreter (no site, so no .pth files:
an editable install's import hook would otherwise double the baseline). routesh itself runs from a
throwaway venv whose only .pth lists plain directories (the source tree and the dev venv's
site-packages), which is how a non-editable install is found: no editable finder on its side either.
Bytecode caching is on for all (a private PYTHONPYCACHEPREFIX), as on a user's machine.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ttft import start_upstream  # noqa: E402

PROMPT_MARK = "›".encode()
CPR_QUERY = b"\x1b[6n"
ANSWER = b"Hello from"
SONNET = "anthropic/claude-sonnet-4-6"


def clean_python() -> str:
    """The base interpreter, outside any venv."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base if base.exists() else sys.executable)


def routesh_venv(tmp: Path) -> str:
    """A throwaway venv that finds routesh and its dependencies through plain path entries (no editable hook)."""
    venv = tmp / "venv"
    subprocess.run([clean_python(), "-m", "venv", "--without-pip", str(venv)], check=True)
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = subprocess.run([str(venv / "bin" / "python"), "-c", where], capture_output=True, text=True,
                          check=True).stdout.strip()
    Path(site, "routesh_bench.pth").write_text(f"{ROOT}\n{sysconfig.get_path('purelib')}\n")
    return str(venv / "bin" / "python")


def write_config(home: Path, url: str, rules: int = 0) -> Path:
    """routes.yaml aimed at the upstream; `rules` extra keyword rules to weigh the dry-run down."""
    extra = "".join(f"  - {{keywords: [kw{i}alpha, phrase number {i}], route: cheap}}\n" for i in range(rules))
    cfg = home / f"routes-{rules}.yaml"
    cfg.write_text(f"""default_route: default
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: UP_KEY}}
  upo: {{type: openai, base_url: "{url}/v1", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6}}
  cheap: {{provider: upo, model: gpt-4o-mini}}
rules:
  - {{prefix: /cheap, route: cheap}}
{extra}""")
    return cfg


CPU: dict[str, list[float]] = {}  # CPU seconds (user+sys) per command label: steadier than wall time under load


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Seconds from spawn to exit (output discarded); fails loudly when the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    label = " ".join(cmd[1:] if "routesh" in cmd[1:3] else cmd)
    CPU.setdefault(label, []).append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if p.returncode:
        raise SystemExit(f"{cmd} failed ({p.returncode}): {p.stderr.decode()[-400:]}")
    return elapsed


def pty_time(argv: list[str], env: dict[str, str], ready: bytes, type_text: bytes | None, until: bytes,
             timeout: float = 60.0) -> tuple[float, float]:
    """(spawn → `ready` seen, Enter typed → `until` seen after it) in a pseudo-terminal; Ctrl-D at the end."""
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=env["HOME"],
                            start_new_session=True, close_fds=True)
    os.close(slave)
    seen, after = b"", b""
    t_ready = t_sent = t_done = None
    try:
        while time.perf_counter() - t0 < timeout and t_done is None:
            if not select.select([master], [], [], 0.02)[0]:
                continue
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if CPR_QUERY in data:
                os.write(master, b"\x1b[1;1R")  # answer like a terminal
            if t_ready is None:
                seen += data
                if ready in seen:
                    t_ready = time.perf_counter()
                    if type_text is None:
                        t_done = t_ready
                        break
                    os.write(master, type_text + b"\r")
                    t_sent = time.perf_counter()
            else:
                after += data
                if until in after:
                    t_done = time.perf_counter()
        if t_ready is None or t_done is None:
            raise SystemExit(f"{argv} did not get there in {timeout}s: {(seen + after)[-400:]!r}")
        return t_ready - t0, t_done - (t_sent or t_ready)
    finally:
        try:
            os.write(master, b"\x04")
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        os.close(master)


def interleave(cases: dict[str, Callable[[], float]], runs: int) -> dict[str, float]:
    """Median seconds per case, the cases run in turn (one warm-up round first) so load hits all alike."""
    for run in cases.values():
        run()
    samples: dict[str, list[float]] = {k: [] for k in cases}
    for i in range(runs):
        names = list(cases) if i % 2 == 0 else list(reversed(cases))
        for name in names:
            samples[name].append(cases[name]())
    return {k: statistics.median(v) for k, v in samples.items()}


def show(title: str, med: dict[str, float], base: str, target: float) -> None:
    """One table: median ms and ratio to the baseline."""
    print(f"\n{title} (target ≤ {target:g}x {base})")
    for name, v in med.items():
        print(f"  {name:44} {v * 1000:9.1f} ms {v / med[base]:7.2f}x")


def show_cpu() -> None:
    """Median CPU time (user+sys) of every command timed, the steadier figure on a loaded machine."""
    print("\nCPU time (user+sys), medians:")
    for label, v in CPU.items():
        print(f"  {statistics.median(v) * 1000:9.1f} ms  {label[-90:]}")


def main() -> None:
    """Run the selected comparisons."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--llm", required=True, help="the llm executable (its own venv, with llm-anthropic)")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--only", default="oneshot,shell,dry,prompt")
    args = ap.parse_args()
    only = set(args.only.split(","))
    proc, url = start_upstream("Hello from {model}. ")
    try:
        with tempfile.TemporaryDirectory(prefix="routesh-vs-llm-") as t:
            tmp = Path(t)
            home = tmp / "home"
            home.mkdir()
            py = routesh_venv(tmp)
            env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
                   "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40",
                   "PYTHONPYCACHEPREFIX": str(tmp / "pyc"), "UP_KEY": "sk-bench-not-a-real-key",
                   "LLM_USER_PATH": str(home / "llm"), "ANTHROPIC_BASE_URL": url, "ANTHROPIC_API_KEY": "sk-bench",
                   "OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-bench"}
            for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
                env[var] = str(home / var.lower())
            env["ROUTESH_CONFIG"] = str(write_config(home, url))
            big = dict(env, ROUTESH_CONFIG=str(write_config(home, url, rules=1000)))
            routesh = [py, "-m", "routesh"]
            clean = [clean_python(), "-I", "-S", "-c", "pass"]
            print(f"upstream {url}; routesh via {py}; clean interpreter {clean_python()} -I -S; {args.runs} runs")
            if "oneshot" in only:
                med = interleave({
                    "llm -m claude-sonnet-4-6": lambda: timed([args.llm, "-m", SONNET, "hi"], env),
                    "routesh (anthropic route)": lambda: timed([*routesh, "hi"], env),
                    "llm -m gpt-4o-mini": lambda: timed([args.llm, "-m", "gpt-4o-mini", "hi"], env),
                    "routesh (openai route)": lambda: timed([*routesh, "/cheap hi"], env),
                }, args.runs)
                show("one-shot answer, spawn to exit", med, "llm -m claude-sonnet-4-6", 1.1)
                print(f"  {'routesh (openai) / llm (openai)':44} "
                      f"{med['routesh (openai route)'] / med['llm -m gpt-4o-mini']:20.2f}x")
            if "shell" in only:
                first: dict[str, list[float]] = {"llm chat": [], "routesh shell": []}
                drive = {"llm chat": lambda: pty_time([args.llm, "chat", "-m", SONNET], env,
                                                      b"> ", b"hi", ANSWER),
                         "routesh shell": lambda: pty_time(routesh, env, PROMPT_MARK, b"hi", ANSWER)}
                for name in drive:
                    drive[name]()
                for i in range(args.runs):
                    for name in (drive if i % 2 == 0 else reversed(list(drive))):
                        first[name].append(drive[name]()[1])
                show("the shell's first answer, Enter to the answer's text", 
                     {k: statistics.median(v) for k, v in first.items()}, "llm chat", 1.5)
            if "dry" in only:
                med = interleave({
                    "python -I -S -c pass": lambda: timed(clean, env),
                    "routesh --dry-run": lambda: timed([*routesh, "--dry-run", "fix the failing test"], env),
                    "routesh --dry-run --json": lambda: timed([*routesh, "--dry-run", "--json", "fix it"], env),
                    "routesh --dry-run, 1,000 keyword rules": lambda: timed([*routesh, "--dry-run", "fix it"], big),
                }, args.runs * 2)
                show("--dry-run, spawn to exit", med, "python -I -S -c pass", 5)
                print(f"  {'1,000 rules / default config':44} "
                      f"{med['routesh --dry-run, 1,000 keyword rules'] / med['routesh --dry-run']:20.2f}x (≤ 1.2x)")
            if "prompt" in only:
                med = interleave({
                    "python -I -S -c pass": lambda: timed(clean, env),
                    "routesh shell, spawn to prompt": lambda: pty_time(routesh, env, PROMPT_MARK, None, b"")[0],
                }, args.runs)
                show("the shell reaching its prompt", med, "python -I -S -c pass", 10)
            show_cpu()
    finally:
        proc.terminate()
        proc.wait(5)


if __name__ == "__main__":
    main()
