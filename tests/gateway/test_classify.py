"""Classification of Claude Code's requests: recorded requests from the real CLI, and every rule's edge cases."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from routesh.core.configfile import parse
from routesh.gateway import jsonsplice
from routesh.gateway.classify import (
    SENTINEL_BACKGROUND,
    SENTINEL_MAIN,
    SENTINEL_SUBAGENT,
    PrefixEdit,
    classify,
    find_prefix,
    has_image,
    has_web_search,
    latest_human_turn,
    latest_user_text,
    model_name,
    quick_tokens,
    strip_prefix,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "claude_code_requests"
NOW = datetime(2026, 5, 4, 12, 0)

FULL = """
version: 1
default_route: default
default_profile: me
providers:
  anthropic: {type: anthropic, key_env: ANTHROPIC_API_KEY}
  openrouter: {type: openai, base_url: https://openrouter.ai/api/v1, key_env: OPENROUTER_API_KEY}
routes:
  default:   {provider: anthropic, model: claude-sonnet-4-6}
  main:      {provider: anthropic, model: claude-opus-4-7}
  bg:        {provider: anthropic, model: claude-haiku-4-5}
  sub:       {provider: openrouter, model: some/sub}
  think:     {provider: anthropic, model: claude-opus-4-7}
  long:      {provider: anthropic, model: claude-sonnet-4-6}
  web:       {provider: openrouter, model: some/online}
  image:     {provider: openrouter, model: some/vision}
  architect: {provider: anthropic, model: claude-opus-4-7}
  night:     {provider: anthropic, model: claude-haiku-4-5}
rules:
  - {prefix: /architect, route: architect}
  - {prefix: /night, hours: "22:00-06:00", route: night}
  - {keywords: [fixture], route: bg}
profiles:
  me: {}
code:
  default: main
  background: bg
  subagent: sub
  think: think
  long_context: long
  long_context_threshold: 60000
  web_search: web
  image: image
"""

BARE = """
version: 1
default_route: default
default_profile: me
providers:
  anthropic: {type: anthropic, key_env: ANTHROPIC_API_KEY}
routes:
  default: {provider: anthropic, model: claude-sonnet-4-6}
profiles:
  me: {}
"""


@pytest.fixture(scope="module")
def full() -> Any:
    return parse(FULL, "full.yaml")


@pytest.fixture(scope="module")
def bare() -> Any:
    return parse(BARE, "bare.yaml")


def recorded(name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(body, lower-cased headers) of one recorded Claude Code request."""
    data = json.loads((RECORDED / name).read_text())
    return data["body"], {k.lower(): v for k, v in data["headers"].items()}


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def req(*content: Any, model: str = SENTINEL_MAIN, **extra: Any) -> dict[str, Any]:
    """A minimal request whose last user message holds these blocks (a str is one text block)."""
    blocks = [{"type": "text", "text": c} if isinstance(c, str) else c for c in content]
    return {"model": model, "max_tokens": 1000, "messages": [{"role": "user", "content": blocks}], **extra}


# ------------------------------------------------------------------------------------------------ recorded


def test_recorded_main_turn_is_main_not_think(full: Any) -> None:
    """thinking {type: adaptive} is present on every main turn; it is not a thinking budget."""
    body, headers = recorded("main_turn_opus_adaptive.json")
    body = {**body, "model": SENTINEL_MAIN}
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("main", "main")
    assert "think" not in c.signals
    assert 15000 < c.estimated_tokens < 25000


def test_recorded_main_turn_with_a_real_model_name_is_main(full: Any) -> None:
    """Without routesh's names the request is the main turn: no guessing from 'opus' in the name."""
    body, headers = recorded("main_turn_opus_adaptive.json")
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("main", "main")


def test_recorded_background_title(full: Any) -> None:
    body, headers = recorded("background_title.json")
    assert body["model"] == SENTINEL_BACKGROUND
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("bg", "background")


def test_recorded_subagent_by_model_and_by_header(full: Any) -> None:
    body, headers = recorded("subagent_tool_result_blocks.json")
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("sub", "subagent")
    # the x-claude-code-agent-id header alone says it too: 2.1.197 sends it on every subagent request, and
    # the parent-agent-id header only when the subagent was started by another subagent
    other = {**body, "model": "claude-sonnet-4-6"}
    only_agent = {k: v for k, v in headers.items() if k != "x-claude-code-parent-agent-id"}
    c = classify(other, full, NOW, raw=raw(other), headers=only_agent)
    assert (c.route, c.kind) == ("sub", "subagent")
    assert "x-claude-code-agent-id" in c.reason
    # without either, it is a main turn
    c = classify(other, full, NOW, raw=raw(other), headers={})
    assert c.kind == "main"


def test_recorded_thinking_budget_below_the_default_is_not_think(full: Any) -> None:
    """MAX_THINKING_TOKENS=8000 lowers the budget Claude Code sends on every turn: that is not a think request."""
    body, headers = recorded("thinking_budget_haiku.json")
    assert body["thinking"] == {"budget_tokens": 8000, "type": "enabled"}
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("main", "main")


def test_recorded_default_budget_of_the_older_families_is_main(full: Any) -> None:
    """sonnet-4-5 (like opus-4-5, opus-4-1, haiku-4-5) carries enabled/31999 on every main turn: main, not think."""
    body, headers = recorded("plan_mode_sonnet45.json")
    assert body["thinking"] == {"budget_tokens": 31999, "type": "enabled"}
    without_plan = copy.deepcopy(body)
    for m in without_plan["messages"]:
        m["content"] = [b for b in m["content"] if "Plan mode is active" not in b.get("text", "")]
    c = classify(without_plan, full, NOW, raw=raw(without_plan), headers=headers)
    assert (c.route, c.kind) == ("main", "main") and "think" not in c.signals
    # the same request in plan mode, as recorded, is a think turn
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("think", "think") and "plan mode" in c.reason
    # a raised MAX_THINKING_TOKENS is
    raised = {**without_plan, "thinking": {"type": "enabled", "budget_tokens": 48000}, "max_tokens": 64000}
    c = classify(raised, full, NOW, raw=raw(raised), headers=headers)
    assert (c.route, c.kind) == ("think", "think") and "48,000" in c.reason


@pytest.mark.parametrize("name", ["main_turn_opus_adaptive.json", "plan_mode_sonnet45.json",
                                  "tool_result_error_sonnet.json"])
def test_ultrathink_typed_in_the_latest_human_turn_is_think_on_every_family(full: Any, name: str) -> None:
    """Adaptive families ignore "ultrathink" in what they send; the gateway reads it from the turn itself."""
    body, headers = recorded(name)
    body = copy.deepcopy(body)
    for m in body["messages"]:
        if m["role"] == "user" and isinstance(m["content"], list):
            m["content"] = [b for b in m["content"] if "Plan mode is active" not in b.get("text", "")]
    index, texts = latest_human_turn(body["messages"])
    block = texts[-1][0]
    body["messages"][index]["content"][block]["text"] = "ultrathink: why is the cache cold?"
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert c.kind in ("think", "image"), c.reason
    assert "think" in c.signals and c.signals.count("think") == 1
    # ultrathink in a system reminder or an earlier turn is not the person asking now
    body["messages"][index]["content"][block]["text"] = "<system-reminder>ultrathink</system-reminder>"
    body["messages"][index]["content"].append({"type": "text", "text": "plain question"})
    assert "think" not in classify(body, full, NOW, raw=raw(body), headers=headers).signals


def test_effort_max_is_think(full: Any) -> None:
    adaptive = {"type": "adaptive"}
    assert classify(req("hi", thinking=adaptive, output_config={"effort": "max"}), full, NOW).kind == "think"
    assert classify(req("hi", thinking={"type": "adaptive"}, output_config={"effort": "xhigh"}), full, NOW).kind \
        == "main"


def test_recorded_haiku_model_is_not_background(full: Any) -> None:
    """claude-haiku-4-5 asked for by name is not a background request: only routesh-background is."""
    body, headers = recorded("thinking_budget_haiku.json")
    body = {k: v for k, v in body.items() if k != "thinking"}
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert c.kind == "main"


def test_recorded_image_in_tool_result(full: Any) -> None:
    body, headers = recorded("tool_result_image.json")
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("image", "image")


def test_recorded_tool_error_turn_is_main(full: Any) -> None:
    body, headers = recorded("tool_result_error_sonnet.json")
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind) == ("main", "main")


def test_recorded_webSearch_client_tool_is_not_web_search(full: Any) -> None:
    """Every Claude Code request offers its WebSearch client tool; only the web_search server tool counts."""
    body, _ = recorded("main_turn_opus_adaptive.json")
    assert any(t.get("name") == "WebSearch" for t in body["tools"])
    assert not has_web_search(body["tools"])
    body = {**body, "tools": [*body["tools"], {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]}
    c = classify(body, full, NOW, raw=raw(body))
    assert (c.route, c.kind) == ("web", "web_search")


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDED.glob("*.json")))
def test_recorded_requests_classify_under_the_bare_config(bare: Any, name: str) -> None:
    """With no code: section everything goes to default_route, and the reason says which class was seen."""
    body, headers = recorded(name)
    c = classify(body, bare, NOW, raw=raw(body), headers=headers)
    assert c.route == "default"
    assert c.kind == "main"
    if c.signals != ("main",):
        assert "is not set" in c.reason


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDED.glob("*.json")))
def test_quick_estimate_is_close_to_the_counted_one(name: str) -> None:
    from routesh.gateway.translate import count_tokens

    body, _ = recorded(name)
    counted = count_tokens(body)
    assert abs(quick_tokens(raw(body)) - counted) <= max(200, counted * 0.2)


# ------------------------------------------------------------------------------------------------ precedence


def test_sentinels_map_back(full: Any) -> None:
    assert classify(req("hi"), full, NOW).route == "main"
    assert classify(req("hi", model=SENTINEL_BACKGROUND), full, NOW).route == "bg"
    assert classify(req("hi", model=SENTINEL_SUBAGENT), full, NOW).route == "sub"
    assert classify(req("hi", model="routesh-main[1m]"), full, NOW).route == "main"


def test_sentinels_may_be_led_by_a_model_name(full: Any) -> None:
    """`routesh code` gives claude-sonnet-4-6-routesh-main so Claude Code shapes requests for Sonnet."""
    assert classify(req("hi", model="claude-sonnet-4-6-routesh-main"), full, NOW).route == "main"
    assert classify(req("hi", model="claude-haiku-4-5-routesh-background"), full, NOW).route == "bg"
    assert classify(req("hi", model="claude-opus-4-7-routesh-subagent"), full, NOW).route == "sub"
    assert classify(req("hi", model="claude-opus-4-7-routesh-subagentx"), full, NOW).kind == "main"
    assert classify(req("hi", model="routesh-background-claude"), full, NOW).kind == "main"


def test_model_naming_a_route_uses_it(full: Any) -> None:
    c = classify(req("hi", model="architect"), full, NOW)
    assert (c.route, c.kind) == ("architect", "model")
    assert c.label == "model architect"


def test_think_needs_a_budget_above_claude_codes_default(full: Any) -> None:
    for thinking in ({"type": "adaptive"}, {"type": "disabled"}, {"type": "enabled"},
                     {"type": "enabled", "budget_tokens": 0}, {"type": "enabled", "budget_tokens": True},
                     {"type": "enabled", "budget_tokens": "90000"}, {"type": "enabled", "budget_tokens": 1024},
                     {"type": "enabled", "budget_tokens": 31999}, None, {}):
        assert classify(req("hi", thinking=thinking), full, NOW).kind == "main", thinking
    assert classify(req("hi", thinking={"type": "enabled", "budget_tokens": 32000}), full, NOW).route == "think"


def test_long_context_beats_subagent_background_and_the_rest(full: Any) -> None:
    big = "word " * 300_000
    body = req(big, {"type": "image", "source": {"type": "url", "url": "http://x/y.png"}},
               model=SENTINEL_SUBAGENT, thinking={"type": "enabled", "budget_tokens": 40000})
    c = classify(body, full, NOW, raw=raw(body))
    assert (c.route, c.kind) == ("long", "long_context")
    assert c.signals == ("long_context", "subagent", "image", "think")


def test_threshold_is_respected_both_ways(full: Any) -> None:
    under = req("word " * 40_000)
    over = req("word " * 90_000)
    assert classify(under, full, NOW, raw=raw(under)).kind == "main"
    assert classify(over, full, NOW, raw=raw(over)).kind == "long_context"
    # near the threshold the quick estimate is not trusted: the text is counted
    near = req("word " * 55_000)
    c = classify(near, full, NOW, raw=raw(near))
    from routesh.gateway.translate import count_tokens

    assert c.estimated_tokens == count_tokens(near)


def test_base64_images_are_not_counted_as_text(full: Any) -> None:
    data = "A" * 400_000  # 400 KB of base64 would be ~100k tokens as text
    body = req("what is this?", {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                             "data": data}})
    c = classify(body, full, NOW, raw=raw(body))
    assert c.kind == "image"
    assert c.estimated_tokens < 5000


def test_unset_classes_fall_through_in_order(bare: Any) -> None:
    config = parse(BARE + "code: {think: default}\n", "x.yaml")
    body = req("hi", model=SENTINEL_BACKGROUND, thinking={"type": "enabled", "budget_tokens": 40000})
    c = classify(body, config, NOW)
    assert (c.kind, c.route) == ("think", "default")
    assert "code.background is not set" not in c.reason  # background seen, but think decided


def test_web_search_and_image_and_think_order(full: Any) -> None:
    tool = {"type": "web_search_20250305", "name": "web_search"}
    img = {"type": "image", "source": {"type": "url", "url": "http://x"}}
    think = {"type": "enabled", "budget_tokens": 48000}
    assert classify(req("q", img, tools=[tool], thinking=think), full, NOW).kind == "web_search"
    assert classify(req("q", img, thinking=think), full, NOW).kind == "image"
    assert classify(req("q", thinking=think), full, NOW).kind == "think"


def test_web_search_wins_over_subagent_model_and_long_context(full: Any) -> None:
    """A subagent's web search is still a search: it goes where searches can be served."""
    tool = {"type": "web_search_20250305", "name": "web_search"}
    c = classify(req("q", tools=[tool], model=SENTINEL_SUBAGENT), full, NOW)
    assert (c.kind, c.route) == ("web_search", "web")
    c = classify(req("q", tools=[tool]), full, NOW, headers={"x-claude-code-agent-id": "a1"})
    assert (c.kind, c.route) == ("web_search", "web") and "subagent" in c.signals
    big = req("word " * 90_000, tools=[tool], model="architect")
    assert classify(big, full, NOW, raw=raw(big)).kind == "web_search"


def test_main_turn_on_the_small_model_is_main_on_the_background_route(full: Any) -> None:
    """`/model haiku` makes main turns ask for ANTHROPIC_DEFAULT_HAIKU_MODEL: they are main turns, with tools."""
    body, headers = recorded("tool_result_error_sonnet.json")
    body = {**body, "model": "claude-haiku-4-5-" + SENTINEL_BACKGROUND}
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.kind, c.route) == ("main", "bg")
    assert "background" not in c.signals
    # without a background route it is an ordinary main turn
    bare_bg = parse(FULL.replace("  background: bg\n", ""), "x.yaml")
    assert classify(body, bare_bg, NOW, raw=raw(body), headers=headers).route == "main"
    # the title request on the same model stays background
    title, headers = recorded("background_title.json")
    assert classify(title, full, NOW, raw=raw(title), headers=headers).kind == "background"


def test_image_only_counts_in_the_last_user_message(full: Any) -> None:
    img = {"type": "image", "source": {"type": "url", "url": "http://x"}}
    body = {"model": SENTINEL_MAIN, "messages": [
        {"role": "user", "content": [img, {"type": "text", "text": "look"}]},
        {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": "thanks"},
        {"role": "system", "content": "a trailing mid-conversation system message"},
    ]}
    assert classify(body, full, NOW).kind == "main"
    body["messages"][2]["content"] = [{"type": "tool_result", "tool_use_id": "t", "content": [img]}]
    assert classify(body, full, NOW).kind == "image"


# ------------------------------------------------------------------------------------------------ prefixes


def test_typed_prefix_routes_and_is_stripped(full: Any) -> None:
    body = req("<system-reminder>\nctx\n</system-reminder>", "/architect split billing out")
    c = classify(body, full, NOW)
    assert (c.route, c.kind, c.prefix) == ("architect", "prefix", "/architect")
    assert c.label == "prefix /architect"
    out = strip_prefix(body, c.edit)  # type: ignore[arg-type]
    assert out["messages"][0]["content"][1]["text"] == "split billing out"
    assert body["messages"][0]["content"][1]["text"] == "/architect split billing out"  # the original is untouched


def test_prefix_with_leading_space_and_in_string_content(full: Any) -> None:
    body = {"model": SENTINEL_MAIN, "messages": [{"role": "user", "content": "  /architect\nsplit it"}]}
    c = classify(body, full, NOW)
    assert c.route == "architect"
    assert strip_prefix(body, c.edit)["messages"][0]["content"] == "split it"  # type: ignore[arg-type]


def test_claude_code_slash_command_routes_and_its_block_is_removed(full: Any) -> None:
    """What Claude Code sends for `/architect design a cache` run as a command (`routesh code` installs it)."""
    body = req("<system-reminder>\nctx\n</system-reminder>",
               "<command-message>architect</command-message>\n<command-name>/architect</command-name>\n"
               "<command-args>design a cache</command-args>\n",
               "design a cache\n")
    c = classify(body, full, NOW)
    assert (c.route, c.prefix) == ("architect", "/architect")
    out = strip_prefix(body, c.edit)  # type: ignore[arg-type]
    texts = [b["text"] for b in out["messages"][0]["content"]]
    assert texts == ["<system-reminder>\nctx\n</system-reminder>", "design a cache\n"]


def test_recorded_prefix_after_a_local_command_routes(full: Any) -> None:
    """Recorded interactively: `say hi`, `/cost`, then `/architect design the billing split`; the human turn opens
    with /cost's <command-name> and <local-command-stdout> blocks, which are not what the person typed."""
    body, headers = recorded("prefix_after_local_command.json")
    c = classify(body, full, NOW, raw=raw(body), headers=headers)
    assert (c.route, c.kind, c.prefix) == ("architect", "prefix", "/architect")
    out = strip_prefix(body, c.edit)  # type: ignore[arg-type]
    assert "<command-name>/architect" not in json.dumps(out)
    assert latest_user_text(out["messages"]).endswith("design the billing split\n")


@pytest.mark.parametrize("typed", ["/architect plan it", " /architect plan it"])
def test_typed_prefix_after_local_command_blocks(full: Any, typed: str) -> None:
    body = req("<command-name>/cost</command-name>\n  <command-message>cost</command-message>\n"
               "  <command-args></command-args>\n", "<local-command-stdout>Total cost: $0.01</local-command-stdout>",
               "<local-command-stderr>warn</local-command-stderr>", typed)
    c = classify(body, full, NOW)
    assert (c.route, c.prefix) == ("architect", "/architect")
    assert strip_prefix(body, c.edit)["messages"][0]["content"][3]["text"] == "plan it"  # type: ignore[arg-type]
    assert latest_user_text(body["messages"]).endswith(typed)
    assert "local-command" not in latest_user_text(body["messages"])


def test_other_slash_commands_do_not_route(full: Any) -> None:
    body = req("<command-message>review</command-message>\n<command-name>/review</command-name>\n", "review it")
    assert classify(body, full, NOW).kind == "main"


def test_prefix_must_open_the_turn(full: Any) -> None:
    assert classify(req("please /architect this"), full, NOW).kind == "main"
    assert classify(req("intro", "/architect later block"), full, NOW).kind == "main"
    assert classify(req("/architecture is a word"), full, NOW).kind == "main"


def test_prefix_keeps_routing_the_rest_of_its_turn(full: Any) -> None:
    """The agent loop's tool_result turns belong to the person's turn that carried the prefix."""
    body = {"model": SENTINEL_MAIN, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "/architect plan it"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "file"},
                                     {"type": "text", "text": "<system-reminder>note</system-reminder>"}]},
        {"role": "system", "content": "mid-conversation system text"},
    ]}
    c = classify(body, full, NOW)
    assert c.route == "architect"
    assert c.edit == PrefixEdit(0, 0, False, "plan it")
    # the next human turn has no prefix: back to the main route
    body["messages"] += [{"role": "assistant", "content": "done"}, {"role": "user", "content": "thanks"}]
    assert classify(body, full, NOW).route == "main"


def test_prefix_beats_every_class(full: Any) -> None:
    body = req("/architect " + "word " * 100_000, model=SENTINEL_SUBAGENT,
               thinking={"type": "enabled", "budget_tokens": 4000})
    assert classify(body, full, NOW, raw=raw(body)).route == "architect"


def test_prefix_rule_conditions_still_apply(full: Any) -> None:
    assert classify(req("/night ship it"), full, datetime(2026, 5, 4, 23, 30)).route == "night"
    assert classify(req("/night ship it"), full, datetime(2026, 5, 4, 12, 0)).kind == "main"


def test_keyword_rules_do_not_apply_to_claude_code_traffic(full: Any) -> None:
    assert classify(req("fix the fixture"), full, NOW).route == "main"


def test_find_prefix_without_prefix_rules(bare: Any) -> None:
    assert find_prefix(req("/architect x"), bare, NOW) is None


# ------------------------------------------------------------------------------------------------ helpers


def test_latest_human_turn_skips_tool_results_and_reminders() -> None:
    msgs = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "<system-reminder>r</system-reminder>"},
                                     {"type": "text", "text": "second"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "out"}]},
    ]
    assert latest_human_turn(msgs) == (2, [(1, "second")])
    assert latest_user_text(msgs) == "second"
    assert latest_human_turn([]) is None
    assert latest_human_turn("nope") is None
    assert latest_user_text([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]) == ""


def test_has_image_and_model_name() -> None:
    assert has_image([{"type": "tool_result", "content": [{"type": "image", "source": {}}]}])
    assert not has_image("text")
    assert not has_image([{"type": "tool_result", "content": "x"}])
    assert model_name({"model": "routesh-subagent[1m]"}) == "routesh-subagent"
    assert model_name({"model": 3}) == ""


def test_strip_prefix_never_leaves_an_empty_message() -> None:
    body = req("<command-message>a</command-message><command-name>/architect</command-name>")
    out = strip_prefix(body, PrefixEdit(0, 0, True, ""))
    assert out["messages"][0]["content"] == [{"type": "text", "text": "(empty)"}]


def test_classification_is_pure(full: Any) -> None:
    body, headers = recorded("subagent_tool_result_blocks.json")
    before = copy.deepcopy(body)
    assert classify(body, full, NOW, raw=raw(body), headers=headers) == classify(body, full, NOW, raw=raw(body),
                                                                                 headers=headers)
    assert classify(body, full, NOW, headers=headers).route == "sub"  # without the bytes, the text is counted
    assert body == before


# ------------------------------------------------------------------------------------------------ jsonsplice


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDED.glob("*.json")))
def test_splice_changes_only_the_named_values(name: str) -> None:
    body, _ = recorded(name)
    data = raw(body)
    text = data.decode()
    parsed, spans = jsonsplice.parse_object(text)
    assert parsed == json.loads(data)
    out = jsonsplice.splice_bytes(data, text, spans, {"model": "claude-x", "max_tokens": 7})
    assert json.loads(out) == {**body, "model": "claude-x", "max_tokens": 7}
    assert len(out) - len(data) == len('"claude-x"') - len(json.dumps(body["model"])) + 1 - len(str(body["max_tokens"]))
    out = jsonsplice.splice_bytes(data, text, spans, {"messages": [{"role": "user", "content": "é ✓ 𝄞"}]})
    assert json.loads(out) == {**body, "messages": [{"role": "user", "content": "é ✓ 𝄞"}]}
    out = jsonsplice.splice_bytes(data, text, spans, {"new_key": {"a": 1}})
    assert json.loads(out) == {**body, "new_key": {"a": 1}}


@pytest.mark.parametrize("text", ['{"a": 1, "b" : [1, {"c": "}"}] , "d":"x"}', "{}", ' { "model" : "m" } ',
                                  '{"a":1,"a":2}'])
def test_parse_object_agrees_with_json(text: str) -> None:
    obj, spans = jsonsplice.parse_object(text)
    assert obj == json.loads(text)
    for key, (start, end) in spans.items():
        assert json.loads(text[start:end]) == obj[key]


@pytest.mark.parametrize("text", ["[]", "", "{", '{"a":}', '{"a":1,}', '{"a":1} x', '{a:1}', '"s"'])
def test_parse_object_rejects_what_json_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        jsonsplice.parse_object(text)
