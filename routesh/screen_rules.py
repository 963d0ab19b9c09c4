"""The screen's detectors: two regex passes over the prompt's bytes, then plain Python on the few hits.

Why two passes and not one per rule: a regex whose alternatives all start with a *literal* character is
searched by CPython's ``re`` with a character-set skip loop, so a pass costs about one ``bytes.find`` plus a
few nanoseconds per position holding a lead character. The lead characters are chosen rare:

- pass A, on the text as is: ``_`` ``-`` ``A`` ``J`` ``G`` ``@`` ``=`` -- each token format is found from its
  rarest character with a fixed-width look-behind for the rest of its prefix (``_`` of ``ghp_``, ``-`` of
  ``sk-``, ``J`` of ``eyJ``), plus ``@`` for URL credentials and ``=`` for ``.env`` lines;
- pass B, on the ASCII-lower-cased copy: ``k`` ``p`` ``c`` ``b`` -- the secret words (tok\\ *k*\\ en, *k*\\ ey,
  *p*\\ assword, se\\ *c*\\ ret, *c*\\ redentials), each followed in the same regex by the rest of the key, an
  optional type, an operator and a literal value, so only real assignments reach Python; and ``bearer`` /
  ``basic`` credentials.

The patterns are compiled on first use (about 5 ms), behind a literal prefilter in ``screen.scan`` that lets a
short prompt with no candidate skip them. Every detector yields (start, end, kind) in byte offsets.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Final

from .screen_assign import bare_is_code, classify
from .screen_values import distinct_enough, is_placeholder, looks_random

Candidate = tuple[int, int, str]
_WORD: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

# Characters whose presence makes a prompt worth the full passes (see screen.scan's prefilter).
LEAD_BYTES: Final = b"_-AJG@="
LEAD_WORDS: Final = (b"tok", b"key", b"pass", b"pwd", b"secret", b"cred", b"bearer", b"basic", b"hooks.")

# group -> (kind, bytes of the prefix before the lead character, bytes that may not touch the token)
_PASS_A_GROUPS: Final[dict[str, tuple[str, int, bytes]]] = {
    "gh": ("github-token", 3, b""), "ghpat": ("github-token", 6, b""), "npm": ("npm-token", 3, b""),
    "hf": ("huggingface-token", 2, b""), "stripe": ("stripe-key", 2, b""), "sk": ("openai-key", 2, b"-"),
    "glpat": ("gitlab-token", 5, b"-"), "pypi": ("pypi-token", 4, b"-"), "slack": ("slack-token", 4, b"-"),
    "slack2": ("slack-token", 9, b"-"), "xapp": ("slack-token", 4, b"-"), "aws": ("aws-access-key", 0, b""),
    "google": ("google-api-key", 0, b"-"), "jwt": ("jwt", 2, b"-."), "sendgrid": ("sendgrid-key", 1, b"-"),
}
_PASS_A: Final = rb"""
 _(?: (?<=gh[pousr]_)(?P<gh>[A-Za-z0-9]{36,251})
    | (?<=github_)pat_(?P<ghpat>[A-Za-z0-9_]{50,255})
    | (?<=npm_)(?P<npm>[A-Za-z0-9]{36})
    | (?<=hf_)(?P<hf>[A-Za-z0-9]{30,60})
    | (?<=[sr]k_)live_(?P<stripe>[0-9A-Za-z]{20,247}) )
|-(?: (?<=sk-)(?P<sk>(?:ant-|or-v1-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,300})
    | (?<=glpat-)(?P<glpat>[A-Za-z0-9_\-]{20,100})
    | (?<=pypi-)(?P<pypi>AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,2000})
    | (?<=xox[abposre]-)(?P<slack>[A-Za-z0-9\-]{8,250})
    | (?<=xoxe\.xox[bp]-)(?P<slack2>[A-Za-z0-9\-]{8,250})
    | (?<=xapp-)(?P<xapp>\d-[A-Za-z0-9\-]{10,250})
    | (?P<pem>----BEGIN[ ](?:[A-Z0-9]+[ ])*PRIVATE[ ]KEY(?:[ ]BLOCK)?-----)
    | (?<=Private-)(?P<putty>Lines:[ ]*\d+\r?\n(?:[A-Za-z0-9+/=]+\r?\n?)+)
    | (?P<curl>u[ \t]+|-user[ \t=]+) )
|A(?: (?P<aws>(?:KIA|SIA)[A-Z2-7]{16})
    | Iza(?P<google>[0-9A-Za-z_\-]{35}) )
|J(?<=eyJ)(?P<jwt>[A-Za-z0-9_\-]{10,4000}\.eyJ[A-Za-z0-9_\-]{10,8000}\.[A-Za-z0-9_\-]{16,1000})
|G(?<=SG)\.(?P<sendgrid>[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})
|@(?P<at>)
|=(?P<env>)(?=["']?[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16})
"""

# The assignment tail after a secret word (in the lower-cased text): the rest of the key, the key's closing
# quote, a type (``: str``, Go's ``string``), the operator and a literal value.
_TAIL: Final = rb"""(?P<suffix>[a-z0-9_.\-]{0,40}?)(?P<kq>\\?["'])?
 (?:[ \t]*(?P<ann>:[ \t]*[a-z_][\w.\[\],|&*<>?]{0,40}?[ \t]*)|[ \t]+(?P<gotype>[*\[\]]*[a-z_][\w.]{0,30})[ \t]*)?
 [ \t]*(?P<op>:=|=>|\?=|\|\|=|=(?!=)|:(?![:=])|[ \t](?=\\?["'])) [ \t]*
 (?:(?P<prefix>[rbuf@]{0,2})(?:\\?"(?P<dq>[^"\n]{1,512}?)\\?"|'(?P<sq>[^'\n]{1,512})'|`(?P<bq>[^`\n]{1,512})`)
   |(?P<bare>[^\s"'`,;&()\[\]{}<>\\]{1,512}))"""
_PASS_B: Final = (rb"k(?:(?<=tok)en|ey)" + _TAIL + rb"|p(?:ass(?:w(?:or)?d|phrase)?|wd)" + _TAIL.replace(b"?P<", b"?P<p_")
                  + rb"|c(?:(?<=sec)ret|red(?:ential)?s?)" + _TAIL.replace(b"?P<", b"?P<c_")
                  + rb"|b(?P<scheme>earer|asic)[ \t]+(?P<auth>[a-z0-9._~+/\-]{4,4000}=*)"
                  + rb"|k(?<=hook)(?P<hook>s\.slack\.com/(?:services|workflows|triggers)/[a-z0-9/_\-]{20,300})")


@cache
def _compiled() -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
    """Both passes, compiled once, on first use."""
    return re.compile(_PASS_A, re.VERBOSE), re.compile(_PASS_B, re.VERBOSE)


def free_before(data: bytes, start: int, extra: bytes = b"") -> bool:
    """The match does not continue a longer word to its left."""
    return start == 0 or (data[start - 1] not in _WORD and data[start - 1] not in extra)


def free_after(data: bytes, end: int, extra: bytes = b"") -> bool:
    """The match does not run on into a longer word to its right."""
    return end >= len(data) or (data[end] not in _WORD and data[end] not in extra)


def text_of(data: bytes, start: int, end: int) -> str:
    """A candidate value as str, for the heuristics."""
    return data[start:end].decode("utf-8", "replace")


def scan_bytes(data: bytes, lowered: bytes) -> list[Candidate]:
    """Every candidate of both passes (byte offsets, unjoined)."""
    pass_a, pass_b = _compiled()
    out: list[Candidate] = []
    env_done = -1
    for m in pass_a.finditer(data):
        group = m.lastgroup
        if group == "env":
            line_start = data.rfind(b"\n", 0, m.start()) + 1
            if line_start > env_done:
                env_done = line_start
                out.extend(_env_line(data, line_start))
        elif group in _HANDLERS_A:
            out.extend(_HANDLERS_A[group](data, m))
        elif group is not None:
            out.extend(_token(data, m, group))
    for m in pass_b.finditer(lowered):
        out.extend(_pass_b_hit(data, lowered, m))
    return out


# ------------------------------------------------------------------------------------------
# Pass A: fixed-format tokens and the rest


_SK_KIND: Final = {b"ant-": "anthropic-key", b"or-v1-": "openrouter-key", b"proj-": "openai-key",
                   b"svcacct-": "openai-key", b"admin-": "openai-key"}


def _token(data: bytes, m: re.Match[bytes], group: str) -> Iterator[Candidate]:
    """A provider token with a fixed prefix: it stands alone and its random part is not a stand-in."""
    kind, prefix, touching = _PASS_A_GROUPS[group]
    body_start, end = m.span(group)
    start = m.start() - prefix
    if not (free_before(data, start, touching) and free_after(data, end, touching)):
        return
    body = m.group(group)
    if group == "sk":
        sub = next((s for s in _SK_KIND if body.startswith(s)), None)
        core = body[len(sub):] if sub else body
        if sub is None and (len(core) < 32 or not core.isalnum() or core.isalpha() or core.isdigit()):
            return  # plain sk-<32+ letters and digits>: OpenAI's older keys and OpenAI-compatible providers
        kind = _SK_KIND[sub] if sub else kind
    elif group == "aws":
        if b"EXAMPLE" in body or len(set(body[3:])) < 6:
            return  # AWS's documented ...EXAMPLE ids, AKIAXXXXXXXXXXXXXXXX
        yield start, end, kind
        yield from _aws_secret_on_line(data, start, end)
        return
    else:
        core = body.replace(b"-", b"") if group in ("slack", "slack2", "xapp") else body
    minimum = 6 if group in ("slack", "slack2", "xapp") else 10
    if group == "jwt" or distinct_enough(core, minimum):
        yield start, end, kind


_AWS_SECRET_ON_LINE = re.compile(rb"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _aws_secret_on_line(data: bytes, start: int, end: int) -> Iterator[Candidate]:
    """A 40-character AWS secret key on the same line as a key id (CSV exports, one-line configs)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    for s in _AWS_SECRET_ON_LINE.finditer(data, line_start, len(data) if line_end < 0 else line_end):
        value = s.group().decode("ascii")
        if looks_random(value, 40) and "EXAMPLE" not in value:
            yield s.start(), s.end(), "aws-secret-key"


_NL = rb"(?:\r?\n|(?:\\r)?\\n)"  # a real line break, or one escaped inside a JSON/code string
_PEM_BODY = re.compile(rb"(?:[ \t]|" + _NL + rb")*(?:[A-Za-z-]+:[^\n\\]*" + _NL + rb"(?:[ \t]|" + _NL
                       + rb")*)*(?P<b64>[A-Za-z0-9+/=]{8,})")
_PEM_END = re.compile(rb"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_TAIL = re.compile(rb"(?:" + _NL + rb"[A-Za-z0-9+/=]+)*")
_PEM_MAX: Final = 200_000


def _pem(data: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """A PEM private key of any flavour; cut short it is still a key (a header and any base64 body)."""
    start = m.start()
    body = _PEM_BODY.match(data, m.end())
    if body is None or len(set(body.group("b64"))) < 4:
        return  # only the header (code that parses PEM files), or a stand-in body
    end_marker = _PEM_END.search(data, body.end(), body.end() + _PEM_MAX)
    if end_marker is not None:
        yield start, end_marker.end(), "private-key"
    else:  # truncated: take the key material that follows
        tail = _PEM_TAIL.match(data, body.end())
        yield start, tail.end() if tail else body.end(), "private-key"


def _putty(data: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """The private lines of a PuTTY .ppk key."""
    yield m.start() - len(b"Private"), m.end(), "private-key"


_CURL_CRED = re.compile(rb"""(?P<q>["']?)(?P<user>[^\s:"'@$]{0,64}):(?P<pw>[^\s"']{1,256})(?P=q)""")


def _curl(data: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """curl -u user:password / --user user:password on a curl command line."""
    if not free_before(data, m.start(), b"-"):
        return
    cred = _CURL_CRED.match(data, m.end())
    if cred is None:
        return
    line_start = data.rfind(b"\n", 0, m.start()) + 1
    while line_start > 1 and data[line_start - 2:line_start] == b"\\\n":  # a command continued with '\'
        line_start = data.rfind(b"\n", 0, line_start - 2) + 1
    if b"curl" not in data[line_start:m.start()].lower():
        return
    password = text_of(data, *cred.span("pw"))
    if not is_placeholder(password) and not is_placeholder(text_of(data, *cred.span("user")) + password):
        yield cred.start("pw"), cred.end("pw"), "basic-auth"


_URL_CREDENTIALS = re.compile(rb"://([^\s:/?#@'\"<>()\[\]{}]{0,128}):([^\s/?#@'\"<>]{1,256})@")
_EXAMPLE_HOST = re.compile(rb"(?:[a-z0-9-]+\.)*(?:example|test|invalid)(?:\.(?:com|org|net))?(?![\w.-])",
                           re.IGNORECASE)


def _url_password(data: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """The password in scheme://user:password@host URLs, unless the host is a documentation example."""
    at = m.start()
    scheme = data.rfind(b"://", max(0, at - 400), at)
    if scheme < 0:
        return
    cred = _URL_CREDENTIALS.match(data, scheme)
    if cred is None or cred.end() != at + 1:
        return
    if not (at + 1 < len(data) and (data[at + 1] in _WORD or data[at + 1] == 0x5B)):  # host or [ipv6]
        return
    password = text_of(data, *cred.span(2))
    if _EXAMPLE_HOST.match(data, at + 1) and not looks_random(password, 12):
        return  # http://abc:xyz@example.com in docs (RFC 2606 names)
    if not is_placeholder(password):
        yield cred.start(2), cred.end(2), "url-password"


_ENV_LINE = re.compile(rb"[ \t]*+(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]{0,100}+)=(?P<q>[\"']?)"
                       rb"(?P<val>[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16,2000})(?P=q)[ \t]*(?:#[^\n]*)?(?=\r?\n|\Z)")
_DIGEST_PREFIX = re.compile(r"(?:sha\d+|md5|blake2[bs]?)[-:=]", re.IGNORECASE)  # checksums, SRI hashes
_QUERY = re.compile(r"[\w.-]+=[^&=]*&[\w.-]+=")  # grant_type=authorization_code&code=...
_ENV_NOT_SECRET: Final = ("BOUNDARY", "INTEGRITY", "_SHA", "_COMMIT", "_HASH", "_CHECKSUM", "_DIGEST", "_VERSION",
                          "_ID", "_PATH", "_DIR", "_FILE", "_URL", "_URI", "_HOST", "_NAME", "_REV", "_TAG",
                          "_BRANCH", "_REGION", "_MODEL", "PRIMARYKEY", "FOREIGNKEY")


def _env_line(data: bytes, line_start: int) -> Iterator[Candidate]:
    """A high-entropy value in a .env-style NAME=value line (no spaces around '=')."""
    m = _ENV_LINE.match(data, line_start)
    if m is None:
        return
    name = m.group("name").decode("ascii").upper()
    value = m.group("val").decode("ascii")
    if name.endswith(_ENV_NOT_SECRET) or is_placeholder(value) or _DIGEST_PREFIX.match(value) or _QUERY.match(value):
        return
    if looks_random(value, 16):
        yield m.start("val"), m.end("val"), "high-entropy-env-value"


_HANDLERS_A: Final[dict[str, Callable[[bytes, re.Match[bytes]], Iterator[Candidate]]]] = {
    "pem": _pem, "putty": _putty, "curl": _curl, "at": _url_password,
}


# ------------------------------------------------------------------------------------------
# Pass B: assignments, Authorization credentials, Slack webhooks

_KEY_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-$")


def _key_start(lowered: bytes, word_start: int) -> int:
    """Where the key that holds the secret word begins (at most 80 bytes back)."""
    i = word_start
    while i > 0 and word_start - i < 80 and lowered[i - 1] in _KEY_BYTES:
        i -= 1
    return i


def _config_style(lowered: bytes, key_start: int) -> bool:
    """The key starts its line, follows ';' '&' '?' (connection strings, queries) or 'export', or is a --flag."""
    if lowered.startswith(b"-", key_start):
        return True  # a command-line flag: --password=..., -p...
    i = key_start
    while i > 0 and lowered[i - 1] in b" \t\"'":
        i -= 1
    if i == 0 or lowered[i - 1] in b"\n;&?":
        return True
    return lowered.endswith(b"export ", 0, key_start)


def _pass_b_hit(data: bytes, lowered: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """Dispatch a pass-B match: an assignment, a Bearer/Basic credential or a Slack webhook."""
    if m.group("hook") is not None:
        start = m.start() - 3
        for scheme in (b"https://", b"http://"):
            if lowered.startswith(scheme, start - len(scheme)):
                start -= len(scheme)
                break
        yield start, m.end(), "slack-webhook"
    elif m.group("auth") is not None:
        yield from _auth_header(data, lowered, m)
    else:
        prefix = "" if m.group("op") is not None else "p_" if m.group("p_op") is not None else "c_"
        yield from _assignment(data, lowered, m, prefix)


def _auth_header(data: bytes, lowered: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """The credential after 'Bearer ' or 'Basic ' (HTTP Authorization headers, curl commands)."""
    if not free_before(lowered, m.start()):
        return
    start, end = m.span("auth")
    value = text_of(data, start, end)
    if is_placeholder(value):
        return
    if m.group("scheme") == b"asic":
        try:  # a short credential is still one when it decodes to user:password
            decoded = base64.b64decode(value, validate=True).decode("ascii")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded and decoded.isprintable() and not is_placeholder(decoded.split(":", 1)[1]):
            yield start, end, "basic-auth"
        elif looks_random(value.rstrip("="), 16):
            yield start, end, "basic-auth"
    elif looks_random(value.rstrip("="), 16):
        yield start, end, "bearer-token"


def _assignment(data: bytes, lowered: bytes, m: re.Match[bytes], g: str) -> Iterator[Candidate]:
    """key = literal: the value of a password/secret/token/key assignment, when it is not code or a stand-in."""
    lead = m.start()
    word_start, stem = lead, {0x6B: b"key", 0x70: b"pass", 0x63: b"cred"}[lowered[lead]]
    if lead >= 2 and (lowered.startswith(b"token", lead - 2) or lowered.startswith(b"secret", lead - 2)):
        word_start, stem = lead - 2, b"token" if lowered[lead] == 0x6B else b"secret"
    elif lowered.startswith(b"pwd", lead):
        stem = b"pwd"
    if stem == b"pass" and word_start > 0 and 0x61 <= data[word_start - 1] | 0x20 <= 0x7A \
            and not 0x41 <= data[word_start] <= 0x5A:
        return  # bypass=, compass: (but dbPass= is a key)
    group = next(x for x in ("bare", "dq", "sq", "bq") if m.group(g + x) is not None)
    start, end = m.span(g + group)
    value = text_of(data, start, end)
    key_start = _key_start(lowered, word_start)
    op = m.group(g + "op")
    if op.isspace() and not lowered[data.rfind(b"\n", 0, key_start) + 1:key_start].lstrip().startswith(b"#"):
        return  # 'KEY "value"' only in a C '#define KEY "value"'
    if group == "bare":
        nxt = data[end:end + 1]
        if bare_is_code(value, nxt, m.group(g + "ann") is not None, _config_style(lowered, key_start), op):
            return
    elif b"f" in m.group(g + "prefix"):
        return  # an f-string is built by code
    kind = "password-assignment" if stem in (b"pass", b"pwd") else "generic-secret-assignment"
    key = text_of(data, key_start, m.end(g + "suffix"))
    found = classify(kind, stem.decode(), key, value)
    if found is not None:
        yield start, end, found
