"""The real claude through `routesh code`: a denied edit and a failed tool call land in the ledger once each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_gateway_claude import code_env as code_env  # noqa: F401 - fixture
from upstream import Fault, Upstream
from upstream import claude_exe_fixture as claude_exe_fixture  # noqa: F401 - fixture

from routesh.usage.ledger import Ledger
from routesh.usage.outcomes import outcomes_report


def test_claude_p_denied_write_is_a_rejected_edit(claude_exe: str,
                                                   code_env: tuple[Upstream, dict[str, str], Path]) -> None:
    up, env, home = code_env
    target = home / "x.txt"
    # The first answer asks to Write; claude -p has no permission for it and sends back its denial.
    up.script(Fault(tool_use=("Write", json.dumps({"file_path": str(target), "content": "hi"}))))
    r = subprocess.run([sys.executable, "-m", "routesh", "code", "-p", "write hi to x.txt"], env=env, cwd=home,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert not target.exists()
    reqs = up.generation_requests()
    denial = reqs[-1].json["messages"]
    results = [b for m in denial if isinstance(m.get("content"), list) for b in m["content"]
               if b.get("type") == "tool_result"]
    assert results and results[-1]["is_error"] is True
    assert "but you haven't granted it yet" in str(results[-1]["content"])  # the text routesh recognises
    with Ledger(home / "data" / "routesh" / "usage.db") as led:
        rows = led._query("SELECT session_id, tool_calls, edits, rejected_edits, failed_tool_calls, tools, turn "
                          "FROM attempts ORDER BY id")
        rep = outcomes_report(led, since_ts=None, until_ts=None)
    sessions = {row[0] for row in rows}
    assert len(sessions) == 1 and None not in sessions  # Claude Code's session id, on every row
    assert sum(row[1] for row in rows) == 1 and sum(row[2] for row in rows) == 1
    assert sum(row[3] for row in rows) == 1 and sum(row[4] for row in rows) == 0
    assert [row[5] for row in rows if row[5]] == ["Write=1"]
    assert rep["total"]["rejected_edits"] == 1 and rep["total"]["successful_sessions"] == 0
    assert rep["total"]["turns"] >= 1
