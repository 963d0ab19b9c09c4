"""What a key lookup says (source, presence, problem), and the Secret that never shows its value.

The values every keys module shares: the keyring names (a contract, see keys/secrets.py), the problem a keyring
can have (KeyringUnavailable) and the rows `keys list`, doctor and plans show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SERVICE = "routesh"
APPLICATION = "routesh"

Source = Literal["keyring", "env", "none"]
Kind = Literal["no-dbus", "no-service", "locked", "no-collection", "disabled", "insecure", "backend", "error"]

# Kinds that mean "this machine has no usable keyring": a strict lookup may then use key_env,
# because no keyring entry can exist that ought to beat it.  Every other kind is raised.
SOFT_KINDS: frozenset[str] = frozenset({"no-dbus", "no-service", "disabled"})


class KeyringUnavailable(Exception):
    """The OS keyring cannot be used: the message says which problem (line 1) and what to do (line 2)."""

    def __init__(self, kind: Kind, problem: str, fix: str) -> None:
        super().__init__(f"{problem}\n{fix}")
        self.kind: Kind = kind
        self.problem = problem
        self.fix = fix

    @property
    def soft(self) -> bool:
        """True when the machine simply has no keyring, so key_env may stand in for it."""
        return self.kind in SOFT_KINDS

    def with_env_hint(self, env_var: str | None) -> KeyringUnavailable:
        """The same problem, with the provider's key_env offered as the other way out."""
        if not env_var or not self.soft:
            return self
        fix = self.fix.rstrip(".") + f"; or set {env_var} instead."
        return KeyringUnavailable(self.kind, self.problem, fix)


class Secret:
    """A key value that never shows itself in repr, str, format, logs or pickles."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that sends it (an HTTP header or a child's env)."""
        return self._value

    @property
    def masked(self) -> str:
        """What users may see: a public prefix and at most the last 4 characters."""
        return mask(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked!r})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac  # lazily: hashlib's OpenSSL load costs ~3 ms at every start

        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a Secret is not picklable: keys must not be written anywhere")


def fingerprint(value: str) -> str:
    """sha256 of a key, cut to 16 hex digits: enough to compare two keys, useless to recover one."""
    import hashlib

    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]


def mask(value: str) -> str:
    """A key's public face: 'sk-' if it has it, then '…', then the last 4 chars if it is long enough."""
    prefix = "sk-" if value.startswith("sk-") else ""
    rest = value[len(prefix):]
    tail = rest[-4:] if len(rest) >= 16 else ""  # a short value would give away too large a share
    return f"{prefix}…{tail}"


@dataclass(frozen=True)
class KeyLookup:
    """Where a provider's key for a profile comes from, holding the value out of sight."""

    profile: str
    provider: str
    source: Source
    present: bool
    env_var: str | None = None
    needed: bool = True  # False for `key: none` and subscription providers
    problem: str | None = None  # why the keyring could not be consulted (non-strict lookups)
    secret: Secret | None = field(default=None, repr=False, compare=False)

    @property
    def value(self) -> str | None:
        """The key itself, or None when absent or not fetched (fetch=False)."""
        return self.secret.reveal() if self.secret is not None else None

    @property
    def masked(self) -> str:
        """The key as users may see it ('sk-…x7Q2'), or '' when there is no value to show."""
        return self.secret.masked if self.secret is not None else ""

    @property
    def fingerprint(self) -> str | None:
        """A hash of the key, to tell two profiles that resolve to the same credential (None when not fetched)."""
        return fingerprint(self.secret.reveal()) if self.secret is not None else None

    def public(self) -> dict[str, object]:
        """The JSON-safe view for --dry-run --json, `keys list` and doctor; never the value."""
        return {
            "source": self.source,
            "present": self.present,
            "env_var": self.env_var,
            "needed": self.needed,
            "masked": self.masked or None,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class KeyRow:
    """One line of `routesh keys list`: a (profile, provider) pair and where its key comes from."""

    profile: str
    provider: str
    source: Source
    present: bool
    env_var: str | None
    masked: str
    needed: bool
    problem: str | None = None
    fingerprint: str | None = field(default=None, repr=False)  # see KeyLookup.fingerprint; never shown


@dataclass(frozen=True)
class KeyringStatus:
    """What `routesh doctor` says about the keyring: which backend, and whether it works."""

    backend: str
    usable: bool
    detail: str | None = None
    kind: Kind | None = None
    problem: str | None = None
