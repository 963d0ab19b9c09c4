"""claude-code-router config.json → routes.yaml: the seed articles' configs, no key copied, warnings for the rest."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from routesh.commands.ccr_json import parse_config_text
from routesh.commands.import_ccr import CCRImportError, ImportResult, convert
from routesh.core import configfile

LITERAL_KEYS = ("sk-or-v1-5f0c2a9e8d7b6a5f4e3d2c1b0a9f8e7d", "sk-8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f",
                "YOUR_OPENROUTER_API_KEY", "gw-secret-APIKEY-771", "ark-1f2e3d4c5b6a")

# The seed article's minimal example (003), as written there: a placeholder literal key.
MINIMAL = {
    "Providers": [{
        "name": "openrouter",
        "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
        "api_key": "YOUR_OPENROUTER_API_KEY",
        "models": ["openai/gpt-oss-120b:free"],
        "transformer": {"use": ["openrouter"]},
    }],
    "Router": {"default": "openrouter,openai/gpt-oss-120b:free"},
}

# The seed article's full routing example (003) with the providers it names, as users write them: some keys from
# the environment, some literal, a local Ollama, Gemini's native API, and the usual top-level settings.
FULL = {
    "LOG": True,
    "LOG_LEVEL": "debug",
    "HOST": "127.0.0.1",
    "PORT": 3456,
    "APIKEY": "gw-secret-APIKEY-771",
    "PROXY_URL": "http://127.0.0.1:7890",
    "API_TIMEOUT_MS": 600000,
    "NON_INTERACTIVE_MODE": False,
    "CUSTOM_ROUTER_PATH": "$HOME/.claude-code-router/custom-router.js",
    "transformers": [{"path": "$HOME/.claude-code-router/plugins/gemini-cli.js", "options": {"project": "x"}}],
    "Providers": [
        {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions",
         "api_key": "sk-8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", "models": ["deepseek-chat", "deepseek-reasoner"],
         "transformer": {"use": ["deepseek"], "deepseek-chat": {"use": ["tooluse"]}}},
        {"name": "ollama", "api_base_url": "http://localhost:11434/v1/chat/completions", "api_key": "ollama",
         "models": ["qwen2.5-coder:latest"]},
        {"name": "openrouter", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
         "api_key": "sk-or-v1-5f0c2a9e8d7b6a5f4e3d2c1b0a9f8e7d",
         "models": ["google/gemini-2.5-pro-preview", "anthropic/claude-sonnet-4"],
         "transformer": {"use": ["openrouter"]}},
        {"name": "gemini", "api_base_url": "https://generativelanguage.googleapis.com/v1beta/models/",
         "api_key": "$GEMINI_API_KEY", "models": ["gemini-2.5-flash", "gemini-2.5-pro"],
         "transformer": {"use": ["gemini"]}},
        {"name": "volcengine", "api_base_url": "https://ark.cn-beijing.volces.com/api/v3/chat/completions",
         "api_key": "ark-1f2e3d4c5b6a", "models": ["deepseek-v3-250324"],
         "transformer": {"use": [["maxtoken", {"max_tokens": 16384}], "deepseek"]}},
    ],
    "Router": {
        "default": "deepseek,deepseek-chat",
        "background": "ollama,qwen2.5-coder:latest",
        "think": "deepseek,deepseek-reasoner",
        "longContext": "openrouter,google/gemini-2.5-pro-preview",
        "longContextThreshold": 60000,
        "webSearch": "gemini,gemini-2.5-flash",
        "image": "volcengine,deepseek-v3-250324",
    },
}

# The other seed article's (004) shape: baseUrl/apiKey spelling, keys from the environment.
CAMEL = {
    "Providers": [{"name": "openai", "baseUrl": "https://api.openai.com/v1", "apiKey": "$OPENAI_API_KEY",
                   "models": ["gpt-4", "gpt-3.5-turbo"]},
                  {"name": "tokenmix", "baseUrl": "https://api.tokenmix.ai/v1", "apiKey": "${TOKENMIX_API_KEY}",
                   "models": ["mix-coder", "mix-cheap", "mix-reasoner", "mix-long"]}],
    "Router": {"default": "openai,gpt-4", "background": "tokenmix,mix-cheap", "think": "openai,gpt-4",
               "longContext": "tokenmix,mix-long"},
}


def check(result: ImportResult) -> dict[str, Any]:
    """The output is valid YAML and a valid routes.yaml for routesh's own loader; no literal key anywhere."""
    everything = result.yaml_text + "\n".join(result.warnings) + "\n".join(result.key_commands)
    for key in LITERAL_KEYS:
        assert key not in everything
    data = yaml.safe_load(result.yaml_text)
    assert data["version"] == 1
    configfile.parse(result.yaml_text, "imported.yaml")
    return data


def test_minimal_seed_config() -> None:
    r = convert(MINIMAL)
    data = check(r)
    assert data["providers"] == {"openrouter": {"type": "openai", "base_url": "https://openrouter.ai/api/v1"}}
    assert data["routes"]["default"]["provider"] == "openrouter"
    assert data["routes"]["default"]["model"] == "openai/gpt-oss-120b:free"
    assert data["default_route"] == "default" and data["code"] == {"default": "default"}
    assert r.key_commands == ["routesh keys set openrouter"]
    assert any("literally" in w and "routesh keys set openrouter" in w for w in r.warnings)
    assert r.yaml_text.startswith("# routes.yaml, version 1: imported from claude-code-router")


def test_full_seed_config() -> None:
    r = convert(FULL)
    data = check(r)
    assert data["providers"] == {
        "deepseek": {"type": "openai", "base_url": "https://api.deepseek.com"},
        "ollama": {"type": "openai", "base_url": "http://localhost:11434/v1", "key": "none"},
        "openrouter": {"type": "openai", "base_url": "https://openrouter.ai/api/v1"},
        "gemini": {"type": "openai", "base_url": "https://generativelanguage.googleapis.com/v1beta/openai",
                   "key_env": "GEMINI_API_KEY"},
        "volcengine": {"type": "openai", "base_url": "https://ark.cn-beijing.volces.com/api/v3"},
    }
    assert list(data["routes"]) == ["default", "background", "think", "long-context", "web-search", "image"]
    assert data["routes"]["background"] == {"provider": "ollama", "model": "qwen2.5-coder:latest", "timeout_s": 600,
                                            "description": "claude-code-router Router.background"}
    assert data["routes"]["image"]["max_output_tokens"] == 16384
    assert data["code"] == {"default": "default", "background": "background", "think": "think",
                            "long_context": "long-context", "long_context_threshold": 60000,
                            "web_search": "web-search", "image": "image"}
    assert r.key_commands == ["routesh keys set deepseek", "routesh keys set openrouter", "routesh keys set volcengine"]
    joined = "\n".join(r.warnings)
    for thing in ("APIKEY", "PROXY_URL", "LOG:", "LOG_LEVEL", "HOST", "PORT", "CUSTOM_ROUTER_PATH", "transformers:",
                  "NON_INTERACTIVE_MODE", "transformer 'deepseek'", "transformer for model deepseek-chat (tooluse)",
                  "transformer 'openrouter'", "Gemini's native API", "provider ollama: its literal api_key"):
        assert thing in joined, thing
    assert "maxtoken" not in joined  # carried over as max_output_tokens
    assert "API_TIMEOUT_MS" not in joined  # carried over as timeout_s
    assert len(r.warnings) == len(set(r.warnings))


def test_env_keys_in_both_spellings() -> None:
    r = convert(CAMEL)
    data = check(r)
    assert data["providers"]["openai"] == {"type": "openai", "base_url": "https://api.openai.com/v1",
                                           "key_env": "OPENAI_API_KEY"}
    assert data["providers"]["tokenmix"]["key_env"] == "TOKENMIX_API_KEY"
    assert r.key_commands == [] and r.warnings == []
    # default and think use the same model: one route, both classes point at it.
    assert list(data["routes"]) == ["default", "background", "long-context"]
    assert data["routes"]["default"]["description"] == "claude-code-router Router.default, Router.think"
    assert data["code"]["think"] == "default"
    assert "# tokenmix also offers: mix-coder, mix-reasoner" in r.yaml_text


def test_anthropic_providers() -> None:
    cfg = {"Providers": [
        {"name": "anthropic", "api_base_url": "https://api.anthropic.com/v1/messages", "api_key": "$ANTHROPIC_API_KEY",
         "models": ["claude-sonnet-4-6"]},
        {"name": "ds-anthropic", "api_base_url": "https://api.deepseek.com/anthropic/v1/messages",
         "api_key": "$DEEPSEEK_API_KEY", "models": ["deepseek-chat"], "transformer": {"use": ["Anthropic"]}},
    ], "Router": {"default": "anthropic,claude-sonnet-4-6", "background": "ds-anthropic,deepseek-chat"}}
    data = check(convert(cfg))
    assert data["providers"]["anthropic"] == {"type": "anthropic", "key_env": "ANTHROPIC_API_KEY"}
    assert data["providers"]["ds-anthropic"] == {"type": "anthropic", "base_url": "https://api.deepseek.com/anthropic",
                                                 "key_env": "DEEPSEEK_API_KEY"}


def test_unknown_and_broken_fields_are_reported_not_copied() -> None:
    cfg = {
        "Providers": [
            {"name": "p", "api_base_url": "https://llm.example.com/v1/chat/completions?x=1", "api_key": "$P_KEY",
             "models": ["m1"], "region": "eu", "transformer": {"use": ["mystery", "enhancetool"]}},
            {"name": "p", "api_base_url": "https://other.example.com/v1", "api_key": "$Q"},
            {"name": "nourl", "api_key": "$Z"},
            {"api_base_url": "https://x.example.com"},
            "not an object",
        ],
        "Router": {"default": "p,m2", "think": "missing,m", "background": "no-comma", "fancy": "p,m1",
                   "longContextThreshold": "lots"},
        "StatusLine": {"enabled": True},
        "SomethingNew": 1,
        "CLAUDE_PATH": "/opt/claude/bin/claude",
    }
    r = convert(cfg)
    data = check(r)
    assert data["routes"] == {"default": {"provider": "p", "model": "m2",
                                          "description": "claude-code-router Router.default"}}
    assert data["providers"]["p"]["base_url"] == "https://llm.example.com/v1"
    assert data["claude"] == {"path": "/opt/claude/bin/claude"}
    joined = "\n".join(r.warnings)
    for thing in ("field 'region'", "transformer 'mystery' not carried over (unknown to routesh)",
                  "transformer 'enhancetool'", "defined twice", "provider nourl: api_base_url", "without a name",
                  "not an object", "'m2' is not in provider p's models list", "Router.think: provider 'missing'",
                  "Router.background: 'no-comma'", "Router.fancy: not a Router key", "longContextThreshold: 'lots'",
                  "StatusLine", "SomethingNew", "query string"):
        assert thing in joined, thing


def test_missing_default_falls_back_to_first_model() -> None:
    r = convert({"Providers": [{"name": "a", "api_base_url": "https://a.example.com/v1", "api_key": "$A",
                                "models": ["x", "y"]}], "Router": {"think": "a,y"}})
    data = check(r)
    assert data["code"] == {"think": "think", "default": "default"}
    assert data["routes"]["default"]["model"] == "x"
    assert any("Router.default is missing" in w for w in r.warnings)


def test_missing_key_and_loopback_without_key() -> None:
    r = convert({"Providers": [
        {"name": "remote", "api_base_url": "https://r.example.com/v1", "models": ["m"]},
        {"name": "lmstudio", "api_base_url": "http://127.0.0.1:1234/v1/chat/completions", "api_key": "",
         "models": ["q"]},
    ], "Router": {"default": "remote,m", "background": "lmstudio,q"}})
    data = check(r)
    assert "key" not in data["providers"]["remote"] and "key_env" not in data["providers"]["remote"]
    assert data["providers"]["lmstudio"]["key"] == "none"
    assert r.key_commands == ["routesh keys set remote"]
    assert any("remote: no api_key" in w for w in r.warnings)
    assert not any("lmstudio" in w for w in r.warnings)


@pytest.mark.parametrize("model", ["1.5", "true", "null", "qwen:7b", "a b", "#x", "x, y", "{z}", "o'neil", "ü-model",
                                   "- dash", "@at", "*star", "%pct", "~", "123"])
def test_awkward_names_round_trip_through_yaml(model: str) -> None:
    r = convert({"Providers": [{"name": "odd", "api_base_url": "https://o.example.com/v1", "api_key": "$K",
                                "models": [model]}], "Router": {"default": f"odd,{model}"}})
    data = check(r)
    assert data["routes"]["default"]["model"] == model


def test_output_is_stable() -> None:
    assert convert(FULL).yaml_text == convert(json.loads(json.dumps(FULL))).yaml_text
    assert convert(FULL, source="/tmp/c.json").yaml_text.splitlines()[1] == "# Source: /tmp/c.json"


def test_unusable_configs_are_errors() -> None:
    with pytest.raises(CCRImportError):
        convert({"Router": {"default": "a,b"}})
    with pytest.raises(CCRImportError):
        convert({"Providers": [{"name": "a", "api_base_url": "https://a.example.com", "api_key": "$A"}]})
    with pytest.raises(CCRImportError):
        convert([])  # type: ignore[arg-type]
    with pytest.raises(CCRImportError):
        parse_config_text("[1, 2]")
    with pytest.raises(CCRImportError):
        parse_config_text("{nope")


def test_json_with_comments_and_trailing_commas() -> None:
    text = """{
      // my router
      "Providers": [
        {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions", /* env */
         "api_key": "$DEEPSEEK_API_KEY", "models": ["deepseek-chat",],},
      ],
      "Router": {"default": "deepseek,deepseek-chat", "note": "a // not a comment, /* nor this */",},
    }"""
    cfg = parse_config_text(text)
    assert cfg["Router"]["note"] == "a // not a comment, /* nor this */"
    data = check(convert(cfg))
    assert data["providers"]["deepseek"]["key_env"] == "DEEPSEEK_API_KEY"
