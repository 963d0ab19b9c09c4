"""Server-side SVG charts: a stacked bar per day with the baseline as a line; no script, no library, no CDN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .html import esc

PALETTE = ("#3b6fd8", "#e0832b", "#2f9e6e", "#c2456b", "#7a5bd6", "#8c8c3a", "#2a9fb5", "#b5652a", "#5b6b7f")
W, H = 860, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40


def color(i: int) -> str:
    """The i-th series colour (cycled)."""
    return PALETTE[i % len(PALETTE)]


def _axis_max(top: float) -> float:
    """Four round ticks (1, 2 or 5 times a power of ten apart) that reach at least top: the axis maximum."""
    if top <= 0:
        return 1.0
    import math

    want = top / 4
    power = 10 ** math.floor(math.log10(want))
    for mult in (1, 2, 5, 10):
        if want <= power * mult * (1 + 1e-9):
            return power * mult * 4
    return power * 40


def stacked_bars(days: Sequence[str], series: Mapping[str, Sequence[float]], order: Sequence[str],
                 baseline: Sequence[float] | None, *, label: str) -> str:
    """One bar per day, stacked in `order`, with a dashed baseline line; each piece has a <title> for hover."""
    n = max(len(days), 1)
    stack_tops = [sum(series[k][i] for k in order) for i in range(len(days))]
    top = max([*stack_tops, *(baseline or ()), 0.0])
    ymax = _axis_max(top)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / n
    bar = max(1.0, min(slot * 0.7, 48.0))

    def y(v: float) -> float:
        return TOP + plot_h - v / ymax * plot_h

    parts = [f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{esc(label)}" '
             'xmlns="http://www.w3.org/2000/svg">']
    for k in range(5):  # grid and y labels
        v = ymax * k / 4
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        parts.append(f'<text class="ylabel" x="{LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">${v:,.6g}</text>')
    every = max(1, round(n / 12))
    for i, day in enumerate(days):
        x = LEFT + i * slot + (slot - bar) / 2
        acc = 0.0
        for j, key in enumerate(order):
            v = series[key][i]
            if v <= 0:
                continue
            y0, y1 = y(acc), y(acc + v)
            acc += v
            parts.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" height="{max(y0 - y1, 0.5):.1f}" '
                         f'fill="{color(j)}"><title>{esc(day)} · {esc(key)}: ${v:,.6f}</title></rect>')
        if i % every == 0 or i == n - 1:
            parts.append(f'<text class="xlabel" x="{LEFT + i * slot + slot / 2:.1f}" y="{H - BOTTOM + 16}" '
                         f'text-anchor="middle">{esc(day[5:])}</text>')
    if baseline is not None and days:
        pts = " ".join(f"{LEFT + i * slot + slot / 2:.1f},{y(v):.1f}" for i, v in enumerate(baseline))
        parts.append(f'<polyline class="baseline" points="{pts}" fill="none"><title>baseline</title></polyline>')
        for i, v in enumerate(baseline):
            parts.append(f'<circle class="baseline-dot" cx="{LEFT + i * slot + slot / 2:.1f}" cy="{y(v):.1f}" r="2.5">'
                         f'<title>{esc(days[i])} · baseline: ${v:,.6f}</title></circle>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>')
    parts.append("</svg>")
    return "".join(parts)


def legend(order: Sequence[str], totals: Mapping[str, float], *, baseline: bool) -> str:
    """The colour key under a chart, with each key's total."""
    items = [f'<li><span class="swatch c{j % len(PALETTE)}"></span>{esc(k)} '
             f'<span class="muted">${totals[k]:,.4f}</span></li>' for j, k in enumerate(order)]
    if baseline:
        items.append('<li><span class="swatch line"></span>baseline</li>')
    return f'<ul class="legend">{"".join(items)}</ul>'
