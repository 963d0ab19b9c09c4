"""Guards before sending (secrets, budgets) and the ledger rows a real run leaves, against the test upstream."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid

import pytest
from clirun import ROUTESH
from clirun import routesh as run_routesh
from upstream import Upstream, UsageSpec, slow_stream, upstream_fixture  # noqa: F401 - fixture

from routesh.core.events import AttemptRecord
from routesh.core.paths import ledger_file
from routesh.usage.ledger import Ledger

KEY = "sk-test-guard-SECRET-0000"
AWS = "AKIA" + "IOSFODNN7EXAMPLQ"  # built at run time so the repository holds no key-shaped literal


def routesh(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_routesh(*args, stdin=stdin, env={"UP_KEY": KEY, **(env or {})})


def config(up: Upstream, tmp_path, profiles: str) -> str:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-opus-4-7, retries: 0}}
  quick: {{provider: up, model: claude-haiku-4-5, retries: 0}}
profiles:
{profiles}
""")
    return str(cfg)


def spend(profile: str, usd: float, ago_s: float = 60) -> None:
    with Ledger(ledger_file()) as ledger:
        assert ledger.record(AttemptRecord(ts=time.time() - ago_s, request_id=uuid.uuid4().hex[:16], attempt=1,
                                           profile=profile, route="default", provider="up", model="claude-opus-4-7",
                                           via="api", status="ok", cost_usd=usd))


def test_secret_blocked_before_sending(upstream, tmp_path):
    cfg = config(upstream, tmp_path, "  work: {on_secret: block}")
    p = routesh("--config", cfg, "--profile", "work", stdin=f"export AWS_ACCESS_KEY_ID={AWS}\nwhy does deploy fail")
    assert p.returncode == 3 and "aws-access-key (line 1)" in p.stderr
    assert AWS not in p.stdout + p.stderr
    assert upstream.generation_requests() == []
    [row] = json.loads(routesh("log", "--json").stdout)
    assert row["status"] == "refused" and AWS not in json.dumps(row)


def test_secret_redacted_reaches_upstream_as_placeholder(upstream, tmp_path):
    cfg = config(upstream, tmp_path, "  personal: {on_secret: redact}")
    p = routesh("--config", cfg, stdin=f"key={AWS} is it valid?")
    assert p.returncode == 0 and "secret redacted" in p.stderr
    [req] = upstream.generation_requests()
    body = json.dumps(req.json)
    assert AWS not in body and "[REDACTED:aws-access-key]" in body


def test_budget_block_says_spent_and_reset(upstream, tmp_path):
    cfg = config(upstream, tmp_path, "  personal: {budget: {daily_usd: 1.0}}")
    spend("personal", 1.25)
    d = json.loads(routesh("--config", cfg, "--dry-run", "--json", "hi").stdout)
    assert d["budget"]["over"] is True and "$1.25 of $1.00 spent today" in d["budget"]["status"]
    p = routesh("--config", cfg, "hi")
    assert p.returncode == 3 and "$1.25 of $1.00 spent today" in p.stderr and "resets at midnight" in p.stderr
    assert upstream.generation_requests() == []


def test_budget_downgrade_uses_the_cheaper_route(upstream, tmp_path):
    cfg = config(upstream, tmp_path, "  personal: {budget: {monthly_usd: 2, on_exceed: downgrade, downgrade: quick}}")
    spend("personal", 0.5)
    d = json.loads(routesh("--config", cfg, "--dry-run", "--json", "hi").stdout)
    assert d["budget"] == {"over": False, "status": "$1.50 of $2.00 left this month", "downgrade": None}
    spend("personal", 1.6)
    p = routesh("--config", cfg, "hi")
    assert p.returncode == 0 and "downgraded to route quick" in p.stderr
    assert [r.model for r in upstream.generation_requests()] == ["claude-haiku-4-5"]


def test_ledger_rows_carry_tokens_cost_rule_and_hash(upstream, tmp_path):
    upstream.configure(usage=UsageSpec(input_tokens=1000, output_tokens=200, cache_read_input_tokens=5000,
                                       cache_creation_input_tokens=100))
    cfg = config(upstream, tmp_path, "  personal: {log_prompts: false}")
    assert routesh("--config", cfg, "secret plans for q3").returncode == 0
    [row] = json.loads(routesh("log", "--json").stdout)
    assert (row["input_tokens"], row["output_tokens"], row["cache_read_tokens"], row["cache_write_tokens"]) == \
        (1000, 200, 5000, 100)
    expected = (1000 * 5 + 200 * 25 + 5000 * 0.5 + 100 * 6.25) / 1e6  # opus: $5/$25, cache read 10%, write 125%
    assert row["cost_usd"] == pytest.approx(expected)
    assert len(row["prompt_sha256"]) == 64 and row["prompt_chars"] == len("secret plans for q3")
    assert row["ttft_ms"] is not None and row["latency_ms"] >= row["ttft_ms"]
    import sqlite3

    with sqlite3.connect(ledger_file()) as db:
        assert db.execute("select prompt from attempts").fetchall() == [(None,)]  # log_prompts: false


def test_ctrl_c_mid_stream_records_a_cancelled_attempt(upstream, tmp_path):
    import signal

    upstream.configure(text="word " * 200)
    upstream.script(slow_stream(0.05))
    cfg = config(upstream, tmp_path, "  personal: {}")
    proc = subprocess.Popen([ROUTESH, "--config", cfg, "hi"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, UP_KEY=KEY))
    first = proc.stdout.read(5)  # type: ignore[union-attr]
    assert first
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    [row] = json.loads(routesh("log", "--json").stdout)
    assert row["status"] == "cancelled"
