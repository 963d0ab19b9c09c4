"""A spinner on stderr while waiting for the first token: which route, and how long it has been."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

FRAMES = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Spinner:
    """Draws `⠋ route · model · 1.2s` on one line of a terminal until stopped; draws nothing elsewhere."""

    def __init__(self, label: str, out: TextIO | None = None, interval: float = 0.1) -> None:
        self.label = label
        self.out = out if out is not None else sys.stderr
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._shown = False
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()

    def start(self) -> Spinner:
        """Start drawing, if the stream is a terminal."""
        if self.out is not None and self.out.isatty():
            self._thread = threading.Thread(target=self._run, name="routesh-spinner", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        i = 0
        while not self._stop.wait(self.interval if i else 0.15):  # a fast answer never flashes a spinner
            with self._lock:
                if self._stop.is_set():
                    return
                elapsed = time.monotonic() - self._t0
                self.out.write(f"\r\033[2K{FRAMES[i % len(FRAMES)]} {self.label} · {elapsed:.1f}s")
                self.out.flush()
                self._shown = True
            i += 1

    def clear(self) -> None:
        """Erase the spinner's line (it redraws on the next tick unless stopped)."""
        with self._lock:
            self._erase()

    def say(self, line: str) -> None:
        """Print a line on the spinner's stream without mixing it into the spinner."""
        with self._lock:
            self._erase()
            self.out.write(line + "\n")
            self.out.flush()

    def _erase(self) -> None:
        if self._shown:
            self.out.write("\r\033[2K")
            self.out.flush()
            self._shown = False

    def stop(self) -> None:
        """Stop and erase; safe to call more than once, from the streaming callback."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.clear()
