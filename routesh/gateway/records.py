"""Every attempt becomes a ledger row (written off the event loop) and, with --verbose, a log line."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.baseline import baseline_cost
from ..core.config import Provider, Route
from ..core.events import AttemptRecord
from .failures import scrub
from .ledger_writer import LedgerWriter, Log
from .signals import SignalTracker

if TYPE_CHECKING:
    from ..core.context import Context
    from .admit import Job
    from .attempts import AttemptInfo

ESTIMATED = "estimated"  # a key in a usage dict: its counts are partly estimated
PROMPT_CAP = 16_384  # characters of a prompt the ledger keeps (log_prompts); the hash and length cover all of it


def capped(prompt: str) -> str:
    """The prompt as stored: whole when short, else its start and a note of what was left out."""
    if len(prompt) <= PROMPT_CAP:
        return prompt
    return prompt[:PROMPT_CAP] + f"\n[… {len(prompt) - PROMPT_CAP} more characters not stored]"


class Records:
    """Writes the ledger row and the verbose log line of each attempt."""

    signals = True  # record the outcome signals (benchmarks/signals_overhead.py compares on and off)

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
        u = dict(usage or {})
        estimated = bool(u.pop(ESTIMATED, 0))
        tin, tout = u.get("input_tokens"), u.get("output_tokens")
        cread, cwrite = u.get("cache_read_input_tokens"), u.get("cache_creation_input_tokens")
        cost = None
        if u:
            from ..core.cost import cost_usd

            info = self.ctx.catalog.get(model)
            if info is not None:
                cost = cost_usd(info, tin or 0, tout or 0, cread or 0, cwrite or 0)
        if error is not None:
            error = scrub(error, self._secrets)
        if self.ledger is not None:
            profile = self.ctx.profile
            sig = self._signals(job)
            self.ledger.record(AttemptRecord(
                ts=ts or job.started, request_id=job.request_id, attempt=attempt, profile=profile.name,
                route=route.name, provider=provider.name, model=model, via="gateway", status=status,  # type: ignore[arg-type]
                input_tokens=tin, output_tokens=tout, cache_read_tokens=cread, cache_write_tokens=cwrite,
                cost_usd=cost, latency_ms=latency_ms, ttft_ms=ttft_ms, error=error, rule=job.cls.label,
                prompt_sha256=job.prompt_sha, prompt_chars=len(job.prompt),
                prompt=capped(job.prompt) if profile.log_prompts else None, tag=None, session_id=job.session,
                extra={"class": job.cls.kind, "signals": ",".join(job.cls.signals),
                       "stream": "true" if job.stream else "false", **({"usage": "estimated"} if estimated else {}),
                       "profile_why": self.ctx.choice.why,  # for `routesh ui`'s explanation; secret kinds, never values
                       **({} if job.secrets is None else {"secrets": job.secrets})},
                baseline_cost_usd=baseline_cost(self.ctx.config, self.ctx.catalog, tin, tout, cread, cwrite),
                **sig,
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

    def _signals(self, job: Job) -> dict[str, Any]:
        """The request's outcome signals for its first ledger row (nothing on later ones, nothing when off)."""
        if job.signals_recorded or not self.signals:
            return {}
        job.signals_recorded = True
        tracker = self.__dict__.get("_tracker")
        if tracker is None:
            tracker = self.__dict__["_tracker"] = SignalTracker()
        sig = tracker.observe(job.session, job.body.get("messages"), job.cls.kind, job.prompt)
        return {"tool_calls": sig.tool_calls, "failed_tool_calls": sig.failed_tool_calls, "edits": sig.edits,
                "rejected_edits": sig.rejected_edits, "tools": sig.tools, "turn": sig.turn,
                "prompt_sketch": sig.prompt_sketch}


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)
