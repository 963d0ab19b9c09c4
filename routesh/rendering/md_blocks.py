"""Where a streamed markdown answer can be cut into top-level blocks, decided line by line (pure: no rich).

Only cut where markdown-it itself starts a new top-level block; when unsure, keep lines together
(rendering a run of top-level blocks at once is always exact). Used by render_stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..screening.lazyre import LazyRe

_FENCE = LazyRe(r"(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_ANY_FENCE = LazyRe(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_ATX = LazyRe(r" {0,3}#{1,6}(?:[ \t]|$)")
_BREAK = LazyRe(r" {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})")
_ITEM = LazyRe(r"(?P<indent>[ \t]*)(?P<marker>[-*+]|\d{1,9}[.)])(?P<space>[ \t]+|$)")
_HTML_RAW = (
    (LazyRe(r" {0,3}<(?:script|pre|style|textarea)(?:[ \t>]|$)", re.I),
     LazyRe(r"</(?:script|pre|style|textarea)>", re.I)),
    (LazyRe(r" {0,3}<!--"), LazyRe(r"-->")),
    (LazyRe(r" {0,3}<\?"), LazyRe(r"\?>")),
    (LazyRe(r" {0,3}<!\[CDATA\["), LazyRe(r"\]\]>")),
    (LazyRe(r" {0,3}<![A-Za-z]"), LazyRe(r">")),
)
_SETEXT = LazyRe(r" {0,3}=+[ \t]*")
_TABLE_RULE = LazyRe(r" {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_HTML_TAGS = (  # CommonMark's HTML block type 6: these may interrupt a paragraph, and run to a blank line
    "address|article|aside|base|basefont|blockquote|body|caption|center|col|colgroup|dd|details|dialog|dir|div|dl|"
    "dt|fieldset|figcaption|figure|footer|form|frame|frameset|h[1-6]|head|header|hr|html|iframe|legend|li|link|main|"
    "menu|menuitem|nav|noframes|ol|optgroup|option|p|param|search|section|source|summary|table|tbody|td|tfoot|th|"
    "thead|title|tr|track|ul"
)
_HTML_INTERRUPT = LazyRe(rf" {{0,3}}</?(?:{_HTML_TAGS})(?:[ \t>]|/>|$)", re.I)
_HTML_BLOCK = LazyRe(r" {0,3}</?[A-Za-z][A-Za-z0-9-]*(?:[\s/>]|$)")

_NONE, _PARA, _LIST, FENCED, _ICODE, _HTML_RAW_MODE, _HTML_MODE = range(7)


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
class Block:
    """A finished top-level block: its source, and for a fenced block its fence and content lines."""

    text: str
    fence: _Fence | None = None
    code: tuple[str, ...] = ()


class Splitter:
    """Turns complete source lines into finished top-level blocks, tracking fences and lists."""

    def __init__(self) -> None:
        """Nothing open."""
        self.mode = _NONE
        self.lines: list[str] = []  # source lines of the open block
        self.chars = 0  # their total length
        self.fence: _Fence | None = None  # the open top-level fence (mode FENCED)
        self.code: list[str] = []  # its content lines, fence indentation removed
        self.list_indent = 0  # smallest content column of the list's items
        self.item_indent = 0  # content column of the latest item
        self.list_blank = False  # the list's last line was blank
        self.inner: tuple[str, int, int] | None = None  # fence open inside the list: char, len, owner
        self.html_end: LazyRe | None = None

    def push(self, line: str) -> list[Block]:
        """Take one complete line (with its newline); return the blocks it finished."""
        out: list[Block] = []
        self._push(line, out)
        return out

    def finish(self) -> list[Block]:
        """End of the answer: the open block, whatever it is, is finished."""
        return [self._take()] if self.lines else []

    def _add(self, line: str) -> None:
        """Keep a line in the open block (chars is the live tail's size)."""
        self.lines.append(line)
        self.chars += len(line)

    def _take(self) -> Block:
        """Close the open block and hand it over."""
        block = Block("".join(self.lines), self.fence, tuple(self.code))
        self.lines, self.chars, self.code, self.fence = [], 0, [], None
        self.mode, self.inner, self.list_blank, self.html_end = _NONE, None, False, None
        return block

    def _push(self, line: str, out: list[Block]) -> None:
        """One line through the state machine of the open block; finished blocks go to out, in order."""
        s = line.rstrip("\r\n")
        blank = not s.strip()
        mode = self.mode
        if mode == FENCED:
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
                out.append(Block(line))
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
            out.append(Block(line))
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

    def _html_interrupts(self, line: str, s: str, out: list[Block]) -> bool:
        """An HTML block that interrupts the open paragraph or list: keep them together until it ends."""
        if self._raw_html(line, s, out):
            return True
        if _HTML_INTERRUPT.match(s):
            self._add(line)
            self.mode = _HTML_MODE
            return True
        return False

    def _raw_html(self, line: str, s: str, out: list[Block]) -> bool:
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
        self.mode = FENCED
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

