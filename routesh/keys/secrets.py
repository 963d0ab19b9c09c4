"""Provider keys in the OS keyring, one entry per (profile, provider), with key_env as fallback.

Naming scheme (a contract: users find their keys with these names)
--------------------------------------------------------------------
Every key is one Secret Service item (one Keychain / Credential Manager entry elsewhere):

    service  = "routesh"
    username = "<profile>/<provider>"        e.g. "work-approved/anthropic"

Items written by routesh on the Secret Service also carry the attributes
``application=routesh``, ``profile=<profile>``, ``provider=<provider>`` and the label
``routesh: <provider> key for profile <profile>``.  Lookups match on service and username
only, so entries made with other tools are found too::

    secret-tool lookup service routesh username work-approved/anthropic
    secret-tool store --label 'routesh: anthropic key for profile work-approved' \
        service routesh username work-approved/anthropic
    secret-tool search --all service routesh
    keyring get routesh work-approved/anthropic        # the python `keyring` CLI

Lookup order: the profile's keyring entry, then the provider's ``key_env`` variable (after the
profile's override), then none.  Providers with ``key: none`` or ``auth: subscription`` need no
key and the keyring is not consulted.

Backends: on Linux and other Unix routesh talks to the Secret Service (gnome-keyring, KeePassXC,
KWallet >= 5.97) over the D-Bus session bus directly with jeepney, which is much faster than
`keyring`'s backend discovery and never prompts unless asked to.  ``PYTHON_KEYRING_BACKEND``,
a ``python_keyring/keyringrc.cfg`` and ``KEYRING_PROPERTY_*`` are honoured through the `keyring`
library; on macOS and Windows its native backend is used.  keyring's fail and null backends,
plaintext files (keyrings.alt) and any backend keyring itself rates as not recommended are
refused: routesh never falls back to a file.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from routesh.core.config import Config, Provider

SERVICE = "routesh"
APPLICATION = "routesh"

Source = Literal["keyring", "env", "none"]
Kind = Literal["no-dbus", "no-service", "locked", "no-collection", "disabled", "insecure", "backend", "error"]

# Kinds that mean "this machine has no usable keyring": a strict lookup may then use key_env,
# because no keyring entry can exist that ought to beat it.  Every other kind is raised.
SOFT_KINDS: frozenset[str] = frozenset({"no-dbus", "no-service", "disabled"})

_TIMEOUT_S = 5.0  # a wedged keyring daemon must not hang `routesh --dry-run`
_PROMPT_TIMEOUT_S = 120.0  # a human answering the desktop's unlock prompt
_SS_BUS = "org.freedesktop.secrets"
_SS_PATH = "/org/freedesktop/secrets"
_SS_IFACE = "org.freedesktop.Secret."
_SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
_DISABLED_BACKENDS = {
    "keyring.backends.fail.Keyring": "keyring's fail backend, which stores nothing",
    "keyring.backends.null.Keyring": "keyring's null backend, which disables the keyring",
}
_PLATFORM_BACKENDS = {"darwin": "keyring.backends.macOS.Keyring", "win32": "keyring.backends.Windows.WinVaultKeyring"}
_HEADLESS_UNLOCK = "headless: gnome-keyring-daemon --replace --unlock --components=secrets, password on stdin"


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


# --------------------------------------------------------------------------- public API


def username_for(profile: str, provider: str) -> str:
    """The keyring username of a (profile, provider) pair; see the naming scheme above."""
    for what, name in (("profile", profile), ("provider", provider)):
        if not name or "/" in name or any(c.isspace() or not c.isprintable() for c in name):
            raise ValueError(f"a {what} name used in the keyring must be non-empty, without '/' or spaces: {name!r}")
    return f"{profile}/{provider}"


def unusable_key(value: str) -> str | None:
    """Why a key value cannot go into a header (a line break would inject one), or None when it can."""
    for c in value:
        if c in "\r\n":
            return "contains a line break (a key must be one line; a pasted newline?)"
        if not c.isprintable() or not c.isascii() or c.isspace():
            return "contains a control character, a space or a non-ASCII character (a key is printable ASCII)"
    return None


def key_needed(provider: Provider) -> bool:
    """False for providers that take no key: `key: none`, or a subscription login Claude Code owns."""
    return provider.needs_key and provider.auth != "subscription"


# lookup_key's switches:
#   strict=False  never raises for an unusable keyring: the result falls through to key_env/none and
#                 `problem` says why (for --dry-run, `keys list`, doctor, the shell's status).
#   strict=True   (a real request) raises KeyringUnavailable, unless the only problem is that this
#                 machine has no keyring at all (SOFT_KINDS: no D-Bus, no Secret Service, keyring
#                 disabled) and key_env is set.  A locked entry always raises: it must win over env.
#   fetch=False   presence only: no secretstorage/cryptography import, no DH session (~40 ms less);
#                 `value` and `masked` are then empty for keyring keys.
#   prompt=True   lets the Secret Service show its unlock prompt (interactive `keys set` on a desktop).
def lookup_key(
    profile: str, provider: Provider, *, strict: bool = False, fetch: bool = True, prompt: bool = False
) -> KeyLookup:
    """The key a request under `profile` would use for `provider` (already overridden by the profile)."""
    username_for(profile, provider.name)  # bad names are the caller's bug, raised before any I/O
    if not key_needed(provider):
        return KeyLookup(profile, provider.name, "none", False, provider.key_env, needed=False)
    with _StoreOrProblem(prompt) as store:
        return _lookup(profile, provider, store, strict=strict, fetch=fetch)


def _lookup(
    profile: str, provider: Provider, store: _Store | KeyringUnavailable, *, strict: bool, fetch: bool
) -> KeyLookup:
    """lookup_key over an already opened store (or the reason there is none), so lists share one."""
    user = username_for(profile, provider.name)
    env_var = provider.key_env
    if not key_needed(provider):
        return KeyLookup(profile, provider.name, "none", False, env_var, needed=False)
    problem = store if isinstance(store, KeyringUnavailable) else None
    if problem is None:
        try:
            present, value = store.find(user, fetch=fetch)  # type: ignore[union-attr]
            if present and value is not None and (bad := unusable_key(value)):
                fix = f"store it again with `routesh keys set {provider.name} --profile {profile}`"
                return KeyLookup(profile, provider.name, "keyring", False, env_var,
                                 problem=f"the keyring entry {user} {bad}; {fix}")
            if present:
                return KeyLookup(profile, provider.name, "keyring", True, env_var, secret=_secret_or_none(value))
        except KeyringUnavailable as exc:
            problem = exc
    if problem is not None:
        problem = problem.with_env_hint(env_var)
        if strict and not problem.soft:
            raise problem from None
    env_value = os.environ.get(env_var) if env_var else None
    if env_value and (bad := unusable_key(env_value)):
        return KeyLookup(profile, provider.name, "env", False, env_var,
                         problem=f"${env_var} {bad}; set it to the key alone, e.g. "
                                 f"export {env_var}=\"$(printf %s \"${env_var}\" | tr -d '[:space:][:cntrl:]')\"")
    if env_value:
        note = str(problem) if problem else None
        return KeyLookup(profile, provider.name, "env", True, env_var, problem=note, secret=Secret(env_value))
    if problem is not None:
        if strict:
            raise problem from None
        return KeyLookup(profile, provider.name, "none", False, env_var, problem=str(problem))
    return KeyLookup(profile, provider.name, "none", False, env_var)


def set_key(profile: str, provider_name: str, secret: str, *, prompt: bool = False) -> None:
    """Store (or replace) the key of a (profile, provider) pair in the OS keyring."""
    user = username_for(profile, provider_name)
    value = secret.strip()
    if not value:
        raise ValueError("the key is empty")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise ValueError("the key contains spaces or control characters; paste only the key itself")
    attributes = {"application": APPLICATION, "profile": profile, "provider": provider_name}
    label = f"routesh: {provider_name} key for profile {profile}"
    with _open_store(prompt=prompt) as store:
        store.store(user, value, label, attributes)


def delete_key(profile: str, provider_name: str, *, prompt: bool = False) -> bool:
    """Remove the keyring entry of a (profile, provider) pair; False if there was none."""
    user = username_for(profile, provider_name)
    with _open_store(prompt=prompt) as store:
        return store.remove(user)


def list_keys(
    config: Config, profiles: list[str] | None = None, *, strict: bool = False, fetch: bool = True,
    providers: list[str] | None = None,
) -> tuple[KeyRow, ...]:
    """Per profile and provider (default: all of both), where the key would come from and its masked tail."""
    names = profiles if profiles is not None else list(config.profiles)
    rows: list[KeyRow] = []
    with _StoreOrProblem(prompt=False) as store:  # one connection and one crypto session for the table
        for pname in names:
            prof = config.profiles[pname]
            for provider_name in providers if providers is not None else config.providers:
                provider = config.provider_in(prof, provider_name)
                found = _lookup(pname, provider, store, strict=strict, fetch=fetch)
                rows.append(
                    KeyRow(pname, provider_name, found.source, found.present, found.env_var, found.masked,
                           found.needed, found.problem, found.fingerprint)
                )
    return tuple(rows)


def keyring_status() -> KeyringStatus:
    """Probe the keyring for `routesh doctor` without reading any key or prompting."""
    try:
        with _open_store(prompt=False) as store:
            return store.status()
    except KeyringUnavailable as exc:
        return KeyringStatus(backend=_backend_label(), usable=False, kind=exc.kind, problem=str(exc))


def how_to_set(profile: str, provider: Provider) -> str:
    """The one-line fix for a missing key, naming both ways to provide it."""
    cmd = f"routesh keys set {provider.name} --profile {profile}"
    return f"run `{cmd}`" + (f", or export {provider.key_env}" if provider.key_env else "")


# --------------------------------------------------------------------------- backend choice


class _Store(Protocol):
    """What routesh needs from a keyring backend, whichever it is."""

    def find(self, user: str, *, fetch: bool) -> tuple[bool, str | None]: ...

    def store(self, user: str, secret: str, label: str, attributes: dict[str, str]) -> None: ...

    def remove(self, user: str) -> bool: ...

    def status(self) -> KeyringStatus: ...

    def close(self) -> None: ...


class _StoreContext:
    """Opens the chosen backend and always closes its connection."""

    def __init__(self, prompt: bool) -> None:
        self._prompt = prompt
        self._store: _Store | None = None

    def __enter__(self) -> _Store:
        self._store = _choose_store(self._prompt)
        return self._store

    def __exit__(self, *exc: object) -> None:
        if self._store is not None:
            self._store.close()


class _StoreOrProblem:
    """Like _StoreContext, but hands over the KeyringUnavailable instead of raising it."""

    def __init__(self, prompt: bool) -> None:
        self._prompt = prompt
        self._store: _Store | None = None

    def __enter__(self) -> _Store | KeyringUnavailable:
        try:
            self._store = _choose_store(self._prompt)
        except KeyringUnavailable as exc:
            return exc
        return self._store

    def __exit__(self, *exc: object) -> None:
        if self._store is not None:
            self._store.close()


def _open_store(*, prompt: bool) -> _StoreContext:
    """The keyring backend routesh will use, as a context manager."""
    return _StoreContext(prompt)


def _keyring_config_file() -> str:
    """keyring's own config file on Linux/Unix (keyring.util.platform_.config_root)."""
    root = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(root, "python_keyring", "keyringrc.cfg")


def _has_keyring_properties() -> bool:
    """KEYRING_PROPERTY_* (e.g. a KeePassXC scheme) only means something to the keyring library."""
    return any(k.startswith("KEYRING_PROPERTY_") for k in os.environ)


def _backend_label() -> str:
    """A name for the backend that would be chosen, for doctor's output when it failed."""
    name = os.environ.get("PYTHON_KEYRING_BACKEND")
    if name:
        return f"{name} (PYTHON_KEYRING_BACKEND)"
    if sys.platform in _PLATFORM_BACKENDS:
        return _PLATFORM_BACKENDS[sys.platform]
    return "Secret Service over D-Bus"


def _choose_store(prompt: bool) -> _Store:
    """Honour PYTHON_KEYRING_BACKEND and keyringrc.cfg; otherwise the platform's native keyring."""
    name = os.environ.get("PYTHON_KEYRING_BACKEND", "").strip()
    if name:
        if name in _DISABLED_BACKENDS:  # common in CI (pip/poetry docs); refused without importing keyring
            raise KeyringUnavailable(
                "disabled",
                f"No OS keyring: PYTHON_KEYRING_BACKEND selects {_DISABLED_BACKENDS[name]}.",
                "Unset PYTHON_KEYRING_BACKEND to use the Secret Service.",
            )
        if name == _SECRET_SERVICE_BACKEND and not _has_keyring_properties():
            return _SecretService(prompt)
        return _KeyringLibrary(_load_named_backend(name), "PYTHON_KEYRING_BACKEND")
    if os.path.exists(_keyring_config_file()):
        backend = _load_configured_backend()
        if backend is not None:
            return _KeyringLibrary(backend, _keyring_config_file())
    if sys.platform in _PLATFORM_BACKENDS:
        return _KeyringLibrary(_load_named_backend(_PLATFORM_BACKENDS[sys.platform], origin=None), None)
    if _has_keyring_properties():
        return _KeyringLibrary(_load_named_backend(_SECRET_SERVICE_BACKEND, origin=None), "KEYRING_PROPERTY_*")
    return _SecretService(prompt)


def _load_named_backend(name: str, origin: str | None = "PYTHON_KEYRING_BACKEND") -> Any:
    """Instantiate a keyring backend by class path, as keyring does, with a clear error."""
    try:
        import keyring.core

        return keyring.core.load_keyring(name)
    except Exception as exc:  # ImportError, AttributeError, RuntimeError from `priority`, ...
        where = f"{origin}={name}" if origin else name
        raise KeyringUnavailable(
            "backend",
            f"The keyring backend {where} cannot be used: {type(exc).__name__}: {exc}",
            "Unset PYTHON_KEYRING_BACKEND (or name an installed secure backend) to use the Secret Service.",
        ) from None


def _load_configured_backend() -> Any:
    """The backend named in keyring's keyringrc.cfg, or None if it names none."""
    path = _keyring_config_file()
    try:
        import keyring.core

        return keyring.core.load_config()
    except Exception as exc:
        raise KeyringUnavailable(
            "backend",
            f"The keyring backend named in {path} cannot be used: {type(exc).__name__}: {exc}",
            f"Fix or remove {path} to use the Secret Service.",
        ) from None


def _vet(backend: Any, origin: str | None) -> None:
    """Refuse backends that store nothing or store keys insecurely; never fall back to a file."""
    cls = type(backend)
    path = f"{cls.__module__}.{cls.__qualname__}"
    where = f" (chosen by {origin})" if origin else ""
    undo = "Unset PYTHON_KEYRING_BACKEND" if origin == "PYTHON_KEYRING_BACKEND" else (
        f"Remove the backend from {origin}" if origin else "Install a Secret Service or the platform keyring"
    )
    if path in _DISABLED_BACKENDS:
        raise KeyringUnavailable(
            "disabled", f"No OS keyring: {path}{where} is {_DISABLED_BACKENDS[path]}.", f"{undo} to use a real keyring."
        )
    children = getattr(backend, "backends", None)
    if cls.__name__ == "ChainerBackend" and children is not None:
        if not children:
            raise KeyringUnavailable("disabled", f"No OS keyring: {path}{where} chains no backends.",
                                     f"{undo} to use a real keyring.")
        for child in children:
            _vet(child, origin)
        return
    if "plaintext" in path.lower() or cls.__module__.startswith("keyrings.alt.file"):
        raise KeyringUnavailable(
            "insecure",
            f"Refusing keyring backend {path}{where}: it keeps keys in a file, not in an OS keyring.",
            f"{undo} to use the Secret Service (gnome-keyring, KeePassXC) or the platform keyring.",
        )
    try:
        priority = float(cls.priority)
    except Exception:
        priority = 0.0
    if priority < 1:
        raise KeyringUnavailable(
            "insecure",
            f"Refusing keyring backend {path}{where}: keyring rates it as not recommended (priority {priority:g}).",
            f"{undo} to use the Secret Service (gnome-keyring, KeePassXC) or the platform keyring.",
        )


def _secret_or_none(value: str | None) -> Secret | None:
    """Wrap a fetched value at once so it never travels bare."""
    return Secret(value) if value else None


# --------------------------------------------------------------------------- keyring library backend


class _KeyringLibrary:
    """Any `keyring` backend the user chose (or macOS/Windows), vetted first."""

    def __init__(self, backend: Any, origin: str | None) -> None:
        _vet(backend, origin)
        self._backend = backend
        self._origin = origin

    def _errors(self) -> _LibraryErrors:
        return _LibraryErrors(self._backend)

    def find(self, user: str, *, fetch: bool) -> tuple[bool, str | None]:
        with self._errors():
            value = self._backend.get_password(SERVICE, user)
        return (bool(value), value or None)

    def store(self, user: str, secret: str, label: str, attributes: dict[str, str]) -> None:
        with self._errors():
            self._backend.set_password(SERVICE, user, secret)

    def remove(self, user: str) -> bool:
        import keyring.errors

        with self._errors():
            if self._backend.get_password(SERVICE, user) is None:
                return False
            try:
                self._backend.delete_password(SERVICE, user)
            except keyring.errors.PasswordDeleteError:
                return False
        return True

    def status(self) -> KeyringStatus:
        cls = type(self._backend)
        where = f" (chosen by {self._origin})" if self._origin else ""
        return KeyringStatus(backend=f"{cls.__module__}.{cls.__qualname__}{where}", usable=True)

    def close(self) -> None:
        pass


class _LibraryErrors:
    """Translate keyring library errors into one-line problems with a fix."""

    def __init__(self, backend: Any) -> None:
        self._name = f"{type(backend).__module__}.{type(backend).__qualname__}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, KeyringUnavailable):
            return None
        import keyring.errors

        if isinstance(exc, keyring.errors.KeyringLocked):
            raise KeyringUnavailable(
                "locked", f"The keyring is locked ({self._name}).", "Unlock it, then retry."
            ) from None
        if isinstance(exc, keyring.errors.NoKeyringError):
            raise KeyringUnavailable(
                "disabled", f"No OS keyring: {self._name} has no usable keyring ({exc}).",
                "Start the platform keyring or unset PYTHON_KEYRING_BACKEND.",
            ) from None
        raise KeyringUnavailable(
            "error", f"The keyring ({self._name}) failed: {type(exc).__name__}: {exc}",
            "Check that the keyring works (e.g. `keyring get routesh test`), then retry.",
        ) from None


# --------------------------------------------------------------------------- Secret Service over D-Bus


def _session_bus_address() -> str | None:
    """DBUS_SESSION_BUS_ADDRESS, else the systemd user bus socket, as libdbus and GDBus find it."""
    addr = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "").strip()
    if addr:
        return addr
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run:
        path = os.path.join(run, "bus")
        try:
            if stat.S_ISSOCK(os.stat(path).st_mode):
                return f"unix:path={path}"
        except OSError:
            pass
    return None


def _connect(address: str) -> Any:
    """A jeepney connection whose every wait has a deadline, from the Hello on, so nothing can hang us."""
    from jeepney.bus import get_bus
    from jeepney.io.blocking import DBusConnection, prep_socket

    class TimedConnection(DBusConnection):  # type: ignore[misc]
        """jeepney's blocking connection, with default timeouts for replies and prompt signals."""

        def send_and_get_reply(self, message: Any, *, timeout: float | None = None, **kw: Any) -> Any:
            return super().send_and_get_reply(message, timeout=_TIMEOUT_S if timeout is None else timeout, **kw)

        def recv_until_filtered(self, queue: Any, *, timeout: float | None = None) -> Any:
            return super().recv_until_filtered(queue, timeout=_PROMPT_TIMEOUT_S if timeout is None else timeout)

    sock = prep_socket(get_bus(address), enable_fds=False, timeout=_TIMEOUT_S)
    try:
        return TimedConnection(sock)  # its __init__ says Hello through send_and_get_reply
    except BaseException:
        sock.close()
        raise


_NO_SERVICE_FIX = (
    "Start a Secret Service, e.g. `gnome-keyring-daemon --start --components=secrets` "
    "(Debian/Ubuntu: apt install gnome-keyring) or KeePassXC with Secret Service integration."
)
_NO_BUS_FIX = "Run routesh in a desktop session, or under `dbus-run-session` with gnome-keyring running."


class _SecretService:
    """The freedesktop Secret Service over the session bus, spoken directly, without prompts by default."""

    def __init__(self, prompt: bool) -> None:
        self._prompt = prompt
        self._conn: Any = None
        self._session: Any = None
        addr = _session_bus_address()
        if addr is None:
            raise KeyringUnavailable(
                "no-dbus",
                "No OS keyring: DBUS_SESSION_BUS_ADDRESS is not set, so there is no D-Bus session bus "
                "to reach a Secret Service.",
                _NO_BUS_FIX,
            )
        try:
            self._conn = _connect(addr)
        except Exception as exc:  # OSError, TimeoutError, RuntimeError (transport), AuthenticationError
            raise KeyringUnavailable(
                "no-dbus",
                f"No OS keyring: cannot connect to the D-Bus session bus at {addr} ({_describe(exc)}).",
                _NO_BUS_FIX,
            ) from None

    # -- low level

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None

    def _call(self, path: str, iface: str, method: str, signature: str | None = None, *body: Any,
              bus: str = _SS_BUS) -> tuple[Any, ...]:
        """One method call with a deadline; D-Bus errors become KeyringUnavailable."""
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.wrappers import DBusErrorResponse

        addr = DBusAddress(path, bus_name=bus, interface=iface)
        with self._errors():
            reply = self._conn.send_and_get_reply(new_method_call(addr, method, signature, body))
            if reply.header.message_type == MessageType.error:
                raise DBusErrorResponse(reply)
            return tuple(reply.body)

    def _prop(self, path: str, iface: str, name: str) -> Any:
        """Read one D-Bus property."""
        (sig_value,) = self._call(path, "org.freedesktop.DBus.Properties", "Get", "ss", _SS_IFACE + iface, name)
        return sig_value[1]

    def _errors(self) -> _DBusErrors:
        return _DBusErrors()

    def _search(self, user: str) -> tuple[list[str], list[str]]:
        """All items (unlocked, locked) with our service and username, in every collection."""
        unlocked, locked = self._call(_SS_PATH, _SS_IFACE + "Service", "SearchItems", "a{ss}",
                                      {"service": SERVICE, "username": user})
        return list(unlocked), list(locked)

    def _collection_label(self, item_or_collection: str) -> str:
        """A collection's label for messages ('Login'), from an item or collection path."""
        parts = item_or_collection.split("/")  # /org/freedesktop/secrets/collection/<name>[/<item>]
        path = "/".join(parts[:6]) if parts[4:5] == ["collection"] else item_or_collection
        try:
            return str(self._prop(path, "Collection", "Label")) or path
        except KeyringUnavailable:
            return path

    def _unlock(self, paths: list[str]) -> bool:
        """Ask the Secret Service to unlock (it may show a prompt); True if everything got unlocked."""
        from secretstorage.util import unlock_objects

        with self._errors():
            dismissed = unlock_objects(self._conn, paths, timeout=_PROMPT_TIMEOUT_S)
        return not dismissed

    def _locked_error(self, path: str, what: str) -> KeyringUnavailable:
        label = self._collection_label(path)
        return KeyringUnavailable(
            "locked",
            f"The keyring is locked: {what} is in the Secret Service collection '{label}', which is locked.",
            f"Unlock it (your desktop's Passwords and Keys app; {_HEADLESS_UNLOCK}), then retry.",
        )

    def _open_session(self) -> Any:
        """One encrypted (DH + AES) transfer session per connection, made only when a value moves."""
        if self._session is None:
            from secretstorage.util import open_session

            with self._errors():
                self._session = open_session(self._conn)
        return self._session

    def _item(self, path: str) -> Any:
        from secretstorage.item import Item

        with self._errors():
            return Item(self._conn, path, self._open_session())

    def _newest(self, paths: list[str]) -> str:
        """Of several entries for one username (made by other tools), the most recently modified."""
        if len(paths) == 1:
            return paths[0]
        return max(paths, key=lambda p: int(self._prop(p, "Item", "Modified") or 0))

    # -- the store protocol

    def find(self, user: str, *, fetch: bool) -> tuple[bool, str | None]:
        unlocked, locked = self._search(user)
        if not unlocked and locked:
            if not (self._prompt and self._unlock(locked)):
                raise self._locked_error(locked[0], f"routesh's key for {user}")
            unlocked, locked = self._search(user)
        if not unlocked:
            return (False, None)
        if not fetch:
            return (True, None)
        item = self._item(self._newest(unlocked))
        with self._errors():
            raw = item.get_secret()
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyringUnavailable(
                "error", f"The keyring entry for {user} is not UTF-8 text.",
                f"Store it again with `routesh keys set {user.split('/', 1)[1]} --profile {user.split('/', 1)[0]}`.",
            ) from None
        return (bool(value), value or None)

    def _default_collection(self) -> str:
        """The collection new keys go into (the 'default' alias), unlocked, or a clear error."""
        (path,) = self._call(_SS_PATH, _SS_IFACE + "Service", "ReadAlias", "s", "default")
        if len(path) <= 1:
            if not self._prompt:
                raise KeyringUnavailable(
                    "no-collection",
                    "The Secret Service has no default keyring (collection) to store keys in yet.",
                    f"Create one (log in to the desktop once, or `routesh keys set` from a desktop terminal; "
                    f"{_HEADLESS_UNLOCK}), then retry.",
                )
            from secretstorage.collection import create_collection

            with self._errors():
                path = create_collection(self._conn, "Login", "default", self._open_session()).collection_path
        if self._prop(path, "Collection", "Locked"):
            if not (self._prompt and self._unlock([path])):
                raise self._locked_error(path, "the default collection for new keys")
        return str(path)

    def store(self, user: str, secret: str, label: str, attributes: dict[str, str]) -> None:
        from secretstorage.collection import Collection

        path = self._default_collection()
        attrs = {"service": SERVICE, "username": user, **attributes}
        with self._errors():
            new = Collection(self._conn, path, self._open_session()).create_item(
                label, attrs, secret.encode("utf-8"), replace=True
            )
            new_path = new.item_path
        unlocked, _locked = self._search(user)
        for other in unlocked:  # one entry per username, whoever made the older ones
            if other != new_path:
                with self._errors():
                    self._item(other).delete()

    def remove(self, user: str) -> bool:
        unlocked, locked = self._search(user)
        if locked:
            if not (self._prompt and self._unlock(locked)):
                raise self._locked_error(locked[0], f"routesh's key for {user}")
            unlocked, locked = self._search(user)
        for path in unlocked:
            with self._errors():
                self._item(path).delete()
        return bool(unlocked)

    def status(self) -> KeyringStatus:
        (path,) = self._call(_SS_PATH, _SS_IFACE + "Service", "ReadAlias", "s", "default")
        owner = self._owner()
        backend = "Secret Service over D-Bus" + (f" ({owner})" if owner else "")
        if len(path) <= 1:
            return KeyringStatus(backend, True, "no default collection yet: `routesh keys set` will need one")
        label = self._collection_label(path)
        if self._prop(path, "Collection", "Locked"):
            err = self._locked_error(path, "the default collection")
            return KeyringStatus(backend, False, f"default collection '{label}' is locked", "locked", str(err))
        return KeyringStatus(backend, True, f"default collection '{label}', unlocked")

    def _owner(self) -> str | None:
        """The process that provides the Secret Service (gnome-keyring-daemon, keepassxc, ...)."""
        try:
            (pid,) = self._call("/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixProcessID", "s",
                                _SS_BUS, bus="org.freedesktop.DBus")
            with open(f"/proc/{int(pid)}/cmdline", "rb") as fh:
                argv0 = fh.read().split(b"\0", 1)[0].decode("utf-8", "replace")
            return f"{os.path.basename(argv0)}, pid {int(pid)}"
        except (KeyringUnavailable, OSError, ValueError):
            return None


class _DBusErrors:
    """Translate jeepney/secretstorage failures into KeyringUnavailable saying which problem it is."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, KeyringUnavailable):
            return None
        raise _translate(exc) from None


def _describe(exc: BaseException) -> str:
    """A short, secret-free description of a low-level error."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _translate(exc: Exception) -> KeyringUnavailable:
    """Which keyring problem a D-Bus or secretstorage exception means."""
    name = str(getattr(exc, "name", "") or "")
    cls = type(exc).__name__
    data = getattr(exc, "data", None)
    detail = str(data[0] if isinstance(data, tuple) and data else data or exc)
    if cls == "SecretServiceNotAvailableException" or name in (
        "org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"
    ) or name.startswith("org.freedesktop.DBus.Error.Spawn"):
        return KeyringUnavailable(
            "no-service",
            f"No OS keyring: no Secret Service ({_SS_BUS}) is running on the D-Bus session bus ({detail}).",
            _NO_SERVICE_FIX,
        )
    if cls in ("LockedException", "PromptDismissedException") or name == "org.freedesktop.Secret.Error.IsLocked":
        why = "its unlock prompt was dismissed or could not be shown" if cls == "PromptDismissedException" else detail
        return KeyringUnavailable(
            "locked", f"The keyring is locked ({why}).",
            f"Unlock it (your desktop's Passwords and Keys app; {_HEADLESS_UNLOCK}), then retry.",
        )
    if isinstance(exc, TimeoutError) or name in ("org.freedesktop.DBus.Error.NoReply",
                                                 "org.freedesktop.DBus.Error.Timeout"):
        return KeyringUnavailable(
            "error", f"The Secret Service did not answer within {_TIMEOUT_S:g} s.",
            "Restart the keyring daemon (e.g. `gnome-keyring-daemon --replace --components=secrets`), then retry.",
        )
    if isinstance(exc, (OSError, EOFError)):
        return KeyringUnavailable(
            "error", f"The D-Bus connection to the Secret Service broke ({_describe(exc)}).",
            "Check that the session bus and keyring daemon are running, then retry.",
        )
    what = f"{name}: {detail}" if name else _describe(exc)
    return KeyringUnavailable(
        "error", f"The Secret Service failed: {what}.",
        "Check the keyring daemon (`secret-tool search --all service routesh` should work), then retry.",
    )
