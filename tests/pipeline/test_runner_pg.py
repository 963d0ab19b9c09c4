"""A real run against the test upstream with routes.yaml's `ledger:` on PostgreSQL: the row lands in the shared
database (not the SQLite file), and a budget counts what the database holds, spent by another machine."""

from __future__ import annotations

import json
import time

from clirun import routesh
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.core.paths import ledger_file
from routesh.usage.ledger import Ledger

KEY = "sk-test-pg-SECRET-0000"


def config(up: Upstream, tmp_path, pg_url: str, profiles: str) -> str:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
ledger: "{pg_url}"
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-opus-4-7, retries: 0}}
profiles:
{profiles}
""")
    return str(cfg)


def test_a_run_is_recorded_in_the_shared_database(upstream, tmp_path, pg_url):  # type: ignore[no-untyped-def]
    cfg = config(upstream, tmp_path, pg_url, "  personal: {}")
    p = routesh("--config", cfg, "hello there", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    with Ledger(pg_url) as led:
        [row] = led.recent()
    assert (row["status"], row["route"], row["model"]) == ("ok", "default", "claude-opus-4-7")
    assert not ledger_file().exists()  # nothing went to the single-user file
    [logged] = json.loads(routesh("--config", cfg, "log", "--json").stdout)
    assert logged["request_id"] == row["request_id"]


def test_a_budget_counts_what_others_spent(upstream, tmp_path, pg_url):  # type: ignore[no-untyped-def]
    cfg = config(upstream, tmp_path, pg_url, "  personal: {budget: {daily_usd: 1.0}}")
    with Ledger(pg_url) as led:  # another replica or teammate's process spent it
        led.record(AttemptRecord(ts=time.time() - 60, request_id="elsewhere", attempt=1, profile="personal",
                                 route="default", provider="up", model="claude-opus-4-7", via="api", status="ok",
                                 cost_usd=1.25))
    p = routesh("--config", cfg, "hi", env={"UP_KEY": KEY})
    assert p.returncode == 3 and "$1.25 of $1.00 spent today" in p.stderr, p.stderr
    assert upstream.generation_requests() == []
