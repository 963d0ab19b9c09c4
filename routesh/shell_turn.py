"""One prompt sent from the shell: run it on a worker thread, stream the answer, let Ctrl-C cancel it.

The request runs off the main thread so that Ctrl-C (SIGINT, always delivered to the main thread)
only sets the cancel flag: the engine stops (closing the HTTP stream or killing Claude Code's
process group), the partial answer stays on screen, marked, and the session goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from .events import Message
from .live_answer import LiveAnswer, run_cancellable
from .render import tokens, usd

if TYPE_CHECKING:
    from .dispatch import Outcome
    from .plan import Plan
    from .runner import Runner
    from .shell_out import Out


@dataclass(frozen=True)
class Conversation:
    """What the next prompt continues: the API message history and Claude Code's session id."""

    history: tuple[Message, ...] = ()
    claude_session: str | None = None
    claude_upto: int = 0  # len(history) when Claude Code's session last answered: later turns it has not seen
    session: str = field(default_factory=lambda: "sh-" + os.urandom(8).hex(), compare=False)  # the ledger's session_id

    @cached_property
    def history_tokens(self) -> int:
        """The history's estimated tokens, counted once per turn (the toolbar asks on every keystroke)."""
        from .estimate import message_tokens

        return message_tokens(self.history)

    @property
    def turns(self) -> int:
        """Exchanges so far."""
        return len(self.history) // 2

    @property
    def resumable(self) -> str | None:
        """Claude Code's session, when it has seen every turn so far; otherwise None (a fresh session
        is started with the whole conversation handed to it, so no turn answered elsewhere is lost)."""
        return self.claude_session if self.claude_upto == len(self.history) else None

    def after(self, sent: str, outcome: Outcome) -> Conversation:
        """The conversation once this answer arrived: both messages kept, Claude Code's session too."""
        history = (*self.history, Message("user", sent), Message("assistant", outcome.text))
        if outcome.session_id:
            return replace(self, history=history, claude_session=outcome.session_id, claude_upto=len(history))
        return replace(self, history=history)


@dataclass(frozen=True)
class Finished:
    """The last request, for the toolbar, /cost and /miss."""

    request_id: str
    status: str
    route: str | None
    model: str | None
    cost_usd: float | None
    seconds: float
    input_tokens: int | None = None
    output_tokens: int | None = None
    answer: str = ""  # the text shown, for /copy

    def label(self) -> str:
        """'claude-opus-4-7 · 2.3s' for the toolbar."""
        return f"{self.model or '?'} · {self.seconds:.1f}s" + ("" if self.status == "ok" else f" · {self.status}")


def run_turn(out: Out, runner: Runner, plan: Plan, convo: Conversation, tag: str | None) -> tuple[
        Outcome | None, float]:
    """Execute the plan, streaming the answer; returns (outcome or None if abandoned, seconds).

    UserErrors from the runner (missing key, policy refusal) are re-raised on the main thread.
    """
    live = LiveAnswer(out.console)
    runner.on_text = live.feed
    runner.on_notice = lambda msg: None if live.detached.is_set() else out.note(f"routesh: {msg}")
    outcome, seconds = run_cancellable(
        lambda cancel: runner.execute(plan, history=convo.history, tag=tag, resume_session=convo.resumable,
                                      cancel=cancel, session=convo.session), live)
    live.end(outcome)
    return outcome, seconds


def summary_line(outcome: Outcome, seconds: float) -> str:
    """route · model · tokens in/out · cost · time, the dim line under every answer (all attempts summed)."""
    parts = [outcome.route or "?", outcome.model or "?"]
    used = [r for r in outcome.records if r.input_tokens is not None or r.output_tokens is not None]
    u = outcome.usage
    if used:
        into = sum((r.input_tokens or 0) + (r.cache_read_tokens or 0) + (r.cache_write_tokens or 0) for r in used)
        parts.append(f"{tokens(into)} in / {tokens(sum(r.output_tokens or 0 for r in used))} out")
        unpriced = any(r.cost_usd is None for r in used)
        known = sum(r.cost_usd or 0.0 for r in used)
        parts.append(usd(None) if unpriced and not known else usd(known) + ("+?" if unpriced else ""))
        if any(r.extra.get("usage") == "estimated" for r in used):
            parts[-1] += " (partly estimated)"
    elif u is not None:
        parts.append(f"{tokens(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens)} in / "
                     f"{tokens(u.output_tokens)} out")
        parts.append(usd(outcome.cost_usd))
    elif outcome.records:
        parts.append("$0")  # no attempt got as far as the provider processing it
    parts.append(f"{seconds:.1f}s")
    if outcome.status != "ok":
        parts.append(outcome.status)
    return " · ".join(parts)


def failure_lines(outcome: Outcome) -> str | None:
    """What to tell the user when the request did not produce a whole answer, with the fix."""
    if outcome.status == "ok":
        return None
    if outcome.status == "cancelled":
        return None  # the marked partial answer says it
    if outcome.policy is not None:
        last = f"\nthe last attempt failed: {outcome.error}" if outcome.error and outcome.error not in outcome.policy \
            else ""
        return f"refused, nothing more was sent: {outcome.policy}{last}"
    if outcome.status == "partial":
        return f"the answer above is partial: {outcome.error}; send it again, or /new to start afresh"
    if outcome.status == "refused":
        return (f"{outcome.model} declined to answer (stop_reason: refusal); set on_refusal on route "
                f"{outcome.route} in routes.yaml to escalate such prompts")
    tried = ", ".join(dict.fromkeys(f"{r.route} ({r.provider}/{r.model})" for r in outcome.records)) or "nothing"
    return (f"failed: {outcome.error}\ntried {tried}; nothing more to fall back to. "
            "Check the provider's base_url and key (/why shows both), then send again")


def finished(outcome: Outcome, seconds: float) -> Finished:
    """The toolbar's and /miss's view of a request."""
    u = outcome.usage
    return Finished(outcome.request_id, outcome.status, outcome.route, outcome.model, outcome.cost_usd, seconds,
                    u.input_tokens + u.cache_read_tokens + u.cache_write_tokens if u else None,
                    u.output_tokens if u else None, outcome.text)
