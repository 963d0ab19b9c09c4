"""A private gateway for one `via: claude-code` attempt, as `routesh code` runs one for a session.

Claude Code makes many requests for one prompt (tool results, subagents, titles), and its tools run
with its environment. So it is never given the provider key: it talks to a gateway on a free
loopback port with a one-time token, pinned to the route the dispatcher chose, and that gateway
screens every request under the profile's on_secret before adding the key. (Providers with
`auth: subscription` do not come here: Claude Code uses its own login, directly; see runner.engine_for.)
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import replace

from ..core.config import CodeRouting, Route
from ..core.context import Context
from ..core.events import EngineError, EngineRequest, Event
from ..core.sources import Loaded
from ..engines.dispatch import Engine
from .code import credential_vars


def pinned_context(ctx: Context, route: str) -> Context:
    """The context with every request on this one route: no rules, no fallback or escalation (the dispatcher
    does those), no retries (Claude Code retries), no budget (checked by the front door before the attempt)."""
    config = ctx.config
    r = replace(config.routes[route], fallback=(), on_refusal=None, retries=0)
    profile = replace(ctx.profile, budget=None)
    pinned = replace(config, routes={route: r}, rules=(), code=CodeRouting(default=route), default_route=route,
                     profiles={**config.profiles, profile.name: profile})
    return replace(ctx, loaded=Loaded(pinned, ctx.loaded.kind, None, ()))


def engine(ctx: Context, route: Route, inner: Engine) -> Engine:
    """Wrap the claude-code engine: each call runs behind its own pinned gateway, stopped when claude ends."""

    def stream(req: EngineRequest, cancel: threading.Event | None = None) -> Iterator[Event]:
        from .server import Gateway, RunningGateway, bind

        token = secrets.token_urlsafe(32)
        refused: list[str] = []
        key = req.api_key
        gateway = Gateway(pinned_context(ctx, route.name), token, log=lambda line: None, ledger=None,
                          key_fn=lambda profile, p: key, reload=False, on_refused=refused.append)
        with RunningGateway(gateway, bind("127.0.0.1", 0)) as running:
            local = replace(req, base_url=running.url, api_key=token, auth="bearer",
                            env_drop=(*req.env_drop, *credential_vars(ctx.config, key)))
            try:
                yield from inner(local, cancel)
            except EngineError:
                if not refused:
                    raise
            if refused:
                raise EngineError(f"a request Claude Code made: {refused[0]}", kind="policy")

    return stream
