"""Profile choice and the rules a profile enforces, decided before any byte is sent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from .config import Config, Profile
from .errors import UserError
from .router import Decision
from .yamlnodes import did_you_mean


class UnknownProfile(UserError):
    """A profile name that routes.yaml does not define; exit code 2."""


@dataclass(frozen=True)
class ProfileChoice:
    """The active profile and why it is the one."""

    name: str
    why: str


def choose_profile(config: Config, flag: str | None, env: Mapping[str, str], cwd: Path, home: Path) -> ProfileChoice:
    """--profile > $ROUTESH_PROFILE > $CLAUDE_CODE_ROUTE > the first profile whose paths hold cwd > default_profile."""
    for name, why in ((flag, "--profile"), (env.get("ROUTESH_PROFILE"), "$ROUTESH_PROFILE"),
                      (env.get("CLAUDE_CODE_ROUTE"), "$CLAUDE_CODE_ROUTE")):
        if name:
            if name not in config.profiles:
                raise UnknownProfile(f"unknown profile '{name}' (from {why}){did_you_mean(name, config.profiles)}; "
                                     f"profiles: {', '.join(config.profiles)}")
            return ProfileChoice(name, f"set by {why}")
    here = cwd.resolve()
    for profile in config.profiles.values():
        for raw in profile.paths:
            base = _expand(raw, home)
            if here == base or base in here.parents:
                return ProfileChoice(profile.name, f"the current directory is under {raw}")
    return ProfileChoice(config.default_profile, "the default profile")


def _expand(raw: str, home: Path) -> Path:
    if raw == "~" or raw.startswith("~/"):
        return (home / raw[2:]).resolve() if len(raw) > 1 else home.resolve()
    return Path(raw).resolve()


def route_refusal(config: Config, profile: Profile, route: str) -> str | None:
    """Why this profile may not use this route, or None when it may."""
    r = config.routes[route]
    if profile.allow_routes is not None and route not in profile.allow_routes:
        return (f"profile '{profile.name}' allows only the routes {', '.join(profile.allow_routes)}; "
                f"'{route}' is not one of them")
    if profile.allow_providers is not None and r.provider not in profile.allow_providers:
        return (f"profile '{profile.name}' allows only {', '.join(profile.allow_providers)}; "
                f"route '{route}' uses provider '{r.provider}'")
    return None


@dataclass(frozen=True)
class Verdict:
    """May the request go out, and the plan of routes it may use."""

    allowed: bool
    why: str
    routes: tuple[str, ...]  # the decided route then its usable fallbacks, in order
    skipped: tuple[tuple[str, str], ...] = ()  # (fallback, why it was skipped)


def check(decision: Decision, config: Config, profile: Profile) -> Verdict:
    """Refuse a route the profile does not allow; drop disallowed fallbacks, saying so."""
    refusal = route_refusal(config, profile, decision.route)
    skipped = tuple((fb, why) for fb in decision.fallbacks if (why := route_refusal(config, profile, fb)))
    usable = tuple(fb for fb in decision.fallbacks if fb not in dict(skipped))
    if refusal:
        return Verdict(False, refusal, (), skipped)
    return Verdict(True, f"profile '{profile.name}' allows provider '{config.routes[decision.route].provider}'",
                   (decision.route, *usable), skipped)


@dataclass(frozen=True)
class BudgetVerdict:
    """What a profile's budget says about one more request."""

    over: bool
    message: str  # for the dry-run and the refusal: what was spent, the limit, when it resets
    downgrade: str | None = None  # route to use instead, when on_exceed is downgrade


def day_start(now: datetime) -> datetime:
    """Local midnight today: daily budgets reset then."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(now: datetime) -> datetime:
    """The first of this month, local time: monthly budgets reset then."""
    return day_start(now).replace(day=1)


def check_budget(profile: Profile, spent_today: float, spent_month: float, now: datetime) -> BudgetVerdict | None:
    """None when the profile has no budget; otherwise whether it is spent, and what that means."""
    b = profile.budget
    if b is None:
        return None
    over_day = b.daily_usd is not None and spent_today >= b.daily_usd
    over_month = b.monthly_usd is not None and spent_month >= b.monthly_usd
    if over_month:
        nxt = (month_start(now) + timedelta(days=32)).replace(day=1)
        msg = f"${spent_month:.2f} of ${b.monthly_usd:.2f} spent this month; resets {nxt:%Y-%m-%d}"
    elif over_day:
        msg = f"${spent_today:.2f} of ${b.daily_usd:.2f} spent today; resets at midnight ({_until(now):s})"
    else:
        parts = []
        if b.daily_usd is not None:
            parts.append(f"${b.daily_usd - spent_today:.2f} of ${b.daily_usd:.2f} left today")
        if b.monthly_usd is not None:
            parts.append(f"${b.monthly_usd - spent_month:.2f} of ${b.monthly_usd:.2f} left this month")
        return BudgetVerdict(False, "; ".join(parts))
    downgrade = b.downgrade if b.on_exceed == "downgrade" else None
    return BudgetVerdict(True, f"profile '{profile.name}' budget: {msg}", downgrade)


def apply_budget(verdict: Verdict, budget: BudgetVerdict | None, config: Config, profile: Profile) -> Verdict:
    """A spent budget refuses the request, or re-points it at the downgrade route when the profile allows that."""
    if not verdict.allowed or budget is None or not budget.over:
        return verdict
    if budget.downgrade is None:
        return replace(verdict, allowed=False, routes=(), why=budget.message)
    why = route_refusal(config, profile, budget.downgrade)
    if why is not None:
        return replace(verdict, allowed=False, routes=(),
                       why=f"{budget.message}; the downgrade route is not allowed either: {why}")
    return replace(verdict, routes=(budget.downgrade,), why=f"{budget.message}; downgraded to route {budget.downgrade}")


def step_refusal(config: Config, profile: Profile, route: str, budget: BudgetVerdict | None = None) -> str | None:
    """Why the profile may not take this step after planning (fallback, jump, escalation), or None: the one check.

    The route must be one the profile allows (routes and providers); with the budget spent, only the
    downgrade route (when on_exceed is downgrade) may still be tried.
    """
    why = route_refusal(config, profile, route)
    if why is not None or budget is None or not budget.over or route == budget.downgrade:
        return why
    return budget.message


def _until(now: datetime) -> str:
    left = day_start(now) + timedelta(days=1) - now
    hours, rest = divmod(int(left.total_seconds()), 3600)
    return f"in {hours}h {rest // 60:02d}m"
