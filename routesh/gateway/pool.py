"""Idle keep-alive upstream connections per origin, and new ones made (directly or through the user's proxy)."""

from __future__ import annotations

import asyncio
import ssl as _ssl
from collections import deque

from .client import IDLE_PER_ORIGIN, Conn, UpstreamError
from .origin import Origin
from .proxy import connect_via, proxy_for


class Pool:
    """Idle keep-alive connections per origin, most recently used first."""

    def __init__(self, connect_timeout: float = 10.0, proxies: dict[str, str] | None = None) -> None:
        from urllib.request import getproxies_environment

        self._idle: dict[tuple[str, str, int], deque[Conn]] = {}
        self.connect_timeout = connect_timeout
        # HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY as the user set them (lower case wins, as in curl)
        self.proxies = getproxies_environment() if proxies is None else proxies
        self._ssl: _ssl.SSLContext | None = None
        self.opened = 0  # connections made, to see the pool at work

    def _ssl_context(self) -> _ssl.SSLContext:
        if self._ssl is None:
            self._ssl = _ssl.create_default_context()
        return self._ssl

    async def acquire(self, origin: Origin) -> Conn:
        """An idle connection to the origin, or a new one."""
        idle = self._idle.get(origin.key)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                conn.reused = True
                return conn
        try:
            proxy = proxy_for(origin, self.proxies) if self.proxies else None
        except ValueError as exc:
            raise UpstreamError(f"cannot reach {origin.host_header}: {exc}", sent=False) from None
        loop = asyncio.get_running_loop()
        ssl_ctx = self._ssl_context() if origin.scheme == "https" else None
        where = origin.host_header if proxy is None else f"{origin.host_header} through the proxy {proxy.shown}"
        try:
            if proxy is None:
                _, conn = await asyncio.wait_for(
                    loop.create_connection(lambda: Conn(origin, self), origin.host, origin.port, ssl=ssl_ctx,
                                           server_hostname=origin.host if ssl_ctx else None),
                    self.connect_timeout)
            else:
                conn = await asyncio.wait_for(connect_via(proxy, origin, ssl_ctx, lambda: Conn(origin, self)),
                                              self.connect_timeout)
        except TimeoutError:
            raise UpstreamError(f"connecting to {where} timed out", "timeout", sent=False) from None
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UpstreamError(f"cannot connect to {where}: {why}", sent=False) from None
        self.opened += 1  # asyncio sets TCP_NODELAY on its TCP sockets
        return conn

    def put(self, conn: Conn) -> None:
        """Keep a connection for the next request to its origin."""
        idle = self._idle.setdefault(conn.origin.key, deque())
        if len(idle) >= IDLE_PER_ORIGIN:
            conn.close()
            return
        idle.append(conn)

    def forget(self, conn: Conn) -> None:
        """A connection closed by the server: it is no longer idle."""
        idle = self._idle.get(conn.origin.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle.clear()
