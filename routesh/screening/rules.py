"""The screen's detectors for fixed formats: provider tokens, PEM keys, URL, curl and header credentials, env lines.

Each is called by screen_passes on a hit of its literal-led pass, with the prompt's bytes (``data``), their
shaped copy (``shaped``, see screen_passes) and the match, and yields (start, end, kind) in byte offsets.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterator
from typing import Final

from .lazyre import LazyRe
from .values import distinct_enough, is_placeholder, looks_random

Candidate = tuple[int, int, str]
_WORD: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def free_before(data: bytes, start: int, extra: bytes = b"") -> bool:
    """The match does not continue a longer word to its left."""
    return start == 0 or (data[start - 1] not in _WORD and data[start - 1] not in extra)


def free_after(data: bytes, end: int, extra: bytes = b"") -> bool:
    """The match does not run on into a longer word to its right."""
    return end >= len(data) or (data[end] not in _WORD and data[end] not in extra)


def text_of(data: bytes, start: int, end: int) -> str:
    """A candidate value as str, for the heuristics."""
    return data[start:end].decode("utf-8", "replace")


# group -> kind, bytes before the lead character, the exact (case-sensitive) format, the length of its fixed
# prefix, bytes that may not touch it
TOKENS: Final[dict[str, tuple[str, int, LazyRe, int, bytes]]] = {
    name: (kind, back, LazyRe(exact), fixed, touching)
    for name, kind, back, exact, fixed, touching in (
        ("gh", "github-token", 0, rb"gh[pousr]_[A-Za-z0-9]{36,251}", 4, b""),
        ("ghpat", "github-token", 0, rb"github_pat_[A-Za-z0-9_]{50,255}", 11, b""),
        ("glpat", "gitlab-token", 0, rb"glpat-[A-Za-z0-9_\-]{20,100}", 6, b"-"),
        ("sendgrid", "sendgrid-key", 1, rb"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}", 3, b"-"),
        ("sk", "openai-key", 1, rb"sk-(?:ant-|or-v1-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,300}", 3, b"-"),
        ("stripe", "stripe-key", 1, rb"[sr]k_live_[0-9A-Za-z]{20,247}", 8, b""),
        ("npm", "npm-token", 1, rb"npm_[A-Za-z0-9]{36}", 4, b""),
        ("pypi", "pypi-token", 0, rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,2000}", 20, b"-"),
        ("hf", "huggingface-token", 0, rb"hf_[A-Za-z0-9]{30,60}", 3, b""),
        ("slack", "slack-token", 0, rb"xox(?:[abposr]|e(?:\.xox[bp])?)-[A-Za-z0-9\-]{8,250}", 0, b"-"),
        ("xapp", "slack-token", 0, rb"xapp-\d-[A-Za-z0-9\-]{10,250}", 5, b"-"),
        ("jwt", "jwt", 2, rb"eyJ[A-Za-z0-9_\-]{10,4000}\.eyJ[A-Za-z0-9_\-]{10,8000}\.[A-Za-z0-9_\-]{16,1000}", 0,
         b"-."),
        ("aws", "aws-access-key", 0, rb"(?:AKIA|ASIA)[A-Z2-7]{16}", 4, b""),
        ("google", "google-api-key", 0, rb"AIza[0-9A-Za-z_\-]{35}", 4, b"-"),
    )
}
_SK_KIND: Final = {b"ant-": "anthropic-key", b"or-v1-": "openrouter-key", b"proj-": "openai-key",
                   b"svcacct-": "openai-key", b"admin-": "openai-key"}


def token(data: bytes, lead: int, group: str) -> Iterator[Candidate]:
    """A provider token with a fixed prefix: exact format, standing alone, its random part not a stand-in."""
    kind, back, exact, fixed, touching = TOKENS[group]
    start = lead - back
    m = exact.match(data, start)
    if m is None:
        return
    end = m.end()
    if not (free_before(data, start, touching) and free_after(data, end, touching)):
        return
    core = m.group()[fixed:]  # the whole random part: a late '-' or '_' does not hide the rest
    if group == "sk":
        sub = next((s for s in _SK_KIND if core.startswith(s)), None)
        core = core[len(sub):] if sub else core
        if sub is None and (len(core) < 32 or not core.isalnum() or core.isalpha() or core.isdigit()):
            return  # plain sk-<32+ letters and digits>: OpenAI's older keys and OpenAI-compatible providers
        kind = _SK_KIND[sub] if sub else kind
    elif group == "aws":
        if b"EXAMPLE" in core or len(set(core)) < 6:
            return  # AWS's documented ...EXAMPLE ids, AKIAXXXXXXXXXXXXXXXX
        yield start, end, kind
        yield from _aws_secret_on_line(data, start, end)
        return
    if group == "slack":
        core = core[core.index(b"-") + 1:]  # after xoxb- or xoxe.xoxp-
    short = group in ("slack", "xapp")  # legacy Slack tokens can be short
    if group == "jwt" or distinct_enough(core.replace(b"-", b"") if short else core, 6 if short else 10):
        yield start, end, kind


_AWS_SECRET_ON_LINE = LazyRe(rb"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _aws_secret_on_line(data: bytes, start: int, end: int) -> Iterator[Candidate]:
    """A 40-character AWS secret key on the same line as a key id (CSV exports, one-line configs)."""
    line_start = data.rfind(b"\n", 0, start) + 1
    line_end = data.find(b"\n", end)
    for s in _AWS_SECRET_ON_LINE.finditer(data, line_start, len(data) if line_end < 0 else line_end):
        value = s.group().decode("ascii")
        if looks_random(value, 40) and "EXAMPLE" not in value:
            yield s.start(), s.end(), "aws-secret-key"


_NL = rb"(?:\r?\n|(?:\\r)?\\n)"  # a real line break, or one escaped inside a JSON/code string
_PEM_BODY = LazyRe(rb"(?:[ \t]|" + _NL + rb")*(?:[A-Za-z-]+:[^\n\\]*" + _NL + rb"(?:[ \t]|" + _NL
                       + rb")*)*(?P<b64>[A-Za-z0-9+/=]{8,})")
_PEM_END = LazyRe(rb"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_TAIL = LazyRe(rb"(?:" + _NL + rb"[A-Za-z0-9+/=]+)*")
_PEM_MAX: Final = 200_000


_PEM_BEGIN = LazyRe(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")


def pem(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """A PEM private key of any flavour, found from the 'KEY-----' of its header; cut short it is still a key
    (a header and any base64 body)."""
    start = shaped.rfind(b"-----begin ", data.rfind(b"\n", 0, m.start()) + 1, m.start())
    header = _PEM_BEGIN.match(data, start) if start >= 0 else None
    if header is None or header.end() != m.end():
        return  # an -----END line, or not a PEM header
    body = _PEM_BODY.match(data, header.end())
    if body is None or len(set(body.group("b64"))) < 4:
        return  # only the header (code that parses PEM files), or a stand-in body
    end_marker = _PEM_END.search(data, body.end(), body.end() + _PEM_MAX)
    if end_marker is not None:
        yield start, end_marker.end(), "private-key"
    else:  # truncated: take the key material that follows
        tail = _PEM_TAIL.match(data, body.end())
        yield start, tail.end() if tail else body.end(), "private-key"


def putty(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """The private lines of a PuTTY .ppk key."""
    yield m.start(), m.end(), "private-key"


_MASKED = LazyRe(r"^[$%<{\[*\u2026]|\*\*\*|xxx|\.\.\.|\u2026", re.IGNORECASE)  # $PASS, <pw>, ***, xxx, ...
_CURL_USER = LazyRe(rb"""[ \t](?:-u[ \t]*|--user[ \t=]+)(?P<q>["']?)(?P<user>[^\s:"'@$]{0,64}):"""
                        rb"""(?P<pw>[^\s"']{1,256})(?P=q)""")


def curl(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """curl -u user:password / --user user:password, on the curl command line (continued lines included)."""
    if not free_before(data, m.start()):
        return
    end = m.end()
    while True:
        line_end = data.find(b"\n", end)
        if line_end < 0:
            line_end = len(data)
        if not data.endswith(b"\\", 0, line_end) or line_end == len(data):
            break
        end = line_end + 1
    for cred in _CURL_USER.finditer(data, m.end(), line_end):
        password = text_of(data, *cred.span("pw"))
        if not _MASKED.search(password):  # on a command line even user:pass is a credential
            yield cred.start("pw"), cred.end("pw"), "basic-auth"


_URL_CREDENTIALS = LazyRe(rb"://([^\s:/?#@'\"<>()\[\]{}]{0,128}):([^\s/?#@'\"<>]{1,256})@")
_EXAMPLE_HOST = LazyRe(rb"(?:[a-z0-9-]+\.)*(?:example|test|invalid)(?:\.(?:com|org|net))?(?![\w.-])",
                           re.IGNORECASE)


def url_password(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
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


_ENV_LINE = LazyRe(rb"[ \t]*+(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]{0,100}+)=(?P<q>[\"']?)"
                       rb"(?P<val>[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16,2000})(?P=q)[ \t]*(?:#[^\n]*)?(?=\r?\n|\Z)")
_DIGEST_PREFIX = LazyRe(r"(?:sha\d+|md5|blake2[bs]?)[-:=]", re.IGNORECASE)  # checksums, SRI hashes
_QUERY = LazyRe(r"[\w.-]+=[^&=]*&[\w.-]+=")  # grant_type=authorization_code&code=...
_ENV_NOT_SECRET: Final = ("BOUNDARY", "INTEGRITY", "_SHA", "_COMMIT", "_HASH", "_CHECKSUM", "_DIGEST", "_VERSION",
                          "_ID", "_PATH", "_DIR", "_FILE", "_URL", "_URI", "_HOST", "_NAME", "_REV", "_TAG",
                          "_BRANCH", "_REGION", "_MODEL", "PRIMARYKEY", "FOREIGNKEY")


def env_line(data: bytes, line_start: int) -> Iterator[Candidate]:
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


def auth_header(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """The credential in 'Authorization: Bearer|Basic|Token ...' (HTTP headers, curl -H, header dicts)."""
    if not free_before(data, m.start() - len(b"authori")):
        return
    start, end = m.span("auth")
    value = text_of(data, start, end)
    if is_placeholder(value):
        return
    if m.group("scheme") == b"basic":
        try:  # a short credential is still one when it decodes to user:password
            decoded = binascii.a2b_base64(value.encode("ascii"), strict_mode=True).decode("ascii")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            decoded = ""
        if ":" in decoded and decoded.isprintable() and decoded.split(":", 1)[1]:
            yield start, end, "basic-auth"
        elif looks_random(value.rstrip("="), 16):
            yield start, end, "basic-auth"
    elif looks_random(value.rstrip("="), 12):
        yield start, end, "bearer-token"


def slack_webhook(data: bytes, shaped: bytes, m: re.Match[bytes]) -> Iterator[Candidate]:
    """A Slack incoming-webhook URL (the URL itself is the credential), found from the 'k' of 'hooks'."""
    start = m.start() - len(b"hoo")
    for scheme in (b"https://", b"http://"):
        if shaped.startswith(scheme, start - len(scheme)):
            start -= len(scheme)
            break
    yield start, m.end(), "slack-webhook"
