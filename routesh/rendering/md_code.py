"""Fenced code streamed a few lines at a time, its highlighting carried from piece to piece.

The lexer's state is resumed where it stopped, so the colours match a one-shot render; pygments and
rich are imported on first use. Used by the stream renderer (rendering.stream).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.segment import Segment

from .md_lex import HEREDOC, Marks, Tok, by_line, expand, lex, merged, probe, split_tokens

Row = list["Segment"]


class CodeStream:
    """One open top-level fenced block, printed in pieces that together equal its one-shot render.

    Lines are lexed once, for good, as soon as `lookahead` more lines have arrived after them
    (resuming the lexer where it stopped); each line's rows are rendered once, as rich.syntax
    renders them, and reused by the live tail and by the committed piece.
    """

    HOLD_CAP = 60  # lines: past this a held construct is committed anyway, to bound the live part

    def __init__(self, lang: str, theme: Any, lookahead: int, batch: int) -> None:
        """The lexer rich would pick for lang (text when unknown), and whether its state can be resumed."""
        from pygments.lexer import RegexLexer
        from pygments.lexers import get_lexer_by_name
        from pygments.lexers.special import TextLexer
        from pygments.util import ClassNotFound

        try:
            self.lexer = get_lexer_by_name(lang, stripnl=False, ensurenl=True, tabsize=4)
        except ClassNotFound:
            self.lexer = get_lexer_by_name("text", stripnl=False, ensurenl=True, tabsize=4)
        self.resumable = (isinstance(self.lexer, RegexLexer)
                          and type(self.lexer).get_tokens_unprocessed is RegexLexer.get_tokens_unprocessed)
        self.stateless = type(self.lexer) is TextLexer
        self.holds = probe(self.lexer) if self.resumable else ((), False)
        self.theme = theme  # a rich SyntaxTheme, shared: it caches token styles
        self.base = theme.get_background_style()
        self.lookahead = max(0, lookahead)
        self.batch = max(1, batch)
        self.done = 0  # content lines committed
        self.done_chars = 0
        self.started = False  # the first piece (with the top padding) is printed
        self.final: list[list[Tok]] = []  # tokens of lines done.. lexed for good
        self.stack: tuple[str, ...] = ("root",)  # the lexer's state after them
        self.rows: dict[int, tuple[tuple[Tok, ...], int, list[Row]]] = {}  # line -> (tokens, width, rows)
        self.rendered = 0  # characters of code rendered so far (cache misses)
        self.spec_key: tuple[int, tuple[str, ...]] | None = None  # the state spec_lines were lexed from
        self.spec_lines: list[list[Tok]] = []  # tokens of complete lines not lexed for good yet
        self.spec_stack: tuple[str, ...] = ("root",)  # the lexer's state after them

    @property
    def lexed(self) -> int:
        """Index of the first line not yet lexed for good."""
        return self.done + len(self.final)

    def _lex_rest(self, text: str) -> list[Tok]:
        """Tokens of text following the lines lexed for good (speculative: more text may change them)."""
        if self.resumable:
            return lex(self.lexer, text, self.stack)[0]
        return [(t, v) for _, t, v in self.lexer.get_tokens_unprocessed(text)]

    def _held_from(self, lines: list[str]) -> int:
        """Index of the first line that starts a construct still open, or len(lines)."""
        pairs, heredocs = self.holds
        held = len(lines)
        if pairs:
            text = "".join(lines)
            for op, cl in pairs:
                at = text.rfind(op)
                if at < 0:
                    continue
                if op == cl and text.count(op) % 2 or op != cl and text.find(cl, at + len(op)) < 0:
                    held = min(held, text.count("\n", 0, at))
        if heredocs:
            for k, line in enumerate(lines[:held]):
                for m in HEREDOC.finditer(line):
                    if not any(rest.strip() == m[1] for rest in lines[k + 1:]):
                        return k
        return held

    def advance(self, lines: list[str]) -> None:
        """Lex for good the complete lines that have enough text after them."""
        todo = lines[self.lexed:]
        if len(todo) < self.lookahead + self.batch:  # lex in runs: fewer resume points to find
            return
        todo = expand(todo)
        limit = len(todo) - self.lookahead
        held = self._held_from(todo)
        if held < limit and len(todo) - held <= self.HOLD_CAP:
            limit = held
        if limit <= 0:
            return
        offsets = [0]
        for line in todo:
            offsets.append(offsets[-1] + len(line))
        text = "".join(todo)
        if self.stateless or not self.resumable:
            if not self.stateless:  # lexed from scratch run by run: cut after a blank line if there is one
                blank = max((k for k in range(1, limit + 1) if not todo[k - 1].strip()), default=0)
                if blank:
                    limit = blank
                elif len(todo) <= self.HOLD_CAP:
                    return
            self.final.extend(by_line(self._lex_rest(text[:offsets[limit]]))[:limit])
            return
        tokens, marks, soft = lex(self.lexer, text, self.stack)
        for end in range(limit, 0, -1):
            stack = self._resumes(text, tokens, offsets[end], marks, soft)
            if stack is not None:
                break
        else:  # no resume point yet: wait, unless the wait grew too long
            if len(todo) <= self.HOLD_CAP:
                return
            end = next(b for b in range(limit + 1, len(todo) + 1) if offsets[b] in marks)  # the end is one
            stack = marks[offsets[end]]
        head, _ = split_tokens(tokens, offsets[end])
        self.final.extend(by_line(head)[:end])
        self.stack = stack

    def _resumes(self, text: str, tokens: list[Tok], at: int, marks: Marks, soft: Marks) -> tuple[str, ...] | None:
        """The lexer state to resume from at offset `at`, if lexing can resume there exactly."""
        if at in marks:
            return marks[at]
        if at not in soft:
            return None
        again = lex(self.lexer, text[at:], soft[at])[0]
        return soft[at] if merged(again) == merged(split_tokens(tokens, at)[1]) else None

    def _line_rows(self, console: Console, width: int, index: int, tokens: list[Tok]) -> list[Row]:
        """One code line rendered as rich.syntax.Syntax(word_wrap=True, padding=1) renders it."""
        key = tuple(tokens)
        cached = self.rows.get(index)
        if cached is not None and cached[0] == key and cached[1] == width:
            return cached[2]
        from rich.segment import Segment
        from rich.style import Style
        from rich.text import Text

        base = self.base
        transparent = base.transparent_background
        style_for = self.theme.get_style_for_token
        inner = max(1, width - 2)
        pad = Segment(" ", base)
        self.rendered += sum(len(value) for _, value in tokens) + 1
        rows: list[Row] | None = None
        if not transparent:  # most lines fit: build the row directly, as rich would (same cells)
            from rich.cells import cell_len

            row: Row = [pad]
            used = 0
            for ttype, value in tokens:
                used += cell_len(value)
                if used > inner or "\t" in value or not value.isprintable():
                    break
                row.append(Segment(value, base + style_for(ttype)))
            else:
                if used < inner:
                    row.append(Segment(" " * (inner - used), base))
                row.append(pad)
                rows = [row]
        if rows is None:
            text = Text(style=base, justify="default" if transparent else "left", tab_size=4)
            text.append_tokens((value, style_for(ttype)) for ttype, value in tokens)
            options = console.options.update(width=inner, height=None, justify="left")
            rows = []
            for row in console.render_lines(text, options, style=Style.null() if transparent else base,
                                            pad=not transparent):
                if transparent:
                    row = Segment.adjust_line_length(row, inner, style=base)
                rows.append([pad, *row, pad])
        if index >= 0:
            self.rows[index] = (key, width, rows)
        return rows

    def _blank_row(self, width: int) -> Segment:
        """rich.syntax's top or bottom padding row, byte for byte."""
        from rich.segment import Segment

        return Segment(" " * width + "\n", self.base)

    def _flat(self, console: Console, top: bool, rows_of: Iterable[list[Row]], bottom: bool) -> list[Segment]:
        """Rows as printable segments, with rich.syntax's top/bottom padding rows."""
        from rich.segment import Segment

        width = console.width
        out: list[Segment] = [self._blank_row(width)] if top else []
        new_line = Segment.line()
        for rows in rows_of:
            for row in rows:
                out.extend(row)
                out.append(new_line)
        if bottom:
            out.append(self._blank_row(width))
        return out

    def piece(self, console: Console, lines: list[str]) -> tuple[list[Segment], int] | None:
        """The next run of lines to commit, as segments, or None while it should wait."""
        last = len(lines) - 1  # a piece ends on a non-blank line with another non-blank line after it
        while last >= self.done and not lines[last].strip():
            last -= 1
        j = min(self.lexed, last)
        while j > self.done and not lines[j - 1].strip():
            j -= 1
        if j - self.done < self.batch:
            return None
        width = console.width
        count = j - self.done
        segments = self._flat(console, not self.started,
                              (self._line_rows(console, width, self.done + k, self.final[k]) for k in range(count)),
                              bottom=False)
        size = sum(len(ln) for ln in lines[self.done:j])
        for k in range(self.done, j):
            self.rows.pop(k, None)
        del self.final[:count]
        self.done = j
        self.done_chars += size
        self.started = True
        return segments, size

    def last_piece(self, console: Console, lines: list[str]) -> tuple[list[Segment], int]:
        """The rest of the block once its fence closed (or the answer ended), with bottom padding."""
        rest = expand(lines[self.lexed:])
        known = [tok for line in self.final for tok in [*line, (None, "\n")]]
        tokens = known + self._lex_rest("".join(rest))
        code_len = len("".join(expand(lines[self.done:])).rstrip())
        head, _ = split_tokens(tokens, code_len)
        width = console.width
        per_line = by_line(head)
        segments = self._flat(console, not self.started,
                              (self._line_rows(console, width, self.done + k, toks) for k, toks in enumerate(per_line)),
                              bottom=True)
        return segments, sum(len(ln) for ln in lines[self.done:])

    def live(self, console: Console, lines: list[str], partial: str) -> list[Row]:
        """Rows of the uncommitted lines and the partial one (only new lines are rendered)."""
        width = console.width
        rows: list[Row] = []
        if not self.started:
            from rich.segment import Segment

            rows.append([Segment(" " * width, self.base)])
        for k, toks in enumerate(self.final):
            rows.extend(self._line_rows(console, width, self.done + k, toks))
        first = self.lexed
        for k, toks in enumerate(self._speculative(lines, partial)):
            index = first + k if first + k < len(lines) else -1  # the partial line is not cached
            rows.extend(self._line_rows(console, width, index, toks))
        return rows

    def _speculative(self, lines: list[str], partial: str) -> list[list[Tok]]:
        """Tokens of the lines not lexed for good and of the partial line (complete ones lexed once)."""
        if not self.resumable:
            rest = "".join(expand(lines[self.lexed:])) + partial
            spec = by_line(self._lex_rest(rest + "\n")) if rest else []
            return spec[:-1] if spec and not spec[-1] else spec
        key = (self.lexed, self.stack)
        if self.spec_key != key:
            self.spec_key, self.spec_lines, self.spec_stack = key, [], self.stack
        known = self.lexed + len(self.spec_lines)
        if known < len(lines):  # lex only the lines completed since the last redraw
            text = "".join(expand(lines[known:]))
            tokens, marks, _ = lex(self.lexer, text, self.spec_stack)
            self.spec_lines.extend(by_line(tokens)[:-1])
            self.spec_stack = marks[len(text)]
        spec = list(self.spec_lines)
        if partial:
            tail = partial.expandtabs(4) if "\t" in partial else partial
            spec.append(by_line(lex(self.lexer, tail + "\n", self.spec_stack)[0])[0])
        return spec

