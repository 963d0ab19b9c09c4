"""A lean HTTP/1.1 client for upstream providers: pooled keep-alive connections, bodies pushed as they arrive.

Why not an SDK or a general HTTP library: the gateway relays a provider's stream to Claude Code
chunk by chunk, and every microsecond per chunk is paid twenty times over at twenty concurrent
streams. Here the body is decoded inside `data_received` and handed to a sink in the same call,
one sink call per socket read however many HTTP chunks it holds; no coroutine per chunk, no
copies beyond the decode. The SDKs (anthropic alone takes ~1.4 s to import) are never imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .origin import Origin, parse_origin

if TYPE_CHECKING:
    from .pool import Pool

__all__ = ["Conn", "Head", "Origin", "UpstreamError", "parse_origin"]

MAX_HEAD = 64 * 1024
MAX_ERROR_BODY = 1 << 20  # an error body larger than this is cut (it is only shown, never relayed whole)
IDLE_PER_ORIGIN = 64


class UpstreamError(Exception):
    """The connection failed: kind is 'connection' (refused, reset, dropped) or 'timeout'."""

    def __init__(self, message: str, kind: str = "connection", *, sent: bool = True) -> None:
        super().__init__(message)
        self.kind = kind
        self.sent = sent  # False: nothing reached the server (safe to retry on a fresh connection)


@dataclass(frozen=True)
class Head:
    """A response's status line and headers (names lower-cased, order kept)."""

    status: int
    headers: tuple[tuple[str, str], ...]

    def get(self, name: str) -> str | None:
        """The first value of a header, by lower-case name."""
        for k, v in self.headers:
            if k == name:
                return v
        return None


_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _UNTIL_CLOSE, _DONE = range(8)


class Conn(asyncio.Protocol):
    """One upstream connection, one request at a time; the body goes to `sink` or is buffered until there is one."""

    def __init__(self, origin: Origin, pool: Pool | None) -> None:
        self.origin = origin
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.target_prefix = ""  # "http://host:port" when a plain-HTTP request goes through a proxy (absolute form)
        self.proxy_headers: list[tuple[str, str]] = []
        self.reused = False
        self.closed = False
        self._loop = asyncio.get_running_loop()
        self._reset()

    def _reset(self) -> None:
        self._state = _HEAD
        self._buf = b""
        self._head: asyncio.Future[Head] | None = None
        self._done: asyncio.Future[None] | None = None
        self._sink: Callable[[bytes], None] | None = None
        self._pending: list[bytes] = []
        self._pending_len = 0
        self._waiter: asyncio.Future[None] | None = None
        self._remaining = 0
        self._keep_alive = True
        self._error: UpstreamError | None = None
        self._got_bytes = False
        self._head_method = "POST"

    # -- asyncio.Protocol -----------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._state == _HEAD:
            buf = self._buf + data if self._buf else data
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(UpstreamError("the upstream sent a response head larger than 64 KB"))
                self._buf = buf
                return
            self._buf = b""
            try:
                head = self._parse_head(buf[:end])
            except ValueError as exc:
                self._fail(UpstreamError(f"the upstream sent a malformed response: {exc}"))
                return
            if head.status in (100, 102, 103):  # interim responses: the real one follows
                rest = buf[end + 4:]
                if rest:
                    self.data_received(rest)
                return
            if self._head is not None and not self._head.done():
                self._head.set_result(head)
            data = buf[end + 4:]
            if self._state == _DONE:
                self._finish()
                return
            if not data:
                return
        self._body(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.pool is not None:
            self.pool.forget(self)
        if self._state == _UNTIL_CLOSE:
            self._state = _DONE
            self._finish()
            return
        if self._state != _DONE:
            what = "before answering" if self._state == _HEAD else "in the middle of the answer"
            detail = f" ({exc})" if exc else ""
            self._fail(UpstreamError(f"the upstream closed the connection {what}{detail}", sent=self._got_bytes
                                     or not self.reused))

    def pause_writing(self) -> None:  # request bodies are small enough to leave to the transport's buffer
        pass

    def resume_writing(self) -> None:
        pass

    # -- parsing --------------------------------------------------------------------------------------------

    def _parse_head(self, raw: bytes) -> Head:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ValueError(f"bad status line {lines[0][:60]!r}")
        status = int(parts[1])
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            headers.append((name.strip().lower(), value.strip()))
        head = Head(status, tuple(headers))
        if parts[0] == "HTTP/1.0":
            self._keep_alive = (head.get("connection") or "").lower() == "keep-alive"
        elif "close" in (head.get("connection") or "").lower():
            self._keep_alive = False
        te = (head.get("transfer-encoding") or "").lower()
        length = head.get("content-length")
        if status in (100, 102, 103):
            return head
        if self._head_method == "HEAD" or status in (204, 304):
            self._state = _DONE
        elif "chunked" in te:
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._remaining = int(length)
            self._state = _LENGTH if self._remaining > 0 else _DONE
        else:
            self._state = _UNTIL_CLOSE
            self._keep_alive = False
        return head

    def _body(self, data: bytes) -> None:
        """Decode body bytes (any framing) and hand the payload on in one piece per read."""
        state = self._state
        if state == _LENGTH:
            if len(data) >= self._remaining:
                data = data[: self._remaining]
                self._remaining = 0
                self._state = _DONE
            else:
                self._remaining -= len(data)
            self._emit(data)
            if self._state == _DONE:
                self._finish()
            return
        if state == _UNTIL_CLOSE:
            self._emit(data)
            return
        if state == _DONE:
            return  # bytes after the body: a broken server; the connection will not be reused
        # chunked
        out: list[bytes] = []
        buf = self._buf + data if self._buf else data
        pos = 0
        n = len(buf)
        while pos < n:
            if state == _CHUNK_DATA:
                end = pos + self._remaining
                if end <= n:
                    out.append(buf[pos:end])
                    pos = end
                    self._remaining = 0
                    state = _CHUNK_CRLF
                else:
                    out.append(buf[pos:])
                    self._remaining = end - n
                    pos = n
                continue
            if state == _CHUNK_CRLF:
                if n - pos < 2:
                    break
                pos += 2
                state = _CHUNK_SIZE
                continue
            end = buf.find(b"\r\n", pos)
            if end < 0:
                break
            line = buf[pos:end]
            pos = end + 2
            if state == _TRAILER:
                if not line:
                    state = _DONE
                    break
                continue
            try:
                size = int(line, 16)
            except ValueError:
                try:  # a chunk extension (";name=value") or padding
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self._state = state
                    self._fail(UpstreamError("the upstream sent a malformed chunk"))
                    return
            if size == 0:
                state = _TRAILER
            else:
                self._remaining = size
                state = _CHUNK_DATA
        self._buf = buf[pos:] if pos < n and state != _DONE else b""
        self._state = state
        if out:
            self._emit(out[0] if len(out) == 1 else b"".join(out))
        if state == _DONE:
            self._finish()

    def _emit(self, payload: bytes) -> None:
        if not payload:
            return
        if self._sink is not None:
            self._sink(payload)
        else:
            self._pending.append(payload)
            self._pending_len += len(payload)
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._wake()

    def _fail(self, err: UpstreamError) -> None:
        self._error = err
        self._keep_alive = False
        if self._head is not None and not self._head.done():
            self._head.set_exception(err)
        if self._done is not None and not self._done.done():
            self._done.set_exception(err)
            self._done.exception()  # mark retrieved: a caller that never awaits it must not log a warning
        self._wake()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    # -- the request --------------------------------------------------------------------------------------

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Write one request; the response is awaited with head()."""
        self._reset()
        self._head_method = method
        self._head = self._loop.create_future()
        self._done = self._loop.create_future()
        lines = [f"{method} {self.target_prefix}{path} HTTP/1.1", f"host: {self.origin.host_header}"]
        lines += [f"{k}: {v}" for k, v in headers]
        lines += [f"{k}: {v}" for k, v in self.proxy_headers]
        lines.append(f"content-length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        assert self.transport is not None
        if len(body) < 16384:
            self.transport.write(raw + body)
        else:  # two writes: writelines() would join them, a copy of the whole body
            self.transport.write(raw)
            self.transport.write(body)

    async def head(self) -> Head:
        """The response's status and headers."""
        assert self._head is not None
        return await self._head

    @property
    def body_done(self) -> bool:
        """True once the whole body has arrived."""
        return self._state == _DONE

    async def wait_data(self) -> None:
        """Until some body payload is buffered, the body is complete, or the connection failed."""
        if self._pending or self._state == _DONE or self._error is not None:
            return
        await self._next()

    async def _next(self) -> None:
        """Until the next piece of body, its end, or a failure."""
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None

    def take_pending(self) -> bytes:
        """The body payload buffered so far."""
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending = []
        self._pending_len = 0
        return data

    @property
    def error(self) -> UpstreamError | None:
        """Why the connection failed, if it did."""
        return self._error

    def stream_to(self, sink: Callable[[bytes], None]) -> asyncio.Future[None]:
        """Send the rest of the body to sink as it arrives; the future ends with the body (or its failure)."""
        pending = self.take_pending()
        if pending:
            sink(pending)
        self._sink = sink
        assert self._done is not None
        return self._done

    async def read_body(self, limit: int = MAX_ERROR_BODY) -> bytes:
        """The whole body (cut at limit; the connection is then not reused)."""
        while True:
            if self._error is not None:
                raise self._error
            if self._state == _DONE:
                return self.take_pending()
            if self._pending_len > limit:
                self._keep_alive = False
                return self.take_pending()[:limit]
            await self._next()

    def pause_reading(self) -> None:
        """Backpressure: the client reads slower than the upstream sends."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        """The client caught up."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def release(self) -> None:
        """Done with this connection: back to the pool when it can carry another request, else closed."""
        self._sink = None
        if self._state == _DONE and self._keep_alive and not self.closed and self.pool is not None \
                and self.transport is not None and not self.transport.is_closing():
            self.pool.put(self)
        else:
            self.close()

    def close(self) -> None:
        """Drop the connection."""
        self._sink = None
        self._keep_alive = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()
        self.closed = True
