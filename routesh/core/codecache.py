"""Dataclass methods compiled once, kept in the XDG cache: each frozen dataclass compiles six small functions from
source when its module is imported, and those compiles were the largest single part of a dry-run's start (a
fifth to a third of it, issue 11; importing `inspect` for it another tenth). The `dataclasses` module builds
each method by calling `exec` on source text; `install()` gives that module an `exec` that looks the text up
first and runs the code object compiled for it before (the same text always compiles to the same code, so the
classes are exactly what they were). Only a file this user owns and nobody else may write is loaded (as with
__pycache__); any failure means compiling.
"""

from __future__ import annotations

import atexit
import builtins
import marshal
import os
import sys
from types import CodeType, ModuleType
from typing import Any

from .. import __version__

__all__ = ["install", "CodeMemo", "KEEP"]

KEEP = 2000  # texts kept; past that, only the ones this run used are written back


class CodeMemo:
    """`exec` with a memory: source text → its code object, compiled only when new."""

    def __init__(self, codes: dict[str, CodeType]) -> None:
        self.codes = codes
        self.used: set[str] = set()
        self.compiled = 0  # texts this process had to compile (the cache's misses)

    def __call__(self, source: Any, globals: Any = None, locals: Any = None, /, **kw: Any) -> None:  # noqa: A002
        if type(source) is str:
            code = self.codes.get(source)
            if code is None:
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.codes[source] = code
                self.compiled += 1
            self.used.add(source)
            source = code
        if globals is None:  # exec's default: the caller's globals, not this module's
            globals = sys._getframe(1).f_globals  # noqa: SLF001, A001
        builtins.exec(source, globals, locals, **kw)

    def save(self, path: str) -> None:
        """Write the memo back when this run compiled something; a failure leaves the old file (or none)."""
        if not self.compiled:
            return
        keep = self.codes if len(self.codes) <= KEEP else {s: self.codes[s] for s in self.used}
        from .private import FILE_MODE, private_dir

        tmp = f"{path}.{os.getpid()}.tmp"
        try:
            private_dir(os.path.dirname(path))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            os.fchmod(fd, FILE_MODE)
            with os.fdopen(fd, "wb") as f:
                marshal.dump(keep, f)
            os.replace(tmp, path)
        except (OSError, ValueError):
            try:
                os.unlink(tmp)
            except OSError:
                pass


def cache_file() -> str:
    """One file per interpreter and bytecode format (code objects are version-specific: the magic number can
    change within a minor version) and per routesh version."""
    from importlib._bootstrap_external import MAGIC_NUMBER  # already loaded: the import system's own module

    from .paths import cache_dir

    tag = f"{sys.implementation.cache_tag}-{MAGIC_NUMBER.hex()}"
    return str(cache_dir() / f"dataclass-code-{tag}-{__version__}.marshal")


def read(path: str) -> dict[str, CodeType]:
    """The memo kept at path, or {} when there is none or it cannot be trusted or read."""
    from .private import read_own

    data = read_own(path)
    if not data:
        return {}
    try:
        value = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if type(k) is str and type(v) is CodeType}


def install() -> CodeMemo | None:
    """Give `dataclasses` the memo (once per process), to be written back at exit; None when off or unsupported."""
    if os.environ.get("ROUTESH_NO_CACHE"):
        return None
    dataclasses = _import_dataclasses()
    current = vars(dataclasses).get("exec")
    if isinstance(current, CodeMemo):
        return current
    if current is not None or sys.implementation.name != "cpython":  # someone else's exec: leave it alone
        return None
    path = cache_file()
    memo = CodeMemo(read(path))
    dataclasses.exec = memo  # type: ignore[attr-defined]  # its methods call exec() by name: a global shadows it
    atexit.register(memo.save, path)
    return memo


class _Deferred(ModuleType):
    """Stands in for `inspect` while `dataclasses` is imported: it uses inspect only to write a docstring for a
    class that has none, and importing inspect (ast, dis, tokenize...) was a tenth of a dry-run's start."""

    def __getattr__(self, name: str) -> Any:
        import inspect

        return getattr(inspect, name)


def _import_dataclasses() -> ModuleType:
    """`dataclasses`, imported with `inspect` deferred to its first use when nobody has imported either yet."""
    if "dataclasses" in sys.modules or "inspect" in sys.modules:
        import dataclasses

        return dataclasses
    stub = sys.modules["inspect"] = _Deferred("inspect")
    try:
        import dataclasses
    finally:
        if sys.modules.get("inspect") is stub:
            del sys.modules["inspect"]  # whoever imports inspect from now on gets the real one
    return dataclasses
