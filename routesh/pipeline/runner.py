"""Carry out a plan for a front door: screen secrets, check the budget, dispatch to engines, record the ledger.

The one-shot CLI and the shell both run prompts through here, so their behaviour cannot drift apart.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from ..core.config import Provider, Route
from ..core.context import Context
from ..core.errors import PolicyRefusal
from ..core.events import AttemptRecord, Message
from ..core.plan import Plan
from ..core.policy import BudgetVerdict, check_budget, day_start, month_start
from ..engines.dispatch import Dispatcher, Engine, Outcome
from ..keys.resolve import key_for


def engine_for(route: Route, provider: Provider) -> Engine:
    """The engine for a route: Claude Code, or the provider's own API; imported only when used."""
    from ..engines.registry import engine_for as registered

    return registered(provider.type, route.via).stream


@dataclass(frozen=True)
class Guarded:
    """A plan that passed the checks made before sending: the text to send and the routes to try."""

    text: str
    routes: tuple[str, ...]
    notices: tuple[str, ...] = ()


@dataclass
class Runner:
    """Runs plans under one context; the ledger is opened once and kept."""

    ctx: Context
    on_text: Callable[[str], None] = lambda s: None
    on_notice: Callable[[str], None] = lambda s: print(f"routesh: {s}", file=sys.stderr)
    ledger_path: str | None = None
    _ledger: object | None = field(default=None, init=False)
    _ledger_failed: bool = field(default=False, init=False)

    @property
    def ledger(self):  # type: ignore[no-untyped-def]
        """The usage ledger, opened on first use; None if it cannot be opened (requests still run)."""
        if self._ledger is None and not self._ledger_failed:
            from ..core.paths import ledger_target
            from ..usage.ledger import Ledger

            try:
                self._ledger = Ledger(self.ledger_path or ledger_target())
            except Exception as exc:  # noqa: BLE001 - a broken ledger must never cost an answer
                self._ledger_failed = True
                self.on_notice(f"warning: usage ledger unavailable ({type(exc).__name__}); requests are not recorded")
        return self._ledger

    def record(self, rec: AttemptRecord) -> None:
        """Write one attempt; a failure is a warning, never a lost answer."""
        ledger = self.ledger
        if ledger is not None:
            ledger.record(rec)  # type: ignore[attr-defined]

    def _explained(self, plan: Plan) -> Callable[[AttemptRecord], None]:
        """record(), keeping why this profile and which kinds of secret were found (never a value) for `routesh ui`."""
        why = {"profile_why": plan.profile_why, "secrets": plan.secrets or ""}
        return lambda rec: self.record(replace(rec, extra={**rec.extra, **why}))

    def budget_now(self) -> BudgetVerdict | None:
        """The profile's budget as the ledger has it now (None: no budget); one that cannot be checked is spent."""
        profile = self.ctx.profile
        if profile.budget is None:
            return None
        from ..usage.ledger import LedgerError

        now = datetime.now()
        ledger = self.ledger
        try:
            if ledger is None:
                raise LedgerError("the usage ledger cannot be opened")
            ledger.check_writable()  # type: ignore[attr-defined]
            spent = (ledger.spent(profile.name, day_start(now).timestamp()),  # type: ignore[attr-defined]
                     ledger.spent(profile.name, month_start(now).timestamp()))  # type: ignore[attr-defined]
        except LedgerError as exc:
            return BudgetVerdict(True, f"profile '{profile.name}' has a budget but {exc}")
        return check_budget(profile, *spent, now)

    def guard(self, plan: Plan) -> Guarded:
        """Act on the plan's verdict (providers, secrets, budget) before any byte is sent; raises PolicyRefusal."""
        if not plan.verdict.allowed:
            self._refused(plan, plan.verdict.why)
        budget = self.budget_now()
        if budget is not None and budget.over and plan.verdict.routes != (budget.downgrade,):
            self._refused(plan, budget.message)  # spent since planning, or the ledger cannot count this request
        notices = [f"fallback {r} skipped: {why}" for r, why in plan.verdict.skipped]
        if plan.secrets:
            verb = "redacted" if plan.send_text != plan.decision.text else "found, sent anyway (on_secret: warn)"
            notices.append(f"secret {verb}: {plan.secrets}")
        if plan.budget is not None and plan.budget.over:
            notices.append(plan.verdict.why)
        return Guarded(plan.send_text, plan.verdict.routes, tuple(notices))

    def _refused(self, plan: Plan, why: str) -> None:
        """Record the refusal (no prompt text) and stop with exit code 3."""
        import hashlib
        import time
        import uuid

        text = plan.decision.text
        self._explained(plan)(AttemptRecord(
            ts=time.time(), request_id=uuid.uuid4().hex[:16], attempt=0, profile=plan.profile, route=plan.route,
            provider=plan.provider.name, model=plan.model, via=plan.via, status="refused", error=why,
            rule=_rule_label(plan), prompt_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            prompt_chars=len(text)))
        raise PolicyRefusal(f"refused, nothing was sent: {why}")

    def execute(self, plan: Plan, *, history: tuple[Message, ...] = (), tag: str | None = None,
                resume_session: str | None = None, cancel: threading.Event | None = None,
                conversation: str | None = None) -> Outcome:
        """Guard, then dispatch through the plan's routes, recording every attempt."""
        guarded = self.guard(plan)
        tag = self._screen_tag(plan, tag)
        for notice in guarded.notices:
            self.on_notice(notice)
        config = self.ctx.config
        d = Dispatcher(config, self.ctx.profile, self.ctx.catalog, self.engine_for, lambda p, v: key_for(p, v, config),
                       on_text=self.on_text, on_notice=self.on_notice, record=self._explained(plan),
                       claude_path=self.ctx.config.claude_path, budget=self.budget_now, conversation=conversation)
        return d.run(guarded.routes, guarded.text, history=history, rule=_rule_label(plan), tag=tag,
                     resume_session=resume_session, cancel=cancel)

    def engine_for(self, route: Route, provider: Provider) -> Engine:
        """The route's engine; Claude Code runs behind a private gateway that screens each of its requests."""
        inner = engine_for(route, provider)
        if route.via != "claude-code":
            return inner
        if provider.auth == "subscription":  # Claude Code's own login: routesh holds no key, and no gateway can
            if self.ctx.profile.on_secret in ("block", "redact"):
                self.on_notice(f"route {route.name} uses Claude Code's own login (auth: subscription): the prompt "
                               "was screened, what Claude Code reads afterwards is not")
            return inner
        from ..gateway.pinned import engine

        return engine(self.ctx, route, inner)

    def _screen_tag(self, plan: Plan, tag: str | None) -> str | None:
        """A --tag is kept in the ledger: a secret in it is refused under block, else masked there."""
        from ..screening.screen import apply as screen

        if not tag:
            return tag
        found = screen(tag, "redact")
        if not found.findings:
            return tag
        if self.ctx.profile.on_secret == "block":
            self._refused(plan, f"--tag contains {found.summary}; profile '{plan.profile}' blocks secrets "
                                "(on_secret: block): choose a tag without one")
        self.on_notice(f"--tag contains {found.summary}; it is kept masked in the ledger")
        return found.text

    def close(self) -> None:
        """Close the ledger."""
        if self._ledger is not None:
            self._ledger.close()  # type: ignore[attr-defined]


def _rule_label(plan: Plan) -> str | None:
    d = plan.decision
    if d.forced:
        return "--route"
    return f"rule {d.rule.index + 1}: {d.matched}" if d.rule else None
