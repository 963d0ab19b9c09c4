"""The freedesktop Secret Service (gnome-keyring, KeePassXC, KWallet) over the D-Bus session bus, spoken
directly with jeepney: fast, with a deadline on every wait, and no prompt unless asked for."""

from __future__ import annotations

import os
import stat
from typing import Any

from .entries import SERVICE, KeyringStatus, KeyringUnavailable

_TIMEOUT_S = 5.0  # a wedged keyring daemon must not hang `routesh --dry-run`
_PROMPT_TIMEOUT_S = 120.0  # a human answering the desktop's unlock prompt
_SS_BUS = "org.freedesktop.secrets"
_SS_PATH = "/org/freedesktop/secrets"
_SS_IFACE = "org.freedesktop.Secret."
_HEADLESS_UNLOCK = "headless: gnome-keyring-daemon --replace --unlock --components=secrets, password on stdin"


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
