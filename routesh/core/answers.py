"""Answers kept with their prompts: what a ledger row stores, and a stored conversation as turns to send again.

Pure: no ledger access here (conversations.py reads the rows). A profile with `log_prompts: false`
keeps neither prompt nor answer; everything kept goes through the ledger's scrub (kept.py), so a
continued conversation sends the redacted text, never a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: every one-shot asks this module for a conversation id
    from .events import Message

ANSWER_CAP = 65_536  # characters of an answer the ledger keeps; longer ones keep their start and a note


def capped(answer: str) -> str:
    """The answer as stored: whole when short, else its start and a note of what was left out."""
    if len(answer) <= ANSWER_CAP:
        return answer
    return answer[:ANSWER_CAP] + f"\n[… {len(answer) - ANSWER_CAP} more characters not stored]"


def new_conversation() -> str:
    """A fresh conversation id (the ledger's session_id), as short as a request id."""
    return os.urandom(8).hex()


def kept_answer(conversation: str | None, claude_session: str | None, answer: str | None,
                extra: dict[str, str]) -> dict[str, object]:
    """A row's session_id, answer and extra: the conversation when there is one (Claude Code's own session
    id then goes in extra as claude_session), the answer capped (None when there is none to keep)."""
    if conversation and claude_session and claude_session != conversation:
        extra = {**extra, "claude_session": claude_session}
    return {"session_id": conversation or claude_session, "answer": capped(answer) if answer else None,
            "extra": extra}


@dataclass(frozen=True)
class Exchange:
    """One request as the ledger keeps it: its last attempt's route and text, the cost of all its attempts."""

    request_id: str
    ts: float
    profile: str
    route: str
    model: str
    via: str
    status: str
    cost_usd: float | None
    attempts: int
    conversation: str | None
    prompt: str | None
    answer: str | None

    @property
    def first_line(self) -> str:
        """The prompt's first non-blank line, for one-line listings."""
        if self.prompt is None:
            return "(prompt not kept: log_prompts: false)"
        return next((ln.strip() for ln in self.prompt.splitlines() if ln.strip()), "")

    def to_json(self) -> dict[str, object]:
        """`log --show --json`: the request, its prompt and its answer."""
        ts = datetime.fromtimestamp(self.ts, UTC).isoformat(timespec="milliseconds")  # as `log --json` has it
        return {"request_id": self.request_id, "ts": ts, "profile": self.profile,
                "route": self.route, "model": self.model, "via": self.via, "status": self.status,
                "cost_usd": self.cost_usd, "attempts": self.attempts, "conversation": self.conversation,
                "prompt": self.prompt, "answer": self.answer}


def history(turns: list[Exchange]) -> tuple[Message, ...]:
    """The messages a continued conversation sends before the new prompt: each turn answered in full, in order
    (a cancelled or broken-off answer is left out, as the shell leaves it out of its history)."""
    from .events import Message

    out: list[Message] = []
    for t in turns:
        if t.status == "ok" and t.prompt is not None and t.answer:
            out += [Message("user", t.prompt), Message("assistant", t.answer)]
    return tuple(out)


def view(e: Exchange) -> str:
    """The plain-text view: a header line, then the prompt and the answer under their own headings."""
    from .estimate import usd
    from .termsafe import clean

    when = datetime.fromtimestamp(e.ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    cost = usd(e.cost_usd)
    tries = f" · {e.attempts} attempts" if e.attempts > 1 else ""
    head = (f"request {e.request_id} · {when} · {e.profile} · {e.route} · {e.model} · {e.status} · {cost}{tries}\n"
            f"conversation {e.conversation or '-'}")
    if e.prompt is None:
        why = ("refused before sending: a refusal keeps no text" if e.status == "refused"
               else f"profile '{e.profile}' has log_prompts: false")
        return f"{head}\n\nneither prompt nor answer kept: {why}\n"
    answer = e.answer or "(no answer kept: " + (
        "Claude Code's requests through the gateway keep their prompt only)" if e.via == "gateway"
        else "the request got no answer)" if e.status != "ok" else "it was recorded before routesh kept answers)")
    return f"{head}\n\n── prompt\n{clean(e.prompt).rstrip()}\n\n── answer\n{clean(answer).rstrip()}\n"
