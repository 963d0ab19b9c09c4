"""Cost of a call: every kind of token at its price, nothing counted twice, unknown never shown as free."""

from __future__ import annotations

import pytest

from routesh.core.config import ModelInfo
from routesh.core.cost import cost_usd, from_openai_usage, unknown_price_hint

SONNET = ModelInfo("claude-sonnet-4-6", input=3.0, output=15.0)
OPUS = ModelInfo("claude-opus-4-7", input=5.0, output=25.0)


def test_anthropic_usage_each_kind_at_its_price() -> None:
    # 1000 in × $3 + 500 out × $15 + 2000 cache-read × $0.30 + 4000 cache-write × $3.75, per million
    c = cost_usd(SONNET, 1000, 500, 2000, 4000)
    assert c == pytest.approx((3000 + 7500 + 600 + 15000) / 1e6)
    assert c == pytest.approx(0.0261)


def test_cache_prices_default_to_10_and_125_percent_of_input() -> None:
    assert cost_usd(OPUS, 0, 0, 1_000_000, 0) == pytest.approx(0.5)
    assert cost_usd(OPUS, 0, 0, 0, 1_000_000) == pytest.approx(6.25)


def test_explicit_cache_prices_win() -> None:
    m = ModelInfo("x", input=2.0, output=8.0, cache_read=0.5, cache_write=1.0)
    assert cost_usd(m, 0, 0, 1_000_000, 1_000_000) == pytest.approx(1.5)


def test_openai_usage_is_converted_so_cached_tokens_are_not_paid_twice() -> None:
    # OpenAI: prompt_tokens=3000 INCLUDES cached_tokens=2000.
    inp, out, read, write = from_openai_usage(prompt_tokens=3000, completion_tokens=500, cached_tokens=2000)
    assert (inp, out, read, write) == (1000, 500, 2000, 0)
    c = cost_usd(SONNET, inp, out, read, write)
    assert c == pytest.approx((1000 * 3 + 500 * 15 + 2000 * 0.3) / 1e6)  # 0.0111
    double_counted = cost_usd(SONNET, 3000, 500, 2000, 0)
    assert c != pytest.approx(double_counted)
    # Same tokens, Anthropic-style report: same money.
    assert cost_usd(SONNET, 1000, 500, 2000, 0) == pytest.approx(c)


def test_openai_usage_without_cache_and_odd_counts() -> None:
    assert from_openai_usage(1200, 300) == (1200, 300, 0, 0)
    assert from_openai_usage(1200, 300, None) == (1200, 300, 0, 0)
    assert from_openai_usage(100, None, 500) == (0, 0, 100, 0)  # cached can't exceed the prompt


def test_unknown_price_is_none_never_zero() -> None:
    assert cost_usd(None, 100, 100) is None
    assert cost_usd(ModelInfo("local"), 100, 100) is None
    assert cost_usd(ModelInfo("local"), 0, 0) is None
    assert cost_usd(ModelInfo("half", input=1.0), 10, 10) is None  # output price unknown
    assert cost_usd(ModelInfo("half", input=1.0), 10, 0) == pytest.approx(10 / 1e6)


def test_zero_tokens_on_a_priced_model_cost_zero() -> None:
    assert cost_usd(SONNET, 0, 0, 0, 0) == 0.0
    assert cost_usd(SONNET, None, None, None, None) == 0.0


def test_negative_tokens_are_rejected() -> None:
    with pytest.raises(ValueError, match="input_tokens"):
        cost_usd(SONNET, -1, 0)


def test_hint_names_the_model_and_where_to_add_it() -> None:
    hint = unknown_price_hint("qwen2.5-coder")
    assert "qwen2.5-coder" in hint and "models:" in hint
    assert "\n" not in hint
