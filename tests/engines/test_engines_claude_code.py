"""routesh.engines.claude_code: environment and argv, a scripted fake `claude` for edge cases and
process-group cleanup, and the real Claude Code end to end against the test upstream."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from upstream import (  # noqa: F401 - fixtures
    Upstream,
    UsageSpec,
    claude_exe_fixture,
    context_too_long,
    processes_with_marker,
    refusal,
    slow_first_byte,
    slow_stream,
    upstream_fixture,
    wait_no_marker,
)

from routesh.core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from routesh.engines import claude_code

KEY = "sk-ant-api03-ROUTEKEYROUTEKEY-xyz"
TOKEN = "tok-bearer-ROUTETOKEN-123456"
INHERITED = "sk-ant-inherited-INHERITED-999"


def request(**kw: object) -> EngineRequest:
    """A one-message request; tests fill in base_url/auth/claude_path."""
    base: dict[str, object] = dict(model="claude-route-model", messages=(Message("user", "hi"),), api_key=KEY,
                                   timeout_s=60.0)
    base.update(kw)
    return EngineRequest(**base)  # type: ignore[arg-type]


def run(req: EngineRequest, cancel: threading.Event | None = None) -> list[Event]:
    return list(claude_code.stream(req, cancel))


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# ---- environment and command line -------------------------------------------------------------

INHERITED_ENV = {
    "PATH": "/usr/bin", "HOME": "/home/u",
    "ANTHROPIC_MODEL": "inherited-model", "ANTHROPIC_BASE_URL": "https://elsewhere.example",
    "ANTHROPIC_API_KEY": INHERITED, "ANTHROPIC_AUTH_TOKEN": "tok-inherited",
    "ANTHROPIC_DEFAULT_OPUS_MODEL": "x", "ANTHROPIC_DEFAULT_SONNET_MODEL": "y", "ANTHROPIC_DEFAULT_HAIKU_MODEL": "z",
    "ANTHROPIC_SMALL_FAST_MODEL": "w", "CLAUDE_CODE_SUBAGENT_MODEL": "v", "CLAUDE_CODE_USE_BEDROCK": "1",
    "ANTHROPIC_LOG": "debug",
}


def test_env_api_key_route_replaces_everything_inherited() -> None:
    env = claude_code.build_env(request(base_url="http://127.0.0.1:1"), INHERITED_ENV)
    assert env["ANTHROPIC_MODEL"] == "claude-route-model"
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["ANTHROPIC_API_KEY"] == KEY and "ANTHROPIC_AUTH_TOKEN" not in env
    for var in ("ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL",
                "ANTHROPIC_SMALL_FAST_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL", "CLAUDE_CODE_USE_BEDROCK"):
        assert var not in env
    assert env["PATH"] == "/usr/bin" and env["ANTHROPIC_LOG"] == "debug"  # unrelated vars are kept


def test_env_bearer_uses_auth_token() -> None:
    env = claude_code.build_env(request(api_key=TOKEN, auth="bearer"), INHERITED_ENV)
    assert env["ANTHROPIC_AUTH_TOKEN"] == TOKEN and "ANTHROPIC_API_KEY" not in env
    assert "ANTHROPIC_BASE_URL" not in env  # no base_url on the route: the inherited one is not kept


def test_env_subscription_passes_no_key_at_all() -> None:
    env = claude_code.build_env(request(auth="subscription"), INHERITED_ENV)
    assert "ANTHROPIC_API_KEY" not in env and "ANTHROPIC_AUTH_TOKEN" not in env
    assert KEY not in json.dumps(env) and INHERITED not in json.dumps(env)


def test_env_extra_models_then_route_env_on_top() -> None:
    req = request(extra_models={"subagent": "sub-m", "haiku": "h-m", "sonnet": "s-m", "opus": "o-m",
                                "background": "bg-m"},
                  env={"ANTHROPIC_DEFAULT_OPUS_MODEL": "override", "MAX_THINKING_TOKENS": "0"})
    env = claude_code.build_env(req, {})
    assert env["CLAUDE_CODE_SUBAGENT_MODEL"] == "sub-m"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "h-m"  # explicit haiku beats background
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "s-m"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "override" and env["MAX_THINKING_TOKENS"] == "0"
    assert claude_code.build_env(request(extra_models={"background": "bg-m"}), {})[
        "ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "bg-m"


def test_env_key_none_endpoint_gets_a_placeholder_credential() -> None:
    env = claude_code.build_env(request(api_key=None, base_url="http://127.0.0.1:1"), INHERITED_ENV)
    assert env["ANTHROPIC_API_KEY"] == "no-key" and INHERITED not in json.dumps(env)


def test_argv_has_the_flags_and_never_the_prompt() -> None:
    argv = claude_code.build_argv(request(resume_session="sess-1", system="Be terse.",
                                          messages=(Message("user", "--dangerous prompt"),)), "/bin/claude")
    assert argv[:7] == ["/bin/claude", "-p", "--output-format", "stream-json", "--verbose",
                        "--include-partial-messages", "--model"]
    assert argv[7] == "claude-route-model"
    assert argv[argv.index("--resume") + 1] == "sess-1"
    assert argv[argv.index("--append-system-prompt") + 1] == "Be terse."
    assert "--dangerous prompt" not in argv


def test_missing_binary_is_one_line_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for req in (request(claude_path="/nonexistent/claude"), request()):
        monkeypatch.setenv("PATH", "/nonexistent")
        with pytest.raises(EngineError) as info:
            run(req)
        assert info.value.kind == "missing-binary"
        assert "npm install -g @anthropic-ai/claude-code" in info.value.message
        assert "\n" not in info.value.message


# ---- a scripted fake claude -------------------------------------------------------------------

FAKE = r'''#!{python}
import json, os, signal, subprocess, sys, time
mode = os.environ.get("FAKE_CLAUDE_MODE", "ok")
prompt = sys.stdin.read()
dump = os.environ.get("FAKE_CLAUDE_DUMP")
if dump:
    with open(dump, "w") as fh:
        json.dump({{"argv": sys.argv[1:], "prompt": prompt,
                   "env": {{k: v for k, v in os.environ.items() if k.startswith(("ANTHROPIC_", "CLAUDE_CODE_"))}}}}, fh)
def out(obj):
    print(json.dumps(obj), flush=True)
def ev(event, parent=None):
    out({{"type": "stream_event", "event": event, "session_id": "fake-session", "parent_tool_use_id": parent}})
def text(t, parent=None):
    ev({{"type": "content_block_delta", "index": 0, "delta": {{"type": "text_delta", "text": t}}}}, parent)
out({{"type": "system", "subtype": "init", "session_id": "fake-session"}})
if mode == "noresult":
    print("boom: something broke", file=sys.stderr, flush=True)
    sys.exit(3)
if mode in ("hang", "stubborn"):
    subprocess.Popen(["sleep", "300"])  # a grandchild in the same process group
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    ev({{"type": "message_start"}})
    text("partial")
    while True:
        time.sleep(1)
print("not json: a warning line", flush=True)
ev({{"type": "message_start"}})
text("echo:")
text(prompt)
ev({{"type": "content_block_delta", "index": 1, "delta": {{"type": "thinking_delta", "thinking": "hmm"}}}})
text("SUBAGENT TEXT", parent="toolu_1")
ev({{"type": "message_start"}})
text("second turn")
if mode == "error":
    out({{"type": "result", "subtype": "success", "is_error": True, "api_error_status": 429,
          "result": "API Error: 429 rate limited for key " + os.environ.get("ANTHROPIC_API_KEY", ""),
          "session_id": "fake-session"}})
    sys.exit(1)
out({{"type": "result", "subtype": "success", "is_error": False, "result": "x", "stop_reason": "end_turn",
      "session_id": "fake-session", "total_cost_usd": 0.0123,
      "usage": {{"input_tokens": 11, "output_tokens": 22, "cache_read_input_tokens": 33,
                "cache_creation_input_tokens": 44}}}})
'''


@pytest.fixture
def fake_claude(tmp_path: Path) -> Path:
    """An executable that speaks claude's stream-json, steered by FAKE_CLAUDE_MODE."""
    path = tmp_path / "claude"
    path.write_text(FAKE.format(python=sys.executable))
    path.chmod(0o755)
    return path


def test_fake_parses_text_usage_cost_and_session(fake_claude: Path, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    req = request(claude_path=str(fake_claude), env={"FAKE_CLAUDE_DUMP": str(dump)},
                  messages=(Message("user", "first"), Message("assistant", "ok"), Message("user", "-p last")))
    events = run(req)
    text = text_of(events)  # the earlier turns go first (no session to resume), then the prompt, on stdin
    assert text.startswith("echo:<conversation_so_far>") and text.endswith("</conversation_so_far>\n\n-p last\n\n"
                                                                          "second turn")  # subagent/thinking left out
    assert events[-2] == Usage(input_tokens=11, output_tokens=22, cache_read_tokens=33, cache_write_tokens=44,
                               cost_usd=0.0123)
    assert events[-1] == Done(stop_reason="end_turn", session_id="fake-session")
    seen = json.loads(dump.read_text())
    assert seen["prompt"].endswith("\n\n-p last") and "-p last" not in seen["argv"] and "--model" in seen["argv"]
    assert seen["env"]["ANTHROPIC_MODEL"] == "claude-route-model" and seen["env"]["ANTHROPIC_API_KEY"] == KEY


def test_fake_is_error_result_is_an_engine_error_without_the_key(fake_claude: Path) -> None:
    with pytest.raises(EngineError) as info:
        run(request(claude_path=str(fake_claude), env={"FAKE_CLAUDE_MODE": "error"}))
    err = info.value
    assert (err.kind, err.status) == ("http", 429)
    assert KEY not in str(err) and KEY not in repr(err) and "ROUTEKEY" not in err.message


def test_fake_exit_without_result_reports_stderr(fake_claude: Path) -> None:
    with pytest.raises(EngineError) as info:
        run(request(claude_path=str(fake_claude), env={"FAKE_CLAUDE_MODE": "noresult"}))
    assert "code 3" in info.value.message and "boom" in info.value.message


@pytest.mark.parametrize("mode", ["hang", "stubborn"])
def test_fake_cancel_kills_the_whole_process_group(fake_claude: Path, mode: str) -> None:
    marker = f"routesh-test-{uuid.uuid4().hex}"
    cancel = threading.Event()
    req = request(claude_path=str(fake_claude), env={"FAKE_CLAUDE_MODE": mode, "ROUTESH_TEST_MARKER": marker})
    with pytest.raises(EngineError) as info:
        for ev in claude_code.stream(req, cancel):
            assert ev == TextDelta("partial")
            cancel.set()
    assert info.value.kind == "cancelled"
    assert wait_no_marker(marker, 1.0) == []  # claude and its grandchild are both gone already


def test_fake_timeout_kills_the_group(fake_claude: Path) -> None:
    marker = f"routesh-test-{uuid.uuid4().hex}"
    req = request(claude_path=str(fake_claude), timeout_s=1.0,
                  env={"FAKE_CLAUDE_MODE": "hang", "ROUTESH_TEST_MARKER": marker})
    t0 = time.monotonic()
    with pytest.raises(EngineError) as info:
        run(req)
    assert info.value.kind == "timeout" and time.monotonic() - t0 < 3.5
    assert wait_no_marker(marker, 1.0) == []


def test_fake_generator_close_kills_the_group(fake_claude: Path) -> None:
    marker = f"routesh-test-{uuid.uuid4().hex}"
    gen = claude_code.stream(request(claude_path=str(fake_claude),
                                     env={"FAKE_CLAUDE_MODE": "hang", "ROUTESH_TEST_MARKER": marker}))
    assert next(gen) == TextDelta("partial")
    gen.close()
    assert wait_no_marker(marker, 1.0) == []


# ---- the real Claude Code, end to end -----------------------------------------------------------


def real(up: Upstream, exe: str, **kw: object) -> EngineRequest:
    """A request that drives the real claude at the upstream."""
    base: dict[str, object] = dict(base_url=up.url, claude_path=exe, timeout_s=90.0)
    base.update(kw)
    return request(**base)


def test_real_claude_api_key_route(upstream: Upstream, claude_exe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-inherited-must-be-cleared")
    monkeypatch.setenv("ANTHROPIC_MODEL", "inherited-model")
    upstream.configure(usage=UsageSpec(input_tokens=30, output_tokens=6, cache_read_input_tokens=1000,
                                       cache_creation_input_tokens=200))
    events = run(real(upstream, claude_exe))
    assert text_of(events) == "Hello from claude-route-model."
    usage, done = events[-2], events[-1]
    assert isinstance(usage, Usage) and (usage.input_tokens, usage.output_tokens) == (30, 6)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (1000, 200)
    assert usage.cost_usd is not None and usage.cost_usd > 0
    assert isinstance(done, Done) and done.stop_reason == "end_turn" and done.session_id
    gens = upstream.generation_requests()
    assert gens and all(r.model == "claude-route-model" for r in gens)
    assert all(r.header("x-api-key") == KEY and r.header("authorization") is None for r in gens)


def test_real_claude_bearer_route(upstream: Upstream, claude_exe: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", INHERITED)
    events = run(real(upstream, claude_exe, api_key=TOKEN, auth="bearer", model="claude-bearer-model"))
    assert text_of(events) == "Hello from claude-bearer-model."
    gens = upstream.generation_requests()
    assert gens and all(r.header("authorization") == f"Bearer {TOKEN}" and r.header("x-api-key") is None
                        for r in gens)


def test_real_claude_subscription_sends_neither_key(upstream: Upstream, claude_exe: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", INHERITED)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-inherited-must-be-cleared")
    with pytest.raises(EngineError) as info:  # the temp HOME has no login: claude says so
        run(real(upstream, claude_exe, auth="subscription"))
    assert info.value.status == 401 and "login" in info.value.message.lower()
    for r in upstream.requests:
        sent = json.dumps(dict(r.headers))
        assert KEY not in sent and INHERITED not in sent and "must-be-cleared" not in sent


def test_real_claude_alias_resolves_through_extra_models(upstream: Upstream, claude_exe: str) -> None:
    run(real(upstream, claude_exe, model="sonnet", extra_models={"sonnet": "my-sonnet-id"}))
    assert {r.model for r in upstream.generation_requests()} == {"my-sonnet-id"}


def test_real_claude_resume_continues_the_session(upstream: Upstream, claude_exe: str) -> None:
    first = run(real(upstream, claude_exe, messages=(Message("user", "remember 42"),)))
    session = first[-1].session_id  # type: ignore[union-attr]
    assert session
    second = run(real(upstream, claude_exe, messages=(Message("user", "what number?"),), resume_session=session))
    assert second[-1].session_id == session  # type: ignore[union-attr]
    history = json.dumps(upstream.generation_requests()[-1].json["messages"])
    assert "remember 42" in history and "Hello from claude-route-model." in history


def test_real_claude_context_too_long(upstream: Upstream, claude_exe: str) -> None:
    upstream.script(context_too_long())
    with pytest.raises(EngineError) as info:
        run(real(upstream, claude_exe))
    assert (info.value.status, info.value.context_too_long) == (400, True)


def test_real_claude_refusal_is_a_stop_reason(upstream: Upstream, claude_exe: str) -> None:
    upstream.script(refusal())
    assert run(real(upstream, claude_exe))[-1].stop_reason == "refusal"  # type: ignore[union-attr]


def test_real_claude_cancel_leaves_no_process(upstream: Upstream, claude_exe: str) -> None:
    marker = f"routesh-test-{uuid.uuid4().hex}"
    upstream.configure(repeat=100)
    upstream.script(slow_stream(0.1))
    cancel = threading.Event()
    with pytest.raises(EngineError) as info:
        for ev in claude_code.stream(real(upstream, claude_exe, env={"ROUTESH_TEST_MARKER": marker}), cancel):
            if isinstance(ev, TextDelta) and not cancel.is_set():
                assert processes_with_marker(marker)  # the check below can see a live claude
                cancel.set()
    assert info.value.kind == "cancelled"
    assert wait_no_marker(marker, 2.0) == []


def test_real_claude_timeout_leaves_no_process(upstream: Upstream, claude_exe: str) -> None:
    marker = f"routesh-test-{uuid.uuid4().hex}"
    upstream.script(slow_first_byte(60))
    t0 = time.monotonic()
    with pytest.raises(EngineError) as info:
        run(real(upstream, claude_exe, timeout_s=3.0, env={"ROUTESH_TEST_MARKER": marker}))
    assert info.value.kind == "timeout" and time.monotonic() - t0 < 3.0 + claude_code.TERM_GRACE_S + 1
    assert wait_no_marker(marker, 2.0) == []
    assert os.environ.get("ROUTESH_TEST_MARKER") is None


def test_no_user_message_is_refused_before_starting_claude(fake_claude: Path) -> None:
    with pytest.raises(EngineError) as info:
        run(request(claude_path=str(fake_claude), messages=(Message("assistant", "hello"),)))
    assert info.value.kind == "malformed"


def test_the_prompt_carries_turns_claude_has_not_seen_unless_it_resumes() -> None:
    from routesh.core.events import EngineRequest, Message
    from routesh.engines.claude_code import _prompt

    turns = (Message("user", "the word is avocado"), Message("assistant", "noted"), Message("user", "which word?"))
    fresh = _prompt(EngineRequest(model="m", messages=turns))
    assert fresh.startswith("<conversation_so_far>") and fresh.endswith("</conversation_so_far>\n\nwhich word?")
    assert "<user>\nthe word is avocado\n</user>" in fresh and "<assistant>\nnoted\n</assistant>" in fresh
    assert _prompt(EngineRequest(model="m", messages=turns, resume_session="s-1")) == "which word?"
    assert _prompt(EngineRequest(model="m", messages=turns[2:])) == "which word?"
