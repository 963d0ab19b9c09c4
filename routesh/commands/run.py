"""Run one routed prompt and stream its answer to stdout; the decision and notices go to stderr."""

from __future__ import annotations

import sys

from ..context import Context
from ..errors import EXIT_MODEL, EXIT_OK
from ..kept import shown
from ..plan import Plan
from ..render import decision_line


def run_plan(ctx: Context, plan: Plan, *, tag: str | None = None) -> int:
    """Stream the answer (rendered markdown on a terminal, plain text otherwise); exit 0, 1 or 130."""
    from ..runner import Runner
    from ..termsafe import StreamCleaner

    out = sys.stdout
    tty = out.isatty()
    renderer = None
    if tty:
        from rich.console import Console

        from ..render_stream import StreamRenderer

        renderer = StreamRenderer(Console(highlight=False))
        write = renderer.feed
    else:
        cleaner = StreamCleaner()

        def write(chunk: str) -> None:
            out.write(cleaner.feed(chunk))
            out.flush()

    def notice(msg: str) -> None:
        print(f"routesh: {shown(msg)}", file=sys.stderr, flush=True)

    print(decision_line(plan), file=sys.stderr, flush=True)
    runner = Runner(ctx, on_text=write, on_notice=notice)
    try:
        outcome = runner.execute(plan, tag=tag)
    finally:
        runner.close()
    if renderer is not None:
        if outcome.status == "partial":
            renderer.mark_partial("answer incomplete: " + shown(outcome.error or "the stream broke"))
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
