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

import copy
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console, RenderableType
    from rich.markdown import Markdown
    from rich.segment import Segment

__all__ = ["RenderStats", "StreamRenderer", "render_markdown_once"]

Tok = tuple[Any, str]  # (pygments token type, text)


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


# ---------------------------------------------------------------------------------------------
# Block boundaries (pure: no rich). Rule: only cut where markdown-it starts a new top-level block;
# when unsure, keep lines together (rendering a run of top-level blocks at once is always exact).

class _LazyRe:
    """A regex compiled on first use: compiling them all at import would add ~5 ms to the shell's start-up."""

    __slots__ = ("_args", "_re")

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._re: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        """match, fullmatch, search...: of the pattern, compiled now if need be."""
        if self._re is None:
            self._re = re.compile(*self._args)
        return getattr(self._re, name)


_FENCE = _LazyRe(r"(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_ANY_FENCE = _LazyRe(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_ATX = _LazyRe(r" {0,3}#{1,6}(?:[ \t]|$)")
_BREAK = _LazyRe(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")
_ITEM = _LazyRe(r"(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])(?P<space>[ \t]+|$)")
_HTML_RAW = (
    (_LazyRe(r" {0,3}<(?:script|pre|style|textarea)(?:[ \t>]|$)", re.I),
     _LazyRe(r"</(?:script|pre|style|textarea)>", re.I)),
    (_LazyRe(r" {0,3}<!--"), _LazyRe(r"-->")),
    (_LazyRe(r" {0,3}<\?"), _LazyRe(r"\?>")),
    (_LazyRe(r" {0,3}<!\[CDATA\["), _LazyRe(r"\]\]>")),
    (_LazyRe(r" {0,3}<![A-Za-z]"), _LazyRe(r">")),
)
_SETEXT = _LazyRe(r" {0,3}=+[ \t]*")
_TABLE_RULE = _LazyRe(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_HTML_TAGS = (  # CommonMark's HTML block type 6: these may interrupt a paragraph, and run to a blank line
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|"
    "dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|"
    "menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|source|summary|table|tbody|td|tfoot|th|"
    "thead|title|tr|track|ul"
)
_HTML_INTERRUPT = _LazyRe(rf" {{0,3}}</?(?:{_HTML_TAGS})(?:[ \t>]|/>|$)", re.I)
_HTML_BLOCK = _LazyRe(r" {0,3}</?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)")

_NONE, _PARA, _LIST, _FENCED, _ICODE, _HTML_RAW_MODE, _HTML_MODE = range(7)


def _indent(s: str) -> int:
    """Columns of leading whitespace, tabs to 4 (markdown's column rule)."""
    n = len(s) - len(s.lstrip(" \t"))
    return len(s[:n].expandtabs(4)) if "\t" in s[:n] else n


def _fence_of(m: re.Match[str] | None) -> tuple[str, int, str] | None:
    """(char, length, info) of a fence opener match; a ``` info string may not hold a backtick."""
    if m is None:
        return None
    fence, info = m["fence"], m["info"]
    if fence[0] == "`" and "`" in info:
        return None
    return fence[0], len(fence), info.strip()


def _closes(s: str, char: str, length: int, min_indent: int, max_indent: int) -> bool:
    """Whether s closes a fence of char*length whose container sits at the given indents."""
    t = s.strip(" \t")
    return len(t) >= length and not t.strip(char) and min_indent <= _indent(s) <= max_indent


def _content_indent(m: re.Match[str]) -> int:
    """Column where a list item's content starts (1 past the marker when the gap is 0 or > 4)."""
    start = len(m["indent"].expandtabs(4)) + len(m["marker"])
    gap = len(m["space"].expandtabs(4))
    return start + (gap if 0 < gap <= 4 else 1)


def _dedent(line: str, n: int) -> str:
    """A fenced code line with up to n spaces of the fence's indentation removed, LF-terminated."""
    if line.endswith("\r\n"):
        line = line[:-2] + "\n"
    if n:
        k = len(line) - len(line.lstrip(" "))
        line = line[min(k, n):]
    return line


@dataclass(frozen=True)
class _Fence:
    """An open top-level fenced code block."""

    char: str
    length: int
    indent: int
    lang: str


@dataclass(frozen=True)
class _Block:
    """A finished top-level block: its source, and for a fenced block its fence and content lines."""

    text: str
    fence: _Fence | None = None
    code: tuple[str, ...] = ()


class _Splitter:
    """Turns complete source lines into finished top-level blocks, tracking fences and lists."""

    def __init__(self) -> None:
        """Nothing open."""
        self.mode = _NONE
        self.lines: list[str] = []  # source lines of the open block
        self.chars = 0  # their total length
        self.fence: _Fence | None = None  # the open top-level fence (mode _FENCED)
        self.code: list[str] = []  # its content lines, fence indentation removed
        self.list_indent = 0  # smallest content column of the list's items
        self.item_indent = 0  # content column of the latest item
        self.list_blank = False  # the list's last line was blank
        self.inner: tuple[str, int, int] | None = None  # fence open inside the list: char, len, owner
        self.html_end: _LazyRe | None = None

    def push(self, line: str) -> list[_Block]:
        """Take one complete line (with its newline); return the blocks it finished."""
        out: list[_Block] = []
        self._push(line, out)
        return out

    def finish(self) -> list[_Block]:
        """End of the answer: the open block, whatever it is, is finished."""
        return [self._take()] if self.lines else []

    def _add(self, line: str) -> None:
        """Keep a line in the open block (chars is the live tail's size)."""
        self.lines.append(line)
        self.chars += len(line)

    def _take(self) -> _Block:
        """Close the open block and hand it over."""
        block = _Block("".join(self.lines), self.fence, tuple(self.code))
        self.lines, self.chars, self.code, self.fence = [], 0, [], None
        self.mode, self.inner, self.list_blank, self.html_end = _NONE, None, False, None
        return block

    def _push(self, line: str, out: list[_Block]) -> None:
        """One line through the state machine of the open block; finished blocks go to out, in order."""
        s = line.rstrip("\r\n")
        blank = not s.strip()
        mode = self.mode
        if mode == _FENCED:
            fence = self.fence
            assert fence is not None
            self._add(line)
            if _closes(s, fence.char, fence.length, 0, 3):
                out.append(self._take())
            else:
                self.code.append(_dedent(line, fence.indent))
            return
        if mode == _LIST:
            if self._in_list(s, blank):
                if self.inner is None and _indent(s) < self.list_indent and self._html_interrupts(line, s, out):
                    return
                self._add(line)
                return
            out.append(self._take())
        elif mode == _ICODE:
            if blank or _indent(s) >= 4:
                self._add(line)
                return
            out.append(self._take())
        elif mode == _HTML_RAW_MODE:
            self._add(line)
            if self.html_end is not None and self.html_end.search(s):
                out.append(self._take())
            return
        elif mode == _HTML_MODE:
            if blank:
                out.append(self._take())
            else:
                self._add(line)
            return
        elif mode == _PARA:
            if blank:
                if _indent(self.lines[-1]) >= 4 and not self._plain_paragraph():
                    self._add(line)  # after a quote or a table that may be indented code: it runs on
                    self.mode = _ICODE
                else:
                    out.append(self._take())
                return
            if _ATX.match(s):
                out.append(self._take())
                out.append(_Block(line))
                return
            opener = _fence_of(_FENCE.fullmatch(s))
            if opener:
                out.append(self._take())
                self._open_fence(line, s, opener)
                return
            if self._html_interrupts(line, s, out):
                return
            self._add(line)
            if _BREAK.fullmatch(s) or _SETEXT.fullmatch(s) and self._plain_paragraph():
                out.append(self._take())  # a setext underline or a rule: either way the block ends here
            else:
                item = _ITEM.match(s)
                if item:
                    self._start_list(s, item)
            return
        # no open block
        if blank:
            return
        if _ATX.match(s) or _BREAK.fullmatch(s):
            out.append(_Block(line))
            return
        opener = _fence_of(_FENCE.fullmatch(s))
        if opener:
            self._open_fence(line, s, opener)
            return
        item = _ITEM.match(s)
        self._add(line)
        if item and _indent(s) <= 3:
            self._start_list(s, item)
            return
        if _indent(s) >= 4:
            self.mode = _ICODE
            return
        self.lines.pop()
        self.chars -= len(line)
        if self._raw_html(line, s, out):
            return
        self._add(line)
        self.mode = _HTML_MODE if _HTML_BLOCK.match(s) else _PARA

    def _html_interrupts(self, line: str, s: str, out: list[_Block]) -> bool:
        """An HTML block that interrupts the open paragraph or list: keep them together until it ends."""
        if self._raw_html(line, s, out):
            return True
        if _HTML_INTERRUPT.match(s):
            self._add(line)
            self.mode = _HTML_MODE
            return True
        return False

    def _raw_html(self, line: str, s: str, out: list[_Block]) -> bool:
        """A <pre>, <script>, <!-- ... line: an HTML block that runs, blank lines and all, to its end marker.

        It may interrupt a paragraph or end a list; the lines before it stay in the same block
        (rendered together, which is exact) and the block is finished at the end marker.
        """
        for start, end in _HTML_RAW:
            m = start.match(s)
            if m:
                self._add(line)
                if end.search(s, m.end()):
                    out.append(self._take())
                else:
                    self.mode, self.html_end = _HTML_RAW_MODE, end
                return True
        return False

    def _plain_paragraph(self) -> bool:
        """Whether the open block is a paragraph (not a quote or a table, where "===" is just text)."""
        first = self.lines[0].lstrip(" ")
        second = self.lines[1].rstrip("\r\n") if len(self.lines) > 2 else ""
        return not first.startswith(">") and not ("|" in first and _TABLE_RULE.fullmatch(second))

    def _open_fence(self, line: str, s: str, opener: tuple[str, int, str]) -> None:
        """Start a top-level fenced block; its language is the info string's first word, as rich takes it."""
        char, length, info = opener
        self._add(line)
        self.mode = _FENCED
        self.fence = _Fence(char, length, _indent(s), info.partition(" ")[0] or "text")

    def _start_list(self, s: str, item: re.Match[str]) -> None:
        """The open block becomes a list: from now on only a blank line then a non-list line ends it."""
        self.mode = _LIST
        self.list_indent = self.item_indent = _content_indent(item)
        self.list_blank = False
        self._item_fence(s, item)

    def _item_fence(self, s: str, item: re.Match[str]) -> None:
        """An item whose content opens with a fence ("- ```bash") opens a fence inside the list."""
        opener = _fence_of(_ANY_FENCE.fullmatch(s[item.end():]))
        if opener:
            self.inner = (opener[0], opener[1], self.item_indent)

    def _in_list(self, s: str, blank: bool) -> bool:
        """Whether line s still belongs to the open list block (or, when unsure, may)."""
        if self.inner is not None:
            char, length, owner = self.inner
            if blank:
                return True
            ind = _indent(s)
            if ind >= owner:
                if _closes(s, char, length, owner, owner + 3):
                    self.inner = None
                return True
            self.inner = None  # a less indented line ends the item, and the fence with it
            if not _ITEM.match(s) and ind < self.list_indent:
                return False
        if blank:
            self.list_blank = True
            return True
        ind = _indent(s)
        item = _ITEM.match(s)
        if item:
            self.list_blank = False
            self.item_indent = _content_indent(item)
            self.list_indent = min(self.list_indent, self.item_indent)
            self._item_fence(s, item)
            return True
        if ind >= self.list_indent:
            self.list_blank = False
            opener = _fence_of(_ANY_FENCE.fullmatch(s))
            if opener:
                owner = self.item_indent if self.item_indent <= ind else self.list_indent
                self.inner = (opener[0], opener[1], owner)
            return True
        if self.list_blank or _ATX.match(s) or _fence_of(_FENCE.fullmatch(s)):
            return False
        return True  # lazy continuation (or a block rendered together with the list: still exact)


# ---------------------------------------------------------------------------------------------
# Code: highlighting carried across pieces.


Marks = dict[int, tuple[str, ...]]


def _lex(lexer: Any, text: str, stack: tuple[str, ...]) -> tuple[list[Tok], Marks, Marks]:
    """Run a RegexLexer over text from a saved state stack.

    Returns the tokens; the line starts the lexer reached between two matches, with its state
    stack there (lexing can resume from those exactly as if it had never stopped); and the line
    starts inside a whitespace token that changed no state ("\n    " is often one token), which
    are resume points only if lexing from them gives the same tokens (see _CodeStream._resumes).
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


_HEREDOC = _LazyRe(r"<<-?[ \t]*['\"]?\\?(\w+)")
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


class _CodeStream:
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


# ---------------------------------------------------------------------------------------------
# Markdown and the live region.


class _MarkdownFactory:
    """rich Markdown objects sharing one markdown-it parser (rich builds a new one per object)."""

    def __init__(self, code_theme: str, hyperlinks: bool) -> None:
        """One template and one parser per renderer."""
        from markdown_it import MarkdownIt
        from rich.markdown import Markdown

        self.template = Markdown("", code_theme=code_theme, hyperlinks=hyperlinks)
        self.parser = MarkdownIt().enable("strikethrough").enable("table")  # as rich.markdown does
        self.env: dict[str, Any] = {}  # link reference definitions of committed blocks, for later ones

    def __call__(self, text: str, commit: bool = True) -> Markdown:
        """A Markdown for text, as rich.markdown.Markdown(text, ...) would be, knowing earlier [refs]: urls.

        Only committed text may add definitions (a live tail may hold half of one).
        """
        md = copy.copy(self.template)
        md.markup = text
        env = self.env
        if not commit:
            env = {"references": dict(env["references"])} if env.get("references") else {}
        md.parsed = self.parser.parse(text, env)
        return md


def _ends_with_new_line(md: Markdown) -> bool | None:
    """Whether rich puts a blank line after this markdown's last top-level element (None: none)."""
    from rich.markdown import Markdown as RichMarkdown
    from rich.markdown import UnknownElement

    for token in reversed(md.parsed):
        if token.level != 0:
            continue
        ttype = token.type
        if token.nesting == -1:
            ttype = ttype[: -len("_close")] + "_open"
        return bool((RichMarkdown.elements.get(ttype) or UnknownElement).new_line)
    return None


def _starts_with_leaf(md: Markdown) -> bool:
    """Whether the first top-level element holds no elements of its own (a paragraph, heading, fence).

    rich.markdown puts a blank line before an element when the last element closed before it
    asked for one. Before a leaf that is the previous top-level block, so a separately rendered
    leaf block needs the separator added; a list or quote closes its own items first, so its
    separate render already starts with the blank line the whole render would have.
    """
    tokens = md.parsed
    for i, token in enumerate(tokens):
        if token.level != 0:
            continue
        if token.nesting != 1:
            return True
        for inner in tokens[i + 1:]:
            if inner.level == 0:
                return True
            if inner.type != "inline":
                return False
        return True
    return True


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
        self._splitter = _Splitter()
        self._partial: list[str] = []  # the incomplete last line, in pieces
        self._partial_len = 0
        self._carry = ""  # a high surrogate whose pair has not arrived yet
        self._out: list[RenderableType] = []  # committed renderables not yet printed
        self._md: _MarkdownFactory | None = None
        self._code: _CodeStream | None = None
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
            chunk = _join_surrogates(chunk)
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
                self._write_plain(_join_surrogates(self._carry))
            return
        try:
            if self._carry:
                self._fed += 1
                self._partial.append(_join_surrogates(self._carry))
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
        was_fenced = self._splitter.mode == _FENCED
        for block in self._splitter.push(line):
            self._commit(block)
        if self._splitter.mode == _FENCED and not was_fenced:
            fence = self._splitter.fence
            assert fence is not None
            if self._theme is None:
                from rich.syntax import Syntax

                self._theme = Syntax.get_theme(self.code_theme)
            self._code = _CodeStream(fence.lang, self._theme, self.code_lookahead, self.code_batch)

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

    def _commit(self, block: _Block) -> None:
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
        if code is None or self._splitter.mode != _FENCED:
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
        if code is not None and self._splitter.mode == _FENCED:
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
        if splitter.mode == _FENCED and code is not None:
            first, before = not code.started, code.rendered
            rows = code.live(console, splitter.code, partial)
            return ([[], *rows] if first and self._need_sep else rows), code.rendered - before
        window = self._window()
        if splitter.chars + len(partial) <= window:
            text, cut = "".join(splitter.lines) + partial, False
        else:  # only the end fits on screen: render from a line (or at least a word) boundary near it
            pieces, size = [partial], len(partial)
            for line in reversed(splitter.lines):
                if size >= window:
                    break
                pieces.append(line)
                size += len(line)
            text = "".join(reversed(pieces))
            start = len(text) - window
            at = text.find("\n", start)
            at = at if 0 <= at < start + 1000 else text.find(" ", start)
            text, cut = (text[at + 1:] if at >= 0 else text[start:]), True
        md = self._markdown(text, commit=False)
        rows = console.render_lines(md, console.options, pad=False, new_lines=False)
        if cut:
            return [_note("… the start of this block is shown when it is complete"), *rows], len(text)
        return ([[], *rows] if self._need_sep and _starts_with_leaf(md) else rows), len(text)


_SURROGATE = _LazyRe("[\ud800-\udfff]")


def _join_surrogates(text: str) -> str:
    """Surrogate pairs (a JSON escape split across two deltas) made one character; a lone half becomes U+FFFD.

    A terminal's UTF-8 stream cannot take surrogates at all.
    """
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _note(text: str) -> Row:
    """A dim one-line row for the live region."""
    from rich.segment import Segment
    from rich.style import Style

    return [Segment(text, Style(dim=True))]


def render_markdown_once(console: Console, text: str, *, code_theme: str = "monokai",
                         hyperlinks: bool = True) -> None:
    """Render a whole answer in one go with rich: the reference the stream is measured against."""
    from rich.markdown import Markdown

    console.print(Markdown(text, code_theme=code_theme, hyperlinks=hyperlinks))
