"""Secret screening: find credentials in a prompt before it leaves the machine, and redact them.

Pure functions of the text: no I/O, no clock, no configuration. The caller applies the
profile's ``on_secret`` policy, or lets :func:`apply` do it in one call.

How it stays fast (< 50 ms per MB; see docs/secret-screening.md for the figures):

- The text is scanned as UTF-8 *bytes*. Every secret format is ASCII, a Python str with a
  single non-ASCII character is stored two or four bytes per character (and ``str.lower``
  on it is ten times slower), while ``bytes.lower`` lower-cases ASCII only and keeps every
  offset. Offsets are mapped back to str indices for the few findings at the end.
- Every detector is one regex that *starts with a literal* (``ghp_``, ``AKIA``, ``sk-``,
  ``-----BEGIN ``, ``password`` in the lower-cased bytes, a newline for ``.env`` lines...).
  CPython's ``re`` finds a literal prefix with its fast substring search, so a pass costs
  about as much as ``bytes.find`` and nothing is tried at positions without the literal.
  (One alternation of the token prefixes alone was measured 2-3x slower than the eleven
  literal-led token passes together: ``re`` cannot use a prefix search for an alternation.)
- Everything after a literal hit (placeholder checks, entropy, code-versus-config rules)
  is plain Python on the few candidates.

Findings carry the kind and the position of a secret, never its text, so logging or printing
them (or a :class:`ScreenResult`) cannot leak it.
"""

from __future__ import annotations

import bisect
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "KINDS",
    "ON_SECRET_ACTIONS",
    "Finding",
    "OnSecret",
    "ScreenResult",
    "apply",
    "describe",
    "placeholder",
    "redact",
    "scan",
]

OnSecret = Literal["block", "redact", "warn", "allow"]
ON_SECRET_ACTIONS: Final = ("block", "redact", "warn", "allow")

# kind -> priority: where two findings overlap they are merged under the more specific kind.
_PRIORITY: Final[dict[str, int]] = {
    "private-key": 100,
    "aws-access-key": 90,
    "aws-secret-key": 90,
    "github-token": 90,
    "anthropic-key": 90,
    "openrouter-key": 90,
    "openai-key": 85,
    "slack-token": 90,
    "slack-webhook": 90,
    "google-api-key": 90,
    "stripe-key": 90,
    "gitlab-token": 90,
    "npm-token": 90,
    "pypi-token": 90,
    "huggingface-token": 90,
    "sendgrid-key": 90,
    "jwt": 80,
    "url-password": 70,
    "bearer-token": 70,
    "basic-auth": 70,
    "password-assignment": 60,
    "generic-secret-assignment": 50,
    "high-entropy-env-value": 40,
}
KINDS: Final = tuple(_PRIORITY)


@dataclass(frozen=True)
class Finding:
    """Where a secret is (line 1-based; start/end are str offsets, end exclusive) and its kind; never its text."""

    kind: str
    line: int
    start: int
    end: int


@dataclass(frozen=True)
class ScreenResult:
    """What to send and what was found, so the caller can block, warn or go on in one step.

    ``text`` is the original under ``warn``/``allow`` and may hold a secret: it is left out of
    the repr. Under ``block`` it is the redacted text, in case a caller sends it regardless.
    """

    text: str = field(repr=False)
    findings: tuple[Finding, ...]
    blocked: bool

    @property
    def summary(self) -> str:
        """One line naming the kinds and line numbers found (never the secrets)."""
        return describe(self.findings)


# ------------------------------------------------------------------------------------------
# Public API


def scan(text: str) -> tuple[Finding, ...]:
    """Find every secret in ``text``, in order, merged so that no two findings overlap.

    Redacting one secret can expose a neighbour that touched it (a key glued to the end of a
    PEM block is not a separate token until the block is gone), so the redacted text is
    scanned again until nothing new turns up: redact(text, scan(text)) always scans clean.
    """
    spans = _scan_spans(text)
    for _ in range(_MAX_ROUNDS):
        if not any(_glued(text, start, end) for start, end, _kind in spans):
            break  # every finding stands apart: redacting it cannot free a neighbour
        redacted, kept = _redact_keeping_map(text, spans)
        extra = _scan_spans(redacted)
        if not extra:
            break
        spans = _join(spans + [(_to_original(kept, s, False), _to_original(kept, e, True), kind)
                              for s, e, kind in extra])
    line, pos = 1, 0
    findings = []
    for start, end, kind in spans:
        line += text.count("\n", pos, start)
        pos = start
        findings.append(Finding(kind, line, start, end))
    return tuple(findings)


def placeholder(kind: str) -> str:
    """The typed text a redacted secret is replaced with."""
    return f"[REDACTED:{kind}]"


def redact(text: str, findings: Iterable[Finding]) -> str:
    """Replace each finding's span with its typed placeholder (overlapping spans are joined)."""
    spans = _join((max(0, f.start), min(len(text), f.end), f.kind) for f in findings)
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(placeholder(kind))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def describe(findings: Iterable[Finding], max_kinds: int = 4, max_lines: int = 5) -> str:
    """One line for people: how many secrets, of which kinds, on which lines; never the secrets."""
    found = list(findings)
    if not found:
        return "no secrets"
    lines_by_kind: dict[str, list[int]] = {}
    for f in found:
        lines = lines_by_kind.setdefault(f.kind, [])
        if f.line not in lines:
            lines.append(f.line)
    parts = []
    for kind, lines in list(lines_by_kind.items())[:max_kinds]:
        shown = ", ".join(str(n) for n in sorted(lines)[:max_lines])
        more = f" and {len(lines) - max_lines} more" if len(lines) > max_lines else ""
        parts.append(f"{kind} (line{'s' if len(lines) > 1 else ''} {shown}{more})")
    if len(lines_by_kind) > max_kinds:
        parts.append(f"{len(lines_by_kind) - max_kinds} more kinds")
    count = f"{len(found)} secret{'s' if len(found) > 1 else ''}"
    return f"{count}: {', '.join(parts)}"


def apply(text: str, on_secret: str) -> ScreenResult:
    """Scan and apply a profile's policy: block, redact, warn (send as is) or allow (no scan)."""
    if on_secret not in ON_SECRET_ACTIONS:
        raise ValueError(f"on_secret must be one of {', '.join(ON_SECRET_ACTIONS)}, not {on_secret!r}")
    if on_secret == "allow":
        return ScreenResult(text, (), False)
    findings = scan(text)
    if not findings:
        return ScreenResult(text, (), False)
    if on_secret == "warn":
        return ScreenResult(text, findings, False)
    return ScreenResult(redact(text, findings), findings, on_secret == "block")


# ------------------------------------------------------------------------------------------
# Spans: joining, mapping byte offsets to str offsets, line numbers

_Candidate = tuple[int, int, str]  # start, end (exclusive), kind: byte offsets from detectors, str offsets after


def _join(spans: Iterable[_Candidate]) -> list[_Candidate]:
    """Sort spans and join the overlapping ones under the kind with the highest priority."""
    joined: list[_Candidate] = []
    for start, end, kind in sorted(spans):
        if end <= start:
            continue
        if joined and start < joined[-1][1]:
            last_start, last_end, last_kind = joined[-1]
            better = kind if _PRIORITY.get(kind, 0) > _PRIORITY.get(last_kind, 0) else last_kind
            joined[-1] = (last_start, max(last_end, end), better)
        else:
            joined.append((start, end, kind))
    return joined


_MAX_ROUNDS: Final = 8
_GLUE: Final = frozenset(string.ascii_letters + string.digits + "_-.+/")


def _glued(text: str, start: int, end: int) -> bool:
    """A finding touches a token character on either side (what detectors' boundary checks look at)."""
    return (start > 0 and text[start - 1] in _GLUE) or (end < len(text) and text[end] in _GLUE)


def _scan_spans(text: str) -> list[_Candidate]:
    """One pass of every detector: joined spans in str offsets."""
    if not text:
        return []
    data = text.encode("utf-8", "surrogatepass")
    lowered = data.lower()  # ASCII only: same length, same offsets
    candidates: list[_Candidate] = []
    for detector in _DETECTORS:
        candidates.extend(detector(data, lowered))
    spans = _join(candidates)
    if not spans or len(data) == len(text):  # ASCII: byte offsets are str offsets
        return spans
    widened = []
    for start, end, kind in spans:  # never cut a character in two
        while start > 0 and 0x80 <= data[start] < 0xC0:
            start -= 1
        while end < len(data) and 0x80 <= data[end] < 0xC0:
            end += 1
        widened.append((start, end, kind))
    out = []
    byte_pos = char_pos = 0
    for start, end, kind in _join(widened):
        char_start = char_pos + len(data[byte_pos:start].decode("utf-8", "surrogatepass"))
        char_end = char_start + len(data[start:end].decode("utf-8", "surrogatepass"))
        out.append((char_start, char_end, kind))
        byte_pos, char_pos = end, char_end
    return out


def _redact_keeping_map(text: str, spans: list[_Candidate]) -> tuple[str, list[tuple[int, int, int, int]]]:
    """Redact spans; also return, per kept piece: its start in the redacted text, its start and
    length in the original, and where the original resumes after the placeholder that follows it."""
    out: list[str] = []
    kept: list[tuple[int, int, int, int]] = []
    pos = length = 0
    for start, end, kind in spans:
        kept.append((length, pos, start - pos, end))
        out.append(text[pos:start])
        out.append(placeholder(kind))
        length += start - pos + len(out[-1])
        pos = end
    kept.append((length, pos, len(text) - pos, len(text)))
    out.append(text[pos:])
    return "".join(out), kept


def _to_original(kept: list[tuple[int, int, int, int]], offset: int, is_end: bool) -> int:
    """Map an offset in the redacted text back to the original; one inside a placeholder widens
    to the whole redacted secret (its start for a span start, its end for a span end)."""
    i = bisect.bisect_right(kept, (offset, math.inf)) - 1
    red_start, orig_start, seg_len, resume = kept[max(i, 0)]
    inside = offset - red_start
    if inside <= seg_len:
        return orig_start + inside
    return resume if is_end else orig_start + seg_len


# ------------------------------------------------------------------------------------------
# Value heuristics (on decoded str values of the few candidates)

_WORD_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")

_PLACEHOLDER_WORDS: Final = frozenset("""
    changeme change_me changethis change-me password passwd pass pwd passphrase secret secrets token
    key apikey api_key api-key example examples sample dummy fake test testing tests foo bar baz qux
    none null nil undefined true false yes no redacted placeholder todo fixme tbd xxx n/a na empty
    default mysecret mypassword your_password your-password yourpassword your_token your-token
    your_api_key your-api-key yourapikey your_secret secret_key secretkey my_secret my-secret
    hunter2 letmein admin root guest user username password123 secret123 string str bytes
    value required optional env environment unset missing invalid
""".split())
_PLACEHOLDER_STARTS: Final = ("your", "my_", "my-", "mock", "insert", "replace", "enter", "put_", "put-", "example",
                              "dummy", "fake", "sample", "test-", "test_", "<", "$", "%", "@", "!", "&", "*", "...")
_PLACEHOLDER_PARTS: Final = ("xxxx", "****", "example", "changeme", "change_me", "placeholder", "your_", "your-",
                             "redacted", "dummy", "...", "\u2026")
_TEMPLATE = re.compile(r"\{\{|\}\}|\$\{|\$\(|%\(|%s|%d|\{[A-Za-z0-9_.]*\}|^<.*>$|^\[.*\]$|^\$[A-Za-z_]")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_WORDISH = re.compile(r"[A-Za-z]+(?:[_\-. /][A-Za-z]+)*")
_DOTTED_NAME = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[-+]?[0-9][0-9_.,:eExX+-]*")
_AWS_SECRET_SHAPE = re.compile(r"[A-Za-z0-9/+]{40}")


def _entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _class_changes(value: str) -> float:
    """Share of adjacent character pairs that switch class (lower/upper/digit/other): high for random strings."""
    if len(value) < 2:
        return 0.0
    classes = [0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3 for ch in value]
    return sum(a != b for a, b in zip(classes, classes[1:], strict=False)) / (len(value) - 1)


def _is_placeholder(value: str) -> bool:
    """True for empty values, obvious stand-ins, templates, references and our own redactions."""
    v = value.strip()
    if not v:
        return True
    low = v.lower()
    if "[redacted" in low or "redacted]" in low:
        return True
    if low in _PLACEHOLDER_WORDS or low.strip("<>[]{}()*._- ") in _PLACEHOLDER_WORDS:
        return True
    if len(set(low)) <= 2 or not set(low) - set("x*.-_#0<>"):  # xxxx, ****, ..., <xxx>
        return True
    if _TEMPLATE.search(v) or low.startswith(_PLACEHOLDER_STARTS):
        return True
    return any(part in low for part in _PLACEHOLDER_PARTS)


def _looks_random(value: str, min_len: int) -> bool:
    """True when a value looks machine-generated: long enough, mixed characters, high entropy."""
    if len(value) < min_len or _UUID.fullmatch(value):
        return False
    if "://" in value or value.startswith(("/", "./", "../", "~")):
        return False
    kinds = any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    if kinds < 2 or _WORDISH.fullmatch(value) or _DOTTED_NAME.fullmatch(value):
        return False
    return _entropy(value) >= 3.3 and _class_changes(value) >= 0.25


def _distinct_enough(core: bytes, minimum: int = 10) -> bool:
    """A real token's random part uses many different characters; ghp_xxxx... does not."""
    return len(set(core)) >= minimum and not _is_placeholder(core.decode("ascii", "replace"))


def _free_before(data: bytes, start: int, extra: bytes = b"") -> bool:
    """The match does not continue a longer word to its left."""
    return start == 0 or (data[start - 1] not in _WORD_BYTES and data[start - 1] not in extra)


def _free_after(data: bytes, end: int, extra: bytes = b"") -> bool:
    """The match does not run on into a longer word to its right."""
    return end >= len(data) or (data[end] not in _WORD_BYTES and data[end] not in extra)


def _text(data: bytes, start: int, end: int) -> str:
    """A candidate value as str, for the heuristics."""
    return data[start:end].decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------
# Detectors: each takes (data, lowered) -- UTF-8 bytes and their ASCII-lower-cased copy --
# and yields candidates (start, end, kind) in byte offsets.

Detector = Callable[[bytes, bytes], Iterator[_Candidate]]

# Fixed-format tokens: (kind, regex starting with a literal, bytes that may not touch it).
_TOKEN_RULES: Final[tuple[tuple[str, re.Pattern[bytes], bytes], ...]] = (
    ("github-token", re.compile(rb"gh[pousr]_[A-Za-z0-9]{36,251}"), b""),
    ("github-token", re.compile(rb"github_pat_[A-Za-z0-9_]{50,255}"), b""),
    ("google-api-key", re.compile(rb"AIza[0-9A-Za-z_\-]{35}"), b"-"),
    ("slack-token", re.compile(rb"xox(?:[abposr]|e\.xox[bp]|e)-[A-Za-z0-9\-]{10,250}"), b"-"),
    ("slack-token", re.compile(rb"xapp-\d-[A-Za-z0-9\-]{10,250}"), b"-"),
    ("gitlab-token", re.compile(rb"glpat-[A-Za-z0-9_\-]{20,100}"), b"-"),
    ("npm-token", re.compile(rb"npm_[A-Za-z0-9]{36}"), b""),
    ("pypi-token", re.compile(rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,2000}"), b"-"),
    ("huggingface-token", re.compile(rb"hf_[A-Za-z0-9]{30,60}"), b""),
    ("sendgrid-key", re.compile(rb"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}"), b"-"),
    ("jwt", re.compile(rb"eyJ[A-Za-z0-9_\-]{10,4000}\.eyJ[A-Za-z0-9_\-]{10,8000}\.[A-Za-z0-9_\-]{16,1000}"), b"-."),
)


def _tokens(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """Provider tokens with a fixed, documented prefix."""
    for kind, pattern, touching in _TOKEN_RULES:
        for m in pattern.finditer(data):
            start, end = m.span()
            if not (_free_before(data, start, touching) and _free_after(data, end, touching)):
                continue
            token = m.group()
            core = token if kind == "jwt" else token[max(token.find(b"_"), token.find(b"-"), token.find(b".")) + 1:]
            if _distinct_enough(core):
                yield start, end, kind


_SK = re.compile(rb"sk-(ant-|or-v1-|proj-|svcacct-|admin-)?([A-Za-z0-9_\-]{20,300})")
_SK_KIND: Final = {b"ant-": "anthropic-key", b"or-v1-": "openrouter-key", b"proj-": "openai-key",
                   b"svcacct-": "openai-key", b"admin-": "openai-key"}


def _sk_keys(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """Anthropic (sk-ant-), OpenRouter (sk-or-v1-) and OpenAI-style (sk-proj-, sk-...) keys."""
    for m in _SK.finditer(data):
        start, end = m.span()
        if not (_free_before(data, start, b"-") and _free_after(data, end, b"-")):
            continue
        sub, core = m.group(1), m.group(2)
        if sub is None:
            # plain sk-<32+ letters and digits>: OpenAI's older keys and OpenAI-compatible providers
            if len(core) < 32 or not core.isalnum() or core.isalpha() or core.isdigit():
                continue
            kind = "openai-key"
        else:
            kind = _SK_KIND[sub]
        if _distinct_enough(core):
            yield start, end, kind


_STRIPE = re.compile(rb"k_live_[0-9A-Za-z]{20,247}")


def _stripe(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """Stripe live secret (sk_live_) and restricted (rk_live_) keys."""
    for m in _STRIPE.finditer(data):
        start, end = m.start() - 1, m.end()
        if start >= 0 and data[start] in b"sr" and _free_before(data, start) and _free_after(data, end):
            if _distinct_enough(m.group()[7:]):
                yield start, end, "stripe-key"


_AWS_ID = re.compile(rb"(?:AKIA|ASIA)[A-Z2-7]{16}")
_AWS_SECRET_ON_LINE = re.compile(rb"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _aws(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """AWS access key ids, and a 40-character secret key on the same line as one."""
    for m in _AWS_ID.finditer(data):
        start, end = m.span()
        if not (_free_before(data, start) and _free_after(data, end)) or b"EXAMPLE" in m.group():
            continue
        yield start, end, "aws-access-key"
        line_start = data.rfind(b"\n", 0, start) + 1
        line_end = data.find(b"\n", end)
        for s in _AWS_SECRET_ON_LINE.finditer(data, line_start, len(data) if line_end < 0 else line_end):
            value = s.group().decode("ascii")
            if _looks_random(value, 40) and "EXAMPLE" not in value:
                yield s.start(), s.end(), "aws-secret-key"


_PEM_BEGIN = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(rb"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_NL = rb"(?:\r?\n|(?:\\r)?\\n)"  # a real line break, or one escaped inside a JSON/code string
_PEM_BODY = re.compile(rb"(?:[ \t]|" + _NL + rb")*(?:[A-Za-z-]+:[^\n\\]*" + _NL + rb"(?:[ \t]|" + _NL
                       + rb")*)*[A-Za-z0-9+/=]{32,}")
_PEM_TAIL = re.compile(rb"(?:" + _NL + rb"[A-Za-z0-9+/=]+)*")
_PUTTY = re.compile(rb"Private-Lines: *\d+\r?\n(?:[A-Za-z0-9+/=]+\r?\n?)+")
_PEM_MAX: Final = 200_000


def _private_keys(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """PEM private keys of every flavour (RSA, EC, DSA, OPENSSH, PKCS#8, encrypted, PGP) and PuTTY keys."""
    for m in _PEM_BEGIN.finditer(data):
        body = _PEM_BODY.match(data, m.end())
        if body is None:  # only the header, e.g. code that parses PEM files
            continue
        end_marker = _PEM_END.search(data, body.end(), body.end() + _PEM_MAX)
        if end_marker is not None:
            yield m.start(), end_marker.end(), "private-key"
        else:  # truncated: take the key material that follows
            tail = _PEM_TAIL.match(data, body.end())
            yield m.start(), tail.end() if tail else body.end(), "private-key"
    for m in _PUTTY.finditer(data):
        yield m.start(), m.end(), "private-key"


_SLACK_HOOK = re.compile(rb"hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,300}")


def _slack_webhooks(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """Slack incoming-webhook URLs (the URL itself is the credential)."""
    for m in _SLACK_HOOK.finditer(data):
        start = m.start()
        for scheme in (b"https://", b"http://"):
            if data.startswith(scheme, start - len(scheme)):
                start -= len(scheme)
                break
        yield start, m.end(), "slack-webhook"


_URL_CREDENTIALS = re.compile(rb"://([^\s:/?#@'\"<>()\[\]{}]{0,128}):([^\s/?#@'\"<>]{1,256})@[A-Za-z0-9\[]")


def _url_passwords(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """The password in scheme://user:password@host URLs (database URLs, git remotes, proxies)."""
    for m in _URL_CREDENTIALS.finditer(data):
        if not _is_placeholder(_text(data, *m.span(2))):
            yield m.start(2), m.end(2), "url-password"


_AUTH_HEADER = re.compile(rb"(bearer|basic)[ \t]+([a-z0-9._~+/\-]{16,4000}=*)")


def _auth_headers(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """Credentials after 'Bearer ' or 'Basic ' (HTTP Authorization headers, curl commands)."""
    for m in _AUTH_HEADER.finditer(lowered):
        if not _free_before(lowered, m.start()):
            continue
        start, end = m.span(2)
        value = _text(data, start, end)
        if _is_placeholder(value) or not _looks_random(value.rstrip("="), 16):
            continue
        yield start, end, "bearer-token" if m.group(1) == b"bearer" else "basic-auth"


# Key = value assignments. Each regex starts at a secret-ish word in the lower-cased bytes;
# the key must end with that word (db_password, apiKey, "client_secret", SECRET_KEY...).
_OPERATOR = (rb"""(?P<plural>s)?(?P<kq>["'])?[ \t]*(?P<ann>:[ \t]*[a-z_][\w.\[\], |]{0,40}?[ \t]*)?"""
             rb"""(?P<op>:=|=>|=(?!=)|:(?![:=]))[ \t]*""")
_VALUE = (rb"""(?:(?P<prefix>[rbuf]{0,2})(?:"(?P<dq>[^"\n]{0,512})"|'(?P<sq>[^'\n]{0,512})'|`(?P<bq>[^`\n]{0,512})`)"""
          rb"""|(?P<bare>[^\s"'`,;&()\[\]{}<>]{1,512}))""")
_ASSIGNMENT_RULES: Final[tuple[tuple[str, re.Pattern[bytes]], ...]] = tuple(
    (kind, re.compile(rb"(?P<word>" + word + rb")" + _OPERATOR + _VALUE))
    for kind, word in (
        ("password-assignment", rb"pass(?:w(?:or)?d|phrase)?"),
        ("password-assignment", rb"pwd"),
        ("generic-secret-assignment", rb"secret(?:[_\-]?key)?"),
        ("generic-secret-assignment", rb"token"),
        ("generic-secret-assignment", rb"api[_\-]?key"),
        ("generic-secret-assignment", rb"access[_\-]?key"),
        ("generic-secret-assignment", rb"private[_\-]?key"),
        ("generic-secret-assignment", rb"auth[_\-]?key"),
        ("generic-secret-assignment", rb"credentials?"),
    )
)
_CODE_WORDS: Final = frozenset("""
    str string bytes bool boolean int integer float number none null nil true false undefined optional any
    object dict list tuple set self cls this new return await async lambda function def var let const
    type secretstr secretbytes text char varchar blob
""".split())
_NOT_SECRET_TOKEN = re.compile(
    r"next|page|continuation|pagination|cursor|change|request|idempot|output|input|max|min|count|limit|type|kind"
    r"|name|url|uri|endpoint|header|cookie|field|param|lifecycle|purchase|sync|marker|offset|seq|stream"
    r"|verification|num|total|budget|usage|prompt|completion|bos|eos|pad|unk|mask|sep|cls|special|start|stop|end")
_KEY_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _key_start(lowered: bytes, word_start: int) -> int:
    """Where the key that ends with the secret word begins (at most 80 bytes back)."""
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


def _assignments(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """password=/secret=/token=/api_key: assignments whose value is a literal, not code."""
    for kind, pattern in _ASSIGNMENT_RULES:
        for m in pattern.finditer(lowered):
            word_start = m.start()
            if m.group("word") == b"pass" and word_start > 0 and 0x61 <= lowered[word_start - 1] <= 0x7A:
                continue  # bypass=, compass:
            group = next(g for g in ("bare", "dq", "sq", "bq") if m.group(g) is not None)
            start, end = m.span(group)
            value = _text(data, start, end)
            key_start = _key_start(lowered, word_start)
            if group == "bare":
                if not _bare_literal(data, lowered, m, value, key_start, end):
                    continue
            elif b"f" in m.group("prefix"):
                continue  # an f-string is built by code
            key = lowered[key_start:m.end("word")].decode("ascii", "replace")
            found = _classify(kind, key, value)
            if found is not None:
                yield start, end, found


def _bare_literal(data: bytes, lowered: bytes, m: re.Match[bytes], value: str, key_start: int, end: int) -> bool:
    """An unquoted value counts only where it cannot be code: not a name, call, attribute or keyword."""
    if m.group("ann"):
        return False  # 'password: str = x' with x unquoted: an expression
    if end < len(data) and data[end] in b"([.{":
        return False  # a call, subscript or attribute: input(...), os.environ[...]
    if value.lower() in _CODE_WORDS or _DOTTED_NAME.fullmatch(value) or _NUMBER.fullmatch(value):
        return False
    config = _config_style(lowered, key_start)
    if _IDENTIFIER.fullmatch(value):
        # a plain name is a variable in code; in config it needs a digit to look like a password
        return config and len(value) >= 6 and any(c.isdigit() for c in value) and not value.isdigit()
    return config or m.group("op") in (b"=", b":=")


def _classify(kind: str, key: str, value: str) -> str | None:
    """The finding kind for key=value, or None when the value is not a plausible secret."""
    if _is_placeholder(value) or any(c.isspace() for c in value):
        return None
    if _AWS_SECRET_SHAPE.fullmatch(value) and "secret" in key and ("aws" in key or "access" in key):
        return "aws-secret-key" if _looks_random(value, 40) else None
    if kind == "password-assignment":
        if len(value) < 4 or _WORDISH.fullmatch(value) or value.startswith(("/", "./", "~/", "http")):
            return None
        if _IDENTIFIER.fullmatch(value) and (value.isupper() or value.islower()) and not any(
                c.isdigit() for c in value):
            return None
        return kind
    if "://" in value or value.startswith(("/", "./", "~/")) or _DOTTED_NAME.fullmatch(value):
        return None
    if key.endswith(("token", "tokens")) and _NOT_SECRET_TOKEN.search(key):
        return None  # pagination cursors, idempotency keys, token counts...
    return kind if _looks_random(value, 8) else None


_ENV_LINE = re.compile(rb"[ \t]*+(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]{0,100}+)=(?P<q>[\"']?)"
                       rb"(?P<val>[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16,2000})(?P=q)[ \t]*(?:#[^\n]*)?(?=\r?\n|\Z)")
# '=' then 16 value bytes: a literal-led pass far cheaper than trying every line start.
_ENV_HINT = re.compile(rb"=[\"']?[A-Za-z0-9_+/=.~:@%!^*?&|$-]{16}")
_DIGEST_PREFIX = re.compile(r"(?:sha\d+|md5|blake2[bs]?)[-:=]", re.IGNORECASE)  # checksums, SRI hashes
_ENV_NOT_SECRET: Final = ("BOUNDARY", "INTEGRITY", "_SHA", "_COMMIT", "_HASH", "_CHECKSUM", "_DIGEST", "_VERSION",
                          "_ID", "_PATH", "_DIR", "_FILE", "_URL", "_URI", "_HOST", "_NAME", "_REV", "_TAG",
                          "_BRANCH", "_REGION", "_MODEL")


def _env_lines(data: bytes, lowered: bytes) -> Iterator[_Candidate]:
    """High-entropy values in .env-style NAME=value lines (no spaces around '=')."""
    done = -1
    for hint in _ENV_HINT.finditer(data):
        line_start = data.rfind(b"\n", 0, hint.start()) + 1
        if line_start <= done:
            continue
        done = line_start
        m = _ENV_LINE.match(data, line_start)
        if m is None:
            continue
        name = m.group("name").decode("ascii").upper()
        value = m.group("val").decode("ascii")
        if name.endswith(_ENV_NOT_SECRET) or _is_placeholder(value) or _DIGEST_PREFIX.match(value):
            continue
        if _looks_random(value, 16):
            yield m.start("val"), m.end("val"), "high-entropy-env-value"


_DETECTORS: Final[tuple[Detector, ...]] = (
    _private_keys, _tokens, _sk_keys, _stripe, _aws, _slack_webhooks, _url_passwords, _auth_headers,
    _assignments, _env_lines,
)
