"""Stats numbers checked against hand-computed ones; the --since parser's answers and errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from routesh.usage.since import parse_since
from routesh.usage.stats import aggregate, percentile, top_tier_models

T0 = 1_736_510_400.0  # 2025-01-10T12:00:00Z
DAY = 86400.0
PRICES = {"claude-opus-4-7": 5.0, "claude-sonnet-4-6": 3.0, "claude-haiku-4-5": 1.0}


def row(
    ts: float, rid: str, route: str, model: str, status: str, cost: float | None, lat: float | None,
    ttft: float | None, *, attempt: int = 1, profile: str = "personal", miss: bool = False,
    tokens: int | None = 100,
) -> dict[str, object]:  # fmt: skip
    return dict(ts=ts, request_id=rid, attempt=attempt, route=route, model=model, profile=profile, status=status,
                cost_usd=cost, latency_ms=lat, ttft_ms=ttft, miss=miss, input_tokens=tokens,
                output_tokens=tokens)  # fmt: skip


S, H, OP = "claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-7"
ROWS = [
    # default: 4 requests, r3 fails over to quick
    row(T0, "r1", "default", S, "ok", 0.01, 100, 10),
    row(T0 + 10, "r2", "default", S, "ok", 0.02, 200, 20, profile="work"),
    row(T0 + 20, "r3", "default", S, "error", None, 50, None),
    row(T0 + 21, "r3", "quick", H, "ok", 0.001, 300, 30, attempt=2),
    row(T0 + 30, "r4", "default", S, "ok", 0.03, 400, None, profile="work"),
    # architect, two days later: one of each failure kind, r5 marked as a miss
    row(T0 + 2 * DAY, "r5", "architect", OP, "ok", 0.5, 1000, 100, miss=True),
    row(T0 + 2 * DAY + 1, "r6", "architect", OP, "refused", 0.0, None, None),
    row(T0 + 2 * DAY + 2, "r7", "architect", OP, "cancelled", 0.05, 700, 70),
    row(T0 + 2 * DAY + 3, "r8", "architect", OP, "partial", 0.2, 900, 90),
    row(T0 + 2 * DAY + 4, "r9", "quick", H, "ok", 0.002, 100, 10),
]


# -- percentile ---------------------------------------------------------------------------------


def test_percentile_linear_interpolation_hand_values() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 21)), 95) == pytest.approx(19.05)  # h = 19 * .95 = 18.05 → 19 + .05
    assert percentile([100, 200, 400], 95) == pytest.approx(380.0)  # h = 1.9 → 200 + .9 * 200
    assert percentile([4, 1, 3, 2], 50) == 2.5  # unsorted input is fine
    assert percentile([7], 50) == 7 and percentile([7], 95) == 7
    assert percentile([1, 9], 0) == 1 and percentile([1, 9], 100) == 9
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1], 101)


# -- aggregate ----------------------------------------------------------------------------------


def test_by_route_against_hand_computed_numbers() -> None:
    rep = aggregate(ROWS, "route", input_price=PRICES.get)
    assert rep.top_tier == (OP,)
    assert [g.key for g in rep.groups] == ["architect", "default", "quick"]  # by spend
    arch, default, quick = rep.groups

    assert (default.requests, default.attempts, default.ok, default.errors) == (4, 4, 3, 1)
    assert (default.partial, default.refused, default.cancelled, default.unpriced) == (0, 0, 0, 1)
    assert (default.failed_requests, default.retries) == (0, 0)  # r3 failed on default, its fallback answered
    assert default.spend_usd == pytest.approx(0.06)
    assert default.latency_p50_ms == 200 and default.latency_p95_ms == pytest.approx(380)  # ok: 100 200 400
    assert default.ttft_p50_ms == 15 and default.ttft_p95_ms == pytest.approx(19.5)  # ok: 10 20
    assert (default.top_tier_requests, default.top_tier_share, default.misses, default.miss_rate) == (0, 0.0, 0, 0.0)

    assert (arch.requests, arch.attempts, arch.ok, arch.errors) == (4, 4, 1, 0)
    assert (arch.partial, arch.refused, arch.cancelled) == (1, 1, 1)
    assert arch.spend_usd == pytest.approx(0.75)
    assert arch.latency_p50_ms == arch.latency_p95_ms == 1000  # only the ok attempt counts
    assert arch.top_tier_share == 1.0 and arch.miss_rate == 0.25

    assert (quick.requests, quick.attempts, quick.ok) == (1, 2, 2)  # r3's fallback is an attempt, not a request
    assert (quick.failed_requests, quick.retries) == (0, 1)
    assert (arch.failed_requests, arch.retries) == (1, 0)  # r8 ended partial; refused and cancelled are not failures
    assert quick.spend_usd == pytest.approx(0.003)
    assert quick.latency_p50_ms == 200 and quick.latency_p95_ms == pytest.approx(290)  # 100 300
    assert quick.ttft_p50_ms == 20 and quick.ttft_p95_ms == pytest.approx(29)

    t = rep.total
    assert (t.requests, t.attempts, t.ok, t.errors, t.partial, t.refused, t.cancelled) == (9, 10, 6, 1, 1, 1, 1)
    assert t.spend_usd == pytest.approx(0.813) and t.unpriced == 1
    assert (t.requests, t.failed_requests, t.attempts, t.retries) == (9, 1, 10, 1)
    # ok latencies 100 100 200 300 400 1000: p50 h=2.5 → 250; p95 h=4.75 → 400 + .75 * 600
    assert t.latency_p50_ms == 250 and t.latency_p95_ms == pytest.approx(850)
    # ok ttfts 10 10 20 30 100: p50 → 20; p95 h=3.8 → 30 + .8 * 70
    assert t.ttft_p50_ms == 20 and t.ttft_p95_ms == pytest.approx(86)
    assert t.top_tier_share == pytest.approx(4 / 9) and t.miss_rate == pytest.approx(1 / 9)

    assert rep.spend_by_route == (("architect", pytest.approx(0.75)), ("default", pytest.approx(0.06)),
                                  ("quick", pytest.approx(0.003)))  # fmt: skip


def test_by_day_fills_empty_days_and_uses_the_time_zone() -> None:
    rep = aggregate(ROWS, "day")
    assert [g.key for g in rep.groups] == ["2025-01-10", "2025-01-12"]
    assert [d for d, _ in rep.spend_by_day] == ["2025-01-10", "2025-01-11", "2025-01-12"]
    assert [v for _, v in rep.spend_by_day] == [pytest.approx(0.061), 0.0, pytest.approx(0.752)]
    # 12:00 UTC is already the next day at UTC+13
    late = aggregate(ROWS, "day", tz=timezone(timedelta(hours=13)))
    assert [g.key for g in late.groups] == ["2025-01-11", "2025-01-13"]
    # and 23:30 UTC is still the same day at UTC-5, next day at UTC+1
    r = [row(T0 + 11.5 * 3600, "x", "default", S, "ok", 0.1, 1, 1)]
    assert aggregate(r, "day", tz=timezone(timedelta(hours=-5))).groups[0].key == "2025-01-10"
    assert aggregate(r, "day", tz=timezone(timedelta(hours=1))).groups[0].key == "2025-01-11"
    assert aggregate(r, "day", tz=timezone(timedelta(hours=5, minutes=30))).groups[0].key == "2025-01-11"


def test_by_model_and_profile() -> None:
    by_model = {g.key: g for g in aggregate(ROWS, "model", input_price=PRICES.get).groups}
    assert set(by_model) == {S, H, OP}
    assert by_model[S].requests == 4 and by_model[H].requests == 1 and by_model[OP].requests == 4
    assert by_model[H].attempts == 2
    assert by_model[OP].top_tier_share == 1.0 and by_model[S].top_tier_share == 0.0
    by_profile = {g.key: g for g in aggregate(ROWS, "profile").groups}
    assert by_profile["work"].requests == 2
    assert by_profile["work"].spend_usd == pytest.approx(0.05)
    assert (by_profile["personal"].requests, by_profile["personal"].attempts) == (7, 8)  # r3 and its retry: one request


def test_a_fallback_only_route_has_attempts_but_no_requests() -> None:
    rows = [row(T0, "r1", "default", S, "error", None, 50, None, miss=True),
            row(T0 + 1, "r1", "backup", H, "ok", 0.001, 300, 30, attempt=2, miss=True)]  # fmt: skip
    by_route = {g.key: g for g in aggregate(rows, "route", input_price=PRICES.get).groups}
    backup = by_route["backup"]
    assert (backup.requests, backup.attempts, backup.ok) == (0, 1, 1)
    assert backup.top_tier_share is None and backup.miss_rate is None and backup.misses == 0
    default = by_route["default"]
    assert (default.requests, default.misses, default.miss_rate, default.top_tier_share) == (1, 1, 1.0, 1.0)


def test_refused_requests_are_attempt_zero_and_still_requests() -> None:
    rep = aggregate([row(T0, "r1", "default", S, "refused", None, None, None, attempt=0, tokens=None)], "route")
    assert (rep.total.requests, rep.total.refused, rep.total.unpriced, rep.total.failed_requests) == (1, 1, 0, 0)


def test_failed_attempts_without_usage_cost_nothing_and_are_not_unpriced() -> None:
    """The issue's case: 6 requests, 4 answered (two after retries), 10 failed attempts on a priced model."""
    rows = []
    for i in range(6):
        fails = 3 if i < 2 else (2 if i < 4 else 0)  # r0, r1 fail all three tries; r2, r3 answer on the third
        for a in range(1, fails + 1):
            rows.append(row(T0 + i * 10 + a, f"r{i}", "default", S, "error", None, 5, None, attempt=a, tokens=None))
        if i >= 2:
            rows.append(row(T0 + i * 10 + 5, f"r{i}", "default", S, "ok", 0.01, 100, 10, attempt=fails + 1))
    g = aggregate(rows, "route", input_price=PRICES.get).total
    assert (g.requests, g.failed_requests, g.attempts, g.retries, g.errors) == (6, 2, 14, 8, 10)
    assert g.unpriced == 0 and g.spend_usd == pytest.approx(0.04)
    # the ledger's SQL path agrees
    from routesh.core.events import AttemptRecord
    from routesh.usage.ledger import Ledger

    with Ledger(":memory:") as led:
        for r in rows:
            led.record(AttemptRecord(ts=r["ts"], request_id=r["request_id"], attempt=r["attempt"], profile="personal",
                                     route="default", provider="anthropic", model=S, via="api", status=r["status"],
                                     cost_usd=r["cost_usd"], input_tokens=r["input_tokens"],
                                     output_tokens=r["output_tokens"], latency_ms=r["latency_ms"]))
        sql = led.stats(None, "route", input_price=PRICES.get).total
        assert (sql.requests, sql.failed_requests, sql.attempts, sql.retries, sql.unpriced) == (6, 2, 14, 8, 0)
        assert led.unpriced(None, 0) == 0


def test_top_tier_given_explicitly_or_unknown() -> None:
    explicit = aggregate(ROWS, "route", top_models={S, OP})
    # first attempts on sonnet: r1 r2 r3 r4; on opus: r5 r6 r7 r8 (r3 fell back to haiku: still counted by its first)
    assert explicit.total.top_tier_requests == 8
    assert explicit.total.top_tier_share == pytest.approx(8 / 9)
    assert explicit.top_tier == (OP, S)
    unknown = aggregate(ROWS, "route")
    assert unknown.total.top_tier_share is None and unknown.top_tier == ()
    assert top_tier_models([S, H, "local"], {**PRICES, "local": None}.get) == frozenset({S})
    assert top_tier_models(["local"], lambda m: None) == frozenset()


def test_empty_rows() -> None:
    rep = aggregate([], "route")
    assert rep.groups == () and rep.total.requests == 0 and rep.total.miss_rate is None
    assert rep.spend_by_day == () and rep.spend_by_route == ()
    json.dumps(rep.as_dict())


def test_as_dict_is_json_and_rounded() -> None:
    since = datetime(2025, 1, 3, tzinfo=UTC)
    d = aggregate(ROWS, "route", input_price=PRICES.get, since=since).as_dict()
    text = json.dumps(d)
    assert d["since"] == "2025-01-03T00:00:00+00:00"
    assert d["by"] == "route" and d["top_tier"] == [OP]
    assert d["total"]["spend_usd"] == 0.813 and d["total"]["requests"] == 9
    assert d["groups"][0]["key"] == "architect" and d["groups"][0]["refused"] == 1
    assert d["spend_by_day"][1] == {"day": "2025-01-11", "spend_usd": 0.0}
    assert "NaN" not in text


def test_bad_by() -> None:
    with pytest.raises(ValueError, match="route, model, profile, day"):
        aggregate(ROWS, "provider")  # type: ignore[arg-type]


# -- --since --------------------------------------------------------------------------------------

NOW = datetime(2025, 3, 10, 15, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("text", "delta"),
    [("7d", timedelta(days=7)), ("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)),
     ("2w", timedelta(weeks=2)), ("90s", timedelta(seconds=90)), (" 3 days ", timedelta(days=3)),
     ("1.5h", timedelta(minutes=90)), ("12H", timedelta(hours=12))],
)  # fmt: skip
def test_since_durations(text: str, delta: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - delta


def test_since_dates() -> None:
    assert parse_since("2025-03-01", NOW) == datetime(2025, 3, 1, tzinfo=NOW.tzinfo)  # naive: now's zone
    assert parse_since("2025-03-01T09:15", NOW) == datetime(2025, 3, 1, 9, 15, tzinfo=NOW.tzinfo)
    assert parse_since("2025-03-01T09:15:00Z", NOW) == datetime(2025, 3, 1, 9, 15, tzinfo=UTC)
    assert parse_since("today", NOW) == datetime(2025, 3, 10, tzinfo=NOW.tzinfo)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "empty"), ("7x", "unknown unit 'x'"), ("3mo", "months are ambiguous"), ("last week", "neither a duration"),
     ("-7d", "cannot be negative"), ("2025-13-01", "neither a duration"), ("2030-01-01", "in the future"),
     ("d7", "neither a duration")],
)  # fmt: skip
def test_since_errors_are_clear(text: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_since(text, NOW)
    msg = str(info.value)
    assert fragment in msg
    assert "\n" not in msg


def test_since_errors_say_what_works() -> None:
    with pytest.raises(ValueError, match=r"30m, 24h, 7d or 2w"):
        parse_since("soon", NOW)


def test_since_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_since("7d", datetime(2025, 1, 1))
