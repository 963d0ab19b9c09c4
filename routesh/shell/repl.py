"""The routesh shell: a prompt_toolkit REPL onto the same core as the one-shot CLI.

Start-up imports prompt_toolkit and the pure core only; rich, the engines and their SDKs load on
a background thread once the first prompt is on screen. Every prompt goes through prepare.plan_for
and runner.Runner, so the shell cannot route differently from `routesh PROMPT`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from .. import __version__
from ..core.context import Context
from ..core.errors import UserError, bug_location
from ..core.plan import Plan
from ..core.policy import route_refusal
from ..core.prompt import COMMANDISH, refuse_unknown, sent_as_text
from ..core.router import decide, norm_prefix
from ..pipeline.prepare import check_route, plan_for
from ..rendering.render import decision_line, usd
from . import history  # noqa: F401 - registers /history
from .builtins import COMMANDS, unknown
from .extras import run_command
from .line import Preview, Status
from .out import Out
from .preload import _preload_once
from .reload import HotReload, _stamp
from .turn import Conversation, Finished

if TYPE_CHECKING:
    import argparse

    from ..core.attach import Attachment
    from ..pipeline.runner import Runner


@dataclass(frozen=True)
class Sticky:
    """A route every prompt takes until /default: set by a bare prefix or --route."""

    route: str
    label: str  # "/architect" or "--route architect"


@dataclass(frozen=True)
class Totals:
    """What this session has spent."""

    cost: float = 0.0
    requests: int = 0
    unpriced: int = 0  # requests whose model has no known price


class Shell(HotReload):
    """The session: its context, sticky route, conversation and totals; reads lines and acts on them."""

    def __init__(self, ctx: Context, args: argparse.Namespace, out: Out | None = None) -> None:
        self.ctx = ctx
        self.config_flag: str | None = getattr(args, "config", None)
        self.tag: str | None = getattr(args, "tag", None)
        self.out = out or Out()
        route = getattr(args, "route", None)
        check_route(ctx, route)
        self.sticky: Sticky | None = Sticky(route, f"--route {route}") if route else None
        chain = getattr(args, "followup", None)  # `routesh -c` / `--cid ID` with no prompt: go on in the shell
        self.convo = Conversation(chain.history, cid=chain.conversation) if chain else Conversation()
        if chain:
            self.out.note(chain.note() or "")
        self.totals = Totals()
        self.last: Finished | None = None
        self._runner: Runner | None = None
        self._watched = self._watch_path()
        self._seen = _stamp(self._watched)
        self._preview_key: tuple[object, ...] | None = None
        self._preview: Preview | None = None
        self.attached: list[Attachment] = []  # files and command output for the next prompt
        self.reloaded_this_turn = False  # the line being handled already saw the edit (so /reload says it once)
        self._peeked: tuple[tuple[int, int] | None, Context | None] | None = None  # (stamp, ctx) read ahead

    # ---- the input line's view (shell_input.View) ---------------------------------------------

    def prompt_parts(self) -> tuple[str, str | None]:
        """(profile, sticky label) for the prompt."""
        return self.ctx.profile.name, self.sticky.label if self.sticky else None

    def status(self) -> Status:
        """Profile, session cost and the last request for the toolbar."""
        cost = usd(self.totals.cost) + ("+?" if self.totals.unpriced else "")
        return Status(self.ctx.profile.name, cost, self.last.label() if self.last else None, len(self.attached))

    def preview(self, text: str) -> Preview:
        """Where the text being typed would go, from the same router; cached for repeated redraws."""
        ctx = self._view_ctx()
        key = (text, id(ctx), self.sticky, id(self.convo))
        if key != self._preview_key or self._preview is None:
            self._preview = self._compute_preview(ctx, text)
            self._preview_key = key
        return self._preview

    def _compute_preview(self, ctx: Context, text: str) -> Preview:
        config = ctx.config
        sticky = self.sticky.label if self.sticky else None
        if text.startswith("!"):
            return Preview("", "", sticky, note="runs the command in sh; its output goes with your next prompt")
        head = _head(text)
        if head in COMMANDS:
            return Preview("", "", sticky, note=f"{head}: {COMMANDS[head].help}")
        prefixes = self.prefix_routes(ctx)
        if head and head not in prefixes and COMMANDISH.match(head):
            if refuse_unknown(head, _rest(text), [*COMMANDS, *prefixes]):
                return Preview("", "", sticky, note=f"unknown command {head}{_hint(head, [*COMMANDS, *prefixes])}")
            return Preview("", "", sticky, note=sent_as_text(head))
        if head in prefixes and not _rest(text):
            route = prefixes[head]
            return Preview(route, _model(ctx, route), sticky, note=f"Enter makes {head} sticky (→ {route})")
        forced = self.sticky.route if self.sticky and head not in prefixes and self.sticky.route in config.routes \
            else None
        decision = decide(text, config, datetime.now(), route=forced, context_tokens=self.convo.history_tokens)
        route = decision.route
        return Preview(route, _model(ctx, route), sticky, refused=route_refusal(config, ctx.profile, route),
                       cost=self._cost(ctx, route, decision.text) if text.strip() else None)

    def _cost(self, ctx: Context, route: str, text: str) -> str:
        """The toolbar's estimate: the prompt, the conversation so far and the route's fixed input, priced."""
        from ..core.estimate import brief, estimate, installed_claude_version

        r = ctx.config.routes[route]
        version = installed_claude_version(ctx.config.claude_path) if r.via == "claude-code" else None
        return brief(estimate(ctx.catalog.get(_model(ctx, route)), prompt=text,
                              history_tokens=self.convo.history_tokens, system=r.system, via=r.via,
                              max_output_tokens=r.max_output_tokens, claude_version=version))

    def _model(self, route: str) -> str:
        return _model(self.ctx, route)

    def prefix_routes(self, ctx: Context | None = None) -> dict[str, str]:
        """Route prefix → route, from the rules (built-in command names win)."""
        return {norm_prefix(r.prefix): r.route for r in (ctx or self.ctx).config.rules
                if r.prefix and norm_prefix(r.prefix) not in COMMANDS}

    def prefixes(self) -> list[str]:
        """The route prefixes."""
        return list(self.prefix_routes())

    def prefix_words(self) -> list[tuple[str, str]]:
        """(prefix, 'description · route → model') for completion and /help, as routes.yaml says now."""
        ctx = self._view_ctx()
        config, words = ctx.config, []
        for rule in config.rules:
            if rule.prefix and rule.prefix not in COMMANDS:
                desc = rule.description or config.routes[rule.route].description or f"route {rule.route}"
                words.append((rule.prefix, f"{desc} · {rule.route} → {_model(ctx, rule.route)}"))
        return words

    def words(self) -> list[tuple[str, str]]:
        """Every /word Tab completes: route prefixes first, then the built-in commands."""
        return [*self.prefix_words(), *((c.name, c.help) for c in COMMANDS.values() if not c.hidden)]

    def arguments(self, command: str) -> list[tuple[str, str]]:
        """Completions for a command's argument: profile names, prefixes for /why, commands for /help, paths."""
        if command == "/profile":
            return [(n, p.description or ("any provider" if p.allow_providers is None
                                          else "only " + ", ".join(p.allow_providers)))
                    for n, p in self._view_ctx().config.profiles.items()]
        if command in ("/why", "/default"):
            return self.prefix_words()
        if command == "/help":
            return [(c.name, c.help) for c in COMMANDS.values() if not c.hidden]
        return []

    def keep_history(self) -> bool:
        """Prompts of a log_prompts: false profile stay out of the history file."""
        return self.ctx.profile.log_prompts

    # ---- acting on a line -----------------------------------------------------------------------

    def handle(self, text: str) -> bool:
        """Act on one submitted line; False ends the session."""
        if not text.strip():
            return True
        if text.startswith("!"):
            run_command(self, text[1:])
            return True
        head = _head(text)
        if head in COMMANDS:
            return COMMANDS[head].run(self, _rest(text)) is not False
        prefixes = self.prefix_routes()
        if head in prefixes and not _rest(text):
            self.sticky = Sticky(prefixes[head], head)
            self.out.note(f"sticky: every prompt goes to {prefixes[head]} ({self._model(prefixes[head])}) "
                          "until /default")
            return True
        if head and head not in prefixes and COMMANDISH.match(head) and \
                refuse_unknown(head, _rest(text), [*COMMANDS, *prefixes]):
            raise UserError(unknown(head, list(prefixes)))
        self.send(text)
        return True

    def plan(self, text: str, *, ignore_sticky: bool = False, attachments: tuple[Attachment, ...] = ()) -> Plan:
        """The plan for text as the shell would send it: a prefix wins over the sticky route."""
        sticky = None if ignore_sticky or self.sticky is None or _head(text) in self.prefix_routes() else self.sticky
        return plan_for(self.ctx, text, sticky.route if sticky else None, attachments=attachments,
                        history=self.convo.history, history_tokens=self.convo.history_tokens)

    def send(self, text: str, *, ignore_sticky: bool = False) -> None:
        """Route, run and stream one prompt, then update the conversation and the totals."""
        from .turn import failure_lines, finished, run_turn, summary_line, waiting_toolbar

        plan = self.plan(text, ignore_sticky=ignore_sticky, attachments=tuple(self.attached))
        line = decision_line(plan) + (f" · sticky {self.sticky.label}" if plan.decision.forced and self.sticky else "")
        self.out.line(line, "bold" if plan.verdict.allowed else "bold red")
        if plan.via == "claude-code" and self.convo.history and self.convo.resumable is None:
            self.out.note(f"  Claude Code is given the conversation so far ({self.convo.turns} turn(s)) as context")
        for note in plan.notes:
            self.out.note(note)
        runner = self.runner()
        runner.ctx = self.ctx
        import shutil

        width = shutil.get_terminal_size().columns - 16  # room for the spinner and the seconds waited
        outcome, seconds = run_turn(self.out, runner, plan, self.convo, self.tag,
                                    waiting_toolbar(plan, self.status(), width))
        self.attached.clear()  # sent (a refusal raised before this line keeps them for the next try)
        if outcome is None:
            self.out.warn("abandoned the request; it may still finish in the background (not shown)")
            return
        self.last = finished(outcome, seconds)
        if outcome.records:
            unpriced = outcome.usage is not None and outcome.cost_usd is None
            self.totals = Totals(self.totals.cost + (outcome.cost_usd or 0.0), self.totals.requests + 1,
                                 self.totals.unpriced + unpriced)
        self.out.note(summary_line(outcome, seconds))
        problem = failure_lines(outcome)
        if problem:
            self.out.error(problem)
        if outcome.status == "ok":
            self.convo = self.convo.after(plan.send_text, outcome)  # as sent: redacted if on_secret says so

    def runner(self) -> Runner:
        """The request runner, created on first use; its ledger stays open for the session."""
        if self._runner is None:
            from ..pipeline.runner import Runner

            self._runner = Runner(self.ctx)
        return self._runner

    def fresh(self) -> None:
        """Forget the conversation: no message history, no Claude Code session to resume."""
        self.convo = Conversation()

    def switch(self, ctx: Context) -> None:
        """Use another profile; its account must never see the other's conversation."""
        self.ctx = ctx
        if self.convo.history or self.convo.claude_session:
            self.out.note("  conversation: started afresh (profiles never share context)")
        self.fresh()

    # ---- the loop ---------------------------------------------------------------------------------

    def banner(self) -> None:
        """Who, where and how, in two lines."""
        loaded = self.ctx.loaded
        source = str(loaded.path) if loaded.path else "built-in routes.yaml"
        self.out.line(f"routesh {__version__} · profile {self.ctx.profile.name} ({self.ctx.choice.why}) · {source}",
                      "bold")
        self.out.note("Enter sends · Esc-Enter new line · Tab completes /prefixes · Ctrl-C cancels · Ctrl-D exits · "
                      "/help")
        for warning in loaded.warnings:
            self.out.warn(f"routesh: {warning}")
        for rule in self.ctx.config.rules:
            if rule.prefix in COMMANDS:
                self.out.warn(f"routesh: the route prefix {rule.prefix} (line {rule.line}) is also a built-in command, "
                              "so the shell runs the command; rename the prefix in routes.yaml to use it here")

    def run(self) -> int:
        """Read and act on lines until /exit or Ctrl-D; nothing but a crash of Python ends it early."""
        from ..core.paths import state_dir
        from .line import make_session, open_history

        session = make_session(self, open_history(state_dir(), self.keep_history, lambda: self.ctx.profile.on_secret))
        _preload_once(session, self.ctx)
        self.banner()
        try:
            while True:
                self.guarded(None)  # routes.yaml edits, before the prompt shows where input would go
                try:
                    text = session.prompt()
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    break
                if not self.guarded(text):
                    break
        finally:
            if self._runner is not None:
                self._runner.close()
        return 0

    def guarded(self, text: str | None) -> bool:
        """Reload if edited, then handle() the text; every failure shown, never a traceback or the end."""
        try:
            self.reloaded_this_turn = self.reload()
            return True if text is None else self.handle(text)
        except UserError as exc:
            self.out.error(str(exc))
        except KeyboardInterrupt:
            self.out.note("interrupted")
        except Exception as exc:  # noqa: BLE001 - the session outlives a bug
            if _user_facing(exc):
                self.out.error(str(exc))
                return True
            if os.environ.get("ROUTESH_DEBUG"):
                import traceback

                traceback.print_exc()
            self.out.error(f"internal error ({type(exc).__name__}{bug_location(exc)}); this is a bug. "
                           "The session goes on; ROUTESH_DEBUG=1 shows the traceback")
        return True


def _model(ctx: Context, route: str) -> str:
    return ctx.catalog.resolve(ctx.config.routes[route].model)


def _head(text: str) -> str | None:
    """The /word a line starts with (at column 0), normalised (/ARCHITECT: → /architect), or None."""
    if not text.startswith("/"):
        return None
    return norm_prefix(text[:_head_end(text)])


def _head_end(text: str) -> int:
    for i, ch in enumerate(text[:200]):
        if ch.isspace():
            return i
    return len(text)


def _rest(text: str) -> str:
    """What follows the /word."""
    return text[_head_end(text):].strip()


def _hint(word: str, choices: list[str]) -> str:
    from ..core.yamlnodes import did_you_mean

    return did_you_mean(word, choices)


def _user_facing(exc: Exception) -> bool:
    """Errors outside UserError whose message already names the problem and the fix (keyring trouble)."""
    import sys

    entries = sys.modules.get("routesh.keys.entries")
    return entries is not None and isinstance(exc, entries.KeyringUnavailable)


def main(ctx: Context, args: argparse.Namespace) -> int:
    """`routesh` on a terminal with no prompt: the interactive shell."""
    return Shell(ctx, args).run()


__all__ = ["Shell", "Sticky", "Totals", "main"]
