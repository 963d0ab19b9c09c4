"""A spent budget's downgrade is what the decision line and the dry-run show first, with where it came from."""

from __future__ import annotations

import json
import time

from clirun import routesh
from test_cli import KEY, upstream_config
from upstream import upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.core.paths import ledger_file
from routesh.usage.ledger import Ledger

BUDGET = "  spender: {budget: {daily_usd: 0.01, on_exceed: downgrade, downgrade: cheap}}\n"


def spend(usd: float) -> None:
    with Ledger(ledger_file()) as led:
        led.record(AttemptRecord(ts=time.time(), request_id="spent0000000000", attempt=1, profile="spender",
                                 route="default", provider="up", model="claude-sonnet-4-6", via="api", status="ok",
                                 cost_usd=usd))


def test_the_downgraded_route_comes_first(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path, BUDGET)
    base = ("--config", str(cfg), "--profile", "spender")
    before = json.loads(routesh(*base, "--dry-run", "--json", "hello", env={"UP_KEY": KEY}).stdout)
    assert before["route"] == "default" and before["downgraded_from"] is None
    spend(0.05)
    d = json.loads(routesh(*base, "--dry-run", "--json", "hello", env={"UP_KEY": KEY}).stdout)
    assert (d["route"], d["downgraded_from"], d["model"], d["provider"]) == ("cheap", "default", "claude-haiku-4-5",
                                                                             "upo")
    p = routesh(*base, "--dry-run", "hello", env={"UP_KEY": KEY})
    first = p.stdout.splitlines()[0]
    assert first.startswith("→ cheap · upo/claude-haiku-4-5 · ")
    assert "downgraded from default: $0.05 of $0.01 spent today" in first
    p = routesh(*base, "hello", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("→ cheap · upo/claude-haiku-4-5 · ") and "downgraded from default" in p.stderr
    assert upstream.generation_requests()[-1].json["model"] == "claude-haiku-4-5"
