"""OpenAI-compatible Chat Completions engine (OpenAI, OpenRouter, DeepSeek, Ollama, vLLM, ...).

Usage is read wherever the server puts it (the finish chunk, or a separate final chunk with
empty choices when stream_options.include_usage is honoured) and converted to routesh's
convention: OpenAI's prompt_tokens INCLUDE cached tokens, routesh's input_tokens exclude them,
so input = prompt_tokens - cached_tokens (- cache_write_tokens where a server reports them).
finish_reason is mapped onto Anthropic's stop_reason words (stop→end_turn, length→max_tokens,
tool_calls→tool_use, content_filter→refusal) so dispatch and the ledger see one vocabulary.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Generator
from dataclasses import replace
from typing import Any

from ..core.events import Done, EngineError, EngineRequest, Event, TextDelta, Usage
from .common import Emitter, classify_sdk_error, looks_like_context_error, parse_retry_after, pump, scrub

__all__ = ["stream", "preload"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "no-key"  # sent for `key: none` providers (local servers ignore it; the SDK insists on one)

_FINISH = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
           "content_filter": "refusal"}

_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def preload() -> None:
    """Import the SDK and the modules a streamed call touches, off the critical path."""
    import openai
    import openai.resources.chat  # noqa: F401
    import openai.types.chat  # noqa: F401

    _ = openai.OpenAI


def _client(req: EngineRequest) -> Any:
    """One SDK client per (endpoint, key), reused so connections stay warm."""
    import openai

    base_url = (req.base_url or DEFAULT_BASE_URL).rstrip("/")
    fingerprint = hashlib.sha256((req.api_key or "").encode()).hexdigest()
    key = (base_url, fingerprint)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = openai.OpenAI(api_key=req.api_key or NO_KEY, base_url=base_url, max_retries=0,
                                   timeout=req.timeout_s)
            _clients[key] = client
    return client


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


def _status_error(exc: Any, req: EngineRequest) -> EngineError:
    """An SDK APIStatusError (or an in-stream error object) as a classified EngineError."""
    body = getattr(exc, "body", None)
    err = body.get("error", body) if isinstance(body, dict) else None
    api_message = err.get("message") if isinstance(err, dict) else None
    etype = err.get("type") if isinstance(err, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    status = getattr(exc, "status_code", None)
    if status is None or status < 400:  # an in-stream error object on a 200 response
        status = _stream_error_status(etype if isinstance(etype, str) else None, code)
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    text = api_message if isinstance(api_message, str) else str(getattr(exc, "message", exc))
    label = etype if isinstance(etype, str) else ""
    if isinstance(code, str) and code != label:
        label = f"{label} {code}".strip()
    message = f"HTTP {status}" + (f" {label}" if label else "") + f": {text}"
    request_id = headers.get("x-request-id") if headers is not None else None
    if request_id:
        message += f" (request-id {request_id})"
    return EngineError(
        scrub(message, req.api_key),
        kind="http",
        status=status,
        retry_after=parse_retry_after(headers) if headers is not None else None,
        context_too_long=looks_like_context_error(status, text, code if isinstance(code, str) else None),
    )


def _classify(exc: BaseException, req: EngineRequest) -> EngineError:
    """Any exception from the SDK or the transport as an EngineError."""
    import openai

    return classify_sdk_error(exc, req, openai, _status_error, "chunk")


def _usage(u: Any) -> Usage:
    """OpenAI usage (prompt includes cached) → routesh Usage (input excludes cache tokens)."""
    prompt = u.prompt_tokens or 0
    details = getattr(u, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    written = (getattr(details, "cache_write_tokens", None) or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=u.completion_tokens or 0,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def _produce(req: EngineRequest, emit: Emitter) -> None:
    """Make the streamed call and emit events; runs on the pump's thread."""
    try:
        client = _client(req)
        s = client.chat.completions.create(**_params(req), timeout=req.timeout_s)
    except BaseException as exc:  # noqa: BLE001
        raise _classify(exc, req) from None
    usage: Usage | None = None
    finish: str | None = None
    refused = False
    try:
        for chunk in s:
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices or ():
                delta = choice.delta
                if delta is not None:
                    if delta.content:
                        if not emit(TextDelta(delta.content)):
                            return
                    refusal_text = getattr(delta, "refusal", None)
                    if refusal_text:
                        refused = True
                        if not emit(TextDelta(refusal_text)):
                            return
                if choice.finish_reason:
                    finish = choice.finish_reason
            if emit.stopped.is_set():
                return
    except BaseException as exc:  # noqa: BLE001
        if usage is not None:  # some servers send usage on every chunk: what was reported still counts
            emit(replace(usage, final=False))
        raise _classify(exc, req) from None
    finally:
        s.close()
    if finish is None:
        if usage is not None:
            emit(replace(usage, final=False))
        raise EngineError("the stream ended before a finish_reason (connection cut or truncated)", kind="connection")
    if usage is not None:
        emit(usage)
    emit(Done(stop_reason="refusal" if refused else _FINISH.get(finish, finish)))


def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]:
    """Stream one Chat Completions call: TextDelta..., Usage (if reported), Done; EngineError on failure."""
    return pump(lambda emit: _produce(req, emit), timeout_s=req.timeout_s, cancel=cancel, name="openai")
