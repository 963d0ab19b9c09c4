"""Fidelity to what the real Claude Code 2.1.197 sends, driven through `routesh code` / `routesh serve` offline.

Each test reproduces one defect found by running the real `claude` through routesh (issue 12): a proxy in the
environment, think, web search, subagents, prefixes after local commands, generated commands offered as
skills, permanent errors, retries, thinking blocks and translated streams.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_gateway_claude import CONFIG, _env
from test_gateway_proxy import TunnelProxy
from upstream import Upstream, claude_exe_fixture, self_signed_tls  # noqa: F401 - fixture

TOKEN_MARK = "ANTHROPIC_AUTH_TOKEN"


def routesh_code(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "routesh", "code", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_routesh_code_reaches_its_gateway_directly_while_the_gateway_uses_the_users_proxy(
        claude_exe: str, tmp_path: Path) -> None:
    """HTTP_PROXY and HTTPS_PROXY set, NO_PROXY naming something else: Claude Code → gateway stays on loopback
    (the proxy never sees the token or the prompt), gateway → https provider goes through the proxy's tunnel."""
    ctx, ca = self_signed_tls(tmp_path)
    with Upstream(tls=ctx) as up, TunnelProxy() as proxy:
        cfg = tmp_path / "routes.yaml"
        cfg.write_text(CONFIG.format(url=up.url, kind="anth", prefix="claude"))
        env = _env(tmp_path) | {"ROUTESH_CONFIG": str(cfg), "SSL_CERT_FILE": str(ca), "HTTP_PROXY": proxy.url,
                                "HTTPS_PROXY": proxy.url, "NO_PROXY": "intranet.example",
                                "CLAUDE_CODE_MAX_RETRIES": "0"}
        r = routesh_code(env, tmp_path, "-p", "a secret plan", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["result"] == "Hello from claude-main-model."
        port = up.url.rsplit(":", 1)[1]
        assert proxy.seen, "the gateway did not use the proxy for the provider"
        assert all(h.startswith(f"CONNECT 127.0.0.1:{port} ".encode()) for h in proxy.seen), proxy.seen
        assert b"a secret plan" not in b"".join(proxy.tunnelled) + b"".join(proxy.seen)


def test_generated_commands_are_not_offered_to_the_model_as_skills(claude_exe: str, tmp_path: Path) -> None:
    """routesh's /architect is typed by the person; the model must not see it in the Skill tool's list."""
    with Upstream() as up:
        up.configure(text="Hello from {model}.", repeat=1)
        cfg = tmp_path / "routes.yaml"
        cfg.write_text(CONFIG.format(url=up.url, kind="anth", prefix="claude"))
        env = _env(tmp_path) | {"ROUTESH_CONFIG": str(cfg)}
        r = routesh_code(env, tmp_path, "-p", "say hi", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        (req,) = up.generation_requests()
        text = req.body.decode()
        at = text.index("skills are available for use with the Skill tool")
        end = re.compile(r'(?<!\\)"').search(text, at)  # the end of that JSON string
        assert end is not None
        skills = text[at:end.end()]
        assert "update-config" in skills and "architect" not in skills
        # and typing it still routes
        up.clear()
        r = routesh_code(env, tmp_path, "-p", "/architect design a cache", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        assert [q.json["model"] for q in up.generation_requests()] == ["claude-architect-model"]


PERMANENT = """
version: 1
default_route: main
default_profile: personal
providers:
  nokey: {{type: anthropic, base_url: "{url}", key_env: CC_TEST_NO_SUCH_KEY}}
  subs:  {{type: anthropic, base_url: "{url}", auth: subscription}}
routes:
  main: {{provider: {provider}, model: claude-main-model{via}}}
profiles:
  personal: {{}}
"""


@pytest.mark.parametrize(("provider", "fix"), [("nokey", "routesh keys set nokey"), ("subs", "auth: subscription")])
def test_a_route_that_cannot_work_is_one_attempt_with_the_fix_in_log_and_ledger(
        claude_exe: str, tmp_path: Path, provider: str, fix: str) -> None:
    """Claude Code retried a missing key's 401 at least 9 times and a subscription route's 502 for 181 s;
    with x-should-retry: false it asks once."""
    with Upstream() as up:
        cfg = tmp_path / "routes.yaml"
        via = ", via: claude-code" if provider == "subs" else ""
        cfg.write_text(PERMANENT.format(url=up.url, provider=provider, via=via))
        log = tmp_path / "gateway.log"
        env = _env(tmp_path) | {"ROUTESH_CONFIG": str(cfg)}
        env.pop("CC_TEST_NO_SUCH_KEY", None)
        t = time.monotonic()
        r = routesh_code(env, tmp_path, "-v", f"--gateway-log={log}", "-p", "hi", "--output-format", "json")
        assert r.returncode != 0
        assert time.monotonic() - t < 60
        assert fix in json.loads(r.stdout)["result"]
        assert up.generation_requests() == []
        assert fix in log.read_text()
        db = sqlite3.connect(tmp_path / "data" / "routesh" / "usage.db")
        rows = db.execute("SELECT status, error FROM attempts").fetchall()
        db.close()
        assert len(rows) == 1 and rows[0][0] == "error" and fix in rows[0][1]


def test_model_haiku_main_turns_are_main_on_the_small_model(claude_exe: str, tmp_path: Path) -> None:
    """`--model haiku` (as `/model haiku`) makes main turns ask for ANTHROPIC_DEFAULT_HAIKU_MODEL, routesh's
    background name: they go to the route of that model, labelled main, not background."""
    with Upstream() as up:
        up.configure(text="Hello from {model}.", repeat=1)
        cfg = tmp_path / "routes.yaml"
        cfg.write_text(CONFIG.format(url=up.url, kind="anth", prefix="claude"))
        env = _env(tmp_path) | {"ROUTESH_CONFIG": str(cfg)}
        r = routesh_code(env, tmp_path, "--model", "haiku", "-p", "hi", "--output-format", "json")
        assert r.returncode == 0, r.stderr
        assert [q.json["model"] for q in up.generation_requests()] == ["claude-bg-model"]
        db = sqlite3.connect(tmp_path / "data" / "routesh" / "usage.db")
        [(route, extra)] = db.execute("SELECT route, extra FROM attempts").fetchall()
        db.close()
        assert route == "bg" and json.loads(extra)["class"] == "main"
