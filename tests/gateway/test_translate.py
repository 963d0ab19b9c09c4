"""Anthropic ⇄ OpenAI translation, checked on requests recorded from the real Claude Code and on a realistic stream."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from routesh.gateway import translate as tr
from routesh.gateway.sse import SSEEvent, SSEParser, encode, encode_json
from routesh.gateway.translate import (
    OpenAIOptions,
    StreamTranslator,
    anthropic_usage,
    count_tokens,
    effort_for_budget,
    error_type_for_status,
    from_openai_error,
    stop_reason_for,
    thinking_budget,
    to_anthropic_response,
    to_openai_request,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "claude_code_requests"
RECORDINGS = sorted(RECORDED.glob("*.json"))


def recorded(name: str) -> dict[str, Any]:
    """The body of one recorded Claude Code request."""
    return json.loads((RECORDED / name).read_text())["body"]


# ---------------------------------------------------------------------------------------------------------------
# A JSON Schema for the part of the Chat Completions request the translator may produce. Strict: an unknown
# field or a misplaced one is a failure.

_TEXT_PART = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
              "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
_IMAGE_PART = {"type": "object", "required": ["type", "image_url"], "additionalProperties": False,
               "properties": {"type": {"const": "image_url"},
                              "image_url": {"type": "object", "required": ["url"], "additionalProperties": False,
                                            "properties": {"url": {"type": "string",
                                                                   "pattern": "^(data:image/[a-z+.-]+;base64,|https?://)"},
                                                           "detail": {"enum": ["auto", "low", "high"]}}}}}
_FILE_PART = {"type": "object", "required": ["type", "file"], "additionalProperties": False,
              "properties": {"type": {"const": "file"},
                             "file": {"type": "object", "additionalProperties": False,
                                      "properties": {"filename": {"type": "string"}, "file_data": {"type": "string"}}}}}
_TEXT_CONTENT = {"anyOf": [{"type": "string"}, {"type": "array", "minItems": 1, "items": _TEXT_PART}]}
CHAT_SCHEMA = {
    "type": "object",
    "required": ["model", "messages"],
    "additionalProperties": False,
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "minItems": 1, "items": {"oneOf": [
            {"type": "object", "required": ["role", "content"], "additionalProperties": False,
             "properties": {"role": {"const": "system"}, "content": _TEXT_CONTENT}},
            {"type": "object", "required": ["role", "content"], "additionalProperties": False,
             "properties": {"role": {"const": "user"}, "content": {"anyOf": [
                 {"type": "string"},
                 {"type": "array", "minItems": 1, "items": {"oneOf": [_TEXT_PART, _IMAGE_PART, _FILE_PART]}}]}}},
            {"type": "object", "required": ["role"], "additionalProperties": False,
             "properties": {"role": {"const": "assistant"},
                            "content": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                            "tool_calls": {"type": "array", "minItems": 1, "items": {
                                "type": "object", "required": ["id", "type", "function"], "additionalProperties": False,
                                "properties": {"id": {"type": "string", "minLength": 1}, "type": {"const": "function"},
                                               "function": {"type": "object", "required": ["name", "arguments"],
                                                            "additionalProperties": False,
                                                            "properties": {"name": {"type": "string"},
                                                                           "arguments": {"type": "string"}}}}}}}},
            {"type": "object", "required": ["role", "content", "tool_call_id"], "additionalProperties": False,
             "properties": {"role": {"const": "tool"}, "content": _TEXT_CONTENT,
                            "tool_call_id": {"type": "string", "minLength": 1}}},
        ]}},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "stop": {"type": "array", "items": {"type": "string"}, "maxItems": 4},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "additionalProperties": False,
                           "properties": {"include_usage": {"type": "boolean"}}},
        "tools": {"type": "array", "items": {
            "type": "object", "required": ["type", "function"], "additionalProperties": False,
            "properties": {"type": {"const": "function"},
                           "function": {"type": "object", "required": ["name", "parameters"],
                                        "additionalProperties": False,
                                        "properties": {"name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
                                                       "description": {"type": "string"},
                                                       "parameters": {"type": "object"},
                                                       "strict": {"type": "boolean"}}}}}},
        "tool_choice": {"anyOf": [{"enum": ["auto", "none", "required"]},
                                  {"type": "object", "required": ["type", "function"]}]},
        "parallel_tool_calls": {"type": "boolean"},
        "response_format": {"type": "object", "required": ["type"]},
        "reasoning_effort": {"enum": ["minimal", "low", "medium", "high"]},
    },
}


def assert_valid_chat_request(req: dict[str, Any]) -> None:
    """Schema-valid, JSON-serialisable, and every tool call answered right after it, in order."""
    json.loads(json.dumps(req))
    jsonschema.validate(req, CHAT_SCHEMA)
    msgs = req["messages"]
    for i, msg in enumerate(msgs):
        if msg["role"] == "tool":
            j = i - 1
            while msgs[j]["role"] == "tool":
                j -= 1
            assert msgs[j]["role"] == "assistant" and msgs[j].get("tool_calls"), f"orphan tool message at {i}"
            ids = [c["id"] for c in msgs[j]["tool_calls"]]
            assert msg["tool_call_id"] == ids[i - j - 1], "tool results out of order"
        if msg["role"] == "assistant" and msg.get("tool_calls"):
            following = msgs[i + 1:i + 1 + len(msg["tool_calls"])]
            assert [m.get("tool_call_id") for m in following] == [c["id"] for c in msg["tool_calls"]]


# ---------------------------------------------------------------------------------------------------------------
# Round trip: what the model would see, as an ordered list of items, must be the same on both sides.

def anthropic_items(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The conversation as ordered items; the items a model sees, cache_control and the billing header removed."""

    def text_of(content: Any) -> str:
        if isinstance(content, str):
            return content
        return "\n".join(b["text"] for b in content if b.get("type") == "text"
                         and not b["text"].startswith(tr.BILLING_HEADER_PREFIX))

    items: list[tuple[Any, ...]] = []
    if body.get("system"):
        items.append(("system", text_of(body["system"])))
    for msg in body["messages"]:
        content = msg["content"]
        if msg["role"] == "system":
            items.append(("system", text_of(content)))
        elif msg["role"] == "user":
            if isinstance(content, str):
                items.append(("user", content))
                continue
            results = [b for b in content if b["type"] == "tool_result"]
            for b in results:
                c = b.get("content")
                images = [x for x in c if x["type"] == "image"] if isinstance(c, list) else []
                items.append(("tool", b["tool_use_id"], text_of(c or ""), bool(b.get("is_error")), len(images)))
            for b in results:
                c = b.get("content")
                for x in (c if isinstance(c, list) else []):
                    if x["type"] == "image":
                        items.append(("image", f"data:{x['source']['media_type']};base64,{x['source']['data']}"))
            texts = [b["text"] for b in content if b["type"] == "text"]
            if texts:
                items.append(("user", "\n".join(texts)))
            for b in content:
                if b["type"] == "image":
                    items.append(("image", f"data:{b['source']['media_type']};base64,{b['source']['data']}"))
        else:
            if isinstance(content, str):
                items.append(("assistant", content))
                continue
            texts = [b["text"] for b in content if b["type"] == "text"]
            if texts:
                items.append(("assistant", "\n".join(texts)))
            for b in content:
                if b["type"] == "tool_use":
                    items.append(("call", b["id"], b["name"], b["input"]))
    return items


def openai_items(req: dict[str, Any], trailing_system: bool = False) -> list[tuple[Any, ...]]:
    """The same items read back from the OpenAI request (a trailing system turn is sent as a user reminder)."""
    items: list[tuple[Any, ...]] = []
    last = len(req["messages"]) - 1 if trailing_system else -1
    for i, msg in enumerate(req["messages"]):
        role, content = msg["role"], msg.get("content")
        if i == last and role == "user" and isinstance(content, str) and content.startswith("<system-reminder>\n"):
            items.append(("system", content[len("<system-reminder>\n"):-len("\n</system-reminder>")]))
        elif role == "system":
            items.append(("system", content))
        elif role == "tool":
            text, images = content, 0
            if text.startswith("Error: ") or text == "Error":
                text, is_error = text[len("Error: "):], True
            else:
                is_error = False
            if text.endswith("follow in the next user message]"):
                head, _, note = text.rpartition("[")
                images = int(note.split(" ")[0])
                text = head[:-1] if head.endswith("\n") else head
            items.append(("tool", msg["tool_call_id"], text, is_error, images))
        elif role == "user":
            if isinstance(content, str):
                items.append(("user", content))
                continue
            texts = [p["text"] for p in content
                     if p["type"] == "text" and not p["text"].startswith("Images returned by")]
            for p in content:
                if p["type"] == "image_url":
                    items.append(("image", p["image_url"]["url"]))
            if texts:
                items.append(("user", "\n".join(texts)))
        else:
            if content:
                items.append(("assistant", content))
            for call in msg.get("tool_calls") or ():
                items.append(("call", call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])))
    return items


def test_recordings_exist_and_cover_the_interesting_shapes() -> None:
    kinds = set()
    for path in RECORDINGS:
        rec = json.loads(path.read_text())
        assert rec["headers"].get("x-api-key") in (None, "REDACTED")
        body = rec["body"]
        for msg in body["messages"]:
            if msg["role"] == "system":
                kinds.add("mid-system")
            for b in msg["content"] if isinstance(msg["content"], list) else ():
                kinds.add(b["type"])
                if b["type"] == "tool_result":
                    if b.get("is_error"):
                        kinds.add("is_error")
                    for x in b["content"] if isinstance(b["content"], list) else ():
                        kinds.add("tool_result/" + x["type"])
        if thinking_budget(body):
            kinds.add("thinking-budget")
        if body.get("tools"):
            kinds.add("tools")
    assert {"mid-system", "tool_use", "tool_result", "is_error", "tool_result/image", "tool_result/text",
            "thinking-budget", "tools", "text"} <= kinds


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recorded_request_round_trips(path: Path) -> None:
    body = json.loads(path.read_text())["body"]
    req = to_openai_request(body)
    assert_valid_chat_request(req)
    assert openai_items(req, body["messages"][-1]["role"] == "system") == anthropic_items(body)
    # Nothing cache-related or Anthropic-only leaks into the OpenAI request.
    flat = json.dumps(req)
    assert "cache_control" not in flat and "x-anthropic-billing-header" not in flat
    assert req["model"] == body["model"] and req["stream"] is True
    assert req["stream_options"] == {"include_usage": True}
    assert [t["function"]["name"] for t in req.get("tools", [])] == [t["name"] for t in body.get("tools", [])]
    for tool, fn in zip(body.get("tools", []), req.get("tools", []), strict=True):
        assert fn["function"]["parameters"] == tool["input_schema"]
        assert fn["function"]["description"] == tool["description"]


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recorded_request_translates_with_every_option(path: Path) -> None:
    body = json.loads(path.read_text())["body"]
    for opts in (OpenAIOptions(model="up/model", reasoning="openrouter", keep_cache_control=True),
                 OpenAIOptions(reasoning="enable_thinking", mid_system="user", max_tokens_cap=8192,
                               max_tokens_field="max_completion_tokens", schema_drop_keys=("$schema",)),
                 OpenAIOptions(drop_billing_header=False, include_usage=False, reasoning="none")):
        req = to_openai_request(body, opts)
        json.dumps(req)
        assert [m["role"] for m in req["messages"]].count("tool") == sum(
            1 for m in body["messages"] if isinstance(m["content"], list)
            for b in m["content"] if b["type"] == "tool_result")
        assert req["messages"][-1]["role"] != "system"
        if opts.mid_system == "user":
            assert [m["role"] for m in req["messages"]].count("system") == 1
        if opts.schema_drop_keys:
            assert "$schema" not in json.dumps(req.get("tools", []))
            assert req.get("max_completion_tokens", 0) <= 8192 and "max_tokens" not in req


def test_mid_conversation_system_messages_keep_their_place() -> None:
    body = recorded("subagent_tool_result_blocks.json")
    req = to_openai_request(body)
    roles = [m["role"] for m in req["messages"]]
    assert roles == ["system", "user", "system", "assistant", "tool", "user"]  # never ends with a system turn
    assert req["messages"][-1]["content"] == f"<system-reminder>\n{body['messages'][-1]['content']}\n</system-reminder>"
    as_user = to_openai_request(body, OpenAIOptions(mid_system="user"))
    assert [m["role"] for m in as_user["messages"]] == ["system", "user", "user", "assistant", "tool", "user"]
    assert body["messages"][-1]["content"] in as_user["messages"][-1]["content"]


def test_image_inside_tool_result_follows_the_tool_message() -> None:
    body = recorded("tool_result_image.json")
    req = to_openai_request(body)
    tool, user = req["messages"][-2:]
    assert tool["role"] == "tool" and tool["tool_call_id"] == "toolu_rec1"
    assert "1 image(s)" in tool["content"]
    src = body["messages"][-1]["content"][0]["content"][0]["source"]
    assert user["role"] == "user"
    assert user["content"][-1] == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{src['data']}"}}


def test_tool_error_and_blocks() -> None:
    req = to_openai_request(recorded("tool_result_error_sonnet.json"))
    assert req["messages"][-1]["content"].startswith("Error: Exit code 2\nls: cannot access")
    req = to_openai_request(recorded("subagent_tool_result_blocks.json"))
    tool = req["messages"][4]
    assert tool["content"].startswith("Done: it is a small red square.\nagentId:")


def test_user_text_after_tool_results_and_order_of_several_results() -> None:
    body = {"model": "m", "max_tokens": 100, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Running both."},
            {"type": "tool_use", "id": "t1", "name": "A", "input": {"x": 1}},
            {"type": "tool_use", "id": "t2", "name": "B", "input": {}}]},
        {"role": "user", "content": [
            {"type": "text", "text": "also note this"},  # text before the results: still goes after them
            {"type": "tool_result", "tool_use_id": "t1", "content": "one"},
            {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "two"}],
             "is_error": True},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}]},
    ]}
    req = to_openai_request(body)
    assert_valid_chat_request(req)
    m = req["messages"]
    assert [x["role"] for x in m] == ["user", "assistant", "tool", "tool", "user"]
    assert m[1] == {"role": "assistant", "content": "Running both.", "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "A", "arguments": '{"x": 1}'}},
        {"id": "t2", "type": "function", "function": {"name": "B", "arguments": "{}"}}]}
    assert m[2]["content"] == "one" and m[3]["content"] == "Error: two"
    assert m[4]["content"] == [{"type": "text", "text": "also note this"},
                               {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]
    with_reasoning = to_openai_request(body, OpenAIOptions(reasoning_history="reasoning_content"))
    assert with_reasoning["messages"][1]["reasoning_content"] == "hmm"


def test_only_tool_calls_gives_null_content_and_documents_translate() -> None:
    body = {"model": "m", "max_tokens": 5, "system": "be brief", "messages": [
        {"role": "user", "content": [
            {"type": "document", "title": "spec.pdf",
             "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
            {"type": "text", "text": "summarise", "cache_control": {"type": "ephemeral"}}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c1", "name": "Read", "input": {"p": "é"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1"}]},
    ]}
    req = to_openai_request(body)
    assert_valid_chat_request(req)
    assert req["messages"][0] == {"role": "system", "content": "be brief"}
    assert req["messages"][1]["content"] == [
        {"type": "file", "file": {"filename": "spec.pdf", "file_data": "data:application/pdf;base64,JVBE"}},
        {"type": "text", "text": "plain words"}, {"type": "text", "text": "summarise"}]
    assert req["messages"][2]["content"] is None
    assert json.loads(req["messages"][2]["tool_calls"][0]["function"]["arguments"]) == {"p": "é"}
    assert req["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": ""}
    kept = to_openai_request(body, OpenAIOptions(keep_cache_control=True))
    assert kept["messages"][1]["content"][-1] == {"type": "text", "text": "summarise",
                                                  "cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize("choice, expected", [
    ({"type": "auto"}, "auto"),
    ({"type": "any"}, "required"),
    ({"type": "none"}, "none"),
    ({"type": "tool", "name": "Bash"}, {"type": "function", "function": {"name": "Bash"}}),
])
def test_tool_choice(choice: dict[str, Any], expected: Any) -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "Bash", "input_schema": {"type": "object"}},
                      {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}],
            "tool_choice": {**choice, "disable_parallel_tool_use": True}}
    req = to_openai_request(body)
    assert req["tool_choice"] == expected and req["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in req["tools"]] == ["Bash"]  # server tools cannot be functions


def test_scalar_fields() -> None:
    body = {"model": "m", "max_tokens": 64000, "temperature": 0.2, "top_p": 0.9, "top_k": 5,
            "stop_sequences": ["END", "STOP"], "metadata": {"user_id": "u"}, "stream": False,
            "messages": [{"role": "user", "content": "x"}]}
    req = to_openai_request(body, OpenAIOptions(max_tokens_cap=8192))
    assert req == {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 8192,
                   "temperature": 0.2, "top_p": 0.9, "stop": ["END", "STOP"]}


@pytest.mark.parametrize("thinking, style, expected", [
    ({"type": "enabled", "budget_tokens": 31999}, "reasoning_effort", {"reasoning_effort": "high"}),
    ({"type": "enabled", "budget_tokens": 8000}, "reasoning_effort", {"reasoning_effort": "medium"}),
    ({"type": "enabled", "budget_tokens": 1024}, "reasoning_effort", {"reasoning_effort": "low"}),
    ({"type": "enabled", "budget_tokens": 8000}, "openrouter", {"reasoning": {"max_tokens": 8000}}),
    ({"type": "enabled", "budget_tokens": 8000}, "enable_thinking", {"enable_thinking": True, "thinking_budget": 8000}),
    ({"type": "enabled", "budget_tokens": 8000}, "none", {}),
    ({"type": "adaptive"}, "reasoning_effort", {}),  # what Claude Code sends to its newest models: no budget
    ({"type": "disabled"}, "reasoning_effort", {}),
    ({"type": "enabled"}, "reasoning_effort", {}),
    ({"type": "enabled", "budget_tokens": True}, "reasoning_effort", {}),
    (None, "reasoning_effort", {}),
])
def test_thinking_mapping(thinking: Any, style: tr.ReasoningStyle, expected: dict[str, Any]) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 64000, "messages": [{"role": "user", "content": "x"}]}
    if thinking is not None:
        body["thinking"] = thinking
    req = to_openai_request(body, OpenAIOptions(reasoning=style))
    extra = {k: v for k, v in req.items() if k not in ("model", "messages", "max_tokens")}
    assert extra == expected


def test_thinking_on_recordings() -> None:
    assert thinking_budget(recorded("thinking_budget_haiku.json")) == 8000
    assert thinking_budget(recorded("main_turn_opus_adaptive.json")) is None
    assert thinking_budget(recorded("background_title.json")) is None
    assert effort_for_budget(31999) == "high"


def test_structured_output_becomes_response_format() -> None:
    req = to_openai_request(recorded("background_title.json"))
    assert req["response_format"]["type"] == "json_schema"
    assert req["response_format"]["json_schema"]["schema"]["required"] == ["title"]
    assert "tools" not in req


# ---------------------------------------------------------------------------------------------------------------
# Answers


@pytest.mark.parametrize("finish, tools, expected", [
    ("stop", False, "end_turn"),
    ("length", False, "max_tokens"),
    ("tool_calls", True, "tool_use"),
    ("function_call", True, "tool_use"),
    ("content_filter", False, "refusal"),
    (None, False, "end_turn"),
    ("eos", False, "end_turn"),
    ("stop", True, "tool_use"),  # some servers say "stop" after a tool call
    ("length", True, "max_tokens"),
])
def test_stop_reason_table(finish: str | None, tools: bool, expected: str) -> None:
    assert stop_reason_for(finish, has_tool_use=tools) == expected


def test_usage_conversion() -> None:
    assert anthropic_usage({"prompt_tokens": 1200, "completion_tokens": 30,
                            "prompt_tokens_details": {"cached_tokens": 1000}}) == {
        "input_tokens": 200, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1000, "output_tokens": 30}
    assert anthropic_usage({"prompt_tokens": 50, "completion_tokens": 5, "prompt_cache_hit_tokens": 40,
                            "prompt_cache_miss_tokens": 10})["input_tokens"] == 10
    assert anthropic_usage({"prompt_tokens": 100, "completion_tokens": 1,
                            "prompt_tokens_details": {"cached_tokens": 20, "cache_write_tokens": 30}}) == {
        "input_tokens": 50, "cache_creation_input_tokens": 30, "cache_read_input_tokens": 20, "output_tokens": 1}
    assert anthropic_usage(None) == {"input_tokens": 0, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0, "output_tokens": 0}


COMPLETION = {
    "id": "chatcmpl-Abc123", "object": "chat.completion", "created": 1, "model": "gpt-x",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Let me look.", "reasoning_content": "The user wants a file.",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "Read", "arguments": '{"file_path": "/a"}'}},
                       {"id": "call_2", "type": "function", "function": {"name": "Bash", "arguments": "{not json"}}]}}],
    "usage": {"prompt_tokens": 900, "completion_tokens": 40, "total_tokens": 940,
              "prompt_tokens_details": {"cached_tokens": 512}},
}


def test_non_streamed_answer() -> None:
    msg = to_anthropic_response(COMPLETION, model="claude-sonnet-4-6")
    assert msg == {
        "id": "msg_chatcmplAbc123", "type": "message", "role": "assistant", "model": "claude-sonnet-4-6",
        "content": [{"type": "thinking", "thinking": "The user wants a file.", "signature": ""},
                    {"type": "text", "text": "Let me look."},
                    {"type": "tool_use", "id": "call_1", "name": "Read", "input": {"file_path": "/a"}},
                    {"type": "tool_use", "id": "call_2", "name": "Bash",
                     "input": {"_invalid_json_arguments": "{not json"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 388, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 512,
                  "output_tokens": 40},
    }


def test_non_streamed_refusal_stop_sequence_and_missing_ids() -> None:
    refused = to_anthropic_response({"id": "x", "choices": [{"finish_reason": "stop", "message": {
        "role": "assistant", "content": None, "refusal": "I can't help with that."}}]})
    assert refused["stop_reason"] == "refusal"
    assert refused["content"] == [{"type": "text", "text": "I can't help with that."}]
    stopped = to_anthropic_response({"id": "x", "choices": [{"finish_reason": "stop", "stop_reason": "END",
                                                             "message": {"content": "abc"}}]}, stop_sequences=("END",))
    assert stopped["stop_reason"] == "stop_sequence" and stopped["stop_sequence"] == "END"
    no_id = to_anthropic_response({"id": "r1", "choices": [{"finish_reason": "stop", "message": {
        "tool_calls": [{"function": {"name": "A", "arguments": {"k": 1}}}]}}]}, message_id="msg_given")
    assert no_id["id"] == "msg_given"
    assert no_id["content"] == [{"type": "tool_use", "id": "toolu_given_0", "name": "A", "input": {"k": 1}}]
    assert no_id["stop_reason"] == "tool_use"


# A stream as OpenAI sends it for a text answer followed by a tool call, with include_usage: the finish chunk
# has usage null and the usage arrives alone afterwards. Multi-byte characters make byte splits interesting.
def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: Any = None, choices: bool = True) -> str:
    obj: dict[str, Any] = {"id": "chatcmpl-CbS7x9", "object": "chat.completion.chunk", "created": 1767225600,
                           "model": "gpt-4.1-2025-04-14", "service_tier": "default",
                           "system_fingerprint": "fp_6f2eabb9a5", "choices": [], "usage": usage}
    if choices:
        obj["choices"] = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return "data: " + json.dumps(obj, ensure_ascii=False) + "\n\n"


OPENAI_STREAM = "".join([
    _chunk({"role": "assistant", "content": "", "refusal": None}),
    ": keep-alive\n\n",
    _chunk({"content": "Café ☕ — "}),
    _chunk({"content": "I'll read 🗂 the file."}),
    _chunk({"tool_calls": [{"index": 0, "id": "call_Q1", "type": "function",
                            "function": {"name": "Read", "arguments": ""}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"file_'}}]}),
    _chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'path": "/tmp/é.txt"}'}}]}),
    _chunk({"tool_calls": [{"index": 1, "id": "call_Q2", "type": "function",
                            "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}]}),
    _chunk({}, "tool_calls"),
    _chunk(None, usage={"prompt_tokens": 5000, "completion_tokens": 61, "total_tokens": 5061,
                        "prompt_tokens_details": {"cached_tokens": 4096, "audio_tokens": 0},
                        "completion_tokens_details": {"reasoning_tokens": 0}}, choices=False),
    "data: [DONE]\n\n",
]).encode()


def translate(data: bytes, splits: list[int] | None = None, **kw: Any) -> tuple[bytes, StreamTranslator]:
    """Feed the stream cut at the given offsets, then close; return all output and the translator."""
    t = StreamTranslator(model=kw.pop("model", "claude-sonnet-4-6"), input_tokens=kw.pop("input_tokens", 4000), **kw)
    out, prev = [], 0
    for cut in (splits or []) + [len(data)]:
        out.append(t.feed(data[prev:cut]))
        prev = cut
    out.append(t.close())
    return b"".join(out), t


def events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Parsed (event name, JSON data) pairs, checking each event's name matches its type."""
    p = SSEParser()
    evs = p.feed(raw) + p.close()
    parsed = [(e.event, json.loads(e.data)) for e in evs]
    for name, data in parsed:
        assert data["type"] == name
    return parsed


def accumulate(evs: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """An Anthropic message rebuilt from its stream, the way a client does it (strictly, in block order)."""
    msg: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for name, d in evs:
        if name == "message_start":
            msg = dict(d["message"], content=[])
        elif name == "content_block_start":
            assert d["index"] == len(msg["content"])
            msg["content"].append(dict(d["content_block"]))
        elif name == "content_block_delta":
            assert d["index"] == len(msg["content"]) - 1, "delta for a block that is not the open one"
            block, delta = msg["content"][d["index"]], d["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                partial[d["index"]] = partial.get(d["index"], "") + delta["partial_json"]
        elif name == "content_block_stop":
            if d["index"] in partial:
                msg["content"][d["index"]]["input"] = json.loads(partial.pop(d["index"]))
        elif name == "message_delta":
            msg.update(d["delta"])
            msg["usage"] = {**msg["usage"], **d["usage"]}
    return msg


def test_stream_translation_event_sequence() -> None:
    raw, t = translate(OPENAI_STREAM)
    evs = events(raw)
    assert [n for n, _ in evs] == (
        ["message_start", "ping", "content_block_start", "content_block_delta", "content_block_delta",
         "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
         "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop",
         "message_delta", "message_stop"])
    start = evs[0][1]["message"]
    assert start["model"] == "claude-sonnet-4-6" and start["id"] == "msg_chatcmplCbS7x9"
    assert start["usage"]["input_tokens"] == 4000  # the caller's estimate until the real count comes
    assert evs[-2][1] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                          "usage": {"input_tokens": 904, "cache_creation_input_tokens": 0,
                                    "cache_read_input_tokens": 4096, "output_tokens": 61}}
    msg = accumulate(evs)
    assert msg["content"] == [
        {"type": "text", "text": "Café ☕ — I'll read 🗂 the file."},
        {"type": "tool_use", "id": "call_Q1", "name": "Read", "input": {"file_path": "/tmp/é.txt"}},
        {"type": "tool_use", "id": "call_Q2", "name": "Bash", "input": {"command": "ls"}}]
    assert t.usage_reported and t.stop_reason == "tool_use" and t.done and not t.warnings
    # The raw bytes look like Anthropic's: "event: NAME\ndata: {json}\n\n".
    assert raw.startswith(b"event: message_start\ndata: {\"type\":\"message_start\"")
    assert raw.endswith(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")


def test_stream_translation_is_the_same_at_every_chunk_boundary() -> None:
    whole, _ = translate(OPENAI_STREAM)
    for cut in range(1, len(OPENAI_STREAM)):
        split, _ = translate(OPENAI_STREAM, [cut])
        assert split == whole, f"differs when cut at byte {cut}"
    for cut in range(1, len(OPENAI_STREAM) - 7, 7):  # two cuts, a few bytes apart
        split, _ = translate(OPENAI_STREAM, [cut, cut + 3])
        assert split == whole
    bytewise, _ = translate(OPENAI_STREAM, list(range(1, len(OPENAI_STREAM))))
    assert bytewise == whole


def test_stream_with_crlf_line_endings_matches() -> None:
    crlf = OPENAI_STREAM.replace(b"\n", b"\r\n")
    whole, _ = translate(OPENAI_STREAM)
    for cut in range(1, len(crlf), 5):
        assert translate(crlf, [cut])[0] == whole


def test_stream_matches_the_non_streamed_answer() -> None:
    msg = accumulate(events(translate(OPENAI_STREAM)[0]))
    same = to_anthropic_response({"id": "chatcmpl-CbS7x9", "choices": [{"finish_reason": "tool_calls", "message": {
        "content": "Café ☕ — I'll read 🗂 the file.", "tool_calls": [
            {"id": "call_Q1", "function": {"name": "Read", "arguments": '{"file_path": "/tmp/é.txt"}'}},
            {"id": "call_Q2", "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}]}}],
        "usage": {"prompt_tokens": 5000, "completion_tokens": 61, "prompt_tokens_details": {"cached_tokens": 4096}}},
        model="claude-sonnet-4-6")
    assert msg == same


def test_usage_in_the_finish_chunk_ends_the_message_at_once() -> None:
    data = (_chunk({"content": "hi"})
            + _chunk({}, "stop", usage={"prompt_tokens": 10, "completion_tokens": 2})).encode()
    t = StreamTranslator(model="m")
    out = t.feed(data)
    assert t.done and out.endswith(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
    assert t.usage == {"input_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                       "output_tokens": 2}
    assert t.feed(b"data: [DONE]\n\n") == b"" and t.close() == b""


def test_usage_chunk_after_finish_is_waited_for() -> None:
    t = StreamTranslator(model="m")
    out = t.feed((_chunk({"content": "hi"}) + _chunk({}, "length")).encode())
    assert b"message_delta" not in out and not t.done
    out = t.feed(_chunk(None, usage={"prompt_tokens": 7, "completion_tokens": 3}, choices=False).encode())
    d = [x for n, x in events(out) if n == "message_delta"][0]
    assert d["delta"]["stop_reason"] == "max_tokens" and d["usage"]["output_tokens"] == 3


def test_stream_without_usage_estimates_at_done() -> None:
    stream = (_chunk({"content": "x" * 40}) + _chunk({}, "stop") + "data: [DONE]\n\n").encode()
    raw, t = translate(stream, input_tokens=123)
    assert not t.usage_reported and t.usage == {"input_tokens": 123, "cache_creation_input_tokens": 0,
                                                "cache_read_input_tokens": 0, "output_tokens": 10}
    assert [n for n, _ in events(raw)][-2:] == ["message_delta", "message_stop"]
    # And without [DONE]: the end of the stream after a finish_reason still finishes the message.
    raw, t = translate((_chunk({"content": "x"}) + _chunk({}, "stop")).encode())
    assert t.stop_reason == "end_turn" and [n for n, _ in events(raw)][-1] == "message_stop"


def test_reasoning_becomes_a_thinking_block() -> None:
    data = "".join([_chunk({"role": "assistant", "reasoning_content": "Let me think"}),
                    _chunk({"reasoning_content": " harder."}),
                    _chunk({"reasoning": "(OpenRouter says it this way)"}),
                    _chunk({"content": "Answer."}), _chunk({}, "stop"), "data: [DONE]\n\n"]).encode()
    msg = accumulate(events(translate(data)[0]))
    assert msg["content"] == [
        {"type": "thinking", "thinking": "Let me think harder.(OpenRouter says it this way)", "signature": ""},
        {"type": "text", "text": "Answer."}]
    assert msg["stop_reason"] == "end_turn"


@pytest.mark.parametrize("finish, expected", [("stop", "end_turn"), ("length", "max_tokens"),
                                              ("tool_calls", "tool_use"), ("content_filter", "refusal")])
def test_stream_stop_reasons(finish: str, expected: str) -> None:
    raw, t = translate((_chunk({"content": "a"}) + _chunk({}, finish) + "data: [DONE]\n\n").encode())
    assert t.stop_reason == expected


def test_stream_stop_with_tool_call_is_tool_use_and_refusal_delta() -> None:
    data = (_chunk({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "A", "arguments": "{}"}}]})
            + _chunk({}, "stop") + "data: [DONE]\n\n").encode()
    assert translate(data)[1].stop_reason == "tool_use"
    data = (_chunk({"refusal": "No."}) + _chunk({}, "stop") + "data: [DONE]\n\n").encode()
    raw, t = translate(data)
    assert t.stop_reason == "refusal" and accumulate(events(raw))["content"] == [{"type": "text", "text": "No."}]


def test_dropped_stream_ends_with_an_anthropic_error_event() -> None:
    raw, t = translate(_chunk({"content": "partial ans"}).encode())
    name, data = events(raw)[-1]
    assert name == "error" and data["error"]["type"] == "api_error" and t.error is not None
    assert t.error.status == 502
    raw, t = translate(b"")
    assert t.error is not None and events(raw) == [("error", dict(t.error.body))]
    raw, t = translate(b"data: [DONE]\n\n")
    assert events(raw)[-1][0] == "error"


def test_error_inside_the_stream() -> None:
    err = {"error": {"message": "Rate limit exceeded: free-models-per-min", "code": 429}}
    raw, t = translate((_chunk({"content": "a"}) + "data: " + json.dumps(err) + "\n\n").encode())
    name, data = events(raw)[-1]
    assert name == "error" and data == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "Rate limit exceeded: free-models-per-min"}}
    assert t.error and t.error.status == 429
    t2 = StreamTranslator(model="m")
    t2.feed(_chunk({"content": "a"}).encode())
    out = t2.fail(tr.anthropic_error(504, "upstream timed out"))
    assert events(out) == [("error", {"type": "error",
                                      "error": {"type": "api_error", "message": "upstream timed out"}})]
    assert t2.fail(tr.anthropic_error(504, "again")) == b""


def test_garbage_and_out_of_order_tool_arguments_are_survived() -> None:
    data = "".join([
        "data: not json\n\n",
        _chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "A", "arguments": "{}"}}]}),
        _chunk({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "B", "arguments": "{}"}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": " "}}]}),
        _chunk({}, "tool_calls"), "data: [DONE]\n\n"]).encode()
    raw, t = translate(data)
    assert len(t.warnings) == 2
    assert [b["name"] for b in accumulate(events(raw))["content"]] == ["A", "B"]


def test_anthropic_sdk_reads_the_translated_stream() -> None:
    """The official Anthropic SDK (what Claude Code is built on) accepts the bytes and rebuilds the message."""
    import anthropic  # the test extra installs it (and its HTTP client): a missing one fails, never skips
    import httpx2
    raw, _ = translate(OPENAI_STREAM)

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=raw)

    client = anthropic.Anthropic(api_key="test", base_url="http://127.0.0.1:9", max_retries=0,
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].text == "Café ☕ — I'll read 🗂 the file."
    assert final.content[1].input == {"file_path": "/tmp/é.txt"} and final.content[2].name == "Bash"
    assert final.usage.input_tokens == 904 and final.usage.cache_read_input_tokens == 4096
    assert final.usage.output_tokens == 61


# ---------------------------------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("status, kind", [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (404, "not_found_error"), (413, "request_too_large"), (422, "invalid_request_error"),
    (429, "rate_limit_error"), (500, "api_error"), (502, "api_error"), (503, "overloaded_error"),
    (504, "api_error"), (529, "overloaded_error"), (418, "invalid_request_error"),
])
def test_error_status_table(status: int, kind: str) -> None:
    assert error_type_for_status(status) == kind
    err = from_openai_error(status, {"error": {"message": "boom", "type": "x", "code": None}})
    assert err.status == status
    assert err.body == {"type": "error", "error": {"type": kind, "message": "boom"}}


def test_error_retry_after_is_passed_on() -> None:
    body = b'{"error":{"message":"Rate limit reached for gpt-4.1","type":"requests","code":"rate_limit_exceeded"}}'
    err = from_openai_error(429, body, {"Retry-After": "7", "x-ratelimit-remaining-requests": "0"})
    assert err.type == "rate_limit_error" and err.retry_after == "7" and err.message.startswith("Rate limit reached")
    assert err.headers() == {"content-type": "application/json", "retry-after": "7"}
    assert json.loads(err.to_bytes())["error"]["type"] == "rate_limit_error"
    assert from_openai_error(429, "{}", [("retry-after-ms", "1500")]).retry_after == "2"
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    assert from_openai_error(529, "", {"retry-after": date}).retry_after == date
    assert from_openai_error(500, None).retry_after is None


@pytest.mark.parametrize("body, message", [
    ('{"error": {"message": "bad model", "type": "invalid_request_error"}}', "bad model"),
    ({"error": "plain string"}, "plain string"),
    ({"detail": "vLLM says no"}, "vLLM says no"),
    ({"message": "top-level"}, "top-level"),
    ("<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
    (b"", "upstream answered HTTP 400"),
    ({"error": {"message": "Provider returned error", "code": 400, "metadata": {"raw": "upstream detail"}}},
     "Provider returned error (upstream detail)"),
])
def test_error_bodies_of_every_shape(body: Any, message: str) -> None:
    assert from_openai_error(400, body).message == message


def test_context_too_long_is_worded_for_claude_code() -> None:
    err = from_openai_error(400, {"error": {"message": "This model's maximum context length is 128000 tokens. However, "
                                                       "your messages resulted in 200000 tokens.",
                                            "code": "context_length_exceeded"}})
    assert err.type == "invalid_request_error" and err.message.startswith("prompt is too long: This model's maximum")


def test_keys_in_upstream_messages_are_masked() -> None:
    message = "Incorrect API key provided: sk-proj-abcdefghijklmnopqrstuvwxyz012345."
    err = from_openai_error(401, {"error": {"message": message}})
    assert "abcdefghijklmnop" not in err.message and "sk-proj-…" in err.message
    assert err.type == "authentication_error"


# ---------------------------------------------------------------------------------------------------------------
# Token estimate


def test_count_tokens_on_recordings() -> None:
    sizes = {p.stem: count_tokens(json.loads(p.read_text())["body"]) for p in RECORDINGS}
    assert 5_000 < sizes["main_turn_opus_adaptive"] < 60_000
    assert sizes["background_title"] < 1_000
    assert sizes["tool_result_image"] >= sizes["main_turn_opus_adaptive"] + tr.IMAGE_TOKENS


def test_count_tokens_falls_back_without_routesh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    from routesh.gateway import count

    monkeypatch.setattr(count, "_estimator", None)
    monkeypatch.setitem(sys.modules, "routesh.core.tokens", None)  # import now fails
    body = {"system": "s" * 400, "messages": [{"role": "user", "content": "u" * 400}]}
    assert count_tokens(body) == len("s" * 400 + "\n" + "u" * 400) // 4 + 3
    from routesh.gateway import count

    monkeypatch.setattr(count, "_estimator", None)


# ---------------------------------------------------------------------------------------------------------------
# SSE


def test_sse_parser_spec_corners() -> None:
    p = SSEParser()
    evs = p.feed(b"\xef\xbb\xbfevent: a\ndata: 1\ndata:2\nid: 9\nretry: 50\n\n: comment\n\rdata: x\r\rdata: y\r\n\r\n")
    assert evs == [SSEEvent("1\n2", "a", "9", 50), SSEEvent("x", "message", "9"), SSEEvent("y", "message", "9")]
    assert p.feed(b"data: tail") == [] and p.close() == [SSEEvent("tail", "message", "9")]
    q = SSEParser()
    assert q.feed(b"\xef") == [] and q.feed(b"\xbb") == [] and q.feed(b"\xbfdata: z\n\n") == [SSEEvent("z")]
    assert SSEParser().feed(b"event: only\n\n") == []


def test_sse_encoders() -> None:
    assert encode("x", "a\nb") == b"event: x\ndata: a\ndata: b\n\n"
    assert encode(None, "a") == b"data: a\n\n"
    expected = 'event: ping\ndata: {"type":"ping","t":"é\\n"}\n\n'.encode()
    assert encode_json("ping", {"type": "ping", "t": "é\n"}) == expected
    p = SSEParser()
    assert p.feed(encode("x", "a\r\nb")) == [SSEEvent("a\nb", "x")]


def test_capped_max_tokens_keeps_the_budget_below_it() -> None:
    body = recorded("thinking_budget_haiku.json")  # budget 8000, max_tokens 32000
    assert to_openai_request(body, OpenAIOptions(reasoning="openrouter"))["reasoning"] == {"max_tokens": 8000}
    capped = to_openai_request(body, OpenAIOptions(reasoning="openrouter", max_tokens_cap=4096))
    assert capped["max_tokens"] == 4096 and capped["reasoning"] == {"max_tokens": 2048}
    effort = to_openai_request(body, OpenAIOptions(max_tokens_cap=4096))
    assert effort["reasoning_effort"] == "medium"  # the effort follows what Claude Code asked for


def test_openrouter_error_chunk_with_a_choice_and_error_finish() -> None:
    chunk = {"id": "gen-1", "object": "chat.completion.chunk", "created": 1, "model": "x",
             "error": {"code": 502, "message": "Provider disconnected"},
             "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}]}
    raw, t = translate((_chunk({"content": "a"}) + "data: " + json.dumps(chunk) + "\n\n").encode())
    assert events(raw)[-1] == ("error", {"type": "error", "error": {"type": "api_error",
                                                                    "message": "Provider disconnected"}})
    assert t.error is not None and t.error.status == 502
    raw, t = translate((_chunk({"content": "a"}) + _chunk({}, "error")).encode())
    assert events(raw)[-1][0] == "error" and t.stop_reason is None


def test_unsigned_thinking_is_stripped_before_an_anthropic_upstream() -> None:
    """Measured: Claude Code sends a translated thinking block back with its empty signature on the next turn."""
    body = {"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": ""},
                                          {"type": "text", "text": "x"},
                                          {"type": "tool_use", "id": "c", "name": "A", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": "ok"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "real", "signature": "EqQBCgIYAh"}]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "only", "signature": ""}]},
    ]}
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert b'"signature":""' in raw
    out = tr.strip_unsigned_thinking(body)
    assert out is not None and out["messages"][1]["content"][0] == {"type": "text", "text": "x"}
    assert out["messages"][3] == body["messages"][3]
    assert out["messages"][4]["content"] == [{"type": "text", "text": ""}]
    assert body["messages"][1]["content"][0]["type"] == "thinking"  # the input is not modified
    assert tr.strip_unsigned_thinking(recorded("tool_result_image.json")) is None
