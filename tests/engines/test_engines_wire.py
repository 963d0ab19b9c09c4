"""The engines' own HTTP client (routesh/engines/wire.py) over real sockets: framing split anywhere, ping and
error events, 529 with retry-after, resets, stale kept-alive connections, proxies and TLS through a tunnel."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_gateway_proxy import TunnelProxy, proxy  # noqa: F401 - fixture
from test_tls_upstreams import tls_upstream  # noqa: F401 - fixture
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from routesh.engines import anthropic_api, openai_api

KEY = "sk-ant-api03-WIRETESTSECRET-abcdef"

Script = Callable[[socket.socket, bytes], None]  # writes one response for the request it was given


class RawServer:
    """A loopback HTTP server that answers each request with a scripted function writing raw bytes."""

    def __init__(self, *scripts: Script) -> None:
        self.scripts = list(scripts)
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while self.scripts:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                while len(buf) < length:
                    buf += conn.recv(65536)
                self.requests.append(head + b"\r\n\r\n" + buf[:length])
                buf = buf[length:]
                try:
                    self.scripts.pop(0)(conn, self.requests[-1])
                except OSError:
                    return

    def close(self) -> None:
        self.sock.close()


def sse(event: str, data: dict[str, object]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def anthropic_events(text: str = "Hé there", ping: bool = True) -> bytes:
    out = sse("message_start", {"type": "message_start", "message": {"usage": {"input_tokens": 9, "output_tokens": 1}}})
    if ping:
        out += b"event: ping\ndata: {\"type\": \"ping\"}\n\n: a comment line\n\n"
    for piece in (text[:2], text[2:]):
        out += sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": {"type": "text_delta", "text": piece}})
    out += sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                 "usage": {"output_tokens": 4}})
    return out + sse("message_stop", {"type": "message_stop"})


def chunked(pieces: list[bytes]) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


def stream_reply(body: bytes, split: int = 0, headers: str = "") -> Script:
    """A 200 SSE response, chunked; with split, the chunked bytes are written `split` bytes per send."""
    def write(conn: socket.socket, _: bytes) -> None:
        raw = (f"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n{headers}\r\n"
               .encode())
        pieces = [body[i:i + 7] for i in range(0, len(body), 7)] if split else [body]
        data = raw + chunked(pieces)
        if not split:
            conn.sendall(data)
            return
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), split):
            conn.sendall(data[i:i + split])
    return write


def req(url: str, **kw: object) -> EngineRequest:
    base: dict[str, object] = dict(model="claude-sonnet-4-6", messages=(Message("user", "hi"),), base_url=url,
                                   api_key=KEY, timeout_s=10.0)
    base.update(kw)
    return EngineRequest(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_kept_connections() -> Iterator[None]:
    """Each test starts and ends with an empty pool: a proxy or server torn down never has our sockets open."""
    from routesh.engines import wire

    wire.close_idle()
    yield
    wire.close_idle()


@pytest.fixture
def tunnel(proxy: TunnelProxy) -> Iterator[TunnelProxy]:  # noqa: F811
    """The test proxy; kept-alive connections through it are closed before it stops."""
    from routesh.engines import wire

    yield proxy
    wire.close_idle()


@pytest.fixture
def server() -> Iterator[Callable[..., RawServer]]:
    made: list[RawServer] = []

    def make(*scripts: Script) -> RawServer:
        made.append(RawServer(*scripts))
        return made[-1]

    yield make
    for s in made:
        s.close()


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


@pytest.mark.parametrize("split", [1, 3, 5, 64])
def test_sse_framing_split_anywhere_and_pings_are_skipped(server, split: int) -> None:
    s = server(stream_reply(anthropic_events(), split=split))
    events = list(anthropic_api.stream(req(s.url)))
    assert text_of(events) == "Hé there"  # a UTF-8 character split across reads stays whole
    assert events[0] == Usage(9, 1, final=False)
    assert events[-2:] == [Usage(9, 4), Done(stop_reason="end_turn")]


def test_request_is_what_the_messages_api_expects(server) -> None:
    s = server(stream_reply(anthropic_events()))
    list(anthropic_api.stream(req(s.url + "/v1", system="be brief")))
    head, _, body = s.requests[0].partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /v1/messages HTTP/1.1"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["x-api-key"] == KEY and headers["anthropic-version"] == "2023-06-01"
    assert json.loads(body) == {"model": "claude-sonnet-4-6", "max_tokens": req(s.url).max_output_tokens,
                                "messages": [{"role": "user", "content": "hi"}], "system": "be brief", "stream": True}


def test_error_event_mid_stream_after_text(server) -> None:
    body = anthropic_events().split(b"event: message_delta")[0] + sse(
        "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    s = server(stream_reply(body, split=11, headers="request-id: req_mid\r\n"))
    seen: list[Event] = []
    with pytest.raises(EngineError) as info:
        for ev in anthropic_api.stream(req(s.url)):
            seen.append(ev)
    assert text_of(seen) == "Hé there"
    assert (info.value.kind, info.value.status, info.value.retry_after) == ("http", 529, None)
    assert info.value.message == "HTTP 529 overloaded_error: Overloaded (request-id req_mid)"


def error_reply(status: int, reason: str, body: bytes, headers: str = "") -> Script:
    def write(conn: socket.socket, _: bytes) -> None:
        conn.sendall(f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
                     f"{headers}\r\n".encode() + body)
    return write


def test_overloaded_529_with_retry_after_then_the_same_connection_answers(server) -> None:
    err = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}).encode()
    s = server(error_reply(529, "Overloaded", err, "retry-after: 4\r\nrequest-id: req_529\r\n"),
               stream_reply(anthropic_events()))
    with pytest.raises(EngineError) as info:
        list(anthropic_api.stream(req(s.url)))
    assert (info.value.kind, info.value.status, info.value.retry_after) == ("http", 529, 4.0)
    assert info.value.message == "HTTP 529 overloaded_error: Overloaded (request-id req_529)"
    assert text_of(list(anthropic_api.stream(req(s.url)))) == "Hé there"
    assert s.connections == 1  # the error body was read whole, so the connection was kept


def test_an_error_body_that_is_not_json_is_shown_as_the_sdk_showed_it(server) -> None:
    s = server(error_reply(502, "Bad Gateway", b"<html>bad gateway</html>"))
    with pytest.raises(EngineError) as info:
        list(anthropic_api.stream(req(s.url)))
    assert info.value.message == "HTTP 502: Error code: 502 - <html>bad gateway</html>"


def reset_after(data: bytes) -> Script:
    """Write data, then reset the connection (RST, not FIN)."""
    def write(conn: socket.socket, _: bytes) -> None:
        conn.sendall(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    return write


def test_connection_reset_mid_stream_keeps_the_partial_answer(server) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    part = anthropic_events().split(b"event: message_delta")[0]
    s = server(reset_after(head + b"%x\r\n%s\r\n" % (len(part), part)))
    seen: list[Event] = []
    with pytest.raises(EngineError) as info:
        for ev in anthropic_api.stream(req(s.url)):
            seen.append(ev)
    assert info.value.kind == "connection" and info.value.message.startswith("connection lost:")
    assert text_of(seen) == "Hé there"


def test_connection_reset_before_the_answer(server) -> None:
    s = server(reset_after(b""))
    with pytest.raises(EngineError) as info:
        list(openai_api.stream(req(s.url + "/v1", model="gpt-x")))
    assert info.value.kind == "connection" and info.value.message.startswith("connection failed:")
    assert KEY not in info.value.message


def test_a_kept_alive_connection_the_server_closed_is_replaced_transparently(server) -> None:
    def answer_then_close(conn: socket.socket, r: bytes) -> None:
        stream_reply(anthropic_events())(conn, r)
        conn.shutdown(socket.SHUT_RDWR)  # the server drops the idle connection after the answer

    s = server(answer_then_close)
    assert text_of(list(anthropic_api.stream(req(s.url)))) == "Hé there"
    s.scripts.append(stream_reply(anthropic_events("second one")))
    assert text_of(list(anthropic_api.stream(req(s.url)))) == "second one"
    assert s.connections == 2


def test_openai_error_object_mid_stream(server) -> None:
    chunk = {"choices": [{"index": 0, "delta": {"content": "partial"}, "finish_reason": None}]}
    body = (f"data: {json.dumps(chunk)}\n\n"
            f"data: {json.dumps({'error': {'type': 'rate_limit_error', 'message': 'slow down'}})}\n\n").encode()
    s = server(stream_reply(body, split=4))
    seen: list[Event] = []
    with pytest.raises(EngineError) as info:
        for ev in openai_api.stream(req(s.url + "/v1", model="gpt-x")):
            seen.append(ev)
    assert text_of(seen) == "partial"
    assert (info.value.status, info.value.message) == (429, "HTTP 429 rate_limit_error: slow down")


def clear_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                 "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("engine", [anthropic_api, openai_api])
def test_https_through_the_users_proxy_in_a_tunnel(tls_upstream: Upstream, tunnel: TunnelProxy,
                                                  monkeypatch: pytest.MonkeyPatch, engine) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", tunnel.url)
    monkeypatch.setenv("NO_PROXY", "example.org")
    base = tls_upstream.url if engine is anthropic_api else tls_upstream.openai_url
    events = list(engine.stream(req(base, model="claude-haiku-4-5")))
    assert text_of(events) == "Hello from claude-haiku-4-5." and isinstance(events[-1], Done)
    port = tls_upstream.url.rsplit(":", 1)[1]
    assert tunnel.seen and tunnel.seen[0].startswith(f"CONNECT 127.0.0.1:{port} HTTP/1.1".encode())
    assert KEY.encode() not in b"".join(tunnel.tunnelled)  # TLS end to end: the proxy never sees the key


def test_no_proxy_bypasses_the_proxy(tls_upstream: Upstream, tunnel: TunnelProxy,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("https_proxy", tunnel.url)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    assert isinstance(list(anthropic_api.stream(req(tls_upstream.url)))[-1], Done)
    assert tunnel.seen == []


def test_plain_http_through_a_proxy_uses_the_absolute_form(server, tunnel: TunnelProxy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxies(monkeypatch)
    monkeypatch.setenv("HTTP_PROXY", f"http://u%40x:p%3Aw@127.0.0.1:{tunnel.port}")
    s = server(stream_reply(anthropic_events()))
    with pytest.raises(EngineError) as info:
        list(anthropic_api.stream(req(s.url)))
    assert info.value.status == 502  # this proxy only tunnels
    head = tunnel.seen[0].decode()
    assert head.startswith(f"POST {s.url}/v1/messages HTTP/1.1")
    assert "proxy-authorization: Basic dUB4OnA6dw==" in head
    assert "p:w" not in info.value.message and s.requests == []


def test_an_untrusted_certificate_is_refused_before_anything_is_sent(tls_upstream: Upstream,  # noqa: F811
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    from upstream import self_signed_tls

    _, wrong_ca = self_signed_tls(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(wrong_ca))
    with pytest.raises(EngineError) as info:
        list(anthropic_api.stream(req(tls_upstream.url)))
    assert info.value.kind == "connection" and "CERTIFICATE_VERIFY_FAILED" in info.value.message
    assert tls_upstream.generation_requests() == []


def test_the_one_shot_path_imports_neither_sdk_nor_asyncio() -> None:
    code = ("import sys, routesh.engines.anthropic_api as a, routesh.engines.openai_api as o; a.preload(); "
            "o.preload(); bad = [m for m in sys.modules if m.split('.')[0] in "
            "('anthropic', 'openai', 'httpx', 'asyncio', 'rich')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
