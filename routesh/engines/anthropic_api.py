"""Anthropic Messages API engine: the streamed call over routesh's own wire client (engines/wire.py), no SDK.

The anthropic SDK took over a second to import on every one-shot; the request, the SSE events and the
error shapes it handled are small and stable, so they are spoken here directly (retries stay in dispatch).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Mapping
from typing import Any

from .. import __version__
from ..core.events import Done, EngineError, EngineRequest, Event, TextDelta, Usage
from .common import (
    Emitter,
    classify_wire_error,
    looks_like_context_error,
    parse_retry_after,
    pump,
    relay_sse,
    scrub,
)

__all__ = ["stream", "preload"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"

# In-stream `event: error` arrives with HTTP 200; its error.type says what the status would be.
_TYPE_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def preload() -> None:
    """Import what a streamed call touches (the wire client, the SSE parser, ssl), off the critical path."""
    import ssl  # noqa: F401

    from . import (
        sse,  # noqa: F401
        wire,  # noqa: F401
    )


def _headers(req: EngineRequest) -> list[tuple[str, str]]:
    """The request headers: the credential as the route says (`key: none` sends none, never an env fallback)."""
    headers = [("content-type", "application/json"), ("accept", "text/event-stream"),
               ("anthropic-version", API_VERSION), ("user-agent", f"routesh/{__version__}")]
    if req.api_key is not None:
        headers.append(("authorization", f"Bearer {req.api_key}") if req.auth == "bearer"
                       else ("x-api-key", req.api_key))
    return headers


def _params(req: EngineRequest) -> dict[str, Any]:
    """The Messages API request body for this EngineRequest."""
    params: dict[str, Any] = {
        "model": req.model,
        "max_tokens": req.max_output_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in req.messages],
    }
    if req.system:
        params["system"] = req.system
    return params


def _status_error(status: int, body: object, text: str, headers: Mapping[str, str] | None,
                  req: EngineRequest) -> EngineError:
    """An error response (or an in-stream error event, on a 200) as a classified EngineError."""
    err = body.get("error") if isinstance(body, dict) else None
    etype = err.get("type") if isinstance(err, dict) else None
    api_message = err.get("message") if isinstance(err, dict) else None
    if status < 400 and isinstance(etype, str):
        status = _TYPE_STATUS.get(etype, 500)  # an in-stream error event on a 200 response
    retry_after = parse_retry_after(headers) if headers is not None and status >= 400 else None
    if not isinstance(api_message, str):
        api_message = text
    request_id = headers.get("request-id") if headers is not None else None
    message = f"HTTP {status}" + (f" {etype}" if etype else "") + f": {api_message}"
    if request_id:
        message += f" (request-id {request_id})"
    return EngineError(
        scrub(message, req.api_key),
        kind="http",
        status=status,
        retry_after=retry_after,
        context_too_long=looks_like_context_error(status, api_message),
    )


class _Call:
    """One streamed call, so the pump can abort its socket on cancel or timeout."""

    def __init__(self, req: EngineRequest) -> None:
        self.req = req
        self.response: Any = None

    def abort(self) -> None:
        """Unblock a read in progress (the producer then stops)."""
        if self.response is not None:
            self.response.abort()

    def produce(self, emit: Emitter) -> None:
        """Make the streamed call and emit events; runs on the pump's thread."""
        from . import wire

        req = self.req
        try:
            base = (req.base_url or DEFAULT_BASE_URL).rstrip("/")
            if base.endswith("/v1"):
                base = base[:-3]  # /v1/messages is appended here
            body = json.dumps({**_params(req), "stream": True}).encode()
            resp = self.response = wire.post(wire.target(base), "/v1/messages", _headers(req), body, req.timeout_s)
        except BaseException as exc:  # noqa: BLE001
            raise classify_wire_error(exc, req, "event", answering=False) from None
        try:
            state = _State()
            relay_sse(resp, req, emit, lambda event, data: state.on(event, data, emit, resp, req), _status_error)
        except BaseException as exc:  # noqa: BLE001
            raise classify_wire_error(exc, req, "event", answering=True) from None
        finally:
            resp.close()
        if not state.complete:
            raise EngineError("the stream ended before message_stop (connection cut or truncated)", kind="connection")
        emit(Usage(input_tokens=state.input_tokens, output_tokens=state.output_tokens,
                   cache_read_tokens=state.cache_read, cache_write_tokens=state.cache_write))
        emit(Done(stop_reason=state.stop_reason))


_EVENTS = frozenset({"message_start", "message_delta", "message_stop", "content_block_start", "content_block_delta",
                     "content_block_stop"})


class _State:
    """What the Messages stream has said so far: usage counts, the stop reason, whether message_stop came."""

    def __init__(self) -> None:
        self.input_tokens = self.output_tokens = self.cache_read = self.cache_write = 0
        self.stop_reason: str | None = None
        self.complete = False

    def on(self, event: str, data: str, emit: Emitter, resp: Any, req: EngineRequest) -> bool:
        """Handle one SSE event; False once the consumer stopped listening."""
        if event == "ping":
            return True
        if event == "error":
            try:
                body: object = json.loads(data)
            except ValueError:
                body = None
            raise _status_error(resp.status, body, data or f"Error code: {resp.status}", resp.headers, req)
        if event not in _EVENTS:
            return True  # as the SDK did: events it does not know are skipped
        ev = json.loads(data)
        t = ev["type"]
        if t == "content_block_delta":
            delta = ev["delta"]
            if delta.get("type") == "text_delta" and delta.get("text"):
                return emit(TextDelta(delta["text"]))
        elif t == "message_start":
            u = ev["message"]["usage"]
            self.input_tokens = u.get("input_tokens") or 0
            self.output_tokens = u.get("output_tokens") or 0
            self.cache_read = u.get("cache_read_input_tokens") or 0
            self.cache_write = u.get("cache_creation_input_tokens") or 0
            # known now, so a cancelled or broken answer is still counted
            return emit(Usage(input_tokens=self.input_tokens, output_tokens=self.output_tokens,
                              cache_read_tokens=self.cache_read, cache_write_tokens=self.cache_write, final=False))
        elif t == "message_delta":
            self.stop_reason = ev["delta"].get("stop_reason")
            u = ev.get("usage")
            if u is not None:
                if u.get("output_tokens") is not None:
                    self.output_tokens = u["output_tokens"]
                # newer API versions repeat (cumulative) input/cache counts here
                if u.get("input_tokens") is not None:
                    self.input_tokens = u["input_tokens"]
                if u.get("cache_read_input_tokens") is not None:
                    self.cache_read = u["cache_read_input_tokens"]
                if u.get("cache_creation_input_tokens") is not None:
                    self.cache_write = u["cache_creation_input_tokens"]
        elif t == "message_stop":
            self.complete = True
        return True


def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]:
    """Stream one Messages API call: TextDelta..., Usage, Done; EngineError on failure."""
    call = _Call(req)
    return pump(call.produce, timeout_s=req.timeout_s, cancel=cancel, abort=call.abort, name="anthropic")
