"""The shell driven the way a user drives it: the real `python -m routesh` in a terminal (tmux),
keys typed one by one, pastes sent as bracketed pastes, the screen read back as the user sees it,
and every request checked at a real test upstream on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from upstream import (  # noqa: F401 - fixture
    Upstream,
    processes_with_marker,
    slow_first_byte,
    slow_stream,
    upstream_fixture,
    wait_no_marker,
)

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")

ROOT = Path(__file__).resolve().parents[2]
PROMPT_RE = re.compile(r"^routesh \((?P<profile>[\w-]+)\)(?: (?P<sticky>\S+(?: \S+)?))? ›$")
PROMPT_LINE = r"^routesh \([\w-]+\)(?: \S+(?: \S+)?)? ›"

CONFIG = """\
version: 1
default_route: default
default_profile: personal
providers:
  up:    {{type: anthropic, base_url: "{url}", key_env: SHELL_TEST_UP_KEY}}
  other: {{type: openai, base_url: "{url}/v1", key_env: SHELL_TEST_OTHER_KEY}}
  nokey: {{type: anthropic, base_url: "{url}", key_env: SHELL_TEST_UNSET_KEY}}
  down:  {{type: anthropic, base_url: "http://127.0.0.1:{dead}", key_env: SHELL_TEST_UP_KEY}}
routes:
  default:   {{provider: up, model: claude-sonnet-4-6, description: everyday work}}
  architect: {{provider: up, model: claude-opus-4-7, description: design and migrations}}
  debug:     {{provider: up, model: claude-opus-4-7, description: hard debugging}}
  quick:     {{provider: other, model: claude-haiku-4-5, description: small edits}}
  locked:    {{provider: nokey, model: claude-haiku-4-5}}
  offline:   {{provider: down, model: claude-haiku-4-5, retries: 0}}
rules:
  - {{prefix: /architect, route: architect}}
  - {{prefix: /debug, route: debug}}
  - {{prefix: /locked, route: locked}}
  - {{prefix: /offline, route: offline}}
  - {{keywords: [fixture], route: quick}}
profiles:
  personal: {{}}
  work-approved: {{allow_providers: [up], log_prompts: false, providers: {{up: {{key_env: SHELL_TEST_WORK_KEY}}}}}}
  careful: {{on_secret: redact}}
"""


def dead_port() -> int:
    """A port nothing listens on."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Term:
    """A terminal with the shell running in it (tmux on a private socket)."""

    def __init__(self, tmp: Path, config: Path, *, width: int = 120, height: int = 40,
                 extra_env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.tmp = tmp
        self.sock = str(tmp / "tmux.sock")
        home = tmp / "home"
        home.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TERM": "xterm-256color", "LANG": "C.UTF-8",
            "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_STATE_HOME": str(home / ".local/state"), "XDG_CACHE_HOME": str(home / ".cache"),
            "SHELL_TEST_UP_KEY": "test-key-up", "SHELL_TEST_OTHER_KEY": "test-key-other",
            "SHELL_TEST_WORK_KEY": "test-key-work",  # the work profile's own key: never the personal one
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        }
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        env.update(extra_env or {})
        self.home = home
        self._typed = ""  # the last text typed, to see it echoed before Enter
        self._prompts = 0  # prompt lines expected in the scrollback once the shell is ready again
        conf = tmp / "tmux.conf"
        conf.write_text("set -g history-limit 100000\nset -g status off\n", encoding="utf-8")
        self.conf = str(conf)
        argv = [sys.executable, "-m", "routesh", "--config", str(config), *args]
        inner = " ".join(shlex.quote(a) for a in argv)
        script = f"cd {shlex.quote(str(ROOT))} && {inner}; echo \"[exited $?]\"; sleep 60"
        cmd = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), "sh", "-c", script]
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), " ".join(shlex.quote(c) for c in cmd))

    def tmux(self, *args: str) -> str:
        """Run a tmux command against this terminal's server."""
        r = subprocess.run(["tmux", "-S", self.sock, "-f", self.conf, *args], capture_output=True, text=True,
                           timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"tmux {args[0]} failed: {r.stderr}")
        return r.stdout

    def type(self, text: str) -> None:
        """Type text key by key (literally; no key names)."""
        self.tmux("send-keys", "-l", "--", text)
        self._typed = text

    def enter(self) -> None:
        """Press Enter once what was typed is on screen; ready() then waits for the next prompt."""
        if self._typed.strip():
            self.wait(re.escape(self._typed.strip()[-20:]))
        self._prompts = self.count(PROMPT_LINE) + 1
        self._typed = ""
        self.key("Enter")

    def key(self, *keys: str) -> None:
        """Press named keys: Enter, Tab, C-c, C-d, Escape."""
        for k in keys:
            self.tmux("send-keys", k)

    def paste(self, text: str) -> None:
        """Paste text as a terminal does: a bracketed paste (ESC[200~ ... ESC[201~) when the app asked for it."""
        buf = self.tmp / "paste.txt"
        buf.write_text(text, encoding="utf-8")
        self.tmux("load-buffer", "-b", "p", str(buf))
        self.tmux("paste-buffer", "-p", "-d", "-b", "p")
        self._typed = text.strip().rsplit("\n", 1)[-1]

    def screen(self) -> str:
        """What is on the screen now (wrapped lines joined)."""
        return self.tmux("capture-pane", "-p", "-J")

    def history(self) -> str:
        """Everything in the scrollback plus the screen."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-")

    def cursor_line(self) -> str:
        """The line the cursor is on."""
        y = int(self.tmux("display-message", "-p", "#{cursor_y}").strip())
        lines = self.tmux("capture-pane", "-p").split("\n")
        return lines[y] if y < len(lines) else ""

    def wait(self, pattern: str, timeout: float = 15.0, *, where: str = "screen") -> re.Match[str]:
        """Wait until the regex shows up on the screen (or in the scrollback)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.history() if where == "history" else self.screen()
            m = re.search(pattern, text, re.M)
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not on screen after {timeout}s:\n{text}")
            time.sleep(0.05)

    def count(self, pattern: str) -> int:
        """How many lines of the scrollback match the regex."""
        return len(re.findall(pattern, self.history(), re.M))

    def wait_count(self, pattern: str, n: int, timeout: float = 15.0) -> None:
        """Wait until at least n lines of the scrollback match the regex."""
        deadline = time.monotonic() + timeout
        while self.count(pattern) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not seen {n} times after {timeout}s:\n{self.history()}")
            time.sleep(0.05)

    def ready(self, timeout: float = 15.0) -> re.Match[str]:
        """Wait for an empty prompt with the cursor on it; returns its parts (profile, sticky)."""
        deadline = time.monotonic() + timeout
        while True:
            m = PROMPT_RE.match(self.cursor_line().rstrip())
            if m and (self._prompts == 0 or self.count(PROMPT_LINE) >= self._prompts):
                return m
            if time.monotonic() > deadline:
                raise AssertionError(f"no ready prompt after {timeout}s:\n{self.history()}")
            time.sleep(0.05)

    def toolbar(self, pattern: str = "", timeout: float = 10.0) -> str:
        """The bottom line of the screen, once it matches the regex."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.tmux("capture-pane", "-p").rstrip("\n").split("\n")[-1]
            if re.search(pattern, line) or time.monotonic() > deadline:
                return line
            time.sleep(0.05)

    def close(self) -> None:
        """Stop the tmux server this terminal started (and the shell in it)."""
        subprocess.run(["tmux", "-S", self.sock, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def config(tmp_path: Path, upstream: Upstream) -> Path:
    """routes.yaml pointing every provider at the test upstream (one at a dead port)."""
    path = tmp_path / "routes.yaml"
    path.write_text(CONFIG.format(url=upstream.url, dead=dead_port()), encoding="utf-8")
    return path


@pytest.fixture
def term(tmp_path: Path, config: Path):  # type: ignore[no-untyped-def]
    """The shell, opened and ready to type."""
    t = Term(tmp_path, config)
    try:
        t.ready()
        yield t
    finally:
        t.close()


def ask(term: Term, text: str, summary: str = r"· \d+\.\ds$") -> None:
    """Type a prompt, send it and wait for a new answer summary line and the next prompt."""
    before = term.count(summary)
    term.type(text)
    term.enter()
    term.wait_count(summary, before + 1)
    term.ready()


def user_text(req) -> str:  # type: ignore[no-untyped-def]
    """The last user message of a recorded Anthropic or OpenAI request."""
    content = req.json["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(b.get("text", "") for b in content)


# ---- routing from the prompt ------------------------------------------------------------------


def test_architect_prefix_reaches_upstream_with_the_architect_model(term: Term, upstream: Upstream) -> None:
    term.type("/architect split billing from the monolith")
    term.wait(r"→ architect \(claude-opus-4-7\)")  # the toolbar, updated as you type
    term.enter()
    term.wait(r"→ architect · up/claude-opus-4-7 · via api")  # the decision line
    term.wait(r"^architect · claude-opus-4-7 · 21 in / 9 out · \$[\d.]+ · \d+\.\ds$")
    term.ready()
    req = upstream.generation_requests()[-1]
    assert req.model == "claude-opus-4-7"
    assert user_text(req) == "split billing from the monolith"
    assert "Hello from claude-opus-4-7." in term.screen()
    pattern = r"session \$0\.\d+ │ last claude-opus-4-7 · \d+\.\ds"
    assert re.search(pattern, term.toolbar(pattern))


def test_tab_completes_a_route_prefix_with_its_description(term: Term, upstream: Upstream) -> None:
    term.type("/arc")
    term.wait(r"/architect\s+design and migrations · architect → claude-opus-4-7")  # the menu
    term.key("Tab")
    term.wait(r"› /architect$")
    term.type(" draw the module boundaries")
    term.enter()
    term.wait(r"^architect · claude-opus-4-7")
    assert upstream.generation_requests()[-1].model == "claude-opus-4-7"


def test_bare_prefix_is_sticky_until_default(term: Term, upstream: Upstream) -> None:
    term.type("/debug")
    term.wait(r"Enter makes /debug sticky")
    term.enter()
    m = term.ready()
    assert m["sticky"] == "/debug"
    assert "sticky /debug · /default ends" in term.toolbar("sticky /debug · /default ends")
    ask(term, "why is this slow")
    assert upstream.generation_requests()[-1].model == "claude-opus-4-7"
    ask(term, "/architect but this one is design")  # an explicit prefix wins over the sticky one
    assert upstream.generation_requests()[-1].model == "claude-opus-4-7"
    term.type("/default")
    term.enter()
    assert term.ready()["sticky"] is None
    ask(term, "plain prompt")
    assert upstream.generation_requests()[-1].model == "claude-sonnet-4-6"


def test_typo_gets_did_you_mean_and_sends_nothing(term: Term, upstream: Upstream) -> None:
    term.type("/architcet review this")
    term.wait(r"unknown command /architcet \(did you mean '/architect'\?\)")  # toolbar, while typing
    term.enter()
    term.wait(r"routesh: unknown command /architcet \(did you mean '/architect'\?\); nothing was sent")
    term.ready()
    term.type("/hepl")
    term.enter()
    term.wait(r"unknown command /hepl \(did you mean '/help'\?\)")
    term.ready()
    assert upstream.generation_requests() == []


# ---- profiles, conversation, errors ---------------------------------------------------------


def test_profile_switch_shows_what_changed_and_is_enforced(term: Term, upstream: Upstream, tmp_path: Path) -> None:
    ask(term, "remember the word avocado")
    term.type("/profile work")
    term.wait(r"work-approved\s+only up")  # the menu, with each profile's providers
    term.key("Tab")
    term.wait(r"› /profile work-approved$")
    term.enter()
    term.wait(r"^profile personal → work-approved$")
    term.wait(r"^  providers allowed: any → up$")
    term.wait(r"^  key up: env$")
    term.wait(r"^  prompts logged and kept in history: no$")
    term.wait(r"conversation: started afresh")
    assert term.ready()["profile"] == "work-approved"
    assert "profile work-approved" in term.toolbar("profile work-approved")
    ask(term, "confidential work prompt")
    assert len(upstream.generation_requests()[-1].json["messages"]) == 1  # no personal context carried over
    before = len(upstream.generation_requests())
    term.type("fix the fixture")  # the keyword rule goes to provider `other`, which work-approved refuses
    term.wait(r"→ quick \(claude-haiku-4-5\) refused by profile")
    term.enter()
    term.wait(r"refused, nothing was sent: profile 'work-approved' allows only up")
    term.ready()
    assert len(upstream.generation_requests()) == before
    history = (term.home / ".local/state/routesh/history").read_text(encoding="utf-8")
    assert "remember the word avocado" in history
    assert "confidential" not in history and "fixture" not in history


def test_conversation_is_carried_across_routes_and_new_starts_afresh(term: Term, upstream: Upstream) -> None:
    ask(term, "first question")
    ask(term, "/architect second question")
    msgs = upstream.generation_requests()[-1].json["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[0]["content"] == "first question" and msgs[1]["content"] == "Hello from claude-sonnet-4-6."
    term.type("/new")
    term.enter()
    term.wait("fresh conversation")
    term.ready()
    ask(term, "third question")
    assert len(upstream.generation_requests()[-1].json["messages"]) == 1


def test_a_redacted_secret_stays_redacted_in_the_carried_history(term: Term, upstream: Upstream) -> None:
    secret = ("sk-ant-api03-aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5bC7dE9fG1hJ3kL5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5hJ7"
              "kL9-AbCdEfAA")
    term.type("/profile careful")
    term.enter()
    term.ready()
    ask(term, f"why does {secret} fail")
    ask(term, "and now?")
    sent = json.dumps([r.json for r in upstream.generation_requests()])
    assert secret not in sent and "[REDACTED:anthropic-key]" in sent
    assert len(upstream.generation_requests()[-1].json["messages"]) == 3


def test_errors_are_shown_with_the_fix_and_the_session_goes_on(term: Term, upstream: Upstream) -> None:
    term.type("/locked do it")
    term.enter()
    # with a keyring: "no key for provider 'nokey' ... run `routesh keys set nokey ...`, or export ..."; without
    # one (this terminal has no D-Bus session): the keyring's own message; both name the variable to set
    term.wait(r"^routesh: (?!internal error).*", where="history")
    term.wait(r"SHELL_TEST_UNSET_KEY", where="history")
    term.ready()
    term.type("/offline do it")
    term.enter()
    term.wait(r"routesh: failed: down/claude-haiku-4-5: ")
    term.ready()
    ask(term, "still alive?")
    assert "Traceback" not in term.history()


def test_why_cost_and_miss(term: Term, upstream: Upstream) -> None:
    term.type("/why /architect plan the migration")
    term.enter()
    term.wait(r"→ architect · up/claude-opus-4-7 · via api · key: env")
    term.wait(r"the prompt starts with /architect")
    term.ready()
    assert upstream.generation_requests() == []
    ask(term, "/debug a real one")
    term.type("/miss should have been quick")
    term.enter()
    term.wait(r"marked request [0-9a-f]+ \(debug · claude-opus-4-7\) as a routing miss: should have been quick")
    term.ready()
    term.type("/cost")
    term.enter()
    term.wait(r"this session: \$0\.\d+ over 1 request\(s\)")
    term.wait(r"profile personal: today \$0\.\d+, this month \$0\.\d+")
    term.ready()


# ---- input: Ctrl-C, Ctrl-D, pastes ---------------------------------------------------------------


def test_ctrl_c_cancels_a_slow_first_byte_then_the_next_prompt_works(term: Term, upstream: Upstream) -> None:
    upstream.script(slow_first_byte(30))
    term.type("this will hang")
    term.enter()
    upstream.wait_for_requests(1, timeout=10)
    time.sleep(0.3)
    started = time.monotonic()
    term.key("C-c")
    term.wait(r"· cancelled$")
    term.ready()
    assert "partial answer" not in term.history()  # there was no answer to mark
    assert time.monotonic() - started < 5
    ask(term, "and now a normal one")
    assert user_text(upstream.generation_requests()[-1]) == "and now a normal one"


def test_ctrl_c_keeps_the_partial_answer_marked(term: Term, upstream: Upstream) -> None:
    upstream.configure(text="word " * 400)
    upstream.script(slow_stream(0.05))
    term.type("long answer please")
    term.enter()
    term.wait(r"word word word word")
    term.key("C-c")
    term.wait(r"\[partial answer: cancelled\]")
    term.ready()
    assert "word word" in term.history()
    upstream.configure(text="Hello from {model}.")
    ask(term, "next")


def test_keys_typed_during_an_answer_wait_for_the_next_prompt(term: Term, upstream: Upstream) -> None:
    upstream.configure(text="word " * 40)
    upstream.script(slow_stream(0.05))
    term.type("stream slowly")
    term.enter()
    term.wait(r"word word")
    term.type("typed ahead")  # not echoed into the answer, not lost
    term.wait(r"^default · claude-sonnet-4-6")
    term.wait(r"› typed ahead$")
    assert "typed ahead" not in term.history().split("stream slowly", 1)[1].split("› typed ahead")[0]


def test_ctrl_c_clears_the_line_and_ctrl_d_exits(term: Term) -> None:
    term.type("half a thought")
    term.wait(r"› half a thought$")
    term.key("C-c")
    term.ready()
    term.key("C-d")
    term.wait(r"^\[exited 0\]$")


def test_esc_enter_makes_a_multiline_prompt(term: Term, upstream: Upstream) -> None:
    term.type("line one")
    term.key("Escape", "Enter")
    term.type("line two")
    term.enter()
    term.wait(r"^default · claude-sonnet-4-6")
    assert user_text(upstream.generation_requests()[-1]) == "line one\nline two"


def test_a_2000_line_paste_arrives_intact(term: Term, upstream: Upstream) -> None:
    block = "".join(f"{i:04d}\tdef f_{i}(x):  return x * {i}  # ‘quotes’ {{braces}} $HOME `tick` \\n\n"
                    for i in range(2000))
    term.paste("    indented first line\n" + block)
    term.wait(r"→ default \(claude-sonnet-4-6\)", timeout=30)
    term.enter()
    term.wait(r"^default · claude-sonnet-4-6", timeout=30)
    assert user_text(upstream.generation_requests()[-1]) == "    indented first line\n" + block  # every character


def test_a_paste_after_a_route_prefix_goes_to_that_route(term: Term, upstream: Upstream) -> None:
    block = "".join(f"line {i}: {{'k': [{i}, \"v\"]}}\n" for i in range(2000))
    term.type("/architect ")
    term.paste(block)
    term.wait(r"→ architect \(claude-opus-4-7\)", timeout=30)
    term.enter()
    term.wait(r"^architect · claude-opus-4-7", timeout=30)
    assert user_text(upstream.generation_requests()[-1]) == block.strip()  # the router strips a prefixed body


# ---- hot reload ------------------------------------------------------------------------------------


def test_routes_yaml_edits_apply_before_the_next_prompt(term: Term, upstream: Upstream, config: Path) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("architect: {provider: up, model: claude-opus-4-7",
                                   "architect: {provider: up, model: claude-haiku-4-5"), encoding="utf-8")
    ask(term, "/architect after the edit")
    assert upstream.generation_requests()[-1].model == "claude-haiku-4-5"
    assert re.search(r"reloaded .*routes\.yaml: 6 routes, 5 rules", term.history())
    config.write_text(text.replace("rules:", "rulez:"), encoding="utf-8")
    term.type("/architect with a broken file")
    term.enter()
    term.wait(r"routes.yaml not reloaded, the last good config stays in use", where="history")
    term.wait(r"unknown key 'rulez'", where="history")
    term.ready()
    assert upstream.generation_requests()[-1].model == "claude-haiku-4-5"  # the last good config
    config.write_text(text, encoding="utf-8")
    ask(term, "/architect fixed again")
    assert upstream.generation_requests()[-1].model == "claude-opus-4-7"


# ---- Claude Code: the session is resumed, Ctrl-C kills it -------------------------------------------


def claude_term(tmp_path: Path, upstream: Upstream, extra: str = "") -> Term:
    """The shell with the default route on the real Claude Code (skipped when it is not installed)."""
    if shutil.which("claude") is None:
        pytest.skip(reason="`claude` not installed (npm install -g @anthropic-ai/claude-code)")
    config = tmp_path / "routes.yaml"
    config.write_text(CONFIG.format(url=upstream.url, dead=dead_port()).replace(
        "default:   {provider: up, model: claude-sonnet-4-6, description: everyday work}",
        "default:   {provider: up, model: claude-sonnet-4-6, via: claude-code, timeout_s: 120" + extra + "}"),
        encoding="utf-8")
    t = Term(tmp_path, config)
    t.ready()
    return t


def test_claude_code_session_is_resumed(tmp_path: Path, upstream: Upstream) -> None:
    t = claude_term(tmp_path, upstream)
    try:
        ask(t, "first claude prompt", summary=r"^default · claude-sonnet-4-6 .*\d\.\ds$")
        n = len(upstream.generation_requests())
        ask(t, "second claude prompt", summary=r"^default · claude-sonnet-4-6 .*\d\.\ds$")
        main = [r for r in upstream.generation_requests()[n:] if "second claude prompt" in json.dumps(r.json)]
        assert main, "the second prompt never reached the upstream"
        assert "first claude prompt" in json.dumps(main[-1].json["messages"])  # resumed: the first turn is there
    finally:
        t.close()


def test_ctrl_c_kills_claude_code_and_the_session_goes_on(tmp_path: Path, upstream: Upstream) -> None:
    marker = f"ROUTESH_SHELL_TEST_{os.getpid()}_{time.monotonic_ns()}"
    t = claude_term(tmp_path, upstream, extra=f", env: {{{marker}: '1'}}")
    try:
        upstream.script(slow_first_byte(60), path="/v1/messages")
        t.type("hang in claude")
        t.enter()
        deadline = time.monotonic() + 30
        while not any("hang in claude" in json.dumps(r.json) for r in upstream.generation_requests()):
            assert time.monotonic() < deadline, "claude never sent the prompt"
            time.sleep(0.1)
        assert processes_with_marker(marker)
        t.key("C-c")
        t.wait(r"· cancelled$")
        t.ready()
        assert wait_no_marker(marker, timeout=10) == []  # claude's whole process group is gone
        upstream.clear()
        ask(t, "after the cancel", summary=r"^default · claude-sonnet-4-6 .*\d\.\ds$")
    finally:
        t.close()
