"""`via: claude-code` routes run behind a private gateway: every request the real Claude Code makes is screened,
and Claude Code (with every tool it runs) holds a loopback token, never the provider key."""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh
from upstream import Fault, Upstream, claude_exe_fixture, upstream_fixture  # noqa: F401 - fixtures

from routesh.core.context import build
from routesh.gateway.pinned import credential_vars, pinned_context

KEY = "sk-ant-api03-pinned-" + "k" * 24


def github_token() -> str:
    """A fresh ghp_ token, built at run time so the repository holds none."""
    return "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))


def config(tmp_path: Path, up: Upstream, on_secret: str) -> Path:
    cfg = tmp_path / "routes.yaml"
    cfg.write_text(f"""
default_route: agent
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: RS_PINNED_KEY}}
  other: {{type: openai, base_url: "http://127.0.0.1:9/v1", key_env: RS_OTHER_KEY}}
routes:
  agent: {{provider: up, model: claude-sonnet-4-6, via: claude-code, timeout_s: 120, fallback: [api]}}
  api: {{provider: up, model: claude-haiku-4-5}}
profiles:
  work: {{on_secret: {on_secret}, allow_providers: [up]}}
""")
    return cfg


def bodies(up: Upstream) -> str:
    return "\n".join(json.dumps(r.json) for r in up.generation_requests())


def test_pinned_context_sends_everything_to_the_one_route(tmp_path: Path, upstream: Upstream) -> None:
    ctx = build(str(config(tmp_path, upstream, "block")), "work")
    pinned = pinned_context(ctx, "agent")
    assert list(pinned.config.routes) == ["agent"] and pinned.config.rules == ()
    r = pinned.config.routes["agent"]
    assert r.fallback == () and r.retries == 0 and pinned.config.code.default == "agent"
    assert pinned.profile.on_secret == "block" and pinned.profile.budget is None and pinned.loaded.path is None


def test_every_provider_key_variable_is_kept_from_claude(tmp_path: Path, upstream: Upstream,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_COPY_OF_THE_KEY", KEY)
    ctx = build(str(config(tmp_path, upstream, "block")), "work")
    assert set(credential_vars(ctx.config, KEY)) == {"RS_PINNED_KEY", "RS_OTHER_KEY", "SOME_COPY_OF_THE_KEY"}


def test_a_secret_in_a_file_claude_reads_is_not_sent(tmp_path: Path, upstream: Upstream, claude_exe: str) -> None:
    token = github_token()
    secret_file = Path.cwd() / "deploy.env"  # in the directory claude runs in: Read needs no permission there
    secret_file.write_text(f"GITHUB_TOKEN={token}\n")
    upstream.script(Fault(tool_use=("Read", json.dumps({"file_path": str(secret_file)}))))
    p = routesh("--config", str(config(tmp_path, upstream, "block")), "--profile", "work",
                "what is in deploy.env?", env={"RS_PINNED_KEY": KEY}, timeout=180)
    assert p.returncode == 3, p.stderr
    assert "refused" in p.stderr and "github" in p.stderr.lower()
    assert token not in p.stdout + p.stderr
    gens = upstream.generation_requests()
    assert gens, "claude never reached the upstream"
    assert token not in bodies(upstream)  # the turn carrying the file never left the gateway
    assert all(r.header("x-api-key") == KEY for r in gens)  # the gateway added the key, not Claude Code


def test_tools_claude_runs_never_see_the_provider_key(tmp_path: Path, upstream: Upstream, claude_exe: str) -> None:
    settings = Path.home() / ".claude" / "settings.json"  # the temp HOME's user settings: `env` may run unasked
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"permissions": {"allow": ["Bash(env)", "Bash(env:*)"]}}))
    upstream.script(Fault(tool_use=("Bash", json.dumps({"command": "env", "description": "show env"}))))
    cfg = config(tmp_path, upstream, "allow")
    p = subprocess.run([ROUTESH, "--config", str(cfg), "--profile", "work", "print the environment"],
                       input=b"", capture_output=True, timeout=180,
                       env={**os.environ, "RS_PINNED_KEY": KEY, "RS_OTHER_KEY": "sk-other-never-shown-1234567"})
    assert p.returncode == 0, p.stderr.decode()
    sent = bodies(upstream)
    gens = upstream.generation_requests()
    assert len(gens) >= 2, "the tool's output never came back"
    assert "PATH=" in sent  # the env listing did reach the upstream: the tool ran
    assert KEY not in sent and "sk-other-never-shown" not in sent
    assert "ANTHROPIC_API_KEY" not in sent and "RS_PINNED_KEY" not in sent
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:" in sent  # Claude Code was pointed at the loopback gateway
    assert all(r.header("x-api-key") == KEY for r in gens)


def test_routesh_code_gives_claude_no_provider_key_variable(tmp_path: Path, upstream: Upstream) -> None:
    from routesh.gateway.code import claude_env

    ctx = build(str(config(tmp_path, upstream, "block")), "work")
    base = {"PATH": "/bin", "RS_PINNED_KEY": KEY, "RS_OTHER_KEY": "sk-other", "ANTHROPIC_API_KEY": KEY}
    env = claude_env(base, "http://127.0.0.1:1", "tok", drop=credential_vars(ctx.config))
    assert KEY not in env.values() and "RS_OTHER_KEY" not in env and env["PATH"] == "/bin"
    assert env["ANTHROPIC_AUTH_TOKEN"] == "tok"
