"""`routesh serve`: an Anthropic Messages API server that routes Claude Code's own requests.

Each POST /v1/messages is classified (classify.py), checked against the profile's policy before any
byte leaves, then sent to the route's provider with the real key from the keyring: relayed as bytes
for `type: anthropic`, translated both ways for `type: openai`. Retries and fallbacks follow the
rules of dispatch.py and happen only before the first byte reaches the client; after that a broken
upstream becomes an Anthropic `event: error`. Every attempt is a ledger row.

One asyncio loop, a hand-written HTTP/1.1 server and a pooled upstream client (client.py): no
framework, no SDK, so the per-request and per-chunk costs stay small. The parts, in the order a request
meets them:

    front.py       connections, the token, the endpoints answered locally (framing.py reads and writes HTTP)
    admit.py       parse, classify, policy, secret screening, budget: whether the request may go, and where
    attempts.py    the plan: routes, retries and fallbacks; one try on one upstream (failures.py, watchdog.py)
    relay.py       the answer to the client, whole or streamed
    translated.py  the OpenAI-translated route's request, answer and stream (the conversions: translate.py)
    records.py     the ledger row and log line of every attempt

This module assembles them into the Gateway, keeps the config and keys, and runs the server.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..core.config import Config, Provider
from ..core.context import Context
from ..core.policy import route_refusal
from .admit import Admission
from .attempts import Attempts
from .budget import Reservations
from .failures import Failure, retry_after_seconds, scrub
from .framing import Request, error_body
from .front import FrontDoor, Limits
from .ledger_writer import LedgerWriter, Log, _stderr
from .pool import Pool
from .records import Records
from .relay import Relay
from .screening import Screener

__all__ = ["Failure", "Gateway", "LedgerWriter", "Limits", "Request", "RunningGateway", "bind", "error_body",
           "is_loopback", "retry_after_seconds", "scrub", "serve_forever"]

RELOAD_CHECK_S = 1.0

KeyFn = Callable[[str, Provider], "str | None"]


@dataclass(frozen=True)
class _State:
    """The config in effect; replaced whole when routes.yaml changes."""

    ctx: Context
    stamp: tuple[Any, ...] | None  # (mtime, size) of the file it came from (and of the trust store)


class Gateway(FrontDoor, Admission, Attempts, Relay, Records):
    """The server: authenticates, classifies, applies policy, relays, records."""

    def __init__(self, ctx: Context, token: str, *, verbose: bool = False, log: Log = _stderr,
                 ledger: LedgerWriter | None = None, key_fn: KeyFn | None = None,
                 rng: random.Random | None = None, sleep: Callable[[float], Any] | None = None,
                 reload: bool = True, limits: Limits | None = None,
                 on_refused: Callable[[str], None] | None = None) -> None:
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
        self.on_refused = on_refused  # told why, each time policy refuses a request (the claude-code engine's gateway)
        self._last_check = time.monotonic()
        self._reloading = False
        self._said: str | None = None
        self._screener = Screener()
        self._reserved = Reservations()
        self.pool = Pool()
        self.requests = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._limits = limits or Limits.for_this_process()
        self._clients: dict[asyncio.BaseTransport, Any] = {}  # front._Conn per open connection
        self._sweeper: asyncio.TimerHandle | None = None

    # -- config and keys ----------------------------------------------------------------------------------

    @property
    def ctx(self) -> Context:
        """The context in effect."""
        return self._state.ctx

    @staticmethod
    def _stamp(ctx: Context) -> tuple[Any, ...] | None:
        """What says the config may have changed: the file, and for a project file the trust store too."""
        path = ctx.loaded.path
        if path is None:
            return None
        try:
            st = os.stat(path)
        except OSError:
            return None
        if ctx.loaded.kind == "project":
            from ..core.sources import trust_stamp

            return st.st_mtime, st.st_size, trust_stamp()
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
        """The edited file as a context; a project file only with the CLI's trust rule (edited = untrusted)."""
        from ..core.sources import Loaded, read_config, read_trusted

        loaded = ctx.loaded
        assert loaded.path is not None
        config = read_trusted(loaded.path) if loaded.kind == "project" else read_config(loaded.path)
        return ctx.with_loaded(Loaded(config, loaded.kind, loaded.path, loaded.warnings))

    def _reloaded(self, fut: asyncio.Future[Context], stamp: tuple[Any, ...]) -> None:
        from ..core.sources import Untrusted

        self._reloading = False
        try:
            ctx = fut.result()
        except Untrusted as exc:  # never send a key where an unreviewed edit says: keep the last trusted config
            self._state = replace(self._state, stamp=stamp)
            self._say_once(f"routesh: {exc}; the gateway keeps the last trusted config")
            return
        except Exception as exc:  # noqa: BLE001 - a broken edit keeps the last good config
            self._state = replace(self._state, stamp=stamp)
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self._say_once(f"routesh: {self._state.ctx.loaded.path} has errors, keeping the previous config: {first}")
            return
        self._state = _State(ctx, stamp)
        self._keys.clear()
        self._said = None
        self.log(f"routesh: reloaded {ctx.loaded.path}")

    def _say_once(self, line: str) -> None:
        """A reload problem is logged once, not on every check while it lasts."""
        if line != self._said:
            self._said = line
            self.log(line)

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




def _default_key_fn(profile: str, provider: Provider, config: Config | None = None) -> str | None:
    from ..keys.resolve import key_for

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


GC_YOUNG = 20_000  # net new container objects between young collections (default 700)


def quiet_gc(young: int = GC_YOUNG) -> None:
    """Collections sized for a server that makes and drops many small objects per request (`routesh serve` only).

    Why: at the default threshold (700) the cyclic collector ran several times a second under load, ~3% of the
    gateway's CPU, walking objects that reference counting frees anyway; startup's objects (config, catalog,
    modules) never become garbage, so they are frozen out of every collection. Cycles are still collected.
    """
    import gc

    gc.collect()
    gc.freeze()
    _, mid, old = gc.get_threshold()
    gc.set_threshold(young, mid, old)


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
        quiet_gc()
        async with server:
            await stop.wait()
            server.close()
            await gateway.shutdown()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
