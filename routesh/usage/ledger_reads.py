"""The ledger's reports: `routesh log` rows and the rows and one-scan folds `routesh stats` is made of.

A mixin of Ledger (usage/ledger.py), which owns the file, the connection and its lock, the writes and the
budget queries; the WHERE filters and LedgerError both use are here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from .ledger_schema import LOG_EXTRA_FIELDS, LOG_FIELDS

if TYPE_CHECKING:
    from .stats import StatsReport

WIDE_WINDOW = 0.125  # the share of the ledger's time span above which stats scans the table in order


class LedgerError(Exception):
    """The ledger could not be read (the write path never raises this)."""


def iso_utc(ts: float) -> str:
    """A Unix timestamp as ISO-8601 UTC with milliseconds (2025-01-31T09:00:00.000+00:00)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _as_ts(when: float | datetime | None) -> float | None:
    """A bound given as a Unix timestamp or an aware datetime → Unix timestamp."""
    if when is None or isinstance(when, (int, float)):
        return when
    if when.tzinfo is None:
        raise ValueError("pass an aware datetime (with a time zone) or a Unix timestamp")
    return when.timestamp()


class LedgerReads:
    """log and stats reads over the store's one connection; a file that cannot be read is a LedgerError."""

    _lock: threading.Lock
    _db_errors: tuple[type[BaseException], ...]

    def _reader(self) -> sqlite3.Connection:
        raise NotImplementedError  # the store (Ledger) opens, migrates and shares the connection

    def _read_error(self, exc: BaseException) -> LedgerError:
        raise NotImplementedError

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def recent(
        self,
        n: int | None = 20,
        route: str | None = None,
        since: float | datetime | None = None,
        profile: str | None = None,
        *,
        include_prompt: bool = False,
    ) -> list[dict[str, Any]]:
        """The latest n attempts, newest first, as `routesh log --json` objects (ts as ISO-8601 UTC).

        Besides the DESIGN.md fields each object has rule, tag, prompt_sha256, prompt_chars,
        session_id, miss and miss_note; `prompt` only with include_prompt=True.
        """
        where, params = _filters(since=since, route=route, profile=profile)
        cols = ", ".join(f"a.{c}" for c in (*LOG_FIELDS, *LOG_EXTRA_FIELDS[:5]))
        if include_prompt:
            cols += ", a.prompt"
        sql = (
            f"SELECT {cols}, m.request_id IS NOT NULL, m.note, a.extra, a.baseline_cost_usd FROM attempts a "
            f"LEFT JOIN misses m ON m.request_id = a.request_id{where} ORDER BY a.ts DESC, a.id DESC"
        )
        if n is not None:
            if n < 0:
                raise ValueError(f"-n must be zero or more (got {n})")
            sql += " LIMIT ?"
            params.append(n)
        names = (*LOG_FIELDS, *LOG_EXTRA_FIELDS[:5], *(("prompt",) if include_prompt else ()), "miss", "miss_note",
                 "usage_estimated", "baseline_cost_usd")
        out = []
        for row in self._query(sql, params):
            d = dict(zip(names, row, strict=True))
            d["ts"] = iso_utc(d["ts"])
            d["miss"] = bool(d["miss"])
            d["usage_estimated"] = _usage_estimated(d["usage_estimated"])
            out.append(d)
        return out

    def rows_since(
        self, ts: float | datetime | None, profile: str | None = None, until: float | datetime | None = None
    ) -> list[dict[str, Any]]:
        """The rows stats needs (ts as a float, plus `miss`), oldest first; ts None means all."""
        where, params = _filters(since=ts, until=until, profile=profile)
        sql = (
            "SELECT a.ts, a.request_id, a.attempt, a.profile, a.route, a.provider, a.model, a.status, a.cost_usd, "
            "a.latency_ms, a.ttft_ms, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_write_tokens, "
            "m.request_id IS NOT NULL "
            f"FROM attempts a LEFT JOIN misses m ON m.request_id = a.request_id{where} ORDER BY a.ts, a.id"
        )
        names = _STATS_FIELDS
        return [dict(zip(names, row, strict=True)) for row in self._query(sql, params)]

    def stats(
        self,
        since: float | datetime | None = None,
        by: str = "route",
        *,
        profile: str | None = None,
        until: float | datetime | None = None,
        input_price: Callable[[str], float | None] | None = None,
        top_models: Collection[str] | None = None,
        tz: tzinfo = UTC,
    ) -> StatsReport:
        """`routesh stats` for a window: one narrow SQL scan (status and flags packed in an int) fed to stats.fold."""
        from . import stats as st

        st.check_by(by)
        where, params = _filters(since=since, until=until, profile=profile)
        key = "NULL" if by == "day" else f"a.{by}"
        status_code = " ".join(f"WHEN '{name}' THEN {code}" for name, code in st.STATUS_CODE.items())
        sql = (
            f"SELECT {key}, CAST(a.ts / {st.SLOT_S} AS INTEGER), "
            f"(CASE a.status {status_code} ELSE 5 END) + {st.FIRST} * CAST(a.attempt <= 1 AS INTEGER) "
            f"+ {st.MISS} * CAST(a.attempt <= 1 AND a.request_id IN (SELECT request_id FROM misses) AS INTEGER) "
            # failed: a first attempt that did not answer, and no later one did either (an index lookup for the few)
            f"+ {st.FAILED} * CAST(a.attempt <= 1 AND a.status NOT IN {st.ANSWERED!r} AND NOT EXISTS (SELECT 1 "
            f"FROM attempts b WHERE b.request_id = a.request_id AND b.status IN {st.ANSWERED!r}"
            f"{where.replace(' WHERE ', ' AND ').replace('a.', 'b.')}) AS INTEGER), "
            f"{_COST_OR_FREE}, a.latency_ms, a.ttft_ms, {'NULL' if by == 'route' else 'a.route'}, "
            f"{'NULL' if by == 'model' else 'a.model'} FROM attempts a{' NOT INDEXED' if self._wide(since) else ''}"
            f"{where}"
        )
        conn = self._reader()
        try:
            with self._lock:
                cursor = conn.execute(sql, [*params, *params])  # the answered-later subquery's window, then the scan
                if since is None or isinstance(since, datetime):
                    since_dt = since
                else:
                    since_dt = datetime.fromtimestamp(since, UTC)
                return st.fold(cursor, by, input_price=input_price, top_models=top_models, tz=tz, since=since_dt)  # type: ignore[arg-type]
        except self._db_errors as exc:
            raise self._read_error(exc) from exc

    def _wide(self, since: float | datetime | None) -> bool:
        """Whether a window holds enough of the ledger that reading the table in order beats the ts index (at
        100,000 rows over 60 days the scan took 0.5-0.7x the indexed read); estimated from the oldest and newest
        rows (two index lookups), as if requests were spread evenly."""
        if since is None:
            return True
        lo, hi = self._query("SELECT (SELECT MIN(ts) FROM attempts), (SELECT MAX(ts) FROM attempts)")[0]
        if lo is None or hi <= lo:
            return True
        start = since.timestamp() if isinstance(since, datetime) else since
        return (hi - start) / (hi - lo) > WIDE_WINDOW


def _usage_estimated(extra: str | None) -> bool:
    """Whether a row's token counts are partly estimated (a cancelled or broken attempt), from its extra JSON."""
    if not extra or "usage" not in extra:
        return False
    try:
        return json.loads(extra).get("usage") == "estimated"
    except (ValueError, AttributeError):
        return False


# stats.row_cost in SQL: an attempt that used nothing costs $0; NULL (unpriced) only when tokens went unpriced.
_COST_OR_FREE = ("CASE WHEN a.cost_usd IS NULL AND a.input_tokens IS NULL AND a.output_tokens IS NULL "
                 "THEN 0.0 ELSE a.cost_usd END")

_STATS_FIELDS = (
    "ts", "request_id", "attempt", "profile", "route", "provider", "model", "status", "cost_usd",
    "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "miss",
)  # fmt: skip
def _filters(
    *,
    since: float | datetime | None = None,
    until: float | datetime | None = None,
    route: str | None = None,
    profile: str | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause over attempts (aliased a) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    lo, hi = _as_ts(since), _as_ts(until)
    if lo is not None:
        clauses.append("a.ts >= ?")
        params.append(lo)
    if hi is not None:
        clauses.append("a.ts < ?")
        params.append(hi)
    if route is not None:
        clauses.append("a.route = ?")
        params.append(route)
    if profile is not None:
        clauses.append("a.profile = ?")
        params.append(profile)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
