"""What every engine shares: secrets scrubbed from errors, retry-after and context-error parsing, and the
pump that turns an SDK's blocking stream into cancellable events."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any, cast

from ..core.events import EngineError, EngineRequest, Event
from ..screening.keymask import mask_keys

__all__ = ["pump", "parse_retry_after", "scrub", "looks_like_context_error"]


# ---- secrets never leave in an error --------------------------------------------------------

def scrub(text: str, *secrets: str | None) -> str:
    """Remove key material from an error: the exact secrets given, then anything shaped like a key."""
    return mask_keys(text, *secrets)


# ---- error classification helpers ----------------------------------------------------------

_CONTEXT_RE = re.compile(
    r"prompt is too long|context[ _-]?(length|window)|maximum context|too many (input )?tokens"
    r"|input is too long|reduce the length of the messages|exceeds? the (model'?s? )?(maximum|max|context)",
    re.IGNORECASE,
)


def looks_like_context_error(status: int | None, message: str, code: str | None = None) -> bool:
    """Whether a 4xx says the prompt does not fit the model's context window."""
    if code == "context_length_exceeded":
        return True
    return status in (400, 413, 422, None) and bool(_CONTEXT_RE.search(message))


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds to wait from retry-after-ms, retry-after (seconds) or retry-after (HTTP date)."""
    if not headers:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # ~9 ms to import; only needed for the rare HTTP-date form

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def transport_kind(exc: BaseException) -> str | None:
    """'timeout' or 'connection' for httpx/httpx2/socket errors raised mid-stream, else None."""
    names = {c.__name__ for c in type(exc).__mro__}
    if names & {"TimeoutException", "APITimeoutError", "TimeoutError"}:
        return "timeout"
    if names & {"TransportError", "NetworkError", "ProtocolError", "RemoteProtocolError",
                "APIConnectionError", "ConnectionError"}:
        return "connection"
    if isinstance(exc, OSError):
        return "connection"
    return None


# ---- the pump: deadlines and cancel even while a read is blocked ---------------------------

_END = object()
_POLL_S = 0.05


class Emitter:
    """The producer's side of a pump: hand events over, learn when the consumer has gone."""

    __slots__ = ("_q", "stopped", "taken", "_first")

    def __init__(self, q: queue.SimpleQueue[object]) -> None:
        self._q = q
        self.stopped = threading.Event()
        self.taken = threading.Event()  # the consumer has the first event
        self._first = True

    def __call__(self, event: Event) -> bool:
        """Queue one event; False once the consumer stopped listening (stop producing then)."""
        if self.stopped.is_set():
            return False
        self._q.put(event)
        if self._first:
            # Hand the GIL over now: otherwise this thread goes on parsing the rest of a burst
            # before the consumer runs, and the first token reaches the screen late.
            self._first = False
            self.taken.wait(0.01)
        return True


def pump(
    produce: Callable[[Emitter], None],
    *,
    timeout_s: float,
    cancel: threading.Event | None = None,
    abort: Callable[[], None] | None = None,
    name: str = "engine",
) -> Generator[Event, None, None]:
    """Run `produce` on a daemon thread and yield what it emits, enforcing a total deadline and
    the cancel flag even while the producer is blocked in a read.

    On cancel, timeout or early close the emitter is marked stopped and `abort` (if any) is
    called to unblock the producer (e.g. kill a child process group); then EngineError
    (kind "cancelled"/"timeout") is raised, or, for close, the generator just ends. An HTTP
    producer stops at its next event and closes its stream; a stalled one is ended by the SDK's
    own read timeout (also timeout_s), on its daemon thread, after the caller has moved on.
    """
    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    emit = Emitter(q)
    finished = threading.Event()

    def run() -> None:
        try:
            produce(emit)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(exc if isinstance(exc, Exception) else EngineError(f"{name} stopped: {exc!r}", kind="connection"))
        finally:
            finished.set()
            q.put(_END)

    deadline = time.monotonic() + timeout_s
    worker = threading.Thread(target=run, name=f"routesh-{name}", daemon=True)
    worker.start()
    done = False
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise EngineError("cancelled", kind="cancelled")
            left = deadline - time.monotonic()
            if left <= 0:
                raise EngineError(f"no complete answer within {timeout_s:g}s (timeout_s)", kind="timeout")
            try:
                item = q.get(timeout=min(left, _POLL_S) if cancel is not None else left)
            except queue.Empty:
                continue
            if item is _END:
                done = True
                return
            if isinstance(item, BaseException):
                done = True
                raise item
            if not emit.taken.is_set():
                emit.taken.set()
            yield cast(Event, item)
    finally:
        if not done:
            emit.stopped.set()
            if abort is not None and not finished.is_set():
                abort()


def classify_wire_error(exc: BaseException, req: EngineRequest, what: str, *, answering: bool) -> EngineError:
    """Any exception from the wire client (engines/wire.py) or the stream's parsing as an EngineError.

    `answering`: the response had begun (a cut is "connection lost"), else nothing came back ("connection failed").
    """
    from .wire import WireError

    if isinstance(exc, EngineError):
        return exc
    if isinstance(exc, WireError):
        if exc.kind == "timeout" and not answering:
            return EngineError(f"timed out after {req.timeout_s:g}s waiting for {req.model}", kind="timeout")
        label = ("timed out" if exc.kind == "timeout" else "connection lost") if answering else "connection failed"
        return EngineError(scrub(f"{label}: {exc}", req.api_key), kind="timeout" if exc.kind == "timeout" else
                           "connection")
    if isinstance(exc, (ValueError, KeyError, TypeError, AttributeError)):  # json.JSONDecodeError is a ValueError
        return EngineError(scrub(f"malformed {what} in the stream: {exc}", req.api_key), kind="malformed")
    kind = transport_kind(exc)
    if kind is not None:
        return EngineError(scrub(f"{'timed out' if kind == 'timeout' else 'connection lost'}: {exc}", req.api_key),
                           kind=kind)  # type: ignore[arg-type]
    return EngineError(scrub(f"unexpected {type(exc).__name__}: {exc}", req.api_key), kind="malformed")


def error_body(raw: bytes) -> tuple[object, str]:
    """An error response's body: parsed JSON (or None) and its text, as the SDKs showed it."""
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text), text
    except ValueError:
        return None, text


def relay_sse(resp: Any, req: EngineRequest, emit: Emitter, on_event: Callable[[str, str], bool],
              status_error: Callable[..., EngineError]) -> None:
    """The body of a streamed call, the same for every SSE engine: an error status raised as the provider's
    error, else each event handed to on_event(event, data) until it returns False or the consumer stops."""
    from .sse import SSEParser

    if resp.status >= 300:
        parsed, text = error_body(resp.read())
        raise status_error(resp.status, parsed, f"Error code: {resp.status} - {parsed or text}", resp.headers, req)
    parser = SSEParser()
    for chunk in resp.chunks():
        for ev in parser.feed(chunk):
            if not on_event(ev.event, ev.data):
                return
        if emit.stopped.is_set():
            return
    for ev in parser.close():
        on_event(ev.event, ev.data)
