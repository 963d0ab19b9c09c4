"""The OpenAI translation's fast paths: a plain text chunk becomes its Anthropic text_delta without json.loads.

Why: most events of a streamed answer are `{"choices":[{"index":0,"delta":{"content":"..."},...}]}`, and
decoding the whole chunk into dicts, walking it and re-encoding a new dict was most of the translation's
CPU. Here one regex recognises exactly that shape (anything else, usage included, takes the full path
in openai_stream.StreamTranslator) and only the text string is decoded and re-encoded, so the output is
byte-for-byte what the full path writes.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]

_SCALAR = r'"[a-z_]+":(?:"[^"\\]*"|-?\d+|null|true|false)'
_TEXT_CHUNK = re.compile(
    r'\{"id":"[^"\\]*","object":"chat\.completion\.chunk",(?:' + _SCALAR + r',)*'
    r'"choices":\[\{"index":0,"delta":\{"content":"((?:[^"\\\x00-\x1f]|\\.)*)"\}(?:,"logprobs":null)?,"finish_reason":null\}\]'
    r'(?:,' + _SCALAR + r')*\}\Z')
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # as sse.encode_json
_TEXT_CHUNK_BYTES = re.compile(_TEXT_CHUNK.pattern.encode())
# One `data:` event of a plain text chunk whose text is not empty and has no escapes; many of them, and nothing else.
_PLAIN_EVENT = (_TEXT_CHUNK.pattern.replace(r'((?:[^"\\\x00-\x1f]|\\.)*)', r'([^"\\\x00-\x1f]+)')
                .removesuffix(r"\Z")).encode()
# In a run _ALL_PLAIN matched, each event's text is the one string after this (no string holds a quote).
_TEXT_IN_RUN = re.compile(rb'"delta":\{"content":"([^"]*)"')
_ALL_PLAIN = re.compile(b"(?:data: " + _PLAIN_EVENT.replace(b"(", b"(?:").replace(b"(?:?:", b"(?:") + b"\n\n)+")
_DELTA_HEAD = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
               b'"delta":{"type":"text_delta","text":"')


def text_delta(data: str, index: int) -> tuple[bytes, int] | None:
    """(the content_block_delta event, characters of text) for a plain text chunk, or None for any other chunk."""
    m = _TEXT_CHUNK.match(data)
    if m is None:
        return None
    raw = m.group(1)
    text = scanstring(raw + '"', 0)[0] if "\\" in raw else raw
    if not text:
        return None
    event = (b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
             b'"delta":{"type":"text_delta","text":%b}}\n\n' % (index, _DUMPS(text).encode("utf-8")))
    return event, len(text)


def text_delta_bytes(data: bytes, index: int) -> tuple[bytes, int] | None:
    """text_delta() for the raw bytes of one `data:` line, skipping the SSE parser's decode as well.

    A text without backslashes is already what the encoder would write (no character in it needs escaping:
    the pattern admits none), so its bytes are spliced into the event as they are.
    """
    m = _TEXT_CHUNK_BYTES.match(data)
    if m is None:
        return None
    raw = m.group(1)
    if not raw:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # the parser decodes with replacement characters: the full path writes those
    if b"\\" in raw:
        return text_delta(data.decode("utf-8"), index)
    return (_DELTA_HEAD % index) + raw + b'"}}\n\n', len(text)


def text_deltas(chunk: bytes, pos: int, index: int) -> tuple[bytes, int, int] | None:
    """(the content_block_delta events, characters of text, where the run ends) for the complete events from
    chunk[pos:] on that are plain text chunks without escapes, or None when the first is not one: one pattern
    match and one findall for the lot, both inside `re`.
    """
    m = _ALL_PLAIN.match(chunk, pos)
    if m is None:
        return None
    run = chunk[pos:m.end()]
    if b"\\" in run:
        return None
    texts = _TEXT_IN_RUN.findall(run)
    joined = b"".join(texts)
    try:
        chars = len(joined.decode("utf-8"))
    except UnicodeDecodeError:
        return None  # the parser decodes with replacement characters: the full path writes those
    head = _DELTA_HEAD % index
    return head + (b'"}}\n\n' + head).join(texts) + b'"}}\n\n', chars, m.end()
