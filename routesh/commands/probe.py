"""`doctor --online`: one cheap authenticated call (list the models) per provider endpoint, with its latency."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..core.config import Provider

ANTHROPIC_DEFAULT = "https://api.anthropic.com"
OPENAI_DEFAULT = "https://api.openai.com/v1"
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ProbeResult:
    """What the endpoint answered: HTTP status (None when nothing answered), latency, and a short note."""

    url: str
    status: int | None
    latency_ms: float | None
    note: str

    @property
    def ok(self) -> bool:
        """A 2xx answer: the endpoint is up and took the key."""
        return self.status is not None and 200 <= self.status < 300


def models_url(provider: Provider) -> str:
    """The model-list URL of a provider: Anthropic's /v1/models, or an OpenAI-compatible base + /models."""
    if provider.type == "anthropic":
        base = (provider.base_url or ANTHROPIC_DEFAULT).rstrip("/")
        return (base[:-3] if base.endswith("/v1") else base) + "/v1/models"
    return (provider.base_url or OPENAI_DEFAULT).rstrip("/") + "/models"


def headers(provider: Provider, key: str | None) -> dict[str, str]:
    """The credential headers the engines would send for this provider."""
    h = {"accept": "application/json", "user-agent": "routesh-doctor"}
    if provider.type == "anthropic":
        h["anthropic-version"] = "2023-06-01"
        if key and provider.auth == "bearer":
            h["authorization"] = f"Bearer {key}"
        elif key:
            h["x-api-key"] = key
    elif key:
        h["authorization"] = f"Bearer {key}"
    return h


def probe(provider: Provider, key: str | None, *, timeout_s: float = TIMEOUT_S) -> ProbeResult:
    """GET the model list once (stdlib urllib: no SDK import); never raises, never puts the key in the note."""
    import urllib.error
    import urllib.request

    from ..core.kept import shown

    def tidy(text: str) -> str:
        text = text.replace(key, "[key]") if key else text
        return shown(" ".join(text.split()))[:300]

    url = models_url(provider)
    req = urllib.request.Request(url, headers=headers(provider, key), method="GET")
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:  # noqa: S310 - a configured provider URL
            status = r.status
    except urllib.error.HTTPError as exc:
        ms = (time.monotonic() - start) * 1000
        body = exc.read(300).decode("utf-8", "replace")
        meaning = {401: "the key was rejected", 403: "the key may not use this endpoint",
                   404: "no model list at this URL (check base_url)"}.get(exc.code, "unexpected answer")
        return ProbeResult(url, exc.code, ms, tidy(f"{meaning}: {body}" if body.strip() else meaning))
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused connections, bad URLs
        reason = getattr(exc, "reason", None) or exc
        return ProbeResult(url, None, None, tidy(f"{type(exc).__name__}: {reason}"))
    return ProbeResult(url, status, (time.monotonic() - start) * 1000, "answered")
