"""`stats --outcomes` numbers from a ledger built by hand: sessions, success, re-asks, rates and savings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from clirun import routesh

from routesh.core.events import AttemptRecord
from routesh.core.outcome_signals import sketch
from routesh.usage import ledger as ledger_mod
from routesh.usage.ledger import Ledger
from routesh.usage.outcomes import MIN_SESSIONS, outcomes_report

T0 = 1_736_510_400.0


def rec(rid: str, ts: float, route: str, *, session: str | None, prompt: str | None = None, turn: int = 0,
        status: str = "ok", cost: float | None = 0.01, base: float | None = 0.02, attempt: int = 1,
        **signals: object) -> AttemptRecord:
    used = cost is not None
    return AttemptRecord(
        ts=ts, request_id=rid, attempt=attempt, profile="personal", route=route, provider="p", model="m", via="api",
        status=status, input_tokens=100 if used else None, output_tokens=10 if used else None, cost_usd=cost,  # type: ignore[arg-type]
        latency_ms=1000.0, session_id=session, prompt_sha256=None if prompt is None else f"sha-{prompt}",
        baseline_cost_usd=base, turn=turn if turn else (None if prompt is None else 0),
        prompt_sketch=sketch(prompt) if (turn and prompt) else None, **signals)  # type: ignore[arg-type]


ROWS = [
    # s1: a rejected edit → not successful
    rec("r1", T0, "cheap", session="s1", prompt="fix the bug in the parser", turn=1),
    rec("r2", T0 + 10, "cheap", session="s1", prompt="fix the bug in the parser", tool_calls=2, tools="Edit=1,Read=1",
        edits=1, rejected_edits=1, failed_tool_calls=0),
    # s2: the same prompt again (punctuation and case aside) a minute later, on the strong route → a re-ask on cheap
    rec("r3", T0 + 100, "cheap", session="s2", prompt="add tests for x", turn=1),
    rec("r4", T0 + 160, "strong", session="s2", prompt="Add tests, for X!", turn=1),
    # s3: marked /miss
    rec("r5", T0 + 200, "cheap", session="s3", prompt="rename the module", turn=1),
    # s4: one failed tool call of three: still successful
    rec("r6", T0 + 300, "cheap", session="s4", prompt="run the suite", turn=1, tool_calls=3, tools="Bash=3",
        failed_tool_calls=1, edits=0, rejected_edits=0),
    # s5: the same prompt 20 minutes later: outside the window, no re-ask
    rec("r7", T0 + 400, "cheap", session="s5", prompt="hello there", turn=1),
    rec("r8", T0 + 1600, "cheap", session="s5", prompt="hello there", turn=1),
    # s7: the first try failed (nothing answered), so asking again is a retry, not a re-ask
    rec("r10", T0 + 2000, "cheap", session="s7", prompt="explain this", turn=1, status="error", cost=None, base=None),
    rec("r11", T0 + 2005, "cheap", session="s7", prompt="explain this", turn=1),
    # a one-shot (no session): a session of its own, dearer than the baseline
    rec("r9", T0 + 3000, "strong", session=None, prompt="design it", turn=1, cost=0.05, base=0.02),
]


@pytest.fixture
def ledger() -> Ledger:
    from routesh.core.paths import ledger_file

    led = Ledger(ledger_file())
    for r in ROWS:
        assert led.record(r)
    led.mark_miss("r5")
    return led


def test_outcomes_by_hand(ledger: Ledger) -> None:
    rep = outcomes_report(ledger, since_ts=None, until_ts=None)
    assert rep["min_sessions"] == MIN_SESSIONS == 5
    assert set(rep["definitions"]) >= {"successful_session", "failed_tool_call", "rejected_edit", "re_ask"}
    assert rep["period"] == {"since": None, "until": None}
    routes = {r["route"]: r for r in rep["routes"]}
    assert [r["route"] for r in rep["routes"]] == ["cheap", "strong"]  # by cost, cheap's 8 x 1 cent first
    cheap, strong, total = routes["cheap"], routes["strong"], rep["total"]
    assert cheap["sessions"] == 6 and cheap["requests"] == 9
    assert cheap["successful_sessions"] == 3  # s4, s5, s7
    assert cheap["cost_usd"] == pytest.approx(0.08) and cheap["baseline_cost_usd"] == pytest.approx(0.16)
    assert cheap["savings_usd"] == pytest.approx(0.08)
    assert cheap["cost_per_session"] == pytest.approx(0.08 / 6, abs=1e-6)
    assert cheap["cost_per_successful_session"] == pytest.approx(0.08 / 3, abs=1e-6)
    assert cheap["tool_calls"] == 5 and cheap["tool_calls_by_name"] == {"Bash": 3, "Edit": 1, "Read": 1}
    assert cheap["failed_tool_calls"] == 1 and cheap["failed_tool_call_rate"] == 0.2
    assert cheap["edits"] == 1 and cheap["rejected_edits"] == 1 and cheap["rejected_edit_rate"] == 1.0
    assert cheap["turns"] == 8 and cheap["re_asks"] == 1 and cheap["re_ask_rate"] == 0.125
    assert cheap["misses"] == 1
    assert cheap["turns_per_session"] == pytest.approx(8 / 6, abs=1e-3)
    assert cheap["wall_s_per_session"] == pytest.approx((11 + 61 + 1 + 1 + 1201 + 6) / 6, abs=0.1)
    # two sessions: counts yes, rates and per-session figures no
    assert strong["sessions"] == 2 and strong["successful_sessions"] == 1 and strong["re_asks"] == 0
    assert strong["savings_usd"] == pytest.approx(-0.02)  # routing cost more here
    for name in ("cost_per_session", "cost_per_successful_session", "failed_tool_call_rate", "rejected_edit_rate",
                 "re_ask_rate", "turns_per_session", "wall_s_per_session"):
        assert strong[name] is None, name
    assert total["route"] is None and total["sessions"] == 7 and total["successful_sessions"] == 4
    assert total["cost_usd"] == pytest.approx(0.14) and total["savings_usd"] == pytest.approx(0.06)
    assert total["requests"] == 11


def test_outcomes_filters_and_compare_order(ledger: Ledger) -> None:
    rep = outcomes_report(ledger, since_ts=T0 + 150, until_ts=T0 + 2500, routes=["strong", "cheap", "nowhere"])
    assert [r["route"] for r in rep["routes"]] == ["strong", "cheap", "nowhere"]
    strong, cheap, nowhere = rep["routes"]
    assert strong["requests"] == 1 and nowhere["requests"] == 0 and nowhere["sessions"] == 0
    assert cheap["requests"] == 6  # r5..r8, r10, r11
    assert rep["period"]["since"].startswith("2025-01-10T12:02:30")
    assert outcomes_report(ledger, since_ts=None, until_ts=None, profile="work")["total"]["requests"] == 0


def test_retries_and_fallbacks_count_for_the_routed_request(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "u.db")
    led.record(rec("a", T0, "cheap", session="s", prompt="p", turn=1, status="error", cost=0.001, base=0.002,
                   tool_calls=1, tools="Read=1"))
    led.record(rec("a", T0 + 1, "strong", session="s", prompt="p", attempt=2, cost=0.01, base=0.002))
    rep = outcomes_report(led, since_ts=None, until_ts=None)
    assert [r["route"] for r in rep["routes"]] == ["cheap"]
    assert rep["routes"][0]["cost_usd"] == pytest.approx(0.011) and rep["routes"][0]["requests"] == 1
    assert rep["routes"][0]["tool_calls"] == 1


def test_migration_4_on_an_old_ledger_and_gaps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", ledger_mod.MIGRATIONS[:1])
    with Ledger(path) as old:
        assert old.schema_version() == 1
    with sqlite3.connect(path) as conn:  # a row written by a routesh before migration 4
        conn.execute("INSERT INTO attempts (ts, request_id, attempt, profile, route, provider, model, via, status, "
                     "input_tokens, output_tokens, cost_usd) VALUES (?, 'old', 1, 'personal', 'cheap', 'p', 'm', "
                     "'api', 'ok', 10, 10, 0.5)", (T0,))
    monkeypatch.undo()
    real = ledger_mod.MIGRATIONS
    # a later number applied first (another branch's ledger), then the lower ones must still be applied
    later = (99, "a later branch's", ("ALTER TABLE attempts ADD COLUMN later_col TEXT",))
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", (real[0], later))
    with Ledger(path) as led:
        assert led.schema_version() == 99
    monkeypatch.setattr(ledger_mod, "MIGRATIONS", tuple(sorted((*real, later))))
    with Ledger(path) as led:
        assert led.record(rec("new", T0 + 1, "cheap", session="s", prompt="q", turn=1))
        rep = outcomes_report(led, since_ts=None, until_ts=None)
    versions = [v for (v,) in sqlite3.connect(path).execute("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == sorted({m[0] for m in real} | {99}) and 4 in versions
    assert rep["total"]["requests"] == 2 and rep["total"]["cost_usd"] == pytest.approx(0.51)
    assert rep["total"]["baseline_cost_usd"] == pytest.approx(0.02)  # the old row has no baseline price
    assert rep["total"]["savings_usd"] == pytest.approx(0.01)  # only rows priced both ways


def test_log_json_has_the_baseline_price(ledger: Ledger) -> None:
    rows = ledger.recent(50)
    by_id = {r["request_id"]: r for r in rows}
    assert by_id["r9"]["baseline_cost_usd"] == 0.02 and by_id["r10"]["baseline_cost_usd"] is None


def test_cli_outcomes_json_and_table(ledger: Ledger) -> None:
    ledger.close()
    out = routesh("stats", "--outcomes", "--json", "--since", "3000d")
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert rep["total"]["sessions"] == 7 and rep["baseline"]["route"] == "default"
    assert rep["baseline"]["model"]
    table = routesh("stats", "--outcomes", "--since", "3000d")
    assert table.returncode == 0, table.stderr
    text = table.stdout
    assert "12.5% of 8" in text  # cheap's re-ask rate with its sample
    assert "successful:" in text and "fewer than 5" in text
    cmp = routesh("stats", "--compare", "cheap", "strong", "--json", "--since", "3000d")
    assert [r["route"] for r in json.loads(cmp.stdout)["routes"]] == ["cheap", "strong"]
    bad = routesh("stats", "--compare", "cheep", "strong")
    assert bad.returncode == 2 and "did you mean 'cheap'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) <= 2


def test_cli_stats_says_when_routing_cost_more(tmp_path: Path) -> None:
    from routesh.core.paths import ledger_file

    with Ledger(ledger_file()) as led:
        led.record(rec("x", T0, "strong", session=None, cost=0.05, base=0.02))
        led.record(rec("y", T0 + 1, "cheap", session=None, cost=0.01, base=0.02))
    out = routesh("stats", "--since", "3000d")
    assert out.returncode == 0, out.stderr
    assert "cost $0.02 MORE than sending everything to the baseline" in out.stdout
    js = json.loads(routesh("stats", "--json", "--since", "3000d").stdout)["savings"]
    assert js["routing_cost_more"] is True and js["saved_usd"] == pytest.approx(-0.02)
    assert {r["route"]: r["saved_usd"] for r in js["by_route"]} == pytest.approx({"strong": -0.03, "cheap": 0.01})


def test_one_shots_and_shell_conversations_are_sessions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real runs against the test upstream: a one-shot, then two prompts of one shell conversation, then /new."""
    from datetime import datetime

    from upstream import Upstream

    from routesh.core.context import build
    from routesh.core.paths import ledger_file
    from routesh.core.plan import make_plan
    from routesh.pipeline.prepare import budget_spent, lookup
    from routesh.pipeline.runner import Runner
    from routesh.shell.turn import Conversation

    with Upstream() as up:
        cfg = tmp_path / "routes.yaml"
        cfg.write_text(f'providers:\n  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}\nroutes:\n'
                       "  default: {provider: up, model: claude-haiku-4-5}\n"
                       "  big: {provider: up, model: claude-opus-4-7}\nbaseline: {route: big}\n")
        monkeypatch.setenv("UP_KEY", "sk-test-outcomes-0000")
        assert routesh("--config", str(cfg), "fix the flaky test").returncode == 0
        ctx = build(str(cfg), None)
        runner = Runner(ctx, on_notice=lambda s: None)
        convo = Conversation()
        try:
            for text in ("fix the flaky test", "Fix the flaky test!"):
                plan = make_plan(ctx, text, datetime.now(), lookup, spent=budget_spent)
                runner.execute(plan, history=convo.history, conversation=convo.cid)
            assert Conversation().cid != convo.cid  # /new starts another session
        finally:
            runner.close()
    with Ledger(ledger_file()) as led:
        rows = led.recent(10)
        rep = outcomes_report(led, since_ts=None, until_ts=None, config=ctx.config, catalog=ctx.catalog)
    one_shot, first, again = reversed(rows)
    assert one_shot["session_id"] != convo.cid and first["session_id"] == again["session_id"] == convo.cid
    for r in rows:  # haiku's tokens priced on the baseline route's opus: dearer, same counts
        assert r["baseline_cost_usd"] > r["cost_usd"] > 0
    assert rep["baseline"] == {"route": "big", "model": "claude-opus-4-7"}
    total = rep["total"]
    assert total["sessions"] == 2 and total["turns"] == 3 and total["re_asks"] == 1  # the shell's repeat
    assert total["successful_sessions"] == 2  # asked again on the same route: counted, not a failure
    assert total["savings_usd"] > 0
