"""Writing to the terminal from the shell: plain ANSI before rich is loaded, a rich console after.

The first prompt must not wait for rich (≈60 ms of imports), so the banner and early lines are
plain escape sequences; answers, tables and plans use a rich console created on first use.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

_STYLES = {"dim": "2", "bold": "1", "red": "31", "yellow": "33", "green": "32", "cyan": "36"}


class Out:
    """The shell's one writer, so every line goes to the same place in the same style."""

    def __init__(self) -> None:
        self._console: Console | None = None
        self.color = sys.stdout.isatty() and "NO_COLOR" not in os.environ

    @property
    def console(self) -> Console:
        """A rich console, created (and rich imported) on first use."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False, soft_wrap=False)
        return self._console

    def line(self, text: str, style: str | None = None) -> None:
        """One line of plain text, styled without markup parsing (text may hold brackets or outside escapes)."""
        from ..core.kept import shown

        text = shown(text)
        if self._console is not None:  # through rich, so a live answer region stays intact
            from rich.text import Text

            self._console.print(Text(text, style=style or ""))
            return
        if style and self.color:
            codes = ";".join(_STYLES[s] for s in style.split() if s in _STYLES)
            text = f"\x1b[{codes}m{text}\x1b[0m" if codes else text
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def note(self, text: str) -> None:
        """Something worth knowing: dim."""
        self.line(text, "dim")

    def warn(self, text: str) -> None:
        """Something that needs attention but did not fail."""
        self.line(text, "yellow")

    def error(self, text: str) -> None:
        """A failure the user can fix; every line prefixed so it reads like the one-shot CLI."""
        for i, part in enumerate(text.splitlines() or [""]):
            self.line(("routesh: " if i == 0 else "  ") + part, "red")
