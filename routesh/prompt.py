"""Checks on the prompt itself, shared by every front door, so bad input is refused before routing or sending."""

from __future__ import annotations

import re
from typing import BinaryIO

from .catalog import Catalog
from .config import Config
from .errors import UserError
from .router import Decision, split_prefix
from .yamlnodes import did_you_mean

_COMMANDISH = re.compile(r"^/[A-Za-z][\w-]*$")


def read_stdin(stream: BinaryIO) -> str:
    """The whole of stdin as text; invalid UTF-8 is named with its byte offset, not silently mangled."""
    data = stream.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"stdin is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                        "convert it first, e.g. `iconv -f latin1 -t utf-8`") from None


def check_text(text: str, config: Config) -> None:
    """Refuse an empty prompt and a mistyped route prefix (a did-you-mean, not a request to a model)."""
    if not text.strip():
        raise UserError("the prompt is empty; give some text, e.g. routesh \"explain this stack trace\"")
    prefix, rest = split_prefix(text)
    if prefix is None:
        return
    known = [r.prefix for r in config.rules if r.prefix]
    if prefix in known:
        if not rest:
            raise UserError(f"{prefix} needs a prompt after it, e.g. routesh \"{prefix} why does this test fail?\"")
        return
    hint = did_you_mean(prefix, known)
    if _COMMANDISH.match(prefix) and hint:
        raise UserError(f"unknown route prefix {prefix}{hint}; prefixes: {', '.join(known)}")


def check_size(decision: Decision, model: str, catalog: Catalog) -> None:
    """Refuse a prompt larger than the chosen model's context window before anything is sent."""
    info = catalog.get(model)
    window = info.context_window if info else None
    if window and decision.estimated_input_tokens > window:
        raise UserError(f"the prompt is ~{decision.estimated_input_tokens:,} tokens, more than {model}'s "
                        f"{window:,}-token context window; trim it, or send it with --route to a larger model")
