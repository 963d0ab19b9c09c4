"""Anthropic Messages API engine: the official anthropic SDK, streaming, SDK retries off."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Generator
from typing import Any

from ..core.events import Done, EngineError, EngineRequest, Event, TextDelta, Usage
from .common import Emitter, classify_sdk_error, looks_like_context_error, parse_retry_after, pump, scrub

__all__ = ["stream", "preload"]

DEFAULT_BASE_URL = "https://api.anthropic.com"

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

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def preload() -> None:
    """Import the SDK (≈1.4 s) and the modules a streamed call touches, off the critical path."""
    import anthropic
    import anthropic.resources.messages  # noqa: F401 - lazily imported on first .messages
    import anthropic.types  # noqa: F401

    _ = anthropic.Anthropic


def _client(req: EngineRequest) -> Any:
    """One SDK client per (endpoint, auth, key), reused so connections stay warm."""
    import anthropic

    base_url = (req.base_url or DEFAULT_BASE_URL).rstrip("/")
    if base_url.endswith("/v1"):
        base_url = base_url[:-3]  # the SDK appends /v1/messages itself
    fingerprint = hashlib.sha256((req.api_key or "").encode()).hexdigest()
    key = (base_url, req.auth, fingerprint)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            credential: dict[str, Any]
            if req.api_key is None:
                # `key: none`: send no credential, and never fall back to the SDK's env lookup
                credential = {"api_key": "", "default_headers": {"Authorization": anthropic.Omit()}}
            elif req.auth == "bearer":
                credential = {"auth_token": req.api_key}
            else:
                credential = {"api_key": req.api_key}
            client = anthropic.Anthropic(base_url=base_url, max_retries=0, timeout=req.timeout_s, **credential)
            _clients[key] = client
    return client


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


def _status_error(exc: Any, req: EngineRequest) -> EngineError:
    """An SDK APIStatusError (or in-stream error event) as a classified EngineError."""
    body = getattr(exc, "body", None)
    err = body.get("error") if isinstance(body, dict) else None
    etype = err.get("type") if isinstance(err, dict) else None
    api_message = err.get("message") if isinstance(err, dict) else None
    status = getattr(exc, "status_code", None)
    if (status is None or status < 400) and isinstance(etype, str):
        status = _TYPE_STATUS.get(etype, 500)  # an in-stream error event on a 200 response
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    retry_after = parse_retry_after(headers) if headers is not None and status is not None and status >= 400 else None
    text = api_message if isinstance(api_message, str) else str(getattr(exc, "message", exc))
    request_id = headers.get("request-id") if headers is not None else None
    message = f"HTTP {status}" + (f" {etype}" if etype else "") + f": {text}"
    if request_id:
        message += f" (request-id {request_id})"
    return EngineError(
        scrub(message, req.api_key),
        kind="http",
        status=status,
        retry_after=retry_after,
        context_too_long=looks_like_context_error(status, text),
    )


def _classify(exc: BaseException, req: EngineRequest) -> EngineError:
    """Any exception from the SDK or the transport as an EngineError."""
    import anthropic

    return classify_sdk_error(exc, req, anthropic, _status_error, "event")


def _produce(req: EngineRequest, emit: Emitter) -> None:
    """Make the streamed call and emit events; runs on the pump's thread."""
    try:
        client = _client(req)
        s = client.messages.create(**_params(req), stream=True, timeout=req.timeout_s)
    except BaseException as exc:  # noqa: BLE001
        raise _classify(exc, req) from None
    input_tokens = output_tokens = cache_read = cache_write = 0
    stop_reason: str | None = None
    complete = False
    try:
        for ev in s:
            t = ev.type
            if t == "content_block_delta":
                delta = ev.delta
                if delta.type == "text_delta" and delta.text:
                    if not emit(TextDelta(delta.text)):
                        return
            elif t == "message_start":
                u = ev.message.usage
                input_tokens = u.input_tokens or 0
                output_tokens = u.output_tokens or 0
                cache_read = u.cache_read_input_tokens or 0
                cache_write = u.cache_creation_input_tokens or 0
                if not emit(Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read,
                                  cache_write_tokens=cache_write, final=False)):
                    return  # known now, so a cancelled or broken answer is still counted
            elif t == "message_delta":
                stop_reason = ev.delta.stop_reason
                u = ev.usage
                if u is not None:
                    output_tokens = u.output_tokens if u.output_tokens is not None else output_tokens
                    # newer API versions repeat (cumulative) input/cache counts here
                    if getattr(u, "input_tokens", None) is not None:
                        input_tokens = u.input_tokens
                    if getattr(u, "cache_read_input_tokens", None) is not None:
                        cache_read = u.cache_read_input_tokens
                    if getattr(u, "cache_creation_input_tokens", None) is not None:
                        cache_write = u.cache_creation_input_tokens
            elif t == "message_stop":
                complete = True
            if emit.stopped.is_set():
                return
    except BaseException as exc:  # noqa: BLE001
        raise _classify(exc, req) from None
    finally:
        s.close()
    if not complete:
        raise EngineError("the stream ended before message_stop (connection cut or truncated)", kind="connection")
    emit(Usage(input_tokens=input_tokens, output_tokens=output_tokens,
               cache_read_tokens=cache_read, cache_write_tokens=cache_write))
    emit(Done(stop_reason=stop_reason))


def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Generator[Event, None, None]:
    """Stream one Messages API call: TextDelta..., Usage, Done; EngineError on failure."""
    return pump(lambda emit: _produce(req, emit), timeout_s=req.timeout_s, cancel=cancel, name="anthropic")
