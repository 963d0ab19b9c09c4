"""routesh.engines.openai_api against the test upstream, over real sockets (routesh's wire client, no SDK)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

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
    split_text,
    stream_error_after,
    truncate_after,
    unauthorized,
    upstream_fixture,
)

from routesh.core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from routesh.engines import openai_api

KEY = "sk-or-v1-SECRETSECRETSECRET0123456789"


def request(up: Upstream, **kw: object) -> EngineRequest:
    """A small request aimed at the upstream's OpenAI-compatible endpoint."""
    base: dict[str, object] = dict(model="gpt-4.1", messages=(Message("user", "hi"),), base_url=up.openai_url,
                                   api_key=KEY, timeout_s=10.0)
    base.update(kw)
    return EngineRequest(**base)  # type: ignore[arg-type]


def run(req: EngineRequest, cancel: threading.Event | None = None) -> list[Event]:
    return list(openai_api.stream(req, cancel))


def fail(req: EngineRequest) -> EngineError:
    with pytest.raises(EngineError) as info:
        run(req)
    return info.value


def test_streams_text_in_order_then_usage_then_done(upstream: Upstream) -> None:
    events = run(request(upstream))
    assert events[:-2] == [TextDelta(t) for t in split_text("Hello from gpt-4.1.")]
    assert len(events[:-2]) > 3
    assert isinstance(events[-2], Usage)
    assert events[-1] == Done(stop_reason="end_turn")


@pytest.mark.parametrize("placement", ["separate", "finish"])
def test_usage_in_either_place_excludes_cached_from_input(upstream: Upstream, placement: str) -> None:
    # upstream reports prompt_tokens = 40 + 960 = 1000, cached_tokens = 960
    upstream.configure(openai_usage=placement, usage=UsageSpec(input_tokens=40, output_tokens=12,
                                                               cache_read_input_tokens=960))
    events = run(request(upstream))
    assert events[-2] == Usage(input_tokens=40, output_tokens=12, cache_read_tokens=960, cache_write_tokens=0)
    assert events[-1] == Done(stop_reason="end_turn")


def test_no_usage_reported_means_no_usage_event(upstream: Upstream) -> None:
    upstream.configure(openai_usage="none")
    events = run(request(upstream))
    assert not any(isinstance(e, Usage) for e in events) and isinstance(events[-1], Done)


def test_request_asks_for_usage_and_puts_system_first(upstream: Upstream) -> None:
    run(request(upstream, system="Be terse.", max_output_tokens=77,
                messages=(Message("user", "a"), Message("assistant", "b"), Message("user", "c"))))
    (req,) = upstream.generation_requests()
    assert req.path == "/v1/chat/completions" and req.stream
    assert req.json["stream_options"] == {"include_usage": True}
    assert req.json["max_tokens"] == 77 and "max_completion_tokens" not in req.json
    assert req.json["messages"] == [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "a"},
                                    {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]


def test_base_url_without_v1_uses_chat_completions_there(upstream: Upstream) -> None:
    run(request(upstream, base_url=upstream.url))
    assert upstream.generation_requests()[0].path == "/chat/completions"


def test_key_is_sent_as_bearer(upstream: Upstream) -> None:
    run(request(upstream))
    assert upstream.generation_requests()[0].header("authorization") == f"Bearer {KEY}"


def test_key_none_provider_works_and_env_key_does_not_leak(upstream: Upstream, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-openai-must-not-leak")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9")
    assert isinstance(run(request(upstream, api_key=None))[-1], Done)
    (req,) = upstream.generation_requests()
    assert "must-not-leak" not in (req.header("authorization") or "")


def test_sdk_retries_are_off(upstream: Upstream) -> None:
    upstream.script(rate_limited("0"), server_error())
    fail(request(upstream))
    fail(request(upstream))
    assert len(upstream.generation_requests()) == 2


@pytest.mark.parametrize("fault,status,retry_after,ctx", [
    (rate_limited("4"), 429, 4.0, False),
    (server_error(), 500, None, False),
    (overloaded("2"), 529, 2.0, False),
    (unauthorized(), 401, None, False),
    (context_too_long(), 400, None, True),
    (Fault(status=400, message="Invalid value for 'temperature'"), 400, None, False),
    (Fault(status=413, message="Request too large: input is too long for requested model."), 413, None, True),
])
def test_http_errors_are_classified(upstream: Upstream, fault: Fault, status: int, retry_after: float | None,
                                    ctx: bool) -> None:
    upstream.script(fault)
    err = fail(request(upstream))
    assert (err.kind, err.status, err.retry_after, err.context_too_long) == ("http", status, retry_after, ctx)


def test_in_stream_error_object(upstream: Upstream) -> None:
    upstream.script(stream_error_after(3, "server_error"))
    err = fail(request(upstream))
    assert (err.kind, err.status) == ("http", 500)


def test_dropped_connection_mid_stream(upstream: Upstream) -> None:
    upstream.script(drop_after(3))
    seen: list[Event] = []
    with pytest.raises(EngineError) as info:
        for ev in openai_api.stream(request(upstream)):
            seen.append(ev)
    assert info.value.kind == "connection" and seen == [TextDelta("Hello"), TextDelta(" from")]


def test_truncated_stream_is_an_error(upstream: Upstream) -> None:
    upstream.script(truncate_after(3))
    assert fail(request(upstream)).kind == "connection"


def test_malformed_chunk(upstream: Upstream) -> None:
    upstream.script(malformed_after(2))
    assert fail(request(upstream)).kind == "malformed"


def test_content_filter_is_reported_as_refusal(upstream: Upstream) -> None:
    upstream.script(refusal())
    assert run(request(upstream))[-1] == Done(stop_reason="refusal")


def test_slow_first_byte_times_out_on_time(upstream: Upstream) -> None:
    upstream.script(slow_first_byte(10))
    t0 = time.monotonic()
    assert fail(request(upstream, timeout_s=0.5)).kind == "timeout"
    assert time.monotonic() - t0 < 1.5


def test_a_trickling_stream_cannot_outlive_its_timeout(upstream: Upstream) -> None:
    upstream.configure(repeat=20)
    upstream.script(slow_stream(0.2))
    t0 = time.monotonic()
    assert fail(request(upstream, timeout_s=1.0)).kind == "timeout"
    assert time.monotonic() - t0 < 1.6


def test_cancel_stops_a_stream_promptly(upstream: Upstream) -> None:
    upstream.configure(repeat=50)
    upstream.script(slow_stream(0.1))
    cancel = threading.Event()
    t0 = 0.0
    with pytest.raises(EngineError) as info:
        for i, _ in enumerate(openai_api.stream(request(upstream), cancel)):
            if i == 1:
                cancel.set()
                t0 = time.monotonic()
    assert info.value.kind == "cancelled" and time.monotonic() - t0 < 0.3


@pytest.mark.parametrize("fault", [unauthorized(echo_key=True), rate_limited(), context_too_long(),
                                   Fault(status=500, message=f"proxy failed for key {KEY}")])
def test_no_key_material_in_errors(upstream: Upstream, fault: Fault) -> None:
    upstream.script(fault)
    err = fail(request(upstream))
    for text in (str(err), repr(err), err.message):
        assert KEY not in text and "SECRETSECRET" not in text


def test_sdk_is_not_imported_until_needed() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import routesh.engines.openai_api"],
                         capture_output=True, text=True, check=True).stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in out.splitlines() if "|" in line}
    assert not {m for m in modules if m == "openai" or m.startswith("openai.")}


def test_preload_imports_the_wire_client_never_the_sdk() -> None:
    code = ("import sys, routesh.engines.openai_api as o; o.preload(); "
            "assert 'routesh.engines.wire' in sys.modules and 'routesh.engines.sse' in sys.modules; "
            "assert 'openai' not in sys.modules and 'httpx' not in sys.modules and 'asyncio' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
