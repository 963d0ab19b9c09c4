"""Fenced code streamed a few lines at a time, its highlighting carried from piece to piece.

The lexer's state is resumed where it stopped, so the colours match a one-shot render; pygments and
rich are imported on first use. Used by render_stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console
    from rich.segment import Segment

from .md_blocks import LazyRe

Tok = tuple[Any, str]  # (pygments token type, text)


Marks = dict[int, tuple[str, ...]]


def _lex(lexer: Any, text: str, stack: tuple[str, ...]) -> tuple[list[Tok], Marks, Marks]:
    """Run a RegexLexer over text from a saved state stack.

    Returns the tokens; the line starts the lexer reached between two matches, with its state
    stack there (lexing can resume from those exactly as if it had never stopped); and the line
    starts inside a whitespace token that changed no state ("\n    " is often one token), which
    are resume points only if lexing from them gives the same tokens (see CodeStream._resumes).
    (This is pygments' RegexLexer.get_tokens_unprocessed with the stack kept.)
    """
    from pygments.token import Error, Whitespace, _TokenType

    tokendefs = lexer._tokens
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    pos, n = 0, len(text)
    out: list[Tok] = []
    marks: Marks = {}
    soft: Marks = {}
    while True:
        if (pos == 0 or text[pos - 1] == "\n") and pos not in marks:
            marks[pos] = tuple(statestack)
        for rexmatch, action, new_state in statetokens:
            m = rexmatch(text, pos)
            if m:
                if action is not None:
                    if type(action) is _TokenType:
                        value = m.group()
                        out.append((action, value))
                        if new_state is None and "\n" in value[:-1] and value.isspace():
                            at = m.start()
                            for k, ch in enumerate(value[:-1]):
                                if ch == "\n":
                                    soft[at + k + 1] = tuple(statestack)
                    else:
                        out.extend((t, v) for _, t, v in action(lexer, m))
                pos = m.end()
                if new_state is not None:
                    if isinstance(new_state, tuple):
                        for state in new_state:
                            if state == "#pop":
                                if len(statestack) > 1:
                                    statestack.pop()
                            elif state == "#push":
                                statestack.append(statestack[-1])
                            else:
                                statestack.append(state)
                    elif isinstance(new_state, int):
                        if abs(new_state) >= len(statestack):
                            del statestack[1:]
                        else:
                            del statestack[new_state:]
                    elif new_state == "#push":
                        statestack.append(statestack[-1])
                    statetokens = tokendefs[statestack[-1]]
                break
        else:
            if pos >= n:
                break
            if text[pos] == "\n":
                statestack = ["root"]
                statetokens = tokendefs["root"]
                out.append((Whitespace, "\n"))
            else:
                out.append((Error, text[pos]))
            pos += 1
    return out, marks, soft


def _merged(tokens: list[Tok]) -> list[Tok]:
    """Tokens with neighbours of the same type joined (they render the same)."""
    out: list[Tok] = []
    for ttype, value in tokens:
        if out and out[-1][0] == ttype:
            out[-1] = (ttype, out[-1][1] + value)
        else:
            out.append((ttype, value))
    return out


def _split_tokens(tokens: list[Tok], n: int) -> tuple[list[Tok], list[Tok]]:
    """Split a token list after its first n characters (cutting one token if need be)."""
    head: list[Tok] = []
    for i, (ttype, value) in enumerate(tokens):
        if n <= 0:
            return head, tokens[i:]
        if len(value) <= n:
            head.append((ttype, value))
            n -= len(value)
        else:
            return head + [(ttype, value[:n])], [(ttype, value[n:])] + tokens[i + 1:]
    return head, []


_HEREDOC = LazyRe(r"<<-?[ \t]*['\"]?\\?(\w+)")
_PAIRS = (("/*", "*/"), ('"""', '"""'), ("'''", "'''"))  # delimiters some lexers match across lines at once
_PROBES: dict[type, tuple[tuple[tuple[str, str], ...], bool]] = {}


def _probe(lexer: Any) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The delimiter pairs (and whether heredocs) this lexer matches over several lines in one go.

    Such a construct is lexed wrongly while its end has not arrived (a Python docstring, a C
    comment), so its lines are held back, up to a cap, instead of lexed for good.
    """
    cls = type(lexer)
    if cls not in _PROBES:

        def multiline(sample: str) -> bool:
            """Whether some token of the sample spans a line break."""
            try:
                tokens = _lex(lexer, sample, ("root",))[0]
            except Exception:  # a lexer that cannot lex the probe: assume nothing
                return False
            return any("\n" in value[:-1] for _, value in tokens)

        pairs = tuple((op, cl) for op, cl in _PAIRS if multiline(f"{op} a\nb {cl}\n"))
        _PROBES[cls] = (pairs, multiline("cat <<EOF\nx\nEOF\n"))
    return _PROBES[cls]


def _expand(lines: list[str]) -> list[str]:
    """Lines with tabs expanded as rich's lexer (tabsize 4) would."""
    return [ln.expandtabs(4) if "\t" in ln else ln for ln in lines]


def _per_line(tokens: Iterable[Tok]) -> list[list[Tok]]:
    """Tokens regrouped line by line, newlines dropped (a token spanning lines is cut at each)."""
    lines: list[list[Tok]] = [[]]
    for ttype, value in tokens:
        if "\n" not in value:
            if value:
                lines[-1].append((ttype, value))
            continue
        parts = value.split("\n")
        for k, part in enumerate(parts):
            if k:
                lines.append([])
            if part:
                lines[-1].append((ttype, part))
    return lines


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
        self.holds = _probe(self.lexer) if self.resumable else ((), False)
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
            return _lex(self.lexer, text, self.stack)[0]
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
                for m in _HEREDOC.finditer(line):
                    if not any(rest.strip() == m[1] for rest in lines[k + 1:]):
                        return k
        return held

    def advance(self, lines: list[str]) -> None:
        """Lex for good the complete lines that have enough text after them."""
        todo = lines[self.lexed:]
        if len(todo) < self.lookahead + self.batch:  # lex in runs: fewer resume points to find
            return
        todo = _expand(todo)
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
            self.final.extend(_per_line(self._lex_rest(text[:offsets[limit]]))[:limit])
            return
        tokens, marks, soft = _lex(self.lexer, text, self.stack)
        for end in range(limit, 0, -1):
            stack = self._resumes(text, tokens, offsets[end], marks, soft)
            if stack is not None:
                break
        else:  # no resume point yet: wait, unless the wait grew too long
            if len(todo) <= self.HOLD_CAP:
                return
            end = next(b for b in range(limit + 1, len(todo) + 1) if offsets[b] in marks)  # the end is one
            stack = marks[offsets[end]]
        head, _ = _split_tokens(tokens, offsets[end])
        self.final.extend(_per_line(head)[:end])
        self.stack = stack

    def _resumes(self, text: str, tokens: list[Tok], at: int, marks: Marks, soft: Marks) -> tuple[str, ...] | None:
        """The lexer state to resume from at offset `at`, if lexing can resume there exactly."""
        if at in marks:
            return marks[at]
        if at not in soft:
            return None
        again = _lex(self.lexer, text[at:], soft[at])[0]
        return soft[at] if _merged(again) == _merged(_split_tokens(tokens, at)[1]) else None

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
        rest = _expand(lines[self.lexed:])
        known = [tok for line in self.final for tok in [*line, (None, "\n")]]
        tokens = known + self._lex_rest("".join(rest))
        code_len = len("".join(_expand(lines[self.done:])).rstrip())
        head, _ = _split_tokens(tokens, code_len)
        width = console.width
        per_line = _per_line(head)
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
            rest = "".join(_expand(lines[self.lexed:])) + partial
            spec = _per_line(self._lex_rest(rest + "\n")) if rest else []
            return spec[:-1] if spec and not spec[-1] else spec
        key = (self.lexed, self.stack)
        if self.spec_key != key:
            self.spec_key, self.spec_lines, self.spec_stack = key, [], self.stack
        known = self.lexed + len(self.spec_lines)
        if known < len(lines):  # lex only the lines completed since the last redraw
            text = "".join(_expand(lines[known:]))
            tokens, marks, _ = _lex(self.lexer, text, self.spec_stack)
            self.spec_lines.extend(_per_line(tokens)[:-1])
            self.spec_stack = marks[len(text)]
        spec = list(self.spec_lines)
        if partial:
            tail = partial.expandtabs(4) if "\t" in partial else partial
            spec.append(_per_line(_lex(self.lexer, tail + "\n", self.spec_stack)[0])[0])
        return spec

