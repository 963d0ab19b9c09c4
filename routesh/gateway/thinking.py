"""What "think" means in Claude Code's traffic, and a request's thinking reshaped for the model that will answer.

Measured with Claude Code 2.1.197: the families without adaptive thinking (sonnet-4-5, opus-4-5, opus-4-1,
haiku-4-5) carry `thinking: {type: enabled, budget_tokens: 31999}` (or MAX_THINKING_TOKENS) and max_tokens
32000 on every main turn; sonnet-4-6 and the opus-4-6/4-7 family carry `{type: adaptive}` with
`output_config.effort` (xhigh on opus-4-7, high otherwise) whatever MAX_THINKING_TOKENS or "ultrathink" says.
So a `thinking` field says nothing about the user's wish; think_reason reads the wish from the turn itself.
Claude Code shapes a request for the model it believes it talks to; a route may send it to another one
(`--model claude-opus-4-7` landing on a sonnet-4-5 route), so reshape_thinking makes the shape valid there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .openai_request import thinking_budget

# The budget Claude Code 2.1.197 sends on every main turn of the older families: the default, not a request.
DEFAULT_THINKING_BUDGET = 31999
MIN_THINKING_BUDGET = 1024  # Anthropic's smallest accepted budget_tokens
COMMAND_TAGS = ("<command-message>", "<command-name>")
_ULTRATHINK = re.compile(r"\bultrathink\b", re.I)
_DATED = re.compile(r"-(?:\d{8}|latest)$")
_PLAN_MODE = re.compile(r"<system-reminder>\s*Plan mode (?:is|still) active", re.I)

def think_reason(body: Mapping[str, Any], human: tuple[int, list[tuple[int, str]]] | None) -> str | None:
    """Why this turn asks for deep thinking, or None; `human` is classify.latest_human_turn of its messages.

    Think is: a budget above Claude Code's default (a raised MAX_THINKING_TOKENS), "ultrathink" typed in the
    latest human turn, a turn started in plan mode, or `output_config.effort: max`; never a `thinking` field alone.
    """
    budget = thinking_budget(body)
    if budget is not None and budget > DEFAULT_THINKING_BUDGET:
        return f"thinking budget {budget:,} is above Claude Code's default ({DEFAULT_THINKING_BUDGET:,})"
    messages = body.get("messages")
    if human is not None and isinstance(messages, list):
        index, texts = human
        if any(_asks_ultrathink(t) for _, t in texts if not t.lstrip().startswith(COMMAND_TAGS)):
            return "the latest human turn asks to ultrathink"
        for msg in messages[index:]:
            if isinstance(msg, dict) and msg.get("role") == "user" and _plan_mode(msg.get("content")):
                return "the turn runs in plan mode"
    config = body.get("output_config")
    if isinstance(config, Mapping) and config.get("effort") == "max":
        return "output_config.effort is max"
    return None


_last_lowered: tuple[str, str] = ("", "")


def _lower(text: str) -> str:
    """text.lower(), once for the two checks of one long turn (the same str object)."""
    global _last_lowered
    last = _last_lowered
    if last[0] is text:
        return last[1]
    low = text.lower()
    _last_lowered = (text, low)
    return low


def _asks_ultrathink(text: str) -> bool:
    """"ultrathink" as a word, any case; a long text is first checked with one lower() and a substring search.

    Why: a case-insensitive regex tries every position (33 ms for a 1 MB prompt, on the request path). The
    check looks for "trath": re.I also matches "ı"/"İ" for i and the Kelvin sign for k, never t, r, a or h.
    """
    if len(text) > 4096 and "trath" not in _lower(text):
        return False
    return _ULTRATHINK.search(text) is not None


def _plan_mode(content: Any) -> bool:
    """True when a user message's own text blocks carry Claude Code's plan-mode reminder."""
    if isinstance(content, str):
        return _says_plan_mode(content)
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        and _says_plan_mode(b["text"]) for b in content)


def _says_plan_mode(text: str) -> bool:
    """The plan-mode reminder in text; a long one first checked for "plan mode" (no letter re.I folds oddly)."""
    if len(text) > 4096 and "plan mode" not in _lower(text):
        return False
    return _PLAN_MODE.search(text) is not None


# ------------------------------------------------------------------------------------------ reshaping


def openai_thinking(body: Mapping[str, Any], think: bool) -> dict[str, Any] | None:
    """The request an OpenAI route translates, its thinking said as that route should hear it; None: as it is.

    Claude Code's 31999 budget is its default on every main turn of the older families, not a request: it goes
    (the server's own default effort), as the adaptive families' `adaptive` does, so a default turn costs the
    same whatever family Claude Code runs. A think turn asks for the most: a budget above the default ("high").
    A budget you set (MAX_THINKING_TOKENS) is kept and mapped as it is.
    """
    budget = thinking_budget(body)
    if think:
        if budget is None or budget <= DEFAULT_THINKING_BUDGET:
            return {**body, "thinking": {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET + 1}}
        return None
    if budget == DEFAULT_THINKING_BUDGET:
        return {k: v for k, v in body.items() if k != "thinking"}
    return None


@dataclass(frozen=True)
class Shape:
    """What an Anthropic model accepts for thinking and output length."""

    adaptive: bool  # accepts thinking {type: adaptive}
    budget: bool  # accepts thinking {type: enabled, budget_tokens}
    effort: tuple[str, ...]  # output_config.effort values it accepts; () = none
    max_output: int | None  # the largest max_tokens, when known


_EFFORTS = ("low", "medium", "high", "max")
# By exact id; dated ids (claude-sonnet-4-5-20250929) are their family. A newer model is left as Claude Code shaped it.
SHAPES: tuple[tuple[str, Shape], ...] = (
    ("claude-opus-4-7", Shape(adaptive=True, budget=False, effort=(*_EFFORTS, "xhigh"), max_output=128_000)),
    ("claude-opus-4-6", Shape(adaptive=True, budget=True, effort=_EFFORTS, max_output=128_000)),
    ("claude-sonnet-4-6", Shape(adaptive=True, budget=True, effort=_EFFORTS, max_output=64_000)),
    ("claude-opus-4-5", Shape(adaptive=False, budget=True, effort=("low", "medium", "high"), max_output=64_000)),
    ("claude-sonnet-4-5", Shape(adaptive=False, budget=True, effort=(), max_output=64_000)),
    ("claude-haiku-4-5", Shape(adaptive=False, budget=True, effort=(), max_output=64_000)),
    ("claude-opus-4-1", Shape(adaptive=False, budget=True, effort=(), max_output=32_000)),
    ("claude-opus-4", Shape(adaptive=False, budget=True, effort=(), max_output=32_000)),
    ("claude-sonnet-4", Shape(adaptive=False, budget=True, effort=(), max_output=64_000)),
    ("claude-3-7-sonnet", Shape(adaptive=False, budget=True, effort=(), max_output=64_000)),
)


def shape_of(model: str) -> Shape | None:
    """The shape of a known Anthropic model, or None (unknown models are left as Claude Code shaped them)."""
    base = _DATED.sub("", model.split("[", 1)[0])
    return next((shape for name, shape in SHAPES if name == base), None)


def reshape_thinking(body: Mapping[str, Any], model: str, cap: int | None = None) -> dict[str, Any]:
    """The top-level changes (thinking, max_tokens, output_config) that make the request valid for `model`.

    adaptive → enabled with Claude Code's default budget for a model without adaptive thinking, enabled →
    adaptive for one without budgets (opus-4-7), max_tokens capped at the model's (or the route's) limit with
    the budget kept below it, and effort levels the model does not take lowered or dropped. {} when it fits.
    """
    changes: dict[str, Any] = {}
    shape = shape_of(model)
    max_tokens = body.get("max_tokens")
    limit = min(x for x in (cap, shape.max_output if shape else None) if x) if (cap or shape and shape.max_output) \
        else None
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and limit and max_tokens > limit:
        max_tokens = changes["max_tokens"] = limit
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    if shape is not None and kind == "adaptive" and not shape.adaptive:
        thinking = {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET}
        changes["thinking"] = thinking
    elif shape is not None and kind == "enabled" and not shape.budget:
        changes["thinking"] = {"type": "adaptive"}
        thinking = changes["thinking"]
    budget = thinking_budget({"thinking": thinking})
    if budget is not None and isinstance(max_tokens, int) and budget >= max_tokens:
        if max_tokens <= MIN_THINKING_BUDGET:  # no room for the smallest budget and an answer
            changes["thinking"] = {"type": "disabled"}
        else:
            changes["thinking"] = {"type": "enabled", "budget_tokens": max_tokens - 1}
    config = body.get("output_config")
    if shape is not None and isinstance(config, Mapping) and "effort" in config \
            and config["effort"] not in shape.effort:
        new = dict(config)
        if shape.effort:
            new["effort"] = "high" if "high" in shape.effort else shape.effort[-1]
        else:
            del new["effort"]
        changes["output_config"] = new
    return changes
