"""Which HTTP proxy a request takes, from HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY: no asyncio, no sockets.

Apart from gateway/proxy.py so the engines' blocking client (wire.py) shares the rules without importing asyncio.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit


class Where(Protocol):
    """What a proxy decision looks at: the gateway's Origin and the engines' Target both are one."""

    @property
    def scheme(self) -> str: ...

    @property
    def host(self) -> str: ...


def proxies_from_env() -> dict[str, str]:
    """urllib's getproxies_environment(), without importing urllib.request when no *_proxy variable is set."""
    if not any(k[-6:].lower() == "_proxy" for k in os.environ):
        return {}
    from urllib.request import getproxies_environment

    return getproxies_environment()


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY), credentials kept apart."""

    host: str
    port: int
    authorization: str | None = None  # Proxy-Authorization value, from user:password in the URL

    @property
    def shown(self) -> str:
        """The proxy as it may appear in a message: never its credentials."""
        return f"{self.host}:{self.port}"


def proxy_for(origin: Where, proxies: dict[str, str]) -> Proxy | None:
    """The proxy a request to the origin goes through, as curl and urllib decide it: by scheme, then NO_PROXY.

    `proxies` is urllib.request.getproxies_environment(); raises ValueError for a proxy that is not http://.
    """
    from urllib.request import proxy_bypass_environment

    url = proxies.get(origin.scheme) or proxies.get("all")
    if not url or proxy_bypass_environment(origin.host, proxies):
        return None
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"only http:// proxies are supported, not {parts.scheme or '?'}:// (set in the environment)")
    auth = None
    if parts.username is not None:
        import base64

        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth = "Basic " + base64.b64encode(pair).decode("ascii")
    return Proxy(parts.hostname, parts.port or 80, auth)
