"""Anthropic Messages request → OpenAI Chat Completions request, for `type: openai` upstreams (pure: no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Json = dict[str, Any]


# How Anthropic's `thinking: {type: enabled, budget_tokens: N}` is said to an OpenAI-compatible server:
#   reasoning_effort  {"reasoning_effort": low|medium|high}  OpenAI o-series/gpt-5, Groq, xAI, Gemini's OpenAI endpoint
#   openrouter        {"reasoning": {"max_tokens": N}}        OpenRouter's unified reasoning parameter
#   enable_thinking   {"enable_thinking": true, "thinking_budget": N}   Qwen (DashScope), SiliconFlow
#   none              nothing (DeepSeek-reasoner and local models that always or never think)
ReasoningStyle = Literal["reasoning_effort", "openrouter", "enable_thinking", "none"]

BILLING_HEADER_PREFIX = "x-anthropic-billing-header:"


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
