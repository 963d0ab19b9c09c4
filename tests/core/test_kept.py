"""A secret routesh found is never kept by routesh: after one run of each front door (one-shot, the shell in a
real terminal, the Claude Code engine, the gateway) with secrets of several kinds in the prompt, no file routesh
wrote under HOME and no stream it printed holds one, while the test upstream shows `warn` really sent them."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import string
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh
from upstream import Upstream, claude_exe_fixture, status_error, upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.shell.line import ProfileAwareHistory
from routesh.usage.ledger import Ledger

_R = random.Random(10)
GITHUB = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123"  # the issue's own repro
ANTHROPIC = "sk-ant-api03-" + "".join(_R.choice(string.ascii_letters + string.digits + "-_") for _ in range(93)) + "AA"
SLACK = "xoxb-123456789012-1234567890123-" + "".join(_R.choice(string.ascii_letters) for _ in range(24))
PASSWORD = "".join(_R.choice(string.ascii_letters + string.digits) for _ in range(20))
SECRETS = (GITHUB, ANTHROPIC, SLACK, PASSWORD)
PROMPT = f"deploy with {GITHUB} now; the bot uses {SLACK}\nconfig: db_password = \"{PASSWORD}\"\nkey {ANTHROPIC}"
UP_KEY = "sk-ant-api03-routeshTestUpstreamKeyFORkeptTESTS0123456789"

CONFIG = """\
version: 1
default_route: default
default_profile: personal
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: KEPT_UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6{via}}}
profiles:
  personal: {{}}
  strict: {{on_secret: block}}
"""


def config(tmp: Path, up: Upstream, via: str = "") -> Path:
    cfg = tmp / "routes.yaml"
    cfg.write_text(CONFIG.format(url=up.url, via=via), encoding="utf-8")
    return cfg


def leaks(home: Path, *texts: str, skip: tuple[str, ...] = ()) -> list[str]:
    """Every file under home (and every text given) that holds one of the secrets; [] is the goal."""
    found = []
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home)
        if not path.is_file() or any(rel.parts[0] == s for s in skip):
            continue
        data = path.read_bytes()
        found += [f"{rel}: {s[:8]}…" for s in SECRETS if s.encode() in data]
    for i, text in enumerate(texts):
        found += [f"stream {i}: {s[:8]}…" for s in SECRETS if s in text]
    return found


def sent_upstream(up: Upstream) -> str:
    return "".join(json.dumps(r.json) for r in up.generation_requests())


# ------------------------------------------------------------------------------------------------ the stores


def test_ledger_keeps_prompt_error_and_tag_redacted(tmp_path: Path) -> None:
    db = tmp_path / "u.db"
    with Ledger(db) as led:
        assert led.record(AttemptRecord(ts=1.0, request_id="r1", attempt=1, profile="p", route="r", provider="x",
                                        model="m", via="api", status="error", prompt=PROMPT, tag=f"t-{SLACK}",
                                        error=f"HTTP 400: bad request near {GITHUB} \x1b]0;pwned\x07"))
        led.mark_miss("r1", f"should not keep {ANTHROPIC}")
    raw = db.read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("u.db-*"))
    assert not [s for s in SECRETS if s.encode() in raw]
    row = sqlite3.connect(db).execute("SELECT prompt, tag, error FROM attempts").fetchone()
    assert "[REDACTED:github-token]" in row[0] and "deploy with" in row[0]  # the rest of the prompt is kept
    assert "\x1b" not in row[2]


@pytest.mark.parametrize(("policy", "kept"), [("warn", True), ("redact", True), ("allow", True), ("block", False)])
def test_history_file_holds_the_redacted_line_or_nothing_under_block(tmp_path: Path, policy: str, kept: bool) -> None:
    path = tmp_path / "history"
    h = ProfileAwareHistory(str(path), lambda: True, lambda: policy)
    h.append_string(PROMPT)
    h.append_string("no secret here")
    text = path.read_text()
    assert not [s for s in SECRETS if s in text]
    assert ("deploy with" in text) is kept and "no secret here" in text
    assert PROMPT in h.get_strings()  # still recallable in this session, to fix it


# ------------------------------------------------------------------------------------------------ front doors


def test_one_shot_under_warn_sends_but_keeps_nothing(upstream: Upstream, tmp_path: Path, isolated_home: Path) -> None:
    cfg = config(tmp_path, upstream)
    p = routesh("--config", str(cfg), "--tag", f"release-{GITHUB}", PROMPT, env={"KEPT_UP_KEY": UP_KEY})
    assert p.returncode == 0, p.stderr
    assert GITHUB in sent_upstream(upstream)  # warn sends it: the check below can see a leak
    assert "secret found" in p.stderr
    upstream.script(status_error(400, f"invalid request: {GITHUB} is not allowed here"))
    bad = routesh("--config", str(cfg), PROMPT, env={"KEPT_UP_KEY": UP_KEY})
    assert bad.returncode == 1 and "invalid request" in bad.stderr
    assert leaks(isolated_home, p.stdout, p.stderr, bad.stdout, bad.stderr) == []
    assert (isolated_home / ".local/share/routesh/usage.db").exists()


def test_tag_with_a_secret_is_refused_under_block(upstream: Upstream, tmp_path: Path, isolated_home: Path) -> None:
    cfg = config(tmp_path, upstream)
    p = routesh("--config", str(cfg), "--profile", "strict", "--tag", GITHUB, "hello",
                env={"KEPT_UP_KEY": UP_KEY})
    assert p.returncode == 3 and "--tag" in p.stderr
    assert upstream.requests == [] and leaks(isolated_home, p.stdout, p.stderr) == []


def test_shell_keeps_no_secret_and_a_blocked_prompt_is_not_in_history(upstream: Upstream, tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip(reason="tmux not installed (apt-get install tmux; .ci/run installs it)")
    from test_shell_pty import Term

    cfg = config(tmp_path, upstream)
    term = Term(tmp_path, cfg, extra_env={"KEPT_UP_KEY": UP_KEY})
    try:
        term.ready()
        term.type(f"deploy with {GITHUB} now")  # the repro
        term.enter()
        term.ready(timeout=30)
        assert GITHUB in sent_upstream(upstream)
        term.type("/profile strict")
        term.enter()
        term.ready()
        term.type(f"blocked prompt {SLACK}")
        term.enter()
        term.ready()
        assert "refused" in term.history()
        screen = term.history()
    finally:
        term.close()
    history = (term.home / ".local/state/routesh/history").read_text()
    assert "deploy with [REDACTED:github-token]" in history and "blocked prompt" not in history
    printed = "\n".join(line for line in screen.splitlines() if not line.startswith("routesh ("))  # not the echo
    assert leaks(term.home, printed) == []


def test_gateway_via_routesh_code_keeps_nothing(upstream: Upstream, tmp_path: Path, isolated_home: Path) -> None:
    """A stand-in `claude` sends one request with secrets through `routesh code -v`'s gateway."""
    fake = tmp_path / "claude"
    body = json.dumps({"model": "claude-sonnet-4-6", "max_tokens": 50, "stream": False,
                       "messages": [{"role": "user", "content": PROMPT}]})
    fake.write_text(f"#!{sys.executable}\nimport os, urllib.request\n"
                    f"req = urllib.request.Request(os.environ['ANTHROPIC_BASE_URL'] + '/v1/messages', {body!r}.encode(),"
                    " {'authorization': 'Bearer ' + os.environ['ANTHROPIC_AUTH_TOKEN'],"
                    " 'content-type': 'application/json', 'anthropic-version': '2023-06-01'})\n"
                    "print(urllib.request.urlopen(req).status)\n")
    fake.chmod(0o755)
    cfg = config(tmp_path, upstream)
    p = subprocess.run([ROUTESH, "--config", str(cfg), "code", "-v", "-p", "x"], capture_output=True, text=True,
                       env=dict(os.environ, KEPT_UP_KEY=UP_KEY, PATH=f"{tmp_path}:{os.environ['PATH']}"),
                       timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "200", p.stderr
    assert GITHUB in sent_upstream(upstream)
    log = isolated_home / ".local/state/routesh/gateway.log"
    assert log.exists()
    assert leaks(isolated_home, p.stdout, p.stderr) == []


def test_claude_code_engine_keeps_nothing(upstream: Upstream, claude_exe: str, tmp_path: Path,
                                          isolated_home: Path) -> None:
    cfg = config(tmp_path, upstream, via=", via: claude-code, timeout_s: 120")
    p = routesh("--config", str(cfg), PROMPT, env={"KEPT_UP_KEY": UP_KEY}, timeout=180)
    assert p.returncode == 0, p.stderr
    assert GITHUB in sent_upstream(upstream)
    # Claude Code keeps its own transcripts under ~/.claude: those are Claude Code's files, not routesh's.
    assert leaks(isolated_home, p.stdout, p.stderr, skip=(".claude", ".claude.json")) == []
