"""The one-shot and `routesh code` say what they cost when they end: on stderr, only when it is a terminal."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from upstream import Upstream, UsageSpec, claude_exe_fixture, upstream_fixture  # noqa: F401 - fixtures

from routesh.core.events import AttemptRecord
from routesh.usage.tally import Tally

CONFIG = """\
version: 1
default_route: default
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: COST_LINE_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, retries: 0}}
profiles:
  personal: {{}}
"""


def run_with_tty_stderr(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """Run argv with stdout piped and stderr on a pseudo-terminal; (exit code, stdout, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out = p.stdout.read().decode() if p.stdout else ""
    return p.wait(timeout=60), out, b"".join(chunks).decode(errors="replace")


def env_for(tmp_path: Path, cfg: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_STATE_HOME=str(home / "state"),
                XDG_CONFIG_HOME=str(home / "config"), ROUTESH_CONFIG=str(cfg), COST_LINE_KEY="sk-test",
                NO_COLOR="1")


def test_one_shot_prints_its_cost_line_on_a_terminal(upstream: Upstream, tmp_path: Path) -> None:
    upstream.configure(usage=UsageSpec(input_tokens=1500, output_tokens=20, cache_read_input_tokens=500))
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    env = env_for(tmp_path, cfg)
    rc, out, err = run_with_tty_stderr([sys.executable, "-m", "routesh", "hello there"], env, tmp_path)
    assert rc == 0 and out.strip() == "Hello from claude-sonnet-4-6.", err
    # 1500 + 500 cache read in; 20 out; 1500*3 + 500*0.3 + 20*15 = 4950 micro-dollars
    assert re.search(r"default · claude-sonnet-4-6 · 2k in / 20 out · \$0\.0050 · \d+\.\ds", err), err
    # not a terminal: no cost line (scripts read stderr too)
    p = subprocess.run([sys.executable, "-m", "routesh", "hello there"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0 and " in / " not in p.stderr


def test_tally_sums_attempts_and_says_what_is_unknown() -> None:
    t = Tally()
    base = dict(ts=0.0, attempt=1, profile="p", route="r", provider="x", model="m", via="gateway", status="ok")
    t.add(AttemptRecord(request_id="a", input_tokens=1000, output_tokens=10, cache_read_tokens=500, cost_usd=0.01,
                        **base))  # type: ignore[arg-type]
    t.add(AttemptRecord(request_id="a", **base))  # type: ignore[arg-type]  # a failed try: nothing used
    t.add(AttemptRecord(request_id="b", input_tokens=7, output_tokens=3, **base))  # type: ignore[arg-type]
    t.add(AttemptRecord(request_id="c", input_tokens=100, output_tokens=1, cost_usd=0.001,
                        extra={"usage": "estimated"}, **base))  # type: ignore[arg-type]
    assert t.line() == "3 requests · 1.6k in / 14 out · $0.01 + 1 unpriced (1 partly estimated)"


def test_routesh_code_prints_the_session_total(claude_exe: str, upstream: Upstream, tmp_path: Path) -> None:
    upstream.configure(usage=UsageSpec(input_tokens=30_000, output_tokens=100))
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    env = env_for(tmp_path, cfg)
    rc, out, err = run_with_tty_stderr([sys.executable, "-m", "routesh", "code", "-p", "hi"], env, tmp_path)
    assert rc == 0, err
    n = len(upstream.generation_requests())
    cost = n * (30_000 * 3 + 100 * 15) / 1e6
    assert f"routesh: this session: {n} request{'s' if n != 1 else ''} · {n * 30}k in / {n * 100} out · " \
           f"${cost:.2f}" in err, err


def test_routesh_code_names_the_resume_command_and_resume_counts_the_whole_session(
        claude_exe: str, upstream: Upstream, tmp_path: Path) -> None:
    upstream.configure(usage=UsageSpec(input_tokens=1000, output_tokens=10), text="first reply")
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    env = env_for(tmp_path, cfg)
    rc, out, err = run_with_tty_stderr([sys.executable, "-m", "routesh", "code", "-p", "remember 42"], env, tmp_path)
    assert rc == 0, err
    m = re.search(r"routesh: resume it through routesh: routesh code --resume ([0-9a-f-]{36})", err)
    assert m, err
    sid = m.group(1)
    first = len(upstream.generation_requests())

    upstream.configure(text="second reply")
    rc, out, err = run_with_tty_stderr([sys.executable, "-m", "routesh", "code", "--resume", sid, "-p", "what number?"],
                                       env, tmp_path)
    assert rc == 0 and "second reply" in out, err
    resumed = upstream.generation_requests()[first:]
    assert resumed and any("remember 42" in json.dumps(r.json["messages"]) for r in resumed)  # claude resumed it
    n = first + len(resumed)
    assert re.search(rf"routesh: this session: {n} requests · .* \(this run: {len(resumed)} request", err), err
    assert f"routesh code --resume {sid}" in err

    rc, out, err = run_with_tty_stderr([sys.executable, "-m", "routesh", "code", "--continue", "-p", "and now?"],
                                       env, tmp_path)
    assert rc == 0, err
    assert any("what number?" in json.dumps(r.json["messages"]) for r in upstream.generation_requests()[n:])
