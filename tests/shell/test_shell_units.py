"""The shell's parts without a terminal: what the toolbar previews, how a line is dispatched, history
privacy, completion, hot reload and what is imported before the first prompt."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from routesh.core.context import build
from routesh.core.errors import UserError
from routesh.core.events import Usage
from routesh.engines.dispatch import Outcome
from routesh.shell.builtins import COMMANDS, profile_changes
from routesh.shell.line import ProfileAwareHistory, ShellCompleter, toolbar_fragments
from routesh.shell.repl import Shell, Sticky
from routesh.shell.turn import Conversation, failure_lines, summary_line

CONFIG = """\
version: 1
default_route: default
default_profile: personal
providers:
  up:    {type: anthropic, base_url: "http://127.0.0.1:9", key_env: SHELL_UNIT_KEY}
  other: {type: openai, base_url: "http://127.0.0.1:9/v1", key_env: SHELL_UNIT_OTHER}
routes:
  default:   {provider: up, model: sonnet, description: everyday work}
  architect: {provider: up, model: claude-opus-4-7, description: design and migrations}
  quick:     {provider: other, model: claude-haiku-4-5}
rules:
  - {prefix: /architect, route: architect}
  - {keywords: [fixture], route: quick}
profiles:
  personal: {}
  work-approved: {allow_providers: [up], log_prompts: false, on_secret: block}
"""


class Lines:
    """An Out that keeps what the shell said."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None]] = []
        self.console = None

    def line(self, text: str, style: str | None = None) -> None:
        self.lines.append((text, style))

    def note(self, text: str) -> None:
        self.line(text, "dim")

    def warn(self, text: str) -> None:
        self.line(text, "yellow")

    def error(self, text: str) -> None:
        self.line(text, "red")

    def text(self) -> str:
        return "\n".join(t for t, _ in self.lines)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def shell(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> Shell:
    """A shell whose sends are recorded instead of run."""
    monkeypatch.setenv("SHELL_UNIT_KEY", "k")
    ctx = build(str(cfg), None)
    sh = Shell(ctx, argparse.Namespace(config=str(cfg), profile=None, route=None, tag=None), Lines())  # type: ignore[arg-type]
    sh.sent = []  # type: ignore[attr-defined]
    monkeypatch.setattr(sh, "send", lambda text, ignore_sticky=False: sh.sent.append((text, ignore_sticky)))  # type: ignore[attr-defined]
    return sh


def said(sh: Shell) -> str:
    return sh.out.text()  # type: ignore[attr-defined]


# ---- the toolbar's preview comes from the router ----------------------------------------------


def test_preview_follows_the_rules_as_you_type(shell: Shell) -> None:
    assert shell.preview("hello").route == "default"
    assert shell.preview("hello").model == "claude-sonnet-4-6"  # the alias resolved
    assert shell.preview("/architect split it").route == "architect"
    assert shell.preview("update the fixture").route == "quick"
    assert shell.preview("/architect").note == "Enter makes /architect sticky (→ architect)"
    assert shell.preview("/archtect x").note == "unknown command /archtect (did you mean '/architect'?)"
    assert shell.preview("/cost").note.startswith("/cost: Show what this session")
    assert shell.preview("/usr/bin/env is broken").route == "default"  # a path, not a command


def test_preview_shows_sticky_and_refusal(shell: Shell) -> None:
    shell.ctx = shell.ctx.with_profile("work-approved")
    p = shell.preview("update the fixture")
    assert p.route == "quick" and p.refused and "allows only up" in p.refused
    shell.sticky = Sticky("architect", "/architect")
    p = shell.preview("update the fixture")
    assert (p.route, p.sticky, p.refused) == ("architect", "/architect", None)


def test_toolbar_fragments_say_everything_in_one_line(shell: Shell) -> None:
    shell.sticky = Sticky("architect", "/architect")
    text = "".join(t for _, t in toolbar_fragments(shell.preview("x"), shell.status()))
    assert text == (" profile personal │ → architect (claude-opus-4-7) · ~4 tok · <$0.0001 in · ≤ $0.20 │ "
                    "sticky /architect · /default ends │ session $0")


def test_preview_is_cheap_on_a_huge_buffer(shell: Shell) -> None:
    import time

    big = "def f(x):\n    return x\n" * 5000  # ~120 KB, a big paste
    start = time.perf_counter()
    for i in range(20):
        shell.preview(big + str(i))
    assert (time.perf_counter() - start) / 20 < 0.05  # per keystroke


# ---- dispatching a line ---------------------------------------------------------------------------


def test_commands_prefixes_and_typos(shell: Shell) -> None:
    assert shell.handle("   ") is True and shell.sent == []  # type: ignore[attr-defined]
    shell.handle("/architect")
    assert shell.sticky == Sticky("architect", "/architect")
    shell.handle("plain prompt")
    shell.handle("/default")
    assert shell.sticky is None
    shell.handle("/default send this by the rules")
    assert shell.sent == [("plain prompt", False), ("send this by the rules", True)]  # type: ignore[attr-defined]
    with pytest.raises(UserError, match=r"unknown command /archtect \(did you mean '/architect'\?\); nothing was sent"):
        shell.handle("/archtect do it")
    with pytest.raises(UserError, match=r"did you mean '/profile'"):
        shell.handle("/profil")
    assert shell.handle("/exit") is False and shell.handle("/quit") is False
    shell.handle(" /notacommand but a prompt")  # a leading space sends it as it is
    assert shell.sent[-1] == (" /notacommand but a prompt", False)  # type: ignore[attr-defined]


def test_plan_prefix_beats_sticky(shell: Shell) -> None:
    shell.sticky = Sticky("quick", "--route quick")
    assert shell.plan("hello").route == "quick"
    assert shell.plan("/architect hello").route == "architect"
    assert shell.plan("hello", ignore_sticky=True).route == "default"


def test_profile_switch_reports_changes_and_forgets_the_conversation(shell: Shell) -> None:
    shell.convo = Conversation(history=(), claude_session="abc")
    before = shell.convo.cid
    shell.handle("/profile work-approved")
    out = said(shell)
    assert "profile personal → work-approved" in out
    assert "providers allowed: any → up" in out
    assert "key up: env" in out
    assert "prompts logged and kept in history: no" in out
    assert "secrets in prompts: warn → block" in out
    assert shell.ctx.profile.name == "work-approved" and shell.convo == Conversation()
    assert shell.convo.cid != before  # a new conversation in the ledger too
    with pytest.raises(UserError, match="did you mean 'personal'"):
        shell.handle("/profile persona")


def test_profile_changes_names_the_fix_for_a_missing_key(shell: Shell, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHELL_UNIT_OTHER", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    lines = profile_changes(shell.ctx.with_profile("work-approved"), shell.ctx)
    assert any(line.startswith("  key other: MISSING") and "routesh keys set other --profile personal" in line
               for line in lines)


def test_every_command_has_help() -> None:
    for cmd in COMMANDS.values():
        assert cmd.help and cmd.help[0].isupper(), cmd.name


# ---- input ----------------------------------------------------------------------------------------


def test_history_file_skips_prompts_of_private_profiles(tmp_path: Path) -> None:
    keep = [True]
    h = ProfileAwareHistory(str(tmp_path / "history"), lambda: keep[0])
    h.append_string("personal prompt")
    keep[0] = False
    h.append_string("work secret prompt")
    assert "personal prompt" in (tmp_path / "history").read_text()
    assert "work secret" not in (tmp_path / "history").read_text()
    assert h.get_strings()[-1] == "work secret prompt"  # still reachable with Up in this session


def test_completer_offers_prefixes_commands_and_arguments(shell: Shell) -> None:
    c = ShellCompleter(shell)

    def complete(text: str) -> list[tuple[str, str]]:
        return [(x.text, x.display_meta_text) for x in c.get_completions(Document(text), CompleteEvent())]

    assert complete("/arc") == [("/architect", "design and migrations · architect → claude-opus-4-7")]
    assert [w for w, _ in complete("/")][:1] == ["/architect"] and ("/help", COMMANDS["/help"].help) in complete("/")
    assert complete("/profile w") == [("work-approved", "only up")]
    assert complete("hello /arc") == []
    assert complete("/architect " + "x\n" * 100000) == []  # a big paste after a prefix: nothing to do


# ---- answers ---------------------------------------------------------------------------------------


def test_conversation_and_summary_line() -> None:
    out = Outcome("r1", status="ok", text="the answer", route="architect", model="claude-opus-4-7",
                  usage=Usage(1200, 340, cache_read_tokens=100), cost_usd=0.0123, session_id="s-1")
    convo = Conversation().after("the question", out)
    assert [(m.role, m.content) for m in convo.history] == [("user", "the question"), ("assistant", "the answer")]
    assert convo.claude_session == "s-1" and convo.turns == 1
    assert summary_line(out, 2.34) == "architect · claude-opus-4-7 · 1.3k in / 340 out · $0.01 · 2.3s"
    failed = Outcome("r2", status="error", route="default", model="m", error="up/m: connection failed")
    assert summary_line(failed, 1.0) == "default · m · 1.0s · error"
    assert "failed: up/m: connection failed" in (failure_lines(failed) or "")
    assert failure_lines(out) is None


# ---- hot reload -----------------------------------------------------------------------------------


def test_reload_picks_up_edits_and_keeps_the_last_good_config(shell: Shell, cfg: Path) -> None:
    import os

    shell.handle("/architect")
    cfg.write_text(CONFIG.replace("model: claude-opus-4-7", "model: claude-haiku-4-5"), encoding="utf-8")
    os.utime(cfg, ns=(1, 1))  # a distinct mtime even on coarse clocks
    shell.reload()
    assert shell.preview("x").model == "claude-haiku-4-5" and shell.sticky is not None
    good = shell.ctx
    cfg.write_text(CONFIG.replace("rules:", "rulez:"), encoding="utf-8")
    shell.reload()
    assert shell.ctx is good
    assert "not reloaded, the last good config stays in use" in said(shell)
    shell.reload()  # the same broken file is reported once, not before every prompt
    assert said(shell).count("not reloaded") == 1
    cfg.write_text(CONFIG.replace("  architect:", "  arch:").replace("route: architect", "route: arch"),
                   encoding="utf-8")
    shell.reload()
    assert shell.sticky is None and "is no longer sticky" in said(shell)


# ---- start-up cost -------------------------------------------------------------------------------


def test_nothing_heavy_is_imported_before_the_first_prompt() -> None:
    code = ("import sys, routesh.shell.repl, routesh.shell.line, routesh.commands.oneshot;"
            "heavy = [m for m in ('rich', 'rich.markdown', 'anthropic', 'openai', 'pygments', 'keyring', 'sqlite3')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ---- failures never end the session -----------------------------------------------------------


def test_a_bug_is_one_line_without_its_message_and_the_session_goes_on(shell: Shell,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(text: str) -> bool:
        raise ValueError("the message might hold sk-secret")

    monkeypatch.setattr(shell, "handle", boom)
    assert shell.guarded("anything") is True
    out = said(shell)
    assert "internal error (ValueError" in out and "this is a bug" in out and "sk-secret" not in out

    def interrupted(text: str) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(shell, "handle", interrupted)
    assert shell.guarded("anything") is True and said(shell).endswith("interrupted")


def test_user_errors_are_shown_as_they_are(shell: Shell) -> None:
    assert shell.guarded("/why") is True
    assert "/why needs a prompt after it" in said(shell)
    assert shell.guarded("/miss") is True
    assert "no request in this session yet; send a prompt first" in said(shell)
    assert shell.guarded("/exit") is False


# ---- rough edges seen in a real terminal ------------------------------------------------------------


def test_toolbar_fits_the_width_and_keeps_the_session_cost(shell: Shell) -> None:
    from routesh.shell.line import Status

    shell.sticky = Sticky("architect", "/architect")
    status = Status("work-approved", "$12.3456", "claude-opus-4-7 · 12.3s")
    for width in (200, 100, 80, 60, 40):
        parts = toolbar_fragments(shell.preview("plan the migration"), status, width)
        text = "".join(t for _, t in parts)
        assert len(text) <= width or width < 50, (width, text)  # profile and cost stay whole even when narrower
        assert text.endswith("session $12.3456") or "session $12.3456 │ last" in text, text
        assert "profile work-approved" in text
    wide = "".join(t for _, t in toolbar_fragments(shell.preview("x"), status, 200))
    assert "last claude-opus-4-7 · 12.3s" in wide and "sticky /architect · /default ends" in wide


def test_a_prefix_added_to_routes_yaml_is_known_while_typing(shell: Shell, cfg: Path) -> None:
    import os

    assert "is not a route prefix or command" in shell.preview("/review this").note
    cfg.write_text(CONFIG.replace("rules:\n", "rules:\n  - {prefix: /review, route: quick}\n"), encoding="utf-8")
    os.utime(cfg, ns=(2, 2))
    assert shell.preview("/review this").route == "quick"  # before Enter: nothing reported yet
    assert "/review" in [w for w, _ in shell.words()]
    assert "reloaded" not in said(shell)
    shell.guarded("/reload")  # the edit is adopted and reported exactly once
    assert said(shell).count("reloaded") == 1
    shell.guarded("/reload")
    assert said(shell).count("reloaded") == 2  # an explicit /reload with nothing new still reads the file


def test_why_after_profile_names_the_switch(shell: Shell) -> None:
    shell.handle("/profile work-approved")
    assert shell.ctx.choice.why == "set by /profile"
    assert shell.plan("hello").profile_why == "set by /profile"


def test_miss_never_marks_an_earlier_sessions_request(shell: Shell, tmp_path: Path) -> None:
    from routesh.core.events import AttemptRecord
    from routesh.core.paths import ledger_file
    from routesh.usage.ledger import Ledger

    with Ledger(ledger_file()) as led:
        led.record(AttemptRecord(ts=1.0, request_id="old0000000000001", attempt=1, profile="personal",
                                 route="default", provider="up", model="m", via="api", status="ok"))
    assert shell.guarded("/miss") is True
    assert "no request in this session yet" in said(shell)
    with Ledger(ledger_file()) as led:
        assert led.recent(10)[0]["miss"] in (0, None, False)


def test_attachments_go_after_the_prompt_and_count(shell: Shell, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("text with ```` inside\n" + "word " * 2000, encoding="utf-8")
    shell.handle(f"/file {notes}")
    assert len(shell.attached) == 1
    plan = shell.plan("/architect review", attachments=tuple(shell.attached))
    assert plan.route == "architect"
    assert plan.send_text.startswith(f"review\n\n{notes}\n`````\ntext with ```` inside\n")
    assert plan.decision.estimated_input_tokens > 1000  # the file counts
    with pytest.raises(UserError, match="/file .*: no such file"):
        shell.handle(f"/file {tmp_path}/missing.txt")
    shell.handle("/drop")
    assert shell.attached == []


def test_claude_code_resumes_only_a_session_that_saw_every_turn() -> None:
    api = Outcome("r1", status="ok", text="a1", route="default", model="m")
    cc = Outcome("r2", status="ok", text="a2", route="agent", model="m", session_id="s-1")
    convo = Conversation().after("q1", api)
    assert convo.resumable is None
    convo = convo.after("q2", cc)
    assert convo.resumable == "s-1"
    convo = convo.after("q3", api)  # answered elsewhere: claude's session has not seen it
    assert convo.resumable is None and convo.claude_session == "s-1"
