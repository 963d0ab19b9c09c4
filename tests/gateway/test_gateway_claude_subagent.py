"""The real claude calls its Agent tool against the test upstream: the subagent's turns reach the subagent route
by their x-claude-code-agent-id header alone (only the `routesh serve` exports set, no model names), and the
main turn's follow-up with the agent's result stays main (issue 12, item 4; the replayed recording is in
test_gateway_fidelity.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from test_gateway_claude import TOKEN, Serve, _env, fresh, serve  # noqa: F401 - fixtures
from upstream import Fault, claude_exe_fixture  # noqa: F401 - fixture

AGENT_CALL = json.dumps({"description": "Greet", "prompt": "Say hello in one word.",
                         "subagent_type": "general-purpose"})


# The test upstream scripts a tool call on the Anthropic wire only; the classification is the same on both
# (test_gateway_claude.py drives a subagent through OpenAI routes too), so only the Anthropic serve runs here.
@pytest.mark.parametrize("serve", ["anth"], indirect=True)
def test_a_real_agent_tool_call_runs_its_subagent_on_the_subagent_route(
        claude_exe: str, fresh: Serve, tmp_path: Path) -> None:  # noqa: F811
    main = fresh.model("main")
    fresh.up.script(Fault(tool_use=("Agent", AGENT_CALL), model=main), path=None)
    env = _env(tmp_path) | {"ANTHROPIC_BASE_URL": fresh.url, "ANTHROPIC_AUTH_TOKEN": TOKEN}  # no model names
    r = subprocess.run([claude_exe, "-p", "Use the Agent tool to greet.", "--output-format", "json"], env=env,
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    sent = [(q.json["model"], q.header("x-claude-code-agent-id")) for q in fresh.up.generation_requests()]
    subagent = [model for model, agent in sent if agent]
    assert subagent and set(subagent) == {fresh.model("sub")}, sent  # every subagent turn on the subagent route
    assert [model for model, agent in sent if not agent] == [main, main], sent  # the call and its follow-up
    rows = [r for r in fresh.rows() if r["model"] == fresh.model("sub")]
    assert rows and all(json.loads(r["extra"])["class"] == "subagent" for r in rows)
