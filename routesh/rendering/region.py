"""The live region under a streamed answer: a few rows redrawn in place, erased before anything else prints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .md_code import Row

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.segment import Segment


class _Region:
    """A transient region under the output, redrawn in place: a lean rich.live.Live for ready rows.

    As a rich render hook it erases itself before anything else the console prints and draws
    itself again after, so committed blocks (and any other print) land above it. Rows are
    written as they are: no re-rendering or re-splitting on each redraw.
    """

    def __init__(self, console: Console) -> None:
        """Nothing is drawn until start() and set()."""
        self.console = console
        self.started = False
        self.height = 0  # rows on screen
        self.rows = 0  # rows in self.segments, on screen after the next print
        self.segments: list[Segment] = []

    def start(self) -> None:
        """Install as the console's render hook and hide the cursor while the region is drawn."""
        self.console.push_render_hook(self)  # type: ignore[arg-type]
        self.started = True
        self.console.show_cursor(False)

    def stop(self) -> None:
        """Erase the region and uninstall (only this region's own hook)."""
        if not self.started:
            return
        try:
            self.set([])
        finally:
            self.started = False
            self.console.pop_render_hook()
            self.console.show_cursor(True)

    def set(self, rows: list[Row]) -> None:
        """Replace the rows and redraw."""
        from rich.control import Control
        from rich.segment import Segment

        new_line = Segment.line()
        segments: list[Segment] = []
        for i, row in enumerate(rows):
            if i:
                segments.append(new_line)
            segments.extend(row)
        self.segments, self.rows = segments, len(rows)
        self.console.print(Control())

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        """Erase the region, let the console print, then draw the region below it."""
        from rich.control import Control
        from rich.segment import ControlType, Segments

        erase = Control()
        if self.height:
            erase = Control(ControlType.CARRIAGE_RETURN, (ControlType.ERASE_IN_LINE, 2),
                            *(((ControlType.CURSOR_UP, 1), (ControlType.ERASE_IN_LINE, 2)) * (self.height - 1)))
        self.height = self.rows
        return [erase, *renderables, Segments(self.segments)]


def _note(text: str) -> Row:
    """A dim one-line row for the live region."""
    from rich.segment import Segment
    from rich.style import Style

    return [Segment(text, Style(dim=True))]


def screen_end(lines: list[str], partial: str, window: int) -> str:
    """The end of a block too long for the screen: about `window` characters, from a line (or at least a word)
    boundary near that point, so the live region renders only what it can show."""
    pieces, size = [partial], len(partial)
    for line in reversed(lines):
        if size >= window:
            break
        pieces.append(line)
        size += len(line)
    text = "".join(reversed(pieces))
    start = len(text) - window
    at = text.find("\n", start)
    at = at if 0 <= at < start + 1000 else text.find(" ", start)
    return text[at + 1:] if at >= 0 else text[start:]
