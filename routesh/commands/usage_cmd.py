"""`routesh log` and `routesh stats`: what was sent, where, and what it cost."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ..core.errors import UserError

Handler = Callable[[argparse.Namespace], int]


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    from ..usage.since import parse_since

    try:
        return parse_since(text, datetime.now().astimezone())
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _ledger(config: str | None = None):  # type: ignore[no-untyped-def]
    from ..core.context import build
    from ..core.paths import ledger_target
    from ..usage.ledger import Ledger, LedgerError
    from ..usage.ledger_start import open_at_start

    if "ROUTESH_LEDGER" not in os.environ:  # routes.yaml's `ledger:` (build sets it), if the file can be read
        try:
            build(config, None, blank_ok=True)
        except Exception:  # noqa: BLE001 - a broken config does not stop reading the default ledger
            pass
    open_at_start()  # a postgresql:// ledger: connected now, or one line and exit 2
    path = ledger_target()
    if isinstance(path, Path) and not path.exists():
        return None
    try:
        return Ledger(path)
    except LedgerError as exc:
        raise UserError(str(exc)) from None


def add_log_parser(p: argparse.ArgumentParser) -> Handler:
    """Recent requests, newest first, one line per attempt."""
    p.description = "Recent requests, newest first, one line per attempt (retries and fallbacks included)."
    p.add_argument("-n", type=int, default=20, metavar="N", help="how many attempts (default 20)")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")
    p.add_argument("--route", metavar="R", help="only this route")
    p.add_argument("--since", metavar="T", help="only since T: 30m, 24h, 7d, 2w, today or a date")
    p.add_argument("--show", metavar="ID", help="print one request's prompt and answer (a unique start of its id)")

    def run(args: argparse.Namespace) -> int:
        if args.show is not None:
            from .show_cmd import show

            return show(args, _ledger(args.config))
        if args.n < 1:
            raise UserError(f"-n is how many attempts to show: 1 or more (got {args.n})")
        since = _since(args.since)
        ledger = _ledger(args.config)
        if args.route is not None:
            _check_route(args.route, args.config, ledger)
        rows = [] if ledger is None else _read(lambda: ledger.recent(args.n, route=args.route, since=since,
                                                                     profile=args.profile))
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 0
        from ..rendering.render import console
        from ..usage.charts import render_log

        total = 0 if ledger is None or rows else _read(ledger.count)
        if total:
            filters = [f for f in (args.route and f"route {args.route}", args.since and f"since {args.since}",
                                   args.profile and f"profile {args.profile}") if f]
            print(f"No requests match {' and '.join(filters) or 'the filter'}; the ledger holds {total:,} "
                  f"attempt{'s' if total != 1 else ''} in all (drop the filter to see them).")
            return 0
        render_log(rows, console())
        return 0

    return run


def add_stats_parser(p: argparse.ArgumentParser) -> Handler:
    """Requests, errors, spend and latency per route, model, profile or day."""
    p.description = ("Requests, errors, spend, p50/p95 latency and time to first token, share on the top-price "
                     "tier and routing-miss rate, per route, model, profile or day.")
    p.add_argument("--since", default="7d", metavar="T", help="window start: 30m, 24h, 7d (default), 2w, a date")
    p.add_argument("--by", default="route", choices=("route", "model", "profile", "day"))
    p.add_argument("--json", action="store_true", help="one JSON object")
    from ..usage.outcomes_cmd import add_arguments, run_outcomes, savings, savings_json

    add_arguments(p)

    def run(args: argparse.Namespace) -> int:
        since = _since(args.since)
        ledger = _ledger(args.config)
        if args.outcomes or args.compare:
            return run_outcomes(args, ledger, since)
        from ..core.catalog import Catalog
        from ..usage.stats import aggregate

        if ledger is None:
            report = aggregate([], args.by, since=since)
        else:
            catalog = Catalog()
            try:
                from ..core.context import announce, build

                ctx = build(args.config, None, blank_ok=True)
                announce(ctx.loaded)
                catalog = ctx.catalog
            except UserError:
                pass  # stats still work with built-in prices when routes.yaml is broken

            def price(model: str) -> float | None:
                info = catalog.get(model)
                return info.input if info else None

            report = _read(lambda: ledger.stats(since, args.by, profile=args.profile, input_price=price,
                                                tz=datetime.now().astimezone().tzinfo))
        saved = savings(ledger, since, args.profile)
        if args.json:
            print(json.dumps({**report.as_dict(), "savings": savings_json(saved)}, indent=2, ensure_ascii=False))
            return 0
        from ..rendering.render import console
        from ..usage.charts import render_stats
        from ..usage.outcomes_cmd import baseline_in
        from ..usage.outcomes_render import render_savings

        out = console()
        render_stats(report, out)
        if report.total.attempts:
            out.print()
            render_savings(saved, out, baseline_in(args.config))
        return 0

    return run


def _check_route(route: str, config: str | None, ledger) -> None:  # type: ignore[no-untyped-def]
    """--route must name a route of the config or one the ledger has seen; else a did-you-mean."""
    from ..core.yamlnodes import did_you_mean

    known = [] if ledger is None else _read(ledger.route_names)
    try:
        from ..core.context import build

        known += [r for r in build(config, None).config.routes if r not in known]
    except UserError:
        pass  # a broken routes.yaml must not hide the log
    if route not in known:
        raise UserError(f"unknown route '{route}'{did_you_mean(route, known)}; routes: {', '.join(known) or 'none'}")


def _read(fn):  # type: ignore[no-untyped-def]
    from ..usage.ledger import LedgerError

    try:
        return fn()
    except LedgerError as exc:
        raise UserError(str(exc)) from None
