"""The user's HTTP proxy for the gateway's upstream connections: HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY.

Providers are reached the way curl would reach them from this environment: a CONNECT tunnel through an
http:// proxy for https upstreams (TLS end to end: the proxy sees only the host name), the absolute form
for plain-http ones, NO_PROXY honoured as urllib reads it. Credentials in the proxy URL go into
Proxy-Authorization and never into a message.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..engines.proxyenv import Proxy, proxy_for  # noqa: F401 - shared with the engines' wire client

if TYPE_CHECKING:
    from .client import Conn, Origin

MAX_PROXY_HEAD = 64 * 1024


class _Tunnel(asyncio.Protocol):
    """The CONNECT handshake with a proxy: waits for its response head, then hands the socket on."""

    def __init__(self) -> None:
        self.done: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._buf = b""

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if b"\r\n\r\n" in self._buf and not self.done.done():
            self.done.set_result(self._buf)
        elif len(self._buf) > MAX_PROXY_HEAD and not self.done.done():
            self.done.set_exception(ValueError("the proxy sent a response head larger than 64 KB"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError("the proxy closed the connection"))


async def connect_via(proxy: Proxy, origin: Origin, ssl_ctx: ssl.SSLContext | None, make: Callable[[], Conn]) -> Conn:
    """A connection through an HTTP proxy: a CONNECT tunnel for https, the absolute form for http."""
    loop = asyncio.get_running_loop()
    auth = [("proxy-authorization", proxy.authorization)] if proxy.authorization else []
    if ssl_ctx is None:
        _, conn = await loop.create_connection(make, proxy.host, proxy.port)
        conn.target_prefix = f"http://{origin.host_header}"
        conn.proxy_headers = auth
        return conn
    transport, tunnel = await loop.create_connection(_Tunnel, proxy.host, proxy.port)
    try:
        target = f"{'[' + origin.host + ']' if ':' in origin.host else origin.host}:{origin.port}"
        lines = [f"CONNECT {target} HTTP/1.1", f"host: {target}", *(f"{k}: {v}" for k, v in auth)]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        head = await tunnel.done
        line = head.split(b"\r\n", 1)[0]
        status = line.split(b" ", 2)
        if len(status) < 2 or not status[1].startswith(b"2"):
            raise ValueError(f"the proxy refused the tunnel ({line.decode('latin-1')[:200]})")
        conn = make()
        tls = await loop.start_tls(transport, conn, ssl_ctx, server_hostname=origin.host)
    except BaseException:
        transport.close()
        raise
    assert tls is not None
    conn.connection_made(tls)
    return conn
