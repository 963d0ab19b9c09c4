"""An answer streamed while the request runs on a worker thread, so Ctrl-C cancels the request, not routesh.

The shell and the one-shot both use it: Ctrl-C (SIGINT, always delivered to the main thread) only
sets the cancel flag; the engine stops (closing the HTTP stream or killing Claude Code's process
group) and the partial answer stays on screen, marked.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from ..engines.dispatch import Outcome

QUIET_FLUSH_S = 0.12  # redraw the live tail when the stream has been quiet this long


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


class LiveAnswer:
    """The answer's renderer, fed from the worker thread and flushed from the main thread."""

    def __init__(self, console: Console) -> None:
        from ..rendering.stream import StreamRenderer

        self.renderer = StreamRenderer(console)
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

    def end(self, outcome: Outcome | None) -> None:
        """Close the answer as the outcome says: whole, cancelled, or incomplete."""
        if outcome is None:
            self.close("cancelled (abandoned)")
        elif outcome.status == "cancelled":
            self.close("cancelled")
        elif outcome.status == "partial":
            from ..core.kept import shown

            self.close("answer incomplete: " + shown(outcome.error or "the stream broke"))
        else:
            self.close(None)


def run_cancellable(execute: Callable[[threading.Event], Outcome], live: LiveAnswer | None = None) -> tuple[
        Outcome | None, float]:
    """Run a request on a worker thread so Ctrl-C only cancels it: the first Ctrl-C asks the engine to stop
    (the answer so far stays), a second leaves it behind (outcome None). Errors are re-raised here.

    The main thread never writes the answer itself, so an interrupt can never land mid-redraw and
    print a line twice.
    """
    cancel = threading.Event()
    box: dict[str, object] = {}
    done = threading.Event()  # not Thread.join: a join interrupted by Ctrl-C can leave is_alive() wrong

    def work() -> None:
        try:
            box["outcome"] = execute(cancel)
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
                if live is not None:
                    live.flush_if_quiet()
            except KeyboardInterrupt:
                interrupts += 1
                cancel.set()
                if interrupts >= 2:  # the engine did not stop in time: leave it behind
                    if live is not None:
                        live.detached.set()
                    return None, time.monotonic() - start
    error = box.get("error")
    if error is not None:
        if live is not None:
            live.close(None)
        raise error  # type: ignore[misc]
    return box["outcome"], time.monotonic() - start  # type: ignore[return-value]
