"""Heavy work on large requests, kept off the event loop so small requests keep flowing while they are read.

Screening a 1 MB prompt for secrets is ~25 regex passes over it; on the loop that stalls every other
request for tens of milliseconds. A thread does not help much: `re` holds the GIL for a whole pass.
So texts over LARGE are screened in one spawned worker process (started on first use, ~0.1 s), and
parsing and classifying a large body happen on a thread. Small requests stay inline: handing them
off would cost more than the work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from collections.abc import Callable
from typing import Any, TypeVar

LARGE = 128 * 1024  # bytes of request body (or characters of text) from which work leaves the loop

T = TypeVar("T")

_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_broken = False


def secrets_in(text: str) -> str | None:
    """describe() of the secrets in text, or None: the screen's answer in a form that pickles small."""
    from ..screening.screen import describe, scan

    findings = scan(text)
    return describe(findings) if findings else None


def _worker_init() -> None:
    """Ctrl-C in the terminal is the gateway's to handle: the worker must not print a traceback for it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _process_pool() -> concurrent.futures.ProcessPoolExecutor | None:
    global _pool, _pool_broken
    if _pool is None and not _pool_broken:
        try:
            spawn = multiprocessing.get_context("spawn")  # the gateway has threads: no fork
            _pool = concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=spawn,
                                                           initializer=_worker_init)
        except (OSError, ValueError, NotImplementedError):
            _pool_broken = True
    return _pool


async def screen(text: str) -> str | None:
    """secrets_in(text): inline when short, in the worker process when long (a thread if there is none)."""
    if len(text) < LARGE:
        return secrets_in(text)
    global _pool, _pool_broken
    loop = asyncio.get_running_loop()
    pool = _process_pool()
    if pool is not None:
        try:
            return await loop.run_in_executor(pool, secrets_in, text)
        except (concurrent.futures.process.BrokenProcessPool, OSError, RuntimeError):
            _pool, _pool_broken = None, True  # the screen still runs, on a thread, below
    return await loop.run_in_executor(None, secrets_in, text)


async def maybe_threaded(size: int, fn: Callable[..., T], *args: Any) -> T:
    """fn(*args) inline for small inputs, on a thread for large ones (the loop keeps serving meanwhile)."""
    if size < LARGE:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


def shutdown() -> None:
    """Stop the worker process, if one was started."""
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
