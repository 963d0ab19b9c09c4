"""Attempts, retries and fallbacks over an engine: the one place that decides what to try next.

Every front door (one-shot, shell, gateway) runs requests through here, so a 429 is treated the
same everywhere. Nothing here knows a wire protocol; engines are passed in.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ..core.answers import kept_answer
from ..core.baseline import usage_baseline
from ..core.catalog import Catalog
from ..core.config import Config, Profile, Provider, Route
from ..core.cost import cost_usd, unknown_price_hint
from ..core.errors import KeyMissing
from ..core.estimate import DEFAULT_MAX_OUTPUT
from ..core.events import AttemptRecord, Done, EngineError, EngineRequest, Event, Message, TextDelta, Usage
from ..core.outcome_signals import turn_fields
from ..core.policy import BudgetVerdict, step_refusal

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
DEFAULT_RETRIES = 2
DEFAULT_TIMEOUT_S = 600.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0
RETRY_AFTER_CAP_S = 30.0
_PRICE_HINTED: set[str] = set()  # models whose missing price was already pointed out in this process


class Engine(Protocol):
    """What dispatch needs from an engine module."""

    def __call__(self, req: EngineRequest, cancel: threading.Event | None = None) -> Iterator[Event]: ...


def default_retries(route: Route) -> int:
    """Claude Code already retries 429/5xx/529 itself (up to 10 times); stacking ours on top would multiply them."""
    return 0 if route.via == "claude-code" else DEFAULT_RETRIES


def is_retryable(err: EngineError) -> bool:
    """Transient failures worth another attempt on the same route; never 400/401/403/404."""
    if err.kind in ("connection", "timeout", "malformed"):
        return True
    return err.status in RETRYABLE_STATUS


def backoff_s(retry: int, retry_after: float | None, rng: random.Random) -> float:
    """Wait before retry number `retry` (1-based): retry-after when given (capped), else exponential with jitter."""
    if retry_after is not None and retry_after >= 0:
        return min(retry_after, RETRY_AFTER_CAP_S)
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (retry - 1))
    return ceiling / 2 + rng.random() * ceiling / 2


def auth_hint(profile: str, provider: Provider) -> str:
    """What to do when a provider refuses our key (or, for a subscription, Claude Code's own login)."""
    if provider.auth == "subscription":
        return "Claude Code is not logged in to your subscription; run `claude` and use /login, then try again"
    fix = f"routesh keys set {provider.name} --profile {profile}"
    if provider.key_env and _key_source(profile, provider) == "env":
        return (f"{provider.name} refused the key in ${provider.key_env} (profile '{profile}'); check that "
                f"variable's value, or unset it and store a valid key with `{fix}`")
    return f"{provider.name} refused the key of profile '{profile}'; store a valid one with `{fix}`"


def _key_source(profile: str, provider: Provider) -> str | None:
    """Where the refused key came from (keyring or env), looked up again without reading it."""
    try:
        from ..keys.secrets import lookup_key

        return lookup_key(profile, provider, strict=False, fetch=False).source
    except Exception:  # noqa: BLE001 - a hint must never turn into a new failure
        return None


def large_context_route(config: Config) -> str | None:
    """Where a too-long prompt goes: code.long_context, else a min_tokens rule's route, else 'large-context'."""
    if config.code.long_context:
        return config.code.long_context
    for rule in config.rules:
        if rule.min_tokens is not None:
            return rule.route
    return "large-context" if "large-context" in config.routes else None


class RoutePlan:
    """The order a request's routes are tried in: fallbacks, the upgrade rule, jumps. Shared by every front door.

    Iterating yields each route once, and only after the profile's policy allowed it: every route change
    after planning (fallback, context-too-long jump, refusal escalation, a route tried once the budget ran
    out) passes `policy.step_refusal`. A refused step is skipped with a notice and kept in `refused`.
    A fallback that costs more than the first route is skipped unless that route has allow_upgrade (and
    then only one upgrade happens). `jump(name)` puts a route next, exempt from the upgrade rule.
    """

    def __init__(self, config: Config, catalog: Catalog, routes: tuple[str, ...], profile: Profile,
                 on_notice: Callable[[str], None] = lambda s: None,
                 budget: Callable[[], BudgetVerdict | None] | None = None) -> None:
        self.config, self.catalog, self.profile, self.on_notice = config, catalog, profile, on_notice
        self.budget = budget  # the profile's budget now (None: no budget); asked before each route change
        self._queue = list(routes)
        self._first = routes[0] if routes else None
        self._pos = 0
        self.tried: set[str] = set()
        self.jumps: set[str] = set()
        self.refused: list[tuple[str, str]] = []  # (route, why) for each step policy refused
        self._upgraded = False

    def price(self, route: str) -> float | None:
        """The input price of a route's model, or None when unknown."""
        info = self.catalog.get(self.catalog.resolve(self.config.routes[route].model))
        return info.input if info else None

    def is_fallback(self, name: str) -> bool:
        """True for routes tried because an earlier one failed (not the first, not a jump)."""
        return name != self._first and name not in self.jumps

    def allowed(self, name: str) -> bool:
        """The one policy check for a step: False (with a notice, kept in `refused`) when the profile forbids it."""
        if name not in self.config.routes:
            why: str | None = f"route '{name}' is not defined"
        else:
            change = name != self._first
            why = step_refusal(self.config, self.profile, name, self.budget() if change and self.budget else None)
        if why is None:
            return True
        self.tried.add(name)
        self.refused.append((name, why))
        self.on_notice(f"skipping route {name}: {why}")
        return False

    def refusal(self) -> str | None:
        """Why policy stopped the request from going on, when it did: one line naming each refused step."""
        return "; ".join(f"route {name}: {why}" for name, why in self.refused) or None

    def jump(self, name: str) -> bool:
        """Try this route next; False when it was already tried or the profile does not allow it."""
        if name in self.tried or not self.allowed(name):
            return False
        self._queue.insert(self._pos, name)
        self.jumps.add(name)
        return True

    def __iter__(self) -> Iterator[tuple[str, Route]]:
        base = self.price(self._first) if self._first else None
        while self._pos < len(self._queue):
            name = self._queue[self._pos]
            self._pos += 1
            if name in self.tried:
                continue
            if not self.allowed(name):
                continue
            self.tried.add(name)
            price = self.price(name)
            if self.is_fallback(name) and base is not None and price is not None and price > base:
                assert self._first is not None
                if not self.config.routes[self._first].allow_upgrade or self._upgraded:
                    self.on_notice(f"skipping fallback {name}: it costs more than {self._first} "
                                   f"(set allow_upgrade: true on route {self._first} to allow it)")
                    continue
                self._upgraded = True
            yield name, self.config.routes[name]


@dataclass
class Outcome:
    """What a request came to: the answer text, its status and every attempt made."""

    request_id: str
    status: str = "error"  # ok | error | partial | refused | cancelled
    text: str = ""
    route: str | None = None
    model: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None
    session_id: str | None = None
    error: str | None = None
    hints: list[str] = field(default_factory=list)  # fixes worth showing, e.g. for each refused key
    policy: str | None = None  # set when policy refused the step that was left to try: the request is refused
    records: list[AttemptRecord] = field(default_factory=list)


@dataclass
class Dispatcher:
    """Runs one request through its routes; callbacks let the front door show progress and record attempts."""

    config: Config
    profile: Profile
    catalog: Catalog
    engine_for: Callable[[Route, Provider], Engine]
    key_for: Callable[[str, Provider], str | None]  # raises KeyMissing
    on_text: Callable[[str], None] = lambda s: None
    on_notice: Callable[[str], None] = lambda s: None
    record: Callable[[AttemptRecord], None] = lambda r: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    claude_path: str | None = None
    budget: Callable[[], BudgetVerdict | None] | None = None  # the budget now, asked before each route change
    conversation: str | None = None  # recorded as each row's session_id (answers.py)

    def run(self, routes: tuple[str, ...], text: str, *, history: tuple[Message, ...] = (), rule: str | None = None,
            tag: str | None = None, resume_session: str | None = None,
            cancel: threading.Event | None = None) -> Outcome:
        """Try each route in order, with retries on each; stop at the first answer."""
        out = Outcome(request_id=uuid.uuid4().hex[:16])
        plan = RoutePlan(self.config, self.catalog, routes, self.profile, self.on_notice, self.budget)
        attempt_no = 0
        messages = (*history, Message("user", text))
        prompt_meta = (hashlib.sha256(text.encode("utf-8")).hexdigest(), len(text))
        for name, route in plan:
            provider = self.config.provider_for(route, self.profile)
            try:
                key = self.key_for(self.profile.name, provider)
            except KeyMissing as exc:
                if name == routes[0]:  # the route the user asked for: say so, do not silently fall back
                    raise
                self.on_notice(f"skipping fallback {name}: {exc}")
                continue
            if plan.is_fallback(name):
                self.on_notice(f"falling back to route {name} ({provider.name}/{self.catalog.resolve(route.model)})")
            retries = route.retries if route.retries is not None else default_retries(route)
            for retry in range(retries + 1):
                attempt_no += 1
                result = self._attempt(out, route, provider, key, messages, attempt_no, rule, tag, prompt_meta,
                                       resume_session, cancel)
                if result == "done":
                    if out.status == "refused" and route.on_refusal and not out.text:
                        if plan.jump(route.on_refusal):
                            self.on_notice(f"{route.name} refused; escalating to route {route.on_refusal}")
                            break
                        out.policy = plan.refusal()
                    return out
                if result == "stop":
                    return out
                err = result
                assert isinstance(err, EngineError)
                if err.context_too_long:
                    big = large_context_route(self.config)
                    if big and plan.jump(big):
                        self.on_notice(f"{provider.name}/{route.model}: the prompt is too long; trying route {big}")
                    break
                if err.status in (401, 403):
                    hint = auth_hint(self.profile.name, provider)
                    if hint not in out.hints:
                        out.hints.append(hint)
                    break
                if not is_retryable(err) or retry == retries:
                    break
                wait = backoff_s(retry + 1, err.retry_after, self.rng)
                self.on_notice(f"{provider.name}/{route.model}: {_describe(err)}; retrying in {wait:.1f}s "
                               f"(attempt {retry + 2} of {retries + 1})")
                if self._sleep(wait, cancel):
                    out.status = "cancelled"
                    return out
        if out.status not in ("cancelled", "partial"):
            out.status = "error"
            out.policy = plan.refusal()
        return out

    def _sleep(self, seconds: float, cancel: threading.Event | None) -> bool:
        """Wait, but wake on cancel; True when cancelled."""
        if cancel is None:
            self.sleep(seconds)
            return False
        return cancel.wait(seconds)

    def _attempt(self, out: Outcome, route: Route, provider: Provider, key: str | None, messages: tuple[Message, ...],
                 attempt_no: int, rule: str | None, tag: str | None, prompt_meta: tuple[str, int],
                 resume_session: str | None, cancel: threading.Event | None) -> str | EngineError:
        """One engine call; returns 'done' (answer complete), 'stop' (partial/cancelled: no more tries) or the error."""
        model = self.catalog.resolve(route.model)
        req = EngineRequest(
            model=model, messages=messages, system=route.system,
            max_output_tokens=route.max_output_tokens or DEFAULT_MAX_OUTPUT,
            timeout_s=route.timeout_s or DEFAULT_TIMEOUT_S, base_url=provider.base_url, api_key=key,
            auth=provider.auth, env=route.env, resume_session=resume_session if route.via == "claude-code" else None,
            claude_path=self.claude_path,
        )
        engine = self.engine_for(route, provider)
        start = self.clock()
        ttft: float | None = None
        usage: Usage | None = None
        done: Done | None = None
        shown = len(out.text)
        status = "ok"
        error: EngineError | None = None
        stream = engine(req, cancel)
        try:
            for ev in stream:
                if isinstance(ev, TextDelta):
                    if ttft is None:
                        ttft = (self.clock() - start) * 1000
                    out.text += ev.text
                    self.on_text(ev.text)
                elif isinstance(ev, Usage):
                    usage = ev
                elif isinstance(ev, Done):
                    done = ev
        except EngineError as exc:
            error = exc
            status = "cancelled" if exc.kind == "cancelled" else "partial" if len(out.text) > shown else "error"
        except KeyboardInterrupt:
            status = "cancelled"
            error = EngineError("cancelled by the user", kind="cancelled")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if error is None and cancel is not None and cancel.is_set():
            status, error = "cancelled", EngineError("cancelled by the user", kind="cancelled")
        if error is None and done is not None and done.stop_reason == "refusal":
            status = "refused"
        if error is None and done is None:
            status = "partial" if len(out.text) > shown else "error"
            error = EngineError("the stream ended before the answer was complete", kind="malformed")
        estimated = False
        if status in ("partial", "cancelled", "error") and (usage is None or not usage.final):
            usage = known_usage(usage, out.text[shown:], messages, route.system)
            estimated = usage is not None
        info = self.catalog.get(model)
        cost = None
        if usage is not None:
            cost = cost_usd(info, usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                            usage.cache_write_tokens) if info else usage.cost_usd
            if cost is None and model not in _PRICE_HINTED:
                _PRICE_HINTED.add(model)
                self.on_notice(unknown_price_hint(model).removeprefix("routesh: "))
        log_prompt = self.profile.log_prompts
        rec = AttemptRecord(
            ts=start, request_id=out.request_id, attempt=attempt_no, profile=self.profile.name, route=route.name,
            provider=provider.name, model=model, via=route.via, status=status,  # type: ignore[arg-type]
            input_tokens=usage.input_tokens if usage else None, output_tokens=usage.output_tokens if usage else None,
            cache_read_tokens=usage.cache_read_tokens if usage else None,
            cache_write_tokens=usage.cache_write_tokens if usage else None, cost_usd=cost,
            latency_ms=(self.clock() - start) * 1000, ttft_ms=ttft,
            error=_describe(error) if error else None, rule=rule, prompt_sha256=prompt_meta[0],
            prompt_chars=prompt_meta[1], prompt=messages[-1].content if log_prompt else None, tag=tag,
            **kept_answer(self.conversation, done.session_id if done else None,
                          out.text[shown:] if log_prompt else None, {"usage": "estimated"} if estimated else {}),
            baseline_cost_usd=usage_baseline(self.config, self.catalog, usage),
            **({} if out.records else turn_fields(messages[-1].content)),
        )
        self.record(rec)
        out.records.append(rec)
        out.route, out.model = route.name, model
        if usage is not None:
            out.usage = usage
            out.cost_usd = (out.cost_usd or 0.0) + cost if cost is not None else out.cost_usd
        if error is None:
            out.status = status
            out.session_id = done.session_id if done else None
            return "done"
        out.error = f"{provider.name}/{model}: {_describe(error)}"
        if error.kind == "policy":  # Claude Code's gateway refused one of its requests: nothing more is tried
            out.policy = error.message
            out.status = "partial" if status == "partial" else "error"
            return "stop"
        if status in ("partial", "cancelled"):
            out.status = status
            return "stop"
        return error


def known_usage(so_far: Usage | None, text: str, messages: tuple[Message, ...], system: str | None) -> Usage | None:
    """What an attempt that ended early used, as far as it is known: the provider's counts so far (message_start),
    output counted from the text received; our own input estimate when the provider said nothing but answered.
    None when nothing shows the request was processed (it costs $0 then)."""
    if so_far is None and not text:
        return None
    from ..core.estimate import message_tokens
    from ..core.tokens import estimate_tokens

    if so_far is None:
        so_far = Usage(message_tokens(messages) + (estimate_tokens(system) if system else 0))
    return Usage(so_far.input_tokens, max(so_far.output_tokens, estimate_tokens(text)), so_far.cache_read_tokens,
                 so_far.cache_write_tokens, so_far.cost_usd, final=False)


def _describe(err: EngineError) -> str:
    """'HTTP 429: rate limited' or 'connection failed: ...' — never a key."""
    if err.status is not None and not err.message.startswith(f"HTTP {err.status}"):
        return f"HTTP {err.status}: {err.message}"
    return err.message
