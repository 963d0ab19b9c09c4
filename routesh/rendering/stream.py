"""Streamed markdown answers: each finished block is rendered once; only a small live tail is redrawn.

Re-rendering the whole answer on every chunk (aider's way) costs O(n^2) over a long answer. Here
the text is cut into top-level markdown blocks at boundaries that are certain (a blank line outside
code, a heading, a closing fence, a list followed by a non-list paragraph). Each finished block is
rendered once with rich and printed to the scrollback for good; only the unfinished block is
redrawn, in a transient live region, and those redraws are throttled so that their total cost stays
proportional to the answer's length. A long fenced code block is committed a few lines at a time,
its highlighting carried from piece to piece by resuming the lexer's state, so the live part stays
small and the colours match a one-shot render.

When the console is not a terminal the raw text is written as it arrives (no ANSI).

rich (markdown, syntax) and pygments are imported on first use: the shell imports this module at
start-up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

from ..core.termsafe import StreamCleaner, join_surrogates
from .md_blocks import FENCED, Block, LazyRe, Splitter
from .md_code import CodeStream, Row
from .region import _note, _Region, screen_end
from .rich_markdown import _ends_with_new_line, _MarkdownFactory, _starts_with_leaf

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, RenderableType
    from rich.markdown import Markdown

__all__ = ["RenderStats", "StreamRenderer"]

@dataclass(frozen=True)
class RenderStats:
    """What one renderer did, so tests and benchmarks can check the work stays linear."""

    fed_chars: int = 0
    committed_blocks: int = 0  # markdown blocks and code pieces printed to the scrollback
    committed_chars: int = 0  # characters handed to the renderer for committed output
    live_refreshes: int = 0
    live_chars: int = 0  # characters handed to the renderer for the live tail, summed over redraws
    max_live_chars: int = 0  # the largest live tail rendered
    plain: bool = False

    @property
    def rendered_chars(self) -> int:
        """Every character handed to the markdown or syntax renderer, committed and live."""
        return self.committed_chars + self.live_chars


class StreamRenderer:
    """Renders a streamed markdown answer as it arrives, with total work linear in its length.

    feed() each chunk, then finish() (or mark_partial() when the stream was cut short). As a
    context manager it calls finish() on a normal exit and mark_partial() on an exception (Ctrl-C).
    Redraws of the live tail are throttled by the amount of new text: call flush() when the stream
    pauses (or pass max_lag) so the tail shows the last characters. No rich.live.Live (status
    spinner, progress bar) may be active on the console while it renders.
    """

    def __init__(
        self,
        console: Console,
        *,
        code_theme: str = "monokai",
        hyperlinks: bool = True,
        refresh_ratio: float = 0.2,
        max_fps: float | None = None,
        max_lag: float | None = None,
        code_lookahead: int = 2,
        code_batch: int = 4,
        note_file: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Set up; nothing is imported or drawn until the first chunk.

        refresh_ratio: redraw the live tail once the text added since the last redraw is this
        fraction of the tail (so redraws cost at most about 1/refresh_ratio times the answer).
        max_fps: at most this many redraws a second (None: no cap). max_lag: also redraw when the
        last redraw is older than this many seconds (None: never; work then also depends on time).
        code_lookahead / code_batch: lines of an open code block lexed ahead / committed at once.
        note_file: where plain mode writes the partial-answer note (default: the console's file;
        the one-shot CLI may prefer sys.stderr).
        """
        self.console = console
        self.plain = not console.is_terminal or console.is_dumb_terminal
        self.code_theme = code_theme
        self.hyperlinks = hyperlinks
        self.refresh_ratio = refresh_ratio
        self.min_interval = 1.0 / max_fps if max_fps else 0.0
        self.max_lag = max_lag
        self.code_lookahead = code_lookahead
        self.code_batch = code_batch
        self.note_file = note_file
        self.clock = clock
        self._splitter = Splitter()
        self._partial: list[str] = []  # the incomplete last line, in pieces
        self._partial_len = 0
        self._carry = ""  # a high surrogate whose pair has not arrived yet
        self._clean = StreamCleaner()  # holds an escape sequence cut between chunks until it can be removed
        self._out: list[RenderableType] = []  # committed renderables not yet printed
        self._md: _MarkdownFactory | None = None
        self._code: CodeStream | None = None
        self._theme: Any = None  # the rich SyntaxTheme for code, made on first use
        self._need_sep = False  # a blank line goes before the next block
        self._live: _Region | None = None
        self._live_at = 0  # chars fed at the last redraw
        self._live_time = float("-inf")
        self._live_len = 0  # chars of the tail as last drawn
        self._closed = False
        self._ends_nl = True  # plain mode: nothing written yet, or the last char was a newline
        self._fed = self._blocks = self._committed = self._refreshes = self._live_chars = self._max_live = 0

    # -- public API ------------------------------------------------------------------------------

    @property
    def stats(self) -> RenderStats:
        """Counters of the work done so far."""
        return RenderStats(self._fed, self._blocks, self._committed, self._refreshes, self._live_chars,
                           self._max_live, self.plain)

    def feed(self, chunk: str) -> None:
        """Add the next piece of the answer: prints finished blocks, redraws the live tail when due."""
        if self._closed:
            raise RuntimeError("StreamRenderer.feed() after finish()")
        if self._carry:
            chunk, self._carry = self._carry + chunk, ""
        if chunk and "\ud800" <= chunk[-1] <= "\udbff":  # half a surrogate pair: wait for the other
            chunk, self._carry = chunk[:-1], chunk[-1]
        if _SURROGATE.search(chunk):
            chunk = join_surrogates(chunk)
        chunk = self._clean.feed(chunk)  # an answer's escape sequences must not reach the terminal
        if not chunk:
            return
        self._fed += len(chunk)
        if self.plain:
            self._write_plain(chunk)
            return
        if "\n" not in chunk:
            self._partial.append(chunk)
            self._partial_len += len(chunk)
        else:
            parts = chunk.split("\n")
            self._partial.append(parts[0])
            line, self._partial, self._partial_len = "".join(self._partial) + "\n", [], 0
            self._push(line)
            for part in parts[1:-1]:
                self._push(part + "\n")
            if parts[-1]:
                self._partial, self._partial_len = [parts[-1]], len(parts[-1])
        self._advance_code()
        self._show()

    def flush(self) -> None:
        """Redraw the live tail now if it is behind (call when the stream pauses)."""
        if not self._closed and not self.plain and self._fed > self._live_at:
            self._redraw()

    def finish(self, status: str = "ok") -> RenderStats:
        """End of the answer: print what is left; a status other than "ok" marks it partial."""
        if status != "ok":
            return self.mark_partial(status)
        if not self._closed:
            self._close()
        return self.stats

    def mark_partial(self, note: str = "interrupted") -> RenderStats:
        """The answer was cut short: keep what was shown and add a dim line saying it is partial."""
        if self._closed:
            return self.stats
        self._close()
        if not self._fed:  # nothing was shown: there is no partial answer to mark (the caller says why)
            return self.stats
        message = f"[partial answer: {note}]"
        if self.plain:
            target = self.note_file or self.console.file
            lead = "" if self._ends_nl or target is not self.console.file else "\n"
            target.write(f"{lead}{message}\n")
            target.flush()
        else:
            from rich.text import Text

            self.console.print(Text(message, style="dim"))
        return self.stats

    def __enter__(self) -> StreamRenderer:
        """Use as `with StreamRenderer(console) as r:` so an exception still closes the answer."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """finish() on success; mark_partial() when Ctrl-C or an error cut the answer short."""
        if exc_type is None:
            self.finish()
        else:
            self.mark_partial("interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error")

    # -- internals -------------------------------------------------------------------------------

    def _write_plain(self, text: str) -> None:
        """Plain mode: the text as it came, flushed at once (a pipe reader sees it as it streams)."""
        f = self.console.file
        f.write(text)
        f.flush()
        self._ends_nl = text.endswith("\n")

    def _close(self) -> None:
        """Commit everything still open and take the live region away (also after an interrupted feed)."""
        self._closed = True
        if self.plain:
            if self._carry:
                self._fed += 1
                self._write_plain(join_surrogates(self._carry))
            return
        try:
            if self._carry:
                self._fed += 1
                self._partial.append(join_surrogates(self._carry))
            if self._partial:
                line, self._partial, self._partial_len = "".join(self._partial), [], 0
                self._push(line)
            for block in self._splitter.finish():
                self._commit(block)
            if self._live is not None:
                self._live.set([])
            self._emit()
        finally:
            if self._live is not None:
                self._live.stop()
                self._live = None

    def _push(self, line: str) -> None:
        """One complete line: commit the blocks it finishes; a new top-level fence gets a code stream."""
        was_fenced = self._splitter.mode == FENCED
        for block in self._splitter.push(line):
            self._commit(block)
        if self._splitter.mode == FENCED and not was_fenced:
            fence = self._splitter.fence
            assert fence is not None
            if self._theme is None:
                from rich.syntax import Syntax

                self._theme = Syntax.get_theme(self.code_theme)
            self._code = CodeStream(fence.lang, self._theme, self.code_lookahead, self.code_batch)

    def _markdown(self, text: str, commit: bool = True) -> Markdown:
        """A rich Markdown for text (rich.markdown is imported on the first call)."""
        if self._md is None:
            self._md = _MarkdownFactory(self.code_theme, self.hyperlinks)
        return self._md(text, commit)

    def _add(self, renderable: RenderableType, leaf: bool, new_line: bool) -> None:
        """Queue a committed block, after the blank line rich.markdown would put before it."""
        if self._need_sep and leaf:
            from rich.segment import Segment, Segments

            self._out.append(Segments([Segment.line()]))
        self._out.append(renderable)
        self._need_sep = new_line
        self._blocks += 1

    def _commit(self, block: Block) -> None:
        """Render a finished block once, for the scrollback."""
        code = self._code
        if block.fence is not None and code is not None:
            self._code = None
            if code.started:  # the rest of a code block whose first lines are already printed
                from rich.segment import Segments

                segments, size = code.last_piece(self.console, list(block.code))
                self._committed += size
                self._out.append(Segments(segments))
                self._blocks += 1
                return
        md = self._markdown(block.text)
        self._committed += len(block.text)
        new_line = _ends_with_new_line(md)
        if new_line is not None:  # None: nothing visible (a link definition), spacing unchanged
            self._add(md, _starts_with_leaf(md), new_line)

    def _advance_code(self) -> None:
        """Commit finished lines of an open code block so the live part stays small."""
        code = self._code
        if code is None or self._splitter.mode != FENCED:
            return
        lines = self._splitter.code
        code.advance(lines)
        first = not code.started
        piece = code.piece(self.console, lines)
        if piece is None:
            return
        from rich.segment import Segments

        segments, size = piece
        self._committed += size
        if first:
            self._add(Segments(segments), True, True)
        else:
            self._out.append(Segments(segments))
            self._blocks += 1

    def _window(self) -> int:
        """Characters of an open block worth rendering live: more cannot fit on the screen."""
        size = self.console.size
        return max(4000, 2 * size.width * size.height)

    def _tail_len(self) -> int:
        """Characters the live tail would render now."""
        code = self._code
        if code is not None and self._splitter.mode == FENCED:
            return self._splitter.chars - code.done_chars + self._partial_len
        return min(self._splitter.chars + self._partial_len, self._window())

    def _show(self) -> None:
        """Print committed blocks above the live region; redraw the tail when due (always after a commit)."""
        pending = self._fed - self._live_at
        due = bool(self._out)
        if not due and pending > 0:
            due = pending >= self.refresh_ratio * self._tail_len()
            if self.min_interval or self.max_lag:
                elapsed = self.clock() - self._live_time
                if self.max_lag and elapsed >= self.max_lag:
                    due = True
                if self.min_interval and elapsed < self.min_interval:
                    due = False
        if due:
            self._redraw()
        self._emit()

    def _emit(self) -> None:
        """Print the queued committed blocks (dropped first, so an interrupt cannot print them twice)."""
        if self._out:
            from rich.console import Group

            out, self._out = self._out, []
            self.console.print(Group(*out))

    def _redraw(self) -> None:
        """Render the open block into the live region (cropped to the screen)."""
        self._live_at = self._fed
        if self.min_interval or self.max_lag:
            self._live_time = self.clock()
        tail_len = self._tail_len()
        if tail_len == 0:
            if self._live is not None and self._live_len:
                self._live.set([])
            self._live_len = 0
            return
        self._refreshes += 1
        self._max_live = max(self._max_live, tail_len)
        self._live_len = tail_len
        rows, work = self._tail_rows()
        self._live_chars += work
        room = max(3, self.console.size.height - 2)
        if len(rows) > room:
            rows = [_note("… the rest of this block is shown when it is complete")] + rows[len(rows) - room + 1:]
        if self._live is None:
            self._live = _Region(self.console)
            self._live.start()
        self._live.set(rows)

    def _tail_rows(self) -> tuple[list[Row], int]:
        """The open block rendered as rows, and the characters rendered to get them.

        Code rows come from the per-line cache (only new lines and the partial one are rendered);
        a markdown block is rendered whole, or only its end when it is longer than the screen.
        """
        partial = "".join(self._partial)
        if len(self._partial) > 1:
            self._partial = [partial]
        splitter, code, console = self._splitter, self._code, self.console
        if splitter.mode == FENCED and code is not None:
            first, before = not code.started, code.rendered
            rows = code.live(console, splitter.code, partial)
            return ([[], *rows] if first and self._need_sep else rows), code.rendered - before
        window = self._window()
        if splitter.chars + len(partial) <= window:
            text, cut = "".join(splitter.lines) + partial, False
        else:  # only the end fits on screen
            text, cut = screen_end(splitter.lines, partial, window), True
        md = self._markdown(text, commit=False)
        rows = console.render_lines(md, console.options, pad=False, new_lines=False)
        if cut:
            return [_note("… the start of this block is shown when it is complete"), *rows], len(text)
        return ([[], *rows] if self._need_sep and _starts_with_leaf(md) else rows), len(text)


_SURROGATE = LazyRe("[\ud800-\udfff]")
