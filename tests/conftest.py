"""Shared fixtures: every test runs with HOME and the XDG dirs in a temp dir."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

# A run started in the background by a non-interactive shell (.ci/run's shards) inherits SIGINT ignored, and
# so would every routesh the tests start: the Ctrl-C tests would see no Ctrl-C. Children inherit a default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# CPython 3.11 before 3.11.8 keeps the AST constructor's recursion depth in interpreter-wide state, so two
# threads building ASTs at once (pytest formatting a traceback while a server thread in a test prints one:
# 3.11's traceback module parses source lines for its carets) can fail with "SystemError: AST constructor
# recursion depth mismatch" (python/cpython#106905), which pytest reports as an INTERNALERROR that ends the run.
# The test processes serialise ast.parse; routesh itself parses no Python.
if sys.version_info < (3, 11, 8):
    import ast
    import threading

    _ast_parse, _ast_lock = ast.parse, threading.RLock()

    def _serialised_parse(*args, **kwargs):  # type: ignore[no-untyped-def]
        with _ast_lock:
            return _ast_parse(*args, **kwargs)

    ast.parse = _serialised_parse  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent

# Tests mirror the packages (tests/core/, tests/gateway/, ...) without __init__.py files, so a test imports its
# helpers by basename: those here (upstream, clirun, ...) and a sibling test's (test_gateway_server's GW) from
# any directory, whatever was collected first. Test basenames are unique across tests/ (test_architecture).
for _dir in sorted(p for p in Path(__file__).resolve().parent.iterdir() if p.is_dir() and p.name.isidentifier()):
    if str(_dir) not in sys.path and any(_dir.glob("test_*.py")):
        sys.path.append(str(_dir))


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG dirs at a temp dir so no test touches the user's files.

    The throwaway gnome-keyring daemon read its own XDG_DATA_HOME when it started, so
    moving it here does not move the keyring.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    for var in ("ROUTESH_CONFIG", "ROUTESH_PROFILE", "CLAUDE_CODE_ROUTE", "ROUTESH_DEBUG", "ANTHROPIC_API_KEY",
                "OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_MODEL",
                "WORK_ANTHROPIC_KEY", "WORK_OPENROUTER_API_KEY", "ROUTESH_GATEWAY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    if os.environ.get("ROUTESH_TEST_KEYRING") != "1":
        # Outside the throwaway keyring session (scripts/test) no test may reach the developer's real
        # keyring: no session bus, no configured backend.
        for var in ("DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND"):
            monkeypatch.delenv(var, raising=False)
        for var in [v for v in os.environ if v.startswith("KEYRING_PROPERTY_")]:
            monkeypatch.delenv(var)
        runtime = home / ".run"
        runtime.mkdir(mode=0o700)
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(home)
    return home


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """ROUTESH_TEST_SHARD=K/N keeps every Nth test from the K-th (1-based): .ci/run runs N shards at once,
    each in its own D-Bus session and throwaway keyring, so they cannot see each other's keys or locks."""
    shard = os.environ.get("ROUTESH_TEST_SHARD")
    if not shard:
        return
    k, n = (int(x) for x in shard.split("/"))
    keep = [item for i, item in enumerate(items) if i % n == k - 1]
    config.hook.pytest_deselected(items=[item for i, item in enumerate(items) if i % n != k - 1])
    items[:] = keep
