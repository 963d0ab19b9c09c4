"""Errors in the shape Claude Code understands: an OpenAI error body as Anthropic's, status and retry-after kept."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..screening.keymask import mask_keys

STATUS_TO_ERROR: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "invalid_request_error",  # OpenRouter: out of credits; Anthropic has no billing type Claude Code knows
    403: "permission_error",
    404: "not_found_error",
    408: "api_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class AnthropicError:
    """An upstream failure in the shape Claude Code understands, with the status and retry-after it should see."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)
    retry_after: str | None = None  # for the caller to send as the `retry-after` header

    @property
    def type(self) -> str:
        """Anthropic's error type, e.g. rate_limit_error."""
        return str(self.body.get("error", {}).get("type", "api_error"))

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.body.get("error", {}).get("message", ""))

    def to_bytes(self) -> bytes:
        """The JSON body to send."""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")

    def headers(self) -> dict[str, str]:
        """Response headers that belong with this error."""
        h = {"content-type": "application/json"}
        if self.retry_after is not None:
            h["retry-after"] = self.retry_after
        return h


def error_type_for_status(status: int) -> str:
    """The Anthropic error type for an HTTP status; other 4xx are invalid requests, other 5xx api errors."""
    if status in STATUS_TO_ERROR:
        return STATUS_TO_ERROR[status]
    if 400 <= status < 500:
        return "invalid_request_error"
    return "api_error"


def anthropic_error(
    status: int, message: str, *, type: str | None = None, retry_after: str | None = None
) -> AnthropicError:
    """An Anthropic-shaped error for a status, e.g. the gateway's own 401."""
    body = {"type": "error", "error": {"type": type or error_type_for_status(status), "message": message}}
    return AnthropicError(status, body, retry_after)


_CONTEXT_TOO_LONG = re.compile(r"context[ _-]?length|context window|maximum context|too many tokens|prompt is too long|"
                               r"input is too long|reduce the length", re.I)


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, name: str) -> str | None:
    """A header value by case-insensitive name."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> str | None:
    """retry-after as the upstream said it (seconds or an HTTP date); retry-after-ms rounded up to seconds."""
    value = _header(headers, "retry-after")
    if value is not None and value.strip():
        return value.strip()
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            return str(max(0, math.ceil(float(ms) / 1000)))
        except ValueError:
            return None
    return None


def _error_fields(body: Any) -> tuple[str, str | None, str | None]:
    """(message, OpenAI type, OpenAI code) from whatever error body a server sent."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body) if body.strip() else {}
        except ValueError:
            return body.strip()[:2000], None, None
    if not isinstance(body, Mapping):
        return "", None, None
    err = body.get("error", body)
    if isinstance(err, str):
        return err, None, None
    if not isinstance(err, Mapping):
        return json.dumps(body)[:2000], None, None
    message = err.get("message") or err.get("detail") or body.get("detail") or body.get("message") or ""
    if not isinstance(message, str):
        message = json.dumps(message)
    meta = err.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("raw"), str) and meta["raw"] not in message:
        message = f"{message} ({meta['raw']})" if message else meta["raw"]  # OpenRouter's upstream detail
    etype = err.get("type")
    code = err.get("code")
    return message, str(etype) if etype else None, str(code) if code is not None else None


def from_openai_error(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> AnthropicError:
    """An OpenAI-style error response as Anthropic's error shape, status kept, retry-after passed through."""
    message, etype, code = _error_fields(body)
    message = mask_keys(message) or f"upstream answered HTTP {status}"
    kind = error_type_for_status(status)
    if status in (400, 413, 422) and (code == "context_length_exceeded" or _CONTEXT_TOO_LONG.search(message)):
        # Claude Code recognises this wording and compacts the conversation instead of giving up.
        if not message.lower().startswith("prompt is too long"):
            message = f"prompt is too long: {message}"
    elif etype == "insufficient_quota" or code == "insufficient_quota":
        kind = "rate_limit_error" if status == 429 else kind
    return anthropic_error(status, message, type=kind, retry_after=_retry_after(headers))


def _stream_error(err: Any) -> AnthropicError:
    """An error object that arrived inside a stream (OpenRouter, vLLM) as an Anthropic error."""
    message, _etype, code = _error_fields({"error": err})
    status = int(code) if code is not None and code.isdigit() and 400 <= int(code) <= 599 else 500
    return from_openai_error(status, {"error": {"message": message, "code": code}})
