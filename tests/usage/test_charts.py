"""`routesh log` and `routesh stats` output: the right numbers, 80 columns, no colour off a terminal."""

from __future__ import annotations

import io
from datetime import UTC

import pytest
from rich.console import Console
from test_stats import PRICES, ROWS

from routesh.usage.charts import bar_lines, fmt_ms, fmt_tokens, fmt_usd, render_log, render_stats, short_model
from routesh.usage.stats import aggregate


def console(width: int = 80, *, tty: bool = False) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=tty, color_system="standard" if tty else None)


def text_of(c: Console) -> str:
    return c.file.getvalue()  # type: ignore[attr-defined]


LOG_ROWS = [
    {"ts": "2025-01-10T12:05:00.000+00:00", "request_id": "d4f00d-5", "attempt": 1, "route": "architect",
     "model": "claude-opus-4-7", "status": "cancelled", "input_tokens": 50, "output_tokens": 0, "cost_usd": 0.00025,
     "latency_ms": 700.0, "miss": True, "usage_estimated": True},
    {"ts": "2025-01-10T12:04:00.000+00:00", "request_id": "c0ffee-4", "attempt": 1, "route": "default",
     "model": "claude-sonnet-4-6", "status": "refused", "input_tokens": None, "output_tokens": None, "cost_usd": None,
     "latency_ms": None, "error": "provider openai is not allowed in profile work"},
    {"ts": "2025-01-10T12:03:00.000+00:00", "request_id": "beef00-3", "attempt": 2, "route": "quick",
     "model": "claude-haiku-4-5", "status": "partial", "input_tokens": 12345, "output_tokens": 678, "cost_usd": 0.01573,
     "latency_ms": 21734.0},
    {"ts": "2025-01-10T12:02:00.000+00:00", "request_id": "beef00-3", "attempt": 1, "route": "large-context",
     "model": "anthropic/claude-sonnet-4-6", "status": "error", "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0,
     "latency_ms": 80.0, "error": "HTTP 529 overloaded"},
    {"ts": "2025-01-10T12:01:00.000+00:00", "request_id": "a1b2c3-1", "attempt": 1, "route": "default",
     "model": "claude-sonnet-4-6", "status": "ok", "input_tokens": 1000, "output_tokens": 500,
     "cache_read_tokens": 2000, "cache_write_tokens": 4000, "cost_usd": 0.0261, "latency_ms": 1234.5},
]  # fmt: skip


def test_formatters() -> None:
    assert [fmt_usd(v) for v in (None, 0, 0.0261, 0.00025, 12.3456, 1234.5)] == [
        "?",
        "$0",
        "$0.03",
        "$0.0003",
        "$12.35",
        "$1,234",
    ]
    assert fmt_usd(0.00987) == "$0.0099"
    assert [fmt_tokens(n) for n in (None, 950, 1234, 35_999, 1_250_000)] == ["-", "950", "1.2k", "35k", "1.2M"]
    assert [fmt_ms(v) for v in (None, 850, 2500, 125_000)] == ["-", "850ms", "2.5s", "125s"]
    assert short_model("anthropic/claude-sonnet-4-6") == "sonnet-4-6"
    assert short_model("deepseek/deepseek-chat") == "deepseek-chat"


def test_log_table_shows_each_attempt_with_its_numbers() -> None:
    c = console()
    render_log(LOG_ROWS, c, tz=UTC)
    out = text_of(c)
    lines = out.splitlines()
    assert "\x1b[" not in out  # no colour off a terminal
    assert max(len(line) for line in lines) <= 80
    for status in ("ok", "error", "partial", "refused", "cancelled"):
        assert status in out
    ok_line = next(line for line in lines if "a1b2c3" in line)
    assert "01-10 12:01" in ok_line and "$0.03" in ok_line and "1.2s" in ok_line and "1000" not in ok_line
    assert "1.0k" in ok_line and "500" in ok_line
    retry = next(line for line in lines if "beef00#2" in line)
    assert "12k" in retry and "678" in retry and "$0.02" in retry and "21.7s" in retry
    refused = next(line for line in lines if "c0ffee" in line)
    assert "$0" in refused and "?" not in refused  # nothing was sent: it cost nothing
    cancelled = next(line for line in lines if "d4f00d" in line)
    assert "~$0.0003" in cancelled and "partly estimated" in out
    c2 = console()
    render_log([{**LOG_ROWS[2], "cost_usd": None}], c2, tz=UTC)
    assert "?" in text_of(c2)  # tokens used at an unknown price: unknown, not $0
    assert "cancelled!" in out and "routing miss" in out
    assert "HTTP 529 overloaded" not in out or "latest error" in out
    assert "latest error (c0ffee): provider openai is not allowed" in out


def test_log_wide_terminal_shows_cache_and_full_model() -> None:
    c = console(140)
    render_log(LOG_ROWS, c, tz=UTC)
    out = text_of(c)
    assert "cache" in out and "6.0k" in out
    assert "claude-sonnet-4-6" in out


def test_log_empty() -> None:
    c = console()
    render_log([], c)
    assert "No requests recorded yet" in text_of(c)


def test_stats_table_and_charts_at_80_columns() -> None:
    c = console()
    render_stats(aggregate(ROWS, "route", input_price=PRICES.get), c, max_days=14)
    out = text_of(c)
    lines = out.splitlines()
    assert "\x1b[" not in out
    assert max(len(line) for line in lines) <= 80
    assert lines[0].startswith("9 requests (1 failed) in 10 attempts, $0.81")
    header = next(line for line in lines if line.startswith("route"))
    for col in ("req", "fail", "retry", "part", "refu", "canc", "spend", "p50", "p95", "ttft50", "top", "miss"):
        assert col in header.split()
    arch = next(line for line in lines if line.startswith("architect "))
    assert arch.split()[:9] == ["architect", "4", "1", "0", "1", "1", "1", "$0.75", "1.0s"]
    assert arch.split()[-2:] == ["100%", "25%"]
    default = next(line for line in lines if line.startswith("default "))
    assert default.split()[:8] == ["default", "4", "0", "0", "0", "0", "0", "$0.06*"]  # * = an unpriced attempt
    quick = next(line for line in lines if line.startswith("quick "))
    assert quick.split()[:4] == ["quick", "1", "0", "1"]  # r3's fallback: a retry here, not a request
    assert "200ms" in default and "380ms" in default and "15ms" in default
    total = next(line for line in lines if line.startswith("total"))
    assert total.split()[:8] == ["total", "9", "1", "1", "1", "1", "1", "$0.81*"]
    assert "44%" in total and "11%" in total and "250ms" in total and "850ms" in total
    assert "claude-opus-4-7" in out  # names the top tier
    assert "1 unpriced attempt left out of spend" in out

    assert "Spend per route" in out and "Spend per day" in out
    chart = lines[lines.index("Spend per route") + 1 :]
    arch_bar = next(line for line in chart if line.startswith("architect"))
    assert arch_bar.rstrip().endswith("$0.75") and "█" * 40 in arch_bar
    quick_bar = next(line for line in chart if line.startswith("quick"))
    assert "▏" in quick_bar or "▎" in quick_bar  # tiny but visible
    day_chart = lines[lines.index("Spend per day") + 1 :]
    assert [line.split()[0] for line in day_chart[:3]] == ["2025-01-10", "2025-01-11", "2025-01-12"]
    assert day_chart[1].rstrip().endswith("$0")


def test_stats_only_shows_failure_columns_that_have_something() -> None:
    rows = [r for r in ROWS if r["status"] in ("ok", "error")]
    c = console()
    render_stats(aggregate(rows, "model"), c)
    header = next(line for line in text_of(c).splitlines() if line.startswith("model"))
    assert "part" not in header and "refu" not in header and "canc" not in header and "top" not in header.split()


def test_stats_day_chart_keeps_the_last_days() -> None:
    first = ROWS[0]
    many = [dict(first, ts=float(first["ts"]) + i * 86400, request_id=f"r-{i}") for i in range(30)]  # type: ignore[arg-type]
    c = console()
    render_stats(aggregate(many, "day"), c, max_days=7)
    out = text_of(c)
    assert "Spend per day (last 7 of 30)" in out
    assert "2025-02-08" in out.split("Spend per day")[1] and "2025-01-10" not in out.split("Spend per day")[1]


def test_stats_in_colour_on_a_terminal() -> None:
    c = console(tty=True)
    render_stats(aggregate(ROWS, "route"), c)
    assert "\x1b[" in text_of(c)


def test_stats_empty() -> None:
    c = console()
    render_stats(aggregate([], "route"), c)
    assert "No requests recorded" in text_of(c)


def test_bar_lines_scale_to_width() -> None:
    lines = bar_lines([("a", 10.0), ("bb", 5.0), ("c", 0.001), ("d", 0.0)], 40)
    widths = {len(label + " " + bar + " " + value) for label, bar, value in lines}
    assert widths == {40}
    (la, ba, va), (lb, bb, vb), (lc, bc, vc), (ld, bd, vd) = lines
    full = len(ba.rstrip())
    assert ba.rstrip() == "█" * full and va.strip() == "$10.00"
    assert len(bb.rstrip()) == pytest.approx(full / 2, abs=1)
    assert bc.rstrip() == "▏" and bd.strip() == ""
    assert lb == "bb" and la == "a "
    long = bar_lines([("a-very-long-route-name-indeed", 1.0)], 40)
    assert long[0][0] == "a-very-long-rou…"
    assert bar_lines([], 40) == []
