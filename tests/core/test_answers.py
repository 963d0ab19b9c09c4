"""Answers you can find again: the ledger keeps prompt and answer, `log --show`, `-c`/`--cid`, the shell's /history.

The one-shot runs as a user runs it (the installed `routesh` against the test upstream); rows the
tests need but cannot make by hand quickly (an ambiguous id prefix) are written with Ledger.record.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time

import pytest
from clirun import routesh
from test_cli import KEY, upstream_config
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.core.answers import ANSWER_CAP, capped
from routesh.core.events import AttemptRecord
from routesh.core.paths import ledger_file
from routesh.usage.ledger import Ledger
from routesh.usage.ledger_schema import MIGRATIONS

ENV = {"UP_KEY": KEY}
GH_TOKEN = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


def texts(req) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(role, text) of every message a request carried."""
    out = []
    for m in req.json["messages"]:
        c = m["content"]
        out.append((m["role"], c if isinstance(c, str) else "".join(b.get("text", "") for b in c)))
    return out


def rows(*cols: str) -> list[tuple]:  # type: ignore[type-arg]
    with sqlite3.connect(ledger_file()) as db:
        return db.execute(f"SELECT {', '.join(cols)} FROM attempts ORDER BY id").fetchall()


def seed(rid: str, *, profile: str = "personal", session: str | None = "conv0001", prompt: str | None = "q",
         answer: str | None = "a", ts: float | None = None, status: str = "ok", via: str = "api") -> None:
    """One attempt written straight into the ledger (for ids the test must choose)."""
    with Ledger(ledger_file()) as led:
        assert led.record(AttemptRecord(
            ts=ts or time.time(), request_id=rid, attempt=1, profile=profile, route="default", provider="up",
            model="claude-sonnet-4-6", via=via, status=status, cost_usd=0.001, prompt=prompt,  # type: ignore[arg-type]
            session_id=session, answer=answer))


# --- kept and shown ------------------------------------------------------------------------------

def test_the_answer_is_kept_redacted_and_log_show_prints_it(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.configure(text=f"Use the token {GH_TOKEN} here.\nSecond line.")
    p = routesh("--config", str(cfg), "how do I push?", env=ENV)
    assert p.returncode == 0, p.stderr
    [(rid, answer, prompt, session)] = rows("request_id", "answer", "prompt", "session_id")
    assert prompt == "how do I push?" and session
    assert GH_TOKEN not in answer and "[REDACTED:github-token]" in answer and answer.endswith("Second line.")

    shown = routesh("log", "--show", rid[:5])
    assert shown.returncode == 0, shown.stderr
    assert rid in shown.stdout and f"conversation {session}" in shown.stdout
    body = shown.stdout.split("── prompt\n", 1)[1]
    assert body.startswith("how do I push?\n\n── answer\n") and "[REDACTED:github-token] here.\nSecond line." in body
    d = json.loads(routesh("log", "--show", rid[:5], "--json").stdout)
    assert (d["request_id"], d["prompt"], d["answer"], d["conversation"]) == (rid, "how do I push?", answer, session)
    assert d["status"] == "ok" and d["attempts"] == 1 and d["cost_usd"] > 0


def test_log_show_names_unknown_and_ambiguous_ids():
    assert routesh("log", "--show", "abc").returncode == 2  # no ledger at all
    seed("abc1000000000000")
    seed("abc2000000000000")
    seed("ffff000000000000")
    p = routesh("log", "--show", "abc")
    assert p.returncode == 2 and "ambiguous" in p.stderr and "abc1000000000000" in p.stderr
    assert "abc2000000000000" in p.stderr and "more characters" in p.stderr
    p = routesh("log", "--show", "0123")
    assert p.returncode == 2 and "no request '0123'" in p.stderr and "routesh log" in p.stderr
    assert routesh("log", "--show", "abc2").stdout.startswith("request abc2000000000000 ")


def test_a_private_profile_keeps_neither_prompt_nor_answer_and_cannot_continue(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path, "  private: {log_prompts: false}\n")
    p = routesh("--config", str(cfg), "--profile", "private", "a private question", env=ENV)
    assert p.returncode == 0, p.stderr
    [(rid, prompt, answer)] = rows("request_id", "prompt", "answer")
    assert prompt is None and answer is None
    shown = routesh("log", "--show", rid)
    assert shown.returncode == 0 and "neither prompt nor answer kept" in shown.stdout and "log_prompts: false" in \
        shown.stdout and "a private question" not in shown.stdout
    for flag in (["-c"], ["--cid", rid]):
        p = routesh("--config", str(cfg), "--profile", "private", *flag, "go on", env=ENV)
        assert p.returncode == 2 and "log_prompts: false" in p.stderr and "keeps neither" in p.stderr
    assert len(upstream.generation_requests()) == 1  # nothing sent by the refused continuations


# --- -c / --cid -----------------------------------------------------------------------------------

def test_continue_sends_the_earlier_turns_and_stays_in_the_conversation(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.configure(text="first answer")
    assert routesh("--config", str(cfg), "first question", env=ENV).returncode == 0
    upstream.configure(text="second answer")
    p = routesh("--config", str(cfg), "-c", "second question", env=ENV)
    assert p.returncode == 0, p.stderr
    assert texts(upstream.generation_requests()[-1]) == [
        ("user", "first question"), ("assistant", "first answer"), ("user", "second question")]
    sessions = {r[0] for r in rows("session_id")}
    assert len(sessions) == 1

    dry = routesh("--config", str(cfg), "--dry-run", "--continue", "third", env=ENV)
    cid = sessions.pop()
    assert dry.returncode == 0 and f"continues conversation {cid}: 2 earlier turn(s)" in dry.stdout
    d = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "--cid", cid[:6], "third", env=ENV).stdout)
    assert d["conversation"] == {"id": cid, "turns": 2}
    assert d["estimate"]["parts"]["history"] > 0
    assert d["estimated_input_tokens"] == d["estimate"]["parts"]["history"] + d["estimate"]["parts"]["prompt"]

    assert routesh("--config", str(cfg), "a new one", env=ENV).returncode == 0  # a plain one-shot starts afresh
    assert texts(upstream.generation_requests()[-1]) == [("user", "a new one")]
    p = routesh("--config", str(cfg), "--cid", cid[:6], "back to the first", env=ENV)
    assert p.returncode == 0, p.stderr
    assert [t for _, t in texts(upstream.generation_requests()[-1])] == [
        "first question", "first answer", "second question", "second answer", "back to the first"]
    assert rows("session_id")[-1][0] == cid


def test_history_counts_toward_min_tokens_rules(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("""
providers: {a: {type: anthropic}}
routes:
  default: {provider: a, model: claude-sonnet-4-6}
  big: {provider: a, model: claude-sonnet-4-6}
rules:
  - {min_tokens: 2000, route: big}
""")
    seed("1111000000000000", session="longconv", answer="word " * 3000)
    seed("1112000000000000", session="longconv", answer="cut off mid", status="partial")  # not a turn
    plain = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "short").stdout)
    assert plain["route"] == "default" and plain["conversation"] is None
    cont = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "-c", "short").stdout)
    assert cont["route"] == "big" and cont["conversation"] == {"id": "longconv", "turns": 1}
    assert cont["estimated_input_tokens"] >= 2000


def test_continue_bad_input_is_named(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("""
providers: {a: {type: anthropic}}
routes: {default: {provider: a, model: claude-sonnet-4-6}}
profiles: {personal: {}, work: {}}
""")
    run = lambda *a: routesh("--config", str(cfg), "--dry-run", *a)  # noqa: E731
    p = run("-c", "go on")
    assert p.returncode == 2 and "usage ledger is empty" in p.stderr and "without -c" in p.stderr
    seed("2222000000000000", profile="work", session="workconv")
    p = run("-c", "go on")  # the ledger has only the work profile's conversation
    assert p.returncode == 2 and "profile 'personal' has no kept answer yet" in p.stderr
    p = run("--cid", "workc", "go on")
    assert p.returncode == 2 and "belongs to profile 'work'" in p.stderr and "--profile work" in p.stderr
    assert run("--profile", "work", "--cid", "workc", "go on").returncode == 0
    p = run("--cid", "nope", "go on")
    assert p.returncode == 2 and "no conversation 'nope'" in p.stderr
    seed("3333000000000000", session="workcon2", profile="work")
    p = run("--profile", "work", "--cid", "workc", "go on")
    assert p.returncode == 2 and "ambiguous" in p.stderr
    p = run("-c", "--cid", "workconv", "go on")
    assert p.returncode == 2 and "use one of them" in p.stderr


# --- the ledger --------------------------------------------------------------------------------------

def test_answers_are_capped():
    assert capped("short") == "short"
    long = "x" * (ANSWER_CAP + 10)
    kept = capped(long)
    assert kept.startswith("x" * ANSWER_CAP) and kept.endswith("[… 10 more characters not stored]")


def test_migration_2_reaches_files_migrated_with_gaps(tmp_path):
    """A file a build with migrations 1 and 3 made (another branch's) still gets 2, and keeps its rows."""
    path = tmp_path / "usage.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL)")
    for sql in MIGRATIONS[0][2]:
        db.execute(sql)
    db.execute("ALTER TABLE attempts ADD COLUMN other_branch TEXT")
    db.executemany("INSERT INTO schema_migrations VALUES (?, ?, 0)", [(1, "one"), (3, "three")])
    db.execute("INSERT INTO attempts (ts, request_id, attempt, profile, route, provider, model, via, status) "
               "VALUES (1, 'old', 1, 'p', 'r', 'a', 'm', 'api', 'ok')")
    db.commit()
    db.close()
    with Ledger(path) as led:
        assert led.record(AttemptRecord(ts=2, request_id="new", attempt=1, profile="p", route="r", provider="a",
                                        model="m", via="api", status="ok", answer="kept"))
        assert led.count() == 2
    with sqlite3.connect(path) as db:
        assert {r[0] for r in db.execute("SELECT version FROM schema_migrations")} == {3} | {m[0] for m in MIGRATIONS}
        assert db.execute("SELECT answer FROM attempts WHERE request_id = 'new'").fetchone() == ("kept",)


# --- the shell's /history ----------------------------------------------------------------------------

def test_shell_history_lists_and_shows_exchanges(tmp_path, monkeypatch):
    from test_shell_units import CONFIG, Lines

    from routesh.core.context import build
    from routesh.core.errors import UserError
    from routesh.shell.repl import Shell

    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("SHELL_UNIT_KEY", "k")
    sh = Shell(build(str(cfg), None), argparse.Namespace(config=str(cfg), profile=None, route=None, tag=None),
               Lines())  # type: ignore[arg-type]
    sh.handle("/history")
    assert "no exchange in profile personal yet" in sh.out.text()  # type: ignore[attr-defined]
    now = time.time()
    for i in range(25):
        seed(f"{i:04d}aaaa00000000", prompt=f"question {i}\nmore", answer=f"answer {i}", ts=now - 100 + i)
    seed("9999bbbb00000000", profile="work-approved", prompt=None, answer=None, ts=now)
    sh.out = Lines()  # type: ignore[assignment]
    sh.handle("/history")
    listed = [t for t, style in sh.out.lines if style != "dim"]  # type: ignore[attr-defined]
    assert len(listed) == 20
    assert listed[0].split()[0] == "6" and "question 5" in listed[0] and listed[-1].split()[0] == "25"
    assert "default" in listed[-1] and "$0.0010" in listed[-1] and "question 24" in listed[-1]
    assert "more" not in listed[-1]  # the first line of the prompt only
    sh.out = Lines()  # type: ignore[assignment]
    sh.handle("/history 3")
    text = sh.out.text()  # type: ignore[attr-defined]
    assert "request 0002aaaa00000000" in text and "question 2\nmore" in text and "answer 2" in text
    with pytest.raises(UserError, match="no exchange 26: profile personal has 25"):
        sh.handle("/history 26")
    with pytest.raises(UserError, match="belongs to profile work-approved"):
        sh.handle("/history 9999bb")


def test_claude_codes_gateway_requests_are_shown_but_never_continued():
    seed("7777000000000000", session="cc-session", prompt="tool loop turn", answer=None, via="gateway")
    shown = routesh("log", "--show", "7777")
    assert shown.returncode == 0 and "tool loop turn" in shown.stdout and "keep their prompt only" in shown.stdout
    p = routesh("--dry-run", "-c", "go on")
    assert p.returncode == 2 and "no kept answer yet" in p.stderr
    p = routesh("--dry-run", "--cid", "cc-sess", "go on")
    assert p.returncode == 2 and "no conversation 'cc-sess'" in p.stderr
