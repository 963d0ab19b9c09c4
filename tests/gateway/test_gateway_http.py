"""The gateway's front door under hostile input: framing, limits, timeouts, origins; compared with h11.

Each hostile request goes over a real socket to a running gateway. It must be answered with an
Anthropic-shaped 4xx/5xx and the connection closed, never with "internal error ... this is a bug",
never read two ways. The same bytes are fed to h11 (a maintained HTTP/1.1 parser) to show the
gateway refuses at least what h11 refuses (docs/gateway.md, "The HTTP layer").
"""

from __future__ import annotations

import dataclasses
import json
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h11
import pytest
from test_gateway_server import ANTH_KEY, GW, TOKEN, msg
from test_gateway_server import gw as gw  # noqa: F401 - fixture
from upstream import Fault, Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.gateway.framing import MAX_BODY
from routesh.gateway.front import Limits

LIMITS = Limits(connections=64, head_timeout=1.0, idle_timeout=2.0, body_timeout=1.0)


@pytest.fixture(autouse=True)
def _tight_limits(gw: GW) -> None:  # noqa: F811
    gw.gateway._limits = LIMITS


def host(gw: GW) -> str:
    return f"127.0.0.1:{gw.running.port}"


def exchange(gw: GW, data: bytes, *, wait: float = 5.0, shut: bool = False) -> tuple[bytes, bool]:
    """Send raw bytes; everything the gateway answers, and whether it closed the connection."""
    s = socket.create_connection(("127.0.0.1", gw.running.port), timeout=wait)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        closed = False
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                s.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
        return out, closed
    finally:
        s.close()


def responses(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """The whole responses in a byte stream (content-length or chunked bodies; 1xx skipped)."""
    out = []
    while raw:
        head_end = raw.find(b"\r\n\r\n")
        if head_end < 0:
            break
        lines = raw[:head_end].decode("latin-1").split("\r\n")
        raw = raw[head_end + 4:]
        status = int(lines[0].split(" ")[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        if 100 <= status < 200:
            continue
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_end = raw.index(b"\r\n")
                size = int(raw[:size_end], 16)
                body += raw[size_end + 2:size_end + 2 + size]
                raw = raw[size_end + 4 + size:]
                if size == 0:
                    break
        else:
            n = int(headers.get("content-length", "0"))
            body, raw = raw[:n], raw[n:]
        out.append((status, headers, body))
    return out


def head(gw: GW, method: str = "POST", path: str = "/v1/messages", *extra: str, auth: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host(gw)}"]
    if auth:
        lines.append(f"x-api-key: {TOKEN}")
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode("latin-1")


def assert_refused(gw: GW, raw: bytes, statuses: tuple[int, ...] = (400,)) -> dict[str, str]:
    """One Anthropic-shaped error with one of these statuses, the connection closed, nothing logged as a bug."""
    out, closed = exchange(gw, raw)
    got = responses(out)
    assert len(got) == 1, out[:500]
    status, headers, body = got[0]
    assert status in statuses, out[:500]
    err = json.loads(body)
    assert err["type"] == "error" and err["error"]["message"]
    assert "this is a bug" not in body.decode()
    assert closed and headers.get("connection") == "close"
    assert not [line for line in gw.logs if "internal error" in line]
    assert gw.up.generation_requests() == []
    return headers


def h11_refuses(raw: bytes) -> bool:
    """Whether h11, as a server, refuses these bytes (before a whole, well-framed request is read)."""
    c = h11.Connection(h11.SERVER, max_incomplete_event_size=64 * 1024)
    c.receive_data(raw)
    try:
        while True:
            ev = c.next_event()
            if ev is h11.NEED_DATA or ev is h11.PAUSED or isinstance(ev, h11.EndOfMessage):
                return False
    except h11.RemoteProtocolError:
        return True


# Each case: (request after the head line's Host, what the gateway must answer). The body of a POST
# follows its head. `{H}` is the gateway's Host.
FRAMING = {
    "cl-and-te": ("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                  f"GET /health HTTP/1.1\r\nHost: {{H}}\r\nx-api-key: {TOKEN}\r\n\r\n", (400,)),
    "te-and-cl": ("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", (400,)),
    "duplicate-cl": ("Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}abc", (400,)),
    "cl-list": ("Content-Length: 2, 5\r\n\r\n{}abc", (400,)),
    "negative-cl": ("Content-Length: -1\r\n\r\n", (400,)),
    "underscore-cl": ("Content-Length: 1_5\r\n\r\n{}", (400,)),
    "plus-cl": ("Content-Length: +2\r\n\r\n{}", (400,)),
    "hex-cl": ("Content-Length: 0x2\r\n\r\n{}", (400,)),
    "huge-cl": ("Content-Length: 99999999999999999999999\r\n\r\n", (400, 413)),
    "non-hex-chunk": ("Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", (400,)),
    "minus-one-chunk": ("Transfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n", (400,)),
    "0x-chunk": ("Transfer-Encoding: chunked\r\n\r\n0x2\r\n{}\r\n0\r\n\r\n", (400,)),
    "long-chunk": ("Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n", (400,)),
    "gzip-te": ("Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", (400, 501)),
    "obs-fold": ("X-Folded: one\r\n two\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "space-before-colon": ("Content-Length : 2\r\n\r\n{}", (400,)),
    "nul-in-value": ("X-Bad: a\x00b\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "bare-lf": ("X-Bad: a\nContent-Length: 2\r\n\r\n{}", (400,)),
    "bare-cr": ("X-Bad: a\rb\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "no-colon": ("NoColonHere\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "bad-name": ("Bad Name: x\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "two-hosts": ("Host: other\r\nContent-Length: 2\r\n\r\n{}", (400,)),
    "oversized-head": ("X-Big: " + "a" * (70 * 1024) + "\r\n\r\n", (431,)),
    "oversized-body": (f"Content-Length: {MAX_BODY + 1}\r\n\r\n", (413,)),
    "oversized-chunked": (f"Transfer-Encoding: chunked\r\n\r\n{MAX_BODY + 1:x}\r\n", (413,)),
}


def framing_bytes(gw: GW, case: str) -> bytes:
    rest = FRAMING[case][0].replace("{H}", host(gw))
    return (f"POST /v1/messages HTTP/1.1\r\nHost: {host(gw)}\r\nx-api-key: {TOKEN}\r\n" + rest).encode("latin-1")


@pytest.mark.parametrize("case", sorted(FRAMING))
def test_ambiguous_or_malformed_framing_is_refused_and_closed(gw: GW, case: str) -> None:
    assert_refused(gw, framing_bytes(gw, case), FRAMING[case][1])


# What h11 0.14-0.16 reads where the gateway refuses: both lengths (h11 lets chunked win and keeps the
# connection: the smuggling this file's first case is about), obs-fold (h11 unfolds), bare LF line ends,
# and sizes (h11 leaves body limits to the application).
H11_ACCEPTS = {"cl-and-te", "te-and-cl", "obs-fold", "bare-lf", "oversized-head", "oversized-body",
               "oversized-chunked"}


def test_the_gateway_refuses_everything_h11_refuses_and_a_little_more(gw: GW) -> None:
    accepted = {case for case in FRAMING if not h11_refuses(framing_bytes(gw, case))}
    assert accepted == H11_ACCEPTS


# Well-formed requests in their less common spellings: h11 reads each, and so must the gateway.
ACCEPTED = {
    "identical-duplicate-cl": "Content-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
    "chunk-extension": "Transfer-Encoding: chunked\r\n\r\n2;name=value\r\n{}\r\n0\r\n\r\n",
    "uppercase-hex-and-trailer": "Transfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
    "tab-and-obs-text": "X-Note:\tcaf\xe9 \r\nContent-Length: 2\r\n\r\n{}",
    "empty-value": "X-Empty:\r\nContent-Length: 2\r\n\r\n{}",
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_unusual_but_valid_framing_is_read_like_h11_reads_it(gw: GW, case: str) -> None:
    raw = (f"POST /v1/messages/count_tokens HTTP/1.1\r\nHost: {host(gw)}\r\nx-api-key: {TOKEN}\r\n"
           + ACCEPTED[case]).encode("latin-1")
    assert not h11_refuses(raw)
    body = raw.replace(b'{}', json.dumps(msg("x")).encode()).replace(b"Content-Length: 2", b"Content-Length: %d"
                                                                      % len(json.dumps(msg("x"))))
    body = body.replace(b"\r\n2\r\n", b"\r\n%x\r\n" % len(json.dumps(msg("x")))).replace(
        b"\r\n2;name", b"\r\n%x;name" % len(json.dumps(msg("x"))))
    out, _ = exchange(gw, body, wait=2)
    got = responses(out)
    assert got and got[0][0] == 200, out[:300]
    assert json.loads(got[0][2])["input_tokens"] > 0


def test_smuggled_request_is_never_served(gw: GW) -> None:
    out, closed = exchange(gw, framing_bytes(gw, "cl-and-te"))
    assert closed and len(responses(out)) == 1 and b'"status": "ok"' not in out


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"model": "x", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    b'{"model": "x", "messages": 5}',
    b'{"model": "x", "messages": [5]}',
    b'{"model": "x", "messages": [{"role": "user", "content": 5}]}',
    b'{"model": "x", "messages": [{"role": "user", "content": [7]}]}',
    b'{"model": "x", "messages": [], "system": 5}',
    b'{"model": "x", "messages": [], "tools": 5}',
    b'{"model": "x", "messages": [], "tools": [1]}',
    b"\xff\xfe{}",
])
@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
def test_bad_json_bodies_are_400_not_a_bug(gw: GW, body: bytes, path: str) -> None:
    status, _, data = gw.post(body, path=path)
    assert status == 400, data[:300]
    assert json.loads(data)["error"]["type"] == "invalid_request_error"
    assert not [line for line in gw.logs if "internal error" in line]
    assert gw.up.generation_requests() == []


def test_count_tokens_still_counts(gw: GW) -> None:
    status, _, data = gw.post(msg("hello there"), path="/v1/messages/count_tokens")
    assert status == 200 and json.loads(data)["input_tokens"] > 0


# ------------------------------------------------------------------------------------------------ token, origin


def test_the_token_is_checked_from_the_head_before_any_body_is_read(gw: GW) -> None:
    """An unauthenticated 30 MB upload is refused at once: the gateway reads none of it."""
    raw = head(gw, "POST", "/v1/messages", f"Content-Length: {MAX_BODY - 1}", auth=False)
    t0 = time.monotonic()
    out, closed = exchange(gw, raw, wait=3)
    assert time.monotonic() - t0 < 2
    (resp,) = responses(out)
    assert resp[0] == 401 and closed


def test_expect_100_continue_is_answered_only_with_the_token(gw: GW) -> None:
    raw = head(gw, "POST", "/v1/messages", "Content-Length: 2", "Expect: 100-continue", auth=False)
    out, _ = exchange(gw, raw, wait=2)
    assert b"100 Continue" not in out and out.startswith(b"HTTP/1.1 401")


@pytest.mark.parametrize("extra", [
    "Origin: https://evil.example",
    "Origin: null",
    "Origin: http://127.0.0.1:1",
])
def test_requests_from_web_pages_are_refused(gw: GW, extra: str) -> None:
    headers = assert_refused(gw, head(gw, "POST", "/v1/messages", extra, "Content-Length: 2") + b"{}", (403,))
    assert "x-routesh-request-id" not in headers


@pytest.mark.parametrize("name", ["evil.example", "evil.example:{port}", "127.0.0.1", "localhost:1"])
def test_a_host_that_is_not_the_gateway_is_refused(gw: GW, name: str) -> None:
    raw = (f"POST /v1/messages HTTP/1.1\r\nHost: {name.format(port=gw.running.port)}\r\nx-api-key: {TOKEN}\r\n"
           "Content-Length: 2\r\n\r\n{}").encode()
    assert_refused(gw, raw, (403,))


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST"])
def test_its_own_names_and_origin_are_served(gw: GW, name: str) -> None:
    own = f"{name}:{gw.running.port}"
    raw = (f"GET /health HTTP/1.1\r\nHost: {own}\r\nOrigin: http://{own}\r\nx-api-key: {TOKEN}\r\n"
           "Connection: close\r\n\r\n").encode()
    out, _ = exchange(gw, raw)
    assert responses(out)[0][0] == 200


# ------------------------------------------------------------------------------------------------ timing, reuse


def test_slow_head_times_out_with_408(gw: GW) -> None:
    s = socket.create_connection(("127.0.0.1", gw.running.port), timeout=5)
    s.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x")
    t0 = time.monotonic()
    out = s.recv(65536)
    s.close()
    assert out.startswith(b"HTTP/1.1 408") and 0.8 < time.monotonic() - t0 < 3


def test_slow_body_times_out_with_408(gw: GW) -> None:
    s = socket.create_connection(("127.0.0.1", gw.running.port), timeout=5)
    s.sendall(head(gw, "POST", "/v1/messages", "Content-Length: 100") + b'{"model"')
    out = s.recv(65536)
    s.close()
    assert out.startswith(b"HTTP/1.1 408")
    assert gw.up.generation_requests() == []


def test_idle_connection_is_closed_quietly(gw: GW) -> None:
    s = socket.create_connection(("127.0.0.1", gw.running.port), timeout=5)
    assert s.recv(100) == b""  # closed after head_timeout, nothing written
    s.close()


def test_pipelined_requests_are_answered_in_order(gw: GW) -> None:
    body = json.dumps(msg("one", stream=False)).encode()
    post = head(gw, "POST", "/v1/messages", f"Content-Length: {len(body)}", "content-type: application/json") + body
    raw = post + head(gw, "GET", "/health") + post.replace(b"one", b"two")
    out, _ = exchange(gw, raw, wait=3)
    got = responses(out)
    assert [s for s, _, _ in got] == [200, 200, 200]
    assert b"Hello" in got[0][2] and json.loads(got[1][2])["status"] == "ok"
    assert len(gw.up.generation_requests()) == 2


def test_half_closed_client_still_gets_its_answer(gw: GW) -> None:
    body = json.dumps(msg("half")).encode()
    raw = head(gw, "POST", "/v1/messages", f"Content-Length: {len(body)}") + body
    out, closed = exchange(gw, raw, shut=True)
    ((status, headers, data),) = responses(out)
    assert status == 200 and b"message_stop" in data and closed


def test_idle_connections_do_not_starve_real_requests(gw: GW) -> None:
    """500 connections that never send a byte, at a limit of 64: a real request is served long before any
    idle one times out (30 s here), because the oldest idle connection makes room for each new one."""
    gw.gateway._limits = dataclasses.replace(LIMITS, head_timeout=30.0, idle_timeout=30.0)
    idle = [socket.create_connection(("127.0.0.1", gw.running.port)) for _ in range(500)]
    try:
        t0 = time.monotonic()
        status, _, body = gw.post(msg("through the crowd"))
        assert status == 200 and b"message_stop" in body
        assert time.monotonic() - t0 < 15
        assert len(gw.gateway._clients) <= LIMITS.connections
    finally:
        for s in idle:
            s.close()


def test_upstream_response_headers_are_masked(gw: GW) -> None:
    gw.up.script(Fault(headers=(("set-cookie", "session=abc"), ("x-upstream-secret", ANTH_KEY),
                                ("cache-control", "private"), ("anthropic-ratelimit-requests-limit", "9"),
                                ("via", "1.1 internal-proxy"))))
    status, headers, _ = gw.post(msg())
    assert status == 200
    with socket.create_connection(("127.0.0.1", gw.running.port)) as s:
        gw.up.script(Fault(headers=(("cache-control", "private"),)))
        body = json.dumps(msg()).encode()
        s.sendall(head(gw, "POST", "/v1/messages", f"Content-Length: {len(body)}", "Connection: close") + body)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    head_text = raw.split(b"\r\n\r\n", 1)[0].decode().lower()
    assert head_text.count("cache-control:") == 1
    assert "set-cookie" not in headers and "x-upstream-secret" not in headers and "via" not in headers
    assert "anthropic-ratelimit-requests-limit" in headers and "request-id" in headers
    assert ANTH_KEY not in json.dumps(headers)


def test_fd_exhaustion_is_one_line_not_a_traceback_flood(tmp_path: Path) -> None:
    """At `ulimit -n 128` with 400 clients: a few warning lines on stderr, no tracebacks; service resumes."""
    script = textwrap.dedent(f"""
        import resource, socket, sys, time
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))
        from routesh.core.context import build
        from routesh.gateway.front import Limits
        from routesh.gateway.server import Gateway, RunningGateway, bind
        cfg = {str(tmp_path / "routes.yaml")!r}
        open(cfg, "w").write("version: 1\\ndefault_route: r\\nproviders:\\n"
                             "  p: {{type: anthropic, base_url: 'http://127.0.0.1:9'}}\\n"
                             "routes:\\n  r: {{provider: p, model: m}}\\n")
        gw = Gateway(build(cfg, None), "t", limits=Limits(connections=10_000, head_timeout=30, idle_timeout=30))
        running = RunningGateway(gw, bind("127.0.0.1", 0)).start()
        print(running.port, flush=True)
        sys.stdin.readline()
        running.stop()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        socks = []
        for _ in range(400):
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=1))
            except OSError:
                break
        time.sleep(2.5)
        for s in socks:
            s.close()
        time.sleep(1.5)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
            assert s.recv(100).startswith(b"HTTP/1.1 200")
        proc.stdin.write("\n")
        proc.stdin.flush()
        _, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
    assert "Traceback" not in err and "Errno 24" not in err.replace("Too many open files", "")
    assert len(err.splitlines()) <= 3
    assert "out of file descriptors" in err


def test_a_real_answer_still_flows_after_hostile_neighbours(gw: GW) -> None:
    for case in ("cl-and-te", "obs-fold", "negative-cl"):
        exchange(gw, framing_bytes(gw, case), wait=1)
    threads = [threading.Thread(target=exchange, args=(gw, b"POST /v1/messages HTTP/1.1\r\nHost: x"),
                                kwargs={"wait": 0.5}) for _ in range(20)]
    for t in threads:
        t.start()
    status, _, body = gw.post(replace_text(msg(), "still fine"))
    for t in threads:
        t.join()
    assert status == 200 and b"message_stop" in body


def replace_text(body: dict[str, object], text: str) -> dict[str, object]:
    return {**body, "messages": [{"role": "user", "content": text}]}

