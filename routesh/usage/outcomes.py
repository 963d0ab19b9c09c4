"""`routesh stats --outcomes`: per route, what sessions cost and how they went, against the baseline.

One narrow scan of the ledger, folded per request, then per session, then per route. A request (its
retries and fallbacks included) counts for the route the router sent it to; a session counts for every
route one of its requests went to. The definitions below are printed with every report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.outcome_signals import NEAR_BITS, RE_ASK_WINDOW_S, near, parse_tools

if TYPE_CHECKING:
    from ..core.catalog import Catalog
    from ..core.config import Config
    from .ledger import Ledger

MIN_SESSIONS = 5  # fewer sessions than this on a route: no rate and no per-session figure is shown
DEFINITIONS = {
    "session": "a Claude Code session through `routesh code`/`serve` (its session id), a shell conversation, "
               "or a one-shot request on its own",
    "successful_session": "a session with no rejected edit, no re-ask answered on another route and no /miss",
    "failed_tool_call": "a tool_result with is_error: true that is not a permission rejection",
    "rejected_edit": "an Edit/Write/MultiEdit/NotebookEdit tool use answered by Claude Code's permission-denied "
                     "tool_result (the user said no, or -p mode had no permission)",
    "re_ask": f"a typed prompt equal or nearly equal (simhash of its words within {NEAR_BITS} of 64 bits) to an "
              f"earlier answered prompt of the same session less than {RE_ASK_WINDOW_S / 60:.0f} minutes before; "
              "counted "
              "for the earlier prompt's route",
    "turn": "a request carrying a prompt the user typed (not tool results, not Claude Code's background or "
            "subagent requests)",
    "savings": "baseline_cost_usd - cost_usd: the same token counts priced on the baseline model, per attempt, "
               "over attempts whose two prices are both known",
}
_COST = ("CASE WHEN a.cost_usd IS NULL AND a.input_tokens IS NULL AND a.output_tokens IS NULL "
         "THEN 0.0 ELSE a.cost_usd END")


class _Route:
    """Running totals for one route (mutable: one pass over many rows)."""

    __slots__ = ("name", "sessions", "requests", "cost", "baseline", "savings", "tools", "tool_text", "tool_calls",
                 "failed", "edits", "rejected", "re_asks", "misses", "turns")

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.sessions: set[str] = set()
        self.requests = 0
        self.cost = self.baseline = self.savings = 0.0
        self.tools: dict[str, int] = {}
        self.tool_text: dict[str, int] = {}  # `tools` column values seen, parsed once each at the end
        self.tool_calls = self.failed = self.edits = self.rejected = self.re_asks = self.misses = self.turns = 0


def outcomes_report(ledger: Ledger, *, since_ts: float | None, until_ts: float | None,
                    routes: Sequence[str] | None = None, profile: str | None = None,
                    config: Config | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
    """The `routesh stats --outcomes --json` object for a window (routes: only these rows, in this order)."""
    from .ledger_reads import _filters, iso_utc

    where, params = _filters(since=since_ts, until=until_ts, profile=profile)
    # No join, no ORDER BY, no index: one sequential scan in rowid order (oldest first), 4x faster than reading
    # a wide window through the ts index; misses are a small set.
    # Text only where it is needed (a turn's prompt hash, a signals row's tools): 100k rows of strings cost.
    sql = (f"SELECT a.request_id, a.session_id, a.ts, a.route, {_COST}, a.baseline_cost_usd, "
           "a.ts + COALESCE(a.latency_ms, 0) / 1000.0, a.status = 'ok', a.tool_calls, a.failed_tool_calls, a.edits, "
           "a.rejected_edits, CASE WHEN a.tool_calls THEN a.tools END, a.turn, "
           f"CASE WHEN a.turn THEN a.prompt_sketch END, CASE WHEN a.turn THEN a.prompt_sha256 END "
           f"FROM attempts a NOT INDEXED{where}")
    rows = ledger._query(sql, params)
    misses = {r for (r,) in ledger._query("SELECT request_id FROM misses")}
    per_route, sessions = _fold(rows, misses)
    names = list(routes) if routes is not None else sorted(per_route, key=lambda r: (-per_route[r].cost, r))
    total = _Route(None)
    for acc in per_route.values():
        _merge(total, acc)
    return {
        "period": {"since": iso_utc(since_ts) if since_ts is not None else None,
                   "until": iso_utc(until_ts) if until_ts is not None else None},
        "min_sessions": MIN_SESSIONS,
        "definitions": DEFINITIONS,
        "baseline": baseline_info(config, catalog),
        "routes": [_row(per_route.get(n) or _Route(n), sessions) for n in names],
        "total": _row(total, sessions),
    }


Turn = tuple[float, str | None, int | None, str, str]  # (ts, prompt sha, sketch, route, request id)


def _fold(rows: list[tuple[Any, ...]], misses: set[str]) -> tuple[dict[str, _Route], dict[str, list[Any]]]:
    """Rows (a request's first row first) → per-route totals and per-session [start, end, successful]."""
    per_route: dict[str, _Route] = {}
    sessions: dict[str, list[Any]] = {}  # key → [first ts, last end ts, successful so far]
    req: dict[str, tuple[_Route, list[Any]]] = {}  # request id → (its route's totals, its session)
    answered: set[str] = set()
    turns: dict[str, list[Turn]] = {}
    for (rid, sid, ts, route, cost, base, end, ok, calls, failed, edits, rejected, tools, turn, sk,
         sha) in rows:
        got = req.get(rid)
        if got is None:
            key = sid or "req:" + rid
            acc = per_route.get(route)
            if acc is None:
                acc = per_route[route] = _Route(route)
            acc.requests += 1
            acc.sessions.add(key)
            s = sessions.get(key)
            if s is None:
                s = sessions[key] = [ts, ts, True, key]
            elif ts < s[0]:
                s[0] = ts
            req[rid] = (acc, s)
        else:
            acc, s = got
        if end > s[1]:
            s[1] = end
        if ok:
            answered.add(rid)
        if cost is not None:
            acc.cost += cost
            if base is not None:
                acc.savings += base - cost
        if base is not None:
            acc.baseline += base
        if calls is not None:  # the request's signals row
            if calls:
                acc.tool_calls += calls
                if tools:
                    acc.tool_text[tools] = acc.tool_text.get(tools, 0) + 1
            if failed:
                acc.failed += failed
            if edits:
                acc.edits += edits
            if rejected:
                acc.rejected += rejected
                s[2] = False
        if turn:
            acc.turns += 1
            turns.setdefault(s[3], []).append((ts, sha, sk, acc.name, rid))  # type: ignore[arg-type]
    for rid in misses:
        got = req.get(rid)
        if got is not None:
            got[0].misses += 1
            got[1][2] = False
    for key, seen in turns.items():
        _re_asks(seen, answered, per_route, sessions[key])
    for acc in per_route.values():
        for text, n in acc.tool_text.items():
            one: dict[str, int] = {}
            parse_tools(text, one)
            for tool, k in one.items():
                acc.tools[tool] = acc.tools.get(tool, 0) + k * n
    return per_route, sessions


def _re_asks(seen: list[Turn], answered: set[str], per_route: dict[str, _Route], session: list[Any]) -> None:
    """Count a session's re-asks (on the earlier prompt's route); one answered on another route fails the session."""
    seen.sort()
    for i, (ts, sha, sk, route, _) in enumerate(seen):
        for j in range(i - 1, -1, -1):
            ets, esha, esk, eroute, erid = seen[j]
            if ts - ets > RE_ASK_WINDOW_S:
                break
            if erid in answered and ((sha and sha == esha) or (sk is not None and esk is not None and near(sk, esk))):
                per_route[eroute].re_asks += 1
                if eroute != route:
                    session[2] = False
                break


def _merge(total: _Route, acc: _Route) -> None:
    total.sessions |= acc.sessions
    for name in ("requests", "cost", "baseline", "savings", "tool_calls", "failed", "edits", "rejected", "re_asks",
                 "misses", "turns"):
        setattr(total, name, getattr(total, name) + getattr(acc, name))
    for tool, n in acc.tools.items():
        total.tools[tool] = total.tools.get(tool, 0) + n


def _rate(part: int, whole: int, enough: bool) -> float | None:
    return round(part / whole, 4) if enough and whole else None


def _row(acc: _Route, sessions: dict[str, list[Any]]) -> dict[str, Any]:
    """One ROW of the report; rates and per-session figures only from MIN_SESSIONS sessions on."""
    n = len(acc.sessions)
    enough = n >= MIN_SESSIONS
    good = sum(1 for k in acc.sessions if sessions[k][2])
    wall = sum(sessions[k][1] - sessions[k][0] for k in acc.sessions)
    return {
        "route": acc.name,
        "sessions": n,
        "requests": acc.requests,
        "cost_usd": round(acc.cost, 6),
        "baseline_cost_usd": round(acc.baseline, 6),
        "savings_usd": round(acc.savings, 6),
        "cost_per_session": round(acc.cost / n, 6) if enough else None,
        "successful_sessions": good,
        "cost_per_successful_session": round(acc.cost / good, 6) if enough and good else None,
        "tool_calls": acc.tool_calls,
        "tool_calls_by_name": dict(sorted(acc.tools.items(), key=lambda kv: (-kv[1], kv[0]))),
        "failed_tool_calls": acc.failed,
        "failed_tool_call_rate": _rate(acc.failed, acc.tool_calls, enough),
        "edits": acc.edits,
        "rejected_edits": acc.rejected,
        "rejected_edit_rate": _rate(acc.rejected, acc.edits, enough),
        "turns": acc.turns,
        "re_asks": acc.re_asks,
        "re_ask_rate": _rate(acc.re_asks, acc.turns, enough),
        "misses": acc.misses,
        "turns_per_session": round(acc.turns / n, 3) if enough else None,
        "wall_s_per_session": round(wall / n, 1) if enough else None,
    }


def baseline_info(config: Config | None, catalog: Catalog | None) -> dict[str, Any]:
    """{"route", "model"} of the baseline in use (the default config's when none is given)."""
    if config is None:
        try:
            from ..core.context import build

            ctx = build(None, None, blank_ok=True)
            config, catalog = ctx.config, ctx.catalog
        except Exception:  # noqa: BLE001 - a broken routes.yaml must not hide the report
            from ..core.configfile import builtin_text, parse

            config = parse(builtin_text(), "<built-in>")
    if catalog is None:
        from ..core.catalog import Catalog

        catalog = Catalog(config.models)
    from ..core.baseline import resolve

    base = resolve(config, catalog)
    return {"route": base.route if base else None, "model": base.model if base else None}
