"""A budget that cannot be checked refuses, at every front door: corrupt or unreadable ledger, a data dir where no
ledger can be created. Nothing reaches the upstream; the one-shot exits 3, the gateway answers Anthropic's 403."""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path

import pytest
from clirun import routesh
from upstream import Upstream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.context import build
from routesh.core.paths import ledger_file
from routesh.gateway.server import Gateway, LedgerWriter, RunningGateway, bind

KEY = "sk-test-budget-0000000000"
TOKEN = "budget-gateway-token"


def config(up: Upstream, tmp_path: Path) -> Path:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: RS_BUDGET_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, retries: 0}}
profiles:
  personal: {{budget: {{daily_usd: 5}}}}
  free: {{}}
""")
    return cfg


def corrupt_ledger() -> Path:
    path = ledger_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a SQLite database" * 100)
    return path


def uncreatable_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A data dir that cannot hold a ledger (under a regular file: refused even to root, unlike chmod)."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "share"))


def post(gateway: Gateway) -> tuple[int, dict]:
    with RunningGateway(gateway, bind("127.0.0.1", 0)) as running:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=30)
        body = {"model": "routesh-main", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}
        conn.request("POST", "/v1/messages", json.dumps(body),
                     {"content-type": "application/json", "x-api-key": TOKEN})
        resp = conn.getresponse()
        out = resp.status, json.loads(resp.read())
        conn.close()
    return out


def gateway_for(cfg: Path, profile: str, ledger_path: str | None) -> tuple[Gateway, LedgerWriter]:
    ctx = build(str(cfg), profile)
    ledger = LedgerWriter(ledger_path, ctx.profile, log=lambda s: None)
    return Gateway(ctx, TOKEN, ledger=ledger, key_fn=lambda p, prov: KEY, log=lambda s: None), ledger


@pytest.mark.parametrize("broken", ["corrupt", "uncreatable", "a directory"])
def test_gateway_refuses_a_budget_it_cannot_check(upstream: Upstream, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    cfg = config(upstream, tmp_path)
    if broken == "corrupt":
        path = str(corrupt_ledger())
    elif broken == "uncreatable":
        uncreatable_data_dir(monkeypatch, tmp_path)
        path = str(ledger_file())
    else:
        path = str(tmp_path / "ledger-is-a-dir")
        os.mkdir(path)
    gateway, ledger = gateway_for(cfg, "personal", path)
    try:
        status, body = post(gateway)
    finally:
        ledger.close()
    assert status == 403 and body["type"] == "error" and body["error"]["type"] == "permission_error"
    assert "budget" in body["error"]["message"] and "ledger" in body["error"]["message"]
    assert upstream.generation_requests() == []


def test_gateway_without_a_budget_still_answers_with_a_broken_ledger(upstream: Upstream, tmp_path: Path) -> None:
    gateway, ledger = gateway_for(config(upstream, tmp_path), "free", str(corrupt_ledger()))
    try:
        status, _ = post(gateway)
    finally:
        ledger.close()
    assert status == 200 and len(upstream.generation_requests()) == 1


def test_gateway_with_a_working_ledger_answers_and_counts(upstream: Upstream, tmp_path: Path) -> None:
    gateway, ledger = gateway_for(config(upstream, tmp_path), "personal", str(tmp_path / "usage.db"))
    try:
        status, _ = post(gateway)
    finally:
        ledger.close()
    assert status == 200 and ledger.problem is None


@pytest.mark.parametrize("broken", ["corrupt", "uncreatable"])
def test_one_shot_refuses_a_budget_it_cannot_check(upstream: Upstream, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, broken: str) -> None:
    if broken == "corrupt":
        corrupt_ledger()
    else:
        uncreatable_data_dir(monkeypatch, tmp_path)
    cfg = str(config(upstream, tmp_path))
    p = routesh("--config", cfg, "hi", env={"RS_BUDGET_KEY": KEY})
    assert p.returncode == 3 and "budget" in p.stderr and "ledger" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) <= 3
    dry = routesh("--config", cfg, "--dry-run", "hi", env={"RS_BUDGET_KEY": KEY})
    assert dry.returncode == 3
    assert upstream.generation_requests() == []
    ok = routesh("--config", cfg, "--profile", "free", "hi", env={"RS_BUDGET_KEY": KEY})
    assert ok.returncode == 0  # no budget: a broken ledger costs no answer


def test_runner_refuses_when_the_ledger_breaks_after_planning(upstream: Upstream, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Planned with a healthy (absent) ledger, then the data dir became unusable: the runner's own check refuses."""
    from routesh.core.errors import PolicyRefusal
    from routesh.pipeline.prepare import plan_for
    from routesh.pipeline.runner import Runner

    monkeypatch.setenv("RS_BUDGET_KEY", KEY)
    ctx = build(str(config(upstream, tmp_path)), "personal")
    plan = plan_for(ctx, "hi", None)
    assert plan.verdict.allowed
    uncreatable_data_dir(monkeypatch, tmp_path)
    runner = Runner(ctx, on_notice=lambda s: None)
    with pytest.raises(PolicyRefusal, match="budget"):
        runner.execute(plan)
    assert upstream.generation_requests() == []
