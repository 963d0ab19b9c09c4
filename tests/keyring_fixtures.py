"""Fixtures for tests that need a real OS keyring: the throwaway one `bash scripts/test` starts.

Import what you use into your test module (`from keyring_fixtures import real_keyring`).
Tests never touch a developer's own keyring: `real_keyring` only runs inside scripts/test's
private D-Bus session (ROUTESH_TEST_KEYRING=1); elsewhere it skips with the reason, and in CI
(CI set) it fails instead, so a broken harness cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

IN_THROWAWAY_SESSION = os.environ.get("ROUTESH_TEST_KEYRING") == "1"
_SS = "org.freedesktop.secrets"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip on a developer machine; fail in CI, where everything the tests need must be installed."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason=reason)


@dataclass(frozen=True)
class ThrowawayKeyring:
    """Handles on scripts/test's throwaway gnome-keyring: clear it, lock it, unlock it."""

    password: str
    address: str  # the bus, remembered: a test may unset DBUS_SESSION_BUS_ADDRESS

    def _connect(self) -> Any:
        """A secretstorage-ready connection to the throwaway session bus."""
        from jeepney.io.blocking import open_dbus_connection
        from secretstorage.util import add_match_rules

        conn = open_dbus_connection(self.address)
        add_match_rules(conn)
        return conn

    def _default(self, conn: Any) -> Any:
        import secretstorage

        return secretstorage.get_default_collection(conn)

    def routesh_items(self) -> list[dict[str, str]]:
        """The attributes of every item under service=routesh, in any collection."""
        import secretstorage

        with closing(self._connect()) as conn:
            return [item.get_attributes() for item in secretstorage.search_items(conn, {"service": "routesh"})]

    def clear(self) -> None:
        """Delete every routesh item, so tests start from an empty keyring."""
        import secretstorage

        with closing(self._connect()) as conn:
            for item in list(secretstorage.search_items(conn, {"service": "routesh"})):
                item.delete()

    def is_locked(self) -> bool:
        """Whether the default ('login') collection is locked."""
        with closing(self._connect()) as conn:
            return bool(self._default(conn).is_locked())

    def lock(self) -> None:
        """Lock the default collection, as a screen lock or timeout would."""
        with closing(self._connect()) as conn:
            self._default(conn).lock()

    def unlock(self) -> None:
        """Unlock with the password, without a prompt, through gnome-keyring's own D-Bus interface."""
        from jeepney import DBusAddress, MessageType, new_method_call

        with closing(self._connect()) as conn:
            svc = DBusAddress("/org/freedesktop/secrets", bus_name=_SS, interface="org.freedesktop.Secret.Service")
            (path,) = conn.send_and_get_reply(new_method_call(svc, "ReadAlias", "s", ("default",)), timeout=5).body
            (_out, session) = conn.send_and_get_reply(
                new_method_call(svc, "OpenSession", "sv", ("plain", ("s", ""))), timeout=5
            ).body
            guilt = DBusAddress(
                "/org/freedesktop/secrets", bus_name=_SS,
                interface="org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface",
            )
            secret = (session, b"", self.password.encode(), "text/plain")
            reply = conn.send_and_get_reply(
                new_method_call(guilt, "UnlockWithMasterPassword", "o(oayays)", (path, secret)), timeout=5
            )
            if reply.header.message_type == MessageType.error:
                raise RuntimeError(f"could not unlock the throwaway keyring: {reply.body}")
        if self.is_locked():
            raise RuntimeError("the throwaway keyring is still locked after UnlockWithMasterPassword")


@pytest.fixture
def real_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[ThrowawayKeyring]:
    """The throwaway Secret Service, unlocked and emptied of routesh items before and after the test."""
    if not IN_THROWAWAY_SESSION:
        skip_or_fail("needs the throwaway keyring session: run `bash scripts/test ...` (or bash .ci/run)")
    for var in list(os.environ):
        if var == "PYTHON_KEYRING_BACKEND" or var.startswith("KEYRING_PROPERTY_"):
            monkeypatch.delenv(var)
    keyring = ThrowawayKeyring(
        os.environ.get("ROUTESH_TEST_KEYRING_PASSWORD", ""), os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    )
    try:
        keyring.unlock()
        keyring.clear()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no usable keyring"
        skip_or_fail(f"the throwaway Secret Service is not usable: {type(exc).__name__}: {exc}")
    yield keyring
    keyring.unlock()
    keyring.clear()


@pytest.fixture
def bare_bus(tmp_path: Path) -> Iterator[str]:
    """A private D-Bus session bus where nothing provides, or can activate, a Secret Service."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        skip_or_fail("dbus-daemon is not installed (Debian: apt-get install dbus)")
    sock_dir = Path(tempfile.mkdtemp(prefix="routesh-bus-"))  # short path: unix sockets have a length limit
    config = tmp_path / "bus.conf"
    config.write_text(
        '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
        ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
        "<busconfig><type>session</type>"
        f"<listen>unix:path={sock_dir}/bus</listen><auth>EXTERNAL</auth>"
        '<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/>'
        '<allow own="*"/></policy></busconfig>\n'  # the standard session policy, without service dirs
    )
    proc = subprocess.Popen(
        [daemon, f"--config-file={config}", "--nofork", "--print-address"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip()
        if not address:
            skip_or_fail("dbus-daemon did not start a bare test bus")
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(sock_dir, ignore_errors=True)


def keyrings_alt_path() -> str | None:
    """Where keyrings.alt (the plaintext backend routesh must refuse) is importable from, if anywhere."""
    import importlib.util

    spec = importlib.util.find_spec("keyrings.alt.file") if importlib.util.find_spec("keyrings") else None
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).parents[2])


def run_python(code: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (a second process, as a user's next command would be)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
