"""The gateway's front door: connections, the token, and the endpoints that are answered locally."""

from __future__ import annotations

import asyncio
import errno
import hmac
import json
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import offload
from .admit import shape_problem
from .classify import SENTINELS
from .framing import MAX_HEAD, BadRequest, Request, error_body, read_body, read_head, respond

if TYPE_CHECKING:
    from ..core.context import Context
    from .pool import Pool


@dataclass(frozen=True)
class Limits:
    """How much the front door takes from its clients before it closes on them."""

    connections: int = 256  # open client connections; at the limit the oldest idle one is closed
    head_timeout: float = 10.0  # a new connection's first request head must arrive in whole within this
    idle_timeout: float = 120.0  # a keep-alive connection may wait this long for its next request
    body_timeout: float = 60.0  # a request body must arrive in whole within this

    @staticmethod
    def for_this_process() -> Limits:
        """The defaults, with the connection cap well under the open-file limit (each may need an upstream too)."""
        try:
            import resource

            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        except (ImportError, OSError, ValueError):
            return Limits()
        if soft == resource.RLIM_INFINITY:
            return Limits()
        return Limits(connections=max(8, min(Limits.connections, (soft - 64) // 3)))


_NEVER = float("inf")


class _Conn:
    """One client connection's state, for the limits: serving a request or not, and until when it may wait."""

    __slots__ = ("busy", "deadline", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, deadline: float) -> None:
        self.reader = reader
        self.writer = writer
        self.deadline = deadline
        self.busy = False


class FrontDoor:
    """Accepts connections, reads requests, checks the token and answers what needs no upstream."""

    if TYPE_CHECKING:  # provided by Gateway and the other parts
        _token: bytes
        _tasks: set[asyncio.Task[None]]
        _limits: Limits
        _clients: dict[asyncio.BaseTransport, _Conn]  # open connections, oldest first
        _sweeper: asyncio.TimerHandle | None
        pool: Pool
        requests: int
        log: Callable[[str], None]
        ctx: Context

        async def _messages(self, req: Request, writer: asyncio.StreamWriter) -> bool: ...

    async def start(self, sock: socket.socket) -> asyncio.base_events.Server:
        """Serve on an already bound socket (so a caller knows the port before anything runs)."""
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_QuietFdErrors(self.log, loop.get_exception_handler()))
        self._sweep()
        return await asyncio.start_server(self._client, sock=sock, limit=MAX_HEAD, backlog=512)

    async def shutdown(self) -> None:
        """Drop open client connections and idle upstream ones (the listener is closed by its owner)."""
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.pool.close()
        offload.shutdown()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None

    def _sweep(self) -> None:
        """Close connections past their deadline: a head or body too slow (408), or a keep-alive left idle."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        for transport, conn in list(self._clients.items()):
            if conn.deadline <= now and not transport.is_closing():
                if conn.busy or getattr(conn.reader, "_buffer", b""):  # a request started and never finished
                    what = "body" if conn.busy else "head"
                    msg = f"routesh gateway: the request {what} did not arrive in time"
                    respond(conn.writer, 408, error_body(408, msg), keep=False)
                transport.close()
        limits = self._limits
        tick = min(1.0, max(0.05, min(limits.head_timeout, limits.idle_timeout, limits.body_timeout) / 4))
        self._sweeper = loop.call_later(tick, self._sweep)

    def _admit_connection(self, transport: asyncio.BaseTransport) -> bool:
        """Room for one more connection: at the limit the oldest idle one is closed; False when all are busy."""
        if len(self._clients) < self._limits.connections:
            return True
        for other, conn in self._clients.items():  # oldest first
            if not conn.busy:
                del self._clients[other]
                other.abort()
                return True
        return False

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        if not self._admit_connection(transport):
            respond(writer, 503, error_body(503, "routesh gateway: too many requests in flight; try again",
                                            "overloaded_error"), keep=False)
            writer.close()
            return
        limits = self._limits
        loop = asyncio.get_running_loop()
        conn = _Conn(reader, writer, loop.time() + limits.head_timeout)
        clients = self._clients
        clients[transport] = conn
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            try:  # small SSE writes must leave at once, not wait for the peer's delayed ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        hosts = _own_hosts(writer)
        try:
            while True:
                req = await read_head(reader)
                if req is None or transport.is_closing():
                    break
                conn.busy = True
                conn.deadline = loop.time() + limits.body_timeout if req.length else _NEVER
                if not await self._serve(req, reader, writer, hosts, conn):
                    break
                if transport.is_closing():
                    break
                conn.busy = False
                conn.deadline = loop.time() + limits.idle_timeout
        except BadRequest as exc:
            if not transport.is_closing():  # else the sweeper has answered (408) already
                respond(writer, exc.status, error_body(exc.status, f"routesh gateway: {exc.message}"), keep=False)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is shutting down
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the server down
            if os.environ.get("ROUTESH_DEBUG"):
                import traceback

                traceback.print_exc()
            self.log(f"routesh: internal error while serving a request ({type(exc).__name__}); this is a bug")
        finally:
            clients.pop(transport, None)
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _serve(self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     hosts: frozenset[str] | None, conn: _Conn) -> bool:
        """One request: checked from its head (origin, token) before its body is read; True to keep the connection."""
        method, path = req.method, req.path.rstrip("/") or "/"
        refusal = _foreign(req.headers, hosts)
        if refusal is not None:
            respond(writer, 403, error_body(403, f"routesh gateway: {refusal}", "permission_error"), keep=False)
            return False
        public = path == "/" and method in ("HEAD", "GET")
        if not public and not self._authorized(req.headers):
            msg = ("routesh gateway: missing or wrong token; set ANTHROPIC_AUTH_TOKEN (or x-api-key) to the token "
                   "`routesh serve` printed, or to $ROUTESH_GATEWAY_TOKEN")
            keep = req.keep_alive and req.length == 0  # an unread body cannot be skipped safely: close
            respond(writer, 401, error_body(401, msg, "authentication_error"), keep=keep,
                    headers=(("www-authenticate", 'Bearer realm="routesh"'),))
            return keep
        await read_body(reader, req, writer)  # the sweeper closes it with a 408 at conn.deadline
        conn.deadline = _NEVER  # the answer takes as long as the upstream takes
        return await self._handle(req, writer)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        """The token, compared in constant time, from x-api-key or Authorization: Bearer."""
        ok = False
        key = headers.get("x-api-key")
        if key is not None:
            ok |= hmac.compare_digest(key.strip().encode(), self._token)
        auth = headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            ok |= hmac.compare_digest(auth[7:].strip().encode(), self._token)
        return ok

    async def _handle(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        """An authorised request with its body: the endpoint's answer; True to keep the connection."""
        method, path = req.method, req.path.rstrip("/") or "/"
        if path == "/" and method in ("HEAD", "GET"):
            # Claude Code probes HEAD / without credentials before its first request; it learns nothing here.
            respond(writer, 200, b"ok\n", keep=req.keep_alive, content_type="text/plain",
                    head_only=method == "HEAD")
            return req.keep_alive
        if path == "/v1/messages":
            if method != "POST":
                respond(writer, 405, error_body(405, f"{method} is not allowed here; use POST"),
                        keep=req.keep_alive)
                return req.keep_alive
            return await self._messages(req, writer)
        if path == "/v1/messages/count_tokens" and method == "POST":
            return self._count_tokens(req, writer)
        if path == "/v1/models" and method == "GET":
            respond(writer, 200, self._models(), keep=req.keep_alive)
            return req.keep_alive
        if path == "/health" and method in ("GET", "HEAD"):
            body = json.dumps({"status": "ok", "requests": self.requests}).encode()
            respond(writer, 200, body, keep=req.keep_alive, head_only=method == "HEAD")
            return req.keep_alive
        respond(writer, 404, error_body(404, f"no such endpoint: {method} {req.path}"), keep=req.keep_alive)
        return req.keep_alive

    def _count_tokens(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        from .count import count_tokens

        try:
            body = json.loads(req.body)
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
            problem = shape_problem(body, need_model=False)
            if problem:
                raise ValueError(problem)
            tokens = count_tokens(body)
        except (ValueError, RecursionError) as exc:
            why = "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc) or "not JSON"
            respond(writer, 400, error_body(400, f"invalid request body: {why}"), keep=req.keep_alive)
            return req.keep_alive
        respond(writer, 200, json.dumps({"input_tokens": tokens}).encode(), keep=req.keep_alive)
        return req.keep_alive

    def _models(self) -> bytes:
        config = self.ctx.config
        code = config.code
        main = code.default or config.default_route
        entries = [(sentinel, f"routesh {kind}: route {getattr(code, kind, None) or main}")
                   for sentinel, kind in SENTINELS.items()]
        entries += [(name, f"routesh route {name}: {r.provider}/{self.ctx.catalog.resolve(r.model)}")
                    for name, r in config.routes.items()]
        data = [{"type": "model", "id": mid, "display_name": shown, "created_at": "2025-01-01T00:00:00Z"}
                for mid, shown in entries]
        return json.dumps({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                           "last_id": data[-1]["id"] if data else None}).encode()

    # -- /v1/messages ---------------------------------------------------------------------------------------


def _own_hosts(writer: asyncio.StreamWriter) -> frozenset[str] | None:
    """The Host values that name this gateway on this connection (None on a Unix socket: nothing to check)."""
    local = writer.get_extra_info("sockname")
    if not isinstance(local, tuple):
        return None
    addr, port = local[0], local[1]
    names = {"localhost", "127.0.0.1", "[::1]", f"[{addr}]" if ":" in addr else addr}
    return frozenset(f"{n}:{port}" for n in names)


def _foreign(headers: Mapping[str, str], hosts: frozenset[str] | None) -> str | None:
    """Why a request that names another site (a web page's POST, a DNS-rebound host name) is refused, or None."""
    if hosts is None:
        return None
    host = headers.get("host")
    if host is not None and host.lower() not in hosts:
        return f"Host {host!r} is not this gateway; connect to it as 127.0.0.1 or localhost with its port"
    origin = headers.get("origin")
    if origin is not None and (not origin.lower().startswith("http://") or origin[7:].lower() not in hosts):
        return f"requests from web pages (Origin {origin!r}) are not accepted"
    return None


class _QuietFdErrors:
    """The loop's exception handler: out of file descriptors is one line a minute, not a traceback per accept."""

    _FD_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

    def __init__(self, log: Callable[[str], None], previous: Any) -> None:
        self._log = log
        self._previous = previous
        self._last = -1e9

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in self._FD_ERRNOS:
            now = loop.time()
            if now - self._last >= 60:
                self._last = now
                self._log(f"routesh: warning: out of file descriptors ({exc.strerror}); new connections wait. "
                          "Raise the limit (ulimit -n) or open fewer connections")
            return
        if isinstance(exc, ValueError) and "file descriptor: -1" in str(exc):
            return  # asyncio retrying accept() (after running out of fds) on a listener closed meanwhile
        if self._previous is not None:
            self._previous(loop, context)
        else:
            loop.default_exception_handler(context)
