"""Outcome signals, pure: what counts as an edit, a rejection, a failed tool call, a turn, and a prompt's sketch.

Shared by the gateway (Claude Code's requests) and the shell (its own turns), so both record the
same definitions (docs/usage.md, "Outcome signals").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import blake2b

EDIT_TOOLS = frozenset({"Edit", "Write", "MultiEdit", "NotebookEdit"})
# The tool_result texts Claude Code sends back when a tool use was not allowed (checked in claude 2.1.197):
# the user said no in the permission prompt (with or without feedback), or -p/headless mode had no permission.
REJECTION_STARTS = (
    "The user doesn't want to proceed with this tool use.",
    "The user doesn't want to take this action right now.",
)
_NOT_GRANTED = re.compile(r"^Claude requested permissions? to .{0,2000}?, but you haven't granted it yet\.", re.S)
RE_ASK_WINDOW_S = 600.0  # a prompt repeated within 10 minutes of the earlier one in the same session
NEAR_BITS = 10  # sketches at most this many bits apart (of 64): "nearly the same" (tests/test_signals.py)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Signals:
    """What one request newly shows about the session's outcome (each counted once per session)."""

    tool_calls: int = 0
    failed_tool_calls: int = 0
    edits: int = 0
    rejected_edits: int = 0
    tools: str | None = None  # "Bash=2,Read=1"
    turn: int = 0  # 1 when the request carries a prompt the user typed
    prompt_sketch: int | None = None


def is_rejection(text: str) -> bool:
    """True for the tool_result Claude Code sends when the user (or headless mode) did not allow the tool use."""
    head = text.lstrip()[:4096]
    return head.startswith(REJECTION_STARTS) or _NOT_GRANTED.match(head) is not None


def result_text(content: object) -> str:
    """A tool_result's text: a plain string, or its text blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def tools_text(by_name: dict[str, int]) -> str | None:
    """{"Read": 1, "Bash": 2} → "Bash=2,Read=1" (the ledger's `tools` column); None when empty."""
    if not by_name:
        return None
    return ",".join(f"{name.replace(',', ' ').replace('=', ' ')}={n}" for name, n in sorted(by_name.items()))


def parse_tools(text: str | None, into: dict[str, int]) -> None:
    """Add a `tools` column value's counts into a dict."""
    if not text:
        return
    for part in text.split(","):
        name, _, n = part.rpartition("=")
        if name and n.isdigit():
            into[name] = into.get(name, 0) + int(n)


def normalized_words(text: str) -> list[str]:
    """The prompt's words, lowercased, without punctuation or spacing: what re-ask matching compares."""
    return _WORD.findall(text.casefold())


SKETCH_WORDS = 1000  # a pasted page is sketched by its first thousand words (a re-ask repeats the start too)
_LANE = 16  # bits per counter: up to 65,535 features (2 * SKETCH_WORDS fit)
# byte value → its 8 bits spread into 8 counters of _LANE bits, so a feature is added with 8 big-int adds
_SPREAD = tuple(sum(((b >> i) & 1) << (i * _LANE) for i in range(8)) for b in range(256))
# The majority test, all 8 counters of a byte at once (SWAR): adding 2**15 - t to each counter sets its top bit
# exactly when counter >= t (counters stay below 2**15: no carry between them); one multiply gathers the 8 top
# bits (at 16i + 15, shifted to 16i) into bits 112..119 without overlapping carries (16i - 15k is unique).
_ONES = sum(1 << (i * _LANE) for i in range(8))
_TOPS = _ONES << (_LANE - 1)
_GATHER = sum(1 << (112 - 15 * k) for k in range(8))


def sketch(text: str) -> int | None:
    """A 64-bit simhash of the prompt's words and word pairs (signed, for SQLite); None for an empty prompt.

    Equal after normalising → equal sketches; a word or two changed in a longer prompt → a few bits apart.
    Each bit is set when most features' hashes have it set; the 64 counters live in one big integer.
    """
    words = normalized_words(text[: SKETCH_WORDS * 32])[:SKETCH_WORDS]
    if not words:
        return None
    feats = words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]
    acc = [0] * 8  # per digest byte: 8 counters of _LANE bits each (small ints: cheap adds)
    spread = _SPREAD
    for f in feats:
        b0, b1, b2, b3, b4, b5, b6, b7 = blake2b(f.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        acc[0] += spread[b0]
        acc[1] += spread[b1]
        acc[2] += spread[b2]
        acc[3] += spread[b3]
        acc[4] += spread[b4]
        acc[5] += spread[b5]
        acc[6] += spread[b6]
        acc[7] += spread[b7]
    add = ((1 << (_LANE - 1)) - (len(feats) // 2 + 1)) * _ONES  # a bit is set when 2 * counter > len(feats)
    value = 0
    for j, counters in enumerate(acc):
        value |= ((((counters + add) & _TOPS) >> (_LANE - 1)) * _GATHER >> 112 & 0xFF) << (8 * j)
    return value - (1 << 64) if value >= 1 << 63 else value


def near(a: int, b: int) -> bool:
    """Two sketches of nearly the same prompt."""
    return ((a ^ b) & 0xFFFFFFFFFFFFFFFF).bit_count() <= NEAR_BITS


def turn_fields(text: str) -> dict[str, int | None]:
    """A typed prompt's (shell, one-shot) signals for its request's first ledger row: one turn and its sketch."""
    return {"turn": 1, "prompt_sketch": sketch(text)}
