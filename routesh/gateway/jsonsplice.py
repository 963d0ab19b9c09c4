"""Parse a JSON object once and remember where each top-level value sits, so a field can be swapped in place.

Why: the gateway changes one or two top-level fields (the model, sometimes the messages) of a ~78 KB
Claude Code request. Re-encoding the whole object costs more than twice the parse; replacing the
value's exact span in the text costs almost nothing and leaves every other byte as Claude Code sent it.
The values are decoded by the json module's C scanner, so parsing costs what json.loads costs.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

_DECODER = json.JSONDecoder()
_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # the C scanner: (value, end) at an index
_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, i: int) -> int:
    """The index of the first non-blank character at or after i."""
    m = _WS.match(text, i)
    return m.end() if m is not None else i
_DUMPS = json.JSONEncoder(separators=(",", ":")).encode  # ASCII-only output: the C encoder's fast path

Spans = dict[str, tuple[int, int]]


def parse_object(text: str) -> tuple[dict[str, Any], Spans]:
    """(the object, key → (start, end) of its value in text); raises ValueError like json.loads."""
    ws = _skip
    try:
        i = ws(text, 0)
        if text[i] != "{":
            raise ValueError("the body is not a JSON object")
        i = ws(text, i + 1)
        out: dict[str, Any] = {}
        spans: Spans = {}
        if text[i] == "}":
            i += 1
        else:
            while True:
                if text[i] != '"':
                    raise ValueError(f"expected a property name at offset {i}")
                key, i = scanstring(text, i + 1)
                i = ws(text, i)
                if text[i] != ":":
                    raise ValueError(f"expected ':' at offset {i}")
                i = ws(text, i + 1)
                try:
                    value, end = _SCAN(text, i)
                except StopIteration:
                    raise ValueError(f"expected a value at offset {i}") from None
                out[key] = value
                spans[key] = (i, end)
                i = ws(text, end)
                if text[i] == ",":
                    i = ws(text, i + 1)
                    continue
                if text[i] == "}":
                    i += 1
                    break
                raise ValueError(f"expected ',' or '}}' at offset {i}")
        if ws(text, i) != len(text):
            raise ValueError(f"extra data after the object at offset {i}")
        return out, spans
    except IndexError:
        raise ValueError("the body ends in the middle of the JSON object") from None


def dumps(value: Any) -> str:
    """Compact JSON, non-ASCII escaped (twice as fast to make as unescaped, and the same to any parser)."""
    return _DUMPS(value)


def splice_bytes(raw: bytes, text: str, spans: Spans, changes: dict[str, Any]) -> bytes:
    """splice() on the original bytes, so the untouched part is copied once and never re-encoded.

    `text` is `raw` decoded; span offsets count characters, so for non-ASCII bodies the byte offsets
    are found by encoding only the stretches before and inside the edited values.
    """
    if any(key not in spans for key in changes):
        return splice(text, spans, changes).encode("utf-8")
    plain = len(raw) == len(text)
    edits = sorted((spans[key][0], spans[key][1], dumps(value).encode("ascii")) for key, value in changes.items())
    out: list[bytes] = []
    at_b = at_s = 0
    for start, end, new in edits:
        if plain:
            b_start, b_end = start, end
        else:
            b_start = at_b + len(text[at_s:start].encode("utf-8"))
            b_end = b_start + len(text[start:end].encode("utf-8"))
        out.append(raw[at_b:b_start])
        out.append(new)
        at_b, at_s = b_end, end
    out.append(raw[at_b:])
    return b"".join(out)


def splice(text: str, spans: Spans, changes: dict[str, Any]) -> str:
    """The text with the given top-level values replaced (keys not present are appended at the end)."""
    edits = []
    extra = []
    for key, value in changes.items():
        if key in spans:
            start, end = spans[key]
            edits.append((start, end, dumps(value)))
        else:
            extra.append(f"{dumps(key)}:{dumps(value)}")
    edits.sort(reverse=True)
    for start, end, new in edits:
        text = text[:start] + new + text[end:]
    if extra:
        close = text.rstrip().rfind("}")
        head = text[:close].rstrip()
        sep = "" if head.endswith("{") else ","
        text = head + sep + ",".join(extra) + text[close:]
    return text
