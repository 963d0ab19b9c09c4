"""OpenAI streamed chunks → Anthropic SSE events, in Anthropic's order (the translated route's stream)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .fastdelta import text_delta, text_delta_bytes, text_deltas
from .openai_answer import _mapping, _matched_stop, _message_id, _reasoning_text, anthropic_usage, stop_reason_for
from .openai_errors import AnthropicError, _stream_error, anthropic_error
from .sse import SSEParser, encode_json
from .templates import BLOCK_STOP, MESSAGE_STOP, PING, TEXT_START, message_start

Json = dict[str, Any]


class StreamTranslator:
    """OpenAI streamed chunks in (raw bytes, any boundary), Anthropic SSE events out, exactly in Anthropic's order.

    Usage is taken from the finish chunk or from a later usage-only chunk, whichever carries it, so the
    final message_delta is held until usage arrives, `[DONE]` comes, or `close()` is called at end of stream.
    A stream that ends before a finish_reason becomes an Anthropic `error` event, never a silent stop.
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str | None = None,
        input_tokens: int = 0,
        stop_sequences: tuple[str, ...] = (),
        ping: bool = True,
    ) -> None:
        self.model = model
        self.input_tokens_estimate = input_tokens  # shown in message_start until the real count arrives
        self.stop_sequences = stop_sequences
        self.ping = ping
        self.message_id = message_id
        self.started = False
        self.done = False
        self.finish_reason: str | None = None
        self.stop_reason: str | None = None
        self.usage: Json | None = None  # Anthropic-shaped, once known
        self.usage_reported = False  # False: the final usage is an estimate (the server sent none)
        self.error: AnthropicError | None = None
        self.warnings: list[str] = []
        self._parser = SSEParser()
        self._raw_usage: Mapping[str, Any] | None = None
        self._usage_after_finish = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._tools: dict[int, int] = {}  # OpenAI tool index → Anthropic block index
        self._open_tool: int | None = None
        self._has_tool_use = False
        self._refused = False
        self._matched_stop: str | None = None
        self._out_chars = 0

    # -- public ----------------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """The Anthropic SSE bytes made complete by this piece of the upstream stream (often b"").

        The common shape, one `data:` line an event, skips the SSE parser: a run of plain text chunks becomes
        its text deltas in one go (fastdelta.text_deltas), a single one without json.loads; anything else
        takes the full path. tests/test_gateway_speed.py checks the output is byte-identical either way.
        """
        if self.done:
            return b""
        out: list[bytes] = []
        unparsed = self._parser.take_unparsed(chunk)
        if unparsed is None or b"\r" in unparsed:  # half an event held, or CR line ends: the parser's job
            self._parsed(unparsed if unparsed is not None else chunk, out)
            return b"".join(out)
        chunk = unparsed
        pos = 0
        tried = False
        while not self.done:
            end = chunk.find(b"\n\n", pos)
            if end < 0:
                break
            if end == pos:  # an empty event
                pos += 2
                continue
            text_open = self._open == "text" and self.finish_reason is None
            if text_open and not tried:  # once per read: a run of text chunks in one go
                tried = True
                run = text_deltas(chunk, pos, self._index)
                if run is not None:
                    out.append(run[0])
                    self._out_chars += run[1]
                    pos = run[2]
                    continue
            line = chunk[pos:end]
            if not line.startswith(b"data: ") or b"\n" in line:  # another shape: the parser takes the rest
                self._parsed(chunk[pos:], out)
                return b"".join(out)
            pos = end + 2
            fast = text_delta_bytes(line[6:], self._index) if text_open else None
            if fast is not None:
                out.append(fast[0])
                self._out_chars += fast[1]
            else:
                self._event(line[6:].decode("utf-8", "replace"), out)
        if pos < len(chunk) and not self.done:
            self._parsed(chunk[pos:], out)
        return b"".join(out)

    def _parsed(self, chunk: bytes, out: list[bytes]) -> None:
        """The events the SSE parser completes with this chunk, translated into out."""
        for event in self._parser.feed(chunk):
            self._event(event.data, out)
            if self.done:
                break

    def close(self) -> bytes:
        """End of the upstream stream: finish the message, or say in Anthropic's shape that it broke off."""
        out: list[bytes] = []
        if not self.done:
            for event in self._parser.close():
                self._event(event.data, out)
                if self.done:
                    break
        if not self.done:
            if self.finish_reason is not None:
                self._finish(out)
            else:
                self._fail(anthropic_error(502, "the upstream stream ended before the answer was complete",
                                           type="api_error"), out)
        return b"".join(out)

    def usage_so_far(self) -> tuple[Json, bool]:
        """(usage, exact): the final usage once known, else the input estimate and the output counted so far."""
        if self.usage is not None:
            return self.usage, self.usage_reported
        if self._raw_usage is not None:
            return anthropic_usage(self._raw_usage), True
        return {"input_tokens": self.input_tokens_estimate, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": (self._out_chars + 3) // 4}, False

    def fail(self, error: AnthropicError) -> bytes:
        """An error the caller saw (timeout, dropped connection) as the stream's final event."""
        if self.done:
            return b""
        out: list[bytes] = []
        self._fail(error, out)
        return b"".join(out)

    # -- internals -------------------------------------------------------------------------------------------

    def _event(self, data: str, out: list[bytes]) -> None:
        data = data.strip()
        if not data:
            return
        if data == "[DONE]":
            if self.started or self.finish_reason is not None:
                self._finish(out)
            else:
                self._fail(anthropic_error(502, "the upstream stream ended without an answer", type="api_error"), out)
            return
        if self._open == "text" and self.finish_reason is None:  # the common case, without json.loads
            fast = text_delta(data, self._index)
            if fast is not None:
                out.append(fast[0])
                self._out_chars += fast[1]
                return
        try:
            obj = json.loads(data)
        except ValueError:
            self.warnings.append(f"skipped a stream event that is not JSON: {data[:80]!r}")
            return
        if not isinstance(obj, dict):
            return
        if obj.get("error"):  # OpenRouter sends it with a choice whose finish_reason is "error"
            self._fail(_stream_error(obj["error"]), out)
            return
        self._chunk(obj, out)

    def _start(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        self.started = True
        self.message_id = _message_id(obj.get("id"), self.message_id)
        out.append(message_start(self.message_id, self.model, self.input_tokens_estimate))
        if self.ping:
            out.append(PING)

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(BLOCK_STOP % self._index)
            self._open = None
            self._open_tool = None

    def _open_block(self, kind: str, block: Json, out: list[bytes]) -> None:
        self._close_block(out)
        self._index += 1
        self._open = kind
        if kind == "text":
            out.append(TEXT_START % self._index)
        else:
            out.append(encode_json("content_block_start",
                                   {"type": "content_block_start", "index": self._index, "content_block": block}))

    def _delta(self, delta: Json, out: list[bytes]) -> None:
        out.append(encode_json("content_block_delta",
                               {"type": "content_block_delta", "index": self._index, "delta": delta}))

    def _text(self, text: str, out: list[bytes]) -> None:
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""}, out)
        self._out_chars += len(text)
        self._delta({"type": "text_delta", "text": text}, out)

    def _chunk(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        if not self.started:
            self._start(obj, out)
        usage = obj.get("usage")
        if isinstance(usage, Mapping) and usage:
            self._raw_usage = usage
            if self.finish_reason is not None:
                self._usage_after_finish = True
        for choice in obj.get("choices") or ():
            if not isinstance(choice, Mapping) or (choice.get("index") or 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, Mapping) and self.finish_reason is None:
                self._choice_delta(delta, out)
            reason = choice.get("finish_reason")
            if reason == "error":
                self._fail(anthropic_error(502, "the upstream stopped with an error", type="api_error"), out)
                return
            if reason and self.finish_reason is None:
                self.finish_reason = str(reason)
                self._matched_stop = _matched_stop(choice, self.stop_sequences)
                self._close_block(out)
                if isinstance(usage, Mapping) and usage:
                    self._usage_after_finish = True
        if self.finish_reason is not None and self._usage_after_finish:
            self._finish(out)

    def _choice_delta(self, delta: Mapping[str, Any], out: list[bytes]) -> None:
        reasoning = _reasoning_text(delta)
        if reasoning:
            if self._open != "thinking":
                self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            self._out_chars += len(reasoning)
            self._delta({"type": "thinking_delta", "thinking": reasoning}, out)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text(content, out)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refused = True
            self._text(refusal, out)
        calls = delta.get("tool_calls")
        if not calls and isinstance(delta.get("function_call"), Mapping):
            calls = [{"index": 0, "function": delta["function_call"]}]
        for pos, call in enumerate(calls or ()):
            if isinstance(call, Mapping):
                self._tool_delta(pos, call, out)

    def _tool_delta(self, pos: int, call: Mapping[str, Any], out: list[bytes]) -> None:
        idx = call.get("index")
        idx = idx if isinstance(idx, int) else pos
        fn = _mapping(call.get("function"))
        if idx not in self._tools:
            call_id = call.get("id") or f"toolu_{(self.message_id or 'msg_routesh')[4:]}_{idx}"
            self._open_block("tool", {"type": "tool_use", "id": str(call_id), "name": str(fn.get("name") or ""),
                                      "input": {}}, out)
            self._tools[idx] = self._index
            self._open_tool = idx
            self._has_tool_use = True
        elif self._open_tool != idx:
            self.warnings.append(f"dropped arguments for tool call {idx} that arrived after its block closed")
            return
        args = fn.get("arguments")
        if isinstance(args, Mapping):  # a few servers send the arguments already parsed
            args = json.dumps(args, ensure_ascii=False)
        if isinstance(args, str) and args:
            self._out_chars += len(args)
            self._delta({"type": "input_json_delta", "partial_json": args}, out)

    def _finish(self, out: list[bytes]) -> None:
        self._close_block(out)
        stop = stop_reason_for(self.finish_reason, has_tool_use=self._has_tool_use)
        if self._refused:
            stop = "refusal"
        if self._matched_stop and stop == "end_turn":
            stop = "stop_sequence"
        self.stop_reason = stop
        if self._raw_usage is not None:
            self.usage = anthropic_usage(self._raw_usage)
            self.usage_reported = True
        else:
            self.usage = {"input_tokens": self.input_tokens_estimate, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": (self._out_chars + 3) // 4}
        out.append(encode_json("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": self._matched_stop if stop == "stop_sequence" else None},
            "usage": self.usage,
        }))
        out.append(MESSAGE_STOP)
        self.done = True

    def _fail(self, error: AnthropicError, out: list[bytes]) -> None:
        self.error = error
        out.append(encode_json("error", error.body))
        self.done = True
