"""Anthropic Messages ⇄ OpenAI Chat Completions: pure translations the gateway uses for `type: openai` upstreams.

Request: `to_openai_request(anthropic_body, OpenAIOptions(...)) -> dict`.
Answer:  `to_anthropic_response(chat_completion)` for a whole JSON answer, `StreamTranslator` for a stream
         (OpenAI SSE bytes in at any boundary, Anthropic SSE bytes out).
Errors:  `from_openai_error(status, body, headers) -> AnthropicError` (status kept, retry-after passed on).
Tokens:  `count_tokens(anthropic_body)`, a fast local estimate for /v1/messages/count_tokens.

Nothing here does I/O, reads the clock or draws random numbers; ids come from the upstream or the caller.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..screening.keymask import mask_keys
from .fastdelta import text_delta
from .sse import SSEParser, encode_json

__all__ = [
    "AnthropicError",
    "IMAGE_TOKENS",
    "OpenAIOptions",
    "ReasoningStyle",
    "StreamTranslator",
    "anthropic_error",
    "anthropic_usage",
    "count_tokens",
    "server_tools",
    "effort_for_budget",
    "error_type_for_status",
    "from_openai_error",
    "stop_reason_for",
    "strip_unsigned_thinking",
    "thinking_budget",
    "to_anthropic_response",
    "to_openai_request",
]

Json = dict[str, Any]

# How Anthropic's `thinking: {type: enabled, budget_tokens: N}` is said to an OpenAI-compatible server:
#   reasoning_effort  {"reasoning_effort": low|medium|high}  OpenAI o-series/gpt-5, Groq, xAI, Gemini's OpenAI endpoint
#   openrouter        {"reasoning": {"max_tokens": N}}        OpenRouter's unified reasoning parameter
#   enable_thinking   {"enable_thinking": true, "thinking_budget": N}   Qwen (DashScope), SiliconFlow
#   none              nothing (DeepSeek-reasoner and local models that always or never think)
ReasoningStyle = Literal["reasoning_effort", "openrouter", "enable_thinking", "none"]

# Anthropic bills an image by its pixels (about w*h/750, at most ~1600 for the largest it accepts); the estimate
# does not decode images, so it assumes the large case.
IMAGE_TOKENS = 1600

BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"

FINISH_TO_STOP: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

STATUS_TO_ERROR: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "invalid_request_error",  # OpenRouter: out of credits; Anthropic has no billing type Claude Code knows
    403: "permission_error",
    404: "not_found_error",
    408: "api_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class OpenAIOptions:
    """How one OpenAI-compatible upstream wants its requests shaped; the gateway keeps one per provider."""

    model: str | None = None  # the upstream's model id; None keeps the one Claude Code asked for
    reasoning: ReasoningStyle = "reasoning_effort"
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    max_tokens_cap: int | None = None  # Claude Code asks for 32000-64000, more than many models allow
    include_usage: bool = True  # stream_options.include_usage, so a streamed answer reports its tokens
    keep_cache_control: bool = False  # OpenRouter passes cache_control on to Anthropic/Gemini models
    drop_billing_header: bool = True  # Claude Code's per-session system line defeats providers' prefix caches
    mid_system: Literal["system", "user"] = "system"  # "user" for servers whose templates reject late system turns
    reasoning_history: Literal["drop", "reasoning_content"] = "drop"  # earlier thinking blocks, sent back or not
    schema_drop_keys: tuple[str, ...] = ()  # e.g. ("$schema",) for servers that reject JSON Schema meta keys


# --------------------------------------------------------------------------------------------------------------
# Request: Anthropic → OpenAI


def thinking_budget(body: Mapping[str, Any]) -> int | None:
    """The thinking budget when thinking is really on (type enabled with a budget), else None."""
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0:
        return None
    return budget


def effort_for_budget(budget: int) -> str:
    """A thinking budget as an OpenAI reasoning effort: ≤4k low, ≤16k medium, above that high."""
    if budget <= 4096:
        return "low"
    if budget <= 16384:
        return "medium"
    return "high"


def _reasoning_fields(budget: int | None, style: ReasoningStyle, max_tokens: Any = None) -> Json:
    """The provider-specific request fields that switch reasoning on, or none."""
    if budget is None or style == "none":
        return {}
    if style == "reasoning_effort":
        return {"reasoning_effort": effort_for_budget(budget)}
    if isinstance(max_tokens, int) and budget >= max_tokens:
        budget = max(1, max_tokens // 2)  # a cap put max_tokens under the budget: leave room for the answer
    if style == "openrouter":
        return {"reasoning": {"max_tokens": budget}}
    return {"enable_thinking": True, "thinking_budget": budget}


def _block_text(block: Mapping[str, Any]) -> str | None:
    """The text a text-like block carries, or None for blocks that have none."""
    text = block.get("text")
    return text if isinstance(text, str) else None


def _system_text(content: Any, opts: OpenAIOptions) -> str:
    """A system prompt (string or text blocks) as one string; cache_control is not text and goes."""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        text = _block_text(block)
        if text is None:
            continue
        if opts.drop_billing_header and text.startswith(BILLING_HEADER_PREFIX):
            continue
        parts.append(text)
    return "\n".join(parts)


def _image_part(block: Mapping[str, Any]) -> Json | None:
    """An Anthropic image block as an OpenAI image_url part (base64 becomes a data: URL)."""
    source = block.get("source")
    if not isinstance(source, Mapping):
        return None
    kind = source.get("type")
    if kind == "base64":
        url = f"data:{source.get('media_type') or 'image/png'};base64,{source.get('data') or ''}"
    elif kind == "url":
        url = str(source.get("url") or "")
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _document_part(block: Mapping[str, Any]) -> Json | None:
    """An Anthropic document block as an OpenAI part: PDFs as a file part, plain text as text."""
    source = block.get("source")
    if not isinstance(source, Mapping):
        return None
    kind = source.get("type")
    if kind == "text":
        return {"type": "text", "text": str(source.get("data") or "")}
    if kind == "base64":
        media = source.get("media_type") or "application/pdf"
        name = block.get("title") or "document.pdf"
        data = f"data:{media};base64,{source.get('data') or ''}"
        return {"type": "file", "file": {"filename": str(name), "file_data": data}}
    if kind == "url":
        return {"type": "text", "text": f"[document: {source.get('url')}]"}
    if kind == "content":
        texts = [t for b in source.get("content") or () if isinstance(b, Mapping) and (t := _block_text(b))]
        return {"type": "text", "text": "\n".join(texts)}
    return None


def _content_parts(blocks: Iterable[Any], opts: OpenAIOptions) -> list[Json]:
    """User-visible blocks (text, image, document) as OpenAI content parts, in order."""
    parts: list[Json] = []
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        part: Json | None
        if kind == "text":
            part = {"type": "text", "text": block.get("text") or ""}
        elif kind == "image":
            part = _image_part(block)
        elif kind == "document":
            part = _document_part(block)
        elif kind == "search_result":
            texts = [t for b in block.get("content") or () if isinstance(b, Mapping) and (t := _block_text(b))]
            head = f"{block.get('title') or ''} {block.get('source') or ''}\n"
            part = {"type": "text", "text": head + "\n".join(texts)}
        else:
            text = _block_text(block)
            part = {"type": "text", "text": text} if text is not None else None
        if part is None:
            continue
        if opts.keep_cache_control and isinstance(block.get("cache_control"), Mapping):
            part["cache_control"] = dict(block["cache_control"])
        parts.append(part)
    return parts


def _collapse(parts: list[Json]) -> str | list[Json]:
    """Text-only content as a plain string, which every OpenAI-compatible server accepts; else the parts."""
    if all(p.get("type") == "text" and "cache_control" not in p for p in parts):
        return "\n".join(p["text"] for p in parts)
    return parts


def _tool_result(block: Mapping[str, Any], opts: OpenAIOptions) -> tuple[Json, list[Json]]:
    """A tool_result as an OpenAI tool message, plus any images it returned (tool messages hold text only)."""
    content = block.get("content")
    texts: list[str] = []
    images: list[Json] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for part in _content_parts(content, opts):
            if part.get("type") == "text":
                texts.append(part["text"])
            else:
                images.append(part)
    text = "\n".join(texts)
    call_id = str(block.get("tool_use_id") or "")
    if images:
        note = f"[{len(images)} image(s) returned by this tool follow in the next user message]"
        text = f"{text}\n{note}" if text else note
    if block.get("is_error"):
        text = f"Error: {text}" if text else "Error"
    msg: Json = {"role": "tool", "tool_call_id": call_id, "content": text}
    if images:
        images = [{"type": "text", "text": f"Images returned by tool call {call_id}:"}, *images]
    return msg, images


def _user_messages(content: Any, opts: OpenAIOptions) -> list[Json]:
    """One Anthropic user turn as OpenAI messages: tool results first (they must follow the calls), then the rest."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[Json] = []
    extra: list[Json] = []
    rest: list[Any] = []
    for block in content or ():
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            msg, images = _tool_result(block, opts)
            tools.append(msg)
            extra.extend(images)
        else:
            rest.append(block)
    parts = extra + _content_parts(rest, opts)
    if parts:
        tools.append({"role": "user", "content": _collapse(parts)})
    return tools


def _assistant_message(content: Any, opts: OpenAIOptions) -> Json:
    """One Anthropic assistant turn as an OpenAI assistant message with text and tool_calls."""
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[Json] = []
    reasoning: list[str] = []
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            args = block.get("input")
            calls.append({
                "id": str(block.get("id") or ""),
                "type": "function",
                "function": {"name": str(block.get("name") or ""),
                             "arguments": json.dumps(args if args is not None else {}, ensure_ascii=False)},
            })
        elif kind == "thinking":
            reasoning.append(block.get("thinking") or "")
        # redacted_thinking, server_tool_use and its results belong to Anthropic's servers; nothing to send on.
    msg: Json = {"role": "assistant", "content": "\n".join(texts) if texts else (None if calls else "")}
    if calls:
        msg["tool_calls"] = calls
    if reasoning and opts.reasoning_history == "reasoning_content":
        msg["reasoning_content"] = "\n".join(reasoning)
    return msg


def _drop_keys(schema: Any, keys: tuple[str, ...]) -> Any:
    """A JSON Schema without the given keys at any depth (for servers that reject them)."""
    if isinstance(schema, Mapping):
        return {k: _drop_keys(v, keys) for k, v in schema.items() if k not in keys}
    if isinstance(schema, list):
        return [_drop_keys(v, keys) for v in schema]
    return schema


def server_tools(tools: Any) -> list[str]:
    """Names of the tools only Anthropic can run (server tools such as web_search_20250305: no input_schema).

    They cannot be translated; a route that cannot serve them must say so rather than drop them silently.
    """
    return [str(t.get("name") or t.get("type") or "?") for t in tools if isinstance(t, Mapping)
            and "input_schema" not in t] if isinstance(tools, list) else []


def _tools(tools: Any, opts: OpenAIOptions) -> list[Json]:
    """Client tools as OpenAI functions; Anthropic server tools (web_search_2025..., no input_schema) cannot go."""
    out: list[Json] = []
    for tool in tools or ():
        if not isinstance(tool, Mapping) or "input_schema" not in tool:
            continue
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        if opts.schema_drop_keys:
            schema = _drop_keys(schema, opts.schema_drop_keys)
        fn: Json = {"name": str(tool.get("name") or ""), "parameters": schema}
        if tool.get("description"):
            fn["description"] = tool["description"]
        out.append({"type": "function", "function": fn})
    return out


def _tool_choice(choice: Any) -> Any:
    """Anthropic tool_choice as OpenAI's: auto→auto, any→required, tool→that function, none→none."""
    if not isinstance(choice, Mapping):
        return None
    kind = choice.get("type")
    if kind == "any":
        return "required"
    if kind == "tool":
        return {"type": "function", "function": {"name": str(choice.get("name") or "")}}
    if kind in ("auto", "none"):
        return kind
    return None


def _response_format(body: Mapping[str, Any]) -> Json | None:
    """Structured output (output_config.format or output_format, json_schema) as OpenAI's response_format."""
    cfg = body.get("output_config")
    fmt = cfg.get("format") if isinstance(cfg, Mapping) else None
    if fmt is None:
        fmt = body.get("output_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), Mapping):
        return None
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": fmt["schema"]}}


def to_openai_request(body: Mapping[str, Any], options: OpenAIOptions | None = None) -> Json:
    """An Anthropic Messages request as an OpenAI Chat Completions request; system turns keep their place."""
    opts = options or OpenAIOptions()
    messages: list[Json] = []
    system = _system_text(body.get("system"), opts) if body.get("system") is not None else ""
    if system:
        messages.append({"role": "system", "content": system})
    for msg in body.get("messages") or ():
        if not isinstance(msg, Mapping):
            continue
        role = msg.get("role")
        content = msg.get("content")
        if role == "user":
            messages.extend(_user_messages(content, opts))
        elif role == "assistant":
            messages.append(_assistant_message(content, opts))
        elif role == "system":  # Claude Code's mid-conversation system turns (beta mid-conversation-system)
            text = _system_text(content, opts)
            if opts.mid_system == "user":
                messages.append(_as_reminder(text))
            else:
                messages.append({"role": "system", "content": text})
    # Claude Code may end with a system turn; chat templates answer the last user or tool turn, and many
    # servers reject a conversation that ends with `system`: the trailing ones become a user reminder.
    tail = len(messages)
    while tail > 1 and messages[tail - 1]["role"] == "system":
        tail -= 1
    if 0 < tail < len(messages):
        texts = [str(m["content"]) for m in messages[tail:]]
        messages[tail:] = [_as_reminder("\n\n".join(texts))]
    out: Json = {"model": opts.model or body.get("model"), "messages": messages}
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        if opts.max_tokens_cap is not None:
            max_tokens = min(max_tokens, opts.max_tokens_cap)
        out[opts.max_tokens_field] = max_tokens
    for key in ("temperature", "top_p"):
        if isinstance(body.get(key), (int, float)) and not isinstance(body.get(key), bool):
            out[key] = body[key]
    stops = body.get("stop_sequences")
    if isinstance(stops, list) and stops:
        out["stop"] = [str(s) for s in stops]
    tools = _tools(body.get("tools"), opts)
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        tc = body.get("tool_choice")
        if isinstance(tc, Mapping) and tc.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    fmt = _response_format(body)
    if fmt is not None:
        out["response_format"] = fmt
    out.update(_reasoning_fields(thinking_budget(body), opts.reasoning, out.get(opts.max_tokens_field)))
    if body.get("stream"):
        out["stream"] = True
        if opts.include_usage:
            out["stream_options"] = {"include_usage": True}
    return out


def _as_reminder(text: str) -> Json:
    """A system turn said as a user message, the way Claude Code itself marks such text."""
    return {"role": "user", "content": f"<system-reminder>\n{text}\n</system-reminder>"}


def strip_unsigned_thinking(body: Mapping[str, Any]) -> Json | None:
    """The request without thinking blocks whose signature is empty, or None when it has none.

    A translated answer's thinking carries no signature (only Anthropic can sign), and Claude Code sends those
    blocks back on the next turn; Anthropic rejects them, so they go before a turn is relayed to `type: anthropic`.
    A cheap pre-check on the raw bytes is `b'"signature":""' in raw` (Claude Code writes compact JSON).
    """
    changed = False
    messages: list[Any] = []
    for msg in body.get("messages") or ():
        content = msg.get("content") if isinstance(msg, Mapping) else None
        if isinstance(msg, Mapping) and msg.get("role") == "assistant" and isinstance(content, list):
            kept = [b for b in content if not (isinstance(b, Mapping) and b.get("type") == "thinking"
                                               and not b.get("signature"))]
            if len(kept) != len(content):
                changed = True
                msg = {**msg, "content": kept or [{"type": "text", "text": ""}]}
        messages.append(msg)
    return {**body, "messages": messages} if changed else None


# --------------------------------------------------------------------------------------------------------------
# Answer: OpenAI → Anthropic


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


class StreamTranslator:
    """OpenAI streamed chunks in (raw bytes, any boundary), Anthropic SSE events out, exactly in Anthropic's order.

    Usage is taken from the finish chunk or from a later usage-only chunk, whichever carries it, so the
    final message_delta is held until usage arrives, `[DONE]` comes, or `close()` is called at end of stream.
    A stream that ends before a finish_reason becomes an Anthropic `error` event, never a silent stop.
    """

    def __init__(
        self,
        *,
        model: str,
        message_id: str | None = None,
        input_tokens: int = 0,
        stop_sequences: tuple[str, ...] = (),
        ping: bool = True,
    ) -> None:
        self.model = model
        self.input_tokens_estimate = input_tokens  # shown in message_start until the real count arrives
        self.stop_sequences = stop_sequences
        self.ping = ping
        self.message_id = message_id
        self.started = False
        self.done = False
        self.finish_reason: str | None = None
        self.stop_reason: str | None = None
        self.usage: Json | None = None  # Anthropic-shaped, once known
        self.usage_reported = False  # False: the final usage is an estimate (the server sent none)
        self.error: AnthropicError | None = None
        self.warnings: list[str] = []
        self._parser = SSEParser()
        self._raw_usage: Mapping[str, Any] | None = None
        self._usage_after_finish = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._tools: dict[int, int] = {}  # OpenAI tool index → Anthropic block index
        self._open_tool: int | None = None
        self._has_tool_use = False
        self._refused = False
        self._matched_stop: str | None = None
        self._out_chars = 0

    # -- public ----------------------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        """The Anthropic SSE bytes made complete by this piece of the upstream stream (often b"")."""
        if self.done:
            return b""
        out: list[bytes] = []
        for event in self._parser.feed(chunk):
            self._event(event.data, out)
            if self.done:
                break
        return b"".join(out)

    def close(self) -> bytes:
        """End of the upstream stream: finish the message, or say in Anthropic's shape that it broke off."""
        out: list[bytes] = []
        if not self.done:
            for event in self._parser.close():
                self._event(event.data, out)
                if self.done:
                    break
        if not self.done:
            if self.finish_reason is not None:
                self._finish(out)
            else:
                self._fail(anthropic_error(502, "the upstream stream ended before the answer was complete",
                                           type="api_error"), out)
        return b"".join(out)

    def usage_so_far(self) -> tuple[Json, bool]:
        """(usage, exact): the final usage once known, else the input estimate and the output counted so far."""
        if self.usage is not None:
            return self.usage, self.usage_reported
        if self._raw_usage is not None:
            return anthropic_usage(self._raw_usage), True
        return {"input_tokens": self.input_tokens_estimate, "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0, "output_tokens": (self._out_chars + 3) // 4}, False

    def fail(self, error: AnthropicError) -> bytes:
        """An error the caller saw (timeout, dropped connection) as the stream's final event."""
        if self.done:
            return b""
        out: list[bytes] = []
        self._fail(error, out)
        return b"".join(out)

    # -- internals -------------------------------------------------------------------------------------------

    def _event(self, data: str, out: list[bytes]) -> None:
        data = data.strip()
        if not data:
            return
        if data == "[DONE]":
            if self.started or self.finish_reason is not None:
                self._finish(out)
            else:
                self._fail(anthropic_error(502, "the upstream stream ended without an answer", type="api_error"), out)
            return
        if self._open == "text" and self.finish_reason is None:  # the common case, without json.loads
            fast = text_delta(data, self._index)
            if fast is not None:
                out.append(fast[0])
                self._out_chars += fast[1]
                return
        try:
            obj = json.loads(data)
        except ValueError:
            self.warnings.append(f"skipped a stream event that is not JSON: {data[:80]!r}")
            return
        if not isinstance(obj, dict):
            return
        if obj.get("error"):  # OpenRouter sends it with a choice whose finish_reason is "error"
            self._fail(_stream_error(obj["error"]), out)
            return
        self._chunk(obj, out)

    def _start(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        self.started = True
        self.message_id = _message_id(obj.get("id"), self.message_id)
        out.append(encode_json("message_start", {
            "type": "message_start",
            "message": {
                "id": self.message_id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": self.input_tokens_estimate, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": 0},
            },
        }))
        if self.ping:
            out.append(encode_json("ping", {"type": "ping"}))

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            out.append(encode_json("content_block_stop", {"type": "content_block_stop", "index": self._index}))
            self._open = None
            self._open_tool = None

    def _open_block(self, kind: str, block: Json, out: list[bytes]) -> None:
        self._close_block(out)
        self._index += 1
        self._open = kind
        out.append(encode_json("content_block_start",
                               {"type": "content_block_start", "index": self._index, "content_block": block}))

    def _delta(self, delta: Json, out: list[bytes]) -> None:
        out.append(encode_json("content_block_delta",
                               {"type": "content_block_delta", "index": self._index, "delta": delta}))

    def _text(self, text: str, out: list[bytes]) -> None:
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""}, out)
        self._out_chars += len(text)
        self._delta({"type": "text_delta", "text": text}, out)

    def _chunk(self, obj: Mapping[str, Any], out: list[bytes]) -> None:
        if not self.started:
            self._start(obj, out)
        usage = obj.get("usage")
        if isinstance(usage, Mapping) and usage:
            self._raw_usage = usage
            if self.finish_reason is not None:
                self._usage_after_finish = True
        for choice in obj.get("choices") or ():
            if not isinstance(choice, Mapping) or (choice.get("index") or 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, Mapping) and self.finish_reason is None:
                self._choice_delta(delta, out)
            reason = choice.get("finish_reason")
            if reason == "error":
                self._fail(anthropic_error(502, "the upstream stopped with an error", type="api_error"), out)
                return
            if reason and self.finish_reason is None:
                self.finish_reason = str(reason)
                self._matched_stop = _matched_stop(choice, self.stop_sequences)
                self._close_block(out)
                if isinstance(usage, Mapping) and usage:
                    self._usage_after_finish = True
        if self.finish_reason is not None and self._usage_after_finish:
            self._finish(out)

    def _choice_delta(self, delta: Mapping[str, Any], out: list[bytes]) -> None:
        reasoning = _reasoning_text(delta)
        if reasoning:
            if self._open != "thinking":
                self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            self._out_chars += len(reasoning)
            self._delta({"type": "thinking_delta", "thinking": reasoning}, out)
        content = delta.get("content")
        if isinstance(content, str) and content:
            self._text(content, out)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            self._refused = True
            self._text(refusal, out)
        calls = delta.get("tool_calls")
        if not calls and isinstance(delta.get("function_call"), Mapping):
            calls = [{"index": 0, "function": delta["function_call"]}]
        for pos, call in enumerate(calls or ()):
            if isinstance(call, Mapping):
                self._tool_delta(pos, call, out)

    def _tool_delta(self, pos: int, call: Mapping[str, Any], out: list[bytes]) -> None:
        idx = call.get("index")
        idx = idx if isinstance(idx, int) else pos
        fn = _mapping(call.get("function"))
        if idx not in self._tools:
            call_id = call.get("id") or f"toolu_{(self.message_id or 'msg_routesh')[4:]}_{idx}"
            self._open_block("tool", {"type": "tool_use", "id": str(call_id), "name": str(fn.get("name") or ""),
                                      "input": {}}, out)
            self._tools[idx] = self._index
            self._open_tool = idx
            self._has_tool_use = True
        elif self._open_tool != idx:
            self.warnings.append(f"dropped arguments for tool call {idx} that arrived after its block closed")
            return
        args = fn.get("arguments")
        if isinstance(args, Mapping):  # a few servers send the arguments already parsed
            args = json.dumps(args, ensure_ascii=False)
        if isinstance(args, str) and args:
            self._out_chars += len(args)
            self._delta({"type": "input_json_delta", "partial_json": args}, out)

    def _finish(self, out: list[bytes]) -> None:
        self._close_block(out)
        stop = stop_reason_for(self.finish_reason, has_tool_use=self._has_tool_use)
        if self._refused:
            stop = "refusal"
        if self._matched_stop and stop == "end_turn":
            stop = "stop_sequence"
        self.stop_reason = stop
        if self._raw_usage is not None:
            self.usage = anthropic_usage(self._raw_usage)
            self.usage_reported = True
        else:
            self.usage = {"input_tokens": self.input_tokens_estimate, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 0, "output_tokens": (self._out_chars + 3) // 4}
        out.append(encode_json("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": self._matched_stop if stop == "stop_sequence" else None},
            "usage": self.usage,
        }))
        out.append(encode_json("message_stop", {"type": "message_stop"}))
        self.done = True

    def _fail(self, error: AnthropicError, out: list[bytes]) -> None:
        self.error = error
        out.append(encode_json("error", error.body))
        self.done = True


# --------------------------------------------------------------------------------------------------------------
# Errors


@dataclass(frozen=True)
class AnthropicError:
    """An upstream failure in the shape Claude Code understands, with the status and retry-after it should see."""

    status: int
    body: Mapping[str, Any] = field(default_factory=dict)
    retry_after: str | None = None  # for the caller to send as the `retry-after` header

    @property
    def type(self) -> str:
        """Anthropic's error type, e.g. rate_limit_error."""
        return str(self.body.get("error", {}).get("type", "api_error"))

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.body.get("error", {}).get("message", ""))

    def to_bytes(self) -> bytes:
        """The JSON body to send."""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")

    def headers(self) -> dict[str, str]:
        """Response headers that belong with this error."""
        h = {"content-type": "application/json"}
        if self.retry_after is not None:
            h["retry-after"] = self.retry_after
        return h


def error_type_for_status(status: int) -> str:
    """The Anthropic error type for an HTTP status; other 4xx are invalid requests, other 5xx api errors."""
    if status in STATUS_TO_ERROR:
        return STATUS_TO_ERROR[status]
    if 400 <= status < 500:
        return "invalid_request_error"
    return "api_error"


def anthropic_error(
    status: int, message: str, *, type: str | None = None, retry_after: str | None = None
) -> AnthropicError:
    """An Anthropic-shaped error for a status, e.g. the gateway's own 401."""
    body = {"type": "error", "error": {"type": type or error_type_for_status(status), "message": message}}
    return AnthropicError(status, body, retry_after)


_CONTEXT_TOO_LONG = re.compile(r"context[ _-]?length|context window|maximum context|too many tokens|prompt is too long|"
                               r"input is too long|reduce the length", re.I)


def _header(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None, name: str) -> str | None:
    """A header value by case-insensitive name."""
    if headers is None:
        return None
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        if key.lower() == name:
            return value
    return None


def _retry_after(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> str | None:
    """retry-after as the upstream said it (seconds or an HTTP date); retry-after-ms rounded up to seconds."""
    value = _header(headers, "retry-after")
    if value is not None and value.strip():
        return value.strip()
    ms = _header(headers, "retry-after-ms")
    if ms is not None:
        try:
            return str(max(0, math.ceil(float(ms) / 1000)))
        except ValueError:
            return None
    return None


def _error_fields(body: Any) -> tuple[str, str | None, str | None]:
    """(message, OpenAI type, OpenAI code) from whatever error body a server sent."""
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body) if body.strip() else {}
        except ValueError:
            return body.strip()[:2000], None, None
    if not isinstance(body, Mapping):
        return "", None, None
    err = body.get("error", body)
    if isinstance(err, str):
        return err, None, None
    if not isinstance(err, Mapping):
        return json.dumps(body)[:2000], None, None
    message = err.get("message") or err.get("detail") or body.get("detail") or body.get("message") or ""
    if not isinstance(message, str):
        message = json.dumps(message)
    meta = err.get("metadata")
    if isinstance(meta, Mapping) and isinstance(meta.get("raw"), str) and meta["raw"] not in message:
        message = f"{message} ({meta['raw']})" if message else meta["raw"]  # OpenRouter's upstream detail
    etype = err.get("type")
    code = err.get("code")
    return message, str(etype) if etype else None, str(code) if code is not None else None


def from_openai_error(
    status: int,
    body: bytes | str | Mapping[str, Any] | None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
) -> AnthropicError:
    """An OpenAI-style error response as Anthropic's error shape, status kept, retry-after passed through."""
    message, etype, code = _error_fields(body)
    message = mask_keys(message) or f"upstream answered HTTP {status}"
    kind = error_type_for_status(status)
    if status in (400, 413, 422) and (code == "context_length_exceeded" or _CONTEXT_TOO_LONG.search(message)):
        # Claude Code recognises this wording and compacts the conversation instead of giving up.
        if not message.lower().startswith("prompt is too long"):
            message = f"prompt is too long: {message}"
    elif etype == "insufficient_quota" or code == "insufficient_quota":
        kind = "rate_limit_error" if status == 429 else kind
    return anthropic_error(status, message, type=kind, retry_after=_retry_after(headers))


def _stream_error(err: Any) -> AnthropicError:
    """An error object that arrived inside a stream (OpenRouter, vLLM) as an Anthropic error."""
    message, _etype, code = _error_fields({"error": err})
    status = int(code) if code is not None and code.isdigit() and 400 <= int(code) <= 599 else 500
    return from_openai_error(status, {"error": {"message": message, "code": code}})


# --------------------------------------------------------------------------------------------------------------
# Token estimate

_estimator: Callable[[str], int] | None = None


def _estimate(text: str) -> int:
    """routesh.core.tokens.estimate_tokens when it is there, else four characters a token."""
    global _estimator
    if _estimator is None:
        try:
            from ..core.tokens import estimate_tokens
        except ImportError:
            _estimator = lambda s: len(s) // 4  # noqa: E731
        else:
            _estimator = estimate_tokens
    return int(_estimator(text))


def _texts(content: Any, acc: list[str]) -> int:
    """Collect the text of message content into acc; return how many images it holds."""
    if isinstance(content, str):
        acc.append(content)
        return 0
    images = 0
    for block in content or ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "text":
            acc.append(block.get("text") or "")
        elif kind in ("image", "document"):
            images += 1
        elif kind == "tool_use":
            acc.append(str(block.get("name") or ""))
            acc.append(json.dumps(block.get("input") or {}, ensure_ascii=False))
        elif kind == "tool_result":
            images += _texts(block.get("content"), acc)
        elif kind == "thinking":
            acc.append(block.get("thinking") or "")
        else:
            text = block.get("text")
            if isinstance(text, str):
                acc.append(text)
    return images


def count_tokens(body: Mapping[str, Any]) -> int:
    """A fast local estimate of a request's input tokens, answering /v1/messages/count_tokens without a network."""
    acc: list[str] = []
    images = 0
    system = body.get("system")
    if system is not None:
        images += _texts(system, acc)
    messages = body.get("messages") or ()
    for msg in messages:
        if isinstance(msg, Mapping):
            images += _texts(msg.get("content"), acc)
    for tool in body.get("tools") or ():
        if isinstance(tool, Mapping):
            acc.append(json.dumps(tool, ensure_ascii=False))
    text = "\n".join(acc)
    return _estimate(text) + images * IMAGE_TOKENS + 3 * len(messages)
