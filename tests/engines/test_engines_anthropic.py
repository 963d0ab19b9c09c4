"""routesh.engines.anthropic_api against the test upstream, over real sockets (routesh's wire client, no SDK)."""

from __future__ import annotations

import email.utils
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from upstream import (  # noqa: F401 - fixture
    Fault,
    Upstream,
    UsageSpec,
    context_too_long,
    drop_after,
    malformed_after,
    overloaded,
    rate_limited,
    refusal,
    server_error,
    slow_first_byte,
    slow_stream,
    stream_error_after,
    truncate_after,
    unauthorized,
    upstream_fixture,
)

from routesh.core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from routesh.engines import anthropic_api

KEY = "sk-ant-api03-SECRETSECRETSECRET-abcdef"


def request(up: Upstream, **kw: object) -> EngineRequest:
    """A small request aimed at the upstream."""
    base: dict[str, object] = dict(model="claude-sonnet-4-6", messages=(Message("user", "hi"),), base_url=up.url,
                                   api_key=KEY, timeout_s=10.0)
    base.update(kw)
    return EngineRequest(**base)  # type: ignore[arg-type]


def run(req: EngineRequest, cancel: threading.Event | None = None) -> list[Event]:
    return list(anthropic_api.stream(req, cancel))


def fail(req: EngineRequest) -> EngineError:
    with pytest.raises(EngineError) as info:
        run(req)
    return info.value


def test_streams_text_in_order_then_usage_then_done(upstream: Upstream) -> None:
    upstream.configure(usage=UsageSpec(input_tokens=12, output_tokens=7, cache_read_input_tokens=3000,
                                       cache_creation_input_tokens=400))
    events = run(request(upstream))
    # message_start's counts come first, so a cancelled answer is still counted; the final usage at the end
    assert events[0] == Usage(input_tokens=12, output_tokens=1, cache_read_tokens=3000, cache_write_tokens=400,
                              final=False)
    assert events[1:-2] == [TextDelta("Hello"), TextDelta(" from"), TextDelta(" claude-sonnet-4-6"), TextDelta(".")]
    assert events[-2] == Usage(input_tokens=12, output_tokens=7, cache_read_tokens=3000, cache_write_tokens=400)
    assert events[-1] == Done(stop_reason="end_turn", session_id=None)


def test_usage_when_message_delta_repeats_input_and_cache(upstream: Upstream) -> None:
    upstream.configure(delta_usage="full", usage=UsageSpec(20, 9, 100, 5))
    assert run(request(upstream))[-2] == Usage(20, 9, 100, 5)


def test_thinking_deltas_are_not_answer_text(upstream: Upstream) -> None:
    upstream.configure(thinking="secret plan")
    # the engine never asks for thinking, so the upstream sends none; the text is unchanged either way
    text = "".join(e.text for e in run(request(upstream)) if isinstance(e, TextDelta))
    assert text == "Hello from claude-sonnet-4-6."


def test_request_carries_model_system_max_tokens_and_messages(upstream: Upstream) -> None:
    msgs = (Message("user", "one"), Message("assistant", "two"), Message("user", "three"))
    run(request(upstream, model="claude-opus-4-7", system="Be terse.", max_output_tokens=321, messages=msgs))
    (req,) = upstream.generation_requests()
    assert req.path == "/v1/messages" and req.stream
    assert req.json["model"] == "claude-opus-4-7" and req.json["system"] == "Be terse."
    assert req.json["max_tokens"] == 321
    assert req.json["messages"] == [{"role": "user", "content": "one"}, {"role": "assistant", "content": "two"},
                                    {"role": "user", "content": "three"}]
    run(request(upstream))
    assert "system" not in upstream.generation_requests()[-1].json


def test_api_key_and_bearer_auth_reach_the_upstream(upstream: Upstream) -> None:
    run(request(upstream))
    run(request(upstream, api_key="tok-bearer-123456", auth="bearer"))
    first, second = upstream.generation_requests()
    # this SDK version may send an api key as x-api-key or as a bearer token; either way it is ours
    assert KEY in (first.header("x-api-key"), (first.header("authorization") or "").removeprefix("Bearer "))
    assert second.header("authorization") == "Bearer tok-bearer-123456" and second.header("x-api-key") is None


def test_no_key_sends_no_credential_and_ignores_the_environment(upstream: Upstream,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-must-not-leak")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-from-env-must-not-leak")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # would contradict the route
    assert isinstance(run(request(upstream, api_key=None))[-1], Done)
    (req,) = upstream.generation_requests()
    assert req.header("x-api-key") is None and req.header("authorization") is None


def test_base_url_with_v1_suffix_is_accepted(upstream: Upstream) -> None:
    assert isinstance(run(request(upstream, base_url=upstream.url + "/v1/"))[-1], Done)
    assert upstream.generation_requests()[0].path == "/v1/messages"


def test_connections_are_reused_across_calls(upstream: Upstream) -> None:
    for _ in range(3):
        run(request(upstream))
    assert upstream.connections == 1


def test_sdk_retries_are_off(upstream: Upstream) -> None:
    upstream.script(rate_limited("0"), server_error(), overloaded())
    for _ in range(3):
        fail(request(upstream))
    assert len(upstream.generation_requests()) == 3  # one request per attempt, no hidden retries


@pytest.mark.parametrize("fault,status,retry_after,ctx", [
    (rate_limited("7"), 429, 7.0, False),
    (rate_limited("1.5"), 429, 1.5, False),
    (rate_limited(None, retry_after_ms="2500"), 429, 2.5, False),
    (server_error(), 500, None, False),
    (overloaded("3"), 529, 3.0, False),
    (unauthorized(), 401, None, False),
    (Fault(status=403), 403, None, False),
    (context_too_long(), 400, None, True),
    (Fault(status=400, message="max_tokens: 100000 > 64000, which is the maximum"), 400, None, False),
])
def test_http_errors_are_classified(upstream: Upstream, fault: Fault, status: int, retry_after: float | None,
                                    ctx: bool) -> None:
    upstream.script(fault)
    err = fail(request(upstream))
    assert (err.kind, err.status, err.retry_after, err.context_too_long) == ("http", status, retry_after, ctx)
    assert str(status) in err.message and "request-id req_" in err.message


def test_retry_after_as_http_date(upstream: Upstream) -> None:
    upstream.script(rate_limited(email.utils.formatdate(time.time() + 30, usegmt=True)))
    err = fail(request(upstream))
    assert err.retry_after is not None and 25 <= err.retry_after <= 31


def test_in_stream_overloaded_error_event(upstream: Upstream) -> None:
    upstream.script(stream_error_after(5))
    with pytest.raises(EngineError) as info:
        for _ in anthropic_api.stream(request(upstream)):
            pass
    assert (info.value.kind, info.value.status) == ("http", 529)


def test_dropped_connection_mid_stream_after_text(upstream: Upstream) -> None:
    upstream.script(drop_after(5))
    seen: list[Event] = []
    with pytest.raises(EngineError) as info:
        for ev in anthropic_api.stream(request(upstream)):
            seen.append(ev)
    assert info.value.kind == "connection"
    assert seen == [Usage(21, 1, final=False), TextDelta("Hello"), TextDelta(" from")]  # partial answer shown first


def test_truncated_stream_is_an_error_not_a_short_answer(upstream: Upstream) -> None:
    upstream.script(truncate_after(5))
    assert fail(request(upstream)).kind == "connection"


def test_malformed_event(upstream: Upstream) -> None:
    upstream.script(malformed_after(4))
    assert fail(request(upstream)).kind == "malformed"


def test_refusal_is_a_stop_reason(upstream: Upstream) -> None:
    upstream.script(refusal())
    events = run(request(upstream))
    assert events[-1] == Done(stop_reason="refusal")
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "I can't help with that."


def test_connection_refused_is_a_connection_error() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    req = EngineRequest(model="m", messages=(Message("user", "hi"),), base_url=f"http://127.0.0.1:{port}",
                        api_key=KEY, timeout_s=5)
    err = fail(req)
    assert err.kind == "connection" and err.status is None


def test_slow_first_byte_times_out_on_time(upstream: Upstream) -> None:
    upstream.script(slow_first_byte(10))
    t0 = time.monotonic()
    err = fail(request(upstream, timeout_s=0.5))
    assert err.kind == "timeout"
    assert 0.45 <= time.monotonic() - t0 < 1.5


def test_a_trickling_stream_cannot_outlive_its_timeout(upstream: Upstream) -> None:
    upstream.configure(repeat=20)
    upstream.script(slow_stream(0.2))  # each gap is well under the timeout; the whole is not
    t0 = time.monotonic()
    with pytest.raises(EngineError) as info:
        for _ in anthropic_api.stream(request(upstream, timeout_s=1.0)):
            pass
    assert info.value.kind == "timeout"
    assert time.monotonic() - t0 < 1.6


def test_cancel_stops_a_stream_promptly(upstream: Upstream) -> None:
    upstream.configure(repeat=50)
    upstream.script(slow_stream(0.1))
    cancel = threading.Event()
    seen = 0
    with pytest.raises(EngineError) as info:
        for _ in anthropic_api.stream(request(upstream), cancel):
            seen += 1
            if seen == 2:
                cancel.set()
                t0 = time.monotonic()
    assert info.value.kind == "cancelled"
    assert time.monotonic() - t0 < 0.3 and seen == 2


def test_cancel_while_waiting_for_the_first_byte(upstream: Upstream) -> None:
    upstream.script(slow_first_byte(5))
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(EngineError) as info:
        run(request(upstream), cancel)
    assert info.value.kind == "cancelled" and time.monotonic() - t0 < 0.6


def test_closing_the_generator_early_is_quiet(upstream: Upstream) -> None:
    upstream.configure(repeat=50)
    gen = anthropic_api.stream(request(upstream))
    assert isinstance(next(gen), Usage) and isinstance(next(gen), TextDelta)
    gen.close()
    assert isinstance(run(request(upstream))[-1], Done)  # the client still works afterwards


@pytest.mark.parametrize("fault", [unauthorized(echo_key=True), rate_limited(), server_error(), context_too_long(),
                                   Fault(status=400, message=f"bad header x-api-key: {KEY}"),
                                   Fault(status=500,
                                         message="upstream said Authorization: Bearer sk-other-leaked-key")])
def test_no_key_material_in_errors(upstream: Upstream, fault: Fault) -> None:
    upstream.script(fault)
    err = fail(request(upstream))
    for text in (str(err), repr(err), err.message, repr(err.args)):
        assert KEY not in text and "SECRETSECRET" not in text and "sk-other-leaked-key" not in text


def test_request_repr_hides_the_key(upstream: Upstream) -> None:
    assert KEY not in repr(request(upstream))


def test_sdk_is_not_imported_until_needed() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import routesh.engines.anthropic_api"],
                         capture_output=True, text=True, check=True).stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if "|" in line}
    assert not {m for m in modules if m == "anthropic" or m.startswith("anthropic.")}
    assert "httpx2" not in modules and "httpx" not in modules


def test_preload_imports_the_wire_client_never_the_sdk() -> None:
    code = ("import sys, routesh.engines.anthropic_api as a; a.preload(); "
            "assert 'routesh.engines.wire' in sys.modules and 'routesh.engines.sse' in sys.modules; "
            "assert 'anthropic' not in sys.modules and 'httpx' not in sys.modules and 'asyncio' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_timeout_override_per_request_uses_the_same_client(upstream: Upstream) -> None:
    run(request(upstream, timeout_s=5))
    upstream.script(slow_first_byte(2))
    assert fail(replace(request(upstream), timeout_s=0.3)).kind == "timeout"


# ---- shared engine helpers (routesh/engines/common.py) ---------------------------------------

from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from routesh.engines.common import looks_like_context_error, parse_retry_after, scrub  # noqa: E402
from routesh.engines.registry import engine_for


def test_engine_for_picks_by_type_and_via() -> None:
    from routesh.engines import claude_code, openai_api

    assert engine_for("anthropic") is anthropic_api
    assert engine_for("openai", "api") is openai_api
    assert engine_for("anthropic", "claude-code") is claude_code
    with pytest.raises(ValueError):
        engine_for("bedrock")


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after({"retry-after": "12"}, now) == 12.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "12"}, now) == 0.25
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 20, usegmt=True)}, now) == 20.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 20, usegmt=True)}, now) == 0.0
    assert parse_retry_after({"retry-after": "soon"}, now) is None
    assert parse_retry_after({}, now) is None


@given(prefix=st.sampled_from(["sk-", "sk-ant-api03-", "sk-or-v1-", "sk-proj-"]),
       body=st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=12,
                    max_size=60),
       before=st.text(max_size=20), after=st.sampled_from(["", " ", ".", "\"", "'", ",", "\n"]))
@settings(max_examples=200, deadline=None)
def test_scrub_removes_key_shaped_strings(prefix: str, body: str, before: str, after: str) -> None:
    assume(body not in before)
    key = prefix + body
    out = scrub(f"{before} {key}{after}")
    assert body not in out


def test_scrub_removes_exact_secrets_and_bearer_values() -> None:
    assert "hunter2hunter2" not in scrub("token=hunter2hunter2", "hunter2hunter2")
    assert "abcdef123456" not in scrub("Authorization: Bearer abcdef123456")
    assert scrub("HTTP 429 rate_limit_error: slow down") == "HTTP 429 rate_limit_error: slow down"


def test_context_error_detection() -> None:
    assert looks_like_context_error(400, "prompt is too long: 215364 tokens > 200000 maximum")
    assert looks_like_context_error(400, "x", "context_length_exceeded")
    assert looks_like_context_error(400, "This model's maximum context length is 8192 tokens.")
    assert not looks_like_context_error(400, "max_tokens: 100000 > 64000, which is the maximum allowed")
    assert not looks_like_context_error(429, "prompt is too long")
