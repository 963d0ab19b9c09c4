"""A prompt's full plan: route, provider, model, key status, estimated cost and the policy verdict.

This is what --dry-run shows and what a real run executes; it never opens a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .attach import Attachment, blocks
from .config import Config, Profile, Provider
from .context import Context
from .estimate import Estimate, estimate, installed_claude_version
from .policy import BudgetVerdict, Verdict, apply_budget, check, check_budget, day_start, month_start
from .router import Decision, decide

if TYPE_CHECKING:
    from .events import Message
    from .keyshare import SharedKey

SpentFn = Callable[[str, datetime, datetime], tuple[float, float]]  # (profile, day start, month start) → spent


class KeyStatus(Protocol):
    """What the key lookup tells a plan: where a key would come from, never the key."""

    source: str
    present: bool


KeyLookupFn = Callable[[str, Provider], KeyStatus]
SharedFn = Callable[[str, str], "tuple[SharedKey, ...]"]  # (profile, provider) → keys another profile also uses


@dataclass(frozen=True)
class Plan:
    """Everything about where a prompt goes, before anything is sent."""

    decision: Decision
    profile: str
    profile_why: str
    provider: Provider
    model: str
    via: str
    key_source: str
    key_present: bool
    key_needed: bool
    key_problem: str | None
    estimated_cost_usd: float | None  # = estimate.input_usd (the --dry-run --json contract field)
    estimate: Estimate  # everything that will be sent (system, history, prompt, Claude Code's own), priced
    verdict: Verdict
    send_text: str  # the text that would be sent: the prompt without prefix, secrets redacted if the profile says so
    secrets: str | None = None  # one line naming the kinds and lines of secrets found, never the secrets
    budget: BudgetVerdict | None = None
    attachments: tuple[Attachment, ...] = ()  # piped stdin and -f files sent after the prompt
    notes: tuple[str, ...] = ()  # said before sending: "model overridden by -m", "/deploy … sent as text"
    shared_keys: tuple[SharedKey, ...] = ()  # another profile resolves to the same credential
    downgraded_from: str | None = None  # the route the rules chose, when a spent budget downgraded it

    @property
    def route(self) -> str:
        """The route that is sent to: the decided one, or the budget's downgrade route."""
        return self.budget.downgrade if self.downgraded_from and self.budget and self.budget.downgrade \
            else self.decision.route

    def to_json(self, conversation: dict[str, Any] | None = None) -> dict[str, Any]:
        """The --dry-run --json object (field names are a contract); `conversation`: the one -c/--cid continues."""
        d = self.decision
        rule = None
        if d.rule is not None:
            conditions = {k: v for k, v in d.rule.conditions() if v is not None and v != []}
            rule = {"index": d.rule.index + 1, "line": d.rule.line, "matched": d.matched, "conditions": conditions}
        return {
            "route": self.route,
            "downgraded_from": self.downgraded_from,
            "profile": self.profile,
            "profile_reason": self.profile_why,
            "provider": self.provider.name,
            "model": self.model,
            "via": self.via,
            "rule": rule,
            "reason": d.reason,
            "estimated_input_tokens": self.estimate.input_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "cost_note": _cost_note(self.estimate),
            "estimate": self.estimate.to_json(),
            "fallbacks": list(d.fallbacks),
            "fallbacks_skipped": [{"route": r, "why": why} for r, why in self.verdict.skipped],
            "key": {"source": self.key_source, "present": self.key_present, "needed": self.key_needed,
                    "problem": self.key_problem, "shared_with": [s.public() for s in self.shared_keys]},
            "policy": {"allowed": self.verdict.allowed, "why": self.verdict.why},
            "secrets": self.secrets,
            "budget": None if self.budget is None else {"over": self.budget.over, "status": self.budget.message,
                                                        "downgrade": self.budget.downgrade},
            "prompt_chars": len(d.text),
            "attachments": [a.to_json() for a in self.attachments],
            "notes": list(self.notes),
            "conversation": conversation,
        }


def _cost_note(e: Estimate) -> str:
    """What estimated_cost_usd covers, in words."""
    if not e.complete:
        return "unknown: " + (e.note or "not everything that will be sent can be counted")
    if e.max_usd is not None:
        return (f"input only (system, history and prompt); with an answer of up to {e.max_output_tokens} tokens "
                "it is at most estimate.max_cost_usd per attempt")
    return "input only (with Claude Code's own system prompt and tools); its answer and tool calls are not bounded"


def make_plan(ctx: Context, text: str, now: datetime, lookup: KeyLookupFn, *, route: str | None = None,
              spent: SpentFn | None = None, shared: SharedFn | None = None,
              attachments: tuple[Attachment, ...] = (), history: tuple[Message, ...] = (),
              history_tokens: int | None = None,
              claude_version: Callable[[str | None], str | None] = installed_claude_version) -> Plan:
    """Route the text, apply the profile's policy (providers, secrets, budget), look up (never reveal) the key."""
    config = ctx.config
    if history and history_tokens is None:
        from .estimate import message_tokens

        history_tokens = message_tokens(history)
    decision = decide(text, config, now, route=route, attached=blocks(attachments), context_tokens=history_tokens or 0)
    verdict = check(decision, config, ctx.profile)
    budget = None
    if spent is not None and ctx.profile.budget is not None:
        budget = check_budget(ctx.profile, *spent(ctx.profile.name, day_start(now), month_start(now)), now)
    target = _downgrade(decision.route, verdict, budget, config, ctx.profile) or decision.route
    r = config.routes[target]  # what is sent: the downgrade route when a spent budget says so
    provider = config.provider_for(r, ctx.profile)
    model = ctx.catalog.resolve(r.model)
    needed = provider.needs_key and provider.auth != "subscription"
    problem = None
    if not needed:
        source, present = "none", False
    else:
        status = lookup(ctx.profile.name, provider)
        source, present, problem = status.source, status.present, getattr(status, "problem", None)
    from ..screening.screen import apply as screen

    profile = ctx.profile
    screened = screen(decision.text, profile.on_secret)
    version = claude_version(config.claude_path) if r.via == "claude-code" else None
    est = estimate(ctx.catalog.get(model), prompt=screened.text, history=history, history_tokens=history_tokens,
                   system=r.system, via=r.via, max_output_tokens=r.max_output_tokens, claude_version=version)
    secrets = screened.summary if screened.findings else None
    if verdict.allowed and screened.blocked:
        verdict = replace(verdict, allowed=False, routes=(),
                          why=f"the prompt contains {secrets}; profile '{profile.name}' blocks secrets "
                              "(on_secret: block): remove them, or use a profile with on_secret: redact")
    shared_keys = shared(profile.name, provider.name) if shared is not None and needed and present else ()
    if verdict.allowed and shared_keys:
        from .keyshare import refusal

        if (why := refusal(config, profile.name, shared_keys)) is not None:
            verdict = replace(verdict, allowed=False, routes=(), why=why)
    verdict = apply_budget(verdict, budget, config, profile)
    return Plan(decision, profile.name, ctx.choice.why, provider, model, r.via, source, present, needed, problem,
                est.input_usd, est, verdict, screened.text, secrets, budget, attachments, shared_keys=shared_keys,
                downgraded_from=decision.route if target != decision.route else None)


def _downgrade(route: str, verdict: Verdict, budget: BudgetVerdict | None, config: Config,
               profile: Profile) -> str | None:
    """The route a spent budget sends the request to instead (on_exceed: downgrade, and allowed), or None."""
    if not verdict.allowed or budget is None or not budget.over or budget.downgrade in (None, route):
        return None
    from .policy import route_refusal

    return budget.downgrade if route_refusal(config, profile, budget.downgrade) is None else None
