"""A ledger row's insert parameters, its free text scrubbed: the ledger keeps no credential, whatever the backend."""

from __future__ import annotations

import functools
import json
from operator import attrgetter
from typing import Any

from ..core.events import AttemptRecord
from .ledger_schema import COLUMNS

_values = attrgetter(*COLUMNS)


def scrub(text: str | None) -> str | None:
    """Redact what screening finds, mask key shapes, drop terminal escapes: the ledger keeps no credential."""
    from ..core.kept import shown

    return shown(text) if text else text


# text that came from users or upstreams
_FREE_TEXT = tuple(COLUMNS.index(c) for c in ("error", "prompt", "tag", "answer"))


def _params(rec: AttemptRecord) -> tuple[Any, ...]:
    """The insert parameters of one row, free text scrubbed."""
    return _scrubbed((*_values(rec), json.dumps(dict(rec.extra), separators=(",", ":")) if rec.extra else None))


@functools.lru_cache(maxsize=256)
def _scrub_cached(text: str) -> str | None:
    """scrub(), remembered: a session's rows repeat the same prompt (every tool follow-up of a turn carries it)."""
    return scrub(text)


def _scrubbed(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The insert parameters with every free-text column scrubbed of secrets."""
    out = list(params)
    for i in _FREE_TEXT:
        if isinstance(out[i], str):
            out[i] = _scrub_cached(out[i])
    return tuple(out)
