"""The installed `routesh` command, run as a user runs it: exit codes, messages, JSON shape, real runs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh
from upstream import (  # noqa: F401 - fixture
    Upstream,
    UsageSpec,
    drop_after,
    rate_limited,
    server_error,
    unauthorized,
    upstream_fixture,
)

from routesh.core.paths import ledger_file, user_config_file

KEY = "sk-test-cli-SECRETSECRET-9z9z"


def upstream_config(up: Upstream, tmp: Path, extra: str = "") -> Path:
    cfg = tmp / "routes.yaml"
    cfg.write_text(f"""
default_route: default
providers:
  up: {{type: anthropic, base_url: "{up.url}", key_env: UP_KEY}}
  upo: {{type: openai, base_url: "{up.openai_url}", key_env: UP_KEY}}
  other: {{type: openai, base_url: "{up.openai_url}", key_env: UP_KEY}}
routes:
  default: {{provider: up, model: claude-sonnet-4-6, fallback: [cheap], retries: 1}}
  cheap: {{provider: upo, model: claude-haiku-4-5, retries: 0}}
  outside: {{provider: other, model: gpt-x}}
rules:
  - {{prefix: /cheap, route: cheap}}
  - {{prefix: /outside, route: outside}}
profiles:
  personal: {{}}
  work: {{allow_providers: [up, upo]}}
{extra}""")
    return cfg


# --- dry-run --------------------------------------------------------------------------------

def test_dry_run_json_has_every_contract_field():
    p = routesh("--dry-run", "--json", "/architect split billing from the monolith")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    for field in ("route", "profile", "provider", "model", "via", "rule", "reason", "estimated_input_tokens",
                  "estimated_cost_usd", "fallbacks", "key", "policy"):
        assert field in d, field
    assert (d["route"], d["provider"], d["model"], d["via"]) == ("architect", "anthropic", "claude-opus-4-7", "api")
    assert d["rule"]["matched"] == "/architect" and d["fallbacks"] == ["default"]
    assert set(d["key"]) >= {"source", "present"} and d["key"]["source"] in ("keyring", "env", "none")
    assert d["policy"] == {"allowed": True, "why": d["policy"]["why"]}
    assert d["estimated_cost_usd"] == pytest.approx(d["estimated_input_tokens"] * 5 / 1e6)


def test_dry_run_human_names_route_model_and_reason():
    p = routesh("--dry-run", "fix the failing test in parser")
    assert p.returncode == 0
    assert "quick" in p.stdout and "claude-haiku-4-5" in p.stdout and "failing test" in p.stdout


def test_dry_run_from_stdin():
    p = routesh("--dry-run", "--json", stdin=b"/debug the worker hangs\n")
    assert json.loads(p.stdout)["route"] == "debug"


def test_dry_run_never_imports_the_sdks():
    code = ("import sys; from routesh.commands.cli import main; main(['--dry-run', '--json', 'hi']); "
            "bad = [m for m in ('anthropic', 'openai', 'httpx', 'prompt_toolkit') if m in sys.modules]; "
            "sys.stderr.write('LOADED:' + ','.join(bad))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stderr.strip().endswith("LOADED:"), p.stderr


def test_key_present_from_env_never_shows_the_value():
    p = routesh("--dry-run", "--json", "hello", env={"ANTHROPIC_API_KEY": KEY})
    d = json.loads(p.stdout)
    assert d["key"]["present"] is True and d["key"]["source"] in ("env", "keyring")
    assert KEY not in p.stdout + p.stderr


def test_policy_refusal_in_dry_run_and_one_shot(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "--profile", "work", "--dry-run", "--json", "/outside hi")
    assert p.returncode == 3
    d = json.loads(p.stdout)
    assert d["policy"]["allowed"] is False and "other" in d["policy"]["why"]
    p = routesh("--config", str(cfg), "--profile", "work", "/outside hi", env={"UP_KEY": KEY})
    assert p.returncode == 3 and "refused, nothing was sent" in p.stderr
    assert upstream.generation_requests() == []


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "stdin", "needle"), [
    (("--dry-run",), b"   \n", "the prompt is empty"),
    (("--dry-run",), b"caf\xe9 au lait", "not valid UTF-8 (byte 0xe9 at offset 3)"),
    (("--dry-run", "/architect"), None, "/architect needs a prompt after it"),
    (("--dry-run", "/architec", "plan"), None, "did you mean '/architect'"),
    (("--profile", "work-aproved", "--dry-run", "hi"), None, "did you mean 'work-approved'"),
    (("--route", "archtect", "--dry-run", "hi"), None, "unknown route 'archtect' (did you mean 'architect'?)"),
    (("--dry-run", "--jsn", "hi"), None, "unknown option --jsn (did you mean '--json'?)"),
    (("--json", "hi"), None, "--json goes with --dry-run"),
])
def test_bad_input_is_named_with_exit_2(args, stdin, needle):
    p = routesh(*args, stdin=stdin)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert needle in p.stderr
    assert len(p.stderr.strip().splitlines()) <= 2


def test_ten_megabyte_prompt_is_refused_clearly():
    big = ("lorem ipsum dolor sit amet " * 400_000).encode()
    p = routesh("--dry-run", stdin=big)
    assert p.returncode == 2 and "context window" in p.stderr and "trim it" in p.stderr


def test_unknown_profile_from_env():
    p = routesh("--dry-run", "hi", env={"ROUTESH_PROFILE": "nope"})
    assert p.returncode == 2 and "from $ROUTESH_PROFILE" in p.stderr


@pytest.mark.parametrize(("text", "needle"), [
    ("routes: [\n", "routes.yaml:2: invalid YAML"),
    ("", "the file is empty"),
    ("routes: {default: {provider: nope, model: m}}\n", "routes.yaml:1: routes.default.provider: unknown provider"),
    ("rotes: {}\n", "unknown key 'rotes' (did you mean 'routes'?)"),
])
def test_broken_user_config_exits_2_with_file_and_line(text, needle):
    f = user_config_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text)
    p = routesh("--dry-run", "hi")
    assert p.returncode == 2 and needle in p.stderr, p.stderr


# --- config, routes -----------------------------------------------------------------------------

def test_config_check_ok_and_errors(tmp_path):
    p = routesh("config", "check")
    assert p.returncode == 0 and p.stdout.startswith("ok:") and "5 routes" in p.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("routes:\n  default: {provider: a, model: m, retries: many}\nproviders: {a: {type: openai}}\n")
    p = routesh("config", "check", str(bad))
    assert p.returncode == 2 and f"{bad}:2:" in p.stderr and "retries: expected a whole number" in p.stderr


def test_config_show_round_trips(tmp_path):
    p = routesh("config", "show")
    assert p.returncode == 0
    again = tmp_path / "shown.yaml"
    again.write_text(p.stdout)
    assert routesh("config", "check", str(again)).returncode == 0


def test_config_trust_enables_a_project_file(isolated_home, tmp_path):
    proj = isolated_home / "proj"
    (proj / ".git").mkdir(parents=True)
    (proj / "routes.yaml").write_text("routes: {default: {provider: a, model: project-model}}\n"
                                      "providers: {a: {type: openai, base_url: http://127.0.0.1:9/v1}}\n")
    run = lambda *a: subprocess.run([ROUTESH, *a], cwd=proj, capture_output=True, text=True)  # noqa: E731
    p = run("--dry-run", "--json", "hi")
    assert json.loads(p.stdout)["model"] == "claude-sonnet-4-6" and "routesh config trust" in p.stderr
    assert run("config", "trust").returncode == 0
    assert json.loads(run("--dry-run", "--json", "hi").stdout)["model"] == "project-model"


def test_routes_table():
    p = routesh("routes")
    assert p.returncode == 0 and "architect" in p.stdout and "starts with /debug" in p.stdout


# --- real runs against the test upstream ----------------------------------------------------------

def test_one_shot_streams_the_answer_and_records_it(upstream, tmp_path):
    upstream.configure(usage=UsageSpec(input_tokens=100, output_tokens=20))
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "--tag", "ci", "hello there", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Hello from claude-sonnet-4-6.\n"
    assert "→ default · up/claude-sonnet-4-6" in p.stderr
    [req] = upstream.generation_requests()
    sent = req.json["messages"][-1]["content"]
    assert req.model == "claude-sonnet-4-6" and sent in ("hello there", [{"type": "text", "text": "hello there"}])
    rows = json.loads(routesh("log", "--json").stdout)
    assert rows[0]["status"] == "ok" and rows[0]["input_tokens"] == 100 and rows[0]["output_tokens"] == 20
    assert rows[0]["cost_usd"] == pytest.approx((100 * 3 + 20 * 15) / 1e6)
    assert rows[0]["tag"] == "ci"


def test_retry_then_fallback_then_success(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(server_error(), rate_limited("0"))
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    assert p.stdout == "Hello from claude-haiku-4-5.\n"
    assert "retrying" in p.stderr and "falling back to route cheap" in p.stderr
    statuses = [(r["route"], r["status"]) for r in reversed(json.loads(routesh("log", "--json").stdout))]
    assert statuses == [("default", "error"), ("default", "error"), ("cheap", "ok")]


def test_auth_failure_exits_1_naming_the_fix(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(unauthorized(echo_key=True), unauthorized(echo_key=True))
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 1
    assert "routesh keys set up --profile personal" in p.stderr  # the primary route's key
    assert "routesh keys set upo --profile personal" in p.stderr  # and the fallback's
    assert KEY not in p.stderr + p.stdout


def test_dropped_stream_is_partial_exit_1(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.configure(text="one two three four five six seven eight")
    upstream.script(drop_after(6))
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 1 and "partial" in p.stderr
    assert len(upstream.generation_requests()) == 1  # no retry once text was shown
    rows = json.loads(routesh("log", "--json").stdout)
    assert rows[0]["status"] == "partial"


def test_missing_key_exits_2_with_the_command(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": ""})
    assert p.returncode == 2 and "no key for provider 'up' in profile 'personal'" in p.stderr
    assert "export UP_KEY" in p.stderr
    assert upstream.generation_requests() == []


def test_secret_never_reaches_output_or_ledger(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(unauthorized(echo_key=True))
    outputs = [routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY}),
               routesh("--config", str(cfg), "--dry-run", "--json", "hello", env={"UP_KEY": KEY}),
               routesh("log", "--json"), routesh("stats", "--json"), routesh("doctor", env={"UP_KEY": KEY})]
    blob = "".join(p.stdout + p.stderr for p in outputs)
    for f in (ledger_file(), *ledger_file().parent.glob("*")):
        if f.is_file():
            blob += f.read_bytes().decode("latin1")
    with sqlite3.connect(ledger_file()) as db:
        blob += repr(db.execute("select * from attempts").fetchall())
    assert KEY not in blob


# --- command line habits ----------------------------------------------------------------------------

OTHER = "routes: {default: {provider: a, model: other-model}}\nproviders: {a: {type: openai, key: none}}\n" \
        "profiles: {solo: {}}\n"


@pytest.mark.parametrize("argv", [
    ("routes", "--config", "{f}"), ("config", "show", "--config", "{f}"), ("config", "check", "--config", "{f}"),
    ("keys", "list", "--config", "{f}"), ("doctor", "--config", "{f}"), ("log", "--config", "{f}"),
    ("stats", "--config", "{f}"), ("--config", "{f}", "routes"),
])
def test_global_options_work_after_the_subcommand(tmp_path, argv):
    f = tmp_path / "other.yaml"
    f.write_text(OTHER)
    p = routesh(*(a.format(f=f) for a in argv), env={"COLUMNS": "200"})
    assert p.returncode in (0, 1) and "unknown option" not in p.stderr, p.stderr
    if argv[0] in ("routes", "config", "--config"):
        assert "other-model" in p.stdout or str(f) in p.stdout


def test_profile_after_the_subcommand_is_used_and_checked():
    assert routesh("routes", "--profile", "work-approved").returncode == 0
    p = routesh("routes", "--profile", "nope")
    assert p.returncode == 2 and "unknown profile 'nope'" in p.stderr
    p = routesh("keys", "list", "--profile", "work-approved", "--json")
    assert p.returncode == 0 and {r["profile"] for r in json.loads(p.stdout)} == {"work-approved"}


def test_an_option_after_the_subcommand_beats_the_one_before(tmp_path):
    f = tmp_path / "other.yaml"
    f.write_text(OTHER)
    p = routesh("--config", "/nonexistent.yaml", "config", "show", "--config", str(f))
    assert p.returncode == 0 and "other-model" in p.stdout


@pytest.mark.parametrize(("argv", "needle"), [
    (("help",), "usage: routesh"), (("help", "log"), "usage: routesh log"),
    (("help", "config", "init"), "usage: routesh config init"), (("version",), "routesh 0."),
    (("--version",), "routesh 0."),
])
def test_help_and_version_are_answered_not_sent(argv, needle):
    p = routesh(*argv, env={"ANTHROPIC_API_KEY": "sk-ant-api03-never-sent"})
    assert p.returncode == 0 and p.stdout.startswith(needle), p.stdout + p.stderr


@pytest.mark.parametrize(("argv", "words"), [
    (("log", "the", "errors"), "log the errors"), (("help", "me", "fix", "it"), "help me fix it"),
    (("config", "the", "thing"), "config the thing"), (("stats", "--json", "for", "today"), "stats --json for today"),
])
def test_a_prompt_that_starts_with_a_command_name_is_told_about_dashdash(argv, words):
    p = routesh(*argv)
    assert p.returncode == 2 and f"put -- first: routesh -- {words}" in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 2 and "unknown option the" not in p.stderr


def test_dashdash_sends_a_command_word_as_a_prompt():
    p = routesh("--dry-run", "--json", "--", "help", "me")
    assert p.returncode == 0 and json.loads(p.stdout)["prompt_chars"] == len("help me")


def test_code_takes_routesh_options_before_claude_args():
    p = routesh("code", "--profile", "nope", "-p", "hi")
    assert p.returncode == 2 and "unknown profile 'nope'" in p.stderr


def test_the_dashdash_hint_keeps_the_options_given_before():
    p = routesh("--dry-run", "--profile", "work-approved", "log", "the", "errors")
    assert p.returncode == 2
    assert "routesh --dry-run --profile work-approved -- log the errors" in p.stderr
