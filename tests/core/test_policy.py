"""Profile choice and allow-lists: decided before anything is sent, fallbacks included."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.core.configfile import parse
from routesh.core.policy import UnknownProfile, check, choose_profile
from routesh.core.router import decide

CONFIG = """
default_route: default
default_profile: personal
providers:
  anthropic: {type: anthropic}
  openrouter: {type: openai, base_url: https://openrouter.ai/api/v1}
  ollama: {type: openai, base_url: http://127.0.0.1:11434/v1, key: none}
routes:
  default: {provider: anthropic, model: claude-sonnet-4-6, fallback: [cheap]}
  cheap: {provider: openrouter, model: deepseek, fallback: [local]}
  local: {provider: ollama, model: qwen}
  deep: {provider: anthropic, model: claude-opus-4-7, fallback: [cheap, default]}
rules:
  - {prefix: /cheap, route: cheap}
  - {prefix: /deep, route: deep}
  - {keywords: [local], route: local}
profiles:
  personal: {}
  work-approved: {allow_providers: [anthropic], paths: [~/work]}
  strict: {allow_routes: [default], paths: [/srv/strict]}
"""


@pytest.fixture(scope="module")
def config():
    return parse(CONFIG, "routes.yaml")


def test_precedence_flag_env_ccroute_paths_default(config, tmp_path):
    home = tmp_path
    (home / "work" / "proj").mkdir(parents=True)
    work = home / "work" / "proj"
    env = {"ROUTESH_PROFILE": "strict", "CLAUDE_CODE_ROUTE": "personal"}
    assert choose_profile(config, "personal", env, work, home).name == "personal"
    assert choose_profile(config, None, env, work, home).name == "strict"
    assert choose_profile(config, None, {"CLAUDE_CODE_ROUTE": "strict"}, work, home).why == "set by $CLAUDE_CODE_ROUTE"
    auto = choose_profile(config, None, {}, work, home)
    assert auto.name == "work-approved" and "~/work" in auto.why
    assert choose_profile(config, None, {}, home, home).name == "personal"


def test_paths_do_not_match_siblings_with_the_same_prefix(config, tmp_path):
    (tmp_path / "workshop").mkdir()
    assert choose_profile(config, None, {}, tmp_path / "workshop", tmp_path).name == "personal"


def test_unknown_profile_has_did_you_mean(config, tmp_path):
    with pytest.raises(UnknownProfile, match=r"unknown profile 'work-aproved' \(from --profile\) \(did you mean 'work-approved'\?\)"):
        choose_profile(config, "work-aproved", {}, tmp_path, tmp_path)
    with pytest.raises(UnknownProfile, match=r"from \$ROUTESH_PROFILE"):
        choose_profile(config, None, {"ROUTESH_PROFILE": "nope"}, tmp_path, tmp_path)


def test_disallowed_provider_is_refused_with_reason(config):
    d = decide("/cheap hi", config, datetime(2026, 1, 1))
    v = check(d, config, config.profiles["work-approved"])
    assert not v.allowed
    assert "work-approved" in v.why and "openrouter" in v.why and v.routes == ()


def test_disallowed_fallbacks_are_skipped_and_said(config):
    d = decide("/deep hi", config, datetime(2026, 1, 1))
    v = check(d, config, config.profiles["work-approved"])
    assert v.allowed and v.routes == ("deep", "default")
    assert [r for r, _ in v.skipped] == ["cheap", "local"]


def test_allow_routes(config):
    d = decide("/deep hi", config, datetime(2026, 1, 1))
    v = check(d, config, config.profiles["strict"])
    assert not v.allowed and "only the routes default" in v.why


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.sampled_from(["/cheap x", "/deep y", "local z", "hello"]),
       profile=st.sampled_from(["work-approved", "personal", "strict"]))
def test_no_decision_or_fallback_ever_uses_a_disallowed_provider(config, text, profile):
    p = config.profiles[profile]
    v = check(decide(text, config, datetime(2026, 1, 1)), config, p)
    for route in v.routes:
        r = config.routes[route]
        assert p.allow_providers is None or r.provider in p.allow_providers
        assert p.allow_routes is None or route in p.allow_routes


def test_apply_budget_refuses_downgrades_or_leaves_alone(config):
    from routesh.core.policy import BudgetVerdict, apply_budget

    d = decide("/deep hi", config, datetime(2026, 1, 1))
    work, personal = config.profiles["work-approved"], config.profiles["personal"]
    v = check(d, config, personal)
    assert apply_budget(v, BudgetVerdict(False, "plenty left"), config, personal) is v
    blocked = apply_budget(v, BudgetVerdict(True, "spent", None), config, personal)
    assert (blocked.allowed, blocked.why, blocked.routes) == (False, "spent", ())
    down = apply_budget(v, BudgetVerdict(True, "spent", "local"), config, personal)
    assert down.allowed and down.routes == ("local",) and "downgraded to route local" in down.why
    not_allowed = apply_budget(check(d, config, work), BudgetVerdict(True, "spent", "local"), config, work)
    assert not not_allowed.allowed and "the downgrade route is not allowed either" in not_allowed.why
