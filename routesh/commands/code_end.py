"""What `routesh code` says when Claude Code ends: the session's cost, and how to resume it through routesh.

`claude --resume ID` alone would bypass routesh (no routing, no screening, no ledger); the line
names `routesh code --resume ID`, which passes --resume to claude behind the gateway. A resumed
session's cost line counts all of the session's ledger rows, earlier runs included.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.estimate import short_tokens, usd
from ..usage.tally import Tally

RESUME_FLAGS = ("--resume", "-r", "--continue", "-c")


def resumed(claude_args: Sequence[str]) -> bool:
    """Whether this run continued an earlier Claude Code session."""
    return any(a in RESUME_FLAGS or a.startswith("--resume=") for a in claude_args)


def closing_lines(tally: Tally, claude_args: Sequence[str]) -> list[str]:
    """The lines printed after claude exits (empty when nothing was sent)."""
    if not tally.requests:
        return []
    sid = tally.session_id
    earlier = session_total(sid) if sid and resumed(claude_args) else None
    if earlier is not None and earlier[0] > len(tally.requests):
        n, tin, tout, cost = earlier
        lines = [f"routesh: this session: {n} requests · {short_tokens(tin)} in / {short_tokens(tout)} out · "
                 f"{usd(cost)} (this run: {tally.line()})"]
    else:
        lines = [f"routesh: this session: {tally.line()}"]
    if sid:
        lines.append(f"routesh: resume it through routesh: routesh code --resume {sid}")
    return lines


def session_total(sid: str) -> tuple[int, int, int, float] | None:
    """(requests, tokens in, tokens out, cost) of every ledger row of Claude Code session sid; None if unreadable."""
    from pathlib import Path

    from ..core.paths import ledger_target
    from ..usage.ledger import Ledger, LedgerError

    path = ledger_target()
    if isinstance(path, Path) and not path.exists():
        return None
    try:
        with Ledger(path) as led:
            [row] = led.select(
                "SELECT COUNT(DISTINCT request_id), COALESCE(SUM(COALESCE(input_tokens, 0) + "
                "COALESCE(cache_read_tokens, 0) + COALESCE(cache_write_tokens, 0)), 0), "
                "COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0.0) FROM attempts "
                "WHERE session_id = ? AND via = 'gateway'", (sid,))
    except LedgerError:
        return None
    return int(row[0]), int(row[1]), int(row[2]), float(row[3])
