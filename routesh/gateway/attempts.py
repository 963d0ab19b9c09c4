"""The attempt loop: each route of the plan with its retries and fallbacks, and one try on one upstream."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.config import Provider, Route
from ..core.errors import KeyMissing, PolicyRefusal
from ..core.events import EngineError
from ..engines.dispatch import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    RoutePlan,
    auth_hint,
    backoff_s,
    is_retryable,
    large_context_route,
)
from . import jsonsplice, offload, translated
from .admit import Job
from .client import Conn, Head, UpstreamError, parse_origin
from .failures import Failure, anthropic_error_fields, describe, fail, retry_after_seconds, scrub, upstream_request_id
from .framing import MAX_BODY, error_body, respond
from .watchdog import Watchdog

if TYPE_CHECKING:
    from ..core.context import Context
    from ..core.policy import BudgetVerdict
    from .pool import Pool

# Sent by Claude Code and every Stainless-made SDK (anthropic, openai): the client retries 408/409/429/5xx itself.
CLIENT_RETRY_HEADER = "x-stainless-retry-count"
DEFAULT_BASE = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
# Request headers that belong to this hop or to the client's credential for the gateway, never forwarded.
_DROP_REQUEST = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
                           "upgrade", "proxy-authorization", "proxy-connection", "authorization", "x-api-key",
                           "accept-encoding", "expect", "cookie"})


class Attempts:
    """Runs the plan: routes in order, retries with backoff, a jump to the long-context route when one is needed."""

    if TYPE_CHECKING:  # provided by Gateway and the other parts
        verbose: bool
        log: Callable[[str], None]
        pool: Pool
        ctx: Context
        _keys: dict[tuple[str, str], str | None]
        _secrets: tuple[str, ...]
        _rng: random.Random
        _sleep: Callable[[float], Any]

        async def key(self, profile: str, provider: Provider) -> str | None: ...
        def _refuse(self, job: Job, writer: asyncio.StreamWriter, why: str) -> bool: ...
        def budget_now(self) -> BudgetVerdict | None: ...
        def _record(self, job: Job, attempt: int, route: Route, provider: Provider, model: str, status: str, *,
                    error: str | None = None) -> None: ...
        def _finish(self, rec: AttemptInfo, status: str, *, error: str | None = None,
                    usage: Any = None) -> None: ...
        def _whole(self, rec: AttemptInfo, head: Head, data: bytes, writer: asyncio.StreamWriter,
                   openai: bool) -> Failure | None: ...
        async def _relay_stream(self, rec: AttemptInfo, conn: Conn, head: Head, writer: asyncio.StreamWriter,
                                openai: bool, watchdog: Watchdog) -> Failure | None: ...

    async def _run(self, job: Job, routes: tuple[str, ...], writer: asyncio.StreamWriter) -> bool:
        """The plan: each route with its retries, like dispatch.Dispatcher.run; stops at the first answer.

        A client that retries by itself (Claude Code, any Anthropic SDK: x-stainless-retry-count) is not retried
        for: an upstream status goes back at once with its retry-after, so its own backoff sees it and attempts do
        not multiply. Only what the client cannot do is tried here: the next route, and a connection that failed
        before any byte of an answer. A route that can never work (no key, a subscription) is a permanent error.
        """
        ctx = self.ctx
        config, profile = ctx.config, ctx.profile
        plan = RoutePlan(config, ctx.catalog, routes, profile, lambda msg: self._note(job, msg), self.budget_now)
        client_retries = CLIENT_RETRY_HEADER in job.req.headers
        attempt_no = 0
        last: Failure | None = None
        for name, route in plan:
            provider = config.provider_for(route, profile)
            if provider.auth == "subscription":
                last = last or self._permanent(job, route, provider, 502, (
                    f"routesh: route {name} uses provider {provider.name} with `auth: subscription`, which only "
                    f"Claude Code itself can use, not the gateway; give {provider.name} an API key (remove `auth: "
                    f"subscription`, then `routesh keys set {provider.name} --profile {profile.name}`) or point "
                    f"this kind of request at another route in routes.yaml"))
                continue
            if provider.type == "openai":
                from .openai_request import server_tools

                unserved = server_tools(job.body.get("tools"))
                if unserved:
                    last = last or self._permanent(job, route, provider, 400, (
                        f"routesh: route {name} ({provider.name}, an OpenAI-compatible provider) cannot run "
                        f"Anthropic's server tool {', '.join(unserved)}, and it is never dropped silently; point "
                        f"code.web_search (or this route's fallback) at a route on an Anthropic provider"),
                        "invalid_request_error")
                    continue
            try:
                key = await self.key(profile.name, provider)
            except PolicyRefusal as exc:  # a restricted profile on another profile's key: nothing is sent
                return self._refuse(job, writer, str(exc).removeprefix("refused, nothing was sent: "))
            except KeyMissing as exc:
                last = last or self._permanent(job, route, provider, 401, f"routesh: {exc}", "authentication_error")
                continue
            except Exception as exc:  # noqa: BLE001 - a locked or broken keyring: say so, try the next route
                last = last or fail(500, f"routesh: cannot read the key for {provider.name}: {exc}")
                self._note(job, f"skipping route {name}: {str(exc).splitlines()[0]}")
                continue
            retries = route.retries if route.retries is not None else DEFAULT_RETRIES
            for retry in range(retries + 1):
                attempt_no += 1
                result = await self._attempt(job, route, provider, key, attempt_no, writer)
                if result is None:
                    return job.req.keep_alive and not writer.transport.is_closing()
                last = result
                err = result.err
                if err.context_too_long:
                    big = large_context_route(config)
                    if big:
                        plan.jump(big)  # checked by the profile's policy like every route change
                    break
                if err.status in (401, 403):
                    self._keys.pop((profile.name, provider.name), None)  # maybe the key was replaced since
                    hint = auth_hint(profile.name, provider)
                    result.body = error_body(err.status, f"{err.message} — {hint}")
                    result.headers = (*result.headers, ("x-should-retry", "false"))
                    break
                if not is_retryable(err) or retry == retries:
                    break
                if client_retries and (err.status is not None or err.kind == "timeout"):
                    break  # the client's own backoff takes it from here (or the next route does)
                if writer.transport.is_closing():
                    return False
                wait = backoff_s(retry + 1, err.retry_after, self._rng)
                self._note(job, f"{provider.name}/{route.model}: {describe(err)}; retrying in {wait:.1f}s")
                await self._sleep(wait)
        if last is None:
            last = fail(502, "routesh: no route could be tried")
        if plan.refusal():  # what was left to try is forbidden: say so, in Anthropic's error shape
            message, etype = anthropic_error_fields(last.body, last.status)
            last.body = error_body(last.status, f"{message} (routesh refused to go on: {plan.refusal()})", etype)
        headers = [("x-routesh-request-id", job.request_id), *last.headers]
        respond(writer, last.status, last.body, keep=job.req.keep_alive, headers=headers)
        return job.req.keep_alive

    def _permanent(self, job: Job, route: Route, provider: Provider, status: int, message: str,
                   etype: str | None = None) -> Failure:
        """A route that cannot work until the user changes something: said once, recorded, never retried."""
        self.log(f"routesh: [{job.request_id}] {message}")
        self._record(job, 0, route, provider, self.ctx.catalog.resolve(route.model), "error", error=message)
        failure = fail(status, message, etype)
        failure.headers = (("x-should-retry", "false"),)
        return failure

    def _note(self, job: Job, msg: str) -> None:
        if self.verbose:
            self.log(f"routesh: [{job.request_id}] {msg}")

    # -- one attempt --------------------------------------------------------------------------------------

    def _forward_body(self, job: Job, route: Route, model: str) -> bytes:
        """The request for an anthropic-type upstream: the client's bytes with a few values swapped in place.

        The model; the prefix, when there was one; thinking, max_tokens and effort reshaped for the model that
        answers (Claude Code shaped them for the one it believes it talks to); and thinking blocks without a
        signature (from an earlier translated turn) dropped, since Anthropic rejects them.
        """
        cached = job.bodies.get(route.name)
        if cached is not None:
            return cached
        from .thinking import reshape_thinking

        changes: dict[str, Any] = {"model": model}
        body: Mapping[str, Any] = job.body
        if job.cls.edit is not None:
            from .classify import strip_prefix

            body = strip_prefix(body, job.cls.edit)
            changes["messages"] = body["messages"]
        if b'"signature":""' in job.req.body or b'"signature": ""' in job.req.body:
            from .openai_request import strip_unsigned_thinking

            stripped = strip_unsigned_thinking(body)
            if stripped is not None:
                changes["messages"] = stripped["messages"]
        changes.update(reshape_thinking(body, model, route.max_output_tokens))
        data = jsonsplice.splice_bytes(job.req.body, job.text, job.spans, changes)
        job.bodies[route.name] = data
        return data

    async def _attempt(self, job: Job, route: Route, provider: Provider, key: str | None, attempt_no: int,
                       writer: asyncio.StreamWriter) -> Failure | None:
        """One try on one route: None when the client got an answer (whole or broken off), else the Failure."""
        ctx = self.ctx
        model = ctx.catalog.resolve(route.model)
        start = time.time()
        t0 = time.perf_counter()
        try:
            origin = parse_origin(provider.base_url or DEFAULT_BASE[provider.type])
        except ValueError as exc:
            return fail(500, f"routesh: provider {provider.name}: {exc}")
        openai = provider.type == "openai"
        if openai:
            payload, headers = await offload.maybe_threaded(len(job.req.body), translated.openai_request, job,
                                                            provider, route, model, key)
            path = origin.base_path + "/chat/completions"
        else:
            payload = self._forward_body(job, route, model)
            path = origin.base_path + "/v1/messages" + (f"?{job.req.query}" if job.req.query else "")
            headers = [(k, v) for k, v in job.req.raw_headers if k not in _DROP_REQUEST]
            headers.append(("accept-encoding", "identity"))
            if key:
                headers.append(("authorization", f"Bearer {key}") if provider.auth == "bearer" else ("x-api-key", key))
        timeout = route.timeout_s or DEFAULT_TIMEOUT_S
        rec = AttemptInfo(job, attempt_no, route, provider, model, start, t0)
        conn: Conn | None = None
        watchdog: Watchdog | None = None
        try:
            for fresh in (False, True):
                conn = await self.pool.acquire(origin)
                watchdog = Watchdog(conn, writer, timeout)
                conn.send("POST", path, headers, payload)
                try:
                    head = await conn.head()
                    break
                except UpstreamError as exc:
                    watchdog.cancel()
                    conn.close()
                    if exc.sent or fresh or not conn.reused:
                        raise
            assert conn is not None and watchdog is not None
            if not 200 <= head.status < 300:
                data = await conn.read_body()
                watchdog.cancel()
                conn.release()
                return self._http_failure(rec, head, data, openai)
            if job.stream:
                return await self._relay_stream(rec, conn, head, writer, openai, watchdog)
            data = await conn.read_body(MAX_BODY)
            watchdog.cancel()
            conn.release()
            return self._whole(rec, head, data, writer, openai)
        except UpstreamError as exc:
            if watchdog is not None:
                watchdog.cancel()
            if conn is not None:
                conn.close()
            if watchdog is not None and watchdog.client_gone:
                self._finish(rec, "cancelled", error="the client went away")
                return None
            err = EngineError(f"{provider.name}: {exc}", kind="timeout" if exc.kind == "timeout" else "connection")
            self._finish(rec, "error", error=str(err))
            status = 504 if exc.kind == "timeout" else 502
            return Failure(err, status, error_body(status, f"routesh: {err}"))
        except asyncio.CancelledError:
            if conn is not None:
                conn.close()
            raise

    def _http_failure(self, rec: AttemptInfo, head: Head, data: bytes, openai: bool) -> Failure:
        """An upstream error status, in Anthropic's shape with its status and retry-after kept, keys cut out."""
        status = head.status
        retry_after = head.get("retry-after")
        if openai:
            from .openai_errors import from_openai_error

            aerr = from_openai_error(status, data, head.headers)
            message, etype, retry_after = aerr.message, aerr.type, aerr.retry_after
        else:
            message, etype = anthropic_error_fields(data, status)
            if retry_after is None and head.get("retry-after-ms"):
                try:
                    retry_after = str(max(0, -(-int(float(head.get("retry-after-ms") or 0)) // 1000)))
                except ValueError:
                    retry_after = None
        message = scrub(message, self._secrets)
        too_long = status in (400, 413) and "prompt is too long" in message.lower()
        err = EngineError(message, status=status, retry_after=retry_after_seconds(retry_after, time.time()),
                          context_too_long=too_long)
        self._finish(rec, "error", error=f"HTTP {status}: {message}")
        headers: list[tuple[str, str]] = []
        if retry_after is not None:
            headers.append(("retry-after", retry_after))
        for name in ("request-id", "x-should-retry"):
            value = head.get(name)
            if value:
                headers.append((name, value))
        shaped: dict[str, Any] = {"type": "error", "error": {"type": etype, "message": message}}
        request_id = None if openai else upstream_request_id(data)
        if request_id:
            shaped["request_id"] = request_id  # what Anthropic's support asks for; Claude Code shows it
        return Failure(err, status, json.dumps(shaped).encode(), tuple(headers))


@dataclass
class AttemptInfo:
    """What the record of one attempt needs."""

    job: Job
    attempt: int
    route: Route
    provider: Provider
    model: str
    start: float
    t0: float
    ttft_ms: float | None = None
