"""One timer per attempt: gives up on a silent upstream, and notices a client that went away."""

from __future__ import annotations

import asyncio

from .client import Conn, UpstreamError


class Watchdog:
    """One timer per attempt: gives up on a silent upstream, and notices a client that went away."""

    def __init__(self, conn: Conn, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.conn = conn
        self.transport = writer.transport
        self.timeout = timeout
        self.last = self._loop.time()
        self.client_gone = False
        self._tick = min(1.0, timeout)
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(self._tick, self._check)

    def _check(self) -> None:
        if self.transport.is_closing():
            self.client_gone = True
            self.conn._fail(UpstreamError("the client went away"))
            self._handle = None
            return
        if self._loop.time() - self.last >= self.timeout:
            self.conn._fail(UpstreamError(f"no data from the upstream for {self.timeout:.0f}s", "timeout"))
            self._handle = None
            return
        self._handle = self._loop.call_later(self._tick, self._check)

    def cancel(self) -> None:
        """Stop watching."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
