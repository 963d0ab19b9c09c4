"""The shell's built-in commands (the ones that are not routes); each docstring is its /help line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..core.errors import UserError
from ..core.yamlnodes import did_you_mean
from ..rendering.render import usd

if TYPE_CHECKING:
    from ..core.context import Context
    from .repl import Shell

Handler = Callable[["Shell", str], bool | None]  # returns False to end the session


@dataclass(frozen=True)
class Command:
    """A built-in: its name, its argument synopsis and what it does."""

    name: str
    args: str
    run: Handler
    hidden: bool = False  # an alias: accepted, not listed

    @property
    def help(self) -> str:
        """The first line of the handler's docstring."""
        return (self.run.__doc__ or "").strip().splitlines()[0]


COMMANDS: dict[str, Command] = {}


def command(name: str, args: str = "", *, aliases: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register a handler under /name (and hidden aliases)."""
    def register(fn: Handler) -> Handler:
        COMMANDS[name] = Command(name, args, fn)
        for alias in aliases:
            COMMANDS[alias] = Command(alias, args, fn, hidden=True)
        return fn
    return register


def unknown(word: str, prefixes: list[str]) -> str:
    """The message for a /word that is neither a command nor a route prefix."""
    visible = [c for c, cmd in COMMANDS.items() if not cmd.hidden]
    hint = did_you_mean(word, [*visible, *prefixes])
    return (f"unknown command {word}{hint}; nothing was sent. /help lists commands and route prefixes; "
            "to send a prompt that starts with a slash, start it with a space")


@command("/help", "[COMMAND]")
def _help(sh: Shell, arg: str) -> None:
    """Show commands, route prefixes and keys."""
    out = sh.out
    if arg:
        name = arg if arg.startswith("/") else "/" + arg
        cmd = COMMANDS.get(name)
        if cmd is None:
            raise UserError(unknown(name, sh.prefixes()))
        out.line(f"{cmd.name} {cmd.args}".rstrip() + f"  {cmd.help}")
        return
    out.line("commands", "bold")
    for cmd in COMMANDS.values():
        if not cmd.hidden:
            out.line(f"  {(cmd.name + ' ' + cmd.args).rstrip():<18} {cmd.help}")
    out.line("route prefixes (alone: sticky until /default)", "bold")
    for word, meta in sh.prefix_words():
        out.line(f"  {word:<18} {meta}")
    out.line("keys", "bold")
    for key, what in (("Enter", "send"), ("Esc-Enter", "new line (pastes keep their newlines)"),
                      ("Tab", "complete a /command or route prefix"), ("Up/Down", "history"),
                      ("Ctrl-C", "cancel the running request, or clear the line"), ("Ctrl-D", "exit")):
        out.line(f"  {key:<18} {what}")


@command("/routes")
def _routes(sh: Shell, arg: str) -> None:
    """Show the routes and the rules in the order they are tried."""
    from ..rendering.render import show_routes

    show_routes(sh.out.console, sh.ctx.config)


@command("/profile", "[NAME]")
def _profile(sh: Shell, arg: str) -> None:
    """Show the profiles, or switch to NAME (starts a fresh conversation)."""
    ctx = sh.ctx
    if not arg:
        for name, prof in ctx.config.profiles.items():
            mark = "*" if name == ctx.profile.name else " "
            why = f"  ({ctx.choice.why})" if name == ctx.profile.name else ""
            providers = ", ".join(prof.allow_providers) if prof.allow_providers is not None else "any provider"
            sh.out.line(f"{mark} {name:<16} {providers}{why}", "bold" if mark == "*" else None)
        return
    if arg == ctx.profile.name:
        sh.out.note(f"already in profile {arg}")
        return
    new = ctx.with_profile(arg)
    for line in profile_changes(ctx, new):
        sh.out.line(line)
    sh.switch(new)


def profile_changes(old: Context, new: Context) -> list[str]:
    """What switching profiles changes: allowed providers, keys present, prompt logging, secrets."""
    from ..keys.secrets import lookup_key

    a, b = old.profile, new.profile
    lines = [f"profile {a.name} → {b.name}"]

    def allowed(p):  # type: ignore[no-untyped-def]
        return ", ".join(p.allow_providers) if p.allow_providers is not None else "any"

    lines.append(f"  providers allowed: {allowed(a)}" + ("" if allowed(a) == allowed(b) else f" → {allowed(b)}"))
    for name in new.config.providers:
        if b.allow_providers is not None and name not in b.allow_providers:
            continue
        before = lookup_key(a.name, old.config.provider_in(a, name), fetch=False)
        after = lookup_key(b.name, new.config.provider_in(b, name), fetch=False)
        if not after.needed:
            continue
        where = after.source if after.present else "MISSING"
        was = before.source if before.present else "missing"
        change = "" if was == where.lower() else f" (was {was})"
        fix = "" if after.present else f": routesh keys set {name} --profile {b.name}"
        lines.append(f"  key {name}: {where}{change}{fix}")
    from ..core.keyshare import restricted

    refused = "; this profile refuses to send with it" if restricted(b) else ""
    lines += [f"  key shared: {s.sentence(b.name)}" + ("" if s.allowed else refused) for s in _shared(new)]
    if a.log_prompts != b.log_prompts:
        lines.append(f"  prompts logged and kept in history: {'yes' if b.log_prompts else 'no'}")
    if a.on_secret != b.on_secret:
        lines.append(f"  secrets in prompts: {a.on_secret} → {b.on_secret}")
    return lines


def _shared(ctx: Context) -> tuple:  # type: ignore[type-arg]
    """The active profile's keys that another profile resolves to as well (values compared)."""
    from ..core.keyshare import shared_keys
    from ..keys.secrets import list_keys

    prof = ctx.profile
    if len(ctx.config.profiles) < 2:
        return ()
    used = [n for n in ctx.config.providers if prof.allow_providers is None or n in prof.allow_providers]
    return shared_keys(ctx.config, prof.name, list_keys(ctx.config, fetch=True), used)


@command("/why", "TEXT")
def _why(sh: Shell, arg: str) -> None:
    """Show where TEXT would go and why (a dry run: nothing is sent)."""
    from ..rendering.render import show_plan

    if not arg:
        raise UserError("/why needs a prompt after it, e.g. /why /debug this test is flaky")
    plan = sh.plan(arg)
    show_plan(sh.out.console, plan)
    if plan.decision.forced and sh.sticky is not None:
        by_rules = sh.plan(arg, ignore_sticky=True).decision
        sh.out.note(f"{sh.sticky.label} is sticky, so the rules were not consulted; without it: → {by_rules.route} "
                    f"({by_rules.reason})")


@command("/cost")
def _cost(sh: Shell, arg: str) -> None:
    """Show what this session, today and this month have cost in this profile."""
    from ..core.policy import day_start, month_start

    t = sh.totals
    unpriced = f" ({t.unpriced} without a known price)" if t.unpriced else ""
    sh.out.line(f"this session: {usd(t.cost)} over {t.requests} request(s){unpriced}")
    ledger = sh.runner().ledger
    if ledger is None:
        return
    now = datetime.now()
    name = sh.ctx.profile.name
    day = ledger.spent(name, day_start(now).timestamp())
    month = ledger.spent(name, month_start(now).timestamp())
    budget = sh.ctx.profile.budget
    daily = f" of {usd(budget.daily_usd)}" if budget and budget.daily_usd is not None else ""
    monthly = f" of {usd(budget.monthly_usd)}" if budget and budget.monthly_usd is not None else ""
    sh.out.line(f"profile {name}: today {usd(day)}{daily}, this month {usd(month)}{monthly}")


@command("/new")
def _new(sh: Shell, arg: str) -> None:
    """Start a fresh conversation (the next prompt carries no history)."""
    sh.fresh()
    sh.out.note("fresh conversation: the next prompt starts without history")


@command("/default", "[TEXT]")
def _default(sh: Shell, arg: str) -> None:
    """Leave the sticky route; with TEXT, send it by the rules just this once."""
    if arg:
        sh.send(arg, ignore_sticky=True)
        return
    if sh.sticky is None:
        sh.out.note("no sticky route; prompts go by the rules")
        return
    sh.out.note(f"left {sh.sticky.label}; prompts go by the rules again")
    sh.sticky = None


@command("/reload")
def _reload(sh: Shell, arg: str) -> None:
    """Read routes.yaml again now (edits are also picked up before each prompt)."""
    if not sh.reloaded_this_turn:  # the edit was already picked up just before this line ran
        sh.reload(force=True)


@command("/miss", "[NOTE]")
def _miss(sh: Shell, arg: str) -> None:
    """Mark the last request as a routing miss in the ledger (see routesh stats)."""
    ledger = sh.runner().ledger
    if ledger is None:
        raise UserError("the usage ledger is unavailable, so the miss cannot be recorded")
    from ..usage.ledger import LedgerError

    last = sh.last
    if last is None:  # never a request of an earlier session: that is `routesh log` and `stats`' business
        raise UserError("no request in this session yet; send a prompt first (an older request: "
                        "routesh log shows its id)")
    try:
        rid = ledger.mark_miss(last.request_id, arg or None, profile=sh.ctx.profile.name)
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    if rid is None:
        raise UserError("no request in this session yet; send a prompt first")
    what = f" ({last.route} · {last.model})" if last and last.request_id == rid else ""
    sh.out.note(f"marked request {rid}{what} as a routing miss" + (f": {arg}" if arg else ""))


@command("/exit", aliases=("/quit",))
def _exit(sh: Shell, arg: str) -> bool:
    """Leave the shell (Ctrl-D does too)."""
    return False
