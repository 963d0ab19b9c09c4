"""The spend page (stacked by route and by profile, baseline line, savings) and the outcomes table."""

from __future__ import annotations

from typing import Any

from . import svg
from .html import esc, hidden, href, num, page, table, usd
from .rollup import Totals, Window

PERIODS = ("24h", "7d", "30d", "90d")


def period_form(token: str, since: str, action: str) -> str:
    """The period picker shared by the spend and outcomes pages (a GET form: no script needed)."""
    opts = "".join(f'<option{" selected" if p == since else ""}>{esc(p)}</option>' for p in
                   dict.fromkeys((*PERIODS, since)))
    return (f'<form class="filters" method="get" action="{esc(action)}">{hidden({"token": token})}'
            f'<label>Period <select name="since">{opts}</select></label><button>Show</button></form>')


def _savings(t: Totals) -> str:
    """The period's savings in words (as `routesh stats` counts them); says plainly when routing cost more."""
    if t.baseline is None or t.saved is None:
        return ('<p class="muted">No baseline is recorded in this ledger yet (requests recorded by a routesh '
                "that prices each attempt against the baseline route show one).</p>")
    if round(t.saved, 6) == 0:  # float sums of equal prices leave ±1e-19, not a saving or a loss
        return (f'<p class="saved" data-savings="0.000000">Routing cost the same as the baseline '
                f"({usd(t.baseline)}) in this period.</p>")
    if t.saved > 0:
        pct = f" ({t.saved / t.baseline:.0%} of the baseline)" if t.baseline > 0 else ""
        return (f'<p class="saved" data-savings="{t.saved:.6f}">Saved <strong>{usd(t.saved)}</strong>{pct} '
                f"against the baseline's {usd(t.baseline)}.</p>")
    return (f'<p class="cost-more" data-savings="{t.saved:.6f}">Routing cost <strong>{usd(-t.saved)} more</strong> '
            f"than the baseline's {usd(t.baseline)} in this period.</p>")


def _chart(days: tuple[str, ...], per_day: dict[str, dict[str, float]], baseline: dict[str, float] | None,
           totals: dict[str, float], label: str) -> str:
    order = sorted(totals, key=lambda k: -totals[k])
    series = {k: tuple(per_day.get(d, {}).get(k, 0.0) for d in days) for k in order}
    line = None if baseline is None else tuple(baseline.get(d, 0.0) for d in days)
    return (f"<figure>{svg.stacked_bars(days, series, order, line, label=label)}"
            f"<figcaption>{svg.legend(order, totals, baseline=line is not None)}</figcaption></figure>")


def spend_page(w: Window | None, token: str, since: str) -> str:
    """Totals, savings, the two stacked charts and the per-route table (the same numbers as `routesh stats`)."""
    form = period_form(token, since, "/")
    if w is None:
        return page("Spend", form + _EMPTY, token=token, active="/")
    t = w.total
    cards = [("Spend", usd(t.spend), "spend"), ("Requests", num(t.requests), "requests"),
             ("Attempts", num(t.attempts), "attempts"), ("Errors", num(t.errors), "errors")]
    if t.baseline is not None:
        cards.insert(1, ("Baseline", usd(t.baseline), "baseline"))
    if t.unpriced:
        cards.append(("Unpriced attempts", num(t.unpriced), "unpriced"))
    tiles = "".join(f'<div class="card" data-metric="{m}"><div class="label">{esc(k)}</div>'
                    f'<div class="value">{v}</div></div>' for k, v, m in cards)
    route_totals = {k: v.spend for k, v in w.by_route.items()}
    profile_totals = {k: v.spend for k, v in w.by_profile.items()}
    body = (f'{form}<section class="cards">{tiles}</section>{_savings(t)}'
            f"<h2>By route</h2>{_chart(w.days, w.day_route, w.day_baseline, route_totals, 'spend per day by route')}"
            f"<h2>By profile</h2>"
            f"{_chart(w.days, w.day_profile, w.day_baseline, profile_totals, 'spend per day by profile')}"
            f"<h2>Routes in this period</h2>{_route_table(w, token, since)}")
    return page("Spend", body, token=token, active="/")


def _route_table(w: Window, token: str, since: str) -> str:
    rows = []
    base = w.total.baseline is not None
    for key, g in sorted(w.by_route.items(), key=lambda kv: (-kv[1].spend, -kv[1].requests)):
        link = f'<a href="{href("/requests", token, route=key, since=since)}">{esc(key)}</a>'
        rows.append((link, num(g.requests), num(g.attempts), num(g.errors), usd(g.spend),
                     *((usd(g.baseline), usd(g.saved)) if base else ()),
                     "—" if not g.requests else f"{g.misses / g.requests:.1%}"))
    head = ("Route", "Requests", "Attempts", "Errors", "Spend", *(("Baseline", "Savings") if base else ()),
            "Miss rate")
    return table(head, rows, cls="routes", sortable=True, numeric=range(1, len(head)))


_EMPTY = ('<div class="empty"><p>No requests recorded yet.</p><p>Run a prompt (<code>routesh "hello"</code>), '
          "open the shell (<code>routesh</code>) or start Claude Code through routesh (<code>routesh code</code>); "
          "this page fills in as the ledger does.</p></div>")

# the outcomes table: (field, heading, kind) where kind says how a cell is shown
_OUTCOME_COLS: tuple[tuple[str, str, str], ...] = (
    ("sessions", "Sessions", "n"), ("requests", "Requests", "n"), ("cost_usd", "Spend", "usd"),
    ("baseline_cost_usd", "Baseline", "usd"), ("savings_usd", "Savings", "usd"),
    ("cost_per_session", "Cost/session", "usd"), ("successful_sessions", "Successful", "n"),
    ("cost_per_successful_session", "Cost/successful", "usd"), ("failed_tool_call_rate", "Failed tool calls", "rate"),
    ("rejected_edit_rate", "Rejected edits", "rate"), ("re_ask_rate", "Re-asks", "rate"),
    ("turns_per_session", "Turns/session", "f1"), ("wall_s_per_session", "Wall s/session", "f0"),
)


def outcomes_available() -> bool:
    """Whether this routesh records outcome signals (the usage.outcomes module)."""
    try:
        from ..usage import outcomes  # noqa: F401
    except ImportError:
        return False
    return True


def _cell(row: dict[str, Any], field: str, kind: str, min_sessions: int) -> str:
    v = row.get(field)
    if kind == "usd":
        return usd(v)
    if kind == "n":
        return num(v)
    if kind == "rate":
        n = row.get("sessions") or 0
        if v is None:
            return f'<span class="muted" title="fewer than {min_sessions} sessions">— <small>n={n}</small></span>'
        return f'<span data-sort="{v}">{v:.1%} <small class="muted">n={n}</small></span>'
    if v is None:
        return "—"
    return format(v, ",.1f" if kind == "f1" else ",.0f")


def outcomes_page(report: dict[str, Any] | None, token: str, since: str, problem: str | None = None) -> str:
    """Per route: sessions, cost per (successful) session and the outcome rates, each rate with its sample size."""
    form = period_form(token, since, "/outcomes")
    if problem:
        return page("Outcomes", form + f'<div class="problem"><p>{esc(problem)}</p></div>', token=token,
                    active="/outcomes")
    if report is None:
        return page("Outcomes", form + _EMPTY, token=token, active="/outcomes")
    min_s = int(report.get("min_sessions") or 5)
    head = ("Route", *(h for _, h, _ in _OUTCOME_COLS))
    rows = [(esc(r.get("route")), *(_cell(r, f, k, min_s) for f, _, k in _OUTCOME_COLS))
            for r in report.get("routes", [])]
    total = report.get("total")
    foot = ""
    if total:
        foot = table(head, [("<strong>all routes</strong>", *(_cell(total, f, k, min_s) for f, _, k in _OUTCOME_COLS))],
                     cls="outcomes total", numeric=range(1, len(head)))
    defs = report.get("definitions") or {}
    base = report.get("baseline") or {}
    base_line = ""
    if base.get("route") or base.get("model"):
        what = " ".join(x for x in (base.get("route") and f"route {base['route']}",
                                    base.get("model") and f"({base['model']})") if x)
        base_line = f"<p>Savings are against the baseline: <strong>{esc(what)}</strong>.</p>"
    legend = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in defs.items())
    body = (f"{form}{base_line}<p class=muted>Rates are shown only for routes with at least {min_s} sessions; "
            "n is the number of sessions behind each rate. Click a heading to sort.</p>"
            + table(head, rows, cls="outcomes", sortable=True, numeric=range(1, len(head))) + foot
            + (f"<h2>Definitions</h2><dl class=defs>{legend}</dl>" if legend else ""))
    return page("Outcomes", body, token=token, active="/outcomes")
