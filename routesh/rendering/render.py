"""How decisions, routes and configs look in a terminal; plain text when output is not a tty."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from ..core.catalog import Catalog
from ..core.config import Config, describe_rule
from ..core.estimate import brief, usd
from ..core.estimate import short_tokens as tokens
from ..core.plan import Plan

__all__ = ["console", "tokens", "usd", "decision_line", "show_plan", "show_routes", "describe_rule"]

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    """A rich console on stdout that respects NO_COLOR; on a pipe nothing wraps and no line ends in spaces."""
    from rich.console import Console

    class _Console(Console):
        def on_broken_pipe(self) -> None:  # rich exits 1 here; a reader that went away is not a failure
            self.quiet = True
            raise BrokenPipeError

    if sys.stdout is not None and not sys.stdout.isatty():
        return _Console(highlight=False, soft_wrap=False, width=PIPE_WIDTH, file=_RStrip(sys.stdout))
    return _Console(highlight=False, soft_wrap=False)


PIPE_WIDTH = 10_000  # "no wrapping" for tables written to a pipe or file


class _RStrip:
    """A text stream that drops the spaces rich pads lines with, so `grep`, `cut` and diffs see clean lines."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._spaces = ""

    def write(self, text: str) -> int:
        """Write text, holding back trailing spaces until we know whether a newline follows."""
        lines = (self._spaces + text).split("\n")
        last = lines.pop()
        body = "".join(line.rstrip(" ") + "\n" for line in lines)
        kept = last.rstrip(" ")
        self._spaces = last[len(kept):]
        self._out.write(body + kept)
        return len(text)

    def flush(self) -> None:
        """Flush the underlying stream."""
        self._out.flush()

    def isatty(self) -> bool:
        """Never a terminal: this wrapper only exists for pipes and files."""
        return False

    def fileno(self) -> int:
        """The underlying descriptor."""
        return self._out.fileno()


def decision_line(plan: Plan) -> str:
    """The one line shown above an answer: route · provider/model · engine · key · size · cost."""
    if not plan.key_needed:
        key = "key: none needed"
    else:
        key = f"key: {plan.key_source}" if plan.key_present else "key: MISSING"
    line = f"→ {plan.route} · {plan.provider.name}/{plan.model} · via {plan.via} · {key} · {brief(plan.estimate)}"
    if plan.downgraded_from and plan.budget is not None:
        line += f" · downgraded from {plan.downgraded_from}: {plan.budget.message.split(' budget: ', 1)[-1]}"
    return line


def input_sizes(plan: Plan) -> str:
    """'prompt 14 chars + stdin 3.1 KB (~900 tok) + app.py 2 KB (~480 tok)': what is sent, part by part."""
    typed = len(plan.decision.text) - sum(len(a.block) for a in plan.attachments)
    parts = [f"prompt {typed:,} chars"]
    parts += [f"{a.label()} {_size(a.bytes)} (~{tokens(a.tokens)} tok)" for a in plan.attachments]
    return " + ".join(parts)


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KB"


def show_plan(con: Console, plan: Plan) -> None:
    """The human --dry-run on a rich console (the shell's /why): the decision line, then the evidence."""
    from rich.table import Table
    from rich.text import Text

    from .plan_panel import plan_rows

    head = Text(decision_line(plan), style="bold" if plan.verdict.allowed else "bold red")
    con.print(head, soft_wrap=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    for label, text, style in plan_rows(plan):
        grid.add_row(label, Text(text, style=style))
    con.print(grid)


def show_routes(con: Console, config: Config) -> None:
    """`routesh routes`: the routes, then the rules in the order they are tried."""
    from rich.table import Table

    routes = Table(title="routes", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("route", "provider", "model", "via", "fallback", "description"):  # names and ids never break
        routes.add_column(col, overflow="fold", no_wrap=col in ("provider", "model", "via"))
    for r in config.routes.values():
        name = r.name + (" (default)" if r.name == config.default_route else "")
        routes.add_row(name, r.provider, r.model, r.via, ", ".join(r.fallback), r.description or "")
    con.print(routes)
    con.print()
    rules = Table(title="rules (prefixes first, then in file order; first match wins)", title_justify="left",
                  show_edge=False, pad_edge=False)
    for col in ("#", "when", "route", "line"):
        rules.add_column(col, overflow="fold")
    ordered = [r for r in config.rules if r.prefix] + [r for r in config.rules if not r.prefix]
    for rule in ordered:
        rules.add_row(str(rule.index + 1), describe_rule(rule), rule.route, str(rule.line))
    rules.add_row("", "otherwise", config.default_route, "")
    con.print(rules)


def routes_data(config: Config, catalog: Catalog) -> dict[str, object]:
    """`routesh routes --json`: the routes, then the rules in the order they are tried."""
    routes = [{"route": r.name, "default": r.name == config.default_route, "provider": r.provider,
               "model": catalog.resolve(r.model), "via": r.via, "fallback": list(r.fallback),
               "description": r.description} for r in config.routes.values()]
    ordered = [r for r in config.rules if r.prefix] + [r for r in config.rules if not r.prefix]
    rules = [{"index": r.index + 1, "line": r.line, "route": r.route, "when": describe_rule(r),
              "conditions": {k: v for k, v in r.conditions() if v}}
             for r in ordered]
    return {"default_route": config.default_route, "routes": routes, "rules": rules}
