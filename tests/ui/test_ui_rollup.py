"""The dashboard's in-memory rollup equals `Ledger.stats` for any window, as rows arrive and files change."""

from __future__ import annotations

import random
import time
from datetime import UTC
from pathlib import Path

import pytest

from routesh.core.events import AttemptRecord
from routesh.ui.rollup import Rollup
from routesh.ui.store import ReadOnlyLedger
from routesh.usage.ledger import Ledger
from routesh.usage.stats import SLOT_S

NOW = time.time()


def fill(path: Path, n: int, seed: int, start: int = 0) -> None:
    rnd = random.Random(seed)
    with Ledger(path) as led:
        for i in range(start, start + n):
            used = rnd.random() < 0.8
            # timestamps on and around slot edges, in no particular order
            ts = (int(NOW // SLOT_S) - rnd.randint(0, 96 * 9)) * SLOT_S + rnd.choice([0, 0.001, -0.001, 450, 899.9])
            led.record(AttemptRecord(
                ts=ts, request_id=f"r{i // 2}", attempt=i % 2 + (0 if rnd.random() < 0.05 else 1),
                profile=rnd.choice(["a", "b"]), route=rnd.choice(["x", "y", "z"]), provider="p", model="m",
                via="api", status=rnd.choice(["ok", "ok", "error", "partial", "refused"]),
                input_tokens=rnd.randint(1, 900) if used else None, output_tokens=rnd.randint(1, 90) if used else None,
                cost_usd=(rnd.random() / 100 if rnd.random() < 0.9 else None) if used else None,
                tag=rnd.choice([None, "t1", "t2"])))
        if start == 0:
            led.mark_miss("r3")
            led.mark_miss("r5")


def check(rollup: Rollup, led: ReadOnlyLedger, since_ts: float) -> None:
    w = rollup.window(led, since_ts, NOW + 1)
    s = led.stats(since_ts, "route", tz=UTC)
    assert (w.total.requests, w.total.attempts, w.total.errors, w.total.unpriced) == \
        (s.total.requests, s.total.attempts, s.total.errors, s.total.unpriced)
    assert w.total.spend == pytest.approx(s.total.spend_usd, abs=1e-9)
    for g in s.groups:
        r = w.by_route[g.key]
        assert (r.requests, r.attempts, r.errors, r.misses) == (g.requests, g.attempts, g.errors, g.misses)
        assert r.spend == pytest.approx(g.spend_usd, abs=1e-9)
    by_day = {d: sum(v.values()) for d, v in w.day_route.items()}
    assert sum(by_day.values()) == pytest.approx(w.total.spend, abs=1e-9)
    assert set(by_day) <= set(w.days)


@pytest.mark.parametrize("back_s", [60, SLOT_S, SLOT_S * 3 + 0.5, 86400, 86400 * 3 + 123.4, 86400 * 30])
def test_windows_equal_stats_as_rows_arrive(tmp_path: Path, back_s: float) -> None:
    path = tmp_path / "usage.db"
    fill(path, 400, seed=1)
    led = ReadOnlyLedger(path)
    rollup = Rollup(UTC)
    check(rollup, led, NOW - back_s)
    fill(path, 150, seed=2, start=400)  # new rows, folded in incrementally
    check(rollup, led, NOW - back_s)
    led.close()


def test_a_replaced_file_is_read_afresh(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    fill(path, 300, seed=3)
    led = ReadOnlyLedger(path)
    rollup = Rollup(UTC)
    check(rollup, led, NOW - 86400 * 10)
    led.close()
    path.rename(tmp_path / "old.db")
    fill(path, 50, seed=4)
    led = ReadOnlyLedger(path)
    check(rollup, led, NOW - 86400 * 10)
    assert rollup.window(led, NOW - 86400 * 10, NOW + 1).total.attempts == 50
    assert rollup.menus()["tag"][0] in ("t1", "t2")
    led.close()


def test_the_outcomes_cache_answers_at_once_and_refreshes_behind(tmp_path: Path) -> None:
    import threading

    from routesh.ui.outcomes_cache import OutcomesCache

    path = tmp_path / "usage.db"
    fill(path, 20, seed=5)
    led = ReadOnlyLedger(path)
    cache = OutcomesCache()
    calls: list[int] = []
    done = threading.Event()

    def compute() -> dict:
        calls.append(cache.state(led)[0])
        return {"rows": calls[-1]}

    def background() -> None:
        cache.put("7d", cache.state(led), compute())
        done.set()

    assert cache.get("7d", led, compute, background) == ({"rows": 20}, None)  # first time: computed now
    assert cache.get("7d", led, compute, background) == ({"rows": 20}, None) and len(calls) == 1  # unchanged
    fill(path, 5, seed=6, start=20)
    report, stale_at = cache.get("7d", led, compute, background)  # changed: the kept one now, a new one behind
    assert report == {"rows": 20} and stale_at is not None
    assert done.wait(10)
    assert cache.get("7d", led, compute, background) == ({"rows": 25}, None)
    with Ledger(path) as w:
        w.mark_miss("r1")  # a miss marked on an old request changes the report too
    done.clear()
    assert cache.get("7d", led, compute, background)[1] is not None
    assert done.wait(10)  # the refresh behind finishes before its ledger is closed
    led.close()
