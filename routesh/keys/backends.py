"""Which keyring backend routesh uses (PYTHON_KEYRING_BACKEND, keyringrc.cfg, the platform's, else the Secret
Service), vetted so nothing ever falls back to a file; the `keyring` library's backends wrapped to one interface."""

from __future__ import annotations

import os
import sys
from typing import Any, Protocol

from .entries import SERVICE, KeyringStatus, KeyringUnavailable
from .secret_service import _SecretService

_SECRET_SERVICE_BACKEND = "keyring.backends.SecretService.Keyring"
_DISABLED_BACKENDS = {
    "keyring.backends.fail.Keyring": "keyring's fail backend, which stores nothing",
    "keyring.backends.null.Keyring": "keyring's null backend, which disables the keyring",
}
_PLATFORM_BACKENDS = {"darwin": "keyring.backends.macOS.Keyring", "win32": "keyring.backends.Windows.WinVaultKeyring"}


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
