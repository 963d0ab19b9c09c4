"""What a session spent, summed from its attempt records, for the cost line `routesh code` prints when it ends."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ..core.estimate import short_tokens, usd
from ..core.events import AttemptRecord


@dataclass
class Tally:
    """Running totals over attempts (thread-safe: the gateway records from its own thread)."""

    requests: set[str] = field(default_factory=set)
    input_tokens: int = 0  # cache reads and writes included: everything that was sent
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0  # attempts that used tokens at an unknown price
    estimated: int = 0  # attempts whose counts are partly estimated (cancelled, broken off)
    session_id: str | None = None  # Claude Code's session, as its latest request named it (for the resume line)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, rec: AttemptRecord) -> None:
        """Count one attempt."""
        used = rec.input_tokens is not None or rec.output_tokens is not None
        with self._lock:
            self.requests.add(rec.request_id)
            self.input_tokens += (rec.input_tokens or 0) + (rec.cache_read_tokens or 0) + (rec.cache_write_tokens or 0)
            self.output_tokens += rec.output_tokens or 0
            if rec.cost_usd is not None:
                self.cost_usd += rec.cost_usd
            elif used:
                self.unpriced += 1
            if rec.extra.get("usage") == "estimated":
                self.estimated += 1
            if rec.session_id:
                self.session_id = rec.session_id

    def line(self) -> str:
        """'3 requests · 81k in / 1.2k out · $0.27', with what is unknown or estimated said."""
        n = len(self.requests)
        text = (f"{n} request{'s' if n != 1 else ''} · {short_tokens(self.input_tokens)} in / "
                f"{short_tokens(self.output_tokens)} out · {usd(self.cost_usd)}")
        if self.unpriced:
            text += f" + {self.unpriced} unpriced"
        if self.estimated:
            text += f" ({self.estimated} partly estimated)"
        return text
