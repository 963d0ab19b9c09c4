"""Spend and counts per 15-minute slot, route and profile, kept in memory and topped up with new rows only.

The ledger is append-only, so a page folds just the rows added since the last page (`id > last`) into
cells it already has, instead of grouping 100,000 rows again. A window's first, partial slot is asked
of SQLite exactly, so totals equal `routesh stats` to the row. The misses table can change for old
rows, so misses are always counted fresh (they are few and indexed by request).
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from ..usage.stats import SLOT_S

# per cell: spend, baseline spend, attempts, requests (first attempts), errors, unpriced attempts, and saved:
# baseline minus cost over the attempts priced both ways (as `routesh stats` counts savings)
SPEND, BASELINE, ATTEMPTS, REQUESTS, ERRORS, UNPRICED, SAVED = range(7)
N = 7
_COST = ("CASE WHEN cost_usd IS NULL AND input_tokens IS NULL AND output_tokens IS NULL THEN 0.0 ELSE cost_usd END")
_UNPRICED = "cost_usd IS NULL AND (input_tokens IS NOT NULL OR output_tokens IS NOT NULL)"


def _select(baseline: bool) -> str:
    """The per-row (or per-group) numbers a cell adds up, in cell order."""
    base = "baseline_cost_usd" if baseline else "NULL"
    saved = "CASE WHEN cost_usd IS NOT NULL THEN baseline_cost_usd - cost_usd END" if baseline else "NULL"
    return (f"SUM({_COST}), SUM({base}), COUNT(*), SUM(attempt <= 1), SUM(status = 'error'), "
            f"SUM({_UNPRICED}), SUM({saved})")


@dataclass(frozen=True)
class Totals:
    """One group's numbers over a window (a route, a profile, or everything)."""

    spend: float = 0.0
    baseline: float | None = None
    attempts: int = 0
    requests: int = 0
    errors: int = 0
    unpriced: int = 0
    misses: int = 0
    saved: float | None = None  # baseline minus cost where both are known; None without a baseline


@dataclass(frozen=True)
class Window:
    """What the spend page shows for a period: totals, per route and profile, and per local day."""

    total: Totals
    by_route: dict[str, Totals]
    by_profile: dict[str, Totals]
    days: tuple[str, ...]
    day_route: dict[str, dict[str, float]]  # day → route → spend
    day_profile: dict[str, dict[str, float]]
    day_baseline: dict[str, float] | None


class Rollup:
    """The in-memory cells for one ledger file; thread-safe; rebuilt when the file is replaced.

    Cells are kept twice: per local day (route, profile), which whole days of a window add up, and per
    slot for the window's first day, which starts mid-day.
    """

    def __init__(self, tz: tzinfo | None = None) -> None:
        self._lock = threading.Lock()
        self.tz = tz or datetime.now().astimezone().tzinfo
        self._ident: tuple[int, int] | None = None
        self._last = 0
        self._baseline = False
        self.day_cells: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(dict)
        self.slot_cells: dict[str, dict[tuple[int, str, str], list[float]]] = defaultdict(dict)
        self.models: Counter[str] = Counter()
        self.tags: Counter[str] = Counter()
        self._day_of: dict[int, str] = {}

    def day(self, slot: int) -> str:
        """The local date a slot falls on (slots never straddle a local midnight)."""
        d = self._day_of.get(slot)
        if d is None:
            d = self._day_of[slot] = datetime.fromtimestamp(slot * SLOT_S, self.tz).date().isoformat()
        return d

    def refresh(self, ledger: Any) -> None:
        """Fold in the rows added since the last call (all of them the first time)."""
        path: Path = ledger.path
        st = path.stat()
        with self._lock:
            ident = (st.st_dev, st.st_ino)
            top = int(ledger._query("SELECT COALESCE(MAX(id), 0) FROM attempts")[0][0])  # noqa: SLF001
            if ident != self._ident or top < self._last:  # another file, or one rewritten: start over
                self.__init__(self.tz)  # type: ignore[misc]
                self._ident = ident
                self._baseline = "baseline_cost_usd" in ledger.columns()
            if top == self._last:
                return
            rows = ledger._query(  # noqa: SLF001
                f"SELECT CAST(ts / {SLOT_S} AS INTEGER) AS slot, route, profile, {_select(self._baseline)}, "
                "model, tag FROM attempts WHERE id > ? AND id <= ? GROUP BY slot, route, profile, model, tag",
                (self._last, top))
            for slot, route, profile, *nums, model, tag in rows:
                day = self.day(slot)
                for cells, key in ((self.day_cells[day], (route, profile)),
                                   (self.slot_cells[day], (slot, route, profile))):
                    cell = cells.get(key)  # type: ignore[call-overload]
                    if cell is None:
                        cell = cells[key] = [0.0] * N  # type: ignore[index]
                    for i, v in enumerate(nums):
                        if v:
                            cell[i] += v
                self.models[model] += int(nums[ATTEMPTS])
                if tag is not None:
                    self.tags[tag] += int(nums[ATTEMPTS])
            self._last = top

    def menus(self, limit: int = 100) -> dict[str, list[str]]:
        """The values each log filter can take (routes and profiles by name; models and tags most used first)."""
        with self._lock:
            keys = {k for cells in self.day_cells.values() for k in cells}
            return {"route": sorted({k[0] for k in keys}), "profile": sorted({k[1] for k in keys}),
                    "model": [m for m, _ in self.models.most_common(limit)],
                    "tag": [t for t, _ in self.tags.most_common(limit)]}

    def window(self, ledger: Any, since_ts: float, until_ts: float) -> Window:
        """The period's numbers: whole days and slots from memory, the first partial slot asked exactly.

        until_ts is taken as "now": rows stamped later than that (a clock set back) still count.
        """
        self.refresh(ledger)
        first = int(since_ts // SLOT_S) + 1  # the first slot wholly inside the window
        start_day = self.day(first)
        parts: list[tuple[str, str, str, list[float]]] = []
        with self._lock:
            for (slot, route, profile), cell in self.slot_cells.get(start_day, {}).items():
                if slot >= first:
                    parts.append((route, profile, start_day, cell))
            for day, cells in self.day_cells.items():
                if day > start_day:
                    parts += [(route, profile, day, cell) for (route, profile), cell in cells.items()]
        edge = ledger._query(  # noqa: SLF001
            f"SELECT route, profile, {_select(self._baseline)} FROM attempts WHERE ts >= ? AND ts < ? "
            "GROUP BY route, profile", (since_ts, first * SLOT_S))
        first_day = datetime.fromtimestamp(since_ts, self.tz).date().isoformat()
        parts += [(route, profile, first_day, [v or 0 for v in nums]) for route, profile, *nums in edge]
        return self._fold(ledger, parts, since_ts, until_ts)

    def _fold(self, ledger: Any, parts: list[tuple[str, str, str, list[float]]], since_ts: float,
              until_ts: float) -> Window:
        by_route: dict[str, list[float]] = defaultdict(lambda: [0.0] * N)
        by_profile: dict[str, list[float]] = defaultdict(lambda: [0.0] * N)
        total = [0.0] * N
        day_route: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        day_profile: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        day_base: dict[str, float] = defaultdict(float)
        for route, profile, day, cell in parts:
            r, p = by_route[route], by_profile[profile]
            for i in range(N):
                r[i] += cell[i]
                p[i] += cell[i]
                total[i] += cell[i]
            day_route[day][route] += cell[SPEND]
            day_profile[day][profile] += cell[SPEND]
            day_base[day] += cell[BASELINE]
        misses = dict(ledger._query(  # noqa: SLF001 - CROSS JOIN: misses first (they are few), then the index
            "SELECT a.route, COUNT(*) FROM misses m CROSS JOIN attempts a ON a.request_id = m.request_id "
            "WHERE a.attempt <= 1 AND a.ts >= ? GROUP BY a.route", (since_ts,)))

        def totals(c: list[float], missed: int = 0) -> Totals:
            return Totals(c[SPEND], c[BASELINE] if self._baseline else None, int(c[ATTEMPTS]), int(c[REQUESTS]),
                          int(c[ERRORS]), int(c[UNPRICED]), missed, c[SAVED] if self._baseline else None)

        return Window(
            totals(total, sum(misses.values())),
            {k: totals(v, misses.get(k, 0)) for k, v in by_route.items()},
            {k: totals(v) for k, v in by_profile.items()},
            _days(since_ts, until_ts, self.tz),
            {d: dict(v) for d, v in day_route.items()},
            {d: dict(v) for d, v in day_profile.items()},
            dict(day_base) if self._baseline else None,
        )


def _days(since_ts: float, until_ts: float, tz: tzinfo) -> tuple[str, ...]:
    """Every local day from the window's first to its last, as ISO dates (at most 800)."""
    day = datetime.fromtimestamp(since_ts, tz).date()
    last = datetime.fromtimestamp(max(since_ts, until_ts - 1e-3), tz).date()
    out = []
    while day <= last and len(out) < 800:
        out.append(day.isoformat())
        day += timedelta(days=1)
    return tuple(out)
