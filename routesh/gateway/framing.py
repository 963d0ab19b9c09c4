"""The front door's HTTP/1.1 framing: read one request from a client connection, write one response.

Strict on purpose (RFC 9112): whatever two parsers could read two ways is refused with a 4xx and the
connection closed, never guessed at. That covers a Content-Length that is not plain digits, duplicate
or conflicting lengths, Content-Length together with Transfer-Encoding (request smuggling), any coding
but `chunked`, obs-fold, control bytes and bare CR/LF in the head, malformed chunk sizes, and heads and
bodies over the limits. tests/gateway/test_gateway_http.py checks each against h11's reading of the same bytes.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024  # Anthropic's own limit for a Messages request
MAX_TRAILERS = 8 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented",
           502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
           529: "Overloaded"}

_REQUEST_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (/[^ ]*|\*) HTTP/1\.([01])\Z")
_HEADER = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):(.*)\Z")
_CONTROL = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])  # CR and LF are checked as line ends
_DIGITS = re.compile(r"[0-9]{1,18}\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}\Z")


class BadRequest(Exception):
    """A request the framing refuses: answered with this status and message, then the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Request:
    """One client request as the handler sees it (body empty until read_body)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool
    length: int = 0  # the Content-Length, or -1 for a chunked body


def error_body(status: int, message: str, etype: str | None = None) -> bytes:
    """Anthropic's error shape."""
    from .openai_errors import error_type_for_status

    return json.dumps({"type": "error", "error": {"type": etype or error_type_for_status(status),
                                                  "message": message}}).encode()


def parse_head(head: bytes) -> Request:
    """The request line and headers (without the blank line that ends them); raises BadRequest."""
    crlf = head.count(b"\r\n")
    if len(head.translate(None, _CONTROL)) != len(head) or head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        raise BadRequest(400, "the request head has control characters or a bare CR/LF")
    lines = head.decode("latin-1").split("\r\n")
    m = _REQUEST_LINE.match(lines[0])
    if m is None:
        if re.match(r"\S+ \S+ HTTP/\d", lines[0]) and not lines[0].endswith(("HTTP/1.0", "HTTP/1.1")):
            raise BadRequest(505, "only HTTP/1.1 and HTTP/1.0 are served here")
        raise BadRequest(400, "malformed request line")
    method, target, minor = m.groups()
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    lengths: list[str] = []
    codings: list[str] = []
    hosts = 0
    for line in lines[1:]:
        h = _HEADER.match(line)
        if h is None:
            if line[:1] in (" ", "\t"):
                raise BadRequest(400, "folded header lines (obs-fold) are not accepted")
            raise BadRequest(400, "malformed header line")
        name, value = h.group(1).lower(), h.group(2).strip(" \t")
        if name == "content-length":
            lengths += [v.strip() for v in value.split(",")]
        elif name == "transfer-encoding":
            codings += [v.strip().lower() for v in value.split(",") if v.strip()]
        elif name == "host":
            hosts += 1
        raw_headers.append((name, value))
        headers[name] = value
    if hosts > 1 or (hosts == 0 and minor == "1"):
        raise BadRequest(400, "an HTTP/1.1 request needs exactly one Host header")
    length = 0
    if codings:
        if lengths:
            raise BadRequest(400, "both Content-Length and Transfer-Encoding: the body's length is ambiguous")
        if minor == "0":
            raise BadRequest(400, "Transfer-Encoding is not valid in HTTP/1.0")
        if codings != ["chunked"]:
            raise BadRequest(501, f"unsupported Transfer-Encoding {', '.join(codings)!r}; send chunked or a length")
        length = -1
    elif lengths:
        if not all(_DIGITS.match(v) for v in lengths) or len(set(lengths)) != 1:
            raise BadRequest(400, "bad Content-Length (plain decimal digits, one value)")
        length = int(lengths[0])
        if length > MAX_BODY:
            raise BadRequest(413, f"request body larger than {MAX_BODY // (1024 * 1024)} MB")
    conn = headers.get("connection", "").lower()
    keep = "close" not in conn if minor == "1" else "keep-alive" in conn
    path, _, query = target.partition("?")
    return Request(method, path, query, headers, raw_headers, b"", keep, length)


async def read_head(reader: asyncio.StreamReader) -> Request | None:
    """The next request's head, or None when the client closed between requests; raises BadRequest."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise BadRequest(400, "the connection closed in the middle of a request head") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest(431, f"request headers are larger than {MAX_HEAD // 1024} KB") from None
    return parse_head(head[:-4])


async def read_body(reader: asyncio.StreamReader, req: Request, writer: asyncio.StreamWriter) -> None:
    """Read the request's body into req.body; raises BadRequest, or IncompleteReadError if the client leaves."""
    if req.length == 0:
        return
    if req.headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if req.length > 0:
        req.body = await reader.readexactly(req.length)
        return
    parts: list[bytes] = []
    total = 0
    while True:
        try:
            line = await reader.readuntil(b"\r\n")
        except asyncio.LimitOverrunError:
            raise BadRequest(400, "bad chunk size line") from None
        size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
        if not _HEX.match(size_text):
            raise BadRequest(400, "bad chunk size (hexadecimal digits expected)")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise BadRequest(413, f"request body larger than {MAX_BODY // (1024 * 1024)} MB")
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise BadRequest(400, "a chunk is longer than its size says")
    trailers = 0
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
        trailers += len(line)
        if trailers > MAX_TRAILERS:
            raise BadRequest(431, "request trailers are too large")
    req.body = b"".join(parts)


def respond(writer: asyncio.StreamWriter, status: int, body: bytes, *, keep: bool = True,
            headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
            content_type: str = "application/json", head_only: bool = False) -> None:
    """One whole response with a content-length."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", f"content-type: {content_type}",
             f"content-length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    if not keep:
        lines.append("connection: close")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    writer.write(data if head_only else data + body)
