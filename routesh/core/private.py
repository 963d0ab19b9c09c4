"""Every file and directory routesh creates is private (0700/0600), whatever the umask: one place does it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create the directory and each missing parent 0700; directories that already exist are left alone."""
    target = Path(path)
    missing: list[Path] = []
    p = target
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to change
        os.chmod(d, DIR_MODE)  # mkdir's mode is masked by the umask; the chmod is not
    if not target.is_dir():
        raise NotADirectoryError(f"{target} exists and is not a directory")
    return target


def create_private(path: str | os.PathLike[str]) -> bool:
    """Create an empty 0600 file (and its directory 0700) if it is missing; True when this call made it."""
    private_dir(Path(path).parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return True


def append_private(path: str | os.PathLike[str]) -> TextIO:
    """A line-buffered text file opened for appending, created 0600 if it is new (logs)."""
    create_private(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    return os.fdopen(fd, "a", encoding="utf-8", buffering=1)


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Replace a file's content atomically with a new 0600 file (a reader never sees half of it)."""
    target = Path(path)
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_own(path: str | os.PathLike[str]) -> bytes | None:
    """The file's bytes when this user owns it and nobody else may write it (a cache about to be unpickled or
    run), else None; a symlink or a missing file is None too."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if (hasattr(os, "getuid") and st.st_uid != os.getuid()) or st.st_mode & 0o022:
            return None  # written by someone else: never load it
        try:
            return f.read()
        except OSError:
            return None
