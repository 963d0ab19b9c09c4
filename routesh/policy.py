"""Profile choice and the rules a profile enforces, decided before any byte is sent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

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
