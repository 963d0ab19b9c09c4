"""The gateway records in a PostgreSQL ledger: its writer's batches land there, and a budget is checked against it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_gateway_server import ANTH_KEY, CONFIG, OAI_KEY, TOKEN, msg
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.context import build
from routesh.gateway.server import Gateway, LedgerWriter, RunningGateway, bind
from routesh.usage.ledger import Ledger


def test_gateway_rows_land_in_the_shared_database(upstream: Upstream, tmp_path: Path, pg_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import http.client

    monkeypatch.setenv("GW_TEST_ANTH_KEY", ANTH_KEY)
    monkeypatch.setenv("GW_TEST_OAI_KEY", OAI_KEY)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(CONFIG.format(url=upstream.url))
    ctx = build(str(cfg), None)
    ledger = LedgerWriter(pg_url, ctx.profile, log=lambda s: None)
    running = RunningGateway(Gateway(ctx, TOKEN, ledger=ledger), bind("127.0.0.1", 0)).start()
    try:
        for i in range(3):
            c = http.client.HTTPConnection("127.0.0.1", running.port, timeout=20)
            c.request("POST", "/v1/messages", json.dumps(msg(f"hello {i}")).encode(),
                      {"content-type": "application/json", "anthropic-version": "2023-06-01",
                       "authorization": f"Bearer {TOKEN}", "x-claude-code-session-id": "sess-pg"})
            r = c.getresponse()
            assert r.status == 200, r.read()
            r.read()
            c.close()
    finally:
        running.stop()
        ledger.close()
    with Ledger(pg_url) as led:
        rows = led.recent(None)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert {r["session_id"] for r in rows} == {"sess-pg"} and all(r["cost_usd"] for r in rows)
