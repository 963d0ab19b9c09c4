"""The typed, validated form of routes.yaml: frozen values the rest of routesh reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .baseline import Baseline

ProviderType = str  # "anthropic", "openai", or a type an engine registered (provider_types())
_PROVIDER_TYPES: list[str] = ["anthropic", "openai"]  # the wire formats the core itself reasons about
Via = Literal["api", "claude-code"]
Auth = Literal["api-key", "bearer", "subscription"]
OnSecret = Literal["block", "redact", "warn", "allow"]

EMPTY: Mapping[str, Any] = MappingProxyType({})


def provider_types() -> tuple[str, ...]:
    """The `type:` names routes.yaml accepts: the built-in wire formats, then any an engine registered."""
    return tuple(_PROVIDER_TYPES)


def register_provider_type(name: str) -> None:
    """Let routes.yaml name a new engine's provider type: the core validates config before any engine loads,
    so engines/registry.py registers its types here, and adding an engine stays a change in engines/ only."""
    if name not in _PROVIDER_TYPES:
        _PROVIDER_TYPES.append(name)


@dataclass(frozen=True)
class Provider:
    """Where requests go and which credential they need."""

    name: str
    type: ProviderType
    base_url: str | None = None
    key_env: str | None = None
    needs_key: bool = True  # False for `key: none` (local models)
    auth: Auth = "api-key"  # subscription: Claude Code uses its own login, no key is passed
    line: int = 0
    mid_system: str | None = None  # type openai: "user" for servers that reject system turns after the first


@dataclass(frozen=True)
class Route:
    """A named destination: provider, model, engine and how to treat failures."""

    name: str
    provider: str
    model: str
    via: Via = "api"
    fallback: tuple[str, ...] = ()
    max_output_tokens: int | None = None
    system: str | None = None
    timeout_s: float | None = None
    retries: int | None = None
    env: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    description: str | None = None
    allow_upgrade: bool = False  # may a fallback be more expensive than this route?
    on_refusal: str | None = None  # route to escalate to on stop_reason "refusal"
    line: int = 0


@dataclass(frozen=True)
class Rule:
    """One routing rule; every condition it names must hold for it to match."""

    index: int
    route: str
    prefix: str | None = None
    keywords: tuple[str, ...] = ()
    regex: str | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    hours: str | None = None  # "HH:MM-HH:MM", may wrap midnight
    description: str | None = None
    line: int = 0

    def conditions(self) -> tuple[tuple[str, object], ...]:
        """Each condition with its value, in the documented order; the one list plans, `routes` and docs show."""
        return (("prefix", self.prefix), ("keywords", list(self.keywords)), ("regex", self.regex),
                ("min_tokens", self.min_tokens), ("max_tokens", self.max_tokens), ("hours", self.hours))


def describe_rule(rule: Rule) -> str:
    """A rule's conditions in words: 'prefix /debug', 'keywords fixture, snapshot and 22:00-06:00'."""
    parts = []
    if rule.prefix:
        parts.append(f"starts with {rule.prefix}")
    if rule.keywords:
        parts.append("mentions " + " or ".join(f"“{k}”" for k in rule.keywords))
    if rule.regex:
        parts.append(f"matches /{rule.regex}/")
    if rule.min_tokens is not None:
        parts.append(f"≥ {rule.min_tokens:,} tokens")
    if rule.max_tokens is not None:
        parts.append(f"≤ {rule.max_tokens:,} tokens")
    if rule.hours:
        parts.append(f"between {rule.hours}")
    return " and ".join(parts)


@dataclass(frozen=True)
class ProviderOverride:
    """A profile's own endpoint or credential for a provider (work vs personal account)."""

    base_url: str | None = None
    key_env: str | None = None
    auth: Auth | None = None


@dataclass(frozen=True)
class Budget:
    """Spending limits for a profile, checked against the ledger before sending."""

    daily_usd: float | None = None
    monthly_usd: float | None = None
    on_exceed: Literal["block", "downgrade"] = "block"
    downgrade: str | None = None  # route used when on_exceed is downgrade


@dataclass(frozen=True)
class Profile:
    """An account context: which providers it may use and how it treats prompts."""

    name: str
    allow_providers: tuple[str, ...] | None = None  # None: any provider
    allow_routes: tuple[str, ...] | None = None  # None: any route
    log_prompts: bool = True
    on_secret: OnSecret = "warn"
    paths: tuple[str, ...] = ()
    providers: Mapping[str, ProviderOverride] = field(default_factory=lambda: EMPTY)
    budget: Budget | None = None
    description: str | None = None
    share_keys_with: tuple[str, ...] = ()  # profiles this one may knowingly use the same credentials as
    line: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """Price (USD per million tokens) and context window of one model."""

    id: str
    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    context_window: int | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class CodeRouting:
    """How `routesh serve`/`routesh code` map Claude Code's request classes to routes."""

    default: str | None = None
    background: str | None = None
    think: str | None = None
    long_context: str | None = None
    long_context_threshold: int = 60000
    web_search: str | None = None
    image: str | None = None
    subagent: str | None = None


@dataclass(frozen=True, eq=False)
class Config:
    """The whole effective configuration, plus where it came from (compared and hashed by identity)."""

    default_route: str
    default_profile: str
    providers: Mapping[str, Provider]
    routes: Mapping[str, Route]
    rules: tuple[Rule, ...]
    profiles: Mapping[str, Profile]
    models: Mapping[str, ModelInfo] = field(default_factory=lambda: EMPTY)
    code: CodeRouting = field(default_factory=CodeRouting)
    claude_path: str | None = None
    source: str = "<built-in>"
    attach_max_kb: int = 256  # attachments.max_kb: the largest -f file or piped attachment sent
    baseline: Baseline | None = None  # `baseline:` (baseline.py); None: the default route

    def provider_for(self, route: Route, profile: Profile) -> Provider:
        """The route's provider with the profile's override applied."""
        return self.provider_in(profile, route.provider)

    def provider_in(self, profile: Profile, name: str) -> Provider:
        """A provider as a profile sees it: its own base_url, key_env or auth, when it sets them."""
        base = self.providers[name]
        over = profile.providers.get(name)
        if over is None:
            return base
        from dataclasses import replace

        return replace(
            base,
            base_url=over.base_url or base.base_url,
            key_env=over.key_env or base.key_env,
            auth=over.auth or base.auth,
        )


def summary(c: Config) -> str:
    """One line about a config: its counts and defaults, for `config check`, `config trust` and `config edit`."""
    n = lambda k, word: f"{k} {word}{'' if k == 1 else 's'}"  # noqa: E731
    return ", ".join((n(len(c.providers), "provider"), n(len(c.routes), "route"), n(len(c.rules), "rule"),
                      n(len(c.profiles), "profile"))) + \
        f"; default route {c.default_route}, default profile {c.default_profile}"
