"""routes.yaml validation: every problem at once, with its line and a did-you-mean."""

from __future__ import annotations

import pytest

from routesh.core.configfile import builtin_text, parse
from routesh.core.yamlnodes import ConfigError

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

    root = Path(__file__).resolve().parents[2] / "routes.yaml"
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


MINI = "routes:\n  default: {provider: a, model: m}\nproviders: {a: {type: openai}}\n"


@pytest.mark.parametrize("text", [
    "routes: {}\nproviders: {a: {type: openai}}\n",
    "routes:\nproviders: {a: {type: openai}}\n",
    "providers: {a: {type: openai}}\nroutes: []\n",
    "providers: {a: {type: openai}}\nroutes: ~\ndefault_route: default\n",
])
def test_empty_routes_are_an_error_at_their_line(text):
    ps = problems(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("routes:"))
    assert any(p.startswith(f"routes.yaml:{line}: routes: is empty; add at least one") for p in ps), ps


# (field, where it goes in MINI, its minimum, its maximum) for every number in routes.yaml
NUMBERS = [
    ("max_output_tokens", "route", 1, 100_000_000), ("timeout_s", "route", 0.1, 86_400),
    ("retries", "route", 0, 10), ("min_tokens", "rule", 0, 100_000_000), ("max_tokens", "rule", 0, 100_000_000),
    ("daily_usd", "budget", 0, 1_000_000), ("monthly_usd", "budget", 0, 1_000_000),
    ("input", "model", 0, 10_000), ("output", "model", 0, 10_000), ("cache_read", "model", 0, 10_000),
    ("cache_write", "model", 0, 10_000), ("context_window", "model", 1, 100_000_000),
    ("long_context_threshold", "code", 1, 100_000_000), ("version", "top", 0, 1_000),
]


def with_number(field: str, place: str, value: str) -> tuple[str, int]:
    """MINI with one number set; returns the text and the line the number is on."""
    extra = {"route": f"  r: {{provider: a, model: m, {field}: {value}}}\n",
             "rule": f"rules:\n  - {{{field}: {value}, route: default}}\n",
             "budget": f"profiles:\n  p:\n    budget: {{{field}: {value}}}\n",
             "model": f"models:\n  m: {{{field}: {value}}}\n",
             "code": f"code: {{{field}: {value}}}\n",
             "top": f"{field}: {value}\n"}[place]
    if place == "route":
        text = MINI.replace("providers:", extra + "providers:")
    else:
        text = MINI + extra
    return text, len(text.splitlines()) - (0 if place in ("route",) else 0) - (1 if place == "route" else 0)


@pytest.mark.parametrize(("field", "place", "lo", "hi"), NUMBERS)
@pytest.mark.parametrize(("value", "why"), [
    (".nan", "must be a finite number"), (".NaN", "must be a finite number"), (".inf", "must be a finite number"),
    ("-.inf", "must be a finite number"), ("1.0e+999", "must be a finite number"),
    ("-1", "must be at least"), ("1" + "0" * 30, "must be at most"), ("9" * 5000, "is not a usable number"),
    ("true", "expected a"), ("'5'", "expected a"), ("[1]", "expected a"), ("{a: 1}", "expected a"),
    ("~", "expected a"), ("2024-01-01", "expected a"),
])
def test_every_number_rejects_what_would_break_it(field, place, lo, hi, value, why):
    text, _ = with_number(field, place, value)
    whole = field in ("max_output_tokens", "retries", "min_tokens", "max_tokens", "context_window",
                      "long_context_threshold", "version")
    if whole and why == "must be a finite number":
        why = "expected a whole number, got a number"
    ps = problems(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if f"{field}: {value}" in t)
    assert any(p.startswith(f"routes.yaml:{line}:") and field in p and why in p for p in ps), ps
    assert value not in ("9" * 5000,) or all(len(p) < 300 for p in ps)


@pytest.mark.parametrize(("field", "place", "lo", "hi"), [n for n in NUMBERS if n[0] != "version"])
def test_every_number_accepts_its_bounds(field, place, lo, hi):
    for value in (lo, hi):
        text, _ = with_number(field, place, repr(value))
        try:
            parse(text, "routes.yaml")
        except ConfigError as exc:
            assert field not in str(exc), str(exc)


def chain(n: int, width: int = 2) -> str:
    """n routes, each falling back to the next `width` ones: cycle-free, with exponentially many paths."""
    lines = ["providers: {a: {type: openai}}", "default_route: r0", "routes:"]
    for i in range(n):
        fb = ", ".join(f"r{j}" for j in range(i + 1, min(n, i + 1 + width)))
        lines.append(f"  r{i}: {{provider: a, model: m, fallback: [{fb}]}}")
    return "\n".join(lines) + "\n"


def test_fallback_graph_checks_are_linear():
    import time

    from routesh.core.router import fallback_chain

    timings = []
    for n in (500, 2_000):
        start = time.perf_counter()
        config = parse(chain(n), "routes.yaml")
        assert fallback_chain(config, "r0") == tuple(f"r{i}" for i in range(1, n))
        timings.append(time.perf_counter() - start)
    assert timings[1] < 12 * timings[0] + 0.5, timings  # 4x the routes, not 16x or 2^1500x the time


def test_a_long_linear_chain_loads_and_routes():
    from routesh.core.router import fallback_chain

    config = parse(chain(1_100, width=1), "routes.yaml")
    assert len(fallback_chain(config, "r0")) == 1_099


def test_cycles_are_still_found_each_once():
    text = chain(40).replace("fallback: [r39]", "fallback: [r0, r20]").replace("r5: {provider: a, model: m, "
                                                                                "fallback: [r6, r7]",
                                                                                "r5: {provider: a, model: m, "
                                                                                "fallback: [r6, r7, r5]")
    ps = [p for p in problems(text) if "fallback cycle" in p]
    assert any("r5 → r5" in p for p in ps) and any(p.endswith("remove one of these fallbacks") for p in ps)
    assert len(ps) == len(set(ps))


@pytest.mark.parametrize(("section", "value", "needle"), [
    ("rules", "{a: 1}", "rules: expected a list, got a mapping"),
    ("rules", "~", "rules: expected a list, got nothing"),
    ("profiles", "[p]", "profiles: expected a mapping, got a list"),
    ("models", "5", "models: expected a mapping, got a whole number"),
    ("code", "[]", "code: expected a mapping, got a list"),
    ("claude", "yes", "claude: expected a mapping, got true or false"),
    ("default_route", "[default]", "default_route: expected a string, got a list"),
])
def test_sections_of_the_wrong_type_are_named(section, value, needle):
    ps = problems(MINI + f"{section}: {value}\n")
    assert any(p.startswith("routes.yaml:4:") and needle in p for p in ps), ps


def test_providers_of_the_wrong_type_are_named():
    ps = problems("routes:\n  default: {provider: a, model: m}\nproviders: [a]\n")
    assert any(p.startswith("routes.yaml:3:") and "providers: expected a mapping, got a list" in p for p in ps), ps


@pytest.mark.parametrize(("key", "value"), [
    ("fallback", "~"), ("fallback", "{a: 1}"), ("env", "~"), ("env", "[a]"), ("env", "{A: [1]}"),
    ("system", "[a]"), ("via", "~"), ("allow_upgrade", "'yes'"), ("provider", "~"), ("model", "{a: 1}"),
])
def test_route_fields_of_the_wrong_type_are_named(key, value):
    ps = problems(MINI.replace("model: m}", f"model: m, {key}: {value}}}".replace("model: m, model:", "model:")))
    assert any(p.startswith("routes.yaml:2:") and key in p for p in ps), ps


def test_duplicate_keys_at_every_level():
    ps = problems("routes:\n  default: {provider: a, model: m, model: n}\nproviders: {a: {type: openai}}\n"
                  "providers: {}\n")
    assert any(p.startswith("routes.yaml:2:") and "'model' appears twice" in p for p in ps)
    assert any(p.startswith("routes.yaml:4:") and "'providers' appears twice" in p for p in ps)


@pytest.mark.parametrize("fallback", ['""', "[' ']", "[default, '']"])
def test_an_empty_fallback_name_is_refused_with_the_fix(fallback: str) -> None:
    ps = problems(f"routes:\n  default: {{provider: a, model: m, fallback: {fallback}}}\n"
                  "providers: {a: {type: openai}}\n")
    assert any("routes.default.fallback: an empty route name" in p for p in ps), ps
