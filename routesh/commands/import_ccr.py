"""claude-code-router's config.json → a routes.yaml v1 text, never carrying a literal key across."""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from .ccr_json import CCRImportError

__all__ = ["CCRImportError", "ImportResult", "ROUTER_KEYS", "convert"]

# claude-code-router Router key → (routes.yaml `code:` key, the route name it gets when it is the first to use a model)
ROUTER_KEYS: Mapping[str, tuple[str, str]] = {
    "default": ("default", "default"),
    "background": ("background", "background"),
    "think": ("think", "think"),
    "longContext": ("long_context", "long-context"),
    "webSearch": ("web_search", "web-search"),
    "image": ("image", "image"),
}

_ENV_REF = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")
_PLAIN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./@+-]*$")
_PLAIN_URL = re.compile(r"^https?://[A-Za-z0-9._~:/?=&%@!$'()*+;-]+$")

# What each of claude-code-router's built-in transformers did, and what routesh does instead.
_TRANSFORMER_NOTES: Mapping[str, str] = {
    "anthropic": "routesh sends Anthropic-format providers their requests unchanged",
    "openrouter": "routesh's OpenAI translation already speaks OpenRouter's dialect",
    "deepseek": "routesh's OpenAI translation covers DeepSeek; cap output with the route's max_output_tokens",
    "groq": "routesh's OpenAI translation covers Groq",
    "gemini": "routesh talks to Gemini through its OpenAI-compatible endpoint",
    "cleancache": "routesh drops cache_control for OpenAI-format providers itself",
    "streamoptions": "routesh asks for streamed usage itself",
    "tooluse": "no equivalent: routesh does not force tool_choice",
    "enhancetool": "no equivalent: routesh passes tool arguments through unchanged",
    "reasoning": "routesh maps thinking budgets to the provider's reasoning field itself",
    "sampling": "no equivalent: sampling parameters pass through as Claude Code sends them",
    "customparams": "no equivalent: add the parameters upstream",
}

_TOP_NOTES: Mapping[str, str] = {
    "APIKEY": "the gateway's client token is not carried over: `routesh serve` takes --token or "
              "$ROUTESH_GATEWAY_TOKEN, or makes one",
    "PROXY_URL": "not carried over: set HTTPS_PROXY in the environment instead",
    "LOG": "not carried over: routesh keeps no prompt logs unless a profile allows it (`log_prompts`); "
           "see `routesh log`",
    "LOG_LEVEL": "not carried over: use `routesh serve --verbose` for one line per request",
    "NON_INTERACTIVE_MODE": "not needed: `routesh code` sets Claude Code's environment itself",
    "CUSTOM_ROUTER_PATH": "the custom router script is not carried over: express its logic as `rules:` in routes.yaml",
    "transformers": "custom transformer plugins are not carried over: routesh has no plugin mechanism",
    "StatusLine": "not carried over: routesh shows each routing decision itself",
    "forceUseImageAgent": "not carried over: routesh sends image turns to `code.image` when it is set",
}


@dataclass(frozen=True)
class ImportResult:
    """The routes.yaml text, the `routesh keys set` commands the user still has to run, and what was left out."""

    yaml_text: str
    key_commands: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Provider:
    """One provider as it will be written."""

    name: str
    type: str
    base_url: str | None
    key_env: str | None
    no_key: bool
    models: tuple[str, ...]
    max_output_tokens: int | None


def _scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly this value, plain when that is safe, else double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if (_PLAIN.match(text) or _PLAIN_URL.match(text)) and yaml.safe_load(f"k: {text}") == {"k": text} \
            and yaml.safe_load(f"{{k: {text}}}") == {"k": text}:
        return text
    return json.dumps(text, ensure_ascii=False)


def _flow(items: Mapping[str, Any]) -> str:
    """A one-line flow mapping, in the given order."""
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in items.items()) + "}"


def _is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: local model servers."""
    if host in ("localhost", "host.docker.internal") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _names(value: Any) -> list[str]:
    """Transformer names from a `use` list whose items are names or [name, options]."""
    names: list[str] = []
    for item in value if isinstance(value, list) else ():
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, list) and item and isinstance(item[0], str):
            names.append(item[0])
    return names


def _max_tokens_option(use: Any) -> int | None:
    """The max_tokens of a ["maxtoken", {"max_tokens": N}] transformer entry, if any."""
    for item in use if isinstance(use, list) else ():
        if (isinstance(item, list) and len(item) > 1 and str(item[0]).lower() == "maxtoken"
                and isinstance(item[1], dict)):
            n = item[1].get("max_tokens")
            if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                return n
    return None


def _provider(raw: Mapping[str, Any], warnings: list[str], key_commands: list[str]) -> _Provider | None:
    """One Providers entry converted; its key is referenced by variable name or left for the keyring."""
    name = str(raw.get("name") or "").strip()
    if not name:
        warnings.append("Providers: an entry without a name was left out")
        return None
    where = f"provider {name}"
    url = str(raw.get("api_base_url") or raw.get("baseUrl") or raw.get("base_url") or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        warnings.append(f"{where}: api_base_url {url!r} is not an http(s) URL; the provider was left out")
        return None
    found = raw.get("transformer")
    transformer: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    use = _names(transformer.get("use"))
    lowered = [u.lower() for u in use]
    path = parts.path.rstrip("/")
    host = parts.hostname.lower()
    base_url: str | None
    if host == "api.anthropic.com" or path.endswith("/v1/messages") or "anthropic" in lowered:
        ptype = "anthropic"
        path = path[: -len("/v1/messages")] if path.endswith("/v1/messages") else path
        base_url = None if host == "api.anthropic.com" else f"{parts.scheme}://{parts.netloc}{path}"
    elif host == "generativelanguage.googleapis.com":
        ptype = "openai"
        base_url = f"{parts.scheme}://{parts.netloc}/v1beta/openai"
        if not path.endswith("/openai"):
            warnings.append(f"{where}: claude-code-router used Gemini's native API; routesh uses its OpenAI-compatible "
                            f"endpoint {base_url}")
    else:
        ptype = "openai"
        for suffix in ("/chat/completions", "/completions"):
            if path.endswith(suffix):
                path = path[: -len(suffix)]
                break
        base_url = f"{parts.scheme}://{parts.netloc}{path}"
    if parts.query:
        warnings.append(f"{where}: the query string of api_base_url was left out")

    key = raw.get("api_key", raw.get("apiKey"))
    key = key if isinstance(key, str) else ""
    local = _is_loopback(host)
    env = _ENV_REF.match(key.strip())
    key_env: str | None = None
    no_key = False
    if env:
        key_env = env.group(1) or env.group(2)
    elif local:
        no_key = True
        if key.strip():
            warnings.append(f"{where}: its literal api_key was left out (`key: none`, as for a local server); "
                            f"if it does need one: routesh keys set {shlex.quote(name)}")
    else:
        key_commands.append(f"routesh keys set {shlex.quote(name)}")
        if key.strip():
            warnings.append(f"{where}: its api_key was written literally in config.json and was left out of "
                            f"routes.yaml; put it in the keyring with `routesh keys set {shlex.quote(name)}`")
        else:
            warnings.append(f"{where}: no api_key; set one with `routesh keys set {shlex.quote(name)}`")

    max_out = _max_tokens_option(transformer.get("use"))
    for t in use:
        if t.lower() == "maxtoken":
            continue
        note = _TRANSFORMER_NOTES.get(t.lower(), "unknown to routesh")
        warnings.append(f"{where}: transformer {t!r} not carried over ({note})")
    for model, spec in transformer.items():
        if model == "use":
            continue
        inner = spec.get("use") if isinstance(spec, dict) else None
        names = _names(inner) or ["?"]
        warnings.append(f"{where}: transformer for model {model} ({', '.join(names)}) not carried over")

    models = raw.get("models")
    model_list = tuple(str(m) for m in models) if isinstance(models, list) else ()
    for extra in sorted(set(raw) - {"name", "api_base_url", "baseUrl", "base_url", "api_key", "apiKey", "models",
                                    "transformer"}):
        warnings.append(f"{where}: field {extra!r} not carried over")
    return _Provider(name, ptype, base_url, key_env, no_key, model_list, max_out)


def _get(data: Mapping[str, Any], *names: str) -> Any:
    """The first of these keys present (claude-code-router's docs differ in casing across versions)."""
    for n in names:
        if n in data:
            return data[n]
    return None


def convert(ccr_config: Mapping[str, Any], *, source: str = "~/.claude-code-router/config.json") -> ImportResult:
    """claude-code-router's config as routes.yaml v1 text, with the key commands to run and what was left out."""
    if not isinstance(ccr_config, Mapping):
        raise CCRImportError("config.json should hold one JSON object with Providers and Router")
    warnings: list[str] = []
    key_commands: list[str] = []

    raw_providers = _get(ccr_config, "Providers", "providers")
    providers: dict[str, _Provider] = {}
    for raw in raw_providers if isinstance(raw_providers, list) else ():
        if not isinstance(raw, Mapping):
            warnings.append("Providers: an entry that is not an object was left out")
            continue
        p = _provider(raw, warnings, key_commands)
        if p is None:
            continue
        if p.name in providers:
            warnings.append(f"provider {p.name}: defined twice; the first one was kept")
            continue
        providers[p.name] = p
    if not providers:
        raise CCRImportError("config.json has no usable Providers; nothing to import")

    found = _get(ccr_config, "Router", "router")
    router: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    routes: dict[tuple[str, str], str] = {}  # (provider, model) → route name
    origins: dict[str, list[str]] = {}  # route name → Router keys that use it
    code: dict[str, Any] = {}
    for key, (code_key, route_name) in ROUTER_KEYS.items():
        value = router.get(key)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or "," not in value:
            warnings.append(f"Router.{key}: {value!r} is not \"provider,model\"; left out")
            continue
        pname, model = (s.strip() for s in value.split(",", 1))
        if pname not in providers:
            warnings.append(f"Router.{key}: provider {pname!r} is not in Providers; left out")
            continue
        if providers[pname].models and model not in providers[pname].models:
            warnings.append(f"Router.{key}: model {model!r} is not in provider {pname}'s models list (kept anyway)")
        name = routes.setdefault((pname, model), route_name)
        origins.setdefault(name, []).append(key)
        code[code_key] = name
    threshold = _get(router, "longContextThreshold")
    if threshold is None:
        threshold = _get(ccr_config, "longContextThreshold")
    if threshold is not None:
        if isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > 0:
            code["long_context_threshold"] = threshold
        else:
            warnings.append(f"Router.longContextThreshold: {threshold!r} is not a positive whole number; left out")
    for key in router:
        if key not in ROUTER_KEYS and key != "longContextThreshold":
            warnings.append(f"Router.{key}: not a Router key routesh knows; left out")

    if "default" not in code:
        first = next(iter(providers.values()))
        if not first.models:
            raise CCRImportError("config.json has no Router.default and its first provider lists no models; "
                                 "add Router.default (\"provider,model\") and try again")
        pair = (first.name, first.models[0])
        name = routes.setdefault(pair, "default")
        origins.setdefault(name, []).append("default")
        code["default"] = name
        warnings.append(f"Router.default is missing; the default route uses {first.name},{first.models[0]}")

    timeout_s: float | None = None
    timeout = ccr_config.get("API_TIMEOUT_MS")
    if timeout is not None:
        if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout > 0:
            timeout_s = round(float(timeout) / 1000, 3)
        else:
            warnings.append(f"API_TIMEOUT_MS: {timeout!r} is not a positive number; left out")

    claude_path = ccr_config.get("CLAUDE_PATH")
    handled = {"Providers", "providers", "Router", "router", "longContextThreshold", "API_TIMEOUT_MS", "CLAUDE_PATH"}
    for key in ccr_config:
        if key in handled:
            continue
        if key in ("HOST", "PORT"):
            value = ccr_config[key]
            warnings.append(f"{key}: not carried over: run `routesh serve --{key.lower()} {value}`" if isinstance(
                value, (str, int)) and not isinstance(value, bool) else f"{key}: not carried over")
        elif key in _TOP_NOTES:
            warnings.append(f"{key}: {_TOP_NOTES[key]}")
        else:
            warnings.append(f"{key}: not a setting routesh knows; left out")

    text = _render(providers, routes, origins, code, timeout_s, claude_path, key_commands, source)
    return ImportResult(text, key_commands, warnings)


def _render(providers: Mapping[str, _Provider], routes: Mapping[tuple[str, str], str],
            origins: Mapping[str, list[str]], code: Mapping[str, Any], timeout_s: float | None,
            claude_path: Any, key_commands: list[str], source: str) -> str:
    """The routes.yaml text: header, providers, routes, code, profiles; stable order."""
    lines = [
        "# routes.yaml, version 1: imported from claude-code-router by `routesh import-ccr`.",
        f"# Source: {source}",
        "# routes.yaml never holds keys: key_env names a variable, and `routesh keys set` puts a key in the keyring.",
    ]
    if key_commands:
        lines.append("# Still to do, once:")
        lines.extend(f"#   {cmd}" for cmd in key_commands)
    lines += [
        "# Check it with `routesh config check PATH`; it is used from ~/.config/routesh/routes.yaml.",
        "version: 1",
        f"default_route: {_scalar(code['default'])}",
        "default_profile: personal",
        "",
        "providers:",
    ]
    for p in providers.values():
        fields: dict[str, Any] = {"type": p.type}
        if p.base_url:
            fields["base_url"] = p.base_url
        if p.key_env:
            fields["key_env"] = p.key_env
        if p.no_key:
            fields["key"] = "none"
        lines.append(f"  {_scalar(p.name)}: {_flow(fields)}")
        unused = [m for m in p.models if (p.name, m) not in routes]
        if unused:
            lines.append(f"  # {p.name} also offers: {', '.join(unused)}")
    lines += ["", "routes:"]
    for (pname, model), name in routes.items():
        fields = {"provider": pname, "model": model}
        max_out = providers[pname].max_output_tokens
        if max_out:
            fields["max_output_tokens"] = max_out
        if timeout_s:
            fields["timeout_s"] = int(timeout_s) if timeout_s == int(timeout_s) else timeout_s
        fields["description"] = "claude-code-router Router." + ", Router.".join(origins.get(name, []))
        lines.append(f"  {_scalar(name)}: {_flow(fields)}")
    lines += ["", "# Which route each kind of Claude Code request takes under `routesh serve` and `routesh code`",
              "# (claude-code-router's Router keys; subagent has no Router key there, so it is left unset).",
              "code:"]
    for key in ("default", "background", "think", "long_context", "long_context_threshold", "web_search", "image",
                "subagent"):
        if key in code:
            lines.append(f"  {key}: {_scalar(code[key])}")
    if isinstance(claude_path, str) and claude_path.strip():
        lines += ["", "claude:", f"  path: {_scalar(claude_path.strip())}"]
    lines += ["", "profiles:", "  personal: {}", ""]
    return "\n".join(lines)
