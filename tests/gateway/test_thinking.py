"""Thinking: the shapes Claude Code 2.1.197 sends per family (recorded), reshaped for the model that will answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from routesh.gateway.thinking import DEFAULT_THINKING_BUDGET, reshape_thinking, shape_of

RECORDED = Path(__file__).resolve().parents[1] / "data" / "claude_code_requests"


def body_of(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / name).read_text())["body"]


def apply(body: dict[str, Any], model: str, cap: int | None = None) -> dict[str, Any]:
    return {**body, **reshape_thinking(body, model, cap)}


def valid_for(body: dict[str, Any], model: str) -> None:
    """What Anthropic checks: the thinking type the model takes, budget below max_tokens, max_tokens in range."""
    shape = shape_of(model)
    assert shape is not None
    t = body.get("thinking") or {}
    if t.get("type") == "adaptive":
        assert shape.adaptive
    if t.get("type") == "enabled":
        assert shape.budget
        assert 1024 <= t["budget_tokens"] < body["max_tokens"]
    assert body["max_tokens"] <= shape.max_output  # type: ignore[operator]
    effort = (body.get("output_config") or {}).get("effort")
    assert effort is None or effort in shape.effort


TARGETS = ["claude-opus-4-7", "claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-5-20251101",
           "claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-1"]
RECORDINGS = ["main_turn_opus_adaptive.json", "plan_mode_sonnet45.json", "thinking_budget_haiku.json",
              "tool_result_error_sonnet.json", "subagent_tool_result_blocks.json", "background_title.json"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", RECORDINGS)
def test_every_recorded_shape_is_valid_for_every_target(name: str, target: str) -> None:
    body = body_of(name)
    valid_for(apply(body, target), target)


def test_adaptive_from_opus_becomes_claude_codes_budget_on_an_older_family() -> None:
    body = body_of("main_turn_opus_adaptive.json")
    assert body["thinking"] == {"type": "adaptive"} and body["max_tokens"] == 64000
    out = apply(body, "claude-sonnet-4-5")
    assert out["thinking"] == {"type": "enabled", "budget_tokens": DEFAULT_THINKING_BUDGET}
    assert out["max_tokens"] == 64000
    assert "effort" not in out["output_config"]
    out = apply(body, "claude-opus-4-1")
    assert out["max_tokens"] == 32000 and out["thinking"]["budget_tokens"] == 31999


def test_a_budget_becomes_adaptive_on_opus_4_7_and_xhigh_is_lowered_elsewhere() -> None:
    body = body_of("plan_mode_sonnet45.json")
    assert apply(body, "claude-opus-4-7")["thinking"] == {"type": "adaptive"}
    assert apply({"max_tokens": 64000, "output_config": {"effort": "xhigh"}}, "claude-sonnet-4-6") == \
        {"max_tokens": 64000, "output_config": {"effort": "high"}}


def test_a_shape_that_fits_is_left_alone_and_unknown_models_too() -> None:
    body = body_of("main_turn_opus_adaptive.json")
    assert reshape_thinking(body, body["model"]) == {}
    assert reshape_thinking(body, "gpt-5") == {}
    assert reshape_thinking(body_of("plan_mode_sonnet45.json"), "claude-sonnet-4-5-20250929") == {}


def test_the_routes_cap_keeps_the_budget_below_max_tokens() -> None:
    body = body_of("plan_mode_sonnet45.json")
    out = apply(body, "claude-sonnet-4-5", cap=8000)
    assert out["max_tokens"] == 8000 and out["thinking"] == {"type": "enabled", "budget_tokens": 7999}
    out = apply(body, "claude-sonnet-4-5", cap=1000)
    assert out["thinking"] == {"type": "disabled"}
