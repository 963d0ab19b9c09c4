"""The real Claude Code CLI through `routesh serve` and `routesh code`, against the test upstream, both wire formats.

Claude Code runs offline: a temp HOME, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1, and only loopback
addresses. Skipped when `claude` is not installed, failed instead when $CI is set.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from upstream import (  # noqa: F401 - fixtures
    Upstream,
    claude_exe_fixture,
    drop_after,
    overloaded,
    processes_with_marker,
    rate_limited,
    slow_stream,
    unauthorized,
    wait_no_marker,
)

TOKEN = "claude-test-gateway-token-0123456789"
ANTH_KEY = "sk-ant-api03-claude-test-CCCCCCCCCCCCCCCCCCCC"
OAI_KEY = "sk-or-v1-claude-test-DDDDDDDDDDDDDDDDDDDDDD"
SENTINELS = {"ANTHROPIC_MODEL": "routesh-main", "ANTHROPIC_DEFAULT_HAIKU_MODEL": "routesh-background",
             "CLAUDE_CODE_SUBAGENT_MODEL": "routesh-subagent"}

CONFIG = """
version: 1
default_route: main
default_profile: personal
providers:
  anth: {{type: anthropic, base_url: "{url}", key_env: CC_TEST_ANTH_KEY}}
  oai:  {{type: openai, base_url: "{url}/v1", key_env: CC_TEST_OAI_KEY}}
routes:
  main:      {{provider: {kind}, model: {prefix}-main-model}}
  sub:       {{provider: {kind}, model: {prefix}-sub-model}}
  bg:        {{provider: {kind}, model: {prefix}-bg-model}}
  architect: {{provider: {kind}, model: {prefix}-architect-model}}
rules:
  - {{prefix: /architect, route: architect}}
profiles:
  personal: {{}}
code:
  default: main
  subagent: sub
  background: bg
"""

FORK_COMMAND = "---\ndescription: run in a subagent\ncontext: fork\n---\nReply with one word: $ARGUMENTS\n"


@dataclass
class Serve:
    """`routesh serve` in a child process, in front of the upstream."""

    up: Upstream
    url: str
    proc: subprocess.Popen[str]
    home: Path
    kind: str

    @property
    def route_model(self) -> str:
        return "claude" if self.kind == "anth" else "gpt"

    def model(self, route: str) -> str:
        return f"{self.route_model}-{route}-model"

    def rows(self) -> list[dict[str, Any]]:
        """The ledger's rows once the gateway's batched writer has caught up (the count holds for a batch period)."""
        db = self.home / "data" / "routesh" / "usage.db"
        deadline = time.monotonic() + 5
        last: list[dict[str, Any]] | None = None
        while True:
            try:
                conn = sqlite3.connect(db)
                conn.row_factory = sqlite3.Row
                rows = [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY id")]
                conn.close()
                if last is not None and len(rows) == len(last) or time.monotonic() > deadline:
                    return rows
                last = rows
            except sqlite3.Error:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.4)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "CLAUDE_CODE_", "ROUTESH_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
               XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"),
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", CC_TEST_ANTH_KEY=ANTH_KEY, CC_TEST_OAI_KEY=OAI_KEY)
    return env


@pytest.fixture(scope="module", params=["anth", "oai"])
def serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    kind = request.param
    home = tmp_path_factory.mktemp(f"serve-{kind}")
    with Upstream() as up:
        cfg = home / "routes.yaml"
        cfg.write_text(CONFIG.format(url=up.url, kind=kind, prefix="claude" if kind == "anth" else "gpt"))
        env = _env(home) | {"ROUTESH_GATEWAY_TOKEN": TOKEN}
        proc = subprocess.Popen([sys.executable, "-m", "routesh", "--config", str(cfg), "serve", "--port", "0", "-v"],
                                env=env, cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("export ANTHROPIC_BASE_URL="), line + proc.stderr.read()  # type: ignore[union-attr]
            url = line.strip().split("=", 1)[1]
            assert proc.stdout.readline().strip() == 'export ANTHROPIC_AUTH_TOKEN="$ROUTESH_GATEWAY_TOKEN"'  # type: ignore[union-attr]
            yield Serve(up, url, proc, home, kind)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def fresh(serve: Serve) -> Serve:
    serve.up.clear()
    serve.up.configure(text="Hello from {model}.", repeat=1)
    return serve


def run_claude(exe: str, s: Serve, prompt: str, *args: str, token: str = TOKEN, extra_env: dict[str, str] | None = None,
               cwd: Path | None = None) -> tuple[int, dict[str, Any], str]:
    """claude -p PROMPT through the gateway; (exit code, the result object, all of stdout)."""
    home = cwd or s.home / "claude-home"
    home.mkdir(exist_ok=True)
    env = _env(home) | SENTINELS | {"ANTHROPIC_BASE_URL": s.url, "ANTHROPIC_AUTH_TOKEN": token} | (extra_env or {})
    r = subprocess.run([exe, "-p", prompt, "--output-format", "stream-json", "--verbose",
                        "--include-partial-messages", *args], env=env, cwd=home, capture_output=True, text=True,
                       timeout=120)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
    result = next((x for x in reversed(lines) if x.get("type") == "result"), {})
    return r.returncode, result, r.stdout


def _user_texts(body: dict[str, Any]) -> list[str]:
    """Every text a user message holds (Anthropic or OpenAI shape)."""
    out = []
    for m in body["messages"]:
        if m.get("role") != "user":
            continue
        content = m["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            out += [b.get("text", "") for b in content if b.get("type") == "text"]
    return out


def upstream_models(s: Serve) -> list[str]:
    return [r.json["model"] for r in s.up.generation_requests()]


def assert_no_key(*blobs: str) -> None:
    for blob in blobs:
        for key in (ANTH_KEY, OAI_KEY):
            assert key not in blob and key[-12:] not in blob


# ------------------------------------------------------------------------------------------------ routing


def test_main_turn_lands_on_the_main_route(claude_exe: str, fresh: Serve) -> None:
    rc, result, out = run_claude(claude_exe, fresh, "Say hello")
    assert rc == 0, out
    assert result["result"] == f"Hello from {fresh.model('main')}."
    assert upstream_models(fresh) == [fresh.model("main")]
    req = fresh.up.generation_requests()[0]
    assert req.path == ("/v1/messages" if fresh.kind == "anth" else "/v1/chat/completions")
    presented = req.header("x-api-key") or req.header("authorization")
    assert presented in (ANTH_KEY, f"Bearer {OAI_KEY}")  # the real key reached the upstream
    assert_no_key(out)  # and never the client


def test_subagent_turn_lands_on_the_subagent_route(claude_exe: str, fresh: Serve, tmp_path: Path) -> None:
    """A `context: fork` command makes Claude Code run a real subagent, with CLAUDE_CODE_SUBAGENT_MODEL."""
    (tmp_path / ".claude" / "commands").mkdir(parents=True)
    (tmp_path / ".claude" / "commands" / "forky.md").write_text(FORK_COMMAND)
    rc, result, out = run_claude(claude_exe, fresh, "/forky hello", cwd=tmp_path)
    assert rc == 0, out
    assert fresh.model("sub") in upstream_models(fresh)
    assert result["result"] == f"Hello from {fresh.model('sub')}."
    rows = [r for r in fresh.rows() if r["model"] == fresh.model("sub")]
    assert rows and rows[-1]["route"] == "sub" and json.loads(rows[-1]["extra"])["class"] == "subagent"


def test_small_fast_model_requests_land_on_the_background_route(claude_exe: str, fresh: Serve, tmp_path: Path) -> None:
    """Claude Code's haiku alias resolves to ANTHROPIC_DEFAULT_HAIKU_MODEL, its background model: the background
    route. A turn of the agent loop the person put on that model (`model: haiku`, like `/model haiku`) is a main
    turn there; only tool-less calls (titles, summaries) are background (tests/gateway/test_classify.py)."""
    (tmp_path / ".claude" / "commands").mkdir(parents=True)
    (tmp_path / ".claude" / "commands" / "quickie.md").write_text(
        "---\ndescription: on the small model\nmodel: haiku\n---\nReply with one word: $ARGUMENTS\n")
    rc, result, out = run_claude(claude_exe, fresh, "/quickie hello", cwd=tmp_path)
    assert rc == 0, out
    assert upstream_models(fresh) == [fresh.model("bg")]
    assert fresh.rows()[-1]["route"] == "bg" and json.loads(fresh.rows()[-1]["extra"])["class"] == "main"


def test_prefix_typed_inside_claude_code_routes_and_is_stripped(claude_exe: str, fresh: Serve, tmp_path: Path) -> None:
    """`/architect ...` typed in Claude Code: the command routesh code installs, given here with --add-dir."""
    from routesh.core.configfile import parse
    from routesh.gateway.code import write_commands

    cmds = tmp_path / "cmds"
    config = parse(CONFIG.format(url="http://127.0.0.1:1", kind="anth", prefix="x"), "x.yaml")
    assert write_commands(config, cmds) == ["/architect"]
    rc, result, out = run_claude(claude_exe, fresh, "/architect split billing from the monolith", f"--add-dir={cmds}")
    assert rc == 0, out
    assert upstream_models(fresh) == [fresh.model("architect")]
    sent = fresh.up.generation_requests()[0].json
    joined = "\n".join(_user_texts(sent))
    assert "split billing from the monolith" in joined
    assert "<command-name>" not in joined
    assert not any(line.lstrip().startswith("/architect") for line in joined.splitlines())
    # a leading space gets a typed prefix past Claude Code's own command parser too
    fresh.up.clear()
    rc, _, out = run_claude(claude_exe, fresh, " /architect plan it")
    assert rc == 0, out
    assert upstream_models(fresh) == [fresh.model("architect")]


# ------------------------------------------------------------------------------------------------ failures


def test_429_with_retry_after_reaches_claude_code_which_retries_by_itself(claude_exe: str, fresh: Serve) -> None:
    """Claude Code retries 429/529 itself (honouring retry-after): the gateway passes the status on at once."""
    fresh.up.script(rate_limited(retry_after="1"))
    t = time.monotonic()
    rc, result, out = run_claude(claude_exe, fresh, "hi")
    assert rc == 0, out
    assert result["result"] == f"Hello from {fresh.model('main')}."
    assert time.monotonic() - t >= 1.0
    assert len(fresh.up.generation_requests()) == 2


def test_retries_do_not_multiply(claude_exe: str, fresh: Serve) -> None:
    """A permanent 429 with CLAUDE_CODE_MAX_RETRIES=2 reaches the upstream 3 times (it was 9: 3 by 3)."""
    fresh.up.script(*[rate_limited(retry_after="1") for _ in range(12)])
    rc, result, out = run_claude(claude_exe, fresh, "hi", extra_env={"CLAUDE_CODE_MAX_RETRIES": "2"})
    assert rc != 0 and result.get("is_error"), out
    assert result.get("api_error_status") == 429
    assert len(fresh.up.generation_requests()) == 3


def test_529_is_handled(claude_exe: str, fresh: Serve) -> None:
    fresh.up.script(overloaded(retry_after="1"))
    rc, result, out = run_claude(claude_exe, fresh, "hi")
    assert rc == 0 and result["result"] == f"Hello from {fresh.model('main')}.", out
    assert len(fresh.up.generation_requests()) == 2
    fresh.up.clear()
    fresh.up.script(*[overloaded() for _ in range(3)])
    rc, result, out = run_claude(claude_exe, fresh, "hi", extra_env={"CLAUDE_CODE_MAX_RETRIES": "0"})
    assert rc != 0 and result.get("api_error_status") == 529, out
    assert "Overloaded" in result["result"]
    assert len(fresh.up.generation_requests()) == 1


def test_dropped_stream_gives_claude_code_an_anthropic_error(claude_exe: str, fresh: Serve) -> None:
    fresh.up.configure(repeat=5)
    fresh.up.script(*[drop_after(4) for _ in range(5)])
    rc, result, out = run_claude(claude_exe, fresh, "hi", extra_env={
        "CLAUDE_CODE_MAX_RETRIES": "0", "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1"})
    assert rc != 0 and result.get("is_error"), out
    assert "routesh: the upstream stream broke off" in result["result"]
    assert any(r["status"] == "partial" for r in fresh.rows())


def test_dropped_stream_is_recovered_by_claude_codes_own_fallback(claude_exe: str, fresh: Serve) -> None:
    """By default Claude Code answers a stream error by asking again without streaming."""
    fresh.up.configure(repeat=5)
    fresh.up.script(drop_after(4))
    rc, result, out = run_claude(claude_exe, fresh, "hi")
    assert rc == 0, out
    assert result["result"] == f"Hello from {fresh.model('main')}." * 5
    assert [r.json.get("stream") for r in fresh.up.generation_requests()][0] is True


def test_wrong_token_is_401(claude_exe: str, fresh: Serve) -> None:
    rc, result, out = run_claude(claude_exe, fresh, "hi", token="not-the-token",
                                 extra_env={"CLAUDE_CODE_MAX_RETRIES": "0"})
    assert rc != 0 and result.get("api_error_status") == 401, out
    assert fresh.up.generation_requests() == []


def test_a_key_echoed_by_the_provider_never_reaches_claude(claude_exe: str, fresh: Serve) -> None:
    fresh.up.script(unauthorized(echo_key=True))
    rc, result, out = run_claude(claude_exe, fresh, "hi", extra_env={"CLAUDE_CODE_MAX_RETRIES": "0"})
    assert rc != 0, out
    assert_no_key(out)
    assert "routesh keys set" in out


# ------------------------------------------------------------------------------------------------ routesh code


@pytest.fixture
def code_env(tmp_path: Path) -> Iterator[tuple[Upstream, dict[str, str], Path]]:
    with Upstream() as up:
        cfg = tmp_path / "routes.yaml"
        cfg.write_text(CONFIG.format(url=up.url, kind="anth", prefix="claude"))
        env = _env(tmp_path) | {"ROUTESH_CONFIG": str(cfg), "ANTHROPIC_API_KEY": "sk-ant-inherited-must-not-be-used",
                                "ANTHROPIC_BASE_URL": "http://127.0.0.1:9", "ANTHROPIC_MODEL": "claude-opus-4-7"}
        yield up, env, tmp_path


def test_routesh_code_routes_main_prefix_and_exits_with_claudes_code(
        claude_exe: str, code_env: tuple[Upstream, dict[str, str], Path]) -> None:
    up, env, home = code_env
    r = subprocess.run([sys.executable, "-m", "routesh", "code", "-p", "/architect design a cache",
                        "--output-format", "json"], env=env, cwd=home, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["result"] == "Hello from claude-architect-model."
    (req,) = up.generation_requests()
    assert req.json["model"] == "claude-architect-model"
    assert not any("<command-name>" in t for t in _user_texts(req.json))
    assert req.header("x-api-key") == ANTH_KEY  # the routesh key, not the inherited ANTHROPIC_API_KEY
    up.clear()
    r = subprocess.run([sys.executable, "-m", "routesh", "code", "-p", "hi", "--output-format", "json"], env=env,
                       cwd=home, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and [q.json["model"] for q in up.generation_requests()] == ["claude-main-model"]
    # claude's own exit code comes back: an unknown option makes it exit 1
    r = subprocess.run([sys.executable, "-m", "routesh", "code", "--no-such-claude-option"], env=env, cwd=home,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_routesh_code_leaves_no_orphan(claude_exe: str, code_env: tuple[Upstream, dict[str, str], Path],
                                       how: str) -> None:
    """Ctrl-C, a kill, or a crash of routesh itself: claude and the gateway both go."""
    up, env, home = code_env
    marker = f"ROUTESH_ORPHAN_MARKER_{os.getpid()}_{how}"
    env = env | {marker: "1"}
    up.configure(repeat=2000)
    up.script(slow_stream(0.05))
    proc = subprocess.Popen([sys.executable, "-m", "routesh", "code", "-p", "write a long story"], env=env, cwd=home,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not up.generation_requests() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_with_marker(marker)) >= 2  # routesh and claude
        if how == "SIGINT":
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        else:
            proc.send_signal(getattr(signal, how))
        proc.wait(30)
        assert wait_no_marker(marker, timeout=15) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in processes_with_marker(marker):
            os.kill(pid, signal.SIGKILL)
