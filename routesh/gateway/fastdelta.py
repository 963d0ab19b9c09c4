"""The OpenAI translation's fast path: a plain text chunk becomes its Anthropic text_delta without json.loads.

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
