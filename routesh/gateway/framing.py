"""The front door's HTTP/1.1 framing: read one request from a client connection, write one response."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded"}


@dataclass
class Request:
    """One client request as the handler sees it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool


def error_body(status: int, message: str, etype: str | None = None) -> bytes:
    """Anthropic's error shape."""
    from .translate import error_type_for_status

    return json.dumps({"type": "error", "error": {"type": etype or error_type_for_status(status),
                                                  "message": message}}).encode()


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
    """The next request on the connection, or None when there is none (closed, or answered with an error)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        respond(writer, 431, error_body(431, "request headers are larger than 64 KB"), keep=False)
        return None
    lines = head[:-4].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        respond(writer, 400, error_body(400, "malformed request line"), keep=False)
        return None
    method, target, version = parts
    headers: dict[str, str] = {}
    raw_headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name = name.strip().lower()
        value = value.strip()
        raw_headers.append((name, value))
        headers[name] = value
    conn = headers.get("connection", "").lower()
    keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
    path, _, query = target.partition("?")
    body: bytes | None = b""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
        if body is None:
            respond(writer, 413, error_body(413, "request body larger than 64 MB"), keep=False)
            return None
    elif headers.get("content-length"):
        try:
            length = int(headers["content-length"])
        except ValueError:
            respond(writer, 400, error_body(400, "bad content-length"), keep=False)
            return None
        if length > MAX_BODY:
            respond(writer, 413, error_body(413, "request body larger than 64 MB"), keep=False)
            return None
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length)
    return Request(method, path, query, headers, raw_headers, body or b"", keep)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes | None:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            return None
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


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
