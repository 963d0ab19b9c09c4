"""Checks on the prompt itself, shared by every front door, so bad input is refused before routing or sending."""

from __future__ import annotations

import re
from typing import BinaryIO

from .catalog import Catalog
from .config import Config
from .errors import UserError
from .router import Decision, norm_prefix, split_prefix
from .yamlnodes import did_you_mean

COMMANDISH = re.compile(r"^/[A-Za-z][\w-]*$")


def read_stdin(stream: BinaryIO) -> str:
    """The whole of stdin as text; invalid UTF-8 is named with its byte offset, not silently mangled."""
    from .attach import decode

    return decode(stream.read(), "stdin")


def check_text(text: str, config: Config) -> str | None:
    """Refuse an empty prompt and a mistyped route prefix; the note to show when an unknown /word goes as text."""
    if not text.strip():
        raise UserError("the prompt is empty; give some text, e.g. routesh \"explain this stack trace\"")
    prefix, rest = split_prefix(text)
    if prefix is None:
        return None
    known = [norm_prefix(r.prefix) for r in config.rules if r.prefix]
    if prefix in known:
        if not rest:
            raise UserError(f"{prefix} needs a prompt after it, e.g. routesh \"{prefix} why does this test fail?\"")
        return None
    if not COMMANDISH.match(prefix):
        return None
    if refuse_unknown(prefix, rest, known):
        raise UserError(f"unknown route prefix {prefix}{did_you_mean(prefix, known)}; prefixes: {', '.join(known)}")
    return sent_as_text(prefix)


def refuse_unknown(word: str, rest: str, known: list[str]) -> bool:
    """An unknown /word is refused when it is alone or close to a known one (a typo); else it goes as text."""
    return not rest or bool(did_you_mean(word, known))


def sent_as_text(word: str) -> str:
    """The note shown, by the one-shot and the shell alike, when an unknown /word is sent as part of the prompt."""
    return f"{word} is not a route prefix or command, so it is sent as part of the prompt"


def check_size(decision: Decision, model: str, catalog: Catalog) -> None:
    """Refuse a prompt larger than the chosen model's context window before anything is sent."""
    info = catalog.get(model)
    window = info.context_window if info else None
    if window and decision.estimated_input_tokens > window:
        raise UserError(f"the prompt is ~{decision.estimated_input_tokens:,} tokens, more than {model}'s "
                        f"{window:,}-token context window; trim it, or send it with --route to a larger model")
