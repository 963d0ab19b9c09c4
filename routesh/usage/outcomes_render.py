"""`routesh stats --outcomes` and `--compare` as tables with a legend, and the baseline savings lines of `stats`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .charts import fmt_usd

Row = Mapping[str, Any]


def _rate(row: Row, name: str, of: str) -> str:
    """'12.5% of 40' (the sample next to the rate); '-' when there is no rate."""
    value = row[name]
    if value is None:
        return "-"
    return f"{value * 100:.1f}% of {row[of]:,}"


def _money(value: float | None) -> str:
    return "-" if value is None else fmt_usd(value)


def signed_usd(value: float) -> str:
    """-$0.02 rather than $-0.02."""
    return "-" + fmt_usd(-value) if value < 0 else fmt_usd(value)


COLUMNS: tuple[tuple[str, Any], ...] = (
    ("sessions", lambda r: f"{r['sessions']:,}"),
    ("requests", lambda r: f"{r['requests']:,}"),
    ("cost", lambda r: fmt_usd(r["cost_usd"])),
    ("baseline", lambda r: fmt_usd(r["baseline_cost_usd"])),
    ("saved", lambda r: signed_usd(r["savings_usd"])),
    ("$/session", lambda r: _money(r["cost_per_session"])),
    ("successful", lambda r: f"{r['successful_sessions']:,}"),
    ("$/successful", lambda r: _money(r["cost_per_successful_session"])),
    ("tool calls", lambda r: f"{r['tool_calls']:,}"),
    ("failed tools", lambda r: _rate(r, "failed_tool_call_rate", "tool_calls")),
    ("edits", lambda r: f"{r['edits']:,}"),
    ("rejected edits", lambda r: _rate(r, "rejected_edit_rate", "edits")),
    ("re-asks", lambda r: _rate(r, "re_ask_rate", "turns")),
    ("misses", lambda r: f"{r['misses']:,}"),
    ("turns/session", lambda r: "-" if r["turns_per_session"] is None else f"{r['turns_per_session']:.1f}"),
    ("wall/session", lambda r: "-" if r["wall_s_per_session"] is None else f"{r['wall_s_per_session']:.0f}s"),
)


def render_outcomes(report: Mapping[str, Any], console: Console) -> None:
    """One row per route (and the total) with the legend: definitions, the baseline, the sample-size rule."""
    rows: Sequence[Row] = report["routes"]
    total: Row = report["total"]
    if not total["requests"]:
        since = report["period"]["since"]
        console.print(f"No requests recorded{' since ' + since[:16].replace('T', ' ') if since else ''}.")
        return
    console.print(Text(f"Outcomes per route: {total['sessions']:,} sessions, {total['requests']:,} requests; "
                       f"baseline {baseline_label(report['baseline'])}", style="bold"))
    table = Table(box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, header_style="bold")
    table.add_column("measure", no_wrap=True)
    for r in rows:
        table.add_column(str(r["route"]), justify="right", no_wrap=True, overflow="ellipsis", max_width=18)
    table.add_column("total", justify="right", no_wrap=True, style="bold")
    for name, fn in COLUMNS:  # measures down, routes across: fits 80 columns for a few routes
        table.add_row(name, *(fn(r) for r in rows), fn(total))
    console.print(table)
    legend(report, console)


def baseline_label(base: Mapping[str, Any]) -> str:
    """'route default (claude-sonnet-4-6)' or 'model claude-opus-4-7'."""
    if base.get("route"):
        return f"route {base['route']} ({base['model']})"
    return f"model {base['model']}" if base.get("model") else "none (no default route)"


def legend(report: Mapping[str, Any], console: Console) -> None:
    """The definitions under every outcomes table, so a number is never read without what it counts."""
    d = report["definitions"]
    n = report["min_sessions"]
    lines = [
        f"rates are shown with their sample (\"12.5% of 40\"); no rate or per-session figure on fewer than {n} "
        "sessions (-)",
        f"session: {d['session']}",
        f"successful: {d['successful_session']}",
        f"failed tools: {d['failed_tool_call']}",
        f"rejected edits: {d['rejected_edit']}",
        f"re-asks: {d['re_ask']}",
        f"saved: {d['savings']}",
    ]
    for line in lines:
        console.print(Text(line, style="dim"))


def render_savings(rows: Sequence[tuple[str, float, float, float]], console: Console, baseline: str) -> None:
    """Actual spend, baseline spend and the difference per route and in total; plain words when routing cost more."""
    if not rows:
        return
    console.print(Text(f"Spend against the baseline ({baseline}: every attempt's tokens priced on it)", style="bold"))
    table = Table(box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, header_style="bold")
    for name in ("route", "spend", "baseline", "saved"):
        table.add_column(name, justify="left" if name == "route" else "right", no_wrap=True)
    spend = base = saved = 0.0
    for i, (route, s, b, d) in enumerate(rows):
        table.add_row(route, fmt_usd(s), fmt_usd(b), signed_usd(d), end_section=i == len(rows) - 1)
        spend, base, saved = spend + s, base + b, saved + d
    table.add_row(Text("total", style="bold"), Text(fmt_usd(spend), style="bold"), Text(fmt_usd(base), style="bold"),
                  Text(signed_usd(saved), style="bold"))
    console.print(table)
    if saved < 0:
        console.print(Text(f"Routing cost {fmt_usd(-saved)} MORE than sending everything to the baseline.",
                           style="bold red"))
    elif saved > 0 and base > 0:
        console.print(Text(f"Routing saved {fmt_usd(saved)} ({saved / base * 100:.0f}% of the baseline).",
                           style="green"))
