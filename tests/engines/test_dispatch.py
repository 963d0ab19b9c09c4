"""Dispatch decisions: retries, backoff, fallbacks, partial answers, jumps. Engines here are scripted generators;
the real engines against a real upstream are tested in test_engines_* and test_run."""

from __future__ import annotations

import random
import threading
from typing import Iterator

import pytest

from routesh.core.catalog import Catalog
from routesh.core.configfile import parse
from routesh.core.errors import KeyMissing
from routesh.core.events import Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from routesh.engines.dispatch import Dispatcher, backoff_s, is_retryable

CONFIG = """
default_route: default
providers:
  anthropic: {type: anthropic, key_env: ANTHROPIC_API_KEY}
  other: {type: openai, base_url: http://127.0.0.1:9/v1}
routes:
  default: {provider: anthropic, model: claude-sonnet-4-6, fallback: [cheap, pricey], retries: 2}
  cheap: {provider: anthropic, model: claude-haiku-4-5, retries: 0}
  pricey: {provider: anthropic, model: claude-opus-4-7, retries: 0}
  generous: {provider: anthropic, model: claude-haiku-4-5, fallback: [pricey, default], allow_upgrade: true, retries: 0}
  elsewhere: {provider: other, model: m, fallback: [cheap], retries: 0}
  careful: {provider: anthropic, model: claude-haiku-4-5, on_refusal: pricey, retries: 0}
  large-context: {provider: anthropic, model: claude-sonnet-4-6, retries: 0}
rules:
  - {min_tokens: 100000, route: large-context}
profiles:
  personal: {log_prompts: true}
  quiet: {log_prompts: false}
"""


def ok(text: str = "hello", usage: Usage = Usage(10, 5)) -> list[object]:
    return [TextDelta(text[: len(text) // 2]), TextDelta(text[len(text) // 2:]), usage, Done("end_turn")]


class Script:
    """Engine stand-in: each call takes the next scripted reply (events, then maybe an error)."""

    def __init__(self, *replies: list[object]) -> None:
        self.replies = list(replies)
        self.calls: list[EngineRequest] = []

    def __call__(self, req: EngineRequest, cancel: threading.Event | None = None) -> Iterator[Event]:
        self.calls.append(req)
        for item in self.replies.pop(0):
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]


def make(script: Script, profile: str = "personal", keys: dict[str, str] | None = None):
    config = parse(CONFIG, "routes.yaml")
    notices: list[str] = []
    records = []
    sleeps: list[float] = []
    keys = {"anthropic": "sk-test-key", "other": "sk-other"} if keys is None else keys

    def key_for(profile_name: str, provider):
        if provider.name not in keys:
            raise KeyMissing(f"no key for {provider.name}")
        return keys[provider.name]

    d = Dispatcher(config, config.profiles[profile], Catalog(config.models), lambda r, p: script, key_for,
                   on_notice=notices.append, record=records.append, sleep=sleeps.append, rng=random.Random(1))
    return d, notices, records, sleeps


def test_first_try_succeeds():
    s = Script(ok("hello world"))
    d, notices, records, _ = make(s)
    out = d.run(("default", "cheap"), "hi")
    assert (out.status, out.text, out.route) == ("ok", "hello world", "default")
    assert [r.status for r in records] == ["ok"] and notices == []
    assert records[0].input_tokens == 10 and records[0].cost_usd == pytest.approx((10 * 3 + 5 * 15) / 1e6)
    assert s.calls[0].api_key == "sk-test-key" and s.calls[0].messages == (Message("user", "hi"),)
    assert records[0].prompt == "hi" and len(records[0].prompt_sha256 or "") == 64


def test_prompt_text_not_recorded_when_profile_forbids():
    d, _, records, _ = make(Script(ok()), profile="quiet")
    d.run(("default",), "secret plans")
    assert records[0].prompt is None and records[0].prompt_chars == len("secret plans")


def test_429_retry_after_is_honoured_then_success():
    s = Script([EngineError("rate limited", status=429, retry_after=3.0)], ok())
    d, notices, records, sleeps = make(s)
    out = d.run(("default",), "hi")
    assert out.status == "ok" and sleeps == [3.0]
    assert [r.status for r in records] == ["error", "ok"] and [r.attempt for r in records] == [1, 2]
    assert "HTTP 429" in notices[0] and "retrying in 3.0s" in notices[0]


def test_retry_after_is_capped():
    assert backoff_s(1, 10_000, random.Random(0)) == 30.0


def test_backoff_grows_with_jitter():
    rng = random.Random(0)
    waits = [backoff_s(n, None, rng) for n in (1, 2, 3, 4, 5, 6)]
    assert 0.25 <= waits[0] <= 0.5 and 0.5 <= waits[1] <= 1.0 and 1.0 <= waits[2] <= 2.0
    assert all(w <= 8.0 for w in waits)


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_never_retry_client_errors(status):
    assert not is_retryable(EngineError("x", status=status))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_retry_transient_errors(status):
    assert is_retryable(EngineError("x", status=status))


def test_retries_exhausted_then_fallback_in_order():
    s = Script([EngineError("boom", status=500)], [EngineError("boom", status=529)],
               [EngineError("down", kind="connection")], ok("from cheap"))
    d, notices, records, sleeps = make(s)
    out = d.run(("default", "cheap"), "hi")
    assert out.status == "ok" and out.route == "cheap" and out.text == "from cheap"
    assert len(sleeps) == 2
    assert [r.route for r in records] == ["default"] * 3 + ["cheap"]
    assert any("falling back to route cheap" in n for n in notices)


def test_auth_error_is_not_retried_and_names_the_fix():
    s = Script([EngineError("invalid x-api-key", status=401)])
    d, _, records, sleeps = make(s)
    out = d.run(("default",), "hi")
    assert out.status == "error" and sleeps == [] and len(records) == 1
    assert any("routesh keys set anthropic --profile personal" in h for h in out.hints)


def test_partial_answer_is_never_retried():
    s = Script([TextDelta("half an ans"), EngineError("connection dropped", kind="connection")], ok())
    d, _, records, _ = make(s)
    out = d.run(("default", "cheap"), "hi")
    assert out.status == "partial" and out.text == "half an ans" and len(records) == 1
    assert records[0].status == "partial"


def test_stream_that_ends_without_done_is_partial():
    d, _, records, _ = make(Script([TextDelta("abc")]))
    out = d.run(("default",), "hi")
    assert out.status == "partial" and records[0].status == "partial"


def test_fallback_to_a_pricier_model_needs_allow_upgrade():
    s = Script(*[[EngineError("x", status=500)]] * 4)
    d, notices, records, _ = make(s)
    out = d.run(("default", "cheap", "pricey"), "hi")
    assert [r.route for r in records] == ["default"] * 3 + ["cheap"]
    assert any("skipping fallback pricey" in n and "allow_upgrade" in n for n in notices)
    assert "pricey" not in [r.route for r in records] and out.status == "error"


def test_allow_upgrade_permits_one_pricier_fallback_only():
    s = Script([EngineError("x", status=500)], [EngineError("x", status=500)], ok())
    d, notices, records, _ = make(s)
    # generous (haiku) → pricey (opus, an upgrade: allowed once) → default (sonnet, a second upgrade: skipped)
    out = d.run(("generous", "pricey", "default"), "hi")
    assert [r.route for r in records] == ["generous", "pricey"]
    assert out.status == "error" and any("skipping fallback default" in n for n in notices)


def test_context_too_long_jumps_to_the_large_context_route():
    s = Script([EngineError("prompt is too long", status=400, context_too_long=True)], ok("big"))
    d, notices, records, _ = make(s)
    out = d.run(("cheap",), "hi")
    assert out.status == "ok" and out.route == "large-context"
    assert any("too long" in n for n in notices)


def test_refusal_escalates_to_the_configured_route():
    s = Script([Usage(5, 0), Done("refusal")], ok("ok from opus"))
    d, notices, records, _ = make(s)
    out = d.run(("careful",), "hi")
    assert [r.status for r in records] == ["refused", "ok"] and out.route == "pricey"
    assert any("escalating to route pricey" in n for n in notices)


def test_missing_key_on_primary_raises_on_fallback_skips():
    d, _, _, _ = make(Script(), keys={})
    with pytest.raises(KeyMissing):
        d.run(("default",), "hi")
    s = Script([EngineError("x", status=500)], ok())
    d, notices, records, _ = make(s, keys={"other": "k"})
    out = d.run(("elsewhere", "cheap"), "hi")
    assert any("skipping fallback cheap" in n for n in notices) and out.status == "error"


def test_cancel_during_backoff_stops():
    cancel = threading.Event()
    s = Script([EngineError("x", status=429, retry_after=5)])
    d, _, records, _ = make(s)
    d.on_notice = lambda n: cancel.set()
    out = d.run(("default",), "hi", cancel=cancel)
    assert out.status == "cancelled" and len(records) == 1


def test_history_is_sent_before_the_new_message():
    s = Script(ok())
    d, _, _, _ = make(s)
    hist = (Message("user", "first"), Message("assistant", "answer"))
    d.run(("default",), "second", history=hist)
    assert [m.content for m in s.calls[0].messages] == ["first", "answer", "second"]


def test_no_key_in_records_or_errors():
    s = Script([EngineError("bad key", status=401)])
    d, notices, records, _ = make(s)
    out = d.run(("default",), "hi")
    blob = repr(records) + repr(out) + "".join(notices) + repr(s.calls)
    assert "sk-test-key" not in blob
