"""The Claude Code status line under `routesh code`: the fast command itself, its settings, and the real claude."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from upstream import Upstream
from upstream import claude_exe_fixture as claude_exe_fixture  # noqa: F401 - fixture
from upstream import upstream_fixture as upstream_fixture  # noqa: F401 - fixture

from routesh.core.config import Budget, Profile
from routesh.core.events import AttemptRecord
from routesh.usage.ledger import Ledger
from routesh.usage.statusline_setup import settings_arg, status_command, user_status_command

SID = "5e55b0a1-aaaa-4bbb-8ccc-0123456789ab"


def rec(rid: str, ts: float, route: str, model: str, cost: float, base: float, *, session: str | None = SID,
        profile: str = "personal") -> AttemptRecord:
    return AttemptRecord(ts=ts, request_id=rid, attempt=1, profile=profile, route=route, provider="p", model=model,
                         via="gateway", status="ok", input_tokens=10, output_tokens=10, cost_usd=cost,
                         session_id=session, baseline_cost_usd=base)


def run_line(command: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, shell=True, input=stdin, capture_output=True, text=True, timeout=30)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    path = tmp_path / "usage.db"
    now = time.time()
    with Ledger(path) as led:
        led.record(rec("a", now - 60, "default", "claude-sonnet-4-6", 0.30, 0.30))
        led.record(rec("b", now - 30, "quick", "claude-haiku-4-5", 0.10, 0.30))
        led.record(rec("c", now - 10, "other", "m", 1.00, 1.00, session="someone-else"))
        led.record(rec("d", now - 5, "other", "m", 7.00, 7.00, session=None, profile="work"))  # not this profile
    return path


def test_the_line_from_the_ledger(ledger: Path) -> None:
    profile = Profile("personal", budget=Budget(daily_usd=5.0))
    out = run_line(status_command(ledger, profile, None), json.dumps({"session_id": SID, "model": {}}))
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout == "routesh · quick → claude-haiku-4-5 · session $0.40 · today $1.40/$5.00 · saved $0.20\n"


def test_a_session_dearer_than_the_baseline_says_so(tmp_path: Path) -> None:
    with Ledger(tmp_path / "u.db") as led:
        led.record(rec("a", time.time(), "architect", "claude-opus-4-7", 0.50, 0.30))
    out = run_line(status_command(tmp_path / "u.db", Profile("personal"), None), json.dumps({"session_id": SID}))
    assert out.stdout.endswith("session $0.50 · today $0.50 · $0.20 over baseline\n")


def test_control_characters_from_the_ledger_never_reach_the_terminal(tmp_path: Path) -> None:
    with Ledger(tmp_path / "u.db") as led:
        led.record(rec("a", time.time(), "de\x1b]0;owned\x07fault", "m\x1b[2J\r\nodel", 0.10, 0.10))
    out = run_line(status_command(tmp_path / "u.db", Profile("personal"), None), json.dumps({"session_id": SID}))
    assert out.stdout.startswith("routesh · de]0;ownedfault → m[2Jodel · ") and out.stdout.count("\n") == 1
    assert not any(ord(c) < 32 and c != "\n" for c in out.stdout)


@pytest.mark.parametrize("stdin", ["", "not json", json.dumps({"session_id": 5}), json.dumps([1])])
def test_odd_input_still_answers(ledger: Path, stdin: str) -> None:
    out = run_line(status_command(ledger, Profile("personal"), None), stdin)
    assert out.returncode == 0 and out.stdout.startswith("routesh") and "Traceback" not in out.stderr


def test_errors_print_a_placeholder_and_exit_0(tmp_path: Path) -> None:
    missing = run_line(status_command(tmp_path / "none.db", Profile("p"), None), json.dumps({"session_id": SID}))
    assert (missing.returncode, missing.stdout, missing.stderr) == (0, "routesh\n", "")
    assert not (tmp_path / "none.db").exists()  # read-only: never creates a ledger
    (tmp_path / "bad.db").write_text("not a database")
    bad = run_line(status_command(tmp_path / "bad.db", Profile("p"), "echo mine"), "{}")
    assert (bad.returncode, bad.stdout) == (0, "routesh │ mine\n")


def test_the_users_own_line_follows_ours(ledger: Path) -> None:
    cmd = status_command(ledger, Profile("personal"), "cat >/dev/null; printf 'theirs\\nsecond line\\n'")
    out = run_line(cmd, json.dumps({"session_id": SID}))
    assert out.stdout.startswith("routesh · quick → claude-haiku-4-5") and " │ theirs\nsecond line\n" in out.stdout
    failing = run_line(status_command(ledger, Profile("personal"), "exit 3"), "{}")
    assert failing.returncode == 0 and "│" not in failing.stdout


def test_the_command_never_imports_routesh(ledger: Path) -> None:
    argv = shlex.split(status_command(ledger, Profile("personal"), None))
    assert argv[:3] == [sys.executable, "-I", "-S"]
    probe = ("import io, runpy, sys; sys.argv = sys.argv[1:]; sys.stdin = io.TextIOWrapper(io.BytesIO(b'{}'))\n"
             "try:\n runpy.run_path(sys.argv[0], run_name='__main__')\nexcept SystemExit: pass\n"
             "print(sorted(m for m in sys.modules if m.startswith('routesh')), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe, *argv[3:]], capture_output=True, text=True,
                         timeout=30)
    assert out.stdout == "routesh · today $1.40\n"  # it ran: no session in the input, the profile's spend today
    assert out.stderr.strip().splitlines()[-1] == "[]"


def test_settings_keep_the_users_status_line(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "proj"
    (home / ".claude").mkdir(parents=True)
    (cwd / ".claude").mkdir(parents=True)
    assert user_status_command(cwd, home, {}) is None
    (home / ".claude" / "settings.json").write_text(json.dumps({"statusLine": {"type": "command", "command": "u"}}))
    assert user_status_command(cwd, home, {}) == "u"
    (cwd / ".claude" / "settings.json").write_text(json.dumps({"statusLine": {"type": "command", "command": "p"}}))
    assert user_status_command(cwd, home, {}) == "p"
    (cwd / ".claude" / "settings.local.json").write_text("{broken")
    assert user_status_command(cwd, home, {}) == "p"  # an unreadable file is skipped
    other = tmp_path / "cfg"
    other.mkdir()
    (other / "settings.json").write_text(json.dumps({"statusLine": {"command": "c"}}))
    assert user_status_command(tmp_path, home, {"CLAUDE_CONFIG_DIR": str(other)}) == "c"
    arg = settings_arg(tmp_path / "u.db", Profile("personal"), cwd, home, {})
    assert arg.startswith("--settings=")
    command = json.loads(arg.removeprefix("--settings="))["statusLine"]["command"]
    assert shlex.split(command)[-2:] == ["--then", "p"]


ROUTES = """
version: 1
default_route: default
providers:
  anth: {{type: anthropic, base_url: "{url}", key_env: SL_TEST_KEY}}
routes:
  default: {{provider: anth, model: claude-sonnet-4-6}}
  quick: {{provider: anth, model: claude-haiku-4-5}}
code:
  background: quick
profiles:
  personal: {{budget: {{daily_usd: 5}}}}
"""


@pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux not installed")
def test_real_claude_shows_it_in_a_terminal(tmp_path: Path, upstream: Upstream, claude_exe: str) -> None:
    """`routesh code` in tmux: the real claude draws our line, then the user's own, and updates after an answer."""
    home, work = tmp_path / "home", tmp_path / "work"
    (home / ".claude").mkdir(parents=True)
    work.mkdir()
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True, "theme": "dark", "projects": {
        str(work): {"hasTrustDialogAccepted": True, "hasCompletedProjectOnboarding": True}}}))
    (home / ".claude" / "settings.json").write_text(json.dumps(
        {"statusLine": {"type": "command", "command": "echo USER-OWN-LINE"}}))
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(ROUTES.format(url=upstream.url))
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "HOME": str(home), "TERM": "xterm-256color",
           "LANG": "C.UTF-8", "SL_TEST_KEY": "sk-ant-test-statusline-0000", "XDG_DATA_HOME": str(home / "data"),
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    inner = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "routesh", "--config", str(cfg), "code"])
    script = f"cd {shlex.quote(str(work))} && {inner}; sleep 60"
    cmd = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", "-c", script]
    sock = str(tmp_path / "tmux.sock")

    def tmux(*args: str) -> str:
        return subprocess.run(["tmux", "-S", sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=30, check=True).stdout

    def wait(pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = tmux("capture-pane", "-p", "-J")
            if re.search(pattern, screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on screen after {timeout}s:\n{screen}")
            time.sleep(0.2)

    tmux("new-session", "-d", "-x", "160", "-y", "40", " ".join(shlex.quote(c) for c in cmd))
    try:
        wait(r"routesh · today \$0/\$5\.00 │ USER-OWN-LINE")  # before any request: today's spend and the budget
        tmux("send-keys", "-l", "say hello")
        wait("say hello", 20)
        tmux("send-keys", "Enter")
        screen = wait(r"routesh · default → claude-sonnet-4-6 · session \$\S+ · today \$\S+/\$5\.00 · saved \$0 "
                      r"│ USER-OWN-LINE")
        assert "Hello from claude-sonnet-4-6" in screen
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True, timeout=10)


def test_session_id_is_read_without_json() -> None:
    from routesh.usage.statusline import session_id

    assert session_id(json.dumps({"hook_event_name": "Status", "session_id": SID, "cwd": "/x"}).encode()) == SID
    assert session_id(b'{"session_id" :  "abc" }') == "abc"
    for odd in (b"", b"{}", b'{"session_id": 5}', b'{"session_id": "a\\"b"}', b'{"session_id_x": "a"}',
                b'{"session_id": "unterminated'):
        assert session_id(odd) is None, odd
