"""Where routesh keeps its files, the way a Linux user expects (XDG dirs honoured)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "routesh"


def _xdg(var: str, default: str, other: str) -> Path:
    """$VAR/routesh (or ~/default/routesh) on Linux, read directly: platformdirs cost ~9 ms of every start-up.

    Elsewhere platformdirs' answer (`other` names its function), e.g. ~/Library/Application Support on macOS.
    """
    if sys.platform.startswith("linux"):
        base = os.environ.get(var, "").strip()  # empty or relative counts as unset (the XDG spec, platformdirs)
        return Path(base if base.startswith("/") else os.path.expanduser(default)) / APP
    import platformdirs

    return Path(getattr(platformdirs, other)(APP))


def config_dir() -> Path:
    """~/.config/routesh: routes.yaml and the trust store."""
    return _xdg("XDG_CONFIG_HOME", "~/.config", "user_config_path")


def user_config_file() -> Path:
    """The user's own routes.yaml."""
    return config_dir() / "routes.yaml"


def data_dir() -> Path:
    """~/.local/share/routesh: the usage ledger."""
    return _xdg("XDG_DATA_HOME", "~/.local/share", "user_data_path")


def ledger_file() -> Path:
    """The SQLite usage ledger."""
    return data_dir() / "usage.db"


def ledger_target() -> Path | str:
    """The ledger in use: $ROUTESH_LEDGER (a path or a postgresql:// URL; `--ledger` and routes.yaml's `ledger:`
    set it for the process and its children), else the SQLite file."""
    value = os.environ.get("ROUTESH_LEDGER", "").strip()
    if not value:
        return ledger_file()
    return value if "://" in value else Path(os.path.expanduser(value))


def state_dir() -> Path:
    """~/.local/state/routesh: shell history and other things worth keeping but not backing up."""
    return _xdg("XDG_STATE_HOME", "~/.local/state", "user_state_path")



def cache_dir() -> Path:
    """~/.cache/routesh: things that can be rebuilt at any time (the parsed config)."""
    return _xdg("XDG_CACHE_HOME", "~/.cache", "user_cache_path")
