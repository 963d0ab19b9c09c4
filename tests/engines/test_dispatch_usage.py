"""Every attempt's recorded tokens and cost equal what the test upstream sent, in both providers' usage conventions,
cache reads and writes included; a cancelled or broken attempt records what is known (marked estimated)."""

from __future__ import annotations

import random
import threading

import pytest
from upstream import (  # noqa: F401 - fixtures
    Upstream,
    UsageSpec,
    claude_exe_fixture,
    drop_after,
    rate_limited,
    upstream_fixture,
)

from routesh.core.catalog import Catalog
from routesh.core.configfile import parse
from routesh.core.cost import cost_usd
from routesh.core.estimate import message_tokens
from routesh.core.events import AttemptRecord, Message
from routesh.core.tokens import estimate_tokens
from routesh.engines.dispatch import Dispatcher
from routesh.pipeline.runner import engine_for

CONFIG = """
default_route: a
providers:
  ant: {{type: anthropic, base_url: "{url}", key_env: X_KEY}}
  oai: {{type: openai, base_url: "{url}/v1", key_env: X_KEY}}
routes:
  a: {{provider: ant, model: claude-sonnet-4-6, retries: 1, timeout_s: 20}}
  o: {{provider: oai, model: claude-haiku-4-5, retries: 1, timeout_s: 20}}
  c: {{provider: ant, model: claude-sonnet-4-6, via: claude-code, timeout_s: 120}}
profiles:
  personal: {{}}
"""
SONNET_IN, SONNET_OUT = 3.0, 15.0
HAIKU_IN, HAIKU_OUT = 1.0, 5.0


@pytest.fixture(autouse=True, scope="module")
def _sdks_loaded() -> None:
    """Import both SDKs before any timed attempt (a loaded machine can take longer than timeout_s to import one)."""
    from routesh.engines.registry import preload

    preload("anthropic", "openai")


def dispatcher(up: Upstream, on_text=lambda s: None) -> tuple[Dispatcher, list[AttemptRecord]]:
    config = parse(CONFIG.format(url=up.url), "routes.yaml")
    records: list[AttemptRecord] = []
    d = Dispatcher(config, config.profiles["personal"], Catalog(config.models), engine_for,
                   lambda profile, provider: "sk-test-key", on_text=on_text, record=records.append,
                   sleep=lambda s: None, rng=random.Random(1))
    return d, records


@pytest.mark.parametrize("route", ["a", "o"])
def test_recorded_tokens_and_cost_are_the_upstreams(upstream: Upstream, route: str) -> None:
    spec = UsageSpec(input_tokens=1200, output_tokens=340, cache_read_input_tokens=5000,
                     cache_creation_input_tokens=800 if route == "a" else 0)  # OpenAI reports no cache writes
    upstream.configure(usage=spec)
    d, records = dispatcher(upstream)
    out = d.run((route,), "hello")
    assert out.status == "ok"
    (rec,) = records
    # Anthropic: input_tokens excludes cache; OpenAI: prompt_tokens (6200) includes cached_tokens (5000)
    assert (rec.input_tokens, rec.output_tokens, rec.cache_read_tokens, rec.cache_write_tokens) == (
        spec.input_tokens, spec.output_tokens, spec.cache_read_input_tokens, spec.cache_creation_input_tokens)
    price_in, price_out = (SONNET_IN, SONNET_OUT) if route == "a" else (HAIKU_IN, HAIKU_OUT)
    want = (spec.input_tokens * price_in + spec.output_tokens * price_out
            + spec.cache_read_input_tokens * price_in * 0.1 + spec.cache_creation_input_tokens * price_in * 1.25) / 1e6
    assert rec.cost_usd == pytest.approx(want) and out.cost_usd == pytest.approx(want)
    assert dict(rec.extra) == {}  # exact counts are not marked estimated


def test_a_cancelled_anthropic_attempt_records_message_starts_counts(upstream: Upstream) -> None:
    spec = UsageSpec(input_tokens=4321, output_tokens=999, cache_read_input_tokens=700, cache_creation_input_tokens=60)
    upstream.configure(usage=spec, event_delay=0.1, repeat=20)
    cancel = threading.Event()
    seen: list[str] = []

    def on_text(chunk: str) -> None:
        seen.append(chunk)
        if len(seen) == 3:
            cancel.set()

    d, records = dispatcher(upstream, on_text)
    out = d.run(("a",), "hello", cancel=cancel)
    assert out.status == "cancelled"
    (rec,) = records
    assert (rec.input_tokens, rec.cache_read_tokens, rec.cache_write_tokens) == (4321, 700, 60)
    assert 1 <= rec.output_tokens < 999  # counted from what arrived, not the full answer
    assert rec.output_tokens >= estimate_tokens(out.text)
    assert rec.extra == {"usage": "estimated"}
    assert rec.cost_usd == pytest.approx(cost_usd(Catalog().get("claude-sonnet-4-6"), 4321, rec.output_tokens, 700, 60))
    assert out.cost_usd == rec.cost_usd  # the shell's session total counts it


def test_a_broken_openai_stream_records_an_estimate(upstream: Upstream) -> None:
    upstream.configure(repeat=5)
    upstream.script(drop_after(6))
    d, records = dispatcher(upstream)
    history = (Message("user", "first question here"), Message("assistant", "a first answer"))
    out = d.run(("o",), "hello there", history=history)
    assert out.status == "partial" and out.text
    (rec,) = records
    # no usage chunk arrived: input is routesh's own count of what was sent, output of what came back
    assert rec.input_tokens == message_tokens((*history, Message("user", "hello there")))
    assert rec.output_tokens == estimate_tokens(out.text)
    assert rec.extra == {"usage": "estimated"} and rec.cost_usd is not None and rec.cost_usd > 0


def test_a_failed_attempt_with_nothing_received_costs_nothing(upstream: Upstream) -> None:
    upstream.script(rate_limited("0"))
    d, records = dispatcher(upstream)
    out = d.run(("a",), "hello")
    assert out.status == "ok"
    failed, answered = records
    assert (failed.status, failed.input_tokens, failed.cost_usd, dict(failed.extra)) == ("error", None, None, {})
    assert answered.input_tokens == 21



def test_a_cancelled_claude_code_attempt_records_its_calls_so_far(upstream: Upstream, claude_exe: str) -> None:
    spec = UsageSpec(input_tokens=31_000, output_tokens=4000, cache_read_input_tokens=900)
    upstream.configure(usage=spec, event_delay=0.05, repeat=100)
    cancel = threading.Event()
    d, records = dispatcher(upstream, lambda chunk: cancel.set())
    out = d.run(("c",), "say hi", cancel=cancel)
    assert out.status == "cancelled"
    (rec,) = records
    assert (rec.input_tokens, rec.cache_read_tokens) == (31_000, 900)  # claude's message_start, passed on
    assert 1 <= rec.output_tokens < 4000 and rec.extra == {"usage": "estimated"}
    assert rec.cost_usd == pytest.approx(cost_usd(Catalog().get("claude-sonnet-4-6"), 31_000, rec.output_tokens, 900))
