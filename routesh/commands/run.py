"""Run one routed prompt and stream its answer to stdout; the decision and notices go to stderr."""

from __future__ import annotations

import sys

from ..context import Context
from ..errors import EXIT_MODEL, EXIT_OK
from ..plan import Plan
from ..render import decision_line
from ..spinner import Spinner


def run_plan(ctx: Context, plan: Plan, *, tag: str | None = None) -> int:
    """Stream the answer (rendered markdown on a terminal, plain text otherwise); exit 0, 1 or 130."""
    from ..runner import Runner

    out = sys.stdout
    tty = out.isatty()
    renderer = None
    if tty:
        from rich.console import Console

        from ..render_stream import StreamRenderer

        renderer = StreamRenderer(Console(highlight=False))
        show = renderer.feed
    else:
        def show(chunk: str) -> None:
            out.write(chunk)
            out.flush()

    spinner = Spinner(f"{plan.route} · {plan.model} · waiting for the first token")

    def write(chunk: str) -> None:
        spinner.stop()
        show(chunk)

    def notice(msg: str) -> None:
        spinner.say(f"routesh: {msg}")

    print(decision_line(plan), file=sys.stderr, flush=True)
    for line in plan.notes:
        notice(line)
    runner = Runner(ctx, on_text=write, on_notice=notice)
    spinner.start()
    try:
        outcome = runner.execute(plan, tag=tag)
    finally:
        spinner.stop()
        runner.close()
    if renderer is not None:
        if outcome.status == "partial":
            renderer.mark_partial("answer incomplete: " + (outcome.error or "the stream broke"))
        elif outcome.status == "cancelled":
            renderer.mark_partial("cancelled")
        else:
            renderer.finish()
    elif outcome.text and not outcome.text.endswith("\n"):
        out.write("\n")
        out.flush()
    if outcome.status == "ok":
        return EXIT_OK
    if outcome.status == "cancelled":
        print("routesh: cancelled", file=sys.stderr)
        return 130
    if outcome.status == "partial":
        print(f"routesh: the answer above is partial: {outcome.error}", file=sys.stderr)
        return EXIT_MODEL
    if outcome.status == "refused":
        print(f"routesh: {outcome.model} declined to answer (stop_reason: refusal); set on_refusal on route "
              f"{outcome.route} to escalate such prompts", file=sys.stderr)
        return EXIT_MODEL
    tried = ", ".join(dict.fromkeys(f"{r.route} ({r.provider}/{r.model})" for r in outcome.records)) or "nothing"
    print(f"routesh: failed: {outcome.error}\nroutesh: tried {tried}; nothing more to fall back to", file=sys.stderr)
    for hint in outcome.hints:
        print(f"routesh: {hint}", file=sys.stderr)
    return EXIT_MODEL
