"""Every attempt becomes a ledger row (written off the event loop) and, with --verbose, a log line."""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..config import Profile, Provider, Route
from ..events import AttemptRecord
from ..policy import day_start, month_start
from .attempts import scrub

if TYPE_CHECKING:
    from ..context import Context
    from .admit import Job
    from .attempts import AttemptInfo

Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class LedgerWriter:
    """Writes attempts on a background thread, so the relay never waits for SQLite; keeps budget totals warm."""

    def __init__(self, path: str | None, profile: Profile | None = None, log: Log = _stderr) -> None:
        self._path = path
        self._q: queue.SimpleQueue[AttemptRecord | None] = queue.SimpleQueue()
        self._log = log
        self._budget_profile = profile.name if profile is not None and profile.budget is not None else None
        self._queued_cost = 0.0  # written by the loop's thread only
        self._written_cost = 0.0  # written by the ledger thread only
        self._base: tuple[float, float, float] = (0.0, 0.0, 0.0)  # spent today, this month, _written_cost then
        self._thread = threading.Thread(target=self._run, name="routesh-ledger", daemon=True)
        self._thread.start()

    def record(self, rec: AttemptRecord) -> None:
        """Queue one row (never blocks, never raises)."""
        if rec.cost_usd:
            self._queued_cost += rec.cost_usd
        self._q.put(rec)

    def spent_now(self) -> tuple[float, float]:
        """Spend today and this month for the budget profile, counting rows still queued."""
        today, month, seen = self._base
        unseen = self._queued_cost - seen
        return today + unseen, month + unseen

    def _run(self) -> None:
        try:
            from ..ledger import Ledger

            ledger = Ledger(self._path) if self._path else Ledger()
        except Exception as exc:  # noqa: BLE001 - no ledger must not mean no answers
            self._log(f"routesh: warning: usage ledger unavailable ({type(exc).__name__}); requests are not recorded")
            while self._q.get() is not None:
                pass
            return
        self._refresh(ledger)
        last = time.monotonic()
        while True:
            try:
                rec = self._q.get(timeout=5)
            except queue.Empty:
                rec = False  # type: ignore[assignment]
            if rec is None:
                break
            if isinstance(rec, AttemptRecord):
                ledger.record(rec)
                if rec.cost_usd:
                    self._written_cost += rec.cost_usd
            if self._budget_profile and time.monotonic() - last > 5:
                self._refresh(ledger)
                last = time.monotonic()
        ledger.close()

    def _refresh(self, ledger: Any) -> None:
        if not self._budget_profile:
            return
        now = datetime.now()
        seen = self._written_cost
        try:
            self._base = (ledger.spent(self._budget_profile, day_start(now).timestamp()),
                          ledger.spent(self._budget_profile, month_start(now).timestamp()), seen)
        except Exception:  # noqa: BLE001 - a budget that cannot be read is checked against the last totals
            pass

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop."""
        self._q.put(None)
        self._thread.join(timeout)


# ------------------------------------------------------------------------------------------------ requests


class Records:
    """Writes the ledger row and the verbose log line of each attempt."""

    if TYPE_CHECKING:  # provided by Gateway
        verbose: bool
        log: Log
        ledger: LedgerWriter | None
        ctx: Context
        _secrets: tuple[str, ...]

    def _finish(self, rec: AttemptInfo, status: str, *, error: str | None = None,
                usage: Mapping[str, int] | None = None) -> None:
        job = rec.job
        latency = (time.perf_counter() - rec.t0) * 1000
        self._record(job, rec.attempt, rec.route, rec.provider, rec.model, status, error=error, usage=usage,
                     latency_ms=latency, ttft_ms=rec.ttft_ms, ts=rec.start)

    def _record(self, job: Job, attempt: int, route: Route, provider: Provider, model: str, status: str, *,
                error: str | None = None, usage: Mapping[str, int] | None = None, latency_ms: float | None = None,
                ttft_ms: float | None = None, ts: float | None = None) -> None:
        u = usage or {}
        tin, tout = u.get("input_tokens"), u.get("output_tokens")
        cread, cwrite = u.get("cache_read_input_tokens"), u.get("cache_creation_input_tokens")
        cost = None
        if u:
            from ..cost import cost_usd

            info = self.ctx.catalog.get(model)
            if info is not None:
                cost = cost_usd(info, tin or 0, tout or 0, cread or 0, cwrite or 0)
        if error is not None:
            error = scrub(error, self._secrets)
        if self.ledger is not None:
            profile = self.ctx.profile
            self.ledger.record(AttemptRecord(
                ts=ts or job.started, request_id=job.request_id, attempt=attempt, profile=profile.name,
                route=route.name, provider=provider.name, model=model, via="gateway", status=status,  # type: ignore[arg-type]
                input_tokens=tin, output_tokens=tout, cache_read_tokens=cread, cache_write_tokens=cwrite,
                cost_usd=cost, latency_ms=latency_ms, ttft_ms=ttft_ms, error=error, rule=job.cls.label,
                prompt_sha256=job.prompt_sha, prompt_chars=len(job.prompt),
                prompt=job.prompt if profile.log_prompts else None, tag=None, session_id=job.session,
                extra={"class": job.cls.kind, "signals": ",".join(job.cls.signals),
                       "stream": "true" if job.stream else "false"},
            ))
        if self.verbose:
            line = (f"route={route.name} provider={provider.name} model={model} status={status} "
                    f"tokens_in={_n(tin)} tokens_out={_n(tout)} "
                    f"latency_ms={'-' if latency_ms is None else f'{latency_ms:.0f}'} class={job.cls.kind} "
                    f"attempt={attempt} request={job.request_id}")
            if cread or cwrite:
                line += f" cache_read={cread or 0} cache_write={cwrite or 0}"
            if error:
                line += f" error={json.dumps(error[:300])}"
            self.log(line)


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)
