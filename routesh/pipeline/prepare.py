"""The common start of every CLI and shell prompt: check it, route it, look up key status and spend, plan it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..core.attach import Attachment
from ..core.config import Config
from ..core.context import Context
from ..core.errors import PolicyRefusal, UserError
from ..core.plan import Plan, SpentFn, make_plan
from ..core.prompt import check_size, check_text
from ..core.yamlnodes import did_you_mean

if TYPE_CHECKING:
    from ..core.events import Message


def lookup(profile: str, provider):  # type: ignore[no-untyped-def]
    """Key status for plans: never raises for an unusable keyring (the plan says 'none' and why)."""
    from ..keys.secrets import lookup_key

    return lookup_key(profile, provider, strict=False, fetch=False)


class PlanKeys:
    """Key status for one plan, from one keyring connection: the route's provider key in every profile.

    Never raises for an unusable keyring (the plan says 'none' and why). Only the plan's provider is
    compared across profiles (one search per profile). Keyring values are read (to compare their
    hashes) only when keyring entries could match: env values cost nothing, a keyring read costs a
    crypto session (~40 ms), so plain env setups stay fast.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._rows: dict[str, tuple] = {}  # type: ignore[type-arg]

    def _all(self, provider: str, fetch: bool = False) -> tuple:  # type: ignore[type-arg]
        from ..keys.secrets import list_keys

        if provider not in self._rows or fetch:
            self._rows[provider] = list_keys(self.ctx.config, fetch=fetch, providers=[provider])
        return self._rows[provider]

    def lookup(self, profile: str, provider):  # type: ignore[no-untyped-def]
        """The (profile, provider) row: where its key would come from, never the value."""
        for row in self._all(provider.name):
            if row.profile == profile:
                return row
        return lookup(profile, provider)

    def shared(self, profile: str, provider: str):  # type: ignore[no-untyped-def]
        """The keys of other profiles that equal this one (same variable, or same value by hash)."""
        from ..core.keyshare import shared_keys

        if len(self.ctx.config.profiles) < 2:
            return ()
        rows = self._all(provider)
        mine = [r for r in rows if r.profile == profile and r.present]
        others = [r for r in rows if r.profile != profile and r.present]
        if mine and others and any(r.source == "keyring" for r in (*mine, *others)):
            rows = self._all(provider, fetch=True)
        return shared_keys(self.ctx.config, profile, rows, [provider])


def budget_spent(profile: str, day: datetime, month: datetime) -> tuple[float, float]:
    """What a profile spent since local midnight and since the 1st, from the ledger (asked only for budgets)."""
    from pathlib import Path

    from ..core.paths import ledger_target
    from ..usage.ledger import Ledger, LedgerError, creation_problem

    target = ledger_target()
    if isinstance(target, Path) and not target.exists():  # nothing spent yet, but what is let through must be countable
        problem = creation_problem(target)
        if problem is None:
            return 0.0, 0.0
        raise PolicyRefusal(f"refused, nothing was sent: profile '{profile}' has a budget but {problem}")
    try:
        with Ledger(target) as ledger:
            return ledger.spent(profile, day.timestamp()), ledger.spent(profile, month.timestamp())
    except LedgerError as exc:  # a budget that cannot be checked is not waved through
        raise PolicyRefusal(f"refused, nothing was sent: profile '{profile}' has a budget but {exc}") from None


def check_route(ctx: Context, route: str | None) -> None:
    """An unknown --route is a usage error with a did-you-mean."""
    if route is not None and route not in ctx.config.routes:
        raise UserError(f"unknown route '{route}'{did_you_mean(route, ctx.config.routes)}; "
                        f"routes: {', '.join(ctx.config.routes)}")


def plan_for(ctx: Context, text: str, route: str | None, *, attachments: tuple[Attachment, ...] = (),
             history: tuple[Message, ...] = (), history_tokens: int | None = None,
             spent: SpentFn = budget_spent) -> Plan:
    """Check the prompt, route it and check its size: the common start of a dry-run and a real run."""
    note = check_text(text, ctx.config)
    check_route(ctx, route)
    keys = PlanKeys(ctx)
    plan = make_plan(ctx, text, datetime.now(), keys.lookup, route=route, spent=spent, shared=keys.shared,
                     attachments=attachments, history=history, history_tokens=history_tokens)
    check_size(plan.decision, plan.model, ctx.catalog)
    notes = tuple(n for n in (note, claude_missing(ctx.config) if plan.via == "claude-code" else None) if n)
    return replace(plan, notes=notes) if notes else plan


def claude_missing(config: Config) -> str | None:
    """The one line naming the fix when a via: claude-code route has no `claude` to run; None when it has."""
    import os
    import shutil

    if config.claude_path:
        path = os.path.expanduser(config.claude_path)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return None
        where = f"claude.path ({config.claude_path}) is not an executable file"
    elif shutil.which("claude"):
        return None
    else:
        where = "Claude Code (`claude`) is not on PATH"
    return f"{where}; install it with `npm install -g @anthropic-ai/claude-code`, or set claude.path in routes.yaml"
