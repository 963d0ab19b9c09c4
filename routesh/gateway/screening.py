"""Secret screening of a whole Claude Code request, at a flat cost per turn.

Every part that leaves is screened: the system prompt, tool descriptions and schemas, every message
(typed text, earlier turns, assistant text and prefill, tool_use inputs, tool results, document and
search_result blocks, mid-conversation system messages). A conversation resent on every turn would
cost more each turn, so each part's content hash is remembered once it screened clean: the first request
of a session (or a `--resume` of one never seen) is screened whole, later ones only in what is new.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

MAX_CLEAN = 200_000  # remembered clean parts (16-byte digests: ~10 MB at most), oldest forgotten first
SKIP_BLOCKS = frozenset({"image", "thinking", "redacted_thinking"})  # binary, or the model's own signed output


@dataclass(frozen=True)
class Hit:
    """One part of the request that holds secrets."""

    where: str  # "the system prompt", "message 3 (user)", "tool Bash's description"
    found: str  # screen.describe() of its findings: kinds and lines, never the secrets


def request_parts(body: Mapping[str, Any], tools: bool = True) -> Iterator[tuple[str, str]]:
    """(where, text) for every part of a request that carries text to the provider (tools=False: but the tools)."""
    yield from _content("the system prompt", body.get("system"))
    for i, msg in enumerate(body.get("messages") or ()):
        if isinstance(msg, Mapping):
            yield from _content(f"message {i + 1} ({msg.get('role')})", msg.get("content"))
    for tool in body.get("tools") or () if tools else ():
        if isinstance(tool, Mapping):
            name = tool.get("name") or tool.get("type") or "?"
            if isinstance(tool.get("description"), str):
                yield f"tool {name}'s description", tool["description"]
            if tool.get("input_schema") is not None:
                yield f"tool {name}'s input schema", _dumps(tool["input_schema"])


def _content(where: str, content: Any) -> Iterator[tuple[str, str]]:
    if isinstance(content, str):
        yield where, content
        return
    if not isinstance(content, list):
        return
    for block in content:
        if not isinstance(block, Mapping) or block.get("type") in SKIP_BLOCKS:
            continue
        kind = block.get("type")
        if isinstance(block.get("text"), str):
            yield where, block["text"]
        if kind in ("tool_use", "server_tool_use") and block.get("input") is not None:
            yield f"{where}, {block.get('name') or 'a tool'}'s input", _dumps(block["input"])
        elif kind in ("tool_result", "search_result", "web_search_tool_result"):
            yield from _content(f"{where}, a {kind}", block.get("content"))
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, Mapping):
                if source.get("type") == "text" and isinstance(source.get("data"), str):
                    yield f"{where}, a document", source["data"]
                elif source.get("type") == "content":
                    yield from _content(f"{where}, a document", source.get("content"))
            for field in ("title", "context"):
                if isinstance(block.get(field), str):
                    yield f"{where}, a document", block[field]


def digests(body: Mapping[str, Any], tools: bool = True) -> list[tuple[str, str, bytes]]:
    """(where, text, content hash) of every non-empty part: pure, so a large body's can be hashed on a thread
    (hashlib lets go of the GIL for long inputs, so the loop keeps serving meanwhile)."""
    return [(where, text, hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest())
            for where, text in request_parts(body, tools) if text]


def tools_key(raw_tools: str) -> bytes:
    """One hash for a request's whole tools array as the client wrote it: Claude Code sends the same ~60 KB of
    tool definitions every turn, and dumping each schema to hash it cost ~0.6 ms a request. Salted, so it never
    equals a part's own digest."""
    return hashlib.blake2b(b"tools\0" + raw_tools.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class Screener:
    """Knows which parts of a request were screened clean before (by content hash), so only new ones are scanned."""

    def __init__(self, max_clean: int = MAX_CLEAN) -> None:
        self._clean: OrderedDict[bytes, None] = OrderedDict()
        self._max = max_clean
        self.scanned_chars = 0  # how much text was handed out to scan (for tests and benchmarks)

    def new_parts(self, body: Mapping[str, Any]) -> list[tuple[str, str, bytes]]:
        """(where, text, digest) of the parts not seen clean before, each distinct text once."""
        return self.select(digests(body))

    def select(self, parts: list[tuple[str, str, bytes]]) -> list[tuple[str, str, bytes]]:
        """Of digests(body), the parts not seen clean before, each distinct text once (on the loop: it reads state)."""
        out: list[tuple[str, str, bytes]] = []
        seen: set[bytes] = set()
        for where, text, digest in parts:
            if digest in self._clean:
                self._clean.move_to_end(digest)
            elif digest not in seen:
                seen.add(digest)
                out.append((where, text, digest))
                self.scanned_chars += len(text)
        return out

    def known(self, digest: bytes) -> bool:
        """Screened clean before (a tools_key, or a part's digest)."""
        return digest in self._clean

    def remember(self, digest: bytes) -> None:
        """This part screened clean (or its secret was let through): no need to scan it again."""
        self._clean[digest] = None
        if len(self._clean) > self._max:
            self._clean.popitem(last=False)

    def screen(self, body: Mapping[str, Any], *, remember_hits: bool = False) -> list[Hit]:
        """The parts holding secrets, scanned here and now (the gateway scans long parts off its loop)."""
        from .offload import secrets_in

        hits: list[Hit] = []
        for where, text, digest in self.new_parts(body):
            found = secrets_in(text)
            if found is not None:
                hits.append(Hit(where, found))
            if found is None or remember_hits:
                self.remember(digest)
        return hits


def describe_hits(hits: list[Hit]) -> str:
    """Where the secrets are and of which kinds, never the secrets: one line."""
    shown = [f"{h.where}: {h.found}" for h in hits[:3]]
    more = f"; and {len(hits) - 3} more parts" if len(hits) > 3 else ""
    return "; ".join(shown) + more
