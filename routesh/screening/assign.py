"""Is ``key = value`` a secret? The checks behind the screen's assignment pass (password=, api_key:, token := ...).

A pass (screen_passes) finds a secret word, the key around it, an operator and a literal value in one regex;
this module decides, from the key's words and the value, whether that literal is a credential or code/prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from .lazyre import LazyRe
from .values import is_placeholder, looks_random, word_like

_SPLIT_KEY = LazyRe(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_NUMBER = LazyRe(r"[-+]?[0-9][0-9_.,:eExX+-]*")
_NAME = LazyRe(r"[A-Za-z_$][\w$]*")
_LOWER_NAME = LazyRe(r"[a-z_][a-z0-9_]*")
_AWS_SECRET = LazyRe(r"[A-Za-z0-9/+]{40}")
_LETTER_WORDS = LazyRe(r"[A-Za-z]+(?:[^A-Za-z0-9\s][A-Za-z]+)*")  # hunter$two, correct-horse
_CODE_WORDS: Final = frozenset("""
    str string bytes bool boolean int integer float number none null nil true false undefined optional any
    object dict list tuple set self cls this new return await async lambda function def var let const
    type secretstr secretbytes text char varchar blob
""".split())
# Words of a token key that make it a cursor, a count or a name, not a credential (next_token, max_tokens...).
_NOT_SECRET_TOKEN: Final = frozenset("""
    next page continuation pagination cursor change request idempotency idempotent output input max min count
    limit type kind name url uri endpoint header cookie field param params lifecycle purchase sync marker offset
    seq stream verification num total budget usage prompt completion bos eos pad unk mask sep cls special start
    stop end csrf xsrf length len position pos index idx
""".split())
# Words after the secret word that make the key a name, a path or a setting about the secret, not the secret.
_ABOUT_SECRET: Final = frozenset("""
    id ids name names type types url uri path paths file files dir env var vars ref hint label field fields prefix
    suffix format length len size count pattern regex re version endpoint method mode alg algorithm policy
    store manager provider class kind header headers expiry expires expiration ttl timeout arn hash salt
    rotation reset changed set required enabled placeholder min max chars validator validation rules
    strength confirm confirmation input prompt description
""".split())
# Words before 'key' that name a database, dictionary or UI key, not a secret (primaryKey, sort_key...).
_ORDINARY_KEY: Final = frozenset("""
    primary foreign sort partition range hash composite unique cache dict map row column lookup index object
    public pub foreign sharding shard routing group entry item node idempotency dedup message storage
    registry translation i18n hot short shortcut keyboard react list query lock data
""".split())


def key_words(key: str) -> list[str]:
    """A key's words, lower-cased: ``typeformAPIToken_TOKEN`` -> typeform, api, token, token."""
    return [w.lower() for w in _SPLIT_KEY.findall(key)]


def _after(words: list[str], stem: str) -> list[str]:
    """The words that follow the last word starting with the secret stem."""
    for i in range(len(words) - 1, -1, -1):
        if words[i].startswith(stem):
            return words[i + 1:]
    return []


def _before(words: list[str], stem: str) -> list[str]:
    """The words that come before the first word starting with the secret stem."""
    for i, w in enumerate(words):
        if w.startswith(stem):
            return words[:i]
    return words


def key_is_about_secret(key: str, stem: str) -> bool:
    """The key names something about a secret (``token_type``, ``password_hash``, ``primaryKey``), not one."""
    words = key_words(key)
    after = [w for w in _after(words, stem) if not w.isdigit()]
    if any(w in _ABOUT_SECRET for w in after[:2]):
        return True
    if stem in ("token", "tok") and any(w in _NOT_SECRET_TOKEN for w in words):
        return True
    if stem == "key":  # 'key' alone is too common: only api_key, signing_key, MASTER_KEY... (a word before it)
        while words and words[-1].isdigit():
            words = words[:-1]
        if any(w.startswith("pub") for w in words):
            return True  # pubkey, public_key: not secret
        before = _before(words, "key")
        return not before or before[-1] in _ORDINARY_KEY
    return False


def bare_is_code(value: str, followed_by: bytes, annotated: bool, config: bool, op: bytes) -> bool:
    """An unquoted value is code (a name, call, attribute, keyword or number), not a literal."""
    if annotated:
        return True  # 'password: str = x' with x unquoted: an expression
    if followed_by and followed_by in b"([{":
        return True  # a call or subscript: input(...), os.environ[...]
    low = value.lower()
    if low in _CODE_WORDS or _NUMBER.fullmatch(value):
        return True
    if value.endswith(",") or value.endswith(";"):
        value = value[:-1]
    names = value.split(".")
    if all(_NAME.fullmatch(n) for n in names):  # a name or dotted name
        dotted = len(names) > 1  # self.passwd.add_password: a chain of lower-case names is code
        if all(word_like(n) or len(n) <= 3 or (dotted and _LOWER_NAME.fullmatch(n)) for n in names):
            return True  # self.password, config.db.token, PKCS7PrivateKeyTypes
        return not config and op not in (b"=", b":=") and not looks_random(value, 12)
    return not config and op not in (b"=", b":=", b":")


def classify(kind: str, stem: str, key: str, value: str) -> str | None:
    """The finding kind for key=value, or None when the value is not a plausible secret."""
    if is_placeholder(value) or any(c.isspace() for c in value):
        return None
    low_key = key.lower()
    if len(value) == 40 and "secret" in low_key and ("aws" in low_key or "access" in low_key):
        if _AWS_SECRET.fullmatch(value):
            return "aws-secret-key" if looks_random(value.replace("/", "").replace("+", ""), 30) else None
    if key_is_about_secret(key, stem):
        return None
    if "://" in value or value.startswith(("/", "./", "~/", "http")):
        return None
    if kind == "password-assignment":
        if len(value) < 4:
            return None
        if _LETTER_WORDS.fullmatch(value) and word_like(value):
            return None  # PASSWORD_FIELD = "password", passwd = "Secret"
        return kind
    if looks_random(value, 8):
        return kind
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return kind if mixed and len(value) >= 10 and not word_like(value.replace("-", "").replace("_", "")) else None


_KEY_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-$\x01")  # \x01: k x j z when shaped
_BARE = LazyRe(rb"""[ \t]*([^\s"'`,;&()\[\]{}<>\\]{1,512})""")


def _key_start(shaped: bytes, word_start: int) -> int:
    """Where the key that holds the secret word begins (at most 80 bytes back)."""
    i = word_start
    while i > 0 and word_start - i < 80 and shaped[i - 1] in _KEY_BYTES:
        i -= 1
    return i


def _config_style(shaped: bytes, key_start: int) -> bool:
    """The key starts its line, follows ';' '&' '?' (connection strings, queries) or 'export', or is a --flag."""
    if shaped.startswith(b"-", key_start):
        return True  # a command-line flag: --password=..., -p...
    i = key_start
    while i > 0 and shaped[i - 1] in b" \t\"'":
        i -= 1
    if i == 0 or shaped[i - 1] in b"\n;&?":
        return True
    return shaped.endswith(b"e\x01port ", 0, key_start)  # 'export ' in the shaped text


def assignment(data: bytes, shaped: bytes, m: re.Match[bytes], g: str, stem: bytes, word_start: int
               ) -> Iterator[tuple[int, int, str]]:
    """key = literal: the value of a password/secret/token/key assignment, when it is not code or a stand-in.

    ``m`` matched the secret word at ``word_start`` and the assignment tail (its groups prefixed ``g``)."""
    if stem == b"tok" and data[word_start + 3:word_start + 4].islower():
        return  # 'tok' must end its word (tok, tok_old, tokValue), not begin one (tokenize, tokens)
    if stem == b"pass" and word_start > 0 and 0x61 <= data[word_start - 1] | 0x20 <= 0x7A \
            and not 0x41 <= data[word_start] <= 0x5A:
        return  # bypass=, compass: (but dbPass= is a key)
    group = next(x for x in ("bare", "dq", "sq", "bq") if m.group(g + x) is not None)
    start, end = m.span(g + group)
    value = data[start:end].decode("utf-8", "replace")
    key_start = _key_start(shaped, word_start)
    op = m.group(g + "op")
    if m.group(g + "gotype") is not None and op != b"=":
        return  # 'var name type = ...' is Go; 'passed to :func:' is prose
    if op.isspace() and not shaped[data.rfind(b"\n", 0, key_start) + 1:key_start].lstrip().startswith(b"#"):
        return  # 'KEY "value"' only in a C '#define KEY "value"'
    ann = m.group(g + "ann")
    if ann is not None and op == b"=" and group == "bare" and not ann[-1:].isspace():
        # 'key: abc=def' (YAML with '=' in the value), not an annotation: the value starts after ':'
        bare = _BARE.match(data, m.start(g + "ann") + 1)
        if bare is not None:
            start, end, ann = bare.start(1), bare.end(1), None
            value, op = data[start:end].decode("utf-8", "replace"), b":"
    if group == "bare":
        nxt = data[end:end + 1]
        if bare_is_code(value, nxt, ann is not None, _config_style(shaped, key_start), op):
            return
    elif b"f" in m.group(g + "prefix"):
        return  # an f-string is built by code
    kind = "password-assignment" if stem in (b"pass", b"pwd") else "generic-secret-assignment"
    key = data[key_start:m.end(g + "suffix")].decode("utf-8", "replace")
    found = classify(kind, stem.decode(), key, value)
    if found is not None:
        yield start, end, found
