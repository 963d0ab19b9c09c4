"""The test upstream itself: wire formats as the real APIs send them, faults, recording, keep-alive."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from upstream import (  # noqa: F401 - fixtures
    Fault,
    Upstream,
    UsageSpec,
    claude_exe_fixture,
    context_too_long,
    drop_after,
    malformed_after,
    overloaded,
    rate_limited,
    refusal,
    slow_first_byte,
    split_text,
    stream_error_after,
    truncate_after,
    unauthorized,
    upstream_fixture,
)

ANTHROPIC_BODY = {"model": "claude-sonnet-4-6", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
OPENAI_BODY = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"}]}


def post(up: Upstream, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
         conn: http.client.HTTPConnection | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    """POST JSON over a real socket; returns the response and its whole body."""
    c = conn or http.client.HTTPConnection("127.0.0.1", up.port, timeout=10)
    c.request("POST", path, json.dumps(body), {"content-type": "application/json", **(headers or {})})
    resp = c.getresponse()
    return resp, resp.read()


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) pairs from an SSE body."""
    out = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        out.append((name, "\n".join(data)))
    return out


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_split_text_joins_back_to_the_text(text: str) -> None:
    assert "".join(split_text(text)) == text


def test_default_reply_is_split_across_several_deltas() -> None:
    assert split_text("Hello from claude-sonnet-4-6.") == ("Hello", " from", " claude-sonnet-4-6", ".")


def test_anthropic_stream_has_the_real_event_sequence(upstream: Upstream) -> None:
    upstream.configure(usage=UsageSpec(input_tokens=11, output_tokens=4, cache_read_input_tokens=50,
                                       cache_creation_input_tokens=6))
    resp, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    assert resp.status == 200
    assert resp.getheader("content-type") == "text/event-stream; charset=utf-8"
    assert resp.getheader("transfer-encoding") == "chunked"
    assert resp.getheader("request-id", "").startswith("req_")
    assert resp.getheader("anthropic-ratelimit-requests-remaining") is not None
    events = sse_events(raw)
    names = [n for n, _ in events]
    assert names == ["message_start", "content_block_start", "ping"] + ["content_block_delta"] * 4 + [
        "content_block_stop", "message_delta", "message_stop"]
    for name, data in events:
        assert json.loads(data)["type"] == name  # every event names its type in data too
    start = json.loads(events[0][1])["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["model"] == "claude-sonnet-4-6"
    assert start["usage"] == {"input_tokens": 11, "cache_creation_input_tokens": 6,
                              "cache_read_input_tokens": 50, "output_tokens": 1}
    text = "".join(json.loads(d)["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "Hello from claude-sonnet-4-6."
    delta = json.loads(events[-2][1])
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"output_tokens": 4}


def test_anthropic_message_delta_can_repeat_full_usage(upstream: Upstream) -> None:
    upstream.configure(delta_usage="full", usage=UsageSpec(3, 4, 5, 6))
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    delta = json.loads(sse_events(raw)[-2][1])
    assert delta["usage"] == {"input_tokens": 3, "cache_creation_input_tokens": 6,
                              "cache_read_input_tokens": 5, "output_tokens": 4}


def test_anthropic_non_streaming_message(upstream: Upstream) -> None:
    resp, raw = post(upstream, "/v1/messages", ANTHROPIC_BODY)
    assert resp.status == 200 and resp.getheader("content-type") == "application/json"
    msg = json.loads(raw)
    assert msg["type"] == "message" and msg["role"] == "assistant"
    assert msg["content"] == [{"type": "text", "text": "Hello from claude-sonnet-4-6."}]
    assert msg["stop_reason"] == "end_turn"
    assert set(msg["usage"]) == {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                 "cache_creation_input_tokens"}


def test_thinking_block_only_when_the_request_enables_thinking(upstream: Upstream) -> None:
    upstream.configure(thinking="Let me think.")
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True, "max_tokens": 2048,
                                             "thinking": {"type": "enabled", "budget_tokens": 1024}})
    deltas = [json.loads(d)["delta"]["type"] for n, d in sse_events(raw) if n == "content_block_delta"]
    assert deltas[0] == "thinking_delta" and "signature_delta" in deltas and deltas[-1] == "text_delta"
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    assert all(json.loads(d)["delta"]["type"] == "text_delta" for n, d in sse_events(raw) if n == "content_block_delta")


@pytest.mark.parametrize(("change", "says"), [
    ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "max_tokens` must be greater"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "t", "signature": ""}, {"type": "text", "text": "a"}]},
        {"role": "user", "content": "more"}]}, "Invalid `signature`"),
])
def test_anthropic_checks_thinking_like_the_api(upstream: Upstream, change: dict, says: str) -> None:
    resp, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, **change})
    assert resp.status == 400 and says in json.loads(raw)["error"]["message"]


def test_anthropic_invalid_request_is_rejected_like_the_api(upstream: Upstream) -> None:
    resp, raw = post(upstream, "/v1/messages", {"model": "m", "messages": []})
    assert resp.status == 400
    body = json.loads(raw)
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("placement,include", [("auto", True), ("separate", True), ("finish", False),
                                               ("finish", True), ("auto", False), ("none", True)])
def test_openai_stream_usage_placements(upstream: Upstream, placement: str, include: bool) -> None:
    upstream.configure(openai_usage=placement, usage=UsageSpec(input_tokens=10, output_tokens=3,
                                                               cache_read_input_tokens=90))
    body = {**OPENAI_BODY, "stream": True, **({"stream_options": {"include_usage": True}} if include else {})}
    resp, raw = post(upstream, "/v1/chat/completions", body)
    assert resp.status == 200 and resp.getheader("content-type") == "text/event-stream; charset=utf-8"
    events = sse_events(raw)
    assert all(name is None for name, _ in events)
    assert events[-1][1] == "[DONE]"
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Hello from gpt-4.1."
    finish = [c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]]
    assert len(finish) == 1 and finish[0]["choices"][0]["finish_reason"] == "stop"
    effective = {"auto": "separate" if include else "none"}.get(placement, placement)
    want_usage = {"prompt_tokens": 100, "completion_tokens": 3, "total_tokens": 103}
    if effective == "separate":
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 90
        assert {k: chunks[-1]["usage"][k] for k in want_usage} == want_usage
        assert all(c["usage"] is None for c in chunks[:-1])  # "all other chunks ... a null value"
    elif effective == "finish":
        assert {k: finish[0]["usage"][k] for k in want_usage} == want_usage
        assert all("usage" not in c for c in chunks if c is not finish[0])
    else:
        assert all(not c.get("usage") for c in chunks)


def test_openai_paths_with_and_without_v1_and_non_streaming(upstream: Upstream) -> None:
    for path in ("/v1/chat/completions", "/chat/completions"):
        resp, raw = post(upstream, path, OPENAI_BODY)
        assert resp.status == 200
        body = json.loads(raw)
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"] == "Hello from gpt-4.1."
        assert body["usage"]["prompt_tokens"] == body["usage"]["prompt_tokens_details"]["cached_tokens"] + 21


@pytest.mark.parametrize("fault,status,atype,otype,ocode", [
    (rate_limited("3"), 429, "rate_limit_error", "requests", "rate_limit_exceeded"),
    (overloaded(), 529, "overloaded_error", "server_error", "overloaded"),
    (unauthorized(), 401, "authentication_error", "invalid_request_error", "invalid_api_key"),
    (context_too_long(), 400, "invalid_request_error", "invalid_request_error", "context_length_exceeded"),
])
def test_error_shapes_per_api(upstream: Upstream, fault: Any, status: int, atype: str, otype: str, ocode: str) -> None:
    upstream.script(fault, fault)
    resp, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    assert resp.status == status and resp.getheader("content-type") == "application/json"
    body = json.loads(raw)
    assert body["type"] == "error" and body["error"]["type"] == atype and body["error"]["message"]
    assert body["request_id"] == resp.getheader("request-id")
    if status == 429:
        assert resp.getheader("retry-after") == "3"
    if fault.context_too_long:
        assert body["error"]["message"].startswith("prompt is too long")
    resp, raw = post(upstream, "/v1/chat/completions", {**OPENAI_BODY, "stream": True})
    assert resp.status == status
    err = json.loads(raw)["error"]
    assert set(err) == {"message", "type", "param", "code"}
    assert err["type"] == otype and err["code"] == ocode
    assert resp.getheader("x-request-id")


def test_faults_filter_by_path_and_model_and_count(upstream: Upstream) -> None:
    upstream.script(rate_limited(), model="claude-opus-4-7")
    upstream.script(Fault(status=500, times=2), path="/v1/chat/completions")
    assert post(upstream, "/v1/messages", ANTHROPIC_BODY)[0].status == 200  # other model
    assert post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "model": "claude-opus-4-7"})[0].status == 429
    assert post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "model": "claude-opus-4-7"})[0].status == 200
    assert post(upstream, "/v1/chat/completions", OPENAI_BODY)[0].status == 500
    assert post(upstream, "/v1/chat/completions", OPENAI_BODY)[0].status == 500
    assert post(upstream, "/v1/chat/completions", OPENAI_BODY)[0].status == 200
    assert upstream.pending_faults() == ()


def test_faults_skip_head_and_count_tokens(upstream: Upstream) -> None:
    upstream.script(rate_limited())
    c = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    c.request("HEAD", "/")
    r = c.getresponse()
    r.read()
    assert r.status == 200
    resp, raw = post(upstream, "/v1/messages/count_tokens", ANTHROPIC_BODY, conn=c)
    assert resp.status == 200 and json.loads(raw)["input_tokens"] > 0
    assert len(upstream.pending_faults()) == 1


def test_requests_are_recorded_with_headers_and_json(upstream: Upstream) -> None:
    post(upstream, "/v1/messages?beta=true", ANTHROPIC_BODY,
         {"x-api-key": "sk-test-1", "anthropic-version": "2023-06-01"})
    (req,) = upstream.requests
    assert req.method == "POST" and req.path == "/v1/messages" and req.query == "beta=true"
    assert req.header("X-Api-Key") == "sk-test-1" and req.model == "claude-sonnet-4-6" and not req.stream
    assert req.json == ANTHROPIC_BODY and req.time <= time.monotonic()
    assert "sk-test" not in repr(req)


def test_models_list_in_both_flavours(upstream: Upstream) -> None:
    c = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    c.request("GET", "/v1/models", headers={"anthropic-version": "2023-06-01"})
    body = json.loads(c.getresponse().read())
    assert body["data"][0]["type"] == "model" and "has_more" in body
    c.request("GET", "/v1/models")
    body = json.loads(c.getresponse().read())
    assert body["object"] == "list" and body["data"][0]["object"] == "model"


def test_keep_alive_serves_many_requests_on_one_connection(upstream: Upstream) -> None:
    c = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    for _ in range(5):
        assert post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True}, conn=c)[0].status == 200
        assert post(upstream, "/v1/chat/completions", OPENAI_BODY, conn=c)[0].status == 200
    assert upstream.connections == 1


def test_dropped_connection_leaves_an_incomplete_chunked_body(upstream: Upstream) -> None:
    upstream.script(drop_after(3))
    c = http.client.HTTPConnection("127.0.0.1", upstream.port, timeout=5)
    c.request("POST", "/v1/messages", json.dumps({**ANTHROPIC_BODY, "stream": True}))
    resp = c.getresponse()
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert [n for n, _ in sse_events(info.value.partial)] == ["message_start", "content_block_start", "ping"]


def test_truncated_stream_ends_cleanly_without_message_stop(upstream: Upstream) -> None:
    upstream.script(truncate_after(4))
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    assert [n for n, _ in sse_events(raw)][-1] == "content_block_delta"


def test_malformed_and_in_stream_error_events(upstream: Upstream) -> None:
    upstream.script(malformed_after(3), stream_error_after(2))
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    datas = [d for _, d in sse_events(raw)]
    with pytest.raises(ValueError):
        json.loads(datas[3])
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    events = sse_events(raw)
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"]["type"] == "overloaded_error"


def test_refusal_stop_reason(upstream: Upstream) -> None:
    upstream.script(refusal(), refusal())
    _, raw = post(upstream, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
    assert json.loads(sse_events(raw)[-2][1])["delta"]["stop_reason"] == "refusal"
    _, raw = post(upstream, "/v1/chat/completions", {**OPENAI_BODY, "stream": True})
    finishes = [json.loads(d)["choices"][0]["finish_reason"] for _, d in sse_events(raw)[:-1]]
    assert finishes[-1] == "content_filter"


def test_slow_first_byte_delays_the_status_line(upstream: Upstream) -> None:
    upstream.script(slow_first_byte(0.4))
    t0 = time.monotonic()
    resp, _ = post(upstream, "/v1/messages", ANTHROPIC_BODY)
    assert resp.status == 200 and time.monotonic() - t0 >= 0.4


def test_twenty_concurrent_streams_run_in_parallel() -> None:
    with Upstream(event_delay=0.05) as up:  # 10 events x 50 ms = 0.5 s per stream
        errors: list[BaseException] = []
        texts: list[str] = []

        def one() -> None:
            try:
                _, raw = post(up, "/v1/messages", {**ANTHROPIC_BODY, "stream": True})
                texts.append("".join(json.loads(d)["delta"]["text"] for n, d in sse_events(raw)
                                     if n == "content_block_delta"))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        t0 = time.monotonic()
        threads = [threading.Thread(target=one) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
    assert not errors and texts == ["Hello from claude-sonnet-4-6."] * 20
    assert elapsed < 3.0  # serially it would take 10 s


def test_sdks_parse_the_streams(upstream: Upstream) -> None:
    import anthropic
    import openai

    upstream.configure(usage=UsageSpec(5, 6, 7, 8))
    a = anthropic.Anthropic(base_url=upstream.url, api_key="sk-test", max_retries=0)
    with a.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=[{"role": "user", "content": "x"}]) as s:
        msg = s.get_final_message()
    assert msg.content[0].type == "text" and msg.content[0].text == "Hello from claude-haiku-4-5."
    assert msg.usage.cache_creation_input_tokens == 8
    o = openai.OpenAI(base_url=upstream.openai_url, api_key="sk-test", max_retries=0)
    chunks = list(o.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True,
                                            stream_options={"include_usage": True}))
    details = chunks[-1].usage.prompt_tokens_details if chunks[-1].usage else None
    assert details is not None and details.cached_tokens == 7


def test_standalone_entry_point_serves() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tests.upstream", "--port", "0"], stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("upstream listening on http://127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("POST", "/v1/messages", json.dumps(ANTHROPIC_BODY))
        assert c.getresponse().status == 200
    finally:
        proc.terminate()
        proc.wait(5)


def test_real_claude_code_finishes_against_the_upstream(upstream: Upstream, claude_exe: str) -> None:
    env = {**os.environ, "ANTHROPIC_BASE_URL": upstream.url, "ANTHROPIC_API_KEY": "sk-test"}
    p = subprocess.run([claude_exe, "-p", "hi", "--output-format", "stream-json", "--verbose"], env=env,
                       capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr[-500:]
    result = json.loads(p.stdout.strip().splitlines()[-1])
    assert result["type"] == "result" and not result["is_error"]
    assert result["result"].startswith("Hello from ")
    methods = [(r.method, r.path) for r in upstream.requests]
    assert methods[0] == ("HEAD", "/") and ("POST", "/v1/messages") in methods
    big = upstream.generation_requests()[0]
    assert big.json["stream"] is True and "thinking" in big.json and len(big.json["tools"]) > 5


def test_keys_setting_rejects_other_credentials(upstream: Upstream) -> None:
    upstream.configure(keys=["sk-good"])
    assert post(upstream, "/v1/messages", ANTHROPIC_BODY, {"x-api-key": "sk-bad"})[0].status == 401
    assert post(upstream, "/v1/messages", ANTHROPIC_BODY, {"x-api-key": "sk-good"})[0].status == 200
    assert post(upstream, "/v1/chat/completions", OPENAI_BODY, {"authorization": "Bearer sk-good"})[0].status == 200


def test_wait_for_requests_and_bounded_log() -> None:
    with Upstream(max_records=2) as up:
        threading.Timer(0.1, lambda: post(up, "/v1/messages", ANTHROPIC_BODY)).start()
        assert len(up.wait_for_requests(1, timeout=5)) == 1
        for _ in range(3):
            post(up, "/v1/messages", ANTHROPIC_BODY)
        assert len(up.requests) == 2
