"""routes.yaml text → a validated Config, with every problem found at once and located by line."""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from yaml.nodes import Node

from .attach import DEFAULT_MAX_KB
from .config import (
    Budget,
    CodeRouting,
    Config,
    ModelInfo,
    Profile,
    Provider,
    ProviderOverride,
    provider_types,
    Route,
    Rule,
)
from .hours import parse_hours
from .yamlnodes import ConfigError, Problem, Reader, compose, did_you_mean, line_of

TOP_KEYS = ("version", "default_route", "default_profile", "providers", "routes", "rules", "profiles", "models",
            "code", "claude", "attachments", "baseline")
PROVIDER_KEYS = ("type", "base_url", "key_env", "key", "auth", "description", "mid_system")
ROUTE_KEYS = ("provider", "model", "via", "fallback", "max_output_tokens", "system", "timeout_s", "retries", "env",
              "description", "allow_upgrade", "on_refusal")
RULE_KEYS = ("prefix", "keywords", "regex", "min_tokens", "max_tokens", "hours", "route", "description")
PROFILE_KEYS = ("allow_providers", "allow_routes", "log_prompts", "on_secret", "paths", "providers", "budget",
                "description", "share_keys_with")
OVERRIDE_KEYS = ("base_url", "key_env", "auth")
BUDGET_KEYS = ("daily_usd", "monthly_usd", "on_exceed", "downgrade")
MODEL_KEYS = ("input", "output", "cache_read", "cache_write", "context_window", "aliases")
CODE_KEYS = ("default", "background", "think", "long_context", "long_context_threshold", "web_search", "image",
             "subagent")
CLAUDE_KEYS = ("path",)
ATTACHMENT_KEYS = ("max_kb",)
AUTHS = ("api-key", "bearer", "subscription")
# upper bounds (docs/config.md): beyond them a value is a typo, and some would break at run time
MAX_RETRIES = 10  # extra attempts per route; each waits longer than the last, so 10 is already minutes
MAX_TIMEOUT_S = 86_400.0  # one day
MAX_TOKENS = 100_000_000  # token counts and context windows
MAX_USD = 1_000_000.0  # budgets
MAX_PRICE = 10_000.0  # USD per million tokens
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIX = re.compile(r"^/[A-Za-z0-9][\w-]*$")


def builtin_text() -> str:
    """The built-in default routes.yaml (read in sources.py, which needs it without importing the YAML reader)."""
    from .sources import builtin_text as text

    return text()


def parse(text: str, file: str) -> Config:
    """Validate routes.yaml text; raise ConfigError listing every problem."""
    if not text.strip():
        raise ConfigError([Problem(file, 0, "the file is empty; it needs at least `routes:` and `default_route:` "
                                            "(see `routesh config show` for a complete example)")])
    root = compose(text, file)
    if root is None:
        raise ConfigError([Problem(file, 0, "the file holds only comments; it needs at least `routes:`")])
    r = Reader(file)
    top = r.mapping(root, "top level", TOP_KEYS)
    if not top and not r.problems:
        r.fail(root, "top level: expected a mapping with routes:, rules:, providers:")
    version = r.number(top.get("version"), "int", "version", 0, 1_000)
    if version is not None and version != 1:
        r.fail(top["version"], f"version: this routesh reads version 1, the file says {version}")

    providers = {name: _provider(r, name, node) for name, node in _named(r, top, "providers")}
    routes = {name: _route(r, name, node) for name, node in _named(r, top, "routes")}
    rules = tuple(_rule(r, i, node) for i, node in enumerate(r.items(top.get("rules"), "rules")))
    profiles = {name: _profile(r, name, node) for name, node in _named(r, top, "profiles")}
    models = {name: _model(r, name, node) for name, node in _named(r, top, "models")}
    code = _code(r, top.get("code"))
    claude = r.mapping(top["claude"], "claude", CLAUDE_KEYS) if "claude" in top else {}
    attach = r.mapping(top["attachments"], "attachments", ATTACHMENT_KEYS) if "attachments" in top else {}
    max_kb = r.number(attach.get("max_kb"), "int", "attachments.max_kb", 1, 100_000)

    routes_node = top.get("routes")
    if not routes and root.id == "mapping" and (routes_node is None or _empty(routes_node)):
        r.fail(routes_node or root, ("routes: is empty" if routes_node else "no routes: defined") +
               "; add at least one, e.g. `routes: {default: {provider: anthropic, model: claude-sonnet-4-6}}`")
    if not profiles:
        profiles = {"personal": Profile("personal")}
    default_route = r.string(top.get("default_route"), "default_route") or ("default" if "default" in routes else None)
    default_profile = r.string(top.get("default_profile"), "default_profile") or next(iter(profiles))

    from .baseline import parse_baseline

    baseline = parse_baseline(r, top.get("baseline"), routes)
    _cross_check(r, top, providers, routes, rules, profiles, code, default_route, default_profile)
    if r.problems:
        raise ConfigError(sorted(r.problems, key=lambda p: p.line))
    return Config(
        default_route=default_route or "",
        default_profile=default_profile,
        providers=MappingProxyType({k: v for k, v in providers.items() if v}),
        routes=MappingProxyType({k: v for k, v in routes.items() if v}),
        rules=tuple(x for x in rules if x),
        profiles=MappingProxyType(profiles),
        models=MappingProxyType(models),
        code=code,
        claude_path=r.string(claude.get("path"), "claude.path"),
        attach_max_kb=max_kb or DEFAULT_MAX_KB,
        source=file,
        baseline=baseline,
    )


def _named(r: Reader, top: dict[str, Node], section: str) -> list[tuple[str, Node]]:
    """The (name, node) pairs of a section of named things; a missing section is empty."""
    node = top.get(section)
    if node is None or node.tag.endswith("null"):
        return []
    return [(name, value) for name, _, value in r.entries(node, section)]


def _empty(node: Node) -> bool:
    """A null or an empty mapping or list (`routes:` or `routes: {}`)."""
    return node.tag.endswith(":null") or (node.id in ("mapping", "sequence") and not node.value)


def _provider(r: Reader, name: str, node: Node) -> Provider:
    where = f"providers.{name}"
    m = r.mapping(node, where, PROVIDER_KEYS)
    ptype = r.string(m.get("type"), f"{where}.type", provider_types())
    if "type" not in m and m:
        r.fail(node, f"{where}: missing `type:` ({' or '.join(provider_types())})")
    key = r.string(m.get("key"), f"{where}.key", ("none",))
    if "key" in m and key is None and m["key"].tag.endswith("null"):
        key = "none"
    key_env = r.string(m.get("key_env"), f"{where}.key_env")
    if key_env is not None and not _ENV_NAME.match(key_env):
        r.fail(m["key_env"], f"{where}.key_env: '{key_env}' is not an environment variable name "
                             "(routes.yaml holds variable names, never the key itself: use `routesh keys set`)")
        key_env = None
    base_url = _url(r, m.get("base_url"), f"{where}.base_url")
    auth = r.string(m.get("auth"), f"{where}.auth", AUTHS) or "api-key"
    mid_system = r.string(m.get("mid_system"), f"{where}.mid_system", ("system", "user"))
    return Provider(name, ptype or "anthropic", base_url, key_env, needs_key=key != "none",  # type: ignore[arg-type]
                    auth=auth, line=line_of(node), mid_system=mid_system)  # type: ignore[arg-type]


def _url(r: Reader, node: Node | None, where: str) -> str | None:
    url = r.string(node, where)
    if url is not None and not re.match(r"^https?://[^\s/]+", url):
        r.fail(node, f"{where}: '{url}' is not an http(s) URL")
        return None
    return url.rstrip("/") if url else None


def _route(r: Reader, name: str, node: Node) -> Route:
    where = f"routes.{name}"
    m = r.mapping(node, where, ROUTE_KEYS)
    for req in ("provider", "model"):
        if m is not None and req not in m and kind_ok(node):
            r.fail(node, f"{where}: missing `{req}:`")
    env_node = m.get("env")
    env: dict[str, str] = {}
    if env_node is not None:
        for k, _, v in r.entries(env_node, f"{where}.env"):
            value = r.string(v, f"{where}.env.{k}")
            if value is not None:
                env[k] = value
    return Route(
        name=name,
        provider=r.string(m.get("provider"), f"{where}.provider") or "",
        model=r.string(m.get("model"), f"{where}.model") or "",
        via=r.string(m.get("via"), f"{where}.via", ("api", "claude-code")) or "api",  # type: ignore[arg-type]
        fallback=r.strings(m.get("fallback"), f"{where}.fallback") or (),
        max_output_tokens=r.number(m.get("max_output_tokens"), "int", f"{where}.max_output_tokens", 1, MAX_TOKENS),
        system=r.string(m.get("system"), f"{where}.system"),
        timeout_s=r.number(m.get("timeout_s"), "float", f"{where}.timeout_s", 0.1, MAX_TIMEOUT_S),
        retries=r.number(m.get("retries"), "int", f"{where}.retries", 0, MAX_RETRIES),
        env=MappingProxyType(env),
        description=r.string(m.get("description"), f"{where}.description"),
        allow_upgrade=bool(r.boolean(m.get("allow_upgrade"), f"{where}.allow_upgrade")),
        on_refusal=r.string(m.get("on_refusal"), f"{where}.on_refusal"),
        line=line_of(node),
    )


def kind_ok(node: Node) -> bool:
    """Only report missing keys on mappings (a wrong type was already reported)."""
    return node.id == "mapping"


def _rule(r: Reader, index: int, node: Node) -> Rule:
    where = f"rules[{index + 1}]"
    m = r.mapping(node, where, RULE_KEYS)
    if kind_ok(node) and "route" not in m:
        r.fail(node, f"{where}: missing `route:`")
    conditions = [k for k in ("prefix", "keywords", "regex", "min_tokens", "max_tokens", "hours") if k in m]
    if kind_ok(node) and not conditions:
        r.fail(node, f"{where}: a rule needs a condition: prefix, keywords, regex, min_tokens, max_tokens or hours")
    prefix = r.string(m.get("prefix"), f"{where}.prefix")
    if prefix is not None and not _PREFIX.match(prefix):
        r.fail(m["prefix"], f"{where}.prefix: '{prefix}' must be a slash and one word, like /debug")
    regex = r.string(m.get("regex"), f"{where}.regex")
    if regex is not None:
        try:
            re.compile(regex)
        except re.error as exc:
            r.fail(m["regex"], f"{where}.regex: invalid regular expression: {exc}")
    hours = r.string(m.get("hours"), f"{where}.hours")
    if hours is not None:
        try:
            parse_hours(hours)
        except ValueError as exc:
            r.fail(m["hours"], f"{where}.hours: {exc}")
    keywords = r.strings(m.get("keywords"), f"{where}.keywords") or ()
    if "keywords" in m and not any(k.strip() for k in keywords):
        r.fail(m["keywords"], f"{where}.keywords: the list is empty")
    lo = r.number(m.get("min_tokens"), "int", f"{where}.min_tokens", 0, MAX_TOKENS)
    hi = r.number(m.get("max_tokens"), "int", f"{where}.max_tokens", 0, MAX_TOKENS)
    if lo is not None and hi is not None and lo > hi:
        r.fail(node, f"{where}: min_tokens {lo} is above max_tokens {hi}; no prompt can match")
    return Rule(index=index, route=r.string(m.get("route"), f"{where}.route") or "", prefix=prefix,
                keywords=tuple(k for k in keywords if k.strip()), regex=regex, min_tokens=lo, max_tokens=hi,
                hours=hours, description=r.string(m.get("description"), f"{where}.description"), line=line_of(node))


def _profile(r: Reader, name: str, node: Node) -> Profile:
    where = f"profiles.{name}"
    if node.tag.endswith("null"):
        return Profile(name, line=line_of(node))
    m = r.mapping(node, where, PROFILE_KEYS)
    overrides: dict[str, ProviderOverride] = {}
    if "providers" in m:
        for pname, _, pnode in r.entries(m["providers"], f"{where}.providers"):
            om = r.mapping(pnode, f"{where}.providers.{pname}", OVERRIDE_KEYS)
            overrides[pname] = ProviderOverride(
                base_url=_url(r, om.get("base_url"), f"{where}.providers.{pname}.base_url"),
                key_env=r.string(om.get("key_env"), f"{where}.providers.{pname}.key_env"),
                auth=r.string(om.get("auth"), f"{where}.providers.{pname}.auth", AUTHS),  # type: ignore[arg-type]
            )
    budget = None
    if "budget" in m:
        bm = r.mapping(m["budget"], f"{where}.budget", BUDGET_KEYS)
        on_exceed = r.string(bm.get("on_exceed"), f"{where}.budget.on_exceed", ("block", "downgrade")) or "block"
        budget = Budget(
            daily_usd=r.number(bm.get("daily_usd"), "float", f"{where}.budget.daily_usd", 0, MAX_USD),
            monthly_usd=r.number(bm.get("monthly_usd"), "float", f"{where}.budget.monthly_usd", 0, MAX_USD),
            on_exceed=on_exceed,  # type: ignore[arg-type]
            downgrade=r.string(bm.get("downgrade"), f"{where}.budget.downgrade"),
        )
        if on_exceed == "downgrade" and not budget.downgrade:
            r.fail(m["budget"], f"{where}.budget: on_exceed: downgrade needs `downgrade: ROUTE`")
    return Profile(
        name=name,
        allow_providers=r.strings(m.get("allow_providers"), f"{where}.allow_providers"),
        allow_routes=r.strings(m.get("allow_routes"), f"{where}.allow_routes"),
        log_prompts=r.boolean(m.get("log_prompts"), f"{where}.log_prompts") is not False,
        on_secret=r.string(m.get("on_secret"), f"{where}.on_secret", ("block", "redact", "warn", "allow")) or "warn",  # type: ignore[arg-type]
        paths=r.strings(m.get("paths"), f"{where}.paths") or (),
        providers=MappingProxyType(overrides),
        budget=budget,
        description=r.string(m.get("description"), f"{where}.description"),
        share_keys_with=r.strings(m.get("share_keys_with"), f"{where}.share_keys_with") or (),
        line=line_of(node),
    )


def _model(r: Reader, name: str, node: Node) -> ModelInfo:
    where = f"models.{name}"
    m = r.mapping(node, where, MODEL_KEYS)
    price = {k: r.number(m.get(k), "float", f"{where}.{k}", 0, MAX_PRICE)
             for k in ("input", "output", "cache_read", "cache_write")}
    window = r.number(m.get("context_window"), "int", f"{where}.context_window", 1, MAX_TOKENS)
    aliases = r.strings(m.get("aliases"), f"{where}.aliases") or ()
    return ModelInfo(name, **price, context_window=window, aliases=aliases)


def _code(r: Reader, node: Node | None) -> CodeRouting:
    if node is None:
        return CodeRouting()
    m = r.mapping(node, "code", CODE_KEYS)
    values: dict[str, Any] = {k: r.string(m.get(k), f"code.{k}") for k in CODE_KEYS if k != "long_context_threshold"}
    threshold = r.number(m.get("long_context_threshold"), "int", "code.long_context_threshold", 1, MAX_TOKENS)
    return CodeRouting(**values, long_context_threshold=threshold or 60000)


def _cross_check(r: Reader, top: dict[str, Node], providers: dict[str, Provider], routes: dict[str, Route],
                 rules: tuple[Rule, ...], profiles: dict[str, Profile], code: CodeRouting,
                 default_route: str | None, default_profile: str) -> None:
    """References between sections: every name must exist, fallbacks must not loop."""

    def route_ref(name: str | None, node: Node | None, where: str) -> None:
        if name is not None and not name.strip():
            r.fail(node, f"{where}: an empty route name; name a route ({_names(routes)}) or remove it")
        elif name and name not in routes:  # the message (a did-you-mean over every route) only when needed
            r.fail(node, f"{where}: unknown route '{name}'{did_you_mean(name, routes)}; routes: {_names(routes)}")

    route_ref(default_route, top.get("default_route") or top.get("routes"), "default_route")
    if default_route is None and routes:
        r.fail(top.get("routes"), "default_route: not set and no route is called 'default'; add `default_route: NAME`")
    if default_profile not in profiles:
        r.fail(top.get("default_profile"),
               f"default_profile: unknown profile '{default_profile}'{did_you_mean(default_profile, profiles)}")
    for route in routes.values():
        prov = providers.get(route.provider)
        if prov is not None and route.via == "claude-code" and prov.type != "anthropic":
            r.fail(_at(route.line), f"routes.{route.name}: via: claude-code needs a provider of type anthropic "
                                    f"('{prov.name}' is {prov.type}); use via: api, or `routesh code` to put "
                                    "Claude Code in front of other providers")
        if prov is not None and route.via == "api" and prov.auth == "subscription":
            r.fail(_at(route.line), f"routes.{route.name}: provider '{prov.name}' uses auth: subscription, which "
                                    "only Claude Code can use; set via: claude-code on this route")
        if route.provider and route.provider not in providers:
            r.fail(_at(route.line), f"routes.{route.name}.provider: unknown provider '{route.provider}'"
                                    f"{did_you_mean(route.provider, providers)}; providers: {_names(providers)}")
        for fb in route.fallback:
            route_ref(fb, _at(route.line), f"routes.{route.name}.fallback")
        route_ref(route.on_refusal, _at(route.line), f"routes.{route.name}.on_refusal")
    for cycle in _fallback_cycles(routes):
        r.fail(_at(routes[cycle[0]].line), "fallback cycle: " + " → ".join(cycle) + "; remove one of these fallbacks")
    seen_prefix: dict[str, int] = {}
    for rule in rules:
        route_ref(rule.route, _at(rule.line), f"rules[{rule.index + 1}].route")
        if rule.prefix:
            if rule.prefix in seen_prefix:
                r.fail(_at(rule.line), f"rules[{rule.index + 1}].prefix: {rule.prefix} is already used by rule "
                                       f"{seen_prefix[rule.prefix]}; the second can never match")
            seen_prefix.setdefault(rule.prefix, rule.index + 1)
    for p in profiles.values():
        for name in p.allow_providers or ():
            if name not in providers:
                r.fail(_at(p.line), f"profiles.{p.name}.allow_providers: unknown provider "
                                    f"'{name}'{did_you_mean(name, providers)}")
        for name in p.allow_routes or ():
            route_ref(name, _at(p.line), f"profiles.{p.name}.allow_routes")
        for name in p.providers:
            if name not in providers:
                r.fail(_at(p.line), f"profiles.{p.name}.providers: unknown provider "
                                    f"'{name}'{did_you_mean(name, providers)}")
        if p.budget:
            route_ref(p.budget.downgrade, _at(p.line), f"profiles.{p.name}.budget.downgrade")
        for name in p.share_keys_with:
            if name == p.name:
                r.fail(_at(p.line), f"profiles.{p.name}.share_keys_with: a profile shares its keys with itself already")
            elif name not in profiles:
                r.fail(_at(p.line), f"profiles.{p.name}.share_keys_with: unknown profile "
                                    f"'{name}'{did_you_mean(name, profiles)}; profiles: {', '.join(profiles)}")
    for key in ("default", "background", "think", "long_context", "web_search", "image", "subagent"):
        route_ref(getattr(code, key), top.get("code"), f"code.{key}")


def _names(known: Any) -> str:
    """The names a reference may use, at most ten of them."""
    names = list(known)
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "") or "none"


def _at(line: int) -> Node:
    """A stand-in node carrying only a line, for cross-checks reported after the walk."""
    from yaml.error import Mark

    mark = Mark("", 0, line - 1, 0, None, None)
    return Node("", "", mark, mark)  # type: ignore[arg-type]


def _fallback_cycles(routes: dict[str, Route]) -> list[list[str]]:
    """Fallback loops, each reported once: one iterative depth-first walk, linear in routes and fallbacks."""
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    done: set[str] = set()
    for start in routes:
        if start in done:
            continue
        path: list[str] = [start]  # the routes being walked, grey
        on_path = {start}
        todo = [iter(routes[start].fallback)]
        while todo:
            fb = next(todo[-1], None)
            if fb is None:
                todo.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif fb in on_path:
                if len(cycles) >= 50:  # enough to act on; the walk stays linear however many there are
                    continue
                loop = path[path.index(fb):] + [fb]
                if (key := frozenset(loop)) not in seen:
                    seen.add(key)
                    cycles.append(loop)
            elif fb in routes and fb not in done:
                path.append(fb)
                on_path.add(fb)
                todo.append(iter(routes[fb].fallback))
    return cycles
