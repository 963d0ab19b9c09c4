"""Ctrl-C in the one-shot, in a real terminal: the request is cancelled, not routesh; what was shown stays
once, marked partial, and nothing is marked when there was no answer yet."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from test_shell_pty import CONFIG, Term, dead_port
from upstream import Upstream, slow_first_byte, slow_stream, upstream_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def one_shot(tmp: Path, upstream: Upstream, prompt: str) -> Term:
    """`routesh PROMPT` in a tmux terminal: stdout is a tty and Ctrl-C is a real SIGINT from the terminal."""
    config = tmp / "routes.yaml"
    config.write_text(CONFIG.format(url=upstream.url, dead=dead_port()), encoding="utf-8")
    t = Term(tmp, config, width=100, args=(prompt,))
    t.tmux("set", "-g", "remain-on-exit", "on")  # Ctrl-C reaches the wrapping sh too; keep the screen
    return t


def test_ctrl_c_mid_answer_keeps_each_line_once_and_marks_it(tmp_path: Path, upstream: Upstream) -> None:
    upstream.configure(text="First line of the answer.\n\n" + "word " * 300)
    upstream.script(slow_stream(0.05))
    t = one_shot(tmp_path, upstream, "tell me a long story")
    try:
        t.wait(r"word word word", timeout=60)
        t.key("C-c")
        t.wait(r"^routesh: cancelled$", where="history")
        text = t.history()
        assert text.count("First line of the answer.") == 1, text
        assert "[partial answer: cancelled]" in text and "routesh: cancelled" in text
        assert "Traceback" not in text
    finally:
        t.close()


def test_ctrl_c_before_any_answer_marks_no_partial_answer(tmp_path: Path, upstream: Upstream) -> None:
    upstream.script(slow_first_byte(30))
    t = one_shot(tmp_path, upstream, "this will hang")
    try:
        upstream.wait_for_requests(1, timeout=60)
        time.sleep(0.2)
        t.key("C-c")
        t.wait(r"^routesh: cancelled$", timeout=10, where="history")
        text = t.history()
        assert "routesh: cancelled" in text
        assert "partial answer" not in text, text
    finally:
        t.close()


def test_sigint_on_a_pipe_exits_130_with_the_answer_so_far(tmp_path: Path, upstream: Upstream) -> None:
    upstream.configure(text="First line of the answer.\n\n" + "word " * 300)
    upstream.script(slow_stream(0.05))
    config = tmp_path / "routes.yaml"
    config.write_text(CONFIG.format(url=upstream.url, dead=dead_port()), encoding="utf-8")
    routesh = shutil.which("routesh") or "routesh"
    proc = subprocess.Popen([routesh, "--config", str(config), "tell me a long story"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, SHELL_TEST_UP_KEY="test-key"))
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert first == b"First line of the answer.\n" and b"First line" not in out
    assert b"routesh: cancelled" in err and b"Traceback" not in err
