"""Pure aggregation over ledger rows, so `routesh stats` numbers are testable without a database or a clock."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

By = Literal["route", "model", "profile", "day"]
BY_CHOICES: tuple[By, ...] = ("route", "model", "profile", "day")

Row = Mapping[str, Any]


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) by linear interpolation between closest ranks; None for no values.

    This is the "inclusive" method (Hyndman-Fan type 7: numpy's default, Excel's
    PERCENTILE.INC): sort the n values, take rank h = (n - 1) * p / 100 (0-based) and
    interpolate between values[floor(h)] and values[ceil(h)]. p50 of [1, 2, 3, 4] is 2.5;
    p95 of 1..20 is 19.05.
    """
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be between 0 and 100 (got {p})")
    if not values:
        return None
    ordered = sorted(values)
    return _sorted_percentile(ordered, p)


def _sorted_percentile(ordered: Sequence[float], p: float) -> float | None:
    """percentile() on values already sorted ascending (no copy, no sort)."""
    n = len(ordered)
    if n == 0:
        return None
    h = (n - 1) * p / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, n - 1)
    return float(ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo]))


@dataclass(frozen=True)
class GroupStats:
    """The numbers for one group (a route, model, profile or day), or for all rows together."""

    key: str
    requests: int  # requests whose first attempt is in this group (where the router sent them)
    attempts: int  # ledger rows: first attempts, retries and fallbacks
    ok: int
    errors: int  # attempts with status "error" (a request that succeeded on a retry has some too)
    partial: int
    refused: int
    cancelled: int
    spend_usd: float  # sum of the known costs
    unpriced: int  # attempts whose cost is unknown (no price for the model)
    latency_p50_ms: float | None  # of ok attempts
    latency_p95_ms: float | None
    ttft_p50_ms: float | None  # of ok attempts that reported a time to first token
    ttft_p95_ms: float | None
    top_tier_requests: int  # requests whose first attempt went to a top-price model
    top_tier_share: float | None  # top_tier_requests / requests; None when no price is known or no requests
    misses: int  # requests marked as routing misses (/miss)
    miss_rate: float | None  # misses / requests; None when no requests
    failed_requests: int = 0  # requests no attempt answered (not ok, refused or cancelled on any attempt)
    retries: int = 0  # attempts after a request's first: retries and fallbacks

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (spend rounded to micro-dollars, latencies to 0.1 ms)."""
        out = asdict(self)
        out["spend_usd"] = round(self.spend_usd, 6)
        for name in ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "ttft_p95_ms"):
            if out[name] is not None:
                out[name] = round(out[name], 1)
        for name in ("top_tier_share", "miss_rate"):
            if out[name] is not None:
                out[name] = round(out[name], 4)
        return out


@dataclass(frozen=True)
class StatsReport:
    """Everything `routesh stats` shows: the table's groups, a total and the two spend charts."""

    by: By
    groups: tuple[GroupStats, ...]  # by spend, then requests (chronological when by="day")
    total: GroupStats
    spend_by_route: tuple[tuple[str, float], ...]  # most expensive first
    spend_by_day: tuple[tuple[str, float], ...]  # chronological, days without spend included
    top_tier: tuple[str, ...]  # the models counted as top-price
    since: str | None = None  # ISO-8601 start of the window, when there was one

    def as_dict(self) -> dict[str, Any]:
        """The `routesh stats --json` object."""
        return {
            "by": self.by,
            "since": self.since,
            "groups": [g.as_dict() for g in self.groups],
            "total": self.total.as_dict(),
            "spend_by_route": [{"route": k, "spend_usd": round(v, 6)} for k, v in self.spend_by_route],
            "spend_by_day": [{"day": k, "spend_usd": round(v, 6)} for k, v in self.spend_by_day],
            "top_tier": list(self.top_tier),
        }


# Each row is folded as a compact tuple (the ledger builds it in SQL, aggregate() in Python):
# (key, slot, code, cost_usd, latency_ms, ttft_ms, route, model) where key is the route, model
# or profile (None when grouping by day), slot = int(ts // 900) and code packs the status with
# two flags, so the loop creates no per-row strings beyond what it must. route (model) may be
# None when the key already is the route (model).
STATUS_CODE = {"ok": 0, "error": 1, "partial": 2, "refused": 3, "cancelled": 4}  # anything else: 5
FIRST = 8  # attempt <= 1: this row starts a request (refused requests are attempt 0)
MISS = 16  # ...and that request was marked as a routing miss
FAILED = 32  # ...and no attempt of that request ended ok, refused or cancelled
CODES = 64  # distinct packed codes
ANSWERED = ("ok", "refused", "cancelled")  # a request with an attempt in one of these did not fail
SLOT_S = 900  # every real UTC offset is a multiple of 15 minutes, so a slot never straddles a local midnight


class _Acc:
    """Running totals for one group (mutable on purpose: one pass over 100k rows)."""

    __slots__ = ("codes", "spend", "unpriced", "lat", "ttft", "first_by_model")

    def __init__(self) -> None:
        self.codes = [0] * CODES  # rows per packed code
        self.spend = 0.0
        self.unpriced = 0
        self.lat: list[float] = []
        self.ttft: list[float] = []
        self.first_by_model: dict[str, int] = {}  # first attempts per model, for the top-tier share

    def merge(self, other: _Acc) -> None:
        """Fold another group in (the total is the merge of all groups)."""
        self.codes = [a + b for a, b in zip(self.codes, other.codes, strict=True)]
        self.spend += other.spend
        self.unpriced += other.unpriced
        self.lat += other.lat
        self.ttft += other.ttft
        for m, n in other.first_by_model.items():
            self.first_by_model[m] = self.first_by_model.get(m, 0) + n

    def result(self, key: str, top: frozenset[str]) -> GroupStats:
        """Freeze into a GroupStats."""
        codes = self.codes
        statuses = {name: sum(codes[c] for c in range(CODES) if c & 7 == value)
                    for name, value in STATUS_CODE.items()}
        return make_group(
            key,
            requests=sum(codes[c] for c in range(CODES) if c & FIRST),
            attempts=sum(codes),
            statuses=statuses,
            spend_usd=self.spend,
            unpriced=self.unpriced,
            latencies=self.lat,
            ttfts=self.ttft,
            top_tier_requests=sum(n for m, n in self.first_by_model.items() if m in top) if top else None,
            misses=sum(codes[c] for c in range(CODES) if c & MISS),
            failed_requests=sum(codes[c] for c in range(CODES) if c & FAILED),
            retries=sum(codes[c] for c in range(CODES) if not c & FIRST),
        )


def make_group(
    key: str,
    *,
    requests: int,
    attempts: int,
    statuses: Mapping[str, int],
    spend_usd: float,
    unpriced: int,
    latencies: list[float],
    ttfts: list[float],
    top_tier_requests: int | None,
    misses: int,
    failed_requests: int = 0,
    retries: int = 0,
) -> GroupStats:
    """A GroupStats from counts and raw latency lists (sorted in place); shared by the pure and SQL paths."""
    latencies.sort()
    ttfts.sort()
    return GroupStats(
        key=key,
        requests=requests,
        attempts=attempts,
        ok=statuses.get("ok", 0),
        errors=statuses.get("error", 0),
        partial=statuses.get("partial", 0),
        refused=statuses.get("refused", 0),
        cancelled=statuses.get("cancelled", 0),
        spend_usd=spend_usd,
        unpriced=unpriced,
        latency_p50_ms=_sorted_percentile(latencies, 50),
        latency_p95_ms=_sorted_percentile(latencies, 95),
        ttft_p50_ms=_sorted_percentile(ttfts, 50),
        ttft_p95_ms=_sorted_percentile(ttfts, 95),
        top_tier_requests=top_tier_requests or 0,
        top_tier_share=top_tier_requests / requests if (requests and top_tier_requests is not None) else None,
        misses=misses,
        miss_rate=misses / requests if requests else None,
        failed_requests=failed_requests,
        retries=retries,
    )


def make_report(
    by: By,
    groups: Iterable[GroupStats],
    total: GroupStats,
    route_spend: Mapping[str, float],
    day_spend: Mapping[str, float],
    top: Collection[str],
    since: datetime | None,
) -> StatsReport:
    """Order the groups and charts the way `routesh stats` shows them; shared by the pure and SQL paths."""
    results = list(groups)
    if by == "day":
        results.sort(key=lambda g: g.key)
    else:
        results.sort(key=lambda g: (-g.spend_usd, -g.requests, g.key))
    return StatsReport(
        by=by,
        groups=tuple(results),
        total=total,
        spend_by_route=tuple(sorted(route_spend.items(), key=lambda kv: (-kv[1], kv[0]))),
        spend_by_day=_fill_days(day_spend),
        top_tier=tuple(sorted(top)),
        since=since.isoformat() if since is not None else None,
    )


def check_by(by: str) -> None:
    """Reject an unknown --by with the choices spelled out."""
    if by not in BY_CHOICES:
        raise ValueError(f"--by must be one of {', '.join(BY_CHOICES)} (got {by!r})")


def top_tier_models(models: Iterable[str], input_price: Callable[[str], float | None]) -> frozenset[str]:
    """The models sharing the highest known input price among `models` (empty when none is priced)."""
    prices = {m: input_price(m) for m in set(models)}
    known = [p for p in prices.values() if p is not None]
    if not known:
        return frozenset()
    best = max(known)
    return frozenset(m for m, p in prices.items() if p is not None and p == best)


def aggregate(
    rows: Iterable[Row],
    by: By = "route",
    *,
    input_price: Callable[[str], float | None] | None = None,
    top_models: Collection[str] | None = None,
    tz: tzinfo = UTC,
    since: datetime | None = None,
) -> StatsReport:
    """Group ledger rows (`routesh log --json` dicts with ts as a Unix time, plus `miss`) into a StatsReport.

    A request counts in the group of its first attempt (attempt <= 1: where the router sent
    it); retries and fallbacks are attempts. Status counts, spend and latency are per
    attempt; latency and TTFT percentiles are over ok attempts. The top-price tier is
    `top_models` when given, else the models whose input price (from `input_price`) is
    the highest among the models seen; with neither, shares are None. Days are calendar
    days in `tz`.
    """
    check_by(by)
    key_name = None if by == "day" else by
    rows = list(rows)
    answered = {r.get("request_id") for r in rows if r["status"] in ANSWERED}
    packed = []
    for r in rows:
        first = (r.get("attempt") or 0) <= 1
        code = STATUS_CODE.get(r["status"], 5) | (FIRST if first else 0) | (MISS if first and r.get("miss") else 0)
        if first and r.get("request_id") not in answered:
            code |= FAILED
        packed.append((
            None if key_name is None else r[key_name], int(r["ts"] // SLOT_S), code,
            row_cost(r), r.get("latency_ms"), r.get("ttft_ms"), r["route"], r["model"],
        ))  # fmt: skip
    return fold(packed, by, input_price=input_price, top_models=top_models, tz=tz, since=since)


def row_cost(r: Row) -> float | None:
    """An attempt's cost for spend: its own; $0 when it used nothing (no usage reported, nothing received);
    None (unpriced) only when tokens were used but their price is unknown."""
    cost = r.get("cost_usd")
    if cost is None and r.get("input_tokens") is None and r.get("output_tokens") is None:
        return 0.0
    return cost


def fold(
    rows: Iterable[tuple[Any, ...]],
    by: By = "route",
    *,
    input_price: Callable[[str], float | None] | None = None,
    top_models: Collection[str] | None = None,
    tz: tzinfo = UTC,
    since: datetime | None = None,
) -> StatsReport:
    """The one loop behind aggregate() and Ledger.stats(): packed tuples (see STATUS_CODE) → StatsReport."""
    check_by(by)
    groups: dict[Any, _Acc] = {}
    slot_spend: dict[int, float] = {}
    route_spend: dict[str, float] = {}
    day_cache: dict[int, str] = {}
    models_seen: set[str] = set()
    for key, slot, code, cost, lat, ttft, route, model in rows:
        if route is None:
            route = key  # grouped by route: the ledger sends it once
        elif model is None:
            model = key  # grouped by model, likewise
        models_seen.add(model)
        if key is None:
            key = day_cache.get(slot)
            if key is None:
                key = day_cache[slot] = datetime.fromtimestamp(slot * SLOT_S, tz).date().isoformat()
        acc = groups.get(key)
        if acc is None:
            acc = groups[key] = _Acc()
        acc.codes[code] += 1
        if code & FIRST:
            fm = acc.first_by_model
            fm[model] = fm.get(model, 0) + 1
        if cost is None:
            acc.unpriced += 1
            cost = 0.0
        else:
            acc.spend += cost
        slot_spend[slot] = slot_spend.get(slot, 0.0) + cost
        route_spend[route] = route_spend.get(route, 0.0) + cost
        if not code & 7:  # ok
            if lat is not None:
                acc.lat.append(lat)
            if ttft is not None:
                acc.ttft.append(ttft)
    if top_models is not None:
        top = frozenset(top_models)
    elif input_price is not None:
        top = top_tier_models(models_seen, input_price)
    else:
        top = frozenset()
    day_spend: dict[str, float] = {}
    for slot, spend in slot_spend.items():
        day = day_cache.get(slot)
        if day is None:
            day = day_cache[slot] = datetime.fromtimestamp(slot * SLOT_S, tz).date().isoformat()
        day_spend[day] = day_spend.get(day, 0.0) + spend
    results = [acc.result(str(k), top) for k, acc in groups.items()]  # sorts each group's latencies in place
    total = _Acc()
    for acc in groups.values():
        total.merge(acc)  # sorted runs: the total's sort is a cheap merge
    return make_report(by, results, total.result("total", top), route_spend, day_spend, top, since)


MAX_FILLED_DAYS = 366  # beyond this span only the days that have rows are listed


def _fill_days(day_spend: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    """Spend per day from the first to the last day seen, with zero for the days in between (up to a year)."""
    if not day_spend:
        return ()
    first = date.fromisoformat(min(day_spend))
    last = date.fromisoformat(max(day_spend))
    if (last - first).days >= MAX_FILLED_DAYS:
        return tuple(sorted(day_spend.items()))
    out = []
    d = first
    while d <= last:
        key = d.isoformat()
        out.append((key, day_spend.get(key, 0.0)))
        d += timedelta(days=1)
    return tuple(out)
