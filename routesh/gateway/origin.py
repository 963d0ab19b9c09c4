"""Where a provider lives, from its base_url: scheme, host, port and path prefix."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Origin:
    """Where a provider lives: scheme, host, port, and the path prefix of its base URL."""

    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        """The Host header value (port left out when it is the scheme's default)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def key(self) -> tuple[str, str, int]:
        """What a pooled connection may be shared by."""
        return self.scheme, self.host, self.port


@functools.lru_cache(maxsize=64)  # every attempt parses its provider's base_url: a handful of distinct ones
def parse_origin(base_url: str) -> Origin:
    """An Origin from a provider base_url such as https://api.anthropic.com or http://127.0.0.1:11434/v1."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must be an http:// or https:// URL, not {base_url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Origin(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))
