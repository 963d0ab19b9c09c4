"""Is this value a secret? Placeholder, randomness and word-likeness checks for the screen's few candidates.

Pure functions on short str values; nothing here sees the whole prompt, so plain Python is fast enough.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Final

from .lazyre import LazyRe

_PLACEHOLDER_WORDS: Final = frozenset("""
    changeme change_me changethis change-me password passwd pass pwd passphrase secret secrets token
    key apikey api_key api-key example examples sample dummy fake test testing tests foo bar baz qux
    none null nil undefined true false yes no redacted placeholder todo fixme tbd xxx n/a na empty
    default mysecret mypassword your_password your-password yourpassword your_token your-token
    your_api_key your-api-key yourapikey your_secret secret_key secretkey my_secret my-secret
    hunter2 letmein admin root guest user username password123 secret123 string str bytes
    value required optional env environment unset missing invalid abc xyz abc123 123456 12345678 qwerty
""".split())
# Stand-in markers: a value that starts with one is a placeholder unless what follows is random.
_SOFT_STARTS: Final = ("your", "my_", "my-", "mock", "insert", "replace", "enter", "put_", "put-", "example",
                       "dummy", "fake", "sample", "test-", "test_", "test.", "...")
_REFERENCE_STARTS: Final = ("<", "$", "%", "@", "!", "&", "*")  # templates, shell/YAML/vault references
_PLACEHOLDER_PARTS: Final = ("xxxx", "****", "example", "changeme", "change_me", "placeholder", "your_", "your-",
                             "redacted", "dummy", "...", "\u2026", "<your", "replace_me", "replace-me")
_TEMPLATE = LazyRe(r"\{\{|\}\}|\$\{|\$\(|%\([a-z_]+\)[sd]|%[-+ 0-9.]*[sdifrxX]|\{[A-Za-z0-9_.]*\}"
                       r"|^<.*>$|^\[.*\]$")
_REFERENCE = LazyRe(r"(?<![A-Za-z0-9])\$[A-Za-z_][A-Za-z0-9_]*|\$\{[^}]*\}|\$\([^)]*\)|%[A-Z_][A-Z0-9_]*%")
_UUID = LazyRe(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SEGMENTS = LazyRe(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_VOWELS: Final = frozenset("aeiou")
_ONSETS: Final = frozenset(
    "bl br ch cl cr dr fl fr gl gn gr kn ph pl pr ps qu sc sh sk sl sm sn sp st sw th tr tw wh wr".split())


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values()) if n else 0.0


def class_changes(value: str) -> float:
    """Share of adjacent character pairs that switch class (lower/upper/digit/other): high for random strings."""
    if len(value) < 2:
        return 0.0
    classes = [0 if ch.islower() else 1 if ch.isupper() else 2 if ch.isdigit() else 3 for ch in value]
    return sum(a != b for a, b in zip(classes, classes[1:], strict=False)) / (len(value) - 1)


def word_like(value: str) -> bool:
    """True for names and words (``PKCS7PrivateKeyTypes``, ``authorization_code``, ``db.password``), False for
    machine-made strings (``RCuu4ff2jAtny``, ``hJkLmNqRsTvW``): words come in few, long, pronounceable pieces."""
    segments = _SEGMENTS.findall(value)
    letters = [s for s in segments if not s.isdigit()]
    if not letters:
        return False
    if sum(len(s) for s in segments) < 0.6 * len(value):
        return False  # mostly punctuation or other symbols
    digits = len(segments) - len(letters)
    if digits > max(1, len(letters) // 2) or sum(len(s) for s in segments if s.isdigit()) > 4:
        return False
    mixed = any(c.islower() for c in value) and any(c.isupper() for c in value)
    if sum(_odd(s, mixed) for s in letters) > max(1, len(letters) // 3):
        return False  # pieces too short or unpronounceable: 'Lg', 'QVJ', 'kjjalqy', 'Tpaf'
    if len(letters) >= 5 and sum(len(s) for s in letters) < 3.5 * len(letters):
        return False  # many short pieces: PpizsVNXIRhoBYALgQVJ
    return True


def _odd(segment: str, mixed_case: bool) -> bool:
    """A piece that is not a word: too short, hardly a vowel, a first consonant pair no English word starts
    with (acronyms aside: PKCS, HTTP), or a long upper-case run inside a mixed-case value."""
    low = segment.lower()
    if len(low) <= 2 or sum(c in _VOWELS for c in low) < 0.2 * len(low):
        return True
    if segment.isupper():
        return mixed_case and len(segment) >= 7
    return low[0] not in _VOWELS and low[1] not in _VOWELS and low[1] != "y" and low[:2] not in _ONSETS


def _path_like(value: str) -> bool:
    """A file path: every part between slashes is a name, not random characters."""
    parts = [p for p in re.split(r"[/.~]+", value) if p]
    return all(len(p) <= 3 or word_like(p) for p in parts)


def looks_random(value: str, min_len: int) -> bool:
    """True when a value looks machine-generated: long enough, mixed characters, high entropy, not words."""
    if len(value) < min_len or _UUID.fullmatch(value):
        return False
    if "://" in value or (value.startswith(("/", "./", "../", "~")) and _path_like(value)):
        return False
    kinds = any(c.islower() for c in value) + any(c.isupper() for c in value) + any(c.isdigit() for c in value)
    if kinds < 2 or word_like(value):
        return False
    threshold = min(3.3, 0.8 * math.log2(len(value)))
    # a long value that is not words may keep its case for a few characters at a time
    return entropy(value) >= threshold and (class_changes(value) >= 0.2 or len(value) >= 16)


def _template_only(value: str) -> bool:
    """The value is a format string or reference: what is left without its templates is not random."""
    rest = _TEMPLATE.sub("", _REFERENCE.sub("", value))
    return len(rest) < 8 or not looks_random(rest, 8)


def is_placeholder(value: str) -> bool:
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
    if any(part in low for part in _PLACEHOLDER_PARTS):
        return True
    if (_TEMPLATE.search(v) or _REFERENCE.search(v) or low.startswith(_REFERENCE_STARTS)) and _template_only(v):
        return True
    for start in _SOFT_STARTS:  # test_..., sample-..., your...: a stand-in unless the rest is random
        if low.startswith(start):
            return not looks_random(v[len(start):].lstrip("_-."), 8)
    return False


def distinct_enough(core: bytes, minimum: int = 10) -> bool:
    """A real token's random part uses many different characters; ghp_xxxx... does not."""
    return len(set(core)) >= minimum and not is_placeholder(core.decode("ascii", "replace"))
