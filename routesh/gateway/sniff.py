"""Read usage and the end of an Anthropic SSE stream while it is relayed, without slowing the relay.

Most relayed chunks are content deltas; for those this costs one concatenation and three C-speed
substring searches. Only lines that carry usage, an error or the stop are parsed as JSON.
"""

from __future__ import annotations

import json
from typing import Any

MAX_LINE = 1 << 20  # a partial line longer than this is dropped: no real event is that large


class AnthropicSniffer:
    """Usage, stop reason, errors and completeness of an Anthropic Messages stream, seen from its bytes."""

    __slots__ = ("_tail", "usage", "started", "stopped", "stop_reason", "error", "error_type", "deltas")

    def __init__(self) -> None:
        self._tail = b""
        self.usage: dict[str, int] = {}
        self.started = False  # message_start seen
        self.stopped = False  # message_stop seen: the answer is complete
        self.stop_reason: str | None = None
        self.error: str | None = None  # the message of an in-stream error event
        self.error_type: str | None = None
        self.deltas = 0  # "content_block_delta" seen (twice per event: its event: and data: lines)

    def feed(self, data: bytes) -> None:
        """Look at the next relayed bytes (any boundary)."""
        self.deltas += data.count(b"content_block_delta")
        buf = self._tail + data if self._tail else data
        end = buf.rfind(b"\n")
        if end < 0:
            self._tail = buf if len(buf) <= MAX_LINE else b""
            return
        self._tail = buf[end + 1:] if end + 1 < len(buf) else b""
        seen: set[int] = set()
        for marker in (b'"usage"', b'"error"', b"message_st"):
            at = buf.find(marker, 0, end)
            while at >= 0:  # only the lines that hold a marker are looked at, not every line
                start = buf.rfind(b"\n", 0, at) + 1
                stop = buf.find(b"\n", at, end + 1)
                if start not in seen:
                    seen.add(start)
                    line = buf[start:stop].rstrip(b"\r")
                    if line.startswith(b"data:"):
                        self._event(line[5:])
                at = buf.find(marker, stop, end)

    def _event(self, payload: bytes) -> None:
        try:
            obj: Any = json.loads(payload)
        except ValueError:
            return
        if not isinstance(obj, dict):
            return
        kind = obj.get("type")
        if kind == "message_start":
            self.started = True
            msg = obj.get("message")
            if isinstance(msg, dict):
                self._usage(msg.get("usage"))
        elif kind == "message_delta":
            self._usage(obj.get("usage"))
            delta = obj.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.stop_reason = delta["stop_reason"]
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            err = obj.get("error")
            if isinstance(err, dict):
                self.error = str(err.get("message") or "")
                self.error_type = str(err.get("type") or "api_error")
            else:
                self.error, self.error_type = "error", "api_error"

    def _usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        for key in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                self.usage[key] = value


def usage_so_far(s: AnthropicSniffer) -> tuple[dict[str, int], bool]:
    """(usage, exact) of a relayed stream: as reported once it is complete; before that the counts of message_start
    with the output counted as at least one token per content delta relayed so far."""
    if s.stopped or not s.usage:
        return dict(s.usage), True
    usage = dict(s.usage)
    usage["output_tokens"] = max(usage.get("output_tokens", 0), (s.deltas + 1) // 2)
    return usage, False


def usage_of_message(body: bytes) -> tuple[dict[str, int], str | None]:
    """(usage, stop_reason) of a whole non-streamed Anthropic message."""
    try:
        obj = json.loads(body)
    except ValueError:
        return {}, None
    if not isinstance(obj, dict):
        return {}, None
    s = AnthropicSniffer()
    s._usage(obj.get("usage"))
    stop = obj.get("stop_reason")
    return s.usage, stop if isinstance(stop, str) else None
