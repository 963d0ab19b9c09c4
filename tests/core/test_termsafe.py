"""Outside text reaches the terminal without control sequences; keys with line breaks are refused; the gateway
token stays off the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh
from hypothesis import given
from hypothesis import strategies as st
from upstream import Upstream, status_error, upstream_fixture  # noqa: F401 - fixture

from routesh.core.termsafe import StreamCleaner, clean

OSC_TITLE = "\x1b]0;owned title\x07"
OSC_CLIPBOARD = "\x1b]52;c;ZWNobyBybSAtcmYgfg==\x1b\\"
HOSTILE = f"bad{OSC_TITLE}request{OSC_CLIPBOARD} \x1b[2J\x1b[H\x9b31m\rover\x08\x07 end"


def test_a_sequence_cut_between_chunks_is_removed_whole() -> None:
    text = f"answer{OSC_TITLE} with{OSC_CLIPBOARD} colour \x1b[31mred\x1b[0m done"
    for size in range(1, 12):
        cleaner = StreamCleaner()
        out = "".join(cleaner.feed(text[i:i + size]) for i in range(0, len(text), size))
        assert out == "answer with colour red done", size


def test_clean_removes_every_sequence_and_keeps_text() -> None:
    assert clean(HOSTILE) == "badrequest over end"
    assert clean("plain\ttext\nwith é and 日本") == "plain\ttext\nwith é and 日本"
    assert clean("crlf\r\nline") == "crlf\nline"
    assert clean("unterminated \x1b]52;c;abc\nnext line") == "unterminated \nnext line"


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x2FF)))
def test_nothing_that_a_terminal_acts_on_survives(text: str) -> None:
    out = clean(text)
    assert not any(c != "\n" and c != "\t" and (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) for c in out)
    assert clean(out) == out


CONFIG = """\
providers:
  up: {{type: anthropic, base_url: "{url}", key_env: TS_UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, retries: 0}}
"""


def cfg(tmp: Path, up: Upstream) -> Path:
    path = tmp / "routes.yaml"
    path.write_text(CONFIG.format(url=up.url), encoding="utf-8")
    return path


def test_upstream_error_and_answer_escapes_never_reach_the_terminal(upstream: Upstream, tmp_path: Path,
                                                                     isolated_home: Path) -> None:
    c = cfg(tmp_path, upstream)
    upstream.script(status_error(400, HOSTILE))
    p = routesh("--config", str(c), "hi", env={"TS_UP_KEY": "k-0123456789abcdef"})
    assert p.returncode == 1 and "badrequest" in p.stderr
    assert "\x1b" not in p.stderr + p.stdout and "\x9b" not in p.stderr
    upstream.configure(text=f"answer{OSC_TITLE} with{OSC_CLIPBOARD} escapes")
    p = routesh("--config", str(c), "hi", env={"TS_UP_KEY": "k-0123456789abcdef"})
    assert p.returncode == 0 and p.stdout.strip() == "answer with escapes"
    log = routesh("log", "--json")
    assert "\x1b" not in log.stdout  # and the ledger kept the error without them


@pytest.mark.parametrize("bad", ["k-0123456789\r\nX-Injected: 1", "k-0123456789abcdef\n", "k-01234\x01567", "k 0123"])
def test_a_key_with_a_line_break_or_control_character_is_refused(upstream: Upstream, tmp_path: Path,
                                                                  bad: str) -> None:
    p = routesh("--config", str(cfg(tmp_path, upstream)), "hi", env={"TS_UP_KEY": bad})
    assert p.returncode == 2, p.stderr
    assert "$TS_UP_KEY" in p.stderr and len(p.stderr.strip().splitlines()) <= 2
    assert upstream.requests == []  # nothing sent, so no header could be injected


def test_the_gateway_refuses_such_a_key_too(upstream: Upstream, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import http.client

    from routesh.core.context import build
    from routesh.gateway.server import Gateway, RunningGateway, bind

    monkeypatch.setenv("TS_UP_KEY", "k-0123456789\r\nX-Injected: 1")
    gw = Gateway(build(str(cfg(tmp_path, upstream)), None), "tok", log=lambda s: None)
    running = RunningGateway(gw, bind("127.0.0.1", 0)).start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=20)
        body = {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}
        conn.request("POST", "/v1/messages", json.dumps(body), {"authorization": "Bearer tok"})
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        running.stop()
    assert r.status == 401 and "line break" in text
    assert upstream.requests == []


def serve(*args: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Start `routesh serve --port 0`, read the lines it prints, stop it; (stdout, stderr)."""
    p = subprocess.Popen([ROUTESH, "serve", "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, **(env or {})))
    try:
        lines = [p.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        cmdline = Path(f"/proc/{p.pid}/cmdline").read_bytes().decode()
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    return "".join(lines) + out + "\0" + cmdline, err


def test_serve_takes_the_token_from_a_file_or_the_environment(tmp_path: Path) -> None:
    token = "file-token-0123456789abcdef"
    f = tmp_path / "token"
    f.write_text(token + "\n")
    out, err = serve("--token-file", str(f))
    assert "ANTHROPIC_AUTH_TOKEN=" in out and token not in out and "--token is visible" not in err
    out, err = serve(env={"ROUTESH_GATEWAY_TOKEN": token})
    assert token not in out and "--token is visible" not in err
    out, err = serve("--token", token)
    assert "--token is visible" in err and "--token-file" in err


def test_bad_token_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    for args, needle in ((["--token-file", str(tmp_path / "nope")], "cannot read"),
                         (["--token-file", str(empty)], "empty"),
                         (["--token", "a", "--token-file", str(empty)], "not both")):
        t0 = time.monotonic()
        p = routesh("serve", "--port", "0", *args)
        assert p.returncode == 2 and needle in p.stderr, p.stderr
        assert time.monotonic() - t0 < 30
