"""The gateway's speed work changes no result: fast paths agree with the plain ones, batches store every row."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_gateway_secrets import AWS, RECORDED, _plant
from test_gateway_secrets import blocking_gw as blocking_gw  # noqa: F401 - fixture
from test_gateway_server import GW
from test_gateway_server import gw as gw  # noqa: F401 - fixture
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.gateway import openai_stream, templates
from routesh.gateway.sse import SSEParser, encode_json
from routesh.gateway.thinking import _PLAN_MODE, _ULTRATHINK, _asks_ultrathink, _says_plan_mode
from routesh.screening.keymask import _SHAPES, _cut, mask_keys
from routesh.usage.ledger import Ledger

# Pieces that start, end or imitate key shapes, in every case, with the characters re.I folds oddly.
PIECES = ["sk-", "sk-ant-api03-", "pk-", "rk-", "ak-", "key_", "key-", "api-", "API_", "gsk_", "xai-", "XAI_",
          "x-api-key: ", "X-API-KEY=", "ghp_", "github_pat_", "xoxb-", "xoxa-", "AKIA", "akia", "AIza", "aiza",
          "bearer ", "Bearer\t", "BEARER  ", "beareR ", "ı", "İ", "ſ", "K", "é", "-", "_", " ", "\n", "x", "xx",
          "A1b2C3d4E5f6G7h8", "0123456789ABCDEF", "abcdefghijklmnop", "ultrathink", "ULTRATHINK", "ultrathİnk",
          "ultrathınk", "ultrathinK", "trath", "ultra think", "'", '"', ":", "=", "."]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=120), st.integers(0, 400))
def test_mask_keys_long_text_path_masks_exactly_what_the_pattern_masks(pieces: list[str], pad: int) -> None:
    text = "y" * pad + "".join(pieces)
    assert mask_keys(text) == _SHAPES.sub(_cut, text)


def test_mask_keys_on_a_long_text_still_cuts_keys_and_keeps_the_rest() -> None:
    text = "x" * 100_000 + " Authorization: Bearer abcdef123456 and sk-ant-api03-SECRETSECRET here; xai-" + "Z" * 20
    out = mask_keys(text, "my-own-secret-value")
    assert "abcdef123456" not in out and "SECRETSECRET" not in out and "Z" * 20 not in out
    assert out.startswith("x" * 100_000) and "Bearer …" in out and "sk-ant-api03-…" in out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=60), st.integers(4097, 4300))
def test_ultrathink_check_on_long_turns_agrees_with_the_pattern(pieces: list[str], pad: int) -> None:
    text = "z" * pad + " ".join(pieces)
    assert _asks_ultrathink(text) == bool(_ULTRATHINK.search(text))


def row(i: int, **kw: object) -> AttemptRecord:
    return AttemptRecord(ts=time.time(), request_id=f"r{i:04d}", attempt=1, profile="p", route="r",  # type: ignore[arg-type]
                         provider="x", model="m", via="gateway", status="ok", cost_usd=0.001, **kw)


def test_record_many_stores_a_batch_in_one_transaction(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "u.db")
    statements: list[str] = []
    ledger._connect().set_trace_callback(statements.append)
    assert ledger.record_many([row(i, prompt=f"prompt {i} sk-ant-api03-abcdefghijkl") for i in range(200)]) == 200
    assert ledger.count() == 200
    assert [s for s in statements if s in ("BEGIN IMMEDIATE", "COMMIT")] == ["BEGIN IMMEDIATE", "COMMIT"]
    stored = [r["prompt"] for r in ledger.recent(200, include_prompt=True)]
    assert all(p is not None and "abcdefghijkl" not in p for p in stored)  # free text scrubbed in batches too
    ledger.close()


def test_record_many_with_a_bad_row_keeps_the_others(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "u.db")
    rows = [row(i) for i in range(5)]
    rows[2] = row(2, tag=["not", "bindable"])
    assert ledger.record_many(rows) == 4
    assert ledger.count() == 4 and ledger.failures == 1
    ledger.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "<system-reminder>", "<SYSTEM-REMINDER>", "Plan mode is active",
                                 "plan MODE still active", "Plan  mode is active", "Plan mode"]), max_size=40),
       st.integers(4097, 4300))
def test_plan_mode_check_on_long_text_agrees_with_the_pattern(pieces: list[str], pad: int) -> None:
    text = "z" * pad + " ".join(pieces)
    assert _says_plan_mode(text) == bool(_PLAN_MODE.search(text))


@given(st.text(max_size=30), st.text(max_size=30), st.integers(0, 10**7), st.integers(0, 500))
def test_event_templates_are_what_encode_json_writes(mid: str, model: str, tokens: int, index: int) -> None:
    start = {"type": "message_start", "message": {
        "id": mid, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": tokens, "cache_creation_input_tokens": 0,
                                         "cache_read_input_tokens": 0, "output_tokens": 0}}}
    assert templates.message_start(mid, model, tokens) == encode_json("message_start", start)
    assert templates.PING == encode_json("ping", {"type": "ping"})
    assert templates.MESSAGE_STOP == encode_json("message_stop", {"type": "message_stop"})
    assert templates.BLOCK_STOP % index == encode_json("content_block_stop",
                                                       {"type": "content_block_stop", "index": index})
    assert templates.TEXT_START % index == encode_json("content_block_start", {
        "type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})


def openai_chunk(delta: dict[str, object], finish: str | None = None, ascii_only: bool = False) -> bytes:
    obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    return b"data: " + json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only).encode() + b"\n\n"


def translate_all(stream: bytes, cuts: list[int], fast: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    with monkeypatch.context() as m:
        if not fast:  # every byte through the SSE parser and json.loads
            m.setattr(openai_stream, "text_deltas", lambda chunk, pos, index: None)
            m.setattr(openai_stream, "text_delta_bytes", lambda data, index: None)
            m.setattr(SSEParser, "take_unparsed", lambda self, chunk: None)
            m.setattr(openai_stream, "text_delta", lambda data, index: None)
        t = openai_stream.StreamTranslator(model="m", message_id="msg_1")
        out, last = b"", 0
        for cut in sorted(set(cuts)) + [len(stream)]:
            out += t.feed(stream[last:cut])
            last = cut
        return out + t.close() + json.dumps(t.usage).encode()


EXTRA_EVENTS = [b": keep-alive\n\n", b"event: x\ndata: {\"choices\":[]}\n\n", b"\n\n", b"data:{\"choices\":[]}\n\n",
                b"data: \xff\xfe\n\n"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=12), st.sampled_from(["\\", '"', "\n", "é", "\u2028", "\x01"])),
                min_size=1, max_size=10),
       st.booleans(), st.lists(st.integers(0, 2000), max_size=6), st.lists(st.sampled_from(EXTRA_EVENTS), max_size=2),
       st.booleans())
def test_translated_stream_is_byte_identical_with_and_without_the_fast_paths(
        pieces: list[str], ascii_only: bool, cuts: list[int], extra: list[bytes], reasoning: bool) -> None:
    stream = openai_chunk({"role": "assistant", "content": ""})
    stream += b"".join(openai_chunk({"content": p}, ascii_only=ascii_only) for p in pieces[:5])
    stream += b"".join(extra)
    if reasoning:
        stream += openai_chunk({"reasoning_content": "hmm"})
    stream += b"".join(openai_chunk({"content": p}, ascii_only=ascii_only) for p in pieces[5:])
    stream += openai_chunk({}, finish="stop") + b"data: [DONE]\n\n"
    cuts = [c % (len(stream) + 1) for c in cuts]
    mp = pytest.MonkeyPatch()
    try:
        assert translate_all(stream, cuts, True, mp) == translate_all(stream, cuts, False, mp)
    finally:
        mp.undo()


# ------------------------------------------------------------------------------------------------ thinking on OpenAI


def reasoning_of(body: dict[str, object], think: bool) -> object:
    from routesh.gateway.openai_request import OpenAIOptions, to_openai_request
    from routesh.gateway.thinking import openai_thinking

    shaped = openai_thinking(body, think) or body
    return to_openai_request(shaped, OpenAIOptions(model="gpt")).get("reasoning_effort")


@pytest.mark.parametrize(("thinking", "think", "effort"), [
    ({"type": "enabled", "budget_tokens": 31999}, False, None),  # Claude Code's default: the server's default
    ({"type": "adaptive"}, False, None),  # the newer families' default: the same
    (None, False, None),
    ({"type": "enabled", "budget_tokens": 8000}, False, "medium"),  # MAX_THINKING_TOKENS lowered: kept
    ({"type": "enabled", "budget_tokens": 63999}, False, "high"),  # raised
    ({"type": "enabled", "budget_tokens": 31999}, True, "high"),  # a think turn (ultrathink, plan mode)
    ({"type": "adaptive"}, True, "high"),  # on the adaptive families too
])
def test_openai_routes_hear_thinking_by_what_the_user_asked_not_by_claude_codes_default(
        thinking: dict[str, object] | None, think: bool, effort: str | None) -> None:
    body: dict[str, object] = {"model": "m", "max_tokens": 32000, "messages": [{"role": "user", "content": "hi"}]}
    if thinking is not None:
        body["thinking"] = thinking
    assert reasoning_of(body, think) == effort


def test_a_main_turn_on_an_openai_route_carries_no_reasoning_effort(gw: GW) -> None:  # noqa: F811
    body = {"model": "bg", "max_tokens": 32000, "stream": False, "messages": [{"role": "user", "content": "hello"}],
            "thinking": {"type": "enabled", "budget_tokens": 31999}}
    status, _, _ = gw.post(body)
    assert status == 200
    sent = gw.up.generation_requests()[-1].json
    assert "reasoning_effort" not in sent and sent["model"] == "gpt-bg"


def test_tool_definitions_seen_clean_are_not_rehashed_but_a_changed_one_is_screened(
        blocking_gw: GW) -> None:  # noqa: F811
    """Claude Code resends ~60 KB of tool definitions every turn: the whole array is remembered by one hash of
    its text, so a changed definition (a new MCP tool carrying a key) is still screened."""
    body = json.loads((RECORDED / "main_turn_opus_adaptive.json").read_text())["body"] | {"stream": False}
    assert blocking_gw.post(body)[0] == 200
    assert blocking_gw.post(body)[0] == 200
    status, _, out = blocking_gw.post(_plant(body, "tool description", AWS))
    assert status == 403 and "tool Deploy's description" in json.loads(out)["error"]["message"]
    assert blocking_gw.post(body)[0] == 200 and len(blocking_gw.up.generation_requests()) == 3
