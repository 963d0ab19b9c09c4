"""How decisions, routes and configs look in a terminal; plain text when output is not a tty."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import Config, Rule
from .plan import Plan

if TYPE_CHECKING:
    from rich.console import Console


def console() -> Console:
    """A rich console on stdout that respects NO_COLOR and plain pipes."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def tokens(n: int) -> str:
    """1234 → '1.2k', the way people read token counts."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1_000_000:.2f}M"


def usd(x: float | None) -> str:
    """Money with enough digits to see small prompts; '?' when the price is unknown."""
    if x is None:
        return "$?"
    if x == 0:
        return "$0"
    if x < 0.0001:
        return "<$0.0001"
    if x < 0.01:
        return f"${x:.4f}"
    return f"${x:.2f}"


def decision_line(plan: Plan) -> str:
    """The one line shown above an answer: route · provider/model · engine · key · size · cost."""
    if not plan.key_needed:
        key = "key: none needed"
    else:
        key = f"key: {plan.key_source}" if plan.key_present else "key: MISSING"
    return (f"→ {plan.route} · {plan.provider.name}/{plan.model} · via {plan.via} · {key} · "
            f"~{tokens(plan.decision.estimated_input_tokens)} tok · ≤ {usd(plan.estimated_cost_usd)} in")


def show_plan(con: Console, plan: Plan) -> None:
    """The human --dry-run: the decision line, then the evidence."""
    from rich.table import Table
    from rich.text import Text

    allowed = plan.verdict.allowed
    head = Text(decision_line(plan), style="bold" if allowed else "bold red")
    con.print(head, soft_wrap=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    grid.add_row("why", plan.decision.reason)
    grid.add_row("profile", f"{plan.profile} ({plan.profile_why})")
    if not plan.key_needed:
        grid.add_row("key", "none needed")
    elif plan.key_present:
        grid.add_row("key", f"found in {plan.key_source}")
    else:
        from .secrets import how_to_set

        grid.add_row("key", Text(f"missing: {how_to_set(plan.profile, plan.provider)}", style="yellow"))
    for shared in plan.shared_keys:
        grid.add_row("key shared", Text(shared.sentence(plan.profile), style="dim" if shared.allowed else "yellow"))
    if plan.key_problem:
        grid.add_row("keyring", Text(plan.key_problem.replace("\n", " "), style="dim"))
    if plan.secrets:
        grid.add_row("secrets", Text(plan.secrets, style="yellow"))
    if plan.budget is not None:
        grid.add_row("budget", Text(plan.budget.message, style="red" if plan.budget.over else ""))
    if allowed:
        grid.add_row("policy", Text("allowed" + (f": {plan.verdict.why}" if plan.budget and plan.budget.over else ""),
                                    style="green"))
    else:
        grid.add_row("policy", Text(f"refused: {plan.verdict.why}", style="red"))
    if plan.decision.fallbacks:
        fbs = [fb + (" (skipped: not allowed)" if fb in dict(plan.verdict.skipped) else "")
               for fb in plan.decision.fallbacks]
        grid.add_row("fallback", " → ".join(fbs))
    grid.add_row("cost", f"{usd(plan.estimated_cost_usd)} for ~{plan.decision.estimated_input_tokens:,} input tokens"
                         + ("" if plan.estimated_cost_usd is not None else " (no price known for this model: add it "
                                                                           "under `models:`)")
                         + "; output is unknown until the answer")
    con.print(grid)


def show_routes(con: Console, config: Config) -> None:
    """`routesh routes`: the routes, then the rules in the order they are tried."""
    from rich.table import Table

    routes = Table(title="routes", title_justify="left", show_edge=False, pad_edge=False)
    for col in ("route", "provider", "model", "via", "fallback", "description"):
        routes.add_column(col, overflow="fold")
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


def describe_rule(rule: Rule) -> str:
    """A rule's conditions in words: 'prefix /debug', 'keywords fixture, snapshot and 22:00-06:00'."""
    parts = []
    if rule.prefix:
        parts.append(f"starts with {rule.prefix}")
    if rule.keywords:
        parts.append("mentions " + " or ".join(f"“{k}”" for k in rule.keywords))
    if rule.regex:
        parts.append(f"matches /{rule.regex}/")
    if rule.min_tokens is not None:
        parts.append(f"≥ {rule.min_tokens:,} tokens")
    if rule.max_tokens is not None:
        parts.append(f"≤ {rule.max_tokens:,} tokens")
    if rule.hours:
        parts.append(f"between {rule.hours}")
    return " and ".join(parts)

