"""Server-sent events, incrementally: bytes in at any chunk boundary, whole events out; and the encoder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["SSEEvent", "SSEParser", "encode", "encode_json"]

_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event; `event` is "message" when the stream named none, as the spec says."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """An incremental parser, because network reads split lines, events and UTF-8 characters anywhere."""

    __slots__ = ("_buf", "_data", "_event", "_id", "_retry", "_has_data", "_first")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None
        self._has_data = False
        self._first = True  # a UTF-8 BOM may open the stream

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Every event completed by this chunk, in order; the unfinished tail is kept for the next one."""
        if not chunk:
            return []
        buf = self._buf + chunk if self._buf else chunk
        if self._first:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                self._buf = buf
                return []
            self._first = False
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
        if b"\r" in buf:
            # CR and CRLF end lines too; a trailing CR may be the first half of a CRLF, so keep it back.
            held = buf.endswith(b"\r")
            if held:
                buf = buf[:-1]
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if held:
                buf += b"\r"
        end = buf.rfind(b"\n")
        if end < 0:
            self._buf = buf
            return []
        self._buf = buf[end + 1:]
        out: list[SSEEvent] = []
        for raw in buf[:end].split(b"\n"):
            self._line(raw, out)
        return out

    def take_unparsed(self, chunk: bytes) -> bytes | None:
        """The bytes not parsed yet with this chunk (a BOM opening the stream removed), handed to a caller that
        splits events itself, when nothing of an event is held; None (nothing changed) when one is half parsed."""
        if self._has_data or self._event:
            return None
        buf = self._buf + chunk if self._buf else chunk
        if self._first:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(buf):
                return None
            self._first = False
            if buf.startswith(b"\xef\xbb\xbf"):
                buf = buf[3:]
        self._buf = b""
        return buf

    def close(self) -> list[SSEEvent]:
        """Events still pending at end of stream: a last line with no newline, a last event with no blank line."""
        out: list[SSEEvent] = []
        tail, self._buf = self._buf.rstrip(b"\r"), b""
        if tail:
            self._line(tail, out)
        # Lenient: a server that ends the stream right after its last data line (no blank line) still meant it.
        if self._has_data:
            self._dispatch(out)
        return out

    def _line(self, raw: bytes, out: list[SSEEvent]) -> None:
        if not raw:
            self._dispatch(out)
            return
        if raw[0] == 58:  # b":" comment / keep-alive
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry":
            if value.isdigit():
                self._retry = int(value)

    def _dispatch(self, out: list[SSEEvent]) -> None:
        if self._has_data:
            out.append(SSEEvent("\n".join(self._data), self._event or "message", self._id, self._retry))
        self._data = []
        self._event = ""
        self._has_data = False
        self._retry = None


def encode(event: str | None, data: str) -> bytes:
    """One SSE event as bytes; multi-line data becomes several data lines."""
    head = f"event: {event}\n" if event else ""
    if "\n" in data or "\r" in data:
        body = "".join(f"data: {line}\n" for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    else:
        body = f"data: {data}\n"
    return (head + body + "\n").encode("utf-8")


def encode_json(event: str | None, payload: Any) -> bytes:
    """One SSE event whose data is compact JSON (one line: JSON strings escape their newlines)."""
    head = b"event: " + event.encode() + b"\n" if event else b""
    return head + b"data: " + _DUMPS(payload).encode("utf-8") + b"\n\n"
