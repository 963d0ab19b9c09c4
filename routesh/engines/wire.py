"""A blocking HTTP/1.1 client for the API engines: one streamed POST at a time per connection, no SDK, no asyncio.

Why: `import anthropic` costs over a second (3,500 modules) and `import openai` most of one, which a one-shot
pays on every answer. The engines need little of an SDK: one POST, a status, headers and a streamed body. The
gateway's client (gateway/client.py) is asyncio-based for many concurrent streams; the engines run one stream
on a worker thread, so this speaks HTTP/1.1 on a plain socket; the proxy rules (proxyenv.py) and the SSE
codec (sse.py) are the ones the gateway uses too. Kept-alive connections are pooled per origin, as the SDK clients did.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["WireError", "Target", "Response", "post", "target", "close_idle"]

MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 1 << 20
IDLE_PER_ORIGIN = 8


class WireError(Exception):
    """The transport failed: kind is 'connection' (refused, reset, cut) or 'timeout'; never holds a header value."""

    def __init__(self, message: str, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    """Where a request goes: scheme, host, port and the base URL's path prefix (no trailing slash)."""

    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        """The Host header value (the port left out when it is the scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


def target(base_url: str) -> Target:
    """A Target from a provider base_url such as https://api.anthropic.com or http://127.0.0.1:11434/v1."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WireError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
    return Target(parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                  parts.path.rstrip("/"))


# ---- TLS: one context per CA setting, since SSL_CERT_FILE/SSL_CERT_DIR are read when it is made ------------

_ssl_contexts: dict[tuple[str | None, str | None], Any] = {}


def _ssl_context() -> Any:
    import ssl

    key = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    ctx = _ssl_contexts.get(key)
    if ctx is None:
        ctx = _ssl_contexts[key] = ssl.create_default_context()
    return ctx


# ---- connections -------------------------------------------------------------------------------------------

class _Conn:
    """One socket and its buffered reader; `prefix` is the absolute-form origin when a proxy relays plain http."""

    __slots__ = ("sock", "rfile", "key", "prefix", "extra", "reused")

    def __init__(self, sock: socket.socket, key: tuple[object, ...], prefix: str = "",
                 extra: tuple[tuple[str, str], ...] = ()) -> None:
        self.sock = sock
        self.rfile = sock.makefile("rb")
        self.key = key
        self.prefix = prefix
        self.extra = extra
        self.reused = False

    def close(self) -> None:
        """Drop the socket."""
        try:
            self.rfile.close()
            self.sock.close()
        except OSError:
            pass


_idle: dict[tuple[object, ...], list[_Conn]] = {}
_idle_lock = threading.Lock()


def _proxy(t: Target) -> Any:
    """The user's proxy for this target (proxyenv.py's rules), or None."""
    from .proxyenv import proxies_from_env, proxy_for

    proxies = proxies_from_env()
    try:
        return proxy_for(t, proxies) if proxies else None
    except ValueError as exc:
        raise WireError(f"cannot reach {t.host_header}: {exc}") from None


def _open(t: Target, proxy: Any, timeout: float) -> _Conn:
    """A new connection to the target, through the proxy when there is one."""
    where = t.host_header if proxy is None else f"{t.host_header} through the proxy {proxy.shown}"
    key = (t.scheme, t.host, t.port, proxy)
    try:
        if proxy is None:
            sock = socket.create_connection((t.host, t.port), timeout=timeout)
        else:
            sock = socket.create_connection((proxy.host, proxy.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except TimeoutError:
        raise WireError(f"connecting to {where} timed out", "timeout") from None
    except OSError as exc:
        raise WireError(f"cannot connect to {where}: {exc.strerror or exc}") from None
    auth = (("proxy-authorization", proxy.authorization),) if proxy is not None and proxy.authorization else ()
    try:
        if proxy is not None and t.scheme == "http":
            return _Conn(sock, key, prefix=f"http://{t.host_header}", extra=auth)
        if proxy is not None:
            _tunnel(sock, t, auth)
        if t.scheme == "https":
            sock = _ssl_context().wrap_socket(sock, server_hostname=t.host)
    except TimeoutError:
        sock.close()
        raise WireError(f"connecting to {where} timed out", "timeout") from None
    except (OSError, ValueError) as exc:
        sock.close()
        raise WireError(f"cannot connect to {where}: {exc}") from None
    return _Conn(sock, key)


def _tunnel(sock: socket.socket, t: Target, auth: tuple[tuple[str, str], ...]) -> None:
    """A CONNECT tunnel through the proxy, so TLS runs end to end (the proxy sees only the host name)."""
    where = f"{'[' + t.host + ']' if ':' in t.host else t.host}:{t.port}"
    lines = [f"CONNECT {where} HTTP/1.1", f"host: {where}", *(f"{k}: {v}" for k, v in auth)]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise ValueError("the proxy closed the connection")
        head += data
        if len(head) > MAX_HEAD:
            raise ValueError("the proxy sent a response head larger than 64 KB")
    line = head.split(b"\r\n", 1)[0]
    status = line.split(b" ", 2)
    if len(status) < 2 or not status[1].startswith(b"2"):
        raise ValueError(f"the proxy refused the tunnel ({line.decode('latin-1')[:200]})")


def _acquire(t: Target, timeout: float) -> _Conn:
    """An idle kept-alive connection to the target, or a new one."""
    proxy = _proxy(t)
    with _idle_lock:
        conns = _idle.get((t.scheme, t.host, t.port, proxy))
        if conns:
            conn = conns.pop()
            conn.reused = True
            conn.sock.settimeout(timeout)
            return conn
    return _open(t, proxy, timeout)


def _release(conn: _Conn) -> None:
    """Keep a connection whose response was read to its end, for the next request to the same origin."""
    with _idle_lock:
        conns = _idle.setdefault(conn.key, [])
        if len(conns) < IDLE_PER_ORIGIN:
            conns.append(conn)
            return
    conn.close()


def close_idle() -> None:
    """Close every kept-alive connection (a test's proxy or server going away must not find them open)."""
    with _idle_lock:
        conns = [c for cs in _idle.values() for c in cs]
        _idle.clear()
    for conn in conns:
        conn.close()


# ---- one exchange ------------------------------------------------------------------------------------------

class Response:
    """A response whose body is read as it arrives; close() (or reading to the end) frees the connection."""

    def __init__(self, conn: _Conn, status: int, headers: dict[str, str], keep_alive: bool) -> None:
        self._conn: _Conn | None = conn
        self.status = status
        self.headers = headers  # lower-cased names; a repeated header keeps its first value
        self._keep_alive = keep_alive
        self._complete = False

    def chunks(self) -> Iterator[bytes]:
        """The decoded body, piece by piece as the server sends it; WireError when the connection is cut."""
        conn = self._conn
        if conn is None:
            return
        rfile = conn.rfile
        try:
            if "chunked" in self.headers.get("transfer-encoding", "").lower():
                yield from self._chunked(rfile)
            elif "content-length" in self.headers:
                left = int(self.headers["content-length"])
                while left > 0:
                    data = rfile.read1(min(left, 65536))
                    if not data:
                        raise WireError("the server closed the connection in the middle of the answer")
                    left -= len(data)
                    yield data
            else:
                self._keep_alive = False
                while data := rfile.read1(65536):
                    yield data
        except TimeoutError:
            raise WireError("the server stopped sending in the middle of the answer", "timeout") from None
        except (OSError, ValueError) as exc:
            if self._conn is None:  # closed from another thread (cancel): just stop
                return
            raise WireError(f"the connection broke in the middle of the answer ({exc})") from None
        self._complete = True

    def _chunked(self, rfile: Any) -> Iterator[bytes]:
        while True:
            line = rfile.readline(MAX_HEAD)
            if not line:
                raise WireError("the server closed the connection in the middle of the answer "
                                "(incomplete chunked read)")
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while (trailer := rfile.readline(MAX_HEAD)) not in (b"\r\n", b"\n"):
                    if not trailer:
                        self._keep_alive = False
                        return
                return
            data = rfile.read(size)
            rfile.read(2)
            if len(data) < size:
                if data:
                    yield data
                raise WireError("the server closed the connection in the middle of the answer "
                                "(incomplete chunked read)")
            yield data

    def read(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The whole body (cut at limit, the connection then dropped), for error responses."""
        out: list[bytes] = []
        size = 0
        for data in self.chunks():
            out.append(data)
            size += len(data)
            if size > limit:
                self._keep_alive = False
                break
        self.close()
        return b"".join(out)[:limit]

    def close(self) -> None:
        """Done: the connection goes back to the pool when its response was read to the end, else it is closed."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._complete and self._keep_alive:
            _release(conn)
        else:
            conn.close()

    def abort(self) -> None:
        """From another thread: unblock a pending read by shutting the socket down (the answer is abandoned)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()


def post(t: Target, path: str, headers: list[tuple[str, str]], body: bytes, timeout: float) -> Response:
    """Send one POST and read the response head; a stale kept-alive connection is replaced once, transparently."""
    for attempt in (0, 1):
        conn = _acquire(t, timeout)
        lines = [f"POST {conn.prefix}{t.base_path}{path} HTTP/1.1", f"host: {t.host_header}",
                 *(f"{k}: {v}" for k, v in headers), *(f"{k}: {v}" for k, v in conn.extra),
                 f"content-length: {len(body)}"]
        try:
            conn.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            status_line = conn.rfile.readline(MAX_HEAD)
            if not status_line:
                raise ConnectionResetError("the server closed the connection before answering")
            return _head(conn, status_line)
        except TimeoutError:
            conn.close()
            raise WireError(f"no answer from {t.host_header} in time", "timeout") from None
        except OSError as exc:
            conn.close()
            if conn.reused and attempt == 0:
                continue  # the server had closed the idle connection: nothing reached it
            raise WireError(f"the connection to {t.host_header} broke before the answer ({exc})") from None
    raise AssertionError("unreachable")


def _head(conn: _Conn, status_line: bytes) -> Response:
    """Read the rest of the response head (skipping 1xx interim responses)."""
    while True:
        parts = status_line.decode("latin-1").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            conn.close()
            raise WireError(f"the server sent a malformed response (bad status line {status_line[:60]!r})")
        headers: dict[str, str] = {}
        size = 0
        while (line := conn.rfile.readline(MAX_HEAD)) not in (b"\r\n", b"\n"):
            if not line:
                conn.close()
                raise WireError("the server closed the connection in the middle of the response head")
            size += len(line)
            if size > MAX_HEAD:
                conn.close()
                raise WireError("the server sent a response head larger than 64 KB")
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                headers.setdefault(name.strip().lower(), value.strip())
        status = int(parts[1])
        if status not in (100, 102, 103):
            break
        status_line = conn.rfile.readline(MAX_HEAD)
    connection = headers.get("connection", "").lower()
    keep_alive = "keep-alive" in connection if parts[0] == "HTTP/1.0" else "close" not in connection
    return Response(conn, status, headers, keep_alive)
