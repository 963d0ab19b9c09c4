"""One prompt sent from the shell: run it on a worker thread, stream the answer, let Ctrl-C cancel it.

The request runs off the main thread so that Ctrl-C (SIGINT, always delivered to the main thread)
only sets the cancel flag: the engine stops (closing the HTTP stream or killing Claude Code's
process group), the partial answer stays on screen, marked, and the session goes on.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from .events import Message
from .render import tokens, usd

if TYPE_CHECKING:
    from .dispatch import Outcome
    from .plan import Plan
    from .runner import Runner
    from .shell_out import Out

QUIET_FLUSH_S = 0.12  # redraw the live tail when the stream has been quiet this long


@dataclass(frozen=True)
class Conversation:
    """What the next prompt continues: the API message history and Claude Code's session id."""

    history: tuple[Message, ...] = ()
    claude_session: str | None = None

    @cached_property
    def history_tokens(self) -> int:
        """The history's estimated tokens, counted once per turn (the toolbar asks on every keystroke)."""
        from .estimate import message_tokens

        return message_tokens(self.history)

    @property
    def turns(self) -> int:
        """Exchanges so far."""
        return len(self.history) // 2

    def after(self, sent: str, outcome: Outcome) -> Conversation:
        """The conversation once this answer arrived: both messages kept, Claude Code's session too."""
        history = (*self.history, Message("user", sent), Message("assistant", outcome.text))
        return replace(self, history=history, claude_session=outcome.session_id or self.claude_session)


@dataclass(frozen=True)
class Finished:
    """The last request, for the toolbar, /cost and /miss."""

    request_id: str
    status: str
    route: str | None
    model: str | None
    cost_usd: float | None
    seconds: float
    input_tokens: int | None = None
    output_tokens: int | None = None

    def label(self) -> str:
        """'claude-opus-4-7 · 2.3s' for the toolbar."""
        return f"{self.model or '?'} · {self.seconds:.1f}s" + ("" if self.status == "ok" else f" · {self.status}")


@contextmanager
def typeahead_kept() -> Iterator[None]:
    """While an answer streams, keys typed are not echoed into it but wait for the next prompt;
    Ctrl-C still raises KeyboardInterrupt (ISIG stays on)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
    except Exception:  # noqa: BLE001 - not a terminal: nothing to protect
        yield
        return
    new = list(old)
    new[3] = new[3] & ~(termios.ECHO | termios.ICANON) | termios.ISIG
    try:
        termios.tcsetattr(fd, termios.TCSANOW, new)
    except termios.error:
        pass
    try:
        yield
    finally:
        try:
            termios.tcsetattr(fd, termios.TCSANOW, old)
        except termios.error:
            pass


class _Stream:
    """The answer's renderer, fed from the worker thread and flushed from the main thread."""

    def __init__(self, out: Out) -> None:
        from .render_stream import StreamRenderer

        self.renderer = StreamRenderer(out.console)
        self.lock = threading.Lock()
        self.detached = threading.Event()  # after a second Ctrl-C: the worker's output is dropped
        self.last_fed = 0.0
        self.dirty = False

    def feed(self, chunk: str) -> None:
        """Called by the runner on the worker thread."""
        if self.detached.is_set():
            return
        with self.lock:
            if not self.detached.is_set():
                self.renderer.feed(chunk)
                self.last_fed, self.dirty = time.monotonic(), True

    def flush_if_quiet(self) -> None:
        """Show the last characters when the stream pauses (the renderer throttles redraws)."""
        if self.dirty and time.monotonic() - self.last_fed >= QUIET_FLUSH_S:
            with self.lock:
                self.renderer.flush()
                self.dirty = False

    def close(self, note: str | None) -> None:
        """Finish the answer, or keep it and mark it partial."""
        with self.lock:
            if note is None:
                self.renderer.finish()
            else:
                self.renderer.mark_partial(note)


def run_turn(out: Out, runner: Runner, plan: Plan, convo: Conversation, tag: str | None) -> tuple[
        Outcome | None, float]:
    """Execute the plan, streaming the answer; returns (outcome or None if abandoned, seconds).

    UserErrors from the runner (missing key, policy refusal) are re-raised on the main thread.
    """
    stream = _Stream(out)
    runner.on_text = stream.feed
    runner.on_notice = lambda msg: None if stream.detached.is_set() else out.note(f"routesh: {msg}")
    cancel = threading.Event()
    box: dict[str, object] = {}

    done = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C can leave is_alive() wrong

    def work() -> None:
        try:
            box["outcome"] = runner.execute(plan, history=convo.history, tag=tag,
                                            resume_session=convo.claude_session, cancel=cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            box["error"] = exc
        finally:
            done.set()

    start = time.monotonic()
    worker = threading.Thread(target=work, name="routesh-request", daemon=True)
    interrupts = 0
    with typeahead_kept():
        worker.start()
        while not done.is_set():
            try:
                done.wait(0.05)
                stream.flush_if_quiet()
            except KeyboardInterrupt:
                interrupts += 1
                cancel.set()
                if interrupts >= 2:  # the engine did not stop in time: leave it behind
                    stream.detached.set()
                    break
    seconds = time.monotonic() - start
    if stream.detached.is_set():
        stream.close("cancelled (abandoned)")
        return None, seconds
    error = box.get("error")
    if error is not None:
        stream.close(None)
        raise error  # type: ignore[misc]
    outcome: Outcome = box["outcome"]  # type: ignore[assignment]
    status = outcome.status
    if status in ("ok", "refused"):
        stream.close(None)
    elif status == "cancelled":
        stream.close("cancelled")
    elif status == "partial":
        stream.close("answer incomplete: " + (outcome.error or "the stream broke"))
    else:
        stream.close(None)
    return outcome, seconds


def summary_line(outcome: Outcome, seconds: float) -> str:
    """route · model · tokens in/out · cost · time, the dim line under every answer (all attempts summed)."""
    parts = [outcome.route or "?", outcome.model or "?"]
    used = [r for r in outcome.records if r.input_tokens is not None or r.output_tokens is not None]
    u = outcome.usage
    if used:
        into = sum((r.input_tokens or 0) + (r.cache_read_tokens or 0) + (r.cache_write_tokens or 0) for r in used)
        parts.append(f"{tokens(into)} in / {tokens(sum(r.output_tokens or 0 for r in used))} out")
        unpriced = any(r.cost_usd is None for r in used)
        known = sum(r.cost_usd or 0.0 for r in used)
        parts.append(usd(None) if unpriced and not known else usd(known) + ("+?" if unpriced else ""))
        if any(r.extra.get("usage") == "estimated" for r in used):
            parts[-1] += " (partly estimated)"
    elif u is not None:
        parts.append(f"{tokens(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens)} in / "
                     f"{tokens(u.output_tokens)} out")
        parts.append(usd(outcome.cost_usd))
    elif outcome.records:
        parts.append("$0")  # no attempt got as far as the provider processing it
    parts.append(f"{seconds:.1f}s")
    if outcome.status != "ok":
        parts.append(outcome.status)
    return " · ".join(parts)


def failure_lines(outcome: Outcome) -> str | None:
    """What to tell the user when the request did not produce a whole answer, with the fix."""
    if outcome.status == "ok":
        return None
    if outcome.status == "cancelled":
        return None  # the marked partial answer says it
    if outcome.status == "partial":
        return f"the answer above is partial: {outcome.error}; send it again, or /new to start afresh"
    if outcome.status == "refused":
        return (f"{outcome.model} declined to answer (stop_reason: refusal); set on_refusal on route "
                f"{outcome.route} in routes.yaml to escalate such prompts")
    tried = ", ".join(dict.fromkeys(f"{r.route} ({r.provider}/{r.model})" for r in outcome.records)) or "nothing"
    return (f"failed: {outcome.error}\ntried {tried}; nothing more to fall back to. "
            "Check the provider's base_url and key (/why shows both), then send again")


def finished(outcome: Outcome, seconds: float) -> Finished:
    """The toolbar's and /miss's view of a request."""
    u = outcome.usage
    return Finished(outcome.request_id, outcome.status, outcome.route, outcome.model, outcome.cost_usd, seconds,
                    u.input_tokens + u.cache_read_tokens + u.cache_write_tokens if u else None,
                    u.output_tokens if u else None)
