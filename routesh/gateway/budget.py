"""Budgets under concurrency: each admitted request holds its estimated cost until its real cost is recorded.

The ledger knows what finished requests cost; requests in flight cost nothing there yet, so 50 requests
arriving together against a tiny budget would all pass. Each admitted request therefore reserves an
estimate (its input tokens and OUTPUT_GUESS output tokens, at the route's price) that later checks count as
spent, and releases it once its ledger rows (with the real cost) are queued. A request is admitted while
spent + reserved is under the limit, as the CLI admits one while spent is, so the overspend is bounded by
the requests admitted before the limit was reached and still in flight (docs/gateway.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.catalog import Catalog

OUTPUT_GUESS = 1024  # output tokens assumed for a request in flight (a typical agent turn writes fewer)


class Reservations:
    """The estimated cost of the requests admitted and not yet settled (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.total = 0.0
        self.in_flight = 0

    @contextmanager
    def hold(self, amount: float) -> Iterator[None]:
        """Count `amount` as spent until the block ends (the real cost is in the ledger by then)."""
        self.total += amount
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1
            self.total = max(0.0, self.total - amount) if self.in_flight else 0.0


def estimate_usd(catalog: Catalog, model: str, input_tokens: int, max_tokens: object) -> float:
    """What one request is expected to cost on `model`; 0 when its price is unknown."""
    from ..core.cost import cost_usd

    out = min(max_tokens, OUTPUT_GUESS) if isinstance(max_tokens, int) and max_tokens > 0 else OUTPUT_GUESS
    return cost_usd(catalog.get(model), input_tokens, out) or 0.0
