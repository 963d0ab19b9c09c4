"""A whole OpenAI chat.completion answer → an Anthropic message, and the small mappings the stream shares."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

Json = dict[str, Any]

FINISH_TO_STOP: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a JSON object, else an empty one (servers leave fields out or null)."""
    return value if isinstance(value, Mapping) else {}


def anthropic_usage(usage: Mapping[str, Any] | None) -> Json:
    """OpenAI usage (prompt_tokens counts cached tokens too) in Anthropic's terms, where input excludes the cache."""
    u = usage or {}

    def num(v: Any) -> int:
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else 0

    details = _mapping(u.get("prompt_tokens_details"))
    cached = num(details.get("cached_tokens")) or num(u.get("prompt_cache_hit_tokens"))  # DeepSeek says it this way
    written = num(details.get("cache_write_tokens")) or num(details.get("cache_creation_tokens"))
    prompt = num(u.get("prompt_tokens"))
    return {
        "input_tokens": max(prompt - cached - written, 0),
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
        "output_tokens": num(u.get("completion_tokens")),
    }


def stop_reason_for(finish_reason: str | None, *, has_tool_use: bool = False) -> str:
    """OpenAI finish_reason as Anthropic stop_reason; an answer holding tool calls always stops for them."""
    stop = FINISH_TO_STOP.get(finish_reason or "stop", "end_turn")
    if has_tool_use and stop == "end_turn":
        return "tool_use"
    return stop


def _matched_stop(choice: Mapping[str, Any], stop_sequences: tuple[str, ...]) -> str | None:
    """The stop sequence that ended the answer, where the server says (vLLM's choice.stop_reason)."""
    value = choice.get("stop_reason")
    return value if isinstance(value, str) and value in stop_sequences else None


def _message_id(openai_id: Any, given: str | None) -> str:
    """An Anthropic-looking message id derived from the upstream's, unless the caller chose one."""
    if given:
        return given
    tail = re.sub(r"[^A-Za-z0-9]", "", str(openai_id or ""))
    return "msg_" + (tail[-40:] or "routesh")


def _tool_input(arguments: Any) -> Any:
    """Tool-call arguments as a JSON value; unparseable text is kept visible so the model can retry."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return {"_invalid_json_arguments": str(arguments)}
    return value if isinstance(value, dict) else {"_arguments": value}


def _reasoning_text(obj: Mapping[str, Any]) -> str:
    """Reasoning text where the server puts it: reasoning_content (DeepSeek, vLLM) or reasoning (OpenRouter)."""
    for key in ("reasoning_content", "reasoning"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def to_anthropic_response(
    resp: Mapping[str, Any],
    *,
    model: str | None = None,
    message_id: str | None = None,
    stop_sequences: tuple[str, ...] = (),
) -> Json:
    """A non-streamed chat.completion as an Anthropic message."""
    choices = resp.get("choices") or [{}]
    choice = _mapping(choices[0])
    msg = _mapping(choice.get("message"))
    mid = _message_id(resp.get("id"), message_id)
    content: list[Json] = []
    reasoning = _reasoning_text(msg)
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = msg.get("content")
    if isinstance(text, list):  # a few servers answer with parts
        text = "".join(p.get("text") or "" for p in text if isinstance(p, Mapping))
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    refusal = msg.get("refusal")
    if isinstance(refusal, str) and refusal:
        content.append({"type": "text", "text": refusal})
    calls = msg.get("tool_calls") or []
    legacy = msg.get("function_call")
    if not calls and isinstance(legacy, Mapping):
        calls = [{"function": legacy}]
    for i, call in enumerate(calls):
        if not isinstance(call, Mapping):
            continue
        fn = _mapping(call.get("function"))
        content.append({
            "type": "tool_use",
            "id": str(call.get("id") or f"toolu_{mid[4:]}_{i}"),
            "name": str(fn.get("name") or ""),
            "input": _tool_input(fn.get("arguments")),
        })
    has_tools = any(b["type"] == "tool_use" for b in content)
    stop = stop_reason_for(choice.get("finish_reason"), has_tool_use=has_tools)
    if isinstance(refusal, str) and refusal:
        stop = "refusal"
    matched = _matched_stop(choice, stop_sequences)
    if matched and stop == "end_turn":
        stop = "stop_sequence"
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "model": model or resp.get("model") or "",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": matched if stop == "stop_sequence" else None,
        "usage": anthropic_usage(resp.get("usage") if isinstance(resp.get("usage"), Mapping) else None),
    }
