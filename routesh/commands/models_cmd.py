"""`routesh models`: the model catalog (built-in and routes.yaml), with prices, context windows and routes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..core.catalog import Catalog
from ..core.config import Config

Handler = Callable[[argparse.Namespace], int]


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """List the known models."""
    p.description = ("The models routesh knows prices for: USD per million tokens, context window, and the routes "
                     "that use each. Add or override models under `models:` in routes.yaml.")
    p.add_argument("--json", action="store_true", help="a JSON list of objects")

    def run(args: argparse.Namespace) -> int:
        from ..core.context import build

        ctx = build(args.config, args.profile)
        rows = models_data(ctx.config, ctx.catalog)
        if args.json:
            print(json.dumps(rows, indent=2, ensure_ascii=False))
            return 0
        _show(rows)
        return 0

    return run


def models_data(config: Config, catalog: Catalog) -> list[dict[str, Any]]:
    """One object per model: id, aliases, prices, context window, routes using it (models routes name first)."""
    used: dict[str, list[str]] = {}
    for r in config.routes.values():
        used.setdefault(catalog.resolve(r.model), []).append(r.name)
    rows = [{"id": m.id, "aliases": list(m.aliases), "input_usd_per_mtok": m.input, "output_usd_per_mtok": m.output,
             "cache_read_usd_per_mtok": m.cache_read, "cache_write_usd_per_mtok": m.cache_write,
             "context_window": m.context_window, "routes": used.pop(m.id, [])} for m in catalog.models()]
    rows += [{"id": model, "aliases": [], "input_usd_per_mtok": None, "output_usd_per_mtok": None,
              "cache_read_usd_per_mtok": None, "cache_write_usd_per_mtok": None, "context_window": None,
              "routes": names} for model, names in used.items() if catalog.get(model) is None]
    return rows


def _show(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from ..rendering.render import console

    def price(x: float | None) -> str:
        return "?" if x is None else f"${x:g}"

    table = Table(show_edge=False, pad_edge=False)
    for col, right in (("model", False), ("aliases", False), ("input", True), ("output", True),
                       ("context", True), ("routes", False)):
        table.add_column(col, justify="right" if right else "left", no_wrap=col == "model")
    for r in rows:
        window = r["context_window"]
        table.add_row(r["id"], ", ".join(r["aliases"]), price(r["input_usd_per_mtok"]),
                      price(r["output_usd_per_mtok"]), f"{window:,}" if window else "?", ", ".join(r["routes"]))
    con = console()
    con.print(table)
    con.print("prices in USD per million tokens; ? = unknown (add it under `models:` in routes.yaml)", style="dim")
