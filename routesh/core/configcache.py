"""Parsed routes.yaml files kept in the XDG cache, so a start-up skips PyYAML and validation (issue 11).

A dry-run with the default config spent a third of its time importing YAML and walking the nodes; with
1,000 keyword rules, most of it. The Config is pickled under a key made of the routesh version, the file's
name and a SHA-256 of its bytes (the bytes are read anyway), so an edit, a rename or an upgrade is never
served stale, whatever the mtime says. Only files this user owns and nobody else may write are loaded.
Any failure to read or write the cache just means parsing the YAML, as before.
"""

from __future__ import annotations

import copyreg
import os
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from .. import __version__
from .config import Config

try:  # CPython's built-in SHA-256, the same digest without hashlib's OpenSSL load (3-7 ms of every start)
    from _sha256 import sha256  # type: ignore[import-not-found]
except ImportError:  # another interpreter, or Python 3.12+ (_sha2)
    from hashlib import sha256

__all__ = ["parse_cached", "KEEP"]

KEEP = 16  # cached configs kept; the oldest go first


def _proxy(items: dict[str, Any]) -> MappingProxyType[str, Any]:
    return MappingProxyType(items)


def _reduce_proxy(m: MappingProxyType[str, Any]) -> tuple[Callable[..., Any], tuple[dict[str, Any]]]:
    return _proxy, (dict(m),)


copyreg.pickle(MappingProxyType, _reduce_proxy)  # the Config's read-only maps


def _entry(text: str, file: str) -> str:
    from .paths import cache_dir

    digest = sha256(f"{__version__}\0{file}\0".encode() + text.encode("utf-8", "surrogatepass"))
    return str(cache_dir() / f"config-{digest.hexdigest()[:40]}.pickle")


def _load(path: str) -> Config | None:
    from .private import read_own

    data = read_own(path)  # written by someone else: never unpickled
    if data is None:
        return None
    try:  # the C unpickler itself: pickle.py's own import is not needed to read
        from _pickle import loads
    except ImportError:
        from pickle import loads
    try:
        value = loads(data)
    except Exception:  # noqa: BLE001 - a torn or foreign file is a miss
        return None
    return value if isinstance(value, Config) else None


def _store(path: str, config: Config) -> None:
    import pickle

    from .private import FILE_MODE, private_dir

    folder = os.path.dirname(path)
    try:
        private_dir(folder)  # ~/.cache and ~/.cache/routesh 0700 when routesh makes them, whatever the umask
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as f:
            pickle.dump(config, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        entries = sorted((e for e in os.scandir(folder) if e.name.startswith("config-") and e.name.endswith(".pickle")),
                         key=lambda e: e.stat().st_mtime)
        for old in entries[:-KEEP]:
            os.unlink(old.path)
    except (OSError, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        try:
            os.unlink(tmp)
        except (OSError, UnboundLocalError):
            pass


def parse_cached(text: str, file: str) -> Config:
    """configfile.parse(text, file), from the cache when this exact text was parsed before (errors are not cached)."""
    if os.environ.get("ROUTESH_NO_CACHE"):
        from .configfile import parse

        return parse(text, file)
    path = _entry(text, file)
    config = _load(path)
    if config is None:
        from .configfile import parse

        config = parse(text, file)
        _store(path, config)
    return config
