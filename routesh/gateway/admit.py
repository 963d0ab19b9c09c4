"""What happens to a /v1/messages request before any upstream sees it: parse, classify, policy, screen, budget."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.policy import BudgetVerdict, apply_budget, check, check_budget
from ..core.router import Decision, fallback_chain
from . import jsonsplice, offload
from .classify import Classification, classify, latest_user_text
from .framing import Request, error_body, respond
from .signals import session_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..core.config import Config, Provider, Route
    from ..core.context import Context
    from .budget import Reservations
    from .records import LedgerWriter
    from .screening import Screener


@dataclass
class Job:
    """Everything one /v1/messages request carries through its attempts."""

    request_id: str
    req: Request
    text: str
    body: dict[str, Any]
    spans: jsonsplice.Spans
    cls: Classification
    stream: bool
    prompt: str
    prompt_sha: str
    session: str | None
    started: float
    bodies: dict[str, bytes] = field(default_factory=dict)  # per route: the forwarded body
    committed: bool = False  # the client has received the first byte
    signals_recorded: bool = False  # the outcome signals went on the request's first ledger row
    secrets: str | None = None  # what screening found in the new parts (kinds and places, never values); "" none

_ID_PREFIX = os.urandom(4).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """16 hex characters, unique in this process: a random prefix drawn once, then a counter (no syscall per id)."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}"


def shape_problem(body: dict[str, Any], *, need_model: bool = True) -> str | None:
    """What makes a Messages request malformed where the gateway reads it, or None (the provider checks the rest)."""
    if need_model and not isinstance(body.get("model"), str):
        return "model and messages are required"
    messages = body.get("messages")
    if not isinstance(messages, list):
        return "model and messages are required" if need_model else "messages must be a list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            return f"messages[{i}] must be an object with a role"
        if not _blocks_ok(m.get("content")):
            return f"messages[{i}].content must be a string or a list of content blocks"
    if "system" in body and body["system"] is not None and not _blocks_ok(body["system"]):
        return "system must be a string or a list of content blocks"
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        return "tools must be a list of objects"
    return None


def _blocks_ok(content: Any) -> bool:
    return isinstance(content, str) or (isinstance(content, list) and all(
        isinstance(b, dict) and isinstance(b.get("type", ""), str) for b in content))


def _prepare(req: Request, config: Config, started: float) -> Job | str:
    """The request parsed, checked and classified, or why it is malformed (may run on a thread: large bodies)."""
    try:
        text = req.body.decode("utf-8")
        body, spans = jsonsplice.parse_object(text)
        problem = shape_problem(body)
        if problem:
            raise ValueError(problem)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return "JSON nested too deeply" if isinstance(exc, RecursionError) else str(exc)
    cls = classify(body, config, datetime.now(), raw=req.body, headers=req.headers)
    prompt = latest_user_text(body["messages"])
    return Job(new_request_id(), req, text, body, spans, cls, body.get("stream") is True, prompt,
               hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest(),
               session_of(body, req.headers.get("x-claude-code-session-id")), started)


class Admission:
    """Turns a request into a Job and decides whether it may be sent, and where."""

    if TYPE_CHECKING:  # provided by Gateway and the other parts
        requests: int
        ledger: LedgerWriter | None
        ctx: Context
        on_refused: Callable[[str], None] | None
        _screener: Screener
        _reserved: Reservations

        def _maybe_reload(self) -> None: ...
        def _note(self, job: Job, msg: str) -> None: ...
        async def _run(self, job: Job, routes: tuple[str, ...], writer: asyncio.StreamWriter) -> bool: ...
        def _record(self, job: Job, attempt: int, route: Route, provider: Provider, model: str, status: str, *,
                    error: str | None = None) -> None: ...

    async def _messages(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        self.requests += 1
        self._maybe_reload()
        started = time.time()
        ctx = self.ctx
        config, profile = ctx.config, ctx.profile
        prepared = await offload.maybe_threaded(len(req.body), _prepare, req, config, started)
        if isinstance(prepared, str):
            respond(writer, 400, error_body(400, f"invalid request body: {prepared}"), keep=req.keep_alive)
            return req.keep_alive
        job = prepared
        cls, prompt = job.cls, job.prompt
        decision = Decision(cls.route, prompt, cls.rule, cls.prefix, cls.reason, fallback_chain(config, cls.route),
                            cls.estimated_tokens)
        verdict = check(decision, config, profile)
        if not verdict.allowed:
            return self._refuse(job, writer, verdict.why)
        if profile.on_secret != "allow":
            refusal = await self._screen(job, profile.name, profile.on_secret)
            if refusal:
                return self._refuse(job, writer, refusal)
        verdict = apply_budget(verdict, self.budget_now(held=self._reserved.total), config, profile)
        if not verdict.allowed:
            return self._refuse(job, writer, verdict.why)
        if profile.budget is not None:  # hold the estimate until settled, so concurrent requests cannot race past
            from .budget import estimate_usd

            model = ctx.catalog.resolve(config.routes[verdict.routes[0]].model)
            estimate = estimate_usd(ctx.catalog, model, cls.estimated_tokens, job.body.get("max_tokens"))
            with self._reserved.hold(estimate):
                return await self._run(job, verdict.routes, writer)
        return await self._run(job, verdict.routes, writer)

    def budget_now(self, held: float = 0.0) -> BudgetVerdict | None:
        """The profile's budget now (None: no budget); one that cannot be checked counts as spent, never as free.

        `held`: the estimates of requests admitted and still in flight (budget.py), counted as spent at admission."""
        profile = self.ctx.profile
        if profile.budget is None:
            return None
        problem = "no usage ledger" if self.ledger is None else self.ledger.problem
        if problem is None:
            assert self.ledger is not None
            today, month = self.ledger.spent_now()
            return check_budget(profile, today + held, month + held, datetime.now())
        return BudgetVerdict(True, f"profile '{profile.name}' has a budget but {problem}")

    async def _screen(self, job: Job, profile: str, on_secret: str) -> str | None:
        """Secrets anywhere in what would leave (screening.py): why to refuse, or None to send.

        Only the parts not seen clean before are scanned; a long one off the loop (offload.py).
        Claude Code's context cannot be rewritten safely from here, so `redact` refuses like `block`.
        """
        from .screening import Hit, describe_hits, digests, tools_key

        hits: list[Hit] = []
        span = job.spans.get("tools")
        tools = tools_key(job.text[span[0]:span[1]]) if span is not None else None
        tools_seen = tools is not None and self._screener.known(tools)  # then its parts need no hashing either
        parts = await offload.maybe_threaded(len(job.req.body), digests, job.body, not tools_seen)
        for where, text, digest in self._screener.select(parts):
            found = await offload.screen(text)
            if found is not None:
                hits.append(Hit(where, found))
            if found is None or on_secret == "warn":  # a hit let through is not reported again
                self._screener.remember(digest)
        if tools is not None and not tools_seen and (on_secret == "warn" or not any(
                h.where.startswith("tool ") for h in hits)):
            self._screener.remember(tools)
        job.secrets = describe_hits(hits) if hits else ""
        if not hits:
            return None
        if on_secret == "warn":
            self._note(job, f"secret sent (on_secret: warn): {describe_hits(hits)}")
            return None
        return (f"{describe_hits(hits)}; profile '{profile}' does not send secrets (on_secret: {on_secret}). "
                "Remove the secret from what Claude Code read or was given (a file, CLAUDE.md, a tool's output), "
                "then rewind (Esc Esc) past the turn that brought it in")

    def _refuse(self, job: Job, writer: asyncio.StreamWriter, why: str) -> bool:
        if self.on_refused is not None:
            self.on_refused(why)
        ctx = self.ctx
        route = ctx.config.routes[job.cls.route]
        self._record(job, 0, route, ctx.config.provider_for(route, ctx.profile), ctx.catalog.resolve(route.model),
                     "refused", error=why)
        respond(writer, 403, error_body(403, f"routesh refused this request, nothing was sent: {why}",
                                              "permission_error"), keep=job.req.keep_alive,
                      headers=(("x-routesh-request-id", job.request_id),))
        return job.req.keep_alive
