"""Secret screening: find credentials in a prompt before it leaves the machine, and redact them.

Pure functions of the text: no I/O, no clock, no configuration. The caller applies the
profile's ``on_secret`` policy, or lets :func:`apply` do it in one call.

This module is the API (scan, redact, describe, apply) and the bookkeeping of spans; the
passes are in :mod:`routesh.screening.passes` (see there for why they are fast), the detectors in
:mod:`routesh.screening.rules`,
the judgement of candidate values in :mod:`routesh.screening.values` and :mod:`routesh.screening.assign`.

- The text is scanned as UTF-8 *bytes*. Every secret format is ASCII, a Python str with a
  single non-ASCII character is stored two or four bytes per character (and ``str.lower``
  on it is ten times slower), while ``bytes.translate`` lower-cases ASCII only and keeps every
  offset. Offsets are mapped back to str indices for the few findings at the end.
- A prompt with none of the passes' lead characters or secret words (most short prompts) is
  clean without compiling or running a regex.

Findings carry the kind and the position of a secret, never its text, so logging or printing
them (or a :class:`ScreenResult`) cannot leak it.
"""

from __future__ import annotations

import bisect
import math
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from . import passes as screen_passes

__all__ = [
    "KINDS",
    "ON_SECRET_ACTIONS",
    "Finding",
    "OnSecret",
    "ScreenResult",
    "apply",
    "describe",
    "placeholder",
    "redact",
    "scan",
]

OnSecret = Literal["block", "redact", "warn", "allow"]
ON_SECRET_ACTIONS: Final = ("block", "redact", "warn", "allow")

# kind -> priority: where two findings overlap they are merged under the more specific kind.
_PRIORITY: Final[dict[str, int]] = {
    "private-key": 100,
    "aws-access-key": 90,
    "aws-secret-key": 90,
    "github-token": 90,
    "anthropic-key": 90,
    "openrouter-key": 90,
    "openai-key": 85,
    "slack-token": 90,
    "slack-webhook": 90,
    "google-api-key": 90,
    "stripe-key": 90,
    "gitlab-token": 90,
    "npm-token": 90,
    "pypi-token": 90,
    "huggingface-token": 90,
    "sendgrid-key": 90,
    "jwt": 80,
    "url-password": 70,
    "bearer-token": 70,
    "basic-auth": 70,
    "password-assignment": 60,
    "generic-secret-assignment": 50,
    "high-entropy-env-value": 40,
}
KINDS: Final = tuple(_PRIORITY)


@dataclass(frozen=True)
class Finding:
    """Where a secret is (line 1-based; start/end are str offsets, end exclusive) and its kind; never its text."""

    kind: str
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class ScreenResult:
    """What to send and what was found, so the caller can block, warn or go on in one step.

    ``text`` is the original under ``warn``/``allow`` and may hold a secret: it is left out of
    the repr. Under ``block`` it is the redacted text, in case a caller sends it regardless.
    """

    text: str = field(repr=False)
    findings: tuple[Finding, ...]
    blocked: bool

    @property
    def summary(self) -> str:
        """One line naming the kinds and line numbers found (never the secrets)."""
        return describe(self.findings)


# ------------------------------------------------------------------------------------------
# Public API


def scan(text: str) -> tuple[Finding, ...]:
    """Find every secret in ``text``, in order, merged so that no two findings overlap.

    Redacting one secret can expose a neighbour that touched it (a key glued to the end of a
    PEM block is not a separate token until the block is gone), so the redacted text is
    scanned again until nothing new turns up: redact(text, scan(text)) always scans clean.
    """
    spans = _scan_spans(text)
    for _ in range(_MAX_ROUNDS):
        if not any(_glued(text, start, end) for start, end, _kind in spans):
            break  # every finding stands apart: redacting it cannot free a neighbour
        redacted, kept = _redact_keeping_map(text, spans)
        extra = _scan_spans(redacted)
        if not extra:
            break
        spans = _join(spans + [(_to_original(kept, s, False), _to_original(kept, e, True), kind)
                              for s, e, kind in extra])
    line, pos = 1, 0
    findings = []
    for start, end, kind in spans:
        line += text.count("\n", pos, start)
        pos = start
        findings.append(Finding(kind, line, start, end))
    return tuple(findings)


def placeholder(kind: str) -> str:
    """The typed text a redacted secret is replaced with."""
    return f"[REDACTED:{kind}]"


def redact(text: str, findings: Iterable[Finding]) -> str:
    """Replace each finding's span with its typed placeholder (overlapping spans are joined)."""
    spans = _join((max(0, f.start), min(len(text), f.end), f.kind) for f in findings)
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(placeholder(kind))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def describe(findings: Iterable[Finding], max_kinds: int = 4, max_lines: int = 5) -> str:
    """One line for people: how many secrets, of which kinds, on which lines; never the secrets."""
    found = list(findings)
    if not found:
        return "no secrets"
    lines_by_kind: dict[str, list[int]] = {}
    for f in found:
        lines = lines_by_kind.setdefault(f.kind, [])
        if f.line not in lines:
            lines.append(f.line)
    parts = []
    for kind, lines in list(lines_by_kind.items())[:max_kinds]:
        shown = ", ".join(str(n) for n in sorted(lines)[:max_lines])
        more = f" and {len(lines) - max_lines} more" if len(lines) > max_lines else ""
        parts.append(f"{kind} (line{'s' if len(lines) > 1 else ''} {shown}{more})")
    if len(lines_by_kind) > max_kinds:
        parts.append(f"{len(lines_by_kind) - max_kinds} more kinds")
    count = f"{len(found)} secret{'s' if len(found) > 1 else ''}"
    return f"{count}: {', '.join(parts)}"


def apply(text: str, on_secret: str) -> ScreenResult:
    """Scan and apply a profile's policy: block, redact, warn (send as is) or allow (no scan)."""
    if on_secret not in ON_SECRET_ACTIONS:
        raise ValueError(f"on_secret must be one of {', '.join(ON_SECRET_ACTIONS)}, not {on_secret!r}")
    if on_secret == "allow":
        return ScreenResult(text, (), False)
    findings = scan(text)
    if not findings:
        return ScreenResult(text, (), False)
    if on_secret == "warn":
        return ScreenResult(text, findings, False)
    return ScreenResult(redact(text, findings), findings, on_secret == "block")


# ------------------------------------------------------------------------------------------
# Spans: joining, mapping byte offsets to str offsets, line numbers

_Candidate = tuple[int, int, str]  # start, end (exclusive), kind: byte offsets from detectors, str offsets after


def _join(spans: Iterable[_Candidate]) -> list[_Candidate]:
    """Sort spans and join the overlapping ones under the kind with the highest priority."""
    joined: list[_Candidate] = []
    for start, end, kind in sorted(spans):
        if end <= start:
            continue
        if joined and start < joined[-1][1]:
            last_start, last_end, last_kind = joined[-1]
            better = kind if _PRIORITY.get(kind, 0) > _PRIORITY.get(last_kind, 0) else last_kind
            joined[-1] = (last_start, max(last_end, end), better)
        else:
            joined.append((start, end, kind))
    return joined


_MAX_ROUNDS: Final = 8
_GLUE: Final = frozenset(string.ascii_letters + string.digits + "_-.+/")


def _glued(text: str, start: int, end: int) -> bool:
    """A finding touches a token character on either side (what detectors' boundary checks look at)."""
    return (start > 0 and text[start - 1] in _GLUE) or (end < len(text) and text[end] in _GLUE)


def _worth_scanning(data: bytes) -> bool:
    """Cheap literal prefilter: a short prompt with none of the literals a pass needs holds no secret."""
    if len(data) > 4096:
        return True  # on long text the passes themselves are as cheap as this check
    lowered = data.lower()  # ASCII only
    return any(literal in lowered for literal in screen_passes.NEEDED)


def _scan_spans(text: str) -> list[_Candidate]:
    """One pass of every detector: joined spans in str offsets."""
    if not text:
        return []
    data = text.encode("utf-8", "surrogatepass")
    if not _worth_scanning(data):
        return []
    candidates = screen_passes.scan_bytes(data)
    spans = _join(candidates)
    if not spans or len(data) == len(text):  # ASCII: byte offsets are str offsets
        return spans
    widened = []
    for start, end, kind in spans:  # never cut a character in two
        while start > 0 and 0x80 <= data[start] < 0xC0:
            start -= 1
        while end < len(data) and 0x80 <= data[end] < 0xC0:
            end += 1
        widened.append((start, end, kind))
    out = []
    byte_pos = char_pos = 0
    for start, end, kind in _join(widened):
        char_start = char_pos + len(data[byte_pos:start].decode("utf-8", "surrogatepass"))
        char_end = char_start + len(data[start:end].decode("utf-8", "surrogatepass"))
        out.append((char_start, char_end, kind))
        byte_pos, char_pos = end, char_end
    return out


def _redact_keeping_map(text: str, spans: list[_Candidate]) -> tuple[str, list[tuple[int, int, int, int]]]:
    """Redact spans; also return, per kept piece: its start in the redacted text, its start and
    length in the original, and where the original resumes after the placeholder that follows it."""
    out: list[str] = []
    kept: list[tuple[int, int, int, int]] = []
    pos = length = 0
    for start, end, kind in spans:
        kept.append((length, pos, start - pos, end))
        out.append(text[pos:start])
        out.append(placeholder(kind))
        length += start - pos + len(out[-1])
        pos = end
    kept.append((length, pos, len(text) - pos, len(text)))
    out.append(text[pos:])
    return "".join(out), kept


def _to_original(kept: list[tuple[int, int, int, int]], offset: int, is_end: bool) -> int:
    """Map an offset in the redacted text back to the original; one inside a placeholder widens
    to the whole redacted secret (its start for a span start, its end for a span end)."""
    i = bisect.bisect_right(kept, (offset, math.inf)) - 1
    red_start, orig_start, seg_len, resume = kept[max(i, 0)]
    inside = offset - red_start
    if inside <= seg_len:
        return orig_start + inside
    return resume if is_end else orig_start + seg_len
