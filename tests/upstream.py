"""A test upstream: a real HTTP/1.1 server on 127.0.0.1 speaking the Anthropic Messages and
OpenAI Chat Completions wire formats, with scripted faults and a record of every request.

Why: the official SDKs (and the real Claude Code CLI) must talk to something real over real
sockets, so that retries, timeouts, dropped connections and usage accounting are tested
end to end instead of against mocks.

In-process use::

    from upstream import Upstream, rate_limited, drop_after
    with Upstream() as up:                      # background thread, free port
        up.script(rate_limited(retry_after="3"), drop_after(4), path="/v1/messages")
        ...  # point a client at up.url
        up.requests[-1].json["model"]

As pytest fixtures: ``from upstream import upstream_fixture  # noqa: F401`` in a test module, then take
``upstream`` (and ``claude_exe`` via ``claude_exe_fixture``: the real claude, offline, or skip).

Standalone (benchmarks, manual runs)::

    python -m tests.upstream --port 8765 [--text "..."] [--repeat 50] [--event-delay 0.01]

Wire formats follow the public API docs: Anthropic streams ``event: message_start``,
``content_block_start``, ``ping``, ``content_block_delta``\\*, ``content_block_stop``,
``message_delta`` (stop_reason + usage) and ``message_stop``, with errors shaped
``{"type":"error","error":{"type":...,"message":...},"request_id":...}`` and a ``request-id``
header; OpenAI streams ``data: {chat.completion.chunk}`` lines ending with ``data: [DONE]``,
with usage on a final chunk whose ``choices`` is empty when ``stream_options.include_usage``
is set, and errors shaped ``{"error":{"message","type","param","code"}}``.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import itertools
import json
import os
import re
import shutil
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import Any, Literal

__all__ = [
    "Upstream",
    "RecordedRequest",
    "Fault",
    "UsageSpec",
    "status_error",
    "rate_limited",
    "server_error",
    "overloaded",
    "unauthorized",
    "context_too_long",
    "slow_first_byte",
    "slow_stream",
    "drop_after",
    "truncate_after",
    "malformed_after",
    "stream_error_after",
    "refusal",
    "split_text",
    "processes_with_marker",
    "wait_no_marker",
    "upstream_fixture",
    "claude_exe_fixture",
]

OpenAIUsagePlacement = Literal["auto", "separate", "finish", "none"]
DeltaUsage = Literal["output", "full"]

MESSAGES_PATHS = frozenset({"/v1/messages"})
CHAT_PATHS = frozenset({"/v1/chat/completions", "/chat/completions"})
GENERATION_PATHS = MESSAGES_PATHS | CHAT_PATHS

_REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 413: "Payload Too Large",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded",
}

# status -> (anthropic error.type, openai error.type, openai error.code, message)
_ERRORS: dict[int, tuple[str, str, str | None, str]] = {
    400: ("invalid_request_error", "invalid_request_error", None, "Invalid request."),
    401: ("authentication_error", "invalid_request_error", "invalid_api_key", "invalid x-api-key"),
    403: ("permission_error", "invalid_request_error", "permission_denied",
          "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "invalid_request_error", "model_not_found", "Not found."),
    408: ("timeout_error", "timeout", None, "Request timed out."),
    409: ("api_error", "invalid_request_error", "conflict", "Conflict."),
    413: ("request_too_large", "invalid_request_error", None, "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "requests", "rate_limit_exceeded",
          "Number of requests has exceeded your per-minute rate limit. Please try again later."),
    500: ("api_error", "server_error", None, "Internal server error"),
    502: ("api_error", "server_error", None, "Bad gateway"),
    503: ("api_error", "server_error", None, "Service unavailable"),
    504: ("timeout_error", "server_error", None, "Gateway timeout"),
    529: ("overloaded_error", "server_error", "overloaded", "Overloaded"),
}

_ANTHROPIC_CONTEXT_MESSAGE = "prompt is too long: 215364 tokens > 200000 maximum"
_OPENAI_CONTEXT_MESSAGE = (
    "This model's maximum context length is 128000 tokens. However, your messages resulted in "
    "215364 tokens. Please reduce the length of the messages."
)

_TOKEN_RE = re.compile(r"\s*[^\s.,!?;:]+|\s*[.,!?;:]|\s+")


def split_text(text: str) -> tuple[str, ...]:
    """Cut a reply into word-sized deltas the way a model streams them (joined, they are the text)."""
    return tuple(_TOKEN_RE.findall(text))


@dataclass(frozen=True)
class UsageSpec:
    """Token counts to report, in Anthropic's convention (input excludes cache tokens).

    OpenAI replies report prompt_tokens = input + cache_read, with cache_read as
    prompt_tokens_details.cached_tokens (OpenAI has no cache-write count).
    """

    input_tokens: int = 21
    output_tokens: int = 9
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, applied to the next matching request(s).

    Build them with the helpers below (rate_limited(), drop_after(3), ...); fields combine, so
    ``replace(slow_first_byte(2), status=500)`` is a slow 500.
    """

    status: int | None = None  # reply with this HTTP error instead of an answer
    message: str | None = None  # error message override
    error_type: str | None = None  # Anthropic error.type (and OpenAI type) override
    code: str | None = None  # OpenAI error.code override
    retry_after: str | None = None  # retry-after header value: seconds or an HTTP date
    retry_after_ms: str | None = None  # retry-after-ms header (Anthropic SDKs read it first)
    headers: tuple[tuple[str, str], ...] = ()  # extra response headers
    context_too_long: bool = False  # 400 shaped as each API's context-length error
    echo_key: bool = False  # put the caller's key in the error message (a leaky proxy)
    first_byte_delay: float = 0.0  # seconds before the status line is sent
    event_delay: float | None = None  # seconds between stream events (overrides the default)
    drop_after: int | None = None  # cut the connection after this many stream events
    clean_end: bool = False  # with drop_after: end the body properly (a truncated stream)
    malformed_after: int | None = None  # insert an unparseable event after this many events
    stream_error_after: int | None = None  # send an in-stream error event after this many events
    stream_error_type: str = "overloaded_error"
    stop_reason: str | None = None  # e.g. "refusal"
    text: str | None = None  # reply text override for this request
    tool_use: tuple[str, str] | None = None  # (tool name, input as JSON): answer with this call (Anthropic wire)
    path: str | None = None  # only requests to this path (default: any generation endpoint)
    model: str | None = None  # only requests for this model
    times: int = 1  # how many matching requests it applies to

    def matches(self, path: str, model: str | None) -> bool:
        """Whether this fault applies to a request for `model` at `path`."""
        if self.path is not None:
            if path != self.path:
                return False
        elif path not in GENERATION_PATHS:
            return False
        return self.model is None or self.model == model


def status_error(status: int, message: str | None = None, *, error_type: str | None = None,
                 code: str | None = None, retry_after: str | None = None) -> Fault:
    """Any HTTP error status, in the wire shape of the API that was called."""
    return Fault(status=status, message=message, error_type=error_type, code=code, retry_after=retry_after)


def rate_limited(retry_after: str | float | None = "1", *, retry_after_ms: str | None = None) -> Fault:
    """429 rate_limit_error with a retry-after header (seconds, or an HTTP date string)."""
    ra = None if retry_after is None else str(retry_after)
    return Fault(status=429, retry_after=ra, retry_after_ms=retry_after_ms)


def server_error() -> Fault:
    """500 api_error / server_error."""
    return Fault(status=500)


def overloaded(retry_after: str | None = None) -> Fault:
    """529 overloaded_error, as Anthropic sends under load."""
    return Fault(status=529, retry_after=retry_after)


def unauthorized(*, echo_key: bool = False) -> Fault:
    """401 authentication_error; echo_key=True makes the message contain the key that was sent."""
    return Fault(status=401, echo_key=echo_key)


def context_too_long() -> Fault:
    """400 "prompt is too long" (Anthropic) / context_length_exceeded (OpenAI)."""
    return Fault(status=400, context_too_long=True)


def slow_first_byte(seconds: float) -> Fault:
    """Wait before sending anything at all (not even the status line)."""
    return Fault(first_byte_delay=seconds)


def slow_stream(seconds_between_events: float) -> Fault:
    """Stream normally but pause between events."""
    return Fault(event_delay=seconds_between_events)


def drop_after(events: int) -> Fault:
    """Cut the TCP connection mid-stream after `events` SSE events (incomplete chunked body)."""
    return Fault(drop_after=events)


def truncate_after(events: int) -> Fault:
    """End the body cleanly after `events` events: the stream just stops, no message_stop/[DONE]."""
    return Fault(drop_after=events, clean_end=True)


def malformed_after(events: int) -> Fault:
    """Insert an event whose data is not valid JSON after `events` good events."""
    return Fault(malformed_after=events)


def stream_error_after(events: int, error_type: str = "overloaded_error") -> Fault:
    """Send an in-stream error event (Anthropic ``event: error``; OpenAI ``data: {"error":...}``)."""
    return Fault(stream_error_after=events, stream_error_type=error_type)


def refusal() -> Fault:
    """Answer with stop_reason "refusal" (OpenAI: finish_reason "content_filter")."""
    return Fault(stop_reason="refusal", text="I can't help with that.")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the upstream received it."""

    method: str
    path: str  # without the query string
    query: str
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    json: Any  # parsed body, or None
    time: float  # time.monotonic() when the headers were read
    fault: Fault | None = None  # the scripted fault applied to it, if any

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return self.headers.get(name.lower())

    @property
    def model(self) -> str | None:
        """The requested model id, if the body names one."""
        return self.json.get("model") if isinstance(self.json, dict) else None

    @property
    def stream(self) -> bool:
        """Whether the request asked for a streamed reply."""
        return bool(isinstance(self.json, dict) and self.json.get("stream"))

    def __repr__(self) -> str:  # bodies are large (Claude Code sends ~76 KB); keep reprs short
        return f"RecordedRequest({self.method} {self.path} model={self.model!r} bytes={len(self.body)})"


class _Abort(Exception):
    """Raised inside a handler to cut the connection without a proper response end."""


@dataclass
class _Settings:
    """Mutable reply configuration, guarded by the Upstream's lock."""

    text: str = "Hello from {model}."
    chunks: tuple[str, ...] | None = None
    repeat: int = 1
    usage: UsageSpec = field(default_factory=UsageSpec)
    openai_usage: OpenAIUsagePlacement = "auto"
    delta_usage: DeltaUsage = "output"
    event_delay: float = 0.0
    thinking: str | None = None
    stop_reason: str = "end_turn"
    keys: frozenset[str] | None = None
    models: tuple[str, ...] = ("claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5")


class Upstream:
    """The test server. Start with ``with Upstream() as up`` or ``up.start()``; stop with ``up.stop()``.

    Reply settings (also changeable later with ``configure``): ``text`` ("{model}" is replaced)
    or explicit ``chunks``, ``repeat`` (long streams), ``usage`` (UsageSpec), ``openai_usage``
    ("auto": a separate usage chunk iff stream_options.include_usage; "separate"; "finish": on
    the finish chunk; "none"), ``delta_usage`` ("output": message_delta carries output_tokens
    only; "full": it repeats input/cache counts too), ``event_delay`` between stream events,
    ``thinking`` (a thinking block when the request enables thinking), ``keys`` (if given,
    other credentials get 401). ``max_records`` bounds the request log (None: unbounded).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        text: str = "Hello from {model}.",
        chunks: Sequence[str] | None = None,
        repeat: int = 1,
        usage: UsageSpec | None = None,
        openai_usage: OpenAIUsagePlacement = "auto",
        delta_usage: DeltaUsage = "output",
        event_delay: float = 0.0,
        thinking: str | None = None,
        keys: Sequence[str] | None = None,
        record_bodies: bool = True,
        max_records: int | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.tls = tls  # serve HTTPS with this server context
        self._want_port = port
        self.port = 0
        self._lock = threading.Lock()
        self._settings = _Settings()
        self.configure(text=text, chunks=chunks, repeat=repeat, usage=usage or UsageSpec(),
                       openai_usage=openai_usage, delta_usage=delta_usage, event_delay=event_delay,
                       thinking=thinking, keys=keys)
        self._record_bodies = record_bodies
        self._faults: deque[Fault] = deque()
        self._requests: deque[RecordedRequest] = deque(maxlen=max_records)
        self._cond = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._ids = itertools.count(1)
        self.connections = 0  # TCP connections accepted, to observe keep-alive

    # ---- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL for the Anthropic SDK / ANTHROPIC_BASE_URL (no /v1)."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """Base URL for the OpenAI SDK (with /v1)."""
        return f"{self.url}/v1"

    def start(self) -> Upstream:
        """Start serving on a background thread; returns once the port is bound."""
        self._thread = threading.Thread(target=self._run, name=f"upstream-{id(self):x}", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        if self._start_error is not None:
            raise self._start_error
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then join the thread."""
        loop = self._loop
        if loop is None or self._thread is None:
            return
        try:
            loop.call_soon_threadsafe(self._shutdown)
        except RuntimeError:  # loop already closed
            pass
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Upstream:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (the ``python -m`` entry point)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ---- test-facing API --------------------------------------------------------------

    def configure(self, **changes: Any) -> None:
        """Change reply settings: text, chunks, repeat, usage, openai_usage, delta_usage,
        event_delay, thinking, stop_reason, keys, models."""
        with self._lock:
            s = self._settings
            for name, value in changes.items():
                if not hasattr(s, name):
                    raise TypeError(f"unknown upstream setting {name!r}")
                if name == "chunks" and value is not None:
                    value = tuple(value)
                if name == "keys" and value is not None:
                    value = frozenset(value)
                if name == "models":
                    value = tuple(value)
                setattr(s, name, value)

    def script(self, *faults: Fault, path: str | None = None, model: str | None = None) -> None:
        """Queue faults, each for the next matching request(s), in order.

        path/model narrow every given fault; a request takes the first queued fault that
        matches it. Unmatched requests get a normal answer.
        """
        with self._lock:
            for f in faults:
                if path is not None:
                    f = replace(f, path=path)
                if model is not None:
                    f = replace(f, model=model)
                self._faults.append(f)

    def pending_faults(self) -> tuple[Fault, ...]:
        """Faults not yet consumed."""
        with self._lock:
            return tuple(self._faults)

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def generation_requests(self) -> list[RecordedRequest]:
        """Only the POSTs to /v1/messages and the chat completions endpoints."""
        return [r for r in self.requests if r.method == "POST" and r.path in GENERATION_PATHS]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least n requests were recorded (or timeout); returns the snapshot."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self._requests)

    # ---- server internals ------------------------------------------------------------

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self._want_port, backlog=512,
                                     limit=1 << 20, ssl=self.tls)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            self._start_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def _shutdown(self) -> None:
        assert self._loop is not None
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()

        async def finish() -> None:
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._server is not None:
                await self._server.wait_closed()
            assert self._loop is not None
            self._loop.stop()

        self._loop.create_task(finish())

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:
                keep = await self._one_request(reader, writer)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, _Abort, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = (lines[0].split(" ", 2) + ["", ""])[:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        t0 = time.monotonic()
        body = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # trailer end (no trailers expected)
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(parts)
        elif headers.get("content-length"):
            body = await reader.readexactly(int(headers["content-length"]))
        path, _, query = target.partition("?")
        parsed: Any = None
        if body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        keep_alive = not (headers.get("connection", "").lower() == "close" or version == "HTTP/1.0")

        model = parsed.get("model") if isinstance(parsed, dict) else None
        fault: Fault | None = None
        with self._lock:
            if method == "POST":
                for i, f in enumerate(self._faults):
                    if f.matches(path, model if isinstance(model, str) else None):
                        if f.times > 1:
                            self._faults[i] = replace(f, times=f.times - 1)
                        else:
                            del self._faults[i]
                        fault = f
                        break
            settings = replace(self._settings)
            self._requests.append(RecordedRequest(
                method=method, path=path, query=query, headers=MappingProxyType(headers),
                body=body if self._record_bodies else b"",
                json=parsed if self._record_bodies else {"model": model, "stream": parsed.get("stream")}
                if isinstance(parsed, dict) else None,
                time=t0, fault=fault,
            ))
            self._cond.notify_all()

        if fault is not None and fault.first_byte_delay > 0:
            await asyncio.sleep(fault.first_byte_delay)

        ctx = _Ctx(self, reader, writer, method, path, headers, parsed, settings, fault, keep_alive,
                   f"{next(self._ids):06d}")
        return await ctx.dispatch()


class _Ctx:
    """One request being answered."""

    def __init__(self, up: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 method: str, path: str, headers: dict[str, str], body: Any, settings: _Settings,
                 fault: Fault | None, keep_alive: bool, serial: str) -> None:
        self.up = up
        self.reader = reader
        self.writer = writer
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.s = settings
        self.fault = fault
        self.keep_alive = keep_alive
        self.request_id = f"req_011Test{serial}{uuid.uuid4().hex[:12]}"
        self.openai = path in CHAT_PATHS or (path in ("/v1/models", "/models")
                                             and "anthropic-version" not in headers)

    # ---- plumbing ----

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines.append(f"date: {email.utils.formatdate(usegmt=True)}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        if not self.keep_alive:
            lines.append("connection: close")
        else:
            lines.append("connection: keep-alive")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _id_headers(self) -> list[tuple[str, str]]:
        if self.openai:
            return [("x-request-id", self.request_id), ("openai-processing-ms", "7"),
                    ("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "9999"),
                    ("x-ratelimit-reset-requests", "6ms"), ("x-ratelimit-limit-tokens", "2000000"),
                    ("x-ratelimit-remaining-tokens", "1999000"), ("x-ratelimit-reset-tokens", "30ms")]
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
        return [("request-id", self.request_id), ("anthropic-organization-id", "00000000-test-org"),
                ("anthropic-ratelimit-requests-limit", "4000"),
                ("anthropic-ratelimit-requests-remaining", "3999"),
                ("anthropic-ratelimit-requests-reset", reset),
                ("anthropic-ratelimit-input-tokens-limit", "2000000"),
                ("anthropic-ratelimit-input-tokens-remaining", "1999000"),
                ("anthropic-ratelimit-input-tokens-reset", reset),
                ("anthropic-ratelimit-output-tokens-limit", "400000"),
                ("anthropic-ratelimit-output-tokens-remaining", "399000"),
                ("anthropic-ratelimit-output-tokens-reset", reset),
                ("anthropic-ratelimit-tokens-limit", "2400000"),
                ("anthropic-ratelimit-tokens-remaining", "2398000"),
                ("anthropic-ratelimit-tokens-reset", reset)]

    async def send_json(self, status: int, obj: Any, extra: list[tuple[str, str]] | None = None) -> bool:
        data = json.dumps(obj, separators=(",", ":")).encode()
        headers = [("content-type", "application/json"), ("content-length", str(len(data)))]
        headers += self._id_headers() + (extra or [])
        self.writer.write(self._head(status, headers))
        if self.method != "HEAD":
            self.writer.write(data)
        await self.writer.drain()
        return self.keep_alive

    async def send_error(self, status: int, etype: str | None = None, message: str | None = None,
                         code: str | None = None, extra: list[tuple[str, str]] | None = None,
                         param: str | None = None) -> bool:
        a_type, o_type, o_code, default_msg = _ERRORS.get(status, ("api_error", "server_error", None, "Error"))
        msg = message or default_msg
        if self.openai:
            body: dict[str, Any] = {"error": {"message": msg, "type": etype or o_type, "param": param,
                                              "code": code if code is not None else o_code}}
        else:
            body = {"type": "error", "error": {"type": etype or a_type, "message": msg},
                    "request_id": self.request_id}
        headers = list(extra or [])
        if status in (408, 409, 429, 500, 502, 503, 504, 529) and not self.openai:
            headers.append(("x-should-retry", "true"))
        return await self.send_json(status, body, headers)

    def _start_stream(self) -> None:
        headers = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"),
                   ("transfer-encoding", "chunked")] + self._id_headers()
        if self.fault is not None:
            headers += list(self.fault.headers)
            if self.fault.echo_key:  # a leaky proxy that reflects the credential in a header
                keys = self._presented_keys()
                headers.append(("x-debug-credential", keys[0] if keys else "<none>"))
        self.writer.write(self._head(200, headers))

    def _chunk(self, data: bytes) -> None:
        self.writer.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def _end_stream(self) -> None:
        self.writer.write(b"0\r\n\r\n")
        await self.writer.drain()

    # ---- routing ----

    async def dispatch(self) -> bool:
        m, p = self.method, self.path
        if p == "/" and m in ("HEAD", "GET"):
            data = b"ok\n"
            self.writer.write(self._head(200, [("content-type", "text/plain; charset=utf-8"),
                                               ("content-length", str(len(data)))]))
            if m == "GET":
                self.writer.write(data)
            await self.writer.drain()
            return self.keep_alive
        if p in ("/v1/models", "/models") and m == "GET":
            if not self._authorized():  # like the real APIs: listing models needs a valid key
                return await self.send_error(401)
            return await self.send_json(200, self._models())
        if m != "POST":
            if p in GENERATION_PATHS or p == "/v1/messages/count_tokens":
                return await self.send_error(405, message=f"Method {m} not allowed")
            return await self.send_error(404, message=f"Not found: {m} {p}")
        f = self.fault
        if f is not None and f.status is not None:
            return await self._fault_error(f)
        if not self._authorized():
            return await self.send_error(401)
        if p == "/v1/messages/count_tokens":
            return await self.send_json(200, {"input_tokens": max(1, len(json.dumps(self.body)) // 4)})
        if p in MESSAGES_PATHS:
            return await self._anthropic()
        if p in CHAT_PATHS:
            return await self._openai()
        return await self.send_error(404, message=f"Not found: {m} {p}")

    def _presented_keys(self) -> list[str]:
        keys = []
        if self.headers.get("x-api-key"):
            keys.append(self.headers["x-api-key"])
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            keys.append(auth[7:].strip())
        return keys

    def _authorized(self) -> bool:
        allowed = self.s.keys
        if allowed is None:
            return True
        return any(k in allowed for k in self._presented_keys())

    def _models(self) -> dict[str, Any]:
        if self.openai:
            return {"object": "list", "data": [{"id": mid, "object": "model", "created": 1700000000,
                                                 "owned_by": "routesh-test"} for mid in self.s.models]}
        data = [{"type": "model", "id": mid, "display_name": mid, "created_at": "2025-10-01T00:00:00Z"}
                for mid in self.s.models]
        return {"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}

    def _stream_error_message(self) -> str | None:
        """A fault's own message for an in-stream error, with the caller's key in it when the fault echoes it."""
        f = self.fault
        if f is None:
            return None
        if f.echo_key:
            keys = self._presented_keys()
            return f"Request with key {keys[0] if keys else '<none>'} was cut off"
        return f.message

    async def _fault_error(self, f: Fault) -> bool:
        assert f.status is not None
        extra = list(f.headers)
        if f.retry_after is not None:
            extra.append(("retry-after", f.retry_after))
        if f.retry_after_ms is not None:
            extra.append(("retry-after-ms", f.retry_after_ms))
        message = f.message
        code = f.code
        param = None
        if f.context_too_long:
            message = message or (_OPENAI_CONTEXT_MESSAGE if self.openai else _ANTHROPIC_CONTEXT_MESSAGE)
            if self.openai:
                code = code or "context_length_exceeded"
                param = "messages"
        if f.echo_key:
            keys = self._presented_keys()
            shown = keys[0] if keys else "<none>"
            message = f"Incorrect API key provided: {shown}. You can find your API key in your account settings."
        return await self.send_error(f.status, f.error_type, message, code, extra, param)

    # ---- answers ----

    def _validate_anthropic(self) -> str | None:
        b = self.body
        if not isinstance(b, dict):
            return "request body must be a JSON object"
        if not isinstance(b.get("model"), str):
            return "model: Field required"
        if not isinstance(b.get("max_tokens"), int):
            return "max_tokens: Field required"
        msgs = b.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "messages: Field required"
        for i, msg in enumerate(msgs):
            # "system" mid-conversation messages: Claude Code sends them (beta mid-conversation-system)
            if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant", "system"):
                return f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
        if b.get("system") is not None and not isinstance(b["system"], (str, list)):
            return "system: Input should be a valid string or list"
        for i, msg in enumerate(msgs):  # as Anthropic: only it signs thinking, and it checks what comes back
            for j, block in enumerate(msg.get("content") if isinstance(msg.get("content"), list) else ()):
                if isinstance(block, dict) and block.get("type") == "thinking" and not block.get("signature"):
                    return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
        thinking = b.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "enabled" \
                and isinstance(thinking.get("budget_tokens"), int) and thinking["budget_tokens"] >= b["max_tokens"]:
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
        return None

    def _validate_openai(self) -> str | None:
        b = self.body
        if not isinstance(b, dict):
            return "We could not parse the JSON body of your request."
        if not isinstance(b.get("model"), str):
            return "you must provide a model parameter"
        msgs = b.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "[] is too short - 'messages'"
        return None

    def _reply_chunks(self, model: str) -> tuple[str, ...]:
        f = self.fault
        if f is not None and f.text is not None:
            base = split_text(f.text.replace("{model}", model))
        elif self.s.chunks is not None:
            base = self.s.chunks
        else:
            base = split_text(self.s.text.replace("{model}", model))
        return base * max(1, self.s.repeat)

    def _event_delay(self) -> float:
        f = self.fault
        if f is not None and f.event_delay is not None:
            return f.event_delay
        return self.s.event_delay

    async def _emit_events(self, events: list[bytes], malformed: bytes, error_event: bytes) -> bool:
        """Write SSE events as chunks, applying drop/malformed/error faults; True if ended normally."""
        f = self.fault
        delay = self._event_delay()
        self._start_stream()
        await self.writer.drain()
        for i, ev in enumerate(events):
            if f is not None:
                if f.drop_after is not None and i >= f.drop_after:
                    await self.writer.drain()
                    if f.clean_end:
                        await self._end_stream()
                        return True
                    self.writer.close()  # FIN without the terminating chunk: an incomplete body
                    raise _Abort()
                if f.malformed_after is not None and i == f.malformed_after:
                    self._chunk(malformed)
                if f.stream_error_after is not None and i == f.stream_error_after:
                    self._chunk(error_event)
                    await self._end_stream()
                    return True
            if delay and i:
                await self.writer.drain()
                await asyncio.sleep(delay)
            self._chunk(ev)
            if delay or i % 32 == 0:
                await self.writer.drain()
        await self._end_stream()
        return True

    async def _anthropic(self) -> bool:
        problem = self._validate_anthropic()
        if problem:
            return await self.send_error(400, message=problem)
        b = self.body
        model: str = b["model"]
        chunks = self._reply_chunks(model)
        u = self.s.usage
        stop = (self.fault.stop_reason if self.fault and self.fault.stop_reason else None) or self.s.stop_reason
        msg_id = f"msg_01Test{uuid.uuid4().hex[:20]}"
        thinking = self.s.thinking if b.get("thinking") else None  # only when the request enabled it
        usage_full = {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
                      "cache_read_input_tokens": u.cache_read_input_tokens, "output_tokens": u.output_tokens}
        if not b.get("stream"):
            content: list[dict[str, Any]] = []
            if thinking:
                content.append({"type": "thinking", "thinking": thinking, "signature": "c2lnbmF0dXJl"})
            content.append({"type": "text", "text": "".join(chunks)})
            return await self.send_json(200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop, "stop_sequence": None, "usage": usage_full,
            })

        def ev(name: str, obj: dict[str, Any], raw: str | None = None) -> bytes:
            data = raw if raw is not None else json.dumps(obj, separators=(",", ":"))
            return f"event: {name}\ndata: {data}\n\n".encode()

        start_usage = {"input_tokens": u.input_tokens, "cache_creation_input_tokens": u.cache_creation_input_tokens,
                       "cache_read_input_tokens": u.cache_read_input_tokens, "output_tokens": 1}
        events = [ev("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
        index = 0
        if thinking:
            events.append(ev("content_block_start", {"type": "content_block_start", "index": 0,
                                                     "content_block": {"type": "thinking", "thinking": "",
                                                                       "signature": ""}}))
            events.append(ev("ping", {}, raw='{"type": "ping"}'))
            for piece in split_text(thinking):
                events.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                         "delta": {"type": "thinking_delta", "thinking": piece}}))
            events.append(ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                     "delta": {"type": "signature_delta",
                                                               "signature": "c2lnbmF0dXJl"}}))
            events.append(ev("content_block_stop", {"type": "content_block_stop", "index": 0}))
            index = 1
        tool = self.fault.tool_use if self.fault else None
        if tool is not None:
            stop = "tool_use"
            events.append(ev("content_block_start", {"type": "content_block_start", "index": index, "content_block": {
                "type": "tool_use", "id": f"toolu_01{uuid.uuid4().hex[:20]}", "name": tool[0], "input": {}}}))
            events.append(ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                                     "delta": {"type": "input_json_delta", "partial_json": tool[1]}}))
        else:
            events.append(ev("content_block_start", {"type": "content_block_start", "index": index,
                                                     "content_block": {"type": "text", "text": ""}}))
            if not thinking:
                events.append(ev("ping", {}, raw='{"type": "ping"}'))
            for piece in chunks:
                events.append(ev("content_block_delta", {"type": "content_block_delta", "index": index,
                                                         "delta": {"type": "text_delta", "text": piece}}))
        events.append(ev("content_block_stop", {"type": "content_block_stop", "index": index}))
        delta_usage: dict[str, Any] = ({"output_tokens": u.output_tokens} if self.s.delta_usage == "output"
                                       else dict(usage_full))
        events.append(ev("message_delta", {"type": "message_delta",
                                           "delta": {"stop_reason": stop, "stop_sequence": None},
                                           "usage": delta_usage}))
        events.append(ev("message_stop", {"type": "message_stop"}))
        malformed = (f'event: content_block_delta\ndata: {{"type":"content_block_delta","index":{index},'
                     f'"delta":{{"type":"text_delta","text":"broken\n\n').encode()
        etype = self.fault.stream_error_type if self.fault else "overloaded_error"
        emsg = self._stream_error_message() or _ERRORS.get(529 if etype == "overloaded_error" else 500, _ERRORS[500])[3]
        error_event = ev("error", {"type": "error", "error": {"type": etype, "message": emsg},
                                   "request_id": self.request_id})
        return await self._emit_events(events, malformed, error_event) and self.keep_alive

    async def _openai(self) -> bool:
        problem = self._validate_openai()
        if problem:
            return await self.send_error(400, message=problem)
        b = self.body
        model: str = b["model"]
        chunks = self._reply_chunks(model)
        u = self.s.usage
        stop = (self.fault.stop_reason if self.fault and self.fault.stop_reason else None)
        finish = {"refusal": "content_filter", "max_tokens": "length", "tool_use": "tool_calls"}.get(
            stop or "", "stop")
        prompt = u.input_tokens + u.cache_read_input_tokens
        usage = {"prompt_tokens": prompt, "completion_tokens": u.output_tokens,
                 "total_tokens": prompt + u.output_tokens,
                 "prompt_tokens_details": {"cached_tokens": u.cache_read_input_tokens, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0,
                                               "rejected_prediction_tokens": 0}}
        cid = f"chatcmpl-Test{uuid.uuid4().hex[:20]}"
        created = int(time.time())
        fp = "fp_routesh_test"
        if not b.get("stream"):
            return await self.send_json(200, {
                "id": cid, "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(chunks),
                                                     "refusal": None, "annotations": []},
                             "logprobs": None, "finish_reason": finish}],
                "usage": usage, "service_tier": "default", "system_fingerprint": fp,
            })
        placement = self.s.openai_usage
        include = bool((b.get("stream_options") or {}).get("include_usage"))
        if placement == "auto":
            placement = "separate" if include else "none"
        null_usage = placement == "separate"

        def chunk(choices: list[dict[str, Any]], usage_value: Any = None, with_usage: bool = False) -> bytes:
            obj: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": created,
                                   "model": model, "service_tier": "default", "system_fingerprint": fp,
                                   "choices": choices}
            if with_usage or null_usage:
                obj["usage"] = usage_value
            return b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n"

        events = [chunk([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None},
                          "logprobs": None, "finish_reason": None}])]
        for piece in chunks:
            events.append(chunk([{"index": 0, "delta": {"content": piece}, "logprobs": None,
                                  "finish_reason": None}]))
        events.append(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}],
                            usage if placement == "finish" else None, with_usage=placement == "finish"))
        if placement == "separate":
            events.append(chunk([], usage, with_usage=True))
        events.append(b"data: [DONE]\n\n")
        malformed = (b'data: {"id":"' + cid.encode()
                     + b'","object":"chat.completion.chunk","choices":[{"delta":{"content":"bro\n\n')
        etype = self.fault.stream_error_type if self.fault else "server_error"
        error_event = b"data: " + json.dumps({"error": {"message": self._stream_error_message()
                                                        or "The server had an error while processing "
                                                                   "your request. Sorry about that!",
                                                        "type": etype, "param": None, "code": None}}).encode() + b"\n\n"
        return await self._emit_events(events, malformed, error_event) and self.keep_alive


def processes_with_marker(marker: str) -> list[int]:
    """PIDs of live processes whose environment contains `marker` (to prove nothing was orphaned)."""
    needle = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            continue
        if needle in env and state != b"Z":
            found.append(int(entry))
    return found


def wait_no_marker(marker: str, timeout: float = 5.0) -> list[int]:
    """Wait until no process carries `marker`; returns the PIDs still alive at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        alive = processes_with_marker(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


try:  # the fixtures are for pytest runs; `python -m tests.upstream` works without pytest too
    import pytest

    @pytest.fixture(name="upstream")
    def upstream_fixture() -> Iterator[Upstream]:
        """A fresh upstream per test, on a free port, stopped afterwards."""
        with Upstream() as up:
            yield up

    @pytest.fixture(name="claude_exe")
    def claude_exe_fixture(monkeypatch: pytest.MonkeyPatch) -> str:
        """The real `claude`, offline: skipped when missing, unless $CI is set (then it fails)."""
        exe = shutil.which("claude")
        if exe is None:
            if os.environ.get("CI"):
                pytest.fail("`claude` is not installed but CI is set: npm install -g @anthropic-ai/claude-code")
            pytest.skip(reason="`claude` not installed (npm install -g @anthropic-ai/claude-code)")
        monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"):
            monkeypatch.delenv(var, raising=False)
        return exe
except ImportError:  # pragma: no cover
    pass


def main(argv: Sequence[str] | None = None) -> None:
    """Serve until Ctrl-C; prints the base URL."""
    ap = argparse.ArgumentParser(prog="python -m tests.upstream", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--text", default="Hello from {model}.", help="reply text; {model} is replaced")
    ap.add_argument("--repeat", type=int, default=1, help="repeat the reply's deltas N times (long streams)")
    ap.add_argument("--event-delay", type=float, default=0.0, help="seconds between stream events")
    ap.add_argument("--openai-usage", choices=["auto", "separate", "finish", "none"], default="auto")
    ap.add_argument("--delta-usage", choices=["output", "full"], default="output")
    args = ap.parse_args(argv)
    up = Upstream(args.host, args.port, text=args.text, repeat=args.repeat, event_delay=args.event_delay,
                  openai_usage=args.openai_usage, delta_usage=args.delta_usage, record_bodies=False,
                  max_records=1000)
    up.start()
    print(f"upstream listening on {up.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        up.stop()


if __name__ == "__main__":
    main()


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1 with a fresh self-signed certificate, and the CA file clients must trust."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "routesh test upstream")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "upstream.crt", directory / "upstream.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx, cert_file
