"""The `routesh stats` additions: --outcomes, --compare A B, and the spend-against-baseline section."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import UserError

if TYPE_CHECKING:
    from ..core.catalog import Catalog
    from ..core.config import Config
    from .ledger import Ledger


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags `routesh stats` gains."""
    p.add_argument("--outcomes", action="store_true",
                   help="per route: sessions, cost per (successful) session, failed tool calls, rejected edits, "
                        "re-asks, savings against the baseline")
    p.add_argument("--compare", nargs=2, metavar=("ROUTE_A", "ROUTE_B"),
                   help="two routes side by side on the outcome measures")


def config_or_none(flag: str | None) -> tuple[Config | None, Catalog | None]:
    """The config in effect, or (None, None) when routes.yaml is broken (stats still work with built-in prices)."""
    try:
        from ..core.context import build

        ctx = build(flag, None, blank_ok=True)
        return ctx.config, ctx.catalog
    except UserError:
        return None, None


def baseline_in(flag: str | None) -> str:
    """The baseline in effect, as the savings section names it."""
    from .outcomes import baseline_info
    from .outcomes_render import baseline_label

    config, catalog = config_or_none(flag)
    return baseline_label(baseline_info(config, catalog))


def run_outcomes(args: argparse.Namespace, ledger: Ledger | None, since: datetime | None) -> int:
    """`stats --outcomes` / `stats --compare A B`: a table with a legend, or --json."""
    from .ledger import Ledger
    from .outcomes import outcomes_report

    config, catalog = config_or_none(args.config)
    routes: list[str] | None = None
    if args.compare:
        known = ([] if ledger is None else _read(ledger.route_names)) + (list(config.routes) if config else [])
        for name in args.compare:
            if name not in known:
                from ..core.yamlnodes import did_you_mean

                raise UserError(f"unknown route '{name}'{did_you_mean(name, sorted(set(known)))}; routes: "
                                f"{', '.join(sorted(set(known))) or 'none'}")
        routes = list(args.compare)
    source = ledger if ledger is not None else Ledger(":memory:")
    report = _read(lambda: outcomes_report(source, since_ts=since.timestamp() if since else None, until_ts=None,
                                           routes=routes, profile=args.profile, config=config, catalog=catalog))
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    from ..rendering.render import console
    from .outcomes_render import render_outcomes

    render_outcomes(report, console())
    return 0


def savings(ledger: Ledger | None, since: datetime | None,
            profile: str | None) -> list[tuple[str, float, float, float]]:
    """(route, spend, baseline spend, saved) per attempt route, most expensive first (saved: rows priced both ways)."""
    if ledger is None:
        return []
    from .ledger_reads import _filters

    where, params = _filters(since=since, profile=profile)
    rows = _read(lambda: ledger._query(
        "SELECT a.route, COALESCE(SUM(a.cost_usd), 0), COALESCE(SUM(a.baseline_cost_usd), 0), "
        "COALESCE(SUM(CASE WHEN a.cost_usd IS NOT NULL THEN a.baseline_cost_usd - a.cost_usd END), 0) "
        f"FROM attempts a NOT INDEXED{where} GROUP BY a.route", params))  # a scan: 4x faster than the ts index
    return sorted(((str(r), float(s), float(b), float(d)) for r, s, b, d in rows), key=lambda x: (-x[1], x[0]))


def savings_json(rows: list[tuple[str, float, float, float]]) -> dict[str, Any]:
    """The `savings` object `stats --json` gains."""
    spend = sum(r[1] for r in rows)
    base = sum(r[2] for r in rows)
    saved = sum(r[3] for r in rows)
    return {"spend_usd": round(spend, 6), "baseline_usd": round(base, 6), "saved_usd": round(saved, 6),
            "routing_cost_more": saved < 0,
            "by_route": [{"route": r, "spend_usd": round(s, 6), "baseline_usd": round(b, 6), "saved_usd": round(d, 6)}
                         for r, s, b, d in rows]}


def _read(fn):  # type: ignore[no-untyped-def]
    from .ledger import LedgerError

    try:
        return fn()
    except LedgerError as exc:
        raise UserError(str(exc)) from None
