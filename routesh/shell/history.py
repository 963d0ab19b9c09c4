"""The shell's /history: recent exchanges of this profile from the ledger, and one of them in full.

Numbers are the exchange's place in the profile's ledger (1 = its first), so they stay put while
new prompts are sent, as bash's history numbers do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..core.errors import UserError
from ..rendering.render import usd
from .builtins import command

if TYPE_CHECKING:
    from ..core.answers import Exchange
    from .repl import Shell

LISTED = 20  # exchanges /history lists


@command("/history", "[N|ID]")
def _history(sh: Shell, arg: str) -> None:
    """List recent exchanges (number, time, route, cost, prompt); /history N shows one in full."""
    from ..usage import conversations as conv

    ledger = sh.runner().ledger
    if ledger is None:
        raise UserError("the usage ledger is unavailable, so there is no history to show")
    profile = sh.ctx.profile
    total = conv.count(ledger, profile.name)
    arg = arg.strip()
    if arg:
        sh.out.line(_one(ledger, profile.name, total, arg).rstrip("\n"))
        return
    if not total:
        sh.out.note(f"no exchange in profile {profile.name} yet")
        return
    if not profile.log_prompts:
        sh.out.note(f"profile {profile.name} has log_prompts: false: routes and costs are kept, prompts and "
                    "answers are not")
    rows = conv.recent(ledger, profile.name, LISTED)
    width = len(str(total))
    for i, e in enumerate(reversed(rows)):
        sh.out.line(_row(total - len(rows) + 1 + i, width, e), "bold" if e.request_id == _last(sh) else None)
    sh.out.note("/history N shows one in full; routesh log --show ID does too, outside the shell")


def _last(sh: Shell) -> str | None:
    return sh.last.request_id if sh.last else None


def _row(n: int, width: int, e: Exchange) -> str:
    """'  12  14:03  debug  $0.0123  why is the build flaky' (the date too when not today)."""
    when = datetime.fromtimestamp(e.ts)
    stamp = when.strftime("%H:%M") if when.date() == datetime.now().date() else when.strftime("%m-%d %H:%M")
    status = "" if e.status == "ok" else f" [{e.status}]"
    line = e.first_line if e.status != "refused" or e.prompt else "(refused: nothing was sent)"
    return f"{n:>{width + 2}}  {stamp}  {e.route}  {usd(e.cost_usd)}{status}  {line[:100]}"


def _one(ledger: object, profile: str, total: int, arg: str) -> str:
    """Exchange number N of the profile, or the request whose id starts with arg."""
    from ..core.answers import view
    from ..usage import conversations as conv

    if arg.isdigit() and len(arg) < 8:
        n = int(arg)
        if not 1 <= n <= total:
            raise UserError(f"no exchange {n}: profile {profile} has {total} (see /history)" if total
                            else f"no exchange {n}: profile {profile} has none yet")
        return view(conv.recent(ledger, profile, 1, skip=total - n)[0])  # type: ignore[arg-type]
    e = conv.exchange(ledger, arg)  # type: ignore[arg-type]
    if e.profile != profile:
        raise UserError(f"request {e.request_id} belongs to profile {e.profile}; /profile {e.profile} to see it")
    return view(e)
