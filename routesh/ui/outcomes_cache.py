"""The outcomes report, computed off the page path: a page gets the latest report at once, never waits for a scan.

`outcomes_report` reads every row of the period (about 0.9 s over 100,000 rows on a loaded 2-core
machine), more than a page may take. So each period's report is kept with the ledger state it was
computed from (highest row id, number of misses); a page whose ledger has not changed gets it as is,
one whose ledger moved on gets the kept report marked "updating" while a background thread computes
the new one. Only a period never asked before is computed while the page waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kept:
    """A report and the ledger state it describes."""

    state: tuple[int, int]
    report: dict[str, Any]
    at: float


class OutcomesCache:
    """Reports per period text ('7d'), refreshed in the background when the ledger changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[str, Kept] = {}
        self._busy: set[str] = set()

    @staticmethod
    def state(ledger: Any) -> tuple[int, int]:
        """What changes when the report would: rows appended, routing misses marked."""
        rows = ledger._query(  # noqa: SLF001
            "SELECT (SELECT COALESCE(MAX(id), 0) FROM attempts), (SELECT COUNT(*) FROM misses)")
        return int(rows[0][0]), int(rows[0][1])

    def get(self, key: str, ledger: Any, compute: Callable[[], dict[str, Any]],
            background: Callable[[], None]) -> tuple[dict[str, Any], float | None]:
        """(report, the time it was computed if it is being updated now, else None)."""
        now_state = self.state(ledger)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept.state == now_state:
                return kept.report, None
            if kept is not None:
                if key not in self._busy:
                    self._busy.add(key)
                    threading.Thread(target=background, name="routesh-ui-outcomes", daemon=True).start()
                return kept.report, kept.at
        report = compute()
        self.put(key, now_state, report)
        return report, None

    def put(self, key: str, state: tuple[int, int], report: dict[str, Any]) -> None:
        with self._lock:
            self._kept[key] = Kept(state, report, time.time())
            self._busy.discard(key)

    def failed(self, key: str) -> None:
        """A background computation ended without a report: let the next page try again."""
        with self._lock:
            self._busy.discard(key)
