"""The gateway's ledger writer: rows are batched off the request path and written in one transaction.

Why: one thread wake-up, one SQLite transaction and its WAL writes per request cost the event loop
about as much CPU as relaying a small answer (the loop and the writer thread fight for the GIL on
every row). record() only appends to a deque; the writer wakes a few times a second, or when many
rows wait, and commits them together.
"""

from __future__ import annotations

import collections
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..core.config import Profile
from ..core.events import AttemptRecord
from ..core.policy import day_start, month_start

FLUSH_S = 0.25  # the longest a row waits before it is written
FLUSH_ROWS = 256  # rows waiting that wake the writer early
REFRESH_S = 5.0  # how often the budget totals are re-read

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LedgerWriter:
    """Writes attempts on a background thread, so the relay never waits for SQLite; keeps budget totals warm."""

    def __init__(self, path: str | None, profile: Profile | None = None, log: Log = _stderr) -> None:
        self._path = path
        self._rows: collections.deque[AttemptRecord] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._dead = False  # the ledger could not be opened: rows are dropped
        self._log = log
        self._budget_profile = profile.name if profile is not None and profile.budget is not None else None
        self._queued_cost = 0.0  # written by the loop's thread only
        self._written_cost = 0.0  # written by the ledger thread only
        self._base: tuple[float, float, float] = (0.0, 0.0, 0.0)  # spent today, this month, _written_cost then
        self.problem: str | None = None  # why the budget cannot be checked (no ledger, unreadable, unwritable)
        self._ready = threading.Event()  # set once the ledger was opened and the totals read (or that failed)
        self._thread = threading.Thread(target=self._run, name="routesh-ledger", daemon=True)
        self._thread.start()

    def record(self, rec: AttemptRecord) -> None:
        """Queue one row (never blocks, never raises, wakes nobody unless many rows wait)."""
        if self._dead:
            return
        if rec.cost_usd:
            self._queued_cost += rec.cost_usd
        rows = self._rows
        rows.append(rec)
        if len(rows) >= FLUSH_ROWS:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Rows queued and not yet written."""
        return len(self._rows)

    def spent_now(self) -> tuple[float, float]:
        """Spend today and this month for the budget profile, counting rows still queued."""
        self._ready.wait(5.0)
        today, month, seen = self._base
        unseen = self._queued_cost - seen
        return today + unseen, month + unseen

    def _run(self) -> None:
        try:
            from ..usage.ledger import Ledger

            ledger = Ledger(self._path) if self._path else Ledger()
            if self._budget_profile:
                ledger.check_writable()  # a budget needs a ledger that can count what it lets through
        except Exception as exc:  # noqa: BLE001 - no ledger must not mean no answers (but budgets refuse)
            self.problem = f"the usage ledger cannot be used ({type(exc).__name__}: {exc})"
            self._ready.set()
            self._log(f"routesh: warning: usage ledger unavailable ({type(exc).__name__}); requests are not recorded")
            self._dead = True
            self._rows.clear()
            return
        self._refresh(ledger)
        self._ready.set()
        last = time.monotonic()
        while True:
            self._wake.wait(FLUSH_S)
            self._wake.clear()
            stopping = self._stopping
            self._write(ledger)
            if stopping:
                break
            if self._budget_profile and time.monotonic() - last > REFRESH_S:
                self._refresh(ledger)
                last = time.monotonic()
        ledger.close()

    def _write(self, ledger: Any) -> None:
        """Everything queued, in one transaction (Ledger.record_many writes row by row if it must)."""
        rows = self._rows
        batch = []
        while rows:  # popleft while the loop's thread appends: no row is taken twice or lost
            batch.append(rows.popleft())
        if not batch:
            return
        stored = ledger.record_many(batch)
        if stored < len(batch) and self._budget_profile:
            self.problem = f"the usage ledger cannot record ({ledger.last_error})"
        self._written_cost += sum(rec.cost_usd for rec in batch if rec.cost_usd)

    def _refresh(self, ledger: Any) -> None:
        if not self._budget_profile:
            return
        now = datetime.now()
        seen = self._written_cost
        try:
            self._base = (ledger.spent(self._budget_profile, day_start(now).timestamp()),
                          ledger.spent(self._budget_profile, month_start(now).timestamp()), seen)
        except Exception as exc:  # noqa: BLE001 - a budget that cannot be read refuses until it can be read again
            self.problem = f"the usage ledger cannot be read ({type(exc).__name__}: {exc})"
            return
        self.problem = None if ledger.ok else self.problem

    def flush(self) -> None:
        """Wake the writer now (rows are written within FLUSH_S anyway)."""
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
