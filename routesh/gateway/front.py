"""The gateway's front door: connections, the token, and the endpoints that are answered locally."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from .classify import SENTINELS
from .framing import MAX_HEAD, Request, error_body, read_request, respond

if TYPE_CHECKING:
    from ..context import Context
    from .client import Pool


class FrontDoor:
    """Accepts connections, reads requests, checks the token and answers what needs no upstream."""

    if TYPE_CHECKING:  # provided by Gateway and the other parts
        _token: bytes
        _tasks: set[asyncio.Task[None]]
        pool: Pool
        requests: int
        log: Callable[[str], None]
        ctx: Context

        async def _messages(self, req: Request, writer: asyncio.StreamWriter) -> bool: ...

    async def start(self, sock: socket.socket) -> asyncio.base_events.Server:
        """Serve on an already bound socket (so a caller knows the port before anything runs)."""
        return await asyncio.start_server(self._client, sock=sock, limit=MAX_HEAD, backlog=512)

    async def shutdown(self) -> None:
        """Drop open client connections and idle upstream ones (the listener is closed by its owner)."""
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.pool.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
        try:
            while True:
                req = await read_request(reader, writer)
                if req is None:
                    break
                keep = await self._handle(req, writer)
                if not keep or writer.transport.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is shutting down
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the server down
            if os.environ.get("ROUTESH_DEBUG"):
                import traceback

                traceback.print_exc()
            self.log(f"routesh: internal error while serving a request ({type(exc).__name__}); this is a bug")
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass


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
        method, path = req.method, req.path.rstrip("/") or "/"
        if path == "/" and method in ("HEAD", "GET"):
            # Claude Code probes HEAD / without credentials before its first request; it learns nothing here.
            respond(writer, 200, b"ok\n", keep=req.keep_alive, content_type="text/plain",
                          head_only=method == "HEAD")
            return req.keep_alive
        if not self._authorized(req.headers):
            msg = ("routesh gateway: missing or wrong token; set ANTHROPIC_AUTH_TOKEN (or x-api-key) to the token "
                   "`routesh serve` printed, or to $ROUTESH_GATEWAY_TOKEN")
            respond(writer, 401, error_body(401, msg, "authentication_error"), keep=req.keep_alive,
                          headers=(("www-authenticate", 'Bearer realm="routesh"'),))
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
        from .translate import count_tokens

        try:
            body = json.loads(req.body)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            respond(writer, 400, error_body(400, "the body is not a JSON object"), keep=req.keep_alive)
            return req.keep_alive
        respond(writer, 200, json.dumps({"input_tokens": count_tokens(body)}).encode(), keep=req.keep_alive)
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
