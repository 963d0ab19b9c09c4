"""The router: every rule kind, precedence, midnight-wrapping hours, and properties over arbitrary text."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routesh.core.configfile import builtin_text, parse
from routesh.core.hours import in_hours, parse_hours
from routesh.core.router import decide, fallback_chain, split_prefix

NOON = datetime(2026, 11, 22, 12, 0)

CONFIG = """
default_route: default
providers:
  a: {type: anthropic}
routes:
  default: {provider: a, model: claude-sonnet-4-6}
  quick: {provider: a, model: claude-haiku-4-5, fallback: [default]}
  deep: {provider: a, model: claude-opus-4-7, fallback: [quick]}
  night: {provider: a, model: claude-haiku-4-5}
  big: {provider: a, model: claude-sonnet-4-6}
  small: {provider: a, model: claude-haiku-4-5}
  sql: {provider: a, model: claude-sonnet-4-6}
  combo: {provider: a, model: claude-opus-4-7}
rules:
  - {keywords: [migration], hours: "09:00-17:00", route: combo}
  - {keywords: [failing test, fixture], route: quick}
  - {regex: '(?i)\\bselect\\b.+\\bfrom\\b', route: sql}
  - {min_tokens: 1000, route: big}
  - {max_tokens: 3, route: small}
  - {hours: "22:00-06:00", route: night}
  - {prefix: /deep, route: deep}
"""


@pytest.fixture(scope="module")
def config():
    return parse(CONFIG, "routes.yaml")


def test_prefix_rules_win_even_when_listed_last(config):
    d = decide("/deep fix the failing test", config, NOON)
    assert d.route == "deep"
    assert d.matched == "/deep"
    assert d.text == "fix the failing test"  # the prefix is stripped from what is sent
    assert "starts with /deep" in d.reason and "line" in d.reason


def test_prefix_on_its_own_line_and_leading_space(config):
    d = decide("  /deep\nwhy does this hang?", config, NOON)
    assert (d.route, d.text) == ("deep", "why does this hang?")


def test_unknown_prefix_is_just_text(config):
    d = decide("/usr/bin/env is missing in the container image here", config, NOON)
    assert d.route == "default" and d.text.startswith("/usr/bin/env")


def test_keywords_are_case_insensitive_whole_words_and_phrases(config):
    assert decide("Please FIX the Failing   Test now", config, NOON).route == "quick"
    assert decide("a fixture problem", config, NOON).matched == "fixture"
    assert decide("fixtured are fine here, more words", config, NOON).route == "default"  # whole word only
    assert decide("prefixture here and some other words", config, NOON).route == "default"


def test_keyword_hidden_inside_a_longer_keyword_is_still_found():
    c = parse("""
providers: {a: {type: anthropic}}
routes: {default: {provider: a, model: m}, t: {provider: a, model: m}, ft: {provider: a, model: m}}
rules:
  - {keywords: [test], route: t}
  - {keywords: [failing test], route: ft}
""", "r.yaml")
    assert decide("my failing test breaks", c, NOON).route == "t"  # rule 1 comes first in file order


def test_regex_rule_reports_what_matched(config):
    d = decide("why is SELECT * FROM users slow", config, NOON)
    assert d.route == "sql"
    assert d.matched == "SELECT * FROM"


def test_min_and_max_tokens(config):
    assert decide("word " * 5000, config, NOON).route == "big"
    assert decide("hi", config, NOON).route == "small"


def test_first_match_in_file_order(config):
    # both the keyword rule (2) and the regex rule (3) match; rule 2 is first
    assert decide("fixture: select a from b", config, NOON).route == "quick"


def test_combined_conditions_must_all_hold(config):
    assert decide("plan the migration of the billing service", config, NOON).route == "combo"
    evening = datetime(2026, 11, 22, 18, 30)
    assert decide("plan the migration of the billing service", config, evening).route == "default"
    d = decide("plan the migration of the billing service", config, NOON)
    assert "migration" in d.reason and "09:00-17:00" in d.reason


@pytest.mark.parametrize(("hh", "mm", "inside"), [(22, 0, True), (23, 59, True), (0, 0, True), (5, 59, True),
                                                  (6, 0, False), (12, 0, False), (21, 59, False)])
def test_hours_wrap_midnight(hh, mm, inside):
    assert in_hours("22:00-06:00", datetime(2026, 1, 1, hh, mm)) is inside


def test_hours_rule_in_the_router(config):
    late = datetime(2026, 11, 22, 23, 15)
    d = decide("refactor the parser module please", config, late)
    assert d.route == "night" and d.matched == "23:15"


@pytest.mark.parametrize("bad", ["25:00-03:00", "9-17", "10:00-10:00", "", "10:00-24:30", "ab:cd-ef:gh"])
def test_parse_hours_rejects(bad):
    with pytest.raises(ValueError):
        parse_hours(bad)


def test_hours_to_midnight():
    assert parse_hours("18:00-24:00") == (18 * 60, 24 * 60)
    assert in_hours("18:00-24:00", datetime(2026, 1, 1, 23, 59))


def test_no_rule_matches_gives_default_and_its_chain(config):
    d = decide("refactor the parser module please", config, NOON)
    assert d.route == "default" and d.rule is None and "default" in d.reason


def test_forced_route_beats_rules(config):
    d = decide("/deep fix the failing test", config, NOON, route="sql")
    assert d.route == "sql" and d.forced and d.text == "fix the failing test"  # a known prefix is still stripped


def test_fallback_chain_is_flattened(config):
    assert fallback_chain(config, "deep") == ("quick", "default")
    assert decide("/deep x", config, NOON).fallbacks == ("quick", "default")


def test_split_prefix():
    assert split_prefix("/debug  it fails") == ("/debug", "it fails")
    assert split_prefix("/debug") == ("/debug", "")
    assert split_prefix("no prefix") == (None, "no prefix")


def test_builtin_default_routes_the_articles_examples():
    c = parse(builtin_text(), "builtin")
    assert decide("/architect split billing from the monolith", c, NOON).route == "architect"
    assert decide("/large-context here is the log", c, NOON).route == "large-context"
    assert decide("update the snapshot for the header", c, NOON).route == "quick"
    assert decide("x " * 200_000, c, NOON).route == "large-context"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_never_raises_and_always_returns_an_existing_route(config, text, hour, minute):
    d = decide(text, config, datetime(2026, 1, 1, hour, minute))
    assert d.route in config.routes
    assert all(fb in config.routes for fb in d.fallbacks)
    assert d.estimated_input_tokens >= 0


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.sampled_from(["fixture", "failing", "test", "/deep", "select", "from", "migration",
                                       "x", "\n", "  ", "é", "SELECT"]), max_size=30))
def test_never_raises_on_rule_words(config, words):
    d = decide(" ".join(words), config, NOON)
    assert d.route in config.routes


# ---- singular and plural keywords ---------------------------------------------------------------

INFLECT = """
providers: {a: {type: anthropic}}
routes:
  default: {provider: a, model: claude-sonnet-4-6}
  quick: {provider: a, model: claude-haiku-4-5}
  data: {provider: a, model: claude-haiku-4-5}
  css: {provider: a, model: claude-haiku-4-5}
rules:
  - {keywords: [failing test, fixtures, fix, flaky], route: quick}
  - {keywords: [query, class, c++, go], route: data}
  - {keywords: [matches], route: css}
"""


@pytest.mark.parametrize("text,route,matched", [
    ("Inspect the failing tests", "quick", "failing tests"),
    ("the FAILING   TESTS again", "quick", "FAILING   TESTS"),
    ("update the fixture", "quick", "fixture"),
    ("update the fixtures", "quick", "fixtures"),
    ("two fixes needed", "quick", "fixes"),
    ("slow queries here", "data", "queries"),
    ("one query here", "data", "query"),
    ("nested classes here", "data", "classes"),
    ("a c++ thing", "data", "c++"),
    ("one match only", "css", "match"),
])
def test_keywords_match_singular_and_plural(text, route, matched):
    d = decide(text, parse(INFLECT, "r.yaml"), NOON)
    assert (d.route, d.matched) == (route, matched)


@pytest.mark.parametrize("text", ["a fixtured thing here", "prefixes here", "the gos here", "a fixs typo",
                                  "queryies", "flakys", "classs"])
def test_inflection_is_only_the_documented_endings(text):
    assert decide(text, parse(INFLECT, "r.yaml"), NOON).route == "default"


def test_keywords_ignore_attached_text_but_count_its_tokens():
    config = parse(CONFIG, "r.yaml")
    d = decide("explain", config, NOON, attached="\n\nthe failing test " * 400)
    assert d.route == "big" and d.estimated_input_tokens >= 1000
    assert d.text.startswith("explain\n\nthe failing test")
    assert decide("explain", config, NOON, attached="\n\nthe failing test").route == "default"
