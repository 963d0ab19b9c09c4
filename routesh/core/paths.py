"""Where routesh keeps its files, the way a Linux user expects (XDG dirs honoured)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_config_path, user_data_path, user_state_path

APP = "routesh"


def config_dir() -> Path:
    """~/.config/routesh: routes.yaml and the trust store."""
    return user_config_path(APP)


def user_config_file() -> Path:
    """The user's own routes.yaml."""
    return config_dir() / "routes.yaml"


def data_dir() -> Path:
    """~/.local/share/routesh: the usage ledger."""
    return user_data_path(APP)


def ledger_file() -> Path:
    """The SQLite usage ledger."""
    return data_dir() / "usage.db"


def state_dir() -> Path:
    """~/.local/state/routesh: shell history and other things worth keeping but not backing up."""
    return user_state_path(APP)

