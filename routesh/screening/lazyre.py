"""LazyRe: a regex compiled on first use, so importing a module that holds many costs no start-up time."""

from __future__ import annotations

import re
from typing import Any


class LazyRe:
    """A regex compiled on first use: compiling them all at import would add milliseconds to every start-up."""

    __slots__ = ("_args", "_re")

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._re: re.Pattern[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        """match, fullmatch, search...: of the pattern, compiled now if need be."""
        if self._re is None:
            self._re = re.compile(*self._args)
        return getattr(self._re, name)
