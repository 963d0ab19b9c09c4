"""`routesh log --show ID`: one request's prompt and answer, as the ledger kept them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from ..answers import Exchange
from ..errors import UserError


def show(args: argparse.Namespace, ledger) -> int:  # type: ignore[no-untyped-def]
    """Print the request (header, prompt, answer); --json prints one object."""
    from ..conversations import exchange

    if ledger is None:
        raise UserError(f"no request {args.show!r}: the usage ledger is empty (nothing has been sent yet)")
    with ledger:
        found = exchange(ledger, args.show)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return 0
    sys.stdout.write(render(found))
    return 0


def render(e: Exchange) -> str:
    """The plain-text view: a header line, then the prompt and the answer under their own headings."""
    from ..estimate import usd
    from ..termsafe import clean

    when = datetime.fromtimestamp(e.ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    cost = usd(e.cost_usd)
    tries = f" · {e.attempts} attempts" if e.attempts > 1 else ""
    head = (f"request {e.request_id} · {when} · {e.profile} · {e.route} · {e.model} · {e.status} · {cost}{tries}\n"
            f"conversation {e.conversation or '-'}")
    if e.prompt is None:
        why = ("refused before sending: a refusal keeps no text" if e.status == "refused"
               else f"profile '{e.profile}' has log_prompts: false")
        return f"{head}\n\nneither prompt nor answer kept: {why}\n"
    answer = e.answer if e.answer else "(no answer kept: " + ("the request got no answer)" if e.status != "ok"
                                                              else "it was recorded before routesh kept answers)")
    return f"{head}\n\n── prompt\n{clean(e.prompt).rstrip()}\n\n── answer\n{clean(answer).rstrip()}\n"
