"""The gateway's wire pieces on their own: the upstream client's body decoding and the SSE usage sniffer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.gateway.client import Conn, Origin, UpstreamError, parse_origin
from routesh.gateway.server import retry_after_seconds, scrub
from routesh.gateway.sniff import AnthropicSniffer, usage_of_message

ORIGIN = Origin("http", "127.0.0.1", 80, "")


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        self.written += data

    def writelines(self, parts: Any) -> None:  # type: ignore[override]
        self.written += b"".join(parts)

    def is_closing(self) -> bool:
        return self.closed

    def abort(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _feed(raw: bytes, cuts: list[int]) -> tuple[int, bytes, bool, UpstreamError | None]:
    """Feed a response to a Conn in pieces; (status, body as the sink got it, complete, error)."""

    async def go() -> tuple[int, bytes, bool, UpstreamError | None]:
        conn = Conn(ORIGIN, None)
        conn.connection_made(_Transport())
        conn.send("POST", "/v1/messages", [("x", "y")], b"{}")
        got: list[bytes] = []
        pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=False)]
        head_task = asyncio.ensure_future(conn.head())
        done = None
        for piece in pieces:
            if piece:
                conn.data_received(piece)
            if head_task.done() and done is None and not head_task.exception():
                done = conn.stream_to(got.append)
            await asyncio.sleep(0)
        if not head_task.done():
            conn.connection_lost(None)
            await asyncio.sleep(0)
        head = head_task.result() if not head_task.exception() else None
        if done is None and head is not None:
            done = conn.stream_to(got.append)
        if done is not None and not done.done():
            conn.connection_lost(None)
        return (head.status if head else 0), b"".join(got), conn.body_done, conn.error

    return asyncio.run(go())


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


BODY_PARTS = [b"event: message_start\ndata: {}\n\n", b"x" * 300, b"\r\n\r\n inside", b"0\r\n\r\n", b"last"]
CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(*BODY_PARTS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(CHUNKED) - 1), unique=True, max_size=12))
def test_chunked_body_survives_any_split(cuts: list[int]) -> None:
    status, body, complete, error = _feed(CHUNKED, sorted(cuts))
    assert (status, body, complete, error) == (200, b"".join(BODY_PARTS), True, None)


def test_content_length_and_close_delimited_bodies() -> None:
    raw = b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 5\r\nretry-after: 3\r\n\r\nhello"
    assert _feed(raw, [20, 50]) == (429, b"hello", True, None)
    raw = b"HTTP/1.1 200 OK\r\n\r\nuntil the end"
    status, body, complete, _ = _feed(raw, [])
    assert (status, body, complete) == (200, b"until the end", True)
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"
    assert _feed(raw, [10])[:3] == (200, b"ok", True)


def test_a_dropped_body_is_an_error() -> None:
    raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(b"abc")[:-5]
    status, body, complete, error = _feed(raw, [])
    assert status == 200 and body == b"abc" and not complete
    assert isinstance(error, UpstreamError) and "middle of the answer" in str(error)


def test_malformed_chunk_and_status_line() -> None:
    raw = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n"
    assert "malformed chunk" in str(_feed(raw, [])[3])
    assert "malformed response" in str(_feed(b"SMTP ready\r\n\r\n", [])[3])


def test_parse_origin() -> None:
    o = parse_origin("https://openrouter.ai/api/v1/")
    assert (o.scheme, o.host, o.port, o.base_path, o.host_header) == ("https", "openrouter.ai", 443, "/api/v1",
                                                                      "openrouter.ai")
    assert parse_origin("http://127.0.0.1:8080").host_header == "127.0.0.1:8080"
    with pytest.raises(ValueError):
        parse_origin("ftp://x")


# ------------------------------------------------------------------------------------------------ the sniffer

STREAM = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":120,'
    b'"cache_read_input_tokens":1000,"cache_creation_input_tokens":7,"output_tokens":1}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta",'
    b'"text":"the \\"usage\\" word and message_stop in text"}}\n\n'
    b'event: ping\ndata: {"type": "ping"}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":42}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM) - 1), unique=True, max_size=10))
def test_sniffer_reads_usage_at_any_split(cuts: list[int]) -> None:
    s = AnthropicSniffer()
    bounds = [0, *sorted(cuts), len(STREAM)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        s.feed(STREAM[a:b])
    assert s.usage == {"input_tokens": 120, "cache_read_input_tokens": 1000, "cache_creation_input_tokens": 7,
                       "output_tokens": 42}
    assert s.started and s.stopped and s.stop_reason == "end_turn" and s.error is None


def test_sniffer_sees_errors_and_missing_stop() -> None:
    s = AnthropicSniffer()
    s.feed(STREAM[:300])
    assert s.started and not s.stopped
    s.feed(b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n')
    assert (s.error_type, s.error) == ("overloaded_error", "Overloaded")


def test_usage_of_a_whole_message() -> None:
    body = json.dumps({"type": "message", "stop_reason": "refusal", "usage": {"input_tokens": 3, "output_tokens": 4}})
    assert usage_of_message(body.encode()) == ({"input_tokens": 3, "output_tokens": 4}, "refusal")
    assert usage_of_message(b"nope") == ({}, None)


# ------------------------------------------------------------------------------------------------ helpers


def test_retry_after_seconds() -> None:
    assert retry_after_seconds("3", 0) == 3.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds(None, 0) is None and retry_after_seconds("soon", 0) is None


def test_scrub_cuts_held_keys_and_key_shaped_strings() -> None:
    key = "plainsecretvalue-without-prefix-123"
    text = scrub(f"invalid key {key} and sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA", (key,))
    assert key not in text and "AAAAAAAAAAAA" not in text
