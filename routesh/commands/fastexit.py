"""Leave the process once its work is flushed: the interpreter's own teardown (every module, every object) cost a
one-shot 0.2-0.4 s of wall time after the answer was already on screen (issue 11), so the `routesh` command
runs the atexit handlers, flushes stdout and stderr, and ends with os._exit. `main()` called as a library
returns as before."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

__all__ = ["finish"]


def _busy_threads() -> bool:
    """True while a non-daemon thread still works: a normal exit waits for it, so this one must too."""
    threading = sys.modules.get("threading")
    if threading is None:
        return False
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def finish(code: int) -> NoReturn:
    """Exit with `code` now, after what a normal exit would have done that matters: atexit and the flushes."""
    if _busy_threads():
        raise SystemExit(code)
    try:
        atexit._run_exitfuncs()
    except Exception:  # noqa: BLE001 - a handler's failure must not change how routesh exits
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a reader that went away (| head), or a closed stream: nothing to deliver
            pass
    os._exit(code)
