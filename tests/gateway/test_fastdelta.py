"""The translation's text fast path writes exactly what the full path writes, and only for plain text chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.gateway import openai_stream
from routesh.gateway.fastdelta import text_delta


def chunk(delta: dict[str, Any], *, finish: str | None = None, extra: dict[str, Any] | None = None,
          ascii_only: bool = False) -> bytes:
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "service_tier": "default", "system_fingerprint": "fp_1",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **(extra or {})}
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only).encode() + b"\n\n"


def translated(stream: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        if not fast:
            m.setattr(openai_stream, "text_delta", lambda data, index: None)
        t = openai_stream.StreamTranslator(model="m", message_id="msg_1")
        out = t.feed(stream) + t.close()
        return out + json.dumps(t.usage).encode()


def stream_of(pieces: list[str], ascii_only: bool) -> bytes:
    out = chunk({"role": "assistant", "content": ""})
    out += b"".join(chunk({"content": p}, ascii_only=ascii_only) for p in pieces)
    out += chunk({"reasoning_content": "hmm"}) + chunk({"content": "after thinking"})
    out += chunk({}, finish="stop", extra={"usage": {"prompt_tokens": 3, "completion_tokens": 4}})
    return out + b"data: [DONE]\n\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=8), st.booleans())
def test_fast_path_output_is_byte_identical(pieces: list[str], ascii_only: bool) -> None:
    mp = pytest.MonkeyPatch()
    try:
        stream = stream_of(pieces, ascii_only)
        assert translated(stream, True, mp) == translated(stream, False, mp)
    finally:
        mp.undo()


@pytest.mark.parametrize("data", [
    chunk({"content": "hi"}, finish="stop"),  # a finish reason: the full path decides
    chunk({"content": "hi"}, extra={"usage": {"prompt_tokens": 1}}),  # usage: the full path keeps it
    chunk({"content": "hi", "role": "assistant"}),
    chunk({"content": "hi", "tool_calls": []}),
    chunk({"reasoning": "x", "content": "hi"}),
    chunk({"content": ""}),
    b'data: {"error":{"message":"boom"}}\n\n',
])
def test_anything_but_plain_text_takes_the_full_path(data: bytes) -> None:
    assert text_delta(data[6:].decode().strip(), 0) is None


def test_plain_text_chunks_in_openai_and_test_upstream_shapes_are_fast() -> None:
    assert text_delta(chunk({"content": "a\"b\\n\u00e9"})[6:].decode().strip(), 3) is not None
    assert text_delta(chunk({"content": "x"}, extra={"usage": None, "obfuscation": "abc"})[6:].decode().strip(),
                      0) is not None
