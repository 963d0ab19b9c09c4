"""The attempt watchdog: a silent upstream and a departed client still end an attempt, with one shared timer."""

from __future__ import annotations

import asyncio
import socket

from routesh.gateway.client import Conn
from routesh.gateway.origin import parse_origin
from routesh.gateway.watchdog import Watchdog, _sweep_of


async def _writer() -> tuple[asyncio.StreamWriter, socket.socket]:
    """A real client connection (one end of a socket pair) as the gateway sees it, and its other end."""
    ours, theirs = socket.socketpair()
    _, writer = await asyncio.open_connection(sock=ours)
    return writer, theirs


def _conn() -> Conn:
    """An upstream connection with no transport: _fail only records the error."""
    return Conn(parse_origin("http://127.0.0.1:9"), None)


def test_silent_upstream_times_out_and_an_active_one_does_not() -> None:
    async def main() -> tuple[str | None, str | None, float]:
        writer, other = await _writer()
        silent, talking = _conn(), _conn()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        dog_silent = Watchdog(silent, writer, 0.3)
        dog_talking = Watchdog(talking, writer, 0.3)
        while silent.error is None and loop.time() - t0 < 3:
            dog_talking.last = loop.time()  # data keeps arriving on this one
            await asyncio.sleep(0.02)
        took = loop.time() - t0
        dog_talking.cancel()
        dog_silent.cancel()
        writer.close()
        other.close()
        return (str(silent.error) if silent.error else None, str(talking.error) if talking.error else None, took)

    silent_err, talking_err, took = asyncio.run(main())
    assert silent_err is not None and "no data from the upstream" in silent_err
    assert 0.25 <= took < 1.5
    assert talking_err is None


def test_client_gone_is_noticed() -> None:
    async def main() -> tuple[bool, str | None]:
        writer, other = await _writer()
        conn = _conn()
        dog = Watchdog(conn, writer, 0.2)
        writer.close()  # the transport is closing: the client went away
        await asyncio.sleep(0.5)
        other.close()
        return dog.client_gone, str(conn.error) if conn.error else None

    gone, err = asyncio.run(main())
    assert gone and err is not None and "client went away" in err


def test_many_attempts_share_one_timer_and_cancelled_ones_leave_nothing() -> None:
    async def main() -> tuple[int, int, int]:
        writer, other = await _writer()
        loop = asyncio.get_running_loop()
        before = len(loop._scheduled)  # type: ignore[attr-defined]
        dogs = [Watchdog(_conn(), writer, 30.0) for _ in range(200)]
        timers = len(loop._scheduled) - before  # type: ignore[attr-defined]
        for d in dogs:
            d.cancel()
        still_open = len(_sweep_of(loop).open)
        writer.close()
        other.close()
        return timers, still_open, len(dogs)

    timers, still_open, n = asyncio.run(main())
    assert n == 200 and timers == 1 and still_open == 0
