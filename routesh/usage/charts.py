"""Tables and bar charts for `routesh log` and `routesh stats`, because people would rather look than read.

Everything takes a rich Console, so tests render to a string; rich drops colour by itself
when the output is not a terminal. Charts are plain unicode blocks and fit 80 columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..rendering.render import PIPE_WIDTH
from .stats import GroupStats, StatsReport

_EIGHTHS = " ▏▎▍▌▋▊▉█"
STATUS_STYLE = {"ok": "green", "error": "red", "partial": "yellow", "refused": "magenta", "cancelled": "dim"}
BY_LABEL = {"route": "route", "model": "model", "profile": "profile", "day": "day"}


def fmt_usd(value: float | None) -> str:
    """Money at a precision that suits its size; '?' when the price was unknown."""
    if value is None:
        return "?"
    if value == 0:
        return "$0"
    if abs(value) < 0.01:
        return f"${value:.4f}"
    if abs(value) < 1000:
        return f"${value:,.2f}"
    return f"${value:,.0f}"


def fmt_tokens(n: int | None) -> str:
    """A token count in at most five characters (950, 1.2k, 35k, 1.2M)."""
    if n is None:
        return "-"
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"


def fmt_ms(ms: float | None) -> str:
    """A duration: 850ms, 2.5s, 125s."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 100_000:
        return f"{ms / 1000:.1f}s"
    return f"{ms / 1000:.0f}s"


def fmt_pct(share: float | None) -> str:
    """A share as a whole percentage ('-' when unknown)."""
    return "-" if share is None else f"{share * 100:.0f}%"


def short_model(model: str) -> str:
    """A model id without its vendor prefix (anthropic/claude-sonnet-4-6 → sonnet-4-6), for narrow tables."""
    name = model.rsplit("/", 1)[-1]
    return name[len("claude-") :] if name.startswith("claude-") and len(name) > len("claude-") else name


def _when(ts: Any, tz: tzinfo | None) -> str:
    """A log row's time (ISO string or Unix time) as local 'MM-DD HH:MM'."""
    if isinstance(ts, str):
        dt = datetime.fromisoformat(ts)
    else:
        dt = datetime.fromtimestamp(float(ts)).astimezone()
    return dt.astimezone(tz).strftime("%m-%d %H:%M")


def bar_lines(items: Sequence[tuple[str, float]], width: int, *, label_max: int = 16) -> list[tuple[str, str, str]]:
    """(label, bar, value) per item, bars in eighth-blocks scaled so the largest fills what is left of `width`."""
    if not items:
        return []
    labels = [(k if len(k) <= label_max else k[: label_max - 1] + "…") for k, _ in items]
    values = [fmt_usd(v) for _, v in items]
    label_w = max(len(s) for s in labels)
    value_w = max(len(s) for s in values)
    bar_w = max(width - label_w - value_w - 2, 4)
    top = max((v for _, v in items), default=0.0)
    out = []
    for label, (_, v), shown in zip(labels, items, values, strict=True):
        eighths = round(v / top * bar_w * 8) if top > 0 else 0
        if v > 0 and eighths == 0:
            eighths = 1  # a non-zero spend is never drawn as nothing
        bar = "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")
        out.append((label.ljust(label_w), bar.ljust(bar_w), shown.rjust(value_w)))
    return out


def render_bars(console: Console, title: str, items: Sequence[tuple[str, float]], *, style: str = "cyan") -> None:
    """A titled horizontal bar chart of spend, as wide as the console (80 columns on a pipe, which has no width)."""
    console.print(Text(title, style="bold"))
    for label, bar, value in bar_lines(items, console.width if console.width < PIPE_WIDTH else 80):
        line = Text(label + " ")
        line.append(bar, style=style)
        line.append(" " + value)
        console.print(line, no_wrap=True, overflow="crop")


def render_log(rows: Sequence[Mapping[str, Any]], console: Console, *, tz: tzinfo | None = None) -> None:
    """`routesh log`: one compact line per attempt (rows as Ledger.recent() returns them)."""
    if not rows:
        console.print("No requests recorded yet. Send one, then `routesh log` shows what it cost.")
        return
    show_cache = console.width >= 100 and any(
        (r.get("cache_read_tokens") or 0) + (r.get("cache_write_tokens") or 0) for r in rows
    )
    table = Table(box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, header_style="bold")
    # Fixed-size columns keep their width; route and model give way (with an ellipsis) on a narrow terminal.
    table.add_column("time", no_wrap=True, min_width=11)
    table.add_column("request", no_wrap=True, min_width=8)
    table.add_column("route", overflow="ellipsis", ratio=1, min_width=6)
    table.add_column("model", overflow="ellipsis", ratio=1, min_width=8)
    table.add_column("status", no_wrap=True, min_width=6)
    table.add_column("in", justify="right", no_wrap=True, min_width=5)
    if show_cache:
        table.add_column("cache", justify="right", no_wrap=True, min_width=5)
    table.add_column("out", justify="right", no_wrap=True, min_width=5)
    table.add_column("cost", justify="right", no_wrap=True, min_width=7)
    table.add_column("took", justify="right", no_wrap=True, min_width=5)
    model_name = short_model if console.width < 110 else str
    for r in rows:
        rid = str(r.get("request_id", ""))[:6]
        if (r.get("attempt") or 1) > 1:
            rid += f"#{r['attempt']}"
        status = str(r.get("status", ""))
        status_text = Text(status, style=STATUS_STYLE.get(status, ""))
        if r.get("miss"):
            status_text.append("!", style="bold yellow")
        cells: list[Any] = [
            _when(r["ts"], tz),
            rid,
            str(r.get("route", "")),
            model_name(str(r.get("model", ""))),
            status_text,
        ]
        cells.append(fmt_tokens(r.get("input_tokens")))
        if show_cache:
            cached = (r.get("cache_read_tokens") or 0) + (r.get("cache_write_tokens") or 0)
            cells.append(fmt_tokens(cached) if cached else "-")
        used = r.get("input_tokens") is not None or r.get("output_tokens") is not None
        cost = fmt_usd(r.get("cost_usd")) if used or r.get("cost_usd") is not None else "$0"  # nothing used: free
        if r.get("usage_estimated") and r.get("cost_usd") is not None:
            cost = "~" + cost  # a cancelled or broken attempt: counts partly estimated
        cells += [fmt_tokens(r.get("output_tokens")), cost, fmt_ms(r.get("latency_ms"))]
        table.add_row(*cells)
    console.print(table)
    errors = [r for r in rows if r.get("error")]
    if errors:
        latest = errors[0]
        console.print(
            Text(f"latest error ({str(latest.get('request_id', ''))[:6]}): {latest['error']}", style="dim"),
            overflow="ellipsis",
            no_wrap=True,
        )
    if any(r.get("miss") for r in rows):
        console.print(Text("! = marked as a routing miss (/miss)", style="dim"))
    if any(r.get("usage_estimated") for r in rows):
        console.print(Text("~ = cancelled or broken off: tokens partly estimated", style="dim"))


def _any(groups: Sequence[GroupStats], name: str) -> bool:
    """Does any group have a non-zero, non-None value for this field (so its column is worth its width)?"""
    return any(getattr(g, name) for g in groups)


def render_stats(report: StatsReport, console: Console, *, max_days: int = 14, title: str | None = None) -> None:
    """`routesh stats`: a table per group with a total row, then spend bars per route and per day."""
    total = report.total
    if total.attempts == 0:
        since = f" since {report.since}" if report.since else ""
        console.print(f"No requests recorded{since}.")
        return
    failed = f" ({total.failed_requests:,} failed)" if total.failed_requests else ""
    since = f" since {report.since[:16].replace('T', ' ')}" if report.since else ""
    spend = fmt_usd(total.spend_usd)
    head = title or f"{total.requests:,} requests{failed} in {total.attempts:,} attempts, {spend}{since}"
    console.print(Text(head, style="bold"))

    groups = list(report.groups)
    every = [*groups, total]
    table = Table(
        box=None, padding=(0, 1), collapse_padding=True, pad_edge=False, header_style="bold", show_footer=False
    )
    table.add_column(BY_LABEL.get(report.by, report.by), no_wrap=True, overflow="ellipsis", max_width=18)
    cols: list[tuple[str, Any]] = [("req", lambda g: f"{g.requests:,}")]
    cols.append(("fail", lambda g: f"{g.failed_requests:,}"))
    cols.append(("retry", lambda g: f"{g.retries:,}"))
    for name, head_ in (("partial", "part"), ("refused", "refu"), ("cancelled", "canc")):
        if _any(every, name):
            cols.append((head_, lambda g, n=name: f"{getattr(g, n):,}"))
    cols.append(("spend", lambda g: fmt_usd(g.spend_usd) + ("*" if g.unpriced else "")))
    cols.append(("p50", lambda g: fmt_ms(g.latency_p50_ms)))
    cols.append(("p95", lambda g: fmt_ms(g.latency_p95_ms)))
    if _any(every, "ttft_p50_ms"):
        cols.append(("ttft50", lambda g: fmt_ms(g.ttft_p50_ms)))
        if console.width >= 90:  # room for it beside the request, failure and retry counts
            cols.append(("ttft95", lambda g: fmt_ms(g.ttft_p95_ms)))
    if total.top_tier_share is not None:
        cols.append(("top", lambda g: fmt_pct(g.top_tier_share)))
    cols.append(("miss", lambda g: fmt_pct(g.miss_rate)))
    for name, _ in cols:
        table.add_column(name, justify="right", no_wrap=True)
    for i, g in enumerate(groups):
        table.add_row(g.key, *(fn(g) for _, fn in cols), end_section=(i == len(groups) - 1))
    table.add_row(Text("total", style="bold"), *(Text(fn(total), style="bold") for _, fn in cols))
    console.print(table)

    notes = []
    if total.top_tier_share is not None and report.top_tier:
        notes.append(f"top = share of requests sent to the top-price tier ({', '.join(report.top_tier)})")
    notes.append("fail = requests left unanswered; retry = retries and fallbacks")
    notes.append("p50/p95 = latency of ok attempts; miss = marked with /miss")
    if total.unpriced:
        n = total.unpriced
        notes.append(
            f"* {n:,} unpriced attempt{'s' if n != 1 else ''} left out of spend; price "
            f"{'their models' if n != 1 else 'its model'} under `models:`"
        )
    for note in notes:
        console.print(Text(note, style="dim"))

    console.print()
    render_bars(console, "Spend per route", report.spend_by_route)
    days = list(report.spend_by_day)
    if days:
        console.print()
        shown = days[-max_days:]
        more = f" (last {len(shown)} of {len(days)})" if len(days) > len(shown) else ""
        render_bars(console, f"Spend per day{more}", shown, style="magenta")
