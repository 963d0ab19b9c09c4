"""What a request will cost before it is sent: everything that goes out (system, history, prompt, Claude Code's
own overhead), priced, and said to be a bound only when it is one.

Pure except `installed_claude_version`, which reads one small file next to the `claude` binary (never runs it:
`claude --version` takes over a second).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .catalog import CLAUDE_CODE_OVERHEAD
from .config import ModelInfo
from .cost import PER
from .tokens import estimate_tokens

if TYPE_CHECKING:  # annotations only: the events module's dataclasses cost the dry-run's start
    from .events import Message

DEFAULT_MAX_OUTPUT = 8192  # max_tokens of an API call when the route sets no max_output_tokens
PER_MESSAGE = 3  # tokens each message adds around its text (role and separators)
INPUT_MARGIN = 1.15  # the token estimate is within ±15% (docs/tokens.md): a bound takes the high side


def message_tokens(messages: Sequence[Message]) -> int:
    """The estimated tokens of a conversation's messages, framing included."""
    return sum(estimate_tokens(m.content) + PER_MESSAGE for m in messages)


@dataclass(frozen=True)
class Estimate:
    """The input a request will send and what it may cost; None wherever the figure cannot be known."""

    prompt_tokens: int  # the prompt as sent (prefix removed, attachments included), with its message framing
    history_tokens: int = 0  # earlier turns of the conversation
    system_tokens: int = 0  # the route's system prompt
    overhead_tokens: int | None = 0  # Claude Code's own system prompt and tools; None when unknown
    input_usd: float | None = None  # all of the above at the input price (no cache discount: an upper side)
    max_output_tokens: int | None = None  # the cap on the answer; None when there is none (Claude Code's tool loop)
    max_usd: float | None = None  # input (+15%) plus a full-length answer: a bound for one attempt, else None
    note: str | None = None  # why a figure is unknown

    @property
    def input_tokens(self) -> int:
        """Every input token counted (a floor when the overhead is unknown)."""
        return self.prompt_tokens + self.history_tokens + self.system_tokens + (self.overhead_tokens or 0)

    @property
    def complete(self) -> bool:
        """Whether everything that will be sent is counted."""
        return self.overhead_tokens is not None

    def to_json(self) -> dict[str, Any]:
        """The `estimate` object of --dry-run --json."""
        return {
            "input_tokens": self.input_tokens,
            "complete": self.complete,
            "parts": {"prompt": self.prompt_tokens, "history": self.history_tokens, "system": self.system_tokens,
                      "claude_code_overhead": self.overhead_tokens},
            "input_cost_usd": self.input_usd,
            "max_output_tokens": self.max_output_tokens,
            "max_cost_usd": self.max_usd,
            "bound": self.max_usd is not None,
            "note": self.note,
        }


def estimate(model: ModelInfo | None, *, prompt: str, history: Sequence[Message] = (), system: str | None = None,
             via: str = "api", max_output_tokens: int | None = None, claude_version: str | None = None,
             history_tokens: int | None = None) -> Estimate:
    """Count what will be sent and price it; `history_tokens` skips recounting a history already counted."""
    prompt_n = estimate_tokens(prompt) + PER_MESSAGE
    hist_n = message_tokens(history) if history_tokens is None else history_tokens
    system_n = estimate_tokens(system) if system else 0
    note = None
    overhead: int | None = 0
    cap: int | None = max_output_tokens or DEFAULT_MAX_OUTPUT
    if via == "claude-code":
        cap = None  # Claude Code may call tools and the model again, as often as the task takes
        overhead, note = claude_code_overhead(claude_version)
    base = Estimate(prompt_n, hist_n, system_n, overhead, max_output_tokens=cap, note=note)
    if model is None or model.input is None:
        why = "no price known for this model: add it under `models:`"
        return Estimate(prompt_n, hist_n, system_n, overhead, max_output_tokens=cap, note=note or why)
    if not base.complete:
        return base
    input_usd = base.input_tokens * model.input / PER
    max_usd = None
    if cap is not None and model.output is not None:
        max_usd = input_usd * INPUT_MARGIN + cap * model.output / PER
    return Estimate(prompt_n, hist_n, system_n, overhead, input_usd, cap, max_usd, note)


def claude_code_overhead(version: str | None) -> tuple[int | None, str | None]:
    """(tokens Claude Code adds to a request, None) or (None, why it is unknown)."""
    known = ", ".join(sorted(CLAUDE_CODE_OVERHEAD))
    if version is None:
        return None, (f"Claude Code's version is unknown, so its own input (~{max(CLAUDE_CODE_OVERHEAD.values()):,} "
                      f"tokens in {known}) cannot be counted")
    tokens = CLAUDE_CODE_OVERHEAD.get(version)
    if tokens is None:
        return None, (f"Claude Code {version}'s own input is not measured yet (routesh knows {known}), "
                      "so the cost is unknown")
    return tokens, None


@lru_cache(maxsize=8)
def installed_claude_version(claude_path: str | None = None) -> str | None:
    """The version in the package.json of the `claude` that would run, or None when it cannot be read."""
    import json
    import shutil  # here, not at the top: shutil pulls in bz2 and lzma, which the dry-run never needs

    exe = os.path.expanduser(claude_path) if claude_path else shutil.which("claude")
    if not exe:
        return None
    if not os.path.isabs(exe):
        exe = shutil.which(exe) or exe
    try:
        here = Path(os.path.realpath(exe)).parent
    except OSError:
        return None
    for directory in (here, *list(here.parents)[:3]):
        try:
            meta = json.loads((directory / "package.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and meta.get("name") == "@anthropic-ai/claude-code":
            version = meta.get("version")
            return version if isinstance(version, str) else None
    return None


# ---- how figures read: "~" for an estimate, "≤" only for a true bound ------------------------------------------

def usd(x: float | None) -> str:
    """Money with enough digits to see small prompts; '$?' when unknown."""
    if x is None:
        return "$?"
    if x == 0:
        return "$0"
    if x < 0.0001:
        return "<$0.0001"
    if x < 0.01:
        return f"${x:.4f}"
    return f"${x:.2f}"


def short_tokens(n: int) -> str:
    """1234 → '1.2k', the way people read token counts."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.2f}M"


def brief(e: Estimate) -> str:
    """The decision line's and toolbar's cost: '~33.8k tok · ~$0.10 in · ≤ $0.23' or says what is unknown."""
    if not e.complete:
        return f"~{short_tokens(e.input_tokens)} tok + Claude Code's own (unknown) · cost unknown"
    size = f"~{short_tokens(e.input_tokens)} tok"
    if e.overhead_tokens:
        size += f" (incl. Claude Code ~{short_tokens(e.overhead_tokens)})"
    if e.input_usd is None:
        return f"{size} · $? (no price)"
    cost = usd(e.input_usd)
    cost = cost if cost.startswith("<") else "~" + cost
    if e.max_usd is not None:
        return f"{size} · {cost} in · ≤ {usd(e.max_usd)}"
    return f"{size} · {cost} in only"


def explain(e: Estimate) -> str:
    """The dry run's cost row: every part, and which figure is a bound."""
    parts = [f"prompt ~{e.prompt_tokens:,}"]
    if e.history_tokens:
        parts.append(f"history ~{e.history_tokens:,}")
    if e.system_tokens:
        parts.append(f"system ~{e.system_tokens:,}")
    if e.overhead_tokens:
        parts.append(f"Claude Code ~{e.overhead_tokens:,}")
    head = f"~{e.input_tokens:,} input tokens ({', '.join(parts)})"
    if e.note:
        return f"{head}; {e.note}"
    assert e.input_usd is not None
    text = f"~{usd(e.input_usd)} for {head}"
    if e.max_usd is not None:
        return text + f"; ≤ {usd(e.max_usd)} with an answer of up to {e.max_output_tokens:,} tokens (per attempt)"
    return text + "; input only: Claude Code's answer and tool calls are not bounded in advance"
