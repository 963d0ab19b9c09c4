"""OpenAI-compatible Chat Completions engine (OpenAI, OpenRouter, DeepSeek, Ollama, vLLM, ...).

Usage is read wherever the server puts it (the finish chunk, or a separate final chunk with
empty choices when stream_options.include_usage is honoured) and converted to routesh's
convention: OpenAI's prompt_tokens INCLUDE cached tokens, routesh's input_tokens exclude them,
so input = prompt_tokens - cached_tokens (- cache_write_tokens where a server reports them).
finish_reason is mapped onto Anthropic's stop_reason words (stop→end_turn, length→max_tokens,
tool_calls→tool_use, content_filter→refusal) so dispatch and the ledger see one vocabulary.
The call goes over routesh's own wire client (engines/wire.py): the openai SDK is not imported.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Mapping
from dataclasses import replace
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

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # sent for `key: none` providers (local servers ignore it; the SDK sent it too)

_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
           "content_filter": "refusal"}


def preload() -> None:
    """Import what a streamed call touches (the wire client, the SSE parser, ssl), off the critical path."""
    import ssl  # noqa: F401

    from . import (
        sse,  # noqa: F401
        wire,  # noqa: F401
    )


def _headers(req: EngineRequest) -> list[tuple[str, str]]:
    """The request headers: a bearer key always (`key: none` sends a placeholder, as the SDK did)."""
    return [("content-type", "application/json"), ("accept", "text/event-stream"),
            ("authorization", f"Bearer {req.api_key or NO_KEY}"), ("user-agent", f"routesh/{__version__}")]


def _params(req: EngineRequest) -> dict[str, Any]:
    """The Chat Completions request body for this EngineRequest."""
    messages: list[dict[str, str]] = []
    if req.system:
        messages.append({"role": "system", "content": req.system})
    messages.extend({"role": m.role, "content": m.content} for m in req.messages)
    params: dict[str, Any] = {
        "model": req.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    # api.openai.com's newer models reject max_tokens; compatible servers mostly only know it
    if req.base_url is None or "api.openai.com" in req.base_url:
        params["max_completion_tokens"] = req.max_output_tokens
    else:
        params["max_tokens"] = req.max_output_tokens
    return params


def _stream_error_status(etype: str | None, code: object) -> int:
    """The HTTP status an in-stream error stands for (it arrived on a 200 response)."""
    words = f"{etype or ''} {code or ''}".lower()
    if "overload" in words:
        return 529
    if "rate_limit" in words or etype in ("requests", "tokens"):
        return 429
    if "context_length" in words or "invalid_request" in words:
        return 400
    if "auth" in words or "invalid_api_key" in words:
        return 401
    return 500


def _status_error(status: int | None, body: object, text: str, headers: Mapping[str, str] | None,
                  req: EngineRequest) -> EngineError:
    """An error response (or an in-stream error object: status None) as a classified EngineError."""
    err = body.get("error", body) if isinstance(body, dict) else None
    api_message = err.get("message") if isinstance(err, dict) else None
    etype = err.get("type") if isinstance(err, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    if status is None or status < 400:  # an in-stream error object on a 200 response
        status = _stream_error_status(etype if isinstance(etype, str) else None, code)
    if not isinstance(api_message, str):
        api_message = text
    label = etype if isinstance(etype, str) else ""
    if isinstance(code, str) and code != label:
        label = f"{label} {code}".strip()
    message = f"HTTP {status}" + (f" {label}" if label else "") + f": {api_message}"
    request_id = headers.get("x-request-id") if headers is not None else None
    if request_id:
        message += f" (request-id {request_id})"
    return EngineError(
        scrub(message, req.api_key),
        kind="http",
        status=status,
        retry_after=parse_retry_after(headers) if headers is not None else None,
        context_too_long=looks_like_context_error(status, api_message, code if isinstance(code, str) else None),
    )


def _usage(u: dict[str, Any]) -> Usage:
    """OpenAI usage (prompt includes cached) → routesh Usage (input excludes cache tokens)."""
    prompt = u.get("prompt_tokens") or 0
    details = u.get("prompt_tokens_details")
    cached = (details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
    written = (details.get("cache_write_tokens") or 0) if isinstance(details, dict) else 0
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=u.get("completion_tokens") or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


class _Call:
    """One streamed call, so the pump can abort its socket on cancel or timeout."""

    def __init__(self, req: EngineRequest) -> None:
        self.req = req
        self.response: Any = None
        self.usage: Usage | None = None
        self.finish: str | None = None
        self.refused = False
        self.done = False

    def abort(self) -> None:
        """Unblock a read in progress (the producer then stops)."""
        if self.response is not None:
            self.response.abort()

    def produce(self, emit: Emitter) -> None:
        """Make the streamed call and emit events; runs on the pump's thread."""
        from . import wire

        req = self.req
        try:
            body = json.dumps(_params(req)).encode()
            base = wire.target((req.base_url or DEFAULT_BASE_URL).rstrip("/"))
            resp = self.response = wire.post(base, "/chat/completions", _headers(req), body, req.timeout_s)
        except BaseException as exc:  # noqa: BLE001
            raise classify_wire_error(exc, req, "chunk", answering=False) from None
        try:
            relay_sse(resp, req, emit, lambda event, data: self.on(event, data, emit), _status_error)
        except BaseException as exc:  # noqa: BLE001
            if self.usage is not None:  # some servers send usage on every chunk: what was reported still counts
                emit(replace(self.usage, final=False))
            raise classify_wire_error(exc, req, "chunk", answering=True) from None
        finally:
            resp.close()
        if self.finish is None:
            if self.usage is not None:
                emit(replace(self.usage, final=False))
            raise EngineError("the stream ended before a finish_reason (connection cut or truncated)",
                              kind="connection")
        if self.usage is not None:
            emit(self.usage)
        emit(Done(stop_reason="refusal" if self.refused else _FINISH.get(self.finish, self.finish)))

    def on(self, event: str, data: str, emit: Emitter) -> bool:
        """Handle one SSE event (a chunk); False once the consumer stopped listening."""
        if self.done or data.startswith("[DONE]"):
            self.done = True  # as the SDK did: what follows [DONE] is read but ignored
            return True
        chunk = json.loads(data)
        if isinstance(chunk, dict) and chunk.get("error") and event in ("message", "error"):
            err = chunk["error"]
            message = err.get("message") if isinstance(err, dict) else None
            raise _status_error(None, err, message if isinstance(message, str) and message
                                else "An error occurred during streaming", None, self.req)
        if event != "message":
            return True
        if chunk.get("usage") is not None:
            self.usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if delta is not None:
                if delta.get("content"):
                    if not emit(TextDelta(delta["content"])):
                        return False
                refusal_text = delta.get("refusal")
                if refusal_text:
                    self.refused = True
                    if not emit(TextDelta(refusal_text)):
                        return False
            if choice.get("finish_reason"):
                self.finish = choice["finish_reason"]
        return True


def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]:
    """Stream one Chat Completions call: TextDelta..., Usage (if reported), Done; EngineError on failure."""
    call = _Call(req)
    return pump(call.produce, timeout_s=req.timeout_s, cancel=cancel, abort=call.abort, name="openai")
