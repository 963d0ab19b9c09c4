"""A prompt's full plan: route, provider, model, key status, estimated cost and the policy verdict.

This is what --dry-run shows and what a real run executes; it never opens a connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Protocol

from .config import Provider
from .context import Context
from .cost import estimate_input_cost
from .policy import Verdict, check
from .router import Decision, decide


class KeyStatus(Protocol):
    """What the key lookup tells a plan: where a key would come from, never the key."""

    source: str
    present: bool


KeyLookupFn = Callable[[str, Provider], KeyStatus]


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
    estimated_cost_usd: float | None
    verdict: Verdict

    @property
    def route(self) -> str:
        """The decided route's name."""
        return self.decision.route

    def to_json(self) -> dict[str, Any]:
        """The --dry-run --json object (field names are a contract)."""
        d = self.decision
        rule = None
        if d.rule is not None:
            conditions = {k: v for k, v in (("prefix", d.rule.prefix), ("keywords", list(d.rule.keywords) or None),
                                            ("regex", d.rule.regex), ("min_tokens", d.rule.min_tokens),
                                            ("max_tokens", d.rule.max_tokens), ("hours", d.rule.hours)) if v is not None}
            rule = {"index": d.rule.index + 1, "line": d.rule.line, "matched": d.matched, "conditions": conditions}
        return {
            "route": d.route,
            "profile": self.profile,
            "profile_reason": self.profile_why,
            "provider": self.provider.name,
            "model": self.model,
            "via": self.via,
            "rule": rule,
            "reason": d.reason,
            "estimated_input_tokens": d.estimated_input_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "cost_note": "input only; output tokens are unknown until the answer",
            "fallbacks": list(d.fallbacks),
            "fallbacks_skipped": [{"route": r, "why": why} for r, why in self.verdict.skipped],
            "key": {"source": self.key_source, "present": self.key_present, "needed": self.key_needed,
                    "problem": self.key_problem},
            "policy": {"allowed": self.verdict.allowed, "why": self.verdict.why},
            "prompt_chars": len(d.text),
        }


def make_plan(ctx: Context, text: str, now: datetime, lookup: KeyLookupFn, *, route: str | None = None) -> Plan:
    """Route the text, apply the profile's policy and look up (but never reveal) the key."""
    config = ctx.config
    decision = decide(text, config, now, route=route)
    r = config.routes[decision.route]
    provider = config.provider_for(r, ctx.profile)
    model = ctx.catalog.resolve(r.model)
    verdict = check(decision, config, ctx.profile)
    needed = provider.needs_key and provider.auth != "subscription"
    problem = None
    if not needed:
        source, present = "none", False
    else:
        status = lookup(ctx.profile.name, provider)
        source, present, problem = status.source, status.present, getattr(status, "problem", None)
    cost = estimate_input_cost(ctx.catalog.get(model), decision.estimated_input_tokens)
    return Plan(decision, ctx.profile.name, ctx.choice.why, provider, model, r.via, source, present, needed, problem,
                cost, verdict)
