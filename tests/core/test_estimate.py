"""The pre-send estimate counts everything that will be sent, prices it, and says "≤" only for a true bound."""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import pytest
from clirun import routesh

from routesh.core.catalog import CLAUDE_CODE_OVERHEAD, Catalog
from routesh.core.context import build
from routesh.core.estimate import (
    PER_MESSAGE,
    Estimate,
    brief,
    estimate,
    explain,
    installed_claude_version,
    message_tokens,
)
from routesh.core.events import Message
from routesh.core.tokens import estimate_tokens
from routesh.shell.repl import Shell
from routesh.shell.turn import Conversation

SONNET = Catalog().get("claude-sonnet-4-6")
PASTE = "def handler(event):\n    return compute(event['payload'], retries=3)\n" * 1900  # ~129 KB
VERSION = next(iter(CLAUDE_CODE_OVERHEAD))

CONFIG = """\
version: 1
default_route: default
providers:
  up: {{type: anthropic, base_url: "http://127.0.0.1:9", key_env: EST_KEY}}
routes:
  default:   {{provider: up, model: claude-sonnet-4-6, max_output_tokens: 1000, system: "You are terse."}}
  architect: {{provider: up, model: claude-opus-4-7}}
  agent:     {{provider: up, model: claude-sonnet-4-6, via: claude-code}}
rules:
  - {{prefix: /architect, route: architect}}
  - {{prefix: /agent, route: agent}}
claude:
  path: {claude}
profiles:
  personal: {{}}
"""


def fake_claude(directory: Path, version: str) -> Path:
    """A `claude` whose package.json says `version` (nothing is ever run)."""
    (directory / "bin").mkdir(parents=True)
    (directory / "package.json").write_text(json.dumps({"name": "@anthropic-ai/claude-code", "version": version}))
    exe = directory / "bin" / "claude"
    exe.write_text("#!/bin/sh\nexit 1\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(CONFIG.format(claude=fake_claude(tmp_path / "cc", VERSION)), encoding="utf-8")
    return path


# ---- the pure estimate --------------------------------------------------------------------------------------

def test_every_part_is_counted_and_priced() -> None:
    history = (Message("user", PASTE), Message("assistant", "Looks fine."))
    e = estimate(SONNET, prompt="ok so what now", history=history, system="Be terse.", max_output_tokens=2000)
    assert e.prompt_tokens == estimate_tokens("ok so what now") + PER_MESSAGE
    assert e.history_tokens == message_tokens(history) > estimate_tokens(PASTE) > 20_000
    assert e.system_tokens == estimate_tokens("Be terse.")
    assert e.input_tokens == e.prompt_tokens + e.history_tokens + e.system_tokens
    assert e.input_usd == pytest.approx(e.input_tokens * 3.0 / 1e6)
    assert e.max_usd == pytest.approx(e.input_usd * 1.15 + 2000 * 15.0 / 1e6)  # input's high side, a full answer
    line = brief(e)
    assert line.startswith(f"~{e.input_tokens / 1000:.1f}k tok") and "≤ $" in line


def test_claude_code_adds_its_measured_overhead_and_is_never_a_bound() -> None:
    e = estimate(SONNET, prompt="say hi", via="claude-code", claude_version=VERSION)
    assert e.overhead_tokens == CLAUDE_CODE_OVERHEAD[VERSION] and e.input_tokens > 20_000
    assert e.max_usd is None and e.max_output_tokens is None  # tool calls and further turns are not bounded
    assert e.input_usd == pytest.approx(e.input_tokens * 3.0 / 1e6)
    line = brief(e)
    assert "≤" not in line and line.endswith("in only") and "Claude Code" in line
    assert "≤" not in explain(e) and "not bounded" in explain(e)


@pytest.mark.parametrize("version", [None, "0.0.1"])
def test_unknown_claude_code_overhead_says_unknown(version: str | None) -> None:
    e = estimate(SONNET, prompt="say hi", via="claude-code", claude_version=version)
    assert not e.complete and e.input_usd is None and e.max_usd is None and e.note
    assert "unknown" in brief(e) and "≤" not in brief(e) and "$" not in brief(e)
    assert e.to_json()["complete"] is False and e.to_json()["parts"]["claude_code_overhead"] is None


def test_no_price_is_unknown_not_free() -> None:
    e = estimate(None, prompt="hi")
    assert e.input_usd is None and e.max_usd is None and "$?" in brief(e) and "≤" not in brief(e)


def test_installed_version_is_read_from_package_json(tmp_path: Path) -> None:
    exe = fake_claude(tmp_path / "cc", "9.8.7")
    link = tmp_path / "claude-link"
    os.symlink(exe, link)  # npm installs a symlink on PATH
    assert installed_claude_version(str(link)) == "9.8.7"
    assert installed_claude_version(str(tmp_path / "missing")) is None


# ---- where the estimate is shown -----------------------------------------------------------------------------

def test_shell_estimate_counts_the_conversation(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: after a 129 KB paste, `/architect ok so what now` is not '~3 tok'."""
    monkeypatch.setenv("EST_KEY", "k")
    ctx = build(str(cfg), None)
    sh = Shell(ctx, argparse.Namespace(config=str(cfg), profile=None, route=None, tag=None))
    sh.convo = Conversation(history=(Message("user", PASTE), Message("assistant", "Noted.")))
    plan = sh.plan("/architect ok so what now")
    assert plan.estimate is not None and plan.estimate.input_tokens > estimate_tokens(PASTE)
    assert plan.estimated_cost_usd == pytest.approx(plan.estimate.input_tokens * 5.0 / 1e6)
    toolbar = sh.preview("/architect ok so what now").cost
    assert toolbar == brief(plan.estimate) and "k tok" in toolbar
    agent = sh.plan("/agent say hi").estimate
    assert agent is not None and agent.overhead_tokens == CLAUDE_CODE_OVERHEAD[VERSION]
    assert agent.history_tokens == plan.estimate.history_tokens  # claude resends the session too


def test_dry_run_text_and_json(cfg: Path) -> None:
    p = routesh("--config", str(cfg), "--dry-run", "--json", "hello there", env={"EST_KEY": "k"})
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    e = d["estimate"]
    assert d["estimated_input_tokens"] == e["input_tokens"] == sum(v or 0 for v in e["parts"].values())
    assert e["parts"]["system"] == estimate_tokens("You are terse.") and e["bound"] is True
    assert e["max_output_tokens"] == 1000
    assert d["estimated_cost_usd"] == pytest.approx(e["input_tokens"] * 3.0 / 1e6)
    assert e["max_cost_usd"] == pytest.approx(d["estimated_cost_usd"] * 1.15 + 1000 * 15.0 / 1e6)

    p = routesh("--config", str(cfg), "--dry-run", "--json", "/agent say hi", env={"EST_KEY": "k"})
    e = json.loads(p.stdout)["estimate"]
    assert e["parts"]["claude_code_overhead"] == CLAUDE_CODE_OVERHEAD[VERSION] and e["bound"] is False

    p = routesh("--config", str(cfg), "--dry-run", "/agent say hi", env={"EST_KEY": "k"})
    head = p.stdout.splitlines()[0]
    assert "in only" in head and "≤" not in head


def test_dry_run_with_an_unmeasured_claude_says_unknown(tmp_path: Path) -> None:
    path = tmp_path / "routes.yaml"
    path.write_text(CONFIG.format(claude=fake_claude(tmp_path / "cc", "0.0.1")), encoding="utf-8")
    p = routesh("--config", str(path), "--dry-run", "--json", "/agent say hi", env={"EST_KEY": "k"})
    d = json.loads(p.stdout)
    assert d["estimated_cost_usd"] is None and d["estimate"]["complete"] is False
    assert "0.0.1" in d["cost_note"]
    p = routesh("--config", str(path), "--dry-run", "/agent say hi", env={"EST_KEY": "k"})
    assert "cost unknown" in p.stdout and "≤" not in p.stdout.splitlines()[0]


def test_estimate_json_is_stable() -> None:
    e = Estimate(10, 20, 3, 0, 0.001, 100, 0.002)
    assert e.to_json() == {"input_tokens": 33, "complete": True,
                           "parts": {"prompt": 10, "history": 20, "system": 3, "claude_code_overhead": 0},
                           "input_cost_usd": 0.001, "max_output_tokens": 100, "max_cost_usd": 0.002, "bound": True,
                           "note": None}
