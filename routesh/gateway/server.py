"""`routesh serve`: an Anthropic Messages API server that routes Claude Code's own requests.

Each POST /v1/messages is classified (classify.py), checked against the profile's policy before any
byte leaves, then sent to the route's provider with the real key from the keyring: relayed as bytes
for `type: anthropic`, translated both ways for `type: openai`. Retries and fallbacks follow the
rules of dispatch.py and happen only before the first byte reaches the client; after that a broken
upstream becomes an Anthropic `event: error`. Every attempt is a ledger row.

One asyncio loop, a hand-written HTTP/1.1 server and a pooled upstream client (client.py): no
framework, no SDK, so the per-request and per-chunk costs stay small.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import queue
import random
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ..config import Config, Profile, Provider, Route
from ..context import Context
from ..dispatch import (
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT_S,
    KeyMissing,
    RoutePlan,
    auth_hint,
    backoff_s,
    is_retryable,
    large_context_route,
)
from ..engines import parse_retry_after
from ..errors import PolicyRefusal
from ..events import AttemptRecord, EngineError
from ..keymask import mask_keys
from ..policy import apply_budget, check, check_budget, day_start, month_start, route_refusal
from ..router import Decision, fallback_chain
from . import jsonsplice
from .classify import SENTINELS, Classification, classify, latest_user_text, outgoing_text
from .client import Conn, Head, Pool, UpstreamError, parse_origin
from .sniff import AnthropicSniffer, usage_of_message

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
HIGH_WATER = 256 * 1024  # client write buffer above which the upstream is paused
DEFAULT_BASE = {"anthropic": "https://api.anthropic.com", "openai": "https://api.openai.com/v1"}
RELOAD_CHECK_S = 1.0
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 413: "Payload Too Large", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded"}
# Request headers that belong to this hop or to the client's credential for the gateway, never forwarded.
_DROP_REQUEST = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
                           "upgrade", "proxy-authorization", "proxy-connection", "authorization", "x-api-key",
                           "accept-encoding", "expect", "cookie"})
_DROP_RESPONSE = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie",
                            "alt-svc", "server", "date"})

KeyFn = Callable[[str, Provider], "str | None"]
Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ small helpers


def error_body(status: int, message: str, etype: str | None = None) -> bytes:
    """Anthropic's error shape."""
    from .translate import error_type_for_status

    return json.dumps({"type": "error", "error": {"type": etype or error_type_for_status(status),
                                                  "message": message}}).encode()


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """retry-after as seconds: a number, or an HTTP date."""
    return parse_retry_after({"retry-after": value} if value else None, now)


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """Upstream text with any key we hold, and anything key-shaped, cut out."""
    return mask_keys(text, *secrets)


def _openai_options(provider: Provider, route: Route, model: str) -> Any:
    """How to shape requests for one OpenAI-compatible server, from what its base_url says it is."""
    from .translate import OpenAIOptions

    host = (provider.base_url or "").lower()
    kw: dict[str, Any] = {"model": model, "max_tokens_cap": route.max_output_tokens}
    if "openrouter.ai" in host:
        kw.update(reasoning="openrouter", keep_cache_control=True)
    elif "api.openai.com" in host:
        kw.update(max_tokens_field="max_completion_tokens")
    elif "deepseek" in host:
        kw.update(reasoning="none")
    elif "dashscope" in host or "siliconflow" in host:
        kw.update(reasoning="enable_thinking")
    return OpenAIOptions(**kw)


# ------------------------------------------------------------------------------------------------ the ledger


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


@dataclass
class Request:
    """One client request as the handler sees it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    body: bytes
    keep_alive: bool


@dataclass
class Failure:
    """An attempt that did not reach the client: what went wrong, and what to tell the client if it is the last."""

    err: EngineError
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Job:
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


@dataclass(frozen=True)
class _State:
    """The config in effect; replaced whole when routes.yaml changes."""

    ctx: Context
    stamp: tuple[float, int] | None  # (mtime, size) of the file it came from


class Gateway:
    """The server: authenticates, classifies, applies policy, relays, records."""

    def __init__(self, ctx: Context, token: str, *, verbose: bool = False, log: Log = _stderr,
                 ledger: LedgerWriter | None = None, key_fn: KeyFn | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], Any] | None = None,
                 reload: bool = True) -> None:
        if not token:
            raise ValueError("the gateway needs a token")
        self._token = token.encode()
        self._state = _State(ctx, self._stamp(ctx))
        self.verbose = verbose
        self.log = log
        self.ledger = ledger
        self._key_fn = key_fn or (lambda prof, prov: _default_key_fn(prof, prov, self.ctx.config))
        self._keys: dict[tuple[str, str], str | None] = {}
        self._secrets: tuple[str, ...] = ()
        self._rng = rng or random.Random()
        self._sleep = sleep or asyncio.sleep
        self._reload = reload
        self._last_check = time.monotonic()
        self._reloading = False
        self.pool = Pool()
        self.requests = 0
        self._tasks: set[asyncio.Task[None]] = set()

    # -- config and keys ----------------------------------------------------------------------------------

    @property
    def ctx(self) -> Context:
        """The context in effect."""
        return self._state.ctx

    @staticmethod
    def _stamp(ctx: Context) -> tuple[float, int] | None:
        path = ctx.loaded.path
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_mtime, st.st_size

    def _maybe_reload(self) -> None:
        """At most once a second, notice an edited routes.yaml and load it in the background."""
        if not self._reload or self._reloading:
            return
        now = time.monotonic()
        if now - self._last_check < RELOAD_CHECK_S:
            return
        self._last_check = now
        state = self._state
        stamp = self._stamp(state.ctx)
        if stamp is None or stamp == state.stamp:
            return
        self._reloading = True
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(None, self._load, state.ctx)
        fut.add_done_callback(lambda f: self._reloaded(f, stamp))

    @staticmethod
    def _load(ctx: Context) -> Context:
        from ..sources import Loaded, read_config

        loaded = ctx.loaded
        assert loaded.path is not None
        return ctx.with_loaded(Loaded(read_config(loaded.path), loaded.kind, loaded.path, loaded.warnings))

    def _reloaded(self, fut: asyncio.Future[Context], stamp: tuple[float, int]) -> None:
        self._reloading = False
        try:
            ctx = fut.result()
        except Exception as exc:  # noqa: BLE001 - a broken edit keeps the last good config
            self._state = replace(self._state, stamp=stamp)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.log(f"routesh: {self._state.ctx.loaded.path} has errors, keeping the previous config: {first}")
            return
        self._state = _State(ctx, stamp)
        self._keys.clear()
        self.log(f"routesh: reloaded {ctx.loaded.path}")

    async def key(self, profile: str, provider: Provider) -> str | None:
        """The provider's key for the profile, looked up once (off the loop) and kept; raises KeyMissing."""
        if not provider.needs_key:
            return None
        cache_key = (profile, provider.name)
        if cache_key in self._keys:
            return self._keys[cache_key]
        loop = asyncio.get_running_loop()
        value = await loop.run_in_executor(None, self._key_fn, profile, provider)
        self._keys[cache_key] = value
        if value:
            self._secrets = tuple({*self._secrets, value})
        return value

    async def prefetch_keys(self) -> list[str]:
        """Look up the keys of the providers the code routes use, at start; returns the problems found."""
        ctx = self.ctx
        problems = []
        for name in _code_routes(ctx.config):
            if route_refusal(ctx.config, ctx.profile, name):
                continue
            provider = ctx.config.provider_for(ctx.config.routes[name], ctx.profile)
            if provider.auth == "subscription":
                continue
            try:
                await self.key(ctx.profile.name, provider)
            except Exception as exc:  # noqa: BLE001 - reported, the server still starts
                problems.append(str(exc).splitlines()[0])
        return list(dict.fromkeys(problems))

    # -- serving --------------------------------------------------------------------------------------------

    async def start(self, sock: socket.socket) -> asyncio.base_events.Server:
        """Serve on an already bound socket (so a caller knows the port before anything runs)."""
        return await asyncio.start_server(self._client, sock=sock, limit=MAX_HEAD, backlog=512)

    async def shutdown(self) -> None:
        """Drop open client connections and idle upstream ones (the listener is closed by its owner)."""
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self.pool.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family != socket.AF_UNIX:
            try:  # small SSE writes must leave at once, not wait for the peer's delayed ACK
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        try:
            while True:
                req = await self._read_request(reader, writer)
                if req is None:
                    break
                keep = await self._handle(req, writer)
                if not keep or writer.transport.is_closing():
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is shutting down
        except Exception as exc:  # noqa: BLE001 - one bad request must not take the server down
            if os.environ.get("ROUTESH_DEBUG"):
                import traceback

                traceback.print_exc()
            self.log(f"routesh: internal error while serving a request ({type(exc).__name__}); this is a bug")
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _read_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError:
            self._respond(writer, 431, error_body(431, "request headers are larger than 64 KB"), keep=False)
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._respond(writer, 400, error_body(400, "malformed request line"), keep=False)
            return None
        method, target, version = parts
        headers: dict[str, str] = {}
        raw_headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            raw_headers.append((name, value))
            headers[name] = value
        conn = headers.get("connection", "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        path, _, query = target.partition("?")
        body: bytes | None = b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
            if body is None:
                self._respond(writer, 413, error_body(413, "request body larger than 64 MB"), keep=False)
                return None
        elif headers.get("content-length"):
            try:
                length = int(headers["content-length"])
            except ValueError:
                self._respond(writer, 400, error_body(400, "bad content-length"), keep=False)
                return None
            if length > MAX_BODY:
                self._respond(writer, 413, error_body(413, "request body larger than 64 MB"), keep=False)
                return None
            if headers.get("expect", "").lower() == "100-continue":
                writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = await reader.readexactly(length)
        return Request(method, path, query, headers, raw_headers, body or b"", keep)

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                return None
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    @staticmethod
    def _respond(writer: asyncio.StreamWriter, status: int, body: bytes, *, keep: bool = True,
                 headers: tuple[tuple[str, str], ...] | list[tuple[str, str]] = (),
                 content_type: str = "application/json", head_only: bool = False) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}", f"content-type: {content_type}",
                 f"content-length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if not keep:
            lines.append("connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        writer.write(data if head_only else data + body)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        """The token, compared in constant time, from x-api-key or Authorization: Bearer."""
        ok = False
        key = headers.get("x-api-key")
        if key is not None:
            ok |= hmac.compare_digest(key.strip().encode(), self._token)
        auth = headers.get("authorization")
        if auth is not None and auth[:7].lower() == "bearer ":
            ok |= hmac.compare_digest(auth[7:].strip().encode(), self._token)
        return ok

    async def _handle(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        method, path = req.method, req.path.rstrip("/") or "/"
        if path == "/" and method in ("HEAD", "GET"):
            # Claude Code probes HEAD / without credentials before its first request; it learns nothing here.
            self._respond(writer, 200, b"ok\n", keep=req.keep_alive, content_type="text/plain",
                          head_only=method == "HEAD")
            return req.keep_alive
        if not self._authorized(req.headers):
            msg = ("routesh gateway: missing or wrong token; set ANTHROPIC_AUTH_TOKEN (or x-api-key) to the token "
                   "`routesh serve` printed, or to $ROUTESH_GATEWAY_TOKEN")
            self._respond(writer, 401, error_body(401, msg, "authentication_error"), keep=req.keep_alive,
                          headers=(("www-authenticate", 'Bearer realm="routesh"'),))
            return req.keep_alive
        if path == "/v1/messages":
            if method != "POST":
                self._respond(writer, 405, error_body(405, f"{method} is not allowed here; use POST"),
                              keep=req.keep_alive)
                return req.keep_alive
            return await self._messages(req, writer)
        if path == "/v1/messages/count_tokens" and method == "POST":
            return self._count_tokens(req, writer)
        if path == "/v1/models" and method == "GET":
            self._respond(writer, 200, self._models(), keep=req.keep_alive)
            return req.keep_alive
        if path == "/health" and method in ("GET", "HEAD"):
            body = json.dumps({"status": "ok", "requests": self.requests}).encode()
            self._respond(writer, 200, body, keep=req.keep_alive, head_only=method == "HEAD")
            return req.keep_alive
        self._respond(writer, 404, error_body(404, f"no such endpoint: {method} {req.path}"), keep=req.keep_alive)
        return req.keep_alive

    def _count_tokens(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        from .translate import count_tokens

        try:
            body = json.loads(req.body)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self._respond(writer, 400, error_body(400, "the body is not a JSON object"), keep=req.keep_alive)
            return req.keep_alive
        self._respond(writer, 200, json.dumps({"input_tokens": count_tokens(body)}).encode(), keep=req.keep_alive)
        return req.keep_alive

    def _models(self) -> bytes:
        config = self.ctx.config
        code = config.code
        main = code.default or config.default_route
        entries = [(sentinel, f"routesh {kind}: route {getattr(code, kind, None) or main}")
                   for sentinel, kind in SENTINELS.items()]
        entries += [(name, f"routesh route {name}: {r.provider}/{self.ctx.catalog.resolve(r.model)}")
                    for name, r in config.routes.items()]
        data = [{"type": "model", "id": mid, "display_name": shown, "created_at": "2025-01-01T00:00:00Z"}
                for mid, shown in entries]
        return json.dumps({"data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                           "last_id": data[-1]["id"] if data else None}).encode()

    # -- /v1/messages ---------------------------------------------------------------------------------------

    async def _messages(self, req: Request, writer: asyncio.StreamWriter) -> bool:
        self.requests += 1
        self._maybe_reload()
        started = time.time()
        ctx = self.ctx
        config, profile = ctx.config, ctx.profile
        try:
            text = req.body.decode("utf-8")
            body, spans = jsonsplice.parse_object(text)
            if not isinstance(body.get("messages"), list) or not isinstance(body.get("model"), str):
                raise ValueError("model and messages are required")
        except (UnicodeDecodeError, ValueError) as exc:
            self._respond(writer, 400, error_body(400, f"invalid request body: {exc}"), keep=req.keep_alive)
            return req.keep_alive
        cls = classify(body, config, datetime.now(), raw=req.body, headers=req.headers)
        prompt = latest_user_text(body["messages"])
        job = _Job(uuid.uuid4().hex[:16], req, text, body, spans, cls, body.get("stream") is True, prompt,
                   hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).hexdigest(),
                   req.headers.get("x-claude-code-session-id"), started)
        decision = Decision(cls.route, prompt, cls.rule, cls.prefix, cls.reason, fallback_chain(config, cls.route),
                            cls.estimated_tokens)
        verdict = check(decision, config, profile)
        if not verdict.allowed:
            return self._refuse(job, writer, verdict.why)
        if profile.on_secret != "allow":
            refusal = self._screen(job, profile.name, profile.on_secret)
            if refusal:
                return self._refuse(job, writer, refusal)
        if profile.budget is not None and self.ledger is not None:
            today, month = self.ledger.spent_now()
            verdict = apply_budget(verdict, check_budget(profile, today, month, datetime.now()), config, profile)
            if not verdict.allowed:
                return self._refuse(job, writer, verdict.why)
        return await self._run(job, verdict.routes, writer)

    def _screen(self, job: _Job, profile: str, on_secret: str) -> str | None:
        """Secrets in the latest turn (typed, or read by a tool): why to refuse, or None to send.

        Claude Code's context cannot be rewritten safely from here, so `redact` refuses like `block`.
        """
        from ..screen import describe, scan

        findings = scan(outgoing_text(job.body["messages"]))
        if not findings:
            return None
        if on_secret == "warn":
            self._note(job, f"secret sent (on_secret: warn): {describe(findings)}")
            return None
        return (f"the latest turn contains {describe(findings)}; profile '{profile}' does not send secrets "
                f"(on_secret: {on_secret}). Remove the secret from what Claude Code read or was given, then rewind "
                "(Esc Esc) past this turn")

    def _refuse(self, job: _Job, writer: asyncio.StreamWriter, why: str) -> bool:
        ctx = self.ctx
        route = ctx.config.routes[job.cls.route]
        self._record(job, 0, route, ctx.config.provider_for(route, ctx.profile), ctx.catalog.resolve(route.model),
                     "refused", error=why)
        self._respond(writer, 403, error_body(403, f"routesh refused this request, nothing was sent: {why}",
                                              "permission_error"), keep=job.req.keep_alive,
                      headers=(("x-routesh-request-id", job.request_id),))
        return job.req.keep_alive

    async def _run(self, job: _Job, routes: tuple[str, ...], writer: asyncio.StreamWriter) -> bool:
        """The plan: each route with its retries, like dispatch.Dispatcher.run; stops at the first answer."""
        ctx = self.ctx
        config, profile = ctx.config, ctx.profile
        plan = RoutePlan(config, ctx.catalog, routes, lambda msg: self._note(job, msg))
        attempt_no = 0
        last: Failure | None = None
        for name, route in plan:
            provider = config.provider_for(route, profile)
            if provider.auth == "subscription":
                last = last or _fail(502, f"route {name} uses provider {provider.name} with auth: subscription, "
                                          "which only Claude Code itself can use; give the gateway an API key")
                continue
            try:
                key = await self.key(profile.name, provider)
            except PolicyRefusal as exc:  # a restricted profile on another profile's key: nothing is sent
                return self._refuse(job, writer, str(exc).removeprefix("refused, nothing was sent: "))
            except KeyMissing as exc:
                last = last or _fail(401, f"routesh: {exc}", "authentication_error")
                self._note(job, f"skipping route {name}: {exc}")
                continue
            except Exception as exc:  # noqa: BLE001 - a locked or broken keyring: say so, try the next route
                last = last or _fail(500, f"routesh: cannot read the key for {provider.name}: {exc}")
                self._note(job, f"skipping route {name}: {str(exc).splitlines()[0]}")
                continue
            retries = route.retries if route.retries is not None else DEFAULT_RETRIES  # Claude Code is the client
            for retry in range(retries + 1):
                attempt_no += 1
                result = await self._attempt(job, route, provider, key, attempt_no, writer)
                if result is None:
                    return job.req.keep_alive and not writer.transport.is_closing()
                last = result
                err = result.err
                if err.context_too_long:
                    big = large_context_route(config)
                    if big and not route_refusal(config, profile, big):
                        plan.jump(big)
                    break
                if err.status in (401, 403):
                    self._keys.pop((profile.name, provider.name), None)  # maybe the key was replaced since
                    hint = auth_hint(profile.name, provider)
                    result.body = error_body(err.status, f"{err.message} — {hint}")
                    break
                if not is_retryable(err) or retry == retries:
                    break
                if writer.transport.is_closing():
                    return False
                wait = backoff_s(retry + 1, err.retry_after, self._rng)
                self._note(job, f"{provider.name}/{route.model}: {_describe(err)}; retrying in {wait:.1f}s")
                await self._sleep(wait)
        if last is None:
            last = _fail(502, "routesh: no route could be tried")
        headers = [("x-routesh-request-id", job.request_id), *last.headers]
        self._respond(writer, last.status, last.body, keep=job.req.keep_alive, headers=headers)
        return job.req.keep_alive

    def _note(self, job: _Job, msg: str) -> None:
        if self.verbose:
            self.log(f"routesh: [{job.request_id}] {msg}")

    # -- one attempt --------------------------------------------------------------------------------------

    def _forward_body(self, job: _Job, route: Route, model: str) -> bytes:
        """The request for an anthropic-type upstream: the client's bytes with model (and prefix) swapped in place."""
        cached = job.bodies.get(route.name)
        if cached is not None:
            return cached
        changes: dict[str, Any] = {"model": model}
        body = job.body
        if job.cls.edit is not None:
            from .classify import strip_prefix

            changes["messages"] = strip_prefix(body, job.cls.edit)["messages"]
        cap = route.max_output_tokens
        mt = body.get("max_tokens")
        if cap and isinstance(mt, int) and mt > cap:
            changes["max_tokens"] = cap
            thinking = body.get("thinking")
            if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int) \
                    and thinking["budget_tokens"] >= cap:
                changes["thinking"] = {**thinking, "budget_tokens": max(1024, cap - 1)}
        data = jsonsplice.splice_bytes(job.req.body, job.text, job.spans, changes)
        job.bodies[route.name] = data
        return data

    async def _attempt(self, job: _Job, route: Route, provider: Provider, key: str | None, attempt_no: int,
                       writer: asyncio.StreamWriter) -> Failure | None:
        """One try on one route: None when the client got an answer (whole or broken off), else the Failure."""
        ctx = self.ctx
        model = ctx.catalog.resolve(route.model)
        start = time.time()
        t0 = time.perf_counter()
        try:
            origin = parse_origin(provider.base_url or DEFAULT_BASE[provider.type])
        except ValueError as exc:
            return _fail(500, f"routesh: provider {provider.name}: {exc}")
        openai = provider.type == "openai"
        if openai:
            from .translate import to_openai_request

            cached = job.bodies.get("openai:" + route.name)
            if cached is None:  # translated once per route, not once per retry
                cached = jsonsplice.dumps(to_openai_request(self._openai_input(job),
                                                            _openai_options(provider, route, model))).encode()
                job.bodies["openai:" + route.name] = cached
            payload = cached
            path = origin.base_path + "/chat/completions"
            headers = [("content-type", "application/json"),
                       ("accept", "text/event-stream" if job.stream else "application/json"),
                       ("accept-encoding", "identity"), ("user-agent", "routesh-gateway")]
            if key:
                headers.append(("authorization", f"Bearer {key}"))
        else:
            payload = self._forward_body(job, route, model)
            path = origin.base_path + "/v1/messages" + (f"?{job.req.query}" if job.req.query else "")
            headers = [(k, v) for k, v in job.req.raw_headers if k not in _DROP_REQUEST]
            headers.append(("accept-encoding", "identity"))
            if key:
                headers.append(("authorization", f"Bearer {key}") if provider.auth == "bearer" else ("x-api-key", key))
        timeout = route.timeout_s or DEFAULT_TIMEOUT_S
        rec = _AttemptInfo(job, attempt_no, route, provider, model, start, t0)
        conn: Conn | None = None
        watchdog: _Watchdog | None = None
        try:
            for fresh in (False, True):
                conn = await self.pool.acquire(origin)
                watchdog = _Watchdog(conn, writer, timeout)
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

    def _openai_input(self, job: _Job) -> dict[str, Any]:
        if job.cls.edit is None:
            return job.body
        from .classify import strip_prefix

        return strip_prefix(job.body, job.cls.edit)

    def _http_failure(self, rec: _AttemptInfo, head: Head, data: bytes, openai: bool) -> Failure:
        """An upstream error status, in Anthropic's shape with its status and retry-after kept, keys cut out."""
        status = head.status
        retry_after = head.get("retry-after")
        if openai:
            from .translate import from_openai_error

            aerr = from_openai_error(status, data, head.headers)
            message, etype, retry_after = aerr.message, aerr.type, aerr.retry_after
        else:
            message, etype = _anthropic_error_fields(data, status)
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
        body = json.dumps({"type": "error", "error": {"type": etype, "message": message}}).encode()
        return Failure(err, status, body, tuple(headers))

    def _whole(self, rec: _AttemptInfo, head: Head, data: bytes, writer: asyncio.StreamWriter,
               openai: bool) -> Failure | None:
        """A non-streamed answer: translated if need be, sent in one piece."""
        if openai:
            from .translate import to_anthropic_response

            try:
                obj = json.loads(data)
                if not isinstance(obj, dict):
                    raise ValueError
            except ValueError:
                err = EngineError("the upstream answered with something that is not JSON", kind="malformed")
                self._finish(rec, "error", error=err.message)
                return Failure(err, 502, error_body(502, f"routesh: {err.message}"))
            msg = to_anthropic_response(obj, model=rec.model,
                                        stop_sequences=tuple(rec.job.body.get("stop_sequences") or ()))
            data = jsonsplice.dumps(msg).encode()
        usage, stop = usage_of_message(data)
        self._finish(rec, "refused" if stop == "refusal" else "ok", usage=usage)
        headers = self._response_headers(rec, head, openai)
        self._respond(writer, head.status, data, keep=rec.job.req.keep_alive, headers=headers,
                      content_type="application/json")
        rec.job.committed = True
        return None

    def _response_headers(self, rec: _AttemptInfo, head: Head, openai: bool) -> list[tuple[str, str]]:
        out = [("x-routesh-request-id", rec.job.request_id), ("x-routesh-route", rec.route.name),
               ("x-routesh-class", rec.job.cls.kind)]
        if not openai:
            out += [(k, v) for k, v in head.headers if k not in _DROP_RESPONSE and k != "content-type"]
        return out

    async def _relay_stream(self, rec: _AttemptInfo, conn: Conn, head: Head, writer: asyncio.StreamWriter,
                            openai: bool, watchdog: _Watchdog) -> Failure | None:
        """Stream the answer: hold back until the first bytes (so a failure can still be retried), then relay."""
        from .translate import StreamTranslator

        job = rec.job
        sniffer = AnthropicSniffer()
        translator = StreamTranslator(model=rec.model, input_tokens=job.cls.estimated_tokens,
                                      stop_sequences=tuple(job.body.get("stop_sequences") or ())) if openai else None
        # 1. before the first byte: a failure here is retryable
        first = b""
        while True:
            await conn.wait_data()
            data = conn.take_pending()
            if data:
                if translator is not None:
                    first += translator.feed(data)
                else:
                    first += data
                    sniffer.feed(data)
            if conn.error is not None or conn.body_done:
                if translator is not None and not translator.done:
                    first += translator.close() if conn.error is None else b""
                break
            if translator is not None and first:
                break
            if translator is None and (sniffer.started or sniffer.error is not None or len(first) > 4096):
                break
        early_error = self._early_stream_error(sniffer, translator, conn, first)
        if early_error is not None:
            watchdog.cancel()
            conn.close() if not conn.body_done else conn.release()
            self._finish(rec, "error", error=early_error.err.message)
            return early_error
        # 2. commit: the client gets the head and the first bytes; no retry after this
        job.committed = True
        rec.ttft_ms = (time.perf_counter() - rec.t0) * 1000
        transport = writer.transport
        lines = ["HTTP/1.1 200 OK", "content-type: text/event-stream; charset=utf-8", "cache-control: no-cache",
                 "transfer-encoding: chunked"]
        lines += [f"{k}: {v}" for k, v in self._response_headers(rec, head, openai)]
        start = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if first:
            start += b"%x\r\n%b\r\n" % (len(first), first)
        if conn.body_done and conn.error is None:
            # the whole answer is here already (short answers often are): one write for all of it
            watchdog.cancel()
            self._end_stream(rec, conn, transport, start, sniffer, translator, None)
            return None
        transport.write(start)
        loop = asyncio.get_running_loop()
        paused = False

        def resume() -> None:
            nonlocal paused
            paused = False
            conn.resume_reading()

        def sink(data: bytes) -> None:
            nonlocal paused
            watchdog.last = loop.time()
            if transport.is_closing():
                watchdog.client_gone = True
                conn.close()
                return
            if translator is not None:
                data = translator.feed(data)
                if not data:
                    return
            else:
                sniffer.feed(data)
            transport.write(b"%x\r\n%b\r\n" % (len(data), data))
            if not paused and transport.get_write_buffer_size() > HIGH_WATER:
                paused = True
                conn.pause_reading()
                loop.create_task(_drained(writer, resume))

        broken: UpstreamError | None = conn.error
        if broken is None and not conn.body_done:
            try:
                await conn.stream_to(sink)
            except UpstreamError as exc:
                broken = exc
        elif conn.body_done:
            conn.stream_to(sink)  # flush anything left
        watchdog.cancel()
        if watchdog.client_gone or transport.is_closing():
            conn.close()
            self._finish(rec, "cancelled", error="the client went away", usage=self._usage(sniffer, translator))
            return None
        self._end_stream(rec, conn, transport, b"", sniffer, translator, broken)
        return None

    def _end_stream(self, rec: _AttemptInfo, conn: Conn, transport: asyncio.WriteTransport, head: bytes,
                    sniffer: AnthropicSniffer, translator: Any, broken: UpstreamError | None) -> None:
        """The end: the message complete, or an Anthropic-shaped error event in place of the rest."""
        from .translate import anthropic_error

        tail = b""
        status = "ok"
        error = None
        if translator is not None:
            tail = translator.close() if broken is None else translator.fail(
                anthropic_error(502, f"routesh: the upstream stream broke off: {broken}", type="api_error"))
            if translator.error is not None:
                status, error = "partial", translator.error.message
            elif translator.stop_reason == "refusal":
                status = "refused"
        else:
            if sniffer.error is not None:
                status, error = "partial", f"{sniffer.error_type}: {sniffer.error}"
            elif broken is not None or not sniffer.stopped:
                why = str(broken) if broken is not None else "the upstream stream ended before message_stop"
                error = f"the upstream stream broke off: {why}"
                status = "partial"
                tail = _sse_error(f"routesh: {error}")
            elif sniffer.stop_reason == "refusal":
                status = "refused"
        self._finish(rec, status, error=error, usage=self._usage(sniffer, translator))  # recorded before the end
        end = b"%x\r\n%b\r\n0\r\n\r\n" % (len(tail), tail) if tail else b"0\r\n\r\n"
        transport.write(head + end)
        if broken is None and conn.body_done:
            conn.release()
        else:
            conn.close()

    @staticmethod
    def _usage(sniffer: AnthropicSniffer, translator: Any) -> dict[str, int]:
        if translator is not None:
            return dict(translator.usage or {})
        return sniffer.usage

    def _early_stream_error(self, sniffer: AnthropicSniffer, translator: Any, conn: Conn,
                            first: bytes) -> Failure | None:
        """A stream that failed before its first byte reached the client: a retryable Failure, else None."""
        if translator is not None:
            if translator.error is not None and not translator.started:
                e = translator.error
                ra = e.retry_after
                err = EngineError(e.message, status=e.status, retry_after=retry_after_seconds(ra, time.time()))
                return Failure(err,
                               e.status, json.dumps(dict(e.body)).encode(), (("retry-after", ra),) if ra else ())
            if not first:
                why = str(conn.error) if conn.error else "the upstream stream ended without an answer"
                return _fail(502, f"routesh: {why}", kind="connection" if conn.error else "malformed")
            return None
        if sniffer.error is not None and not sniffer.started:
            status = 529 if sniffer.error_type == "overloaded_error" else 500
            msg = scrub(sniffer.error, self._secrets)
            return Failure(EngineError(msg, status=status), status, error_body(status, msg, sniffer.error_type))
        if not first or (conn.error is not None and not sniffer.started):
            why = str(conn.error) if conn.error else "the upstream stream ended without an answer"
            return _fail(502, f"routesh: {why}", kind="connection" if conn.error else "malformed")
        return None

    # -- records ----------------------------------------------------------------------------------------------

    def _finish(self, rec: _AttemptInfo, status: str, *, error: str | None = None,
                usage: Mapping[str, int] | None = None) -> None:
        job = rec.job
        latency = (time.perf_counter() - rec.t0) * 1000
        self._record(job, rec.attempt, rec.route, rec.provider, rec.model, status, error=error, usage=usage,
                     latency_ms=latency, ttft_ms=rec.ttft_ms, ts=rec.start)

    def _record(self, job: _Job, attempt: int, route: Route, provider: Provider, model: str, status: str, *,
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


@dataclass
class _AttemptInfo:
    """What the record of one attempt needs."""

    job: _Job
    attempt: int
    route: Route
    provider: Provider
    model: str
    start: float
    t0: float
    ttft_ms: float | None = None


class _Watchdog:
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


async def _drained(writer: asyncio.StreamWriter, then: Callable[[], None]) -> None:
    try:
        await writer.drain()
    except ConnectionError:
        pass
    then()


def _fail(status: int, message: str, etype: str | None = None, *, kind: str = "http") -> Failure:
    err = EngineError(message, kind=kind, status=status if kind == "http" else None)  # type: ignore[arg-type]
    return Failure(err, status, error_body(status, message, etype))


def _describe(err: EngineError) -> str:
    return f"HTTP {err.status}: {err.message}" if err.status is not None else err.message


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


def _sse_error(message: str, etype: str = "api_error") -> bytes:
    return b"event: error\ndata: " + json.dumps({"type": "error", "error": {"type": etype, "message": message}}
                                                ).encode() + b"\n\n"


def _anthropic_error_fields(data: bytes, status: int) -> tuple[str, str]:
    """(message, type) from an Anthropic (or any) error body."""
    from .translate import error_type_for_status

    etype = error_type_for_status(status)
    try:
        obj = json.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace").strip()
        return (text[:2000] or f"upstream answered HTTP {status}"), etype
    if isinstance(obj, dict):
        err = obj.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or f"upstream answered HTTP {status}"), str(err.get("type") or etype)
        if isinstance(err, str):
            return err, etype
        if isinstance(obj.get("message"), str):
            return obj["message"], etype
    return f"upstream answered HTTP {status}", etype


def _default_key_fn(profile: str, provider: Provider, config: Config | None = None) -> str | None:
    from ..runner import key_for

    return key_for(profile, provider, config)


def _code_routes(config: Config) -> list[str]:
    """Every route the gateway may pick without a prefix: code.* and the default."""
    code = config.code
    names = [code.default or config.default_route, code.background, code.think, code.long_context,
             code.web_search, code.image, code.subagent]
    return [n for n in dict.fromkeys(names) if n]


# ------------------------------------------------------------------------------------------------ running it


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host in ("localhost", "ip6-localhost"):
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; raises OSError (port in use, bad address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, so asyncio recognises accepted sockets as TCP and turns Nagle off on them
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(512)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when it is installed (faster), else asyncio's."""
    try:
        import uvloop  # type: ignore[import-not-found]

        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    except ImportError:
        return asyncio.new_event_loop()


class RunningGateway:
    """A gateway serving on its own thread (for `routesh code`, tests and benchmarks); stop() ends it."""

    def __init__(self, gateway: Gateway, sock: socket.socket) -> None:
        self.gateway = gateway
        self.port = sock.getsockname()[1]
        host = sock.getsockname()[0]
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"
        self._sock = sock
        self._loop = new_event_loop()
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="routesh-gateway", daemon=True)

    def start(self) -> RunningGateway:
        """Start serving; returns once the server accepts connections."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)

        async def main() -> None:
            self._stopped = asyncio.Event()
            try:
                server = await self.gateway.start(self._sock)
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            async with server:
                await self._stopped.wait()
                server.close()
                await self.gateway.shutdown()

        try:
            loop.run_until_complete(main())
        finally:
            loop.close()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._stopped is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(self._stopped.set)
            except RuntimeError:
                pass
        self._thread.join(10)

    def __enter__(self) -> RunningGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(gateway: Gateway, sock: socket.socket, *, on_ready: Callable[[], None] | None = None) -> None:
    """Serve in the calling thread until SIGINT or SIGTERM."""
    import signal

    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    stop = asyncio.Event()

    async def main() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):
                pass
        server = await gateway.start(sock)
        if on_ready is not None:
            on_ready()
        problems = await gateway.prefetch_keys()
        for p in problems:
            gateway.log(f"routesh: warning: {p}")
        async with server:
            await stop.wait()
            server.close()
            await gateway.shutdown()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
