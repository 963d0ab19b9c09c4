"""The screen's passes: a dozen regexes, each led by one rare literal, find every candidate in a prompt.

Why this shape (measured on CPython 3.11, 1 MB of Python source, CPU time): ``re`` finds a pattern's *literal
prefix* with a tight loop (~0.6 ms per MB), and a match attempt at a prefix hit costs ~50-150 ns. A pattern
without a literal prefix (an alternation of words, a character class) is tried through a generic
character-set check at every byte (7+ ms per MB). So formats are grouped by a rare character they share
(``k`` of to\\ *k*\\ en / *k*\\ ey / s\\ *k*-, ``g`` of *g*\\ hp_ / *g*\\ lpat- / S\\ *G*., ``-`` of
xoxb- / -----BEGIN / curl -u ...), the rest of each prefix is checked by a fixed-width look-behind or the
literal after the lead, and an assignment's whole tail (key, type, operator, the value in a look-ahead) is
in the same regex, so only real candidates reach Python. Most passes run on the ASCII-lower-cased copy;
tokens are then checked against their exact, case-sensitive format (screen_rules.TOKENS).
The patterns compile on first use (~4 ms), so a prompt the prefilter in screen.scan clears never pays it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

from . import screen_rules as rules
from .screen_assign import assignment

Candidate = tuple[int, int, str]

# Every match of a pass needs one of these (lower-cased) literals: a short prompt with none of them is clean
# without compiling or running a pass (screen.scan's prefilter).
NEEDED: Final = (b"sk-", b"k_live_", b"hooks.", b"token", b"key", b"npm_", b"pypi-", b"pass", b"pwd", b"gh",
                 b"github_pat_", b"glpat-", b"sg.", b"secret", b"cred", b"xox", b"xapp-", b"-----begin",
                 b"private-lines", b"-u", b"--user", b"eyj", b"hf_", b"authorization", b"akia", b"asia", b"aiza",
                 b"://", b"=")

def _tail(g: str) -> bytes:
    """The assignment after a secret word (lower-cased text), its groups prefixed with g: the rest of the key,
    the key's closing quote, a type (``: str``, Go's ``string``), the operator and, looked at but not consumed
    (a token inside it is still found by its own pass), a literal value."""
    return rb"""(?P<g_suffix>[a-z0-9_.\-]{0,40}?)(?P<g_kq>\\?["'])?
 (?:[ \t]*(?P<g_ann>:[ \t]*[a-z_&*\[(][\w.\[\],|&*<>?()']{0,40}?[ \t]*)|[ \t]+(?P<g_gotype>[*\[\]]*[a-z_][\w.]{0,30})[ \t]*)?
 [ \t]*(?P<g_op>:=|=>|\?=|\|\|=|=(?!=)|:(?![:=])|[ \t](?=\\?["'])) [ \t]*
 (?=(?P<g_prefix>[rbuf@]{0,2})(?:\\?"(?P<g_dq>[^"\n]{1,512}?)\\?"|'(?P<g_sq>[^'\n]{1,512})'|`(?P<g_bq>[^`\n]{1,512})`)
   |(?P<g_bare>[^\s"'`,;&()\[\]{}<>\\]{1,512}))""".replace(b"g_", g.encode() + b"_")


# (pattern, runs on the lower-cased copy?, group -> what it found). A group is either a token name of
# screen_rules.TOKENS, a handler, or an assignment: (stem, bytes from the lead back to the secret word).
_Handler = Callable[[bytes, bytes, re.Match[bytes]], Iterator[Candidate]]
_PASSES: Final[tuple[tuple[bytes, bool, dict[str, str | _Handler | tuple[bytes, int]]], ...]] = (
    (rb"k(?:(?<=sk)-(?P<sk>)|(?<=[sr]k)_live_(?P<stripe>)|(?<=hook)(?P<hook>s\.slack\.com/(?:services|workflows"
     rb"|triggers)/[a-z0-9/_\-]{20,300})|(?<=tok)en" + _tail("t") + rb"|ey" + _tail("k") + rb")", True,
     {"sk": "sk", "stripe": "stripe", "hook": rules.slack_webhook, "t_op": (b"token", 2), "k_op": (b"key", 0)}),
    (rb"p(?:(?<=np)m_(?P<npm>)|ypi-ageichlwas5vcmc(?P<pypi>)|ass(?:w(?:or)?d|phrase)?" + _tail("p")
     + rb"|wd" + _tail("w") + rb")", True,
     {"npm": "npm", "pypi": "pypi", "p_op": (b"pass", 0), "w_op": (b"pwd", 0)}),
    (rb"g(?:h[pousr]_(?P<gh>)|ithub_pat_(?P<ghpat>)|lpat-(?P<glpat>)|(?<=sg)\.(?P<sendgrid>))", True,
     {"gh": "gh", "ghpat": "ghpat", "glpat": "glpat", "sendgrid": "sendgrid"}),
    (rb"cre(?:(?<=secre)t" + _tail("s") + rb"|d(?:ential)?s?" + _tail("c") + rb")", True,
     {"s_op": (b"secret", 2), "c_op": (b"cred", 0)}),
    (rb"-(?:(?<=xox[abposre]-)(?P<slack>)|(?<=xoxe\.xox[bp]-)(?P<slack2>)|(?<=xapp-)(?P<xapp>)"
     rb"|(?P<pem>----begin[ ](?:[a-z0-9]+[ ])*private[ ]key(?:[ ]block)?-----)"
     rb"|(?<=private-)(?P<putty>lines:[ ]*\d+\r?\n(?:[a-z0-9+/=]+\r?\n?)+)|(?P<curl>u[ \t]+|-user[ \t=]+))", True,
     {"slack": "slack", "slack2": "slack2", "xapp": "xapp", "pem": rules.pem, "putty": rules.putty,
      "curl": rules.curl}),
    (rb"j(?<=eyj)(?P<jwt>)", True, {"jwt": "jwt"}),
    (rb"hf_(?P<hf>)", True, {"hf": "hf"}),
    (rb"z(?<=authoriz)ation[\"']?[ \t]*[:=,][ \t]*[\"']?(?P<scheme>bearer|basic|token)[ \t]+"
     rb"(?P<auth>[a-z0-9._~+/\-]{4,4000}=*)", True, {"auth": rules.auth_header}),
    (rb"A(?:(?:KIA|SIA)(?P<aws>)|Iza(?P<google>))", False, {"aws": "aws", "google": "google"}),
    (rb"@(?P<at>)", False, {"at": rules.url_password}),
)
_ENV_HINT: Final = rb"=[\"']?[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16}"  # '=' then 16 value bytes: maybe a .env line


@cache
def _compiled() -> tuple[tuple[re.Pattern[bytes], bool, dict[str, str | _Handler | tuple[bytes, int]]], ...]:
    """Every pass, compiled once, on first use."""
    return tuple((re.compile(pattern, re.VERBOSE), lower, groups) for pattern, lower, groups in _PASSES)


@cache
def _env_hint() -> re.Pattern[bytes]:
    """The .env line pass, compiled once, on first use."""
    return re.compile(_ENV_HINT)


def scan_bytes(data: bytes, lowered: bytes) -> list[Candidate]:
    """Every candidate of every pass (byte offsets, not yet joined)."""
    out: list[Candidate] = []
    for pattern, lower, groups in _compiled():
        for m in pattern.finditer(lowered if lower else data):
            for group, what in groups.items():
                if m.start(group) < 0:
                    continue
                if isinstance(what, str):
                    out.extend(rules.token(data, m.start(), what))
                elif isinstance(what, tuple):
                    stem, back = what
                    out.extend(assignment(data, lowered, m, group[:2], stem, m.start() - back))
                else:
                    out.extend(what(data, lowered, m))
                break
    done = -1
    for m in _env_hint().finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        if line_start > done:  # one look per line
            done = line_start
            out.extend(rules.env_line(data, line_start))
    return out
