"""Pygments lexing that can stop at a line and resume there later, as if it had never stopped: the lexer's state
stack kept at each line start, and the token helpers the code stream builds its pieces from."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .md_blocks import LazyRe

Tok = tuple[Any, str]  # (pygments token type, text)


Marks = dict[int, tuple[str, ...]]


def lex(lexer: Any, text: str, stack: tuple[str, ...]) -> tuple[list[Tok], Marks, Marks]:
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


def merged(tokens: list[Tok]) -> list[Tok]:
    """Tokens with neighbours of the same type joined (they render the same)."""
    out: list[Tok] = []
    for ttype, value in tokens:
        if out and out[-1][0] == ttype:
            out[-1] = (ttype, out[-1][1] + value)
        else:
            out.append((ttype, value))
    return out


def split_tokens(tokens: list[Tok], n: int) -> tuple[list[Tok], list[Tok]]:
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


HEREDOC = LazyRe(r"<<-?[ \t]*['\"]?\\?(\w+)")
PAIRS = (("/*", "*/"), ('"""', '"""'), ("'''", "'''"))  # delimiters some lexers match across lines at once
_PROBES: dict[type, tuple[tuple[tuple[str, str], ...], bool]] = {}


def probe(lexer: Any) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The delimiter pairs (and whether heredocs) this lexer matches over several lines in one go.

    Such a construct is lexed wrongly while its end has not arrived (a Python docstring, a C
    comment), so its lines are held back, up to a cap, instead of lexed for good.
    """
    cls = type(lexer)
    if cls not in _PROBES:

        def multiline(sample: str) -> bool:
            """Whether some token of the sample spans a line break."""
            try:
                tokens = lex(lexer, sample, ("root",))[0]
            except Exception:  # a lexer that cannot lex the probe: assume nothing
                return False
            return any("\n" in value[:-1] for _, value in tokens)

        pairs = tuple((op, cl) for op, cl in PAIRS if multiline(f"{op} a\nb {cl}\n"))
        _PROBES[cls] = (pairs, multiline("cat <<EOF\nx\nEOF\n"))
    return _PROBES[cls]


def expand(lines: list[str]) -> list[str]:
    """Lines with tabs expanded as rich's lexer (tabsize 4) would."""
    return [ln.expandtabs(4) if "\t" in ln else ln for ln in lines]


def by_line(tokens: Iterable[Tok]) -> list[list[Tok]]:
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
