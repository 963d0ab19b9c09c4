"""`routesh -c "..."` and `routesh --cid ID "..."`: a one-shot that continues a kept conversation (llm's -c/--cid)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.context import Context
from ..core.errors import UserError

if TYPE_CHECKING:
    from ..core.events import Message


@dataclass(frozen=True)
class Followup:
    """The conversation a one-shot belongs to and the turns it sends first."""

    conversation: str
    history: tuple[Message, ...] = ()
    continued: bool = False

    @property
    def turns(self) -> int:
        """Exchanges sent as history."""
        return len(self.history) // 2

    def note(self) -> str | None:
        """The dry-run's and the decision's line naming what is continued."""
        if not self.continued:
            return None
        from ..core.estimate import message_tokens
        from ..rendering.render import tokens

        return (f"continues conversation {self.conversation}: {self.turns} earlier turn(s), "
                f"~{tokens(message_tokens(self.history))} tok sent as history")


def followup(ctx: Context, cont: bool, cid: str | None) -> Followup:
    """A new conversation, or the one -c / --cid names with its kept turns; UserError (exit 2) when impossible."""
    from ..core.answers import new_conversation

    if not cont and cid is None:
        return Followup(new_conversation())
    if cont and cid is not None:
        raise UserError("-c continues the latest conversation and --cid a given one: use one of them")
    flag = "-c" if cont else "--cid"
    profile = ctx.profile
    if not profile.log_prompts:
        raise UserError(f"{flag}: profile '{profile.name}' has log_prompts: false, so routesh keeps neither prompts "
                        "nor answers there and has no conversation to continue; send the prompt without "
                        f"{flag}, or use a profile that keeps them")
    from ..core.answers import history
    from ..usage import conversations as conv

    ledger = _ledger()
    if ledger is None:
        raise UserError(f"{flag}: the usage ledger is empty, so there is no conversation to continue yet; "
                        f"send a prompt without {flag} first")
    with ledger:
        if cont:
            found = conv.latest(ledger, profile.name)
            if found is None:
                raise UserError(f"-c: profile '{profile.name}' has no kept answer yet, so there is no conversation "
                                "to continue; send a prompt without -c first")
        else:
            found = conv.resolve(ledger, cid or "", profile.name)
        sent = history(conv.turns(ledger, found))
    return Followup(found, sent, continued=True)


def _ledger():  # type: ignore[no-untyped-def]
    """The ledger if it exists (a continuation never creates one)."""
    from pathlib import Path

    from ..core.paths import ledger_target
    from ..usage.ledger import Ledger

    path = ledger_target()  # a file, or a team's postgresql:// database (always there)
    return Ledger(path) if not isinstance(path, Path) or path.exists() else None
