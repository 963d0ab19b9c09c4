"""routes.yaml validation: every problem at once, with its line and a did-you-mean."""

from __future__ import annotations

import pytest

from routesh.configfile import builtin_text, parse
from routesh.yamlnodes import ConfigError

GOOD = """\
default_route: default
providers:
  anthropic: {type: anthropic, key_env: ANTHROPIC_API_KEY}
  local: {type: openai, base_url: http://127.0.0.1:11434/v1/, key: none}
routes:
  default: {provider: anthropic, model: sonnet}
  cheap: {provider: local, model: qwen, via: api, timeout_s: 30, retries: 1}
rules:
  - {prefix: /cheap, route: cheap}
profiles:
  personal: {}
  work:
    allow_providers: [anthropic]
    providers: {anthropic: {key_env: WORK_ANTHROPIC_KEY}}
    budget: {daily_usd: 5, on_exceed: downgrade, downgrade: cheap}
models:
  qwen: {input: 0, output: 0}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse(text, "routes.yaml")
    return [str(p) for p in info.value.problems]


def test_builtin_default_loads():
    c = parse(builtin_text(), "builtin")
    assert c.default_route == "default" and "architect" in c.routes
    assert c.profiles["work-approved"].allow_providers == ("anthropic",)
    assert c.profiles["work-approved"].log_prompts is False


def test_repository_routes_yaml_is_the_builtin_default():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "routes.yaml"
    assert root.read_text() == builtin_text()


def test_good_config_values():
    c = parse(GOOD, "routes.yaml")
    assert c.providers["local"].needs_key is False
    assert c.providers["local"].base_url == "http://127.0.0.1:11434/v1"  # trailing slash removed
    assert c.routes["cheap"].timeout_s == 30.0 and c.routes["cheap"].retries == 1
    work = c.profiles["work"]
    assert work.budget is not None and work.budget.downgrade == "cheap"
    assert c.provider_for(c.routes["default"], work).key_env == "WORK_ANTHROPIC_KEY"
    assert c.provider_for(c.routes["default"], c.profiles["personal"]).key_env == "ANTHROPIC_API_KEY"
    assert c.models["qwen"].input == 0.0


def test_unknown_keys_with_did_you_mean_and_line():
    text = GOOD.replace("{type: anthropic, key_env:", "{type: anthropic, keyenv: X, key_env:")
    [p] = problems(text)
    assert p.startswith("routes.yaml:3:") and "unknown key 'keyenv'" in p and "did you mean 'key_env'" in p


def test_all_errors_reported_at_once():
    text = """\
default_route: defualt
providers:
  anthropic: {type: anthropc}
routes:
  default: {provider: antropic, model: x, fallback: [b]}
  b: {provider: anthropic, model: y, fallback: [default]}
rules:
  - {prefix: /debug, route: defualt}
  - {regex: "(unclosed", route: b}
  - {hours: "25:00-03:00", route: b}
  - route: b
profiles:
  work: {allow_providers: [openai], on_secret: blok}
"""
    ps = problems(text)
    joined = "\n".join(ps)
    expected = [
        ("routes.yaml:1:", "unknown route 'defualt' (did you mean 'default'?)"),
        ("routes.yaml:3:", "'anthropc' is not one of anthropic, openai (did you mean 'anthropic'?)"),
        ("routes.yaml:5:", "unknown provider 'antropic' (did you mean 'anthropic'?)"),
        ("routes.yaml:5:", "fallback cycle: default → b → default"),
        ("routes.yaml:8:", "rules[1].route: unknown route 'defualt' (did you mean 'default'?)"),
        ("routes.yaml:9:", "invalid regular expression"),
        ("routes.yaml:10:", "'25:00-03:00' is not a time range"),
        ("routes.yaml:11:", "a rule needs a condition"),
        ("routes.yaml:13:", "'blok' is not one of block, redact, warn, allow (did you mean 'block'?)"),
        ("routes.yaml:13:", "allow_providers: unknown provider 'openai'"),
    ]
    for where, what in expected:
        assert any(p.startswith(where) and what in p for p in ps), f"{where} {what}\n--- got:\n{joined}"
    assert len(ps) == len(expected)


@pytest.mark.parametrize(("text", "needle"), [
    ("", "the file is empty"),
    ("# just a comment\n", "only comments"),
    ("routes: [\n", "invalid YAML"),
    ("- a\n- b\n", "expected a mapping, got a list"),
    ("routes: 5\n", "routes: expected a mapping, got a whole number"),
    ("routes:\n  default: {provider: a, model: m, timeout_s: soon}\nproviders: {a: {type: openai}}\n",
     "timeout_s: expected a number, got a string"),
    ("routes:\n  default: {provider: a, model: m, retries: -1}\nproviders: {a: {type: openai}}\n",
     "retries: must be at least 0"),
    ("routes:\n  default: {provider: a}\nproviders: {a: {type: openai}}\n", "missing `model:`"),
    ("routes:\n  default: {provider: a, model: m}\n  default: {provider: a, model: n}\nproviders: {a: {type: openai}}\n",
     "'default' is defined twice"),
    ("version: 2\nroutes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n", "reads version 1"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai, key_env: sk-ant-abc}}\n",
     "is not an environment variable name"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai, base_url: localhost:8080}}\n",
     "is not an http(s) URL"),
    ("routes: {x: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n", "no route is called 'default'"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n"
     "rules: [{prefix: debug, route: default}]\n", "must be a slash and one word"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n"
     "rules: [{prefix: /d, route: default}, {prefix: /d, route: default}]\n", "already used by rule 1"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n"
     "rules: [{min_tokens: 10, max_tokens: 5, route: default}]\n", "no prompt can match"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\n"
     "profiles: {w: {budget: {on_exceed: downgrade}}}\n", "needs `downgrade: ROUTE`"),
    ("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: openai}}\ncode: {think: nope}\n",
     "code.think: unknown route 'nope'"),
])
def test_bad_configs_are_named(text, needle):
    ps = problems(text)
    assert any(needle in p for p in ps), ps
    assert all(p.startswith("routes.yaml") for p in ps)


def test_wrong_types_name_what_was_expected():
    ps = problems("routes:\n  default: {provider: a, model: m, fallback: {x: 1}}\nproviders: {a: {type: openai}}\n")
    assert any("routes.default.fallback: expected a list, got a mapping" in p for p in ps)


def test_claude_code_routes_need_an_anthropic_provider():
    ps = problems("routes: {default: {provider: o, model: m, via: claude-code}}\n"
                  "providers: {o: {type: openai, base_url: http://127.0.0.1:1/v1}}\n")
    assert any("via: claude-code needs a provider of type anthropic" in p for p in ps)


def test_subscription_providers_only_through_claude_code():
    ps = problems("routes: {default: {provider: a, model: m}}\nproviders: {a: {type: anthropic, auth: subscription}}\n")
    assert any("only Claude Code can use" in p for p in ps)
