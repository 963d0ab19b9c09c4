"""Values that cross the core/edge boundary: what an engine is asked, what it says back, what the ledger keeps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .config import EMPTY, Auth

Role = Literal["user", "assistant"]
Status = Literal["ok", "error", "partial", "refused", "cancelled"]


@dataclass(frozen=True)
class Message:
    """One turn of a conversation, as plain text."""

    role: Role
    content: str


@dataclass(frozen=True)
class EngineRequest:
    """Everything one engine call needs; engines know nothing about routes or rules."""

    model: str
    messages: tuple[Message, ...]
    system: str | None = None
    max_output_tokens: int = 4096
    timeout_s: float = 600.0
    base_url: str | None = None
    api_key: str | None = None  # never logged; repr hides it
    auth: Auth = "api-key"
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # extra environment (claude-code engine)
    resume_session: str | None = None  # claude-code session to continue
    claude_path: str | None = None
    extra_models: Mapping[str, str] = field(default_factory=lambda: EMPTY)  # claude-code: subagent/background ids
    env_drop: tuple[str, ...] = ()  # claude-code: inherited variables to remove (other credentials)

    def __repr__(self) -> str:  # keep keys out of tracebacks and debug output
        key = "set" if self.api_key else "none"
        return (f"EngineRequest(model={self.model!r}, messages={len(self.messages)}, base_url={self.base_url!r}, "
                f"api_key={key})")


@dataclass(frozen=True)
class TextDelta:
    """A piece of answer text, in order."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Token counts as the provider reported them (Anthropic convention: input excludes cache tokens)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None  # when the engine reports its own (Claude Code's result line)
    final: bool = True  # False: the counts so far (message_start), sent before the answer so a cancel still has them


@dataclass(frozen=True)
class Done:
    """The answer is complete."""

    stop_reason: str | None = None
    session_id: str | None = None


Event = TextDelta | Usage | Done


class EngineError(Exception):
    """A failed engine call, classified so dispatch can decide to retry, fall back or stop."""

    def __init__(
        self,
        message: str,
        *,
        kind: Literal["http", "connection", "timeout", "malformed", "missing-binary", "cancelled",
                      "policy"] = "http",
        status: int | None = None,
        retry_after: float | None = None,
        context_too_long: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.context_too_long = context_too_long


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at one request: a ledger row. Prompt text only where the profile allows it."""

    ts: float
    request_id: str
    attempt: int
    profile: str
    route: str
    provider: str
    model: str
    via: str
    status: Status
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    error: str | None = None
    rule: str | None = None
    prompt_sha256: str | None = None
    prompt_chars: int | None = None
    prompt: str | None = None
    tag: str | None = None
    session_id: str | None = None  # the conversation (shell, one-shot chain) or Claude Code session
    answer: str | None = None  # the answer text, where the profile keeps prompts (log_prompts)
    baseline_cost_usd: float | None = None  # the same tokens priced on the baseline model (baseline.py)
    tool_calls: int | None = None  # outcome signals (outcome_signals.py): set on a request's first row only
    failed_tool_calls: int | None = None
    edits: int | None = None
    rejected_edits: int | None = None
    tools: str | None = None
    turn: int | None = None
    prompt_sketch: int | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
