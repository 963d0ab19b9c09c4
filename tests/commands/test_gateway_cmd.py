"""The command line of `routesh serve`, `routesh code` and `routesh import-ccr`: flags, refusals, what is printed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from routesh.commands.cli import main
from routesh.core.configfile import parse
from routesh.gateway.code import claude_env, write_commands
from routesh.gateway.server import is_loopback

CCR = {
    "APIKEY": "gw-secret-APIKEY-771",
    "Providers": [
        {"name": "openrouter", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
         "api_key": "sk-or-v1-5f0c2a9e8d7b6a5f4e3d2c1b0a9f8e7d", "models": ["anthropic/claude-sonnet-4"]},
        {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions", "api_key": "$DEEPSEEK_KEY",
         "models": ["deepseek-chat", "deepseek-reasoner"]},
    ],
    "Router": {"default": "openrouter,anthropic/claude-sonnet-4", "background": "deepseek,deepseek-chat",
               "think": "deepseek,deepseek-reasoner", "longContextThreshold": 90000},
}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "routesh", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


# ------------------------------------------------------------------------------------------------ serve


def test_serve_refuses_a_remote_address_without_allow_remote() -> None:
    r = run("serve", "--host", "0.0.0.0", "--port", "0")
    assert r.returncode == 2
    assert "--allow-remote" in r.stderr and "Traceback" not in r.stderr


def test_serve_remote_needs_a_chosen_token() -> None:
    r = run("serve", "--host", "0.0.0.0", "--port", "0", "--allow-remote")
    assert r.returncode == 2 and "--token" in r.stderr
    r = run("serve", "--host", "0.0.0.0", "--port", "0", "--allow-remote", "--token", "short")
    assert r.returncode == 2 and "at least 16" in r.stderr


def test_serve_port_in_use() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = run("serve", "--port", str(port))
    assert r.returncode == 2 and "already in use" in r.stderr


def test_serve_prints_the_export_lines_with_a_generated_token() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "routesh", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()  # type: ignore[union-attr]
        token = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert base.startswith("export ANTHROPIC_BASE_URL=http://127.0.0.1:")
        assert token.startswith("export ANTHROPIC_AUTH_TOKEN=") and len(token.split("=", 1)[1]) >= 32
        assert "ANTHROPIC_API_KEY" not in base + token
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "gateway stopped" in err


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")


# ------------------------------------------------------------------------------------------------ code


def test_claude_env_points_at_the_gateway_and_clears_contradictions() -> None:
    base = {"PATH": "/bin", "ANTHROPIC_API_KEY": "sk-ant-x", "ANTHROPIC_BASE_URL": "https://elsewhere",
            "ANTHROPIC_MODEL": "claude-opus-4-7", "ANTHROPIC_CUSTOM_HEADERS": "x: y", "CLAUDE_CODE_USE_BEDROCK": "1",
            "CLAUDE_CODE_OAUTH_TOKEN": "oauth", "ANTHROPIC_BETAS": "b1", "CLAUDE_CODE_MAX_RETRIES": "3"}
    env = claude_env(base, "http://127.0.0.1:5555", "tok")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:5555" and env["ANTHROPIC_AUTH_TOKEN"] == "tok"
    assert "ANTHROPIC_API_KEY" not in env and "CLAUDE_CODE_USE_BEDROCK" not in env
    assert "CLAUDE_CODE_OAUTH_TOKEN" not in env and "ANTHROPIC_CUSTOM_HEADERS" not in env
    assert env["ANTHROPIC_MODEL"] == "routesh-main"
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "routesh-background"
    assert env["CLAUDE_CODE_SUBAGENT_MODEL"] == "routesh-subagent"
    assert env["ANTHROPIC_BETAS"] == "b1" and env["CLAUDE_CODE_MAX_RETRIES"] == "3" and env["PATH"] == "/bin"
    assert base["ANTHROPIC_API_KEY"] == "sk-ant-x"  # the caller's mapping is untouched


@pytest.mark.parametrize("theirs", [{}, {"NO_PROXY": "corp.example"}, {"no_proxy": "corp.example"},
                                    {"NO_PROXY": " "}])
def test_claude_env_keeps_loopback_out_of_the_users_proxy(theirs: dict[str, str]) -> None:
    """Claude Code honours HTTP(S)_PROXY for loopback too: the gateway must be in NO_PROXY whatever the user set."""
    base = {"HTTP_PROXY": "http://proxy:3128", "HTTPS_PROXY": "http://proxy:3128", **theirs}
    env = claude_env(base, "http://127.0.0.1:5555", "tok")
    for name in ("NO_PROXY", "no_proxy"):
        entries = env[name].split(",")
        assert {"127.0.0.1", "localhost", "::1"} <= set(entries)
        if any(v.strip() for v in theirs.values()):
            assert "corp.example" in entries  # the user's own entries stay
    assert env["HTTP_PROXY"] == "http://proxy:3128"  # the proxy itself is left for Claude Code's other traffic


def test_model_names_lead_with_the_anthropic_route_model() -> None:
    from routesh.core.catalog import Catalog
    from routesh.gateway.code import ModelNames, model_names

    config = parse("""
version: 1
default_route: default
default_profile: p
providers:
  a: {type: anthropic, key_env: K}
  o: {type: openai, base_url: "http://127.0.0.1:1/v1", key: none}
routes:
  default: {provider: a, model: opus}
  bg: {provider: a, model: claude-haiku-4-5}
  sub: {provider: o, model: qwen/qwen3-coder}
profiles: {p: {}}
code: {background: bg, subagent: sub}
""", "x.yaml")
    assert model_names(config, Catalog(config.models)) == ModelNames(
        "claude-opus-4-7-routesh-main", "claude-haiku-4-5-routesh-background", "routesh-subagent")
    env = claude_env({}, "http://x", "t", model_names(config, Catalog(config.models)))
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5-routesh-background"


def test_prefix_rules_become_claude_code_commands(tmp_path: Path) -> None:
    config = parse("""
version: 1
default_route: default
default_profile: p
providers: {a: {type: anthropic, key_env: K}}
routes:
  default: {provider: a, model: m}
  architect: {provider: a, model: big, description: design work}
rules:
  - {prefix: /architect, route: architect}
profiles: {p: {}}
""", "x.yaml")
    assert write_commands(config, tmp_path) == ["/architect"]
    text = (tmp_path / ".claude" / "commands" / "architect.md").read_text()
    assert "route architect (design work)" in text and text.rstrip().endswith("$ARGUMENTS")
    assert "\ndisable-model-invocation: true\n" in text.split("---")[1] + "\n"  # typed by the person, never a skill


def test_code_without_claude_is_a_clear_error(tmp_path: Path) -> None:
    r = run("code", "-p", "hi", env={"PATH": str(tmp_path)})
    assert r.returncode == 2
    assert "npm install -g @anthropic-ai/claude-code" in r.stderr


def test_code_passes_everything_after_its_own_options_to_claude(tmp_path: Path) -> None:
    """A stand-in `claude` prints its arguments and the variables that matter."""
    fake = tmp_path / "claude"
    fake.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$OUT\"\n"
                    "echo \"url=$ANTHROPIC_BASE_URL key=${ANTHROPIC_API_KEY:-none} \\\n"
                    "model=$ANTHROPIC_MODEL\" >> \"$OUT\"\n"
                    "exit 7\n")
    fake.chmod(0o755)
    out = tmp_path / "out.txt"
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", "OUT": str(out), "ANTHROPIC_API_KEY": "sk-ant-inherited"}
    r = run("code", "-v", "--gateway-log", str(tmp_path / "g.log"), "--model", "opus", "-p", "hello world", env=env)
    assert r.returncode == 7, r.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("--add-dir=") and lines[2:6] == ["--model", "opus", "-p", "hello world"]
    assert lines[1].startswith("--settings=") and "statusLine" in lines[1]  # routesh's status line
    assert lines[6].startswith("url=http://127.0.0.1:") and "key=none" in lines[6]
    assert "model=claude-sonnet-4-6-routesh-main" in lines[6]  # the built-in default route's model leads
    assert not Path(lines[0].split("=", 1)[1]).exists()  # the commands dir is gone
    r = run("code", "--", "-v", env=env)
    assert out.read_text().splitlines()[2] == "-v"


def test_code_help_is_routeshs() -> None:
    r = run("code", "--help")
    assert r.returncode == 0 and "routesh code -- --help" in " ".join(r.stdout.split())


# ------------------------------------------------------------------------------------------------ import-ccr


def test_import_ccr_to_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "config.json"
    src.write_text(json.dumps(CCR))
    assert main(["import-ccr", str(src)]) == 0
    out, err = capsys.readouterr()
    data = yaml.safe_load(out)
    assert data["code"]["background"] and data["code"]["long_context_threshold"] == 90000
    assert "sk-or-v1-5f0c2a9e8d7b6a5f4e3d2c1b0a9f8e7d" not in out + err
    assert "gw-secret-APIKEY-771" not in out + err
    assert "routesh keys set openrouter" in err
    parse(out, "imported.yaml")  # it is a valid routes.yaml


def test_import_ccr_to_a_file_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "config.json"
    src.write_text(json.dumps(CCR))
    dest = tmp_path / "routes.yaml"
    dest.write_text("mine\n")
    assert main(["import-ccr", str(src), "--output", str(dest)]) == 2
    assert dest.read_text() == "mine\n"
    assert "--force" in capsys.readouterr().err
    assert main(["import-ccr", str(src), "--output", str(dest), "--force"]) == 0
    parse(dest.read_text(), str(dest))


def test_import_ccr_default_path_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-ccr"]) == 2
    assert ".claude-code-router/config.json: no such file" in capsys.readouterr().err
    home = Path(os.environ["HOME"])
    (home / ".claude-code-router").mkdir()
    (home / ".claude-code-router" / "config.json").write_text("{not json")
    assert main(["import-ccr"]) == 2
    assert "not valid JSON" in capsys.readouterr().err
