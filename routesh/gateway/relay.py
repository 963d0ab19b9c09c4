"""The relay: an upstream answer to the client, whole or streamed, with what the ledger needs noted on the way."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..core.events import EngineError
from . import translated
from .attempts import AttemptInfo
from .client import Conn, Head, UpstreamError
from .failures import Failure, fail, scrub
from .framing import error_body, respond
from .mask import StreamMask, key_bytes, mask_bytes
from .records import ESTIMATED
from .sniff import AnthropicSniffer, usage_of_message, usage_so_far
from .watchdog import Watchdog

HIGH_WATER = 256 * 1024  # client write buffer above which the upstream is paused
# Upstream response headers that mean something to Claude Code; everything else (hop-by-hop framing, cookies,
# caching, the upstream's server and tracing headers) stays at the gateway.
_PASS_RESPONSE = frozenset({"request-id", "x-request-id", "x-should-retry", "retry-after", "retry-after-ms"})
_PASS_PREFIX = "anthropic-"  # rate limits, organization


class Relay:
    """Sends the answer on: held back until its first bytes (so a failure can still be retried), then relayed."""

    if TYPE_CHECKING:  # provided by Gateway and the other parts
        _secrets: tuple[str, ...]

        def _finish(self, rec: AttemptInfo, status: str, *, error: str | None = None,
                    usage: Mapping[str, int] | None = None) -> None: ...

    def _whole(self, rec: AttemptInfo, head: Head, data: bytes, writer: asyncio.StreamWriter,
               openai: bool) -> Failure | None:
        """A non-streamed answer: translated if need be, sent in one piece."""
        if openai:
            answer = translated.whole_answer(rec, data)
            if isinstance(answer, EngineError):
                self._finish(rec, "error", error=answer.message)
                return Failure(answer, 502, error_body(502, f"routesh: {answer.message}"))
            data = answer
        data = mask_bytes(data, key_bytes(self._secrets))
        usage, stop = usage_of_message(data)
        self._finish(rec, "refused" if stop == "refusal" else "ok", usage=usage)
        headers = self._response_headers(rec, head, openai)
        respond(writer, head.status, data, keep=rec.job.req.keep_alive, headers=headers,
                      content_type="application/json")
        rec.job.committed = True
        return None

    def _response_headers(self, rec: AttemptInfo, head: Head, openai: bool) -> list[tuple[str, str]]:
        out = [("x-routesh-request-id", rec.job.request_id), ("x-routesh-route", rec.route.name),
               ("x-routesh-class", rec.job.cls.kind)]
        if not openai:
            passed = [(k, v) for k, v in head.headers if k in _PASS_RESPONSE or k.startswith(_PASS_PREFIX)]
            values = "\n".join(v for _, v in passed)
            if any(key in values for key in self._secrets):  # an upstream echoing the key it was sent
                passed = [(k, scrub(v, self._secrets)) for k, v in passed]
            out += passed
        return out

    async def _relay_stream(self, rec: AttemptInfo, conn: Conn, head: Head, writer: asyncio.StreamWriter,
                            openai: bool, watchdog: Watchdog) -> Failure | None:
        """Stream the answer: hold back until the first bytes (so a failure can still be retried), then relay."""
        job = rec.job
        sniffer = AnthropicSniffer()
        translator = translated.stream_translator(rec) if openai else None
        smask = StreamMask(key_bytes(self._secrets))  # an upstream may echo the key, even mid-stream
        # 1. before the first byte: a failure here is retryable
        first = b""
        while True:
            await conn.wait_data()
            data = conn.take_pending()
            if data:
                if translator is not None:
                    first += translator.feed(data)
                else:
                    first += data
                    sniffer.feed(data)
            if conn.error is not None or conn.body_done:
                if translator is not None and not translator.done:
                    first += translator.close() if conn.error is None else b""
                break
            if translator is not None and first:
                break
            if translator is None and (sniffer.started or sniffer.error is not None or len(first) > 4096):
                break
        early_error = self._early_stream_error(sniffer, translator, conn, first)
        if early_error is not None:
            watchdog.cancel()
            conn.close() if not conn.body_done else conn.release()
            self._finish(rec, "error", error=early_error.err.message)
            return early_error
        # 2. commit: the client gets the head and the first bytes; no retry after this
        job.committed = True
        rec.ttft_ms = (time.perf_counter() - rec.t0) * 1000
        transport = writer.transport
        lines = ["HTTP/1.1 200 OK", "content-type: text/event-stream; charset=utf-8", "cache-control: no-cache",
                 "transfer-encoding: chunked"]
        lines += [f"{k}: {v}" for k, v in self._response_headers(rec, head, openai)]
        start = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        first = smask.feed(first)
        if first:
            start += b"%x\r\n%b\r\n" % (len(first), first)
        if conn.body_done and conn.error is None:
            # the whole answer is here already (short answers often are): one write for all of it
            watchdog.cancel()
            self._end_stream(rec, conn, transport, start, sniffer, translator, None, smask)
            return None
        transport.write(start)
        loop = asyncio.get_running_loop()
        paused = False

        def resume() -> None:
            nonlocal paused
            paused = False
            conn.resume_reading()

        def sink(data: bytes) -> None:
            nonlocal paused
            watchdog.last = loop.time()
            if transport.is_closing():
                watchdog.client_gone = True
                conn.close()
                return
            if translator is not None:
                data = translator.feed(data)
                if not data:
                    return
            else:
                sniffer.feed(data)
            data = smask.feed(data)
            if not data:
                return
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
            if not paused and transport.get_write_buffer_size() > HIGH_WATER:
                paused = True
                conn.pause_reading()
                loop.create_task(_drained(writer, resume))

        broken: UpstreamError | None = conn.error
        if broken is None and not conn.body_done:
            try:
                await conn.stream_to(sink)
            except UpstreamError as exc:
                broken = exc
        elif conn.body_done:
            conn.stream_to(sink)  # flush anything left
        watchdog.cancel()
        if watchdog.client_gone or transport.is_closing():
            conn.close()
            self._finish(rec, "cancelled", error="the client went away", usage=self._usage(sniffer, translator))
            return None
        self._end_stream(rec, conn, transport, b"", sniffer, translator, broken, smask)
        return None

    def _end_stream(self, rec: AttemptInfo, conn: Conn, transport: asyncio.WriteTransport, head: bytes,
                    sniffer: AnthropicSniffer, translator: Any, broken: UpstreamError | None,
                    smask: StreamMask) -> None:
        """The end: the message complete, or an Anthropic-shaped error event in place of the rest."""
        tail = b""
        status = "ok"
        error = None
        if translator is not None:
            tail, status, error = translated.stream_end(translator, broken)
        else:
            if sniffer.error is not None:
                status, error = "partial", f"{sniffer.error_type}: {sniffer.error}"
            elif broken is not None or not sniffer.stopped:
                why = str(broken) if broken is not None else "the upstream stream ended before message_stop"
                error = f"the upstream stream broke off: {why}"
                status = "partial"
                tail = _sse_error(f"routesh: {error}")
            elif sniffer.stop_reason == "refusal":
                status = "refused"
        self._finish(rec, status, error=error, usage=self._usage(sniffer, translator))  # recorded before the end
        tail = smask.feed(tail) + smask.close() if tail else smask.close()
        end = b"%x\r\n%b\r\n0\r\n\r\n" % (len(tail), tail) if tail else b"0\r\n\r\n"
        transport.write(head + end)
        if broken is None and conn.body_done:
            conn.release()
        else:
            conn.close()

    @staticmethod
    def _usage(sniffer: AnthropicSniffer, translator: Any) -> dict[str, int]:
        """The usage to record; an ESTIMATED key marks counts that are partly estimated (a broken-off stream)."""
        if translator is not None:
            usage, exact = translator.usage_so_far() if translator.started else ({}, True)
        else:
            usage, exact = usage_so_far(sniffer)
        return usage if exact or not usage else {**usage, ESTIMATED: 1}

    def _early_stream_error(self, sniffer: AnthropicSniffer, translator: Any, conn: Conn,
                            first: bytes) -> Failure | None:
        """A stream that failed before its first byte reached the client: a retryable Failure, else None."""
        if translator is not None:
            return translated.early_error(translator, conn, first, self._secrets)
        if sniffer.error is not None and not sniffer.started:
            status = 529 if sniffer.error_type == "overloaded_error" else 500
            msg = scrub(sniffer.error, self._secrets)
            return Failure(EngineError(msg, status=status), status, error_body(status, msg, sniffer.error_type))
        if not first or (conn.error is not None and not sniffer.started):
            why = str(conn.error) if conn.error else "the upstream stream ended without an answer"
            return fail(502, f"routesh: {why}", kind="connection" if conn.error else "malformed")
        return None

    # -- records ----------------------------------------------------------------------------------------------


async def _drained(writer: asyncio.StreamWriter, then: Callable[[], None]) -> None:
    try:
        await writer.drain()
    except ConnectionError:
        pass
    then()



def _sse_error(message: str, etype: str = "api_error") -> bytes:
    return b"event: error\ndata: " + json.dumps({"type": "error", "error": {"type": etype, "message": message}}
                                                ).encode() + b"\n\n"
