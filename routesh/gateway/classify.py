"""Which kind of Claude Code request this is, and so which route it takes: a pure function of the request.

Claude Code sends many kinds of request in one session. `routesh code` gives it unambiguous model
names through its environment (SENTINELS, possibly led by the route's real model, as in
claude-sonnet-4-6-routesh-main), so the model a request asks for says what it is; nothing here
guesses a class from real model names. The order of precedence, first that applies and
has a route configured under `code:` wins:

1. prefix        the latest human text starts with a prefix rule's prefix (`/architect ...`), typed
                 as text or run as the `/architect` command `routesh code` installs; local commands
                 (`/cost`: <command-name>/<local-command-stdout> blocks) before it are skipped
2. web_search    a web_search server tool is offered (not Claude Code's WebSearch client tool): a
                 capability, so it wins over who asked (a subagent's search is still a search)
3. model         the request's model is a route's name (`claude --model architect`)
4. long_context  the token estimate is over code.long_context_threshold
5. subagent      model routesh-subagent, or Claude Code's x-claude-code-agent-id header
6. background    model routesh-background without tools (Claude Code's small/fast model: titles,
                 summaries); a main turn on that model (`/model haiku`) is main, on the background route
7. image         an image block in the latest user message, tool results included
8. think         see thinking.think_reason: a budget above Claude Code's default, "ultrathink" typed in the
                 latest human turn, plan mode, or effort max (never merely a `thinking` field)
9. main          code.default, else default_route
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from ..core.config import Config, Rule
from ..core.router import split_prefix
from .thinking import think_reason

Kind = Literal["prefix", "model", "long_context", "subagent", "background", "web_search", "image", "think", "main"]

SENTINEL_MAIN = "routesh-main"
SENTINEL_BACKGROUND = "routesh-background"
SENTINEL_SUBAGENT = "routesh-subagent"
SENTINELS: Mapping[str, Kind] = {SENTINEL_MAIN: "main", SENTINEL_BACKGROUND: "background",
                                 SENTINEL_SUBAGENT: "subagent"}
# `routesh code` may put the route's real model in front (claude-sonnet-4-6-routesh-main), so that Claude Code
# shapes the request for that model (max_tokens, thinking, betas); the part after the model is still exact.
_SENTINEL_SUFFIXES: tuple[tuple[str, Kind], ...] = tuple(("-" + name, kind) for name, kind in SENTINELS.items())


def sentinel_kind(model: str) -> Kind | None:
    """The request class a routesh model name stands for (`routesh-subagent`, `claude-x-routesh-subagent`), or None."""
    kind = SENTINELS.get(model)
    if kind is not None:
        return kind
    for suffix, kind in _SENTINEL_SUFFIXES:
        if model.endswith(suffix):
            return kind
    return None

SYSTEM_REMINDER = "<system-reminder>"
COMMAND_MESSAGE = "<command-message>"
COMMAND_NAME = "<command-name>"
# What Claude Code writes for a local command (`/cost`, `/model`): never typed text, never a prefix.
LOCAL_COMMAND_OUTPUT = ("<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>")
_COMMAND_NAME = re.compile(r"<command-name>\s*(/[^<\s]+)\s*</command-name>")
AGENT_HEADERS = ("x-claude-code-agent-id", "x-claude-code-parent-agent-id")  # 2.1.197 sends the first
IMAGE_TOKENS = 1600  # what one image is counted as (Anthropic bills ~w*h/750, at most ~1600)
_BYTES_PER_TOKEN = 4.0  # the quick estimate: JSON bytes per token, measured on recorded Claude Code requests
_AMBIGUOUS = 0.25  # within ±25% of the threshold the quick estimate is not trusted and the text is counted


@dataclass(frozen=True)
class PrefixEdit:
    """Where a routing prefix sits in the request, so it can be removed before forwarding."""

    message: int  # index into messages
    block: int  # index into that message's content list; -1 when content is a plain string
    remove_block: bool  # True: drop the whole block (Claude Code's <command-message> block)
    text: str  # the block's text with the prefix removed (unused when remove_block)


@dataclass(frozen=True)
class Classification:
    """Where one request goes and why, with every signal seen (for the log line and the ledger)."""

    route: str
    kind: Kind
    reason: str
    signals: tuple[Kind, ...]  # every class the request showed, in precedence order
    estimated_tokens: int
    rule: Rule | None = None  # the prefix rule, when a prefix decided
    prefix: str | None = None
    edit: PrefixEdit | None = None

    @property
    def label(self) -> str:
        """What decided, for the ledger's rule column: 'prefix /architect', 'code.background', ..."""
        if self.kind == "prefix":
            return f"prefix {self.prefix}"
        if self.kind == "model":
            return f"model {self.route}"
        return f"code.{self.kind}" if self.kind != "main" else "code.default"


# ------------------------------------------------------------------------------------------ the request's parts


def _is_reminder(text: str) -> bool:
    """A block Claude Code wrote, not the person: a <system-reminder>, or a local command's output."""
    head = text.lstrip()
    return head.startswith(SYSTEM_REMINDER) or head.startswith(LOCAL_COMMAND_OUTPUT)


def latest_human_turn(messages: Any) -> tuple[int, list[tuple[int, str]]] | None:
    """(message index, [(block index, text)]) of the latest user message a person wrote, skipping tool results.

    Claude Code's agent loop answers tool calls with user messages holding only tool_result blocks (and
    <system-reminder> text); those continue the turn a person started, so the turn is still that person's.
    """
    if not isinstance(messages, list):
        return None
    for i in range(len(messages) - 1, -1, -1):
        msg = messages[i]
        if not isinstance(msg, dict) or msg.get("role") != "user":
            continue
        content = msg.get("content")
        if isinstance(content, str):
            if content.strip() and not _is_reminder(content):
                return i, [(-1, content)]
            continue
        if not isinstance(content, list):
            continue
        texts = [(j, b["text"]) for j, b in enumerate(content)
                 if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
                 and b["text"].strip() and not _is_reminder(b["text"])]
        if texts:
            return i, texts
    return None


def latest_user_text(messages: Any) -> str:
    """The text a person wrote in the latest human turn (what the ledger keeps when prompts may be logged)."""
    found = latest_human_turn(messages)
    return "\n".join(t for _, t in found[1]) if found else ""


def _last_user_content(messages: Any) -> Any:
    """The content of the last user message (trailing mid-conversation system messages skipped)."""
    if not isinstance(messages, list):
        return None
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return msg.get("content")
    return None


def has_image(content: Any) -> bool:
    """True when the content holds an image block, directly or inside a tool_result."""
    if not isinstance(content, list):
        return False
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "image":
            return True
        if kind == "tool_result" and has_image(block.get("content")):
            return True
    return False


def has_web_search(tools: Any) -> bool:
    """True when Anthropic's web_search server tool is offered (type web_search_YYYYMMDD, or name web_search)."""
    for tool in tools if isinstance(tools, list) else ():
        if not isinstance(tool, dict):
            continue
        kind = tool.get("type")
        if isinstance(kind, str) and kind.startswith("web_search"):
            return True
        if tool.get("name") == "web_search":
            return True
    return False


def model_name(body: Mapping[str, Any]) -> str:
    """The requested model without Claude Code's context suffix (`routesh-main[1m]` → routesh-main)."""
    model = body.get("model")
    if not isinstance(model, str):
        return ""
    return model.split("[", 1)[0].strip()


# ------------------------------------------------------------------------------------------ token estimate


def _base64_spans(raw: bytes) -> tuple[int, int]:
    """(bytes of base64 payload, number of images/documents) in a request body, found without parsing."""
    if b'"source"' not in raw:  # images and documents carry a source; most requests have none
        return 0, 0
    media = raw.count(b'"type":"image"') + raw.count(b'"type": "image"') + raw.count(b'"type":"document"') \
        + raw.count(b'"type": "document"')
    if not media:
        return 0, 0
    total = 0
    for needle in (b'"data":"', b'"data": "'):
        at = raw.find(needle)
        while at >= 0:
            start = at + len(needle)
            end = raw.find(b'"', start)
            if end < 0:
                break
            if end - start > 256:  # base64 payloads; short "data" strings are ordinary text
                total += end - start
            at = raw.find(needle, end)
    return total, media


def quick_tokens(raw: bytes) -> int:
    """A token estimate from the body's size alone: JSON bytes / 4, base64 payloads counted as images."""
    b64, media = _base64_spans(raw)
    return int((len(raw) - b64) / _BYTES_PER_TOKEN) + media * IMAGE_TOKENS


def estimate_tokens(body: Mapping[str, Any], raw: bytes | None, threshold: int) -> int:
    """The request's input-token estimate: the quick one, unless it is too close to the threshold to trust."""
    if raw is not None:
        quick = quick_tokens(raw)
        if abs(quick - threshold) > threshold * _AMBIGUOUS:
            return quick
    from .count import count_tokens

    return count_tokens(body)


# ------------------------------------------------------------------------------------------ prefixes


def find_prefix(body: Mapping[str, Any], config: Config, now: datetime) -> tuple[Rule, str, PrefixEdit] | None:
    """The prefix rule the latest human turn invokes, and where to cut the prefix out, or None."""
    prefixes = {r.prefix: r for r in config.rules if r.prefix}
    if not prefixes:
        return None
    found = latest_human_turn(body.get("messages"))
    if found is None:
        return None
    index, texts = found
    for block, text in texts:
        stripped = text.lstrip()
        if stripped.startswith((COMMAND_MESSAGE, COMMAND_NAME)):
            # Claude Code ran a slash command: <command-message>architect</command-message><command-name>/architect...
            # A local one (/cost: <command-name>/cost</command-name>... then its output) is skipped over.
            m = _COMMAND_NAME.search(stripped)
            if m is None:
                continue
            rule = prefixes.get(m.group(1))
            if rule is not None and _conditions_hold(rule, _rest_of_turn(texts, block), config, now):
                return rule, m.group(1), PrefixEdit(index, block, True, "")
            continue
        prefix, rest = split_prefix(text)
        rule = prefixes.get(prefix) if prefix else None
        if rule is not None and _conditions_hold(rule, rest, config, now):
            return rule, prefix or "", PrefixEdit(index, block, False, rest)
        return None  # only the first thing a person wrote can carry the prefix
    return None


def _rest_of_turn(texts: list[tuple[int, str]], after: int) -> str:
    return "\n".join(t for b, t in texts if b != after)


def _conditions_hold(rule: Rule, body: str, config: Config, now: datetime) -> bool:
    """A prefix rule may carry more conditions (keywords, hours...); the router decides whether they hold."""
    if not (rule.keywords or rule.regex or rule.min_tokens is not None or rule.max_tokens is not None or rule.hours):
        return True
    from ..core.router import decide

    return decide(f"{rule.prefix} {body}", config, now).rule == rule


def strip_prefix(body: Mapping[str, Any], edit: PrefixEdit) -> dict[str, Any]:
    """A copy of the request with the prefix cut out (copies only along the path to the edited block)."""
    out = dict(body)
    messages = list(out["messages"])
    msg = dict(messages[edit.message])
    if edit.block < 0:
        msg["content"] = edit.text
    else:
        content = list(msg["content"])
        if edit.remove_block:
            del content[edit.block]
        else:
            block = dict(content[edit.block])
            block["text"] = edit.text
            content[edit.block] = block
        if not content:
            content = [{"type": "text", "text": "(empty)"}]
        msg["content"] = content
    messages[edit.message] = msg
    out["messages"] = messages
    return out


# ------------------------------------------------------------------------------------------ the decision


def has_client_tools(tools: Any) -> bool:
    """True when the request offers tools the client runs (input_schema): an agent loop, not a one-shot call."""
    return isinstance(tools, list) and any(isinstance(t, dict) and "input_schema" in t for t in tools)


def agent_header(headers: Mapping[str, str]) -> str | None:
    """The subagent header Claude Code sent (x-claude-code-agent-id in 2.1.197), or None."""
    return next((name for name in AGENT_HEADERS if headers.get(name)), None)


def classify(body: Mapping[str, Any], config: Config, now: datetime, *, raw: bytes | None = None,
             headers: Mapping[str, str] | None = None) -> Classification:
    """Decide the route of one Claude Code request; `raw` (its bytes) makes the token estimate cheap."""
    code = config.code
    routes = config.routes
    threshold = code.long_context_threshold
    tokens = estimate_tokens(body, raw, threshold)
    model = model_name(body)
    h = headers or {}
    signals: list[tuple[Kind, str | None, str]] = []  # (kind, route or None, why)

    found = find_prefix(body, config, now)
    if found is not None:
        rule, prefix, edit = found
        why = f"the turn starts with {prefix} (rule {rule.index + 1}, line {rule.line})"
        return Classification(rule.route, "prefix", why, ("prefix",), tokens, rule, prefix, edit)

    sentinel = sentinel_kind(model)
    header = agent_header(h)
    main_on_small = sentinel == "background" and header is None and has_client_tools(body.get("tools"))
    if has_web_search(body.get("tools")):
        signals.append(("web_search", code.web_search, "the web_search tool is offered"))
    if model in routes and sentinel is None:
        signals.append(("model", model, f"the request asks for model '{model}', which is a route"))
    if tokens > threshold:
        signals.append(("long_context", code.long_context,
                        f"~{tokens:,} tokens is over code.long_context_threshold ({threshold:,})"))
    if sentinel == "subagent" or header is not None:
        how = f"model {model}" if sentinel == "subagent" else f"the {header} header"
        signals.append(("subagent", code.subagent, f"a subagent turn ({how})"))
    if sentinel == "background" and not main_on_small:
        signals.append(("background", code.background, f"a background request (model {model})"))
    if has_image(_last_user_content(body.get("messages"))):
        signals.append(("image", code.image, "the latest user message holds an image"))
    think = think_reason(body, latest_human_turn(body.get("messages")))
    if think is not None:
        signals.append(("think", code.think, think))

    kinds = tuple(k for k, _, _ in signals)
    unset: list[str] = []
    for kind, route, why in signals:
        if route is not None:
            where = "" if kind == "model" else f" → code.{kind}"
            return Classification(route, kind, why + where, kinds, tokens)
        unset.append(f"{why}, but code.{kind} is not set")
    main = code.default or config.default_route
    where = "code.default" if code.default else "default_route"
    if main_on_small and code.background:
        # `/model haiku` (or --model haiku): the person chose Claude Code's small model for the main loop.
        main, where = code.background, "code.background, the small model the user picked"
    what = "the main turn" if sentinel in (None, "main") or main_on_small else f"a {sentinel} request"
    why = "; ".join(unset) + f"; so {where}" if unset else f"{what} → {where}"
    return Classification(main, "main", why, kinds or ("main",), tokens)
