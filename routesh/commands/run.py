"""Run one routed prompt and stream its answer to stdout; the decision and notices go to stderr."""

from __future__ import annotations

import sys

from ..core.context import Context
from ..core.errors import EXIT_MODEL, EXIT_OK, EXIT_POLICY
from ..core.events import Message
from ..core.kept import shown
from ..core.plan import Plan
from ..rendering.render import decision_line
from ..rendering.spinner import Spinner


def run_plan(ctx: Context, plan: Plan, *, tag: str | None = None, history: tuple[Message, ...] = (),
             conversation: str | None = None) -> int:
    """Stream the answer (rendered markdown on a terminal, plain text otherwise); exit 0, 1 or 130.

    Ctrl-C cancels the request (a second one abandons it): the answer so far stays, marked partial."""
    from ..core.termsafe import StreamCleaner
    from ..pipeline.live_answer import LiveAnswer, run_cancellable
    from ..pipeline.runner import Runner

    out = sys.stdout
    live = None
    if out.isatty():
        from rich.console import Console

        live = LiveAnswer(Console(highlight=False))
        show = live.feed
    else:
        cleaner = StreamCleaner()

        def show(chunk: str) -> None:
            out.write(cleaner.feed(chunk))
            out.flush()

    spinner = Spinner(f"{plan.route} · {plan.model} · waiting for the first token")

    def write(chunk: str) -> None:
        spinner.stop()
        show(chunk)

    def notice(msg: str) -> None:
        spinner.say(f"routesh: {shown(msg)}")

    print(decision_line(plan), file=sys.stderr, flush=True)
    for line in plan.notes:
        notice(line)
    runner = Runner(ctx, on_text=write, on_notice=notice)
    spinner.start()
    try:
        outcome, seconds = run_cancellable(lambda cancel: runner.execute(
            plan, history=history, tag=tag, cancel=cancel, conversation=conversation), live)
    finally:
        spinner.stop()
        runner.close()
    if live is not None:
        live.end(outcome)
    elif outcome is not None and outcome.text and not outcome.text.endswith("\n"):
        out.write("\n")
        out.flush()
    if outcome is None:
        print("routesh: cancelled; the request was abandoned (it may still be recorded when it ends)",
              file=sys.stderr)
        return 130
    if outcome.records and sys.stderr.isatty():  # the shell's line under each answer; never in a pipe's stderr
        from ..shell.turn import summary_line

        print(summary_line(outcome, seconds), file=sys.stderr, flush=True)
    if outcome.status == "ok":
        return EXIT_OK
    if outcome.status == "cancelled":
        print("routesh: cancelled", file=sys.stderr)
        return 130
    if outcome.policy is not None:  # a step the profile forbids was all that was left, or Claude Code's next request
        print(f"routesh: refused, nothing more was sent: {shown(outcome.policy)}", file=sys.stderr)
        if outcome.error and outcome.error not in outcome.policy:
            print(f"routesh: the last attempt failed: {shown(outcome.error)}", file=sys.stderr)
        return EXIT_POLICY
    if outcome.status == "partial":
        print(f"routesh: the answer above is partial: {shown(outcome.error or '')}", file=sys.stderr)
        return EXIT_MODEL
    if outcome.status == "refused":
        print(f"routesh: {outcome.model} declined to answer (stop_reason: refusal); set on_refusal on route "
              f"{outcome.route} to escalate such prompts", file=sys.stderr)
        return EXIT_MODEL
    tried = ", ".join(dict.fromkeys(f"{r.route} ({r.provider}/{r.model})" for r in outcome.records)) or "nothing"
    print(f"routesh: failed: {shown(outcome.error or '')}\nroutesh: tried {tried}; nothing more to fall back to",
          file=sys.stderr)
    for hint in outcome.hints:
        print(f"routesh: {shown(hint)}", file=sys.stderr)
    return EXIT_MODEL
