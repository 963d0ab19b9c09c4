"""`routesh PROMPT...`, `echo PROMPT | routesh` and `routesh --dry-run`: one prompt, routed, then run or shown."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from ..core.attach import Attachment
from ..core.context import build
from ..core.errors import PolicyRefusal, UserError
from ..core.overrides import Overrides
from ..core.plan import Plan
from ..core.prompt import read_stdin
from ..pipeline.prepare import claude_missing, plan_for
from .followup import Followup, followup

if TYPE_CHECKING:
    import argparse


def main(args: argparse.Namespace) -> int:
    """Route one prompt; with --dry-run show the plan, otherwise run it and stream the answer."""
    if args.json and not args.dry_run:
        raise UserError("--json goes with --dry-run (an answer streams as text)")
    ctx = build(args.config, args.profile)
    for warning in ctx.loaded.warnings:
        print(f"routesh: {warning}", file=sys.stderr)
    from ..usage.ledger_start import open_at_start

    open_at_start()
    stdin_tty = sys.stdin is None or sys.stdin.isatty()
    files: list[str] = args.file or []
    wanted = Overrides(args.model, args.system)
    if not args.prompt and stdin_tty:
        if args.dry_run:
            raise UserError('--dry-run needs a prompt, e.g. routesh --dry-run "/debug why is this flaky?"')
        if files or wanted:
            raise UserError('-f, -m and -s go with a prompt, e.g. routesh -f app.log "why does it crash?"')
        if sys.stdout is None or not sys.stdout.isatty():
            raise UserError('no prompt, and stdout is not a terminal, so the shell would not be visible; '
                            'give a prompt: routesh "explain this" > out.txt')
        if args.cont or args.cid is not None:  # the shell, going on with that conversation
            args.followup = followup(ctx, args.cont, args.cid)
        from ..shell.repl import main as shell

        return shell(ctx, args)
    text, attachments = _inputs(args.prompt, files, stdin_tty, ctx.config.attach_max_kb)
    chain = followup(ctx, args.cont, args.cid)
    plan = plan_for(ctx, text, args.route, attachments=attachments, history=chain.history)
    if wanted:
        from ..core.overrides import apply

        ctx, notes = apply(ctx, plan.route, wanted)
        plan = replace(plan_for(ctx, text, args.route, attachments=attachments, history=chain.history),
                       notes=plan.notes + notes)
    if (said := chain.note()) is not None:
        plan = replace(plan, notes=(said, *plan.notes))
    if args.dry_run:
        return _show(plan, args.json, chain)
    if plan.via == "claude-code" and (missing := claude_missing(ctx.config)):
        raise UserError(f"route {plan.route} runs via Claude Code, but {missing[0].lower()}{missing[1:]}")
    from .run import run_plan  # a refusal is raised (and recorded) there, before anything is sent

    return run_plan(ctx, plan, tag=args.tag, history=chain.history, conversation=chain.conversation)


def _inputs(words: list[str], files: list[str], stdin_tty: bool, max_kb: int) -> tuple[str, tuple[Attachment, ...]]:
    """The prompt and what goes after it: the argument, then piped stdin, then each -f file, in that order."""
    from ..core.attach import piped, read_files

    stdin = None if stdin_tty else sys.stdin.buffer
    if not words:  # the prompt comes from stdin
        if "-" in files:
            raise UserError('-f - attaches stdin, so the prompt must be an argument: routesh -f - "explain this"')
        return read_stdin(sys.stdin.buffer), read_files(files, None, max_kb)
    text = " ".join(words)
    extra: tuple[Attachment, ...] = ()
    if stdin is not None and "-" not in files:
        data = read_stdin(stdin)
        if data.strip():
            extra = (piped(data),)
    return text, extra + read_files(files, stdin, max_kb)


def _show(plan: Plan, as_json: bool, chain: Followup) -> int:
    if as_json:
        import json

        said = {"id": chain.conversation, "turns": chain.turns} if chain.continued else None
        print(json.dumps(plan.to_json(said), indent=2, ensure_ascii=False))
    else:
        from ..rendering.plan_panel import write_plan  # not rich: its console alone cost a third of the dry-run

        write_plan(plan, sys.stdout)
    return 0 if plan.verdict.allowed else PolicyRefusal.exit_code
