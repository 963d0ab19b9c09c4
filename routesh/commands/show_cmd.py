"""`routesh log --show ID`: one request's prompt and answer, as the ledger kept them."""

from __future__ import annotations

import argparse
import json
import sys

from ..core.answers import view
from ..core.errors import UserError


def show(args: argparse.Namespace, ledger) -> int:  # type: ignore[no-untyped-def]
    """Print the request (header, prompt, answer); --json prints one object."""
    from ..usage.conversations import exchange

    if ledger is None:
        raise UserError(f"no request {args.show!r}: the usage ledger is empty (nothing has been sent yet)")
    with ledger:
        found = exchange(ledger, args.show)
    if args.json:
        print(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
        return 0
    sys.stdout.write(view(found))
    return 0
