"""The gateway records a Claude Code session's signals and baseline price, once per request, on real HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_gateway_server import GW, msg
from test_gateway_server import gw as gw  # noqa: F401 - fixture
from test_signals import SAID_NO, results, user, uses
from upstream import server_error
from upstream import upstream_fixture as upstream_fixture  # noqa: F401 - fixture

from routesh.usage.ledger import Ledger
from routesh.usage.outcomes import outcomes_report

SID = "0b6f1f8e-1111-4222-8333-944444444444"


def body(messages: list[dict[str, Any]], *, model: str = "routesh-main", meta: bool = False) -> dict[str, Any]:
    b = msg(model=model)
    b["messages"] = messages
    if meta:  # what claude 2.1.197 sends: metadata.user_id is a JSON string
        b["metadata"] = {"user_id": json.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": SID})}
    return b


def test_a_session_through_the_gateway(gw: GW) -> None:
    hdr = {"x-claude-code-session-id": SID}
    convo = [user("fix the parser")]
    assert gw.post(body(convo), headers=hdr)[0] == 200
    convo += [uses(("t1", "Read"), ("t2", "Edit")), results(("t1", False, "text"), ("t2", True, SAID_NO))]
    assert gw.post(body(convo), headers=hdr)[0] == 200
    assert gw.post(body([user("a title please")], model="routesh-background"), headers=hdr)[0] == 200
    convo += [uses(("t3", "Bash")), results(("t3", True, "exit 1"))]
    assert gw.post(body(convo, meta=True))[0] == 200  # no header: the session id comes from metadata.user_id
    convo += [{"role": "assistant", "content": [{"type": "text", "text": "done"}]}, user("Fix the parser!")]
    gw.up.script(*[server_error() for _ in range(3)], model="claude-sonnet-4-6")  # a retry and a fallback-free fail
    gw.post(body(convo), headers=hdr)
    rows = gw.rows()
    assert {r["session_id"] for r in rows} == {SID}
    first = [r for r in rows if r["tool_calls"] is not None]
    assert len(first) == len({r["request_id"] for r in rows}) == 5  # signals on one row per request
    assert [(r["tool_calls"], r["edits"], r["rejected_edits"], r["failed_tool_calls"], r["turn"]) for r in first] == [
        (0, 0, 0, 0, 1), (2, 1, 1, 0, 0), (0, 0, 0, 0, 0), (1, 0, 0, 1, 0), (0, 0, 0, 0, 1)]
    assert first[1]["tools"] == "Edit=1,Read=1" and first[3]["tools"] == "Bash=1"
    assert first[0]["prompt_sketch"] == first[4]["prompt_sketch"] is not None
    ok = [r for r in rows if r["status"] == "ok" and r["route"] == "default"]
    for r in ok:  # the default route is the baseline: the same model, so the same price
        assert r["baseline_cost_usd"] == pytest.approx(r["cost_usd"]) and r["cost_usd"] > 0
    bg = next(r for r in rows if r["route"] == "bg")
    assert bg["baseline_cost_usd"] is not None  # gpt-bg has no price, but the baseline model has one
    with Ledger(gw.ledger_path) as led:
        rep = outcomes_report(led, since_ts=None, until_ts=None)
    total = rep["total"]
    assert total["sessions"] == 1 and total["tool_calls"] == 3 and total["rejected_edits"] == 1
    assert total["failed_tool_calls"] == 1 and total["turns"] == 2
    assert total["re_asks"] == 1 and total["successful_sessions"] == 0


def test_signals_off_records_none(gw: GW) -> None:
    gw.gateway.signals = False
    assert gw.post(body([user("x")]))[0] == 200
    (row,) = gw.rows()
    assert row["tool_calls"] is None and row["turn"] is None and row["baseline_cost_usd"] is not None
