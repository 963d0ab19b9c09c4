"""The shell's reach outside itself, typed as a user types it in a real terminal (tmux): /file, !command,
/edit, /copy, Tab, the toolbar on a narrow terminal, and Claude Code handed the conversation so far."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from test_shell_pty import CONFIG, Term, ask, dead_port, user_text
from test_shell_pty import config as config  # noqa: F401 - fixture
from test_shell_pty import term as term  # noqa: F401 - fixture
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")


def test_file_attaches_text_files_and_refuses_binary_ones(term: Term, upstream: Upstream) -> None:
    (term.home / "notes.txt").write_text("the build fails on step 3\nsee ```log```\n", encoding="utf-8")
    (term.home / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    home = str(term.home)
    term.type(f"/file {home}/blob.bin")
    term.enter()
    term.wait(r"routesh: .*/blob.bin looks binary")
    term.ready()
    term.type(f"/file {home}/note")
    term.key("Tab")  # path completion
    term.wait(r"› /file .*/notes.txt$")
    term.enter()
    term.wait(r"attached .*/notes.txt \([\d,]+ bytes, ~\d+ tok\) to your next prompt")
    term.ready()
    assert "+1 attached" in term.toolbar("attached")
    ask(term, "/architect why does it fail")
    req = upstream.generation_requests()[-1]
    assert req.model == "claude-opus-4-7"  # the prefix still routes: the attachment goes after the text
    sent = user_text(req)
    assert sent.startswith(f"why does it fail\n\n{home}/notes.txt\n````\nthe build fails on step 3\n")
    ask(term, "and the next one carries nothing")
    assert "notes.txt" not in user_text(upstream.generation_requests()[-1])


def test_bang_runs_a_command_and_offers_its_output(term: Term, upstream: Upstream) -> None:
    term.type("!printf 'out-line\\n'; echo err-line >&2; exit 3")
    term.enter()
    term.wait(r"^out-line$")
    term.wait(r"attached the output of \$ printf .*\(exit 3\)")
    term.ready()
    term.type("/drop")
    term.enter()
    term.wait(r"dropped \$ printf")
    term.ready()
    term.type("!echo kept-output")
    term.enter()
    term.wait(r"attached the output of \$ echo kept-output \(exit 0\)")
    term.ready()
    ask(term, "explain this")
    sent = user_text(upstream.generation_requests()[-1])
    assert sent == "explain this\n\n$ echo kept-output (exit 0)\n```\nkept-output\n```"
    assert "out-line" not in sent  # dropped


def test_edit_composes_in_the_editor_then_sends(tmp_path: Path, upstream: Upstream, config: Path) -> None:
    editor = tmp_path / "fake-editor"
    editor.write_text("#!/bin/sh\nprintf '/architect from the editor\\nsecond line\\n' > \"$1\"\n", encoding="utf-8")
    editor.chmod(0o755)
    t = Term(tmp_path, config, extra_env={"EDITOR": str(editor)})
    try:
        t.ready()
        ask(t, "/edit")
        req = upstream.generation_requests()[-1]
        assert req.model == "claude-opus-4-7" and user_text(req) == "from the editor\nsecond line"
        assert not list(Path("/tmp").glob("routesh-edit-*/prompt.md"))  # the draft is gone
    finally:
        t.close()


def test_copy_puts_the_last_answer_on_the_clipboard(term: Term, upstream: Upstream) -> None:
    term.tmux("set", "-g", "set-clipboard", "on")  # tmux takes OSC 52 into its paste buffer
    term.type("/copy")
    term.enter()
    term.wait(r"no answer in this session to copy yet")
    term.ready()
    ask(term, "say something")
    term.type("/copy")
    term.enter()
    term.wait(r"copied the last answer \(\d+ characters\)")
    term.ready()
    assert term.tmux("show-buffer") == "Hello from claude-sonnet-4-6."


def test_a_second_tab_keeps_the_completion(term: Term) -> None:
    term.type("/arc")
    term.wait(r"/architect\s+design and migrations")
    term.key("Tab")
    term.wait(r"› /architect$")
    term.key("Tab")
    time.sleep(0.3)
    assert term.cursor_line().rstrip().endswith("› /architect")


def test_a_narrow_terminal_keeps_the_session_cost(tmp_path: Path, upstream: Upstream, config: Path) -> None:
    t = Term(tmp_path, config, width=80)
    try:
        t.ready()
        t.type("/architect")
        t.enter()
        t.ready()
        ask(t, "one request")
        line = t.toolbar(r"session \$[\d.]+")
        assert re.search(r"session \$[\d.]+\s*$", line), line
        assert len(line.rstrip()) <= 80
    finally:
        t.close()


def test_miss_in_a_new_session_does_not_mark_an_old_request(tmp_path: Path, upstream: Upstream,
                                                            config: Path) -> None:
    t = Term(tmp_path, config)
    try:
        t.ready()
        ask(t, "a request in the first session")
        t.key("C-d")
        t.wait(r"^\[exited 0\]$")
    finally:
        t.close()
    _wait_server_gone(Path(t.sock))  # the next terminal reuses the socket path: let the old server go first
    t = Term(tmp_path, config)
    try:
        t.ready()
        t.type("/miss wrong route")
        t.enter()
        t.wait(r"no request in this session yet")
        t.ready()
        t.type("/profile work-approved")
        t.enter()
        t.ready()
        t.type("/why hello")
        t.enter()
        t.wait(r"work-approved \(set by /profile\)")
        t.ready()
    finally:
        t.close()


def _wait_server_gone(sock: Path) -> None:
    """Until nothing answers on the tmux socket (its file stays behind), then remove the file."""
    import socket as socketlib

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socketlib.socket(socketlib.AF_UNIX) as probe:
            try:
                probe.connect(str(sock))
            except OSError:
                break
        time.sleep(0.05)
    sock.unlink(missing_ok=True)


def test_reload_after_an_edit_says_it_once(term: Term, config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("rules:\n", "rules:\n  - {prefix: /review, route: quick}\n"), encoding="utf-8")
    term.type("/review this diff")
    term.wait(r"→ quick \(claude-haiku-4-5\)")  # known before Enter
    term.key("C-u")  # clear the line without going round the loop
    term.type("/reload")
    term.enter()
    term.ready()
    assert term.count(r"^reloaded .*routes\.yaml: 6 routes, 6 rules$") == 1


def test_claude_code_is_given_the_turns_other_models_answered(tmp_path: Path, upstream: Upstream) -> None:
    if shutil.which("claude") is None:
        pytest.skip(reason="`claude` not installed (npm install -g @anthropic-ai/claude-code)")
    config = tmp_path / "routes.yaml"
    config.write_text(CONFIG.format(url=upstream.url, dead=dead_port()).replace(
        "debug:     {provider: up, model: claude-opus-4-7, description: hard debugging}",
        "debug:     {provider: up, model: claude-opus-4-7, via: claude-code, timeout_s: 120}"), encoding="utf-8")
    t = Term(tmp_path, config, extra_env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"})
    try:
        t.ready()
        ask(t, "the secret word is avocado")
        ask(t, "/debug what was the word?", summary=r"^debug · claude-opus-4-7 .*\d\.\ds$")
        assert t.count(r"Claude Code is given the conversation so far \(1 turn\(s\)\) as context") == 1
        mains = [r for r in upstream.generation_requests() if "what was the word" in json.dumps(r.json)]
        assert mains and "avocado" in json.dumps(mains[-1].json["messages"])
        n = len(upstream.generation_requests())
        ask(t, "/debug and again?", summary=r"^debug · claude-opus-4-7 .*\d\.\ds$")
        assert t.count(r"Claude Code is given the conversation so far") == 1  # resumed: its session has it
        again = [r for r in upstream.generation_requests()[n:] if "and again?" in json.dumps(r.json)]
        assert again and "<conversation_so_far>" not in json.dumps(again[-1].json["messages"][-1])
    finally:
        t.close()


def test_edit_needs_a_working_editor(tmp_path: Path, upstream: Upstream, config: Path) -> None:
    t = Term(tmp_path, config, extra_env={"EDITOR": "/nonexistent/editor --wait"})
    try:
        t.ready()
        t.type("/edit")
        t.enter()
        t.wait(r"cannot start the editor '/nonexistent/editor --wait'.*set \$EDITOR")
        t.ready()
        assert upstream.generation_requests() == []
        assert os.environ.get("EDITOR") != "/nonexistent/editor --wait"
    finally:
        t.close()
