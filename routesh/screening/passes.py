"""The screen's passes: nine regexes, each led by one literal, find every candidate in a prompt.

Why this shape (measured on CPython 3.11, 1 MB of text, CPU time): ``re`` finds a pattern's *literal prefix*
with a tight loop (~0.5 ms per MB), and a match attempt at a prefix hit costs ~20-150 ns. A pattern without
one (an alternation of words, a character class) is tried through a generic character-set check at every
byte (7+ ms per MB). So:

- The passes run on a *shaped* copy of the prompt: ASCII lower-cased, with the four rare letters k, x, j, z
  all turned into one byte (``X`` below, byte 1). One pass led by that byte then finds what eleven literal
  passes would: toXen, toX, Xey, sX-, sX_live_, hooXs.slacX, XoXb-, Xapp-, authoriXation, eyX (JWT) and PEM
  headers (from their ``Xey-----``). After the lead, each alternative starts with a literal (rejected in a
  few ns) and checks the rest of its prefix with a fixed-width look-behind.
- The other passes are led by a rare multi-byte literal (``pass``, ``gh``, ``cre``, ``hf_``, ``curl``) or, on
  the original bytes, ``A`` (AKIA/ASIA/AIza), ``@`` (URL credentials), ``=`` (.env lines).
- An assignment's whole tail (rest of the key, type, operator, the value in a look-ahead, so a token in the
  value is still found by its own pass) is in the same regex, so only real candidates reach Python; tokens
  are then checked against their exact, case-sensitive format (screen_rules.TOKENS).

The patterns compile on first use (~4 ms), so a prompt the prefilter in screen.scan clears never pays it.
Handlers get (data, shaped, match): offsets are the same in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

from . import rules
from .assign import assignment

Candidate = tuple[int, int, str]

# Every match of a pass needs one of these (lower-cased) literals: a short prompt with none of them is clean
# without compiling or running a pass (screen.scan's prefilter).
NEEDED: Final = (b"sk-", b"k_live_", b"hooks.", b"tok", b"key", b"npm_", b"pypi-", b"pass", b"pwd", b"gh",
                 b"github_pat_", b"glpat-", b"sg.", b"secret", b"cred", b"xox", b"xapp-", b"-----begin",
                 b"private-lines", b"curl", b"eyj", b"hf_", b"authorization", b"akia", b"asia", b"aiza",
                 b"://", b"=")

_SHAPE_TABLE = bytearray(range(256))
for _c in range(0x41, 0x5B):
    _SHAPE_TABLE[_c] = _c + 0x20
for _c in b"kxjzKXJZ":
    _SHAPE_TABLE[_c] = 1
SHAPE: Final = bytes(_SHAPE_TABLE)


def _tail(g: str) -> bytes:
    """The assignment after a secret word (shaped text), its groups prefixed with g: the rest of the key,
    the key's closing quote, a type (``: str``, Go's ``string``), the operator and, looked at but not consumed
    (a token inside it is still found by its own pass), a literal value."""
    return rb"""(?P<g_suffix>[a-z0-9_.\-\x01]{0,40}+)(?P<g_kq>\\?["'])?
 (?:[ \t]*(?P<g_ann>:[ \t]*[a-z_&*\[(\x01][\w.\[\],|&*<>?()'\x01]{0,40}?[ \t]*)
   |[ \t]+(?P<g_gotype>[*\[\]]*[a-z_\x01][\w.\x01]{0,30}+)[ \t]*)?
 [ \t]*(?P<g_op>:=|=>|\?=|\|\|=|=(?!=)|:(?![:=])|[ \t](?=\\?["'])) [ \t]*
 (?=(?P<g_prefix>[rbuf@]{0,2})(?:\\?"(?P<g_dq>[^"\n]{1,512}?)\\?"|'(?P<g_sq>[^'\n]{1,512})'|`(?P<g_bq>[^`\n]{1,512})`)
   |(?P<g_bare>[^\s"'`,;&()\[\]{}<>\\]{1,512}))""".replace(b"g_", g.encode() + b"_")


# (pattern, runs on the shaped copy?, group -> what it found). A group is either a token name of
# screen_rules.TOKENS, a handler, or an assignment: (stem, bytes from the lead back to the secret word).
_Handler = Callable[[bytes, bytes, re.Match[bytes]], Iterator[Candidate]]
_PASSES: Final[tuple[tuple[bytes, bool, dict[str, str | _Handler | tuple[bytes, int]]], ...]] = (
    (rb"\x01(?:en(?<=to\x01en)" + _tail("t") + rb"|ey(?<=private[ ]\x01ey)(?:[ ]bloc\x01)?-----(?P<pem>)"
     + rb"|(?<=to\x01)" + _tail("o")
     + rb"|ey" + _tail("k")
     + rb"|-(?<=s\x01-)(?P<sk>)|_live_(?<=[sr]\x01_live_)(?P<stripe>)"
     + rb"|s\.slac\x01\.com/(?<=hoo\x01s\.slac\x01\.com/)"
     + rb"(?P<hook>(?:services|wor\x01flows|triggers)/[a-z0-9/_\-\x01]{20,300})"
     + rb"|o\x01(?:[abposr]|e(?:\.\x01o\x01[bp])?)-(?P<slack>)|app-(?P<xapp>)"
     + rb"|ation(?<=authori\x01ation)[\"']?[ \t]*[:=,][ \t]*[\"']?(?P<scheme>bearer|basic|to\x01en)[ \t]+"
     + rb"(?P<auth>[a-z0-9._~+/\-\x01]{4,4000}=*)"
     + rb"|(?<=ey\x01)(?P<jwt>))", True,
     {"t_op": (b"token", 2), "pem": rules.pem, "o_op": (b"tok", 2), "k_op": (b"key", 0), "sk": "sk",
      "stripe": "stripe", "hook": rules.slack_webhook, "slack": "slack", "xapp": "xapp", "auth": rules.auth_header,
      "jwt": "jwt"}),
    (rb"p(?:m_(?<=npm_)(?P<npm>)|ypi-ageichlwas5vcmc(?P<pypi>)"
     rb"|rivate-lines:(?P<putty>[ ]*\d+\r?\n(?:[a-z0-9+/=\x01]+\r?\n?)+)"
     rb"|ass(?:w(?:or)?d|phrase)?" + _tail("p") + rb"|wd" + _tail("w") + rb")", True,
     {"npm": "npm", "pypi": "pypi", "putty": rules.putty, "p_op": (b"pass", 0), "w_op": (b"pwd", 0)}),
    (rb"g(?:h[pousr]_(?P<gh>)|ithub_pat_(?P<ghpat>)|lpat-(?P<glpat>)|\.(?<=sg\.)(?P<sendgrid>))", True,
     {"gh": "gh", "ghpat": "ghpat", "glpat": "glpat", "sendgrid": "sendgrid"}),
    (rb"cre(?:t(?<=secret)" + _tail("s") + rb"|d(?:ential)?s?" + _tail("c") + rb")", True,
     {"s_op": (b"secret", 2), "c_op": (b"cred", 0)}),
    (rb"curl(?P<curl>)", True, {"curl": rules.curl}),
    (rb"hf_(?P<hf>)", True, {"hf": "hf"}),
    (rb"A(?:(?:KIA|SIA)(?P<aws>)|Iza(?P<google>))", False, {"aws": "aws", "google": "google"}),
    (rb"@(?P<at>)", False, {"at": rules.url_password}),
)
_ENV_HINT: Final = rb"=[\"']?[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16}"  # '=' then 16 value bytes: maybe a .env line


@cache
def _compiled() -> tuple[tuple[re.Pattern[bytes], bool, dict[str, str | _Handler | tuple[bytes, int]]], ...]:
    """Every pass, compiled once, on first use."""
    return tuple((re.compile(pattern, re.VERBOSE), shaped, groups) for pattern, shaped, groups in _PASSES)


@cache
def _env_hint() -> re.Pattern[bytes]:
    """The .env line pass, compiled once, on first use."""
    return re.compile(_ENV_HINT)


def scan_bytes(data: bytes) -> list[Candidate]:
    """Every candidate of every pass (byte offsets, not yet joined)."""
    shaped = data.translate(SHAPE)
    out: list[Candidate] = []
    for pattern, on_shaped, groups in _compiled():
        for m in pattern.finditer(shaped if on_shaped else data):
            for group, what in groups.items():
                if m.start(group) < 0:
                    continue
                if isinstance(what, str):
                    out.extend(rules.token(data, m.start(), what))
                elif isinstance(what, tuple):
                    stem, back = what
                    out.extend(assignment(data, shaped, m, group[:2], stem, m.start() - back))
                else:
                    out.extend(what(data, shaped, m))
                break
    done = -1
    for m in _env_hint().finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        if line_start > done:  # one look per line
            done = line_start
            out.extend(rules.env_line(data, line_start))
    return out
