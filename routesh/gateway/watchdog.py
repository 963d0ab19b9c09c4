"""Gives up on a silent upstream, and notices a client that went away: one shared timer for all attempts.

Why shared: a timer per attempt (call_later, then cancel) cost every small request a heap push, a cancelled
handle left in the loop's heap and its removal; at hundreds of requests a second that was ~3% of the
gateway's CPU. One sweep per loop checks every attempt that is due, and only runs while attempts are open.
"""

from __future__ import annotations

import asyncio

from .client import Conn, UpstreamError


class _Sweep:
    """The open watchdogs of one event loop, and the one timer that checks those that are due."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.open: set[Watchdog] = set()
        self.handle: asyncio.TimerHandle | None = None
        self.due = 0.0

    def schedule(self, when: float) -> None:
        if self.handle is not None:
            if self.due <= when:
                return
            self.handle.cancel()
        self.due = when
        self.handle = self.loop.call_at(when, self.run)

    def run(self) -> None:
        self.handle = None
        now = self.loop.time()
        for dog in [d for d in self.open if d.next_check <= now]:
            dog._check(now)
        if self.open:
            self.schedule(min(d.next_check for d in self.open))


_sweeps: dict[asyncio.AbstractEventLoop, _Sweep] = {}


def _sweep_of(loop: asyncio.AbstractEventLoop) -> _Sweep:
    sweep = _sweeps.get(loop)
    if sweep is None:
        for old in [lp for lp in _sweeps if lp.is_closed()]:  # tests run many loops, one after another
            del _sweeps[old]
        sweep = _sweeps[loop] = _Sweep(loop)
    return sweep


class Watchdog:
    """Watches one attempt: checked every min(1 s, timeout) until cancelled."""

    def __init__(self, conn: Conn, writer: asyncio.StreamWriter, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.conn = conn
        self.transport = writer.transport
        self.timeout = timeout
        self.last = now = loop.time()
        self.client_gone = False
        self._tick = min(1.0, timeout)
        self.next_check = now + self._tick
        self._sweep: _Sweep | None = _sweep_of(loop)
        self._sweep.open.add(self)
        self._sweep.schedule(self.next_check)

    def _check(self, now: float) -> None:
        if self.transport.is_closing():
            self.client_gone = True
            self.cancel()
            self.conn._fail(UpstreamError("the client went away"))
            return
        if now - self.last >= self.timeout:
            self.cancel()
            self.conn._fail(UpstreamError(f"no data from the upstream for {self.timeout:.0f}s", "timeout"))
            return
        self.next_check = now + self._tick

    def cancel(self) -> None:
        """Stop watching."""
        if self._sweep is not None:
            self._sweep.open.discard(self)
            self._sweep = None
