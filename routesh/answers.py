"""Answers kept with their prompts: what a ledger row stores, and a stored conversation as turns to send again.

Pure: no ledger access here (conversations.py reads the rows). A profile with `log_prompts: false`
keeps neither prompt nor answer; everything kept goes through the ledger's scrub (kept.py), so a
continued conversation sends the redacted text, never a secret.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

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
        from .ledger import iso_utc

        return {"request_id": self.request_id, "ts": iso_utc(self.ts), "profile": self.profile,
                "route": self.route, "model": self.model, "via": self.via, "status": self.status,
                "cost_usd": self.cost_usd, "attempts": self.attempts, "conversation": self.conversation,
                "prompt": self.prompt, "answer": self.answer}


def history(turns: list[Exchange]) -> tuple[Message, ...]:
    """The messages a continued conversation sends before the new prompt: each answered turn, in order."""
    out: list[Message] = []
    for t in turns:
        if t.prompt is not None and t.answer:
            out += [Message("user", t.prompt), Message("assistant", t.answer)]
    return tuple(out)
