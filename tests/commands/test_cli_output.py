"""What the installed routesh prints: pipes without wrapping, --json everywhere, quiet broken pipes, slash words,
the keyring block, the messages for failures a user can fix, `models` and `completion`."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import time

import pytest
import yaml
from clirun import ROUTESH, routesh
from test_cli import KEY, upstream_config
from upstream import rate_limited, slow_first_byte, unauthorized, upstream_fixture  # noqa: F401 - fixture

# --- pipes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("columns", ["80", "40"])
def test_routes_on_a_pipe_never_wraps_and_keeps_model_ids_whole(columns):
    p = routesh("routes", env={"COLUMNS": columns})
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert sum("claude-opus-4-7" in ln for ln in lines) == 2  # debug and architect, one line each
    assert not [ln for ln in lines if ln != ln.rstrip()]  # no trailing spaces for grep, cut, diff
    assert any("quick" in ln and "claude-haiku-4-5" in ln and "small edits, fixtures, flaky tests" in ln
               for ln in lines)


def test_dry_run_on_a_pipe_keeps_long_lines_whole():
    p = routesh("--dry-run", "x", env={"COLUMNS": "40"})
    why = next(ln for ln in p.stdout.splitlines() if ln.startswith("why"))
    assert why.endswith("no rule matched, so the default route is used")


COMMANDS = [("log",), ("log", "--json"), ("routes",), ("routes", "--json"), ("models",), ("config", "show"),
            ("config", "show", "--json"), ("stats",), ("stats", "--json"), ("--dry-run", "hello"),
            ("--dry-run", "--json", "hello"), ("completion", "bash"), ("keys", "list"), ("--help",)]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_reader_that_goes_away_is_not_a_failure(argv):
    """`routesh log | head -1`: the reader closes first; routesh exits 0 without a word on stderr."""
    r, w = os.pipe()
    os.close(r)  # the reader is gone before routesh writes a byte
    try:
        p = subprocess.run([ROUTESH, *argv], stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE,
                           text=True, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""


def test_log_head_dash_1_in_a_real_shell_pipeline():
    for argv in ("routes", "log", "routes", "models", "routes"):  # it failed intermittently: try a few times
        p = subprocess.run(["bash", "-c", f"set -o pipefail; '{ROUTESH}' {argv} | head -1"], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0 and p.stderr == "", p.stderr


# --- --json ---------------------------------------------------------------------------------------

def test_routes_json_lists_routes_and_rules_in_order():
    d = json.loads(routesh("routes", "--json").stdout)
    assert d["default_route"] == "default"
    by_name = {r["route"]: r for r in d["routes"]}
    assert by_name["debug"] == {"route": "debug", "default": False, "provider": "anthropic",
                                "model": "claude-opus-4-7", "via": "api", "fallback": ["default"],
                                "description": by_name["debug"]["description"]}
    prefixes = [r for r in d["rules"] if "prefix" in r["conditions"]]
    assert d["rules"][: len(prefixes)] == prefixes  # prefixes are tried first
    assert any(r["conditions"].get("keywords") and r["route"] == "quick" for r in d["rules"])


def test_config_show_json_is_the_yaml_as_data():
    as_json = json.loads(routesh("config", "show", "--json").stdout)
    as_yaml = yaml.safe_load(routesh("config", "show").stdout)
    assert as_json == as_yaml and as_json["default_route"] == "default"


def test_doctor_and_stats_json():
    checks = json.loads(routesh("doctor", "--json").stdout)
    assert isinstance(checks, list) and all({"area", "ok", "detail", "fix"} <= set(c) for c in checks)
    stats = json.loads(routesh("stats", "--json").stdout)
    assert stats["by"] == "route" and stats["total"]["requests"] == 0 and stats["groups"] == []


# --- models and completion ------------------------------------------------------------------------

def test_models_lists_prices_windows_and_routes(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("providers: {a: {type: anthropic}, o: {type: openai}}\n"
                   "routes: {default: {provider: a, model: sonnet}, local: {provider: o, model: qwen-coder}}\n"
                   "models: {claude-haiku-4-5: {input: 0.8}}\n")
    rows = {m["id"]: m for m in json.loads(routesh("--config", str(cfg), "models", "--json").stdout)}
    assert rows["claude-sonnet-4-6"]["routes"] == ["default"] and rows["claude-sonnet-4-6"]["input_usd_per_mtok"] == 3
    assert rows["claude-haiku-4-5"]["input_usd_per_mtok"] == 0.8 and rows["claude-haiku-4-5"]["context_window"]
    assert rows["qwen-coder"]["input_usd_per_mtok"] is None and rows["qwen-coder"]["routes"] == ["local"]
    text = routesh("--config", str(cfg), "models").stdout
    assert any("claude-opus-4-7" in ln and "$5" in ln and "1,000,000" in ln for ln in text.splitlines())


@pytest.mark.parametrize("sh", ["bash", "zsh", "fish"])
def test_completion_scripts_name_commands_options_and_routes(sh):
    p = routesh("completion", sh)
    assert p.returncode == 0, p.stderr
    for word in ("models", "completion", "--dry-run", "--since", "routes"):
        assert (f"-l {word[2:]}" if sh == "fish" and word.startswith("--") else word) in p.stdout
    assert "routes" in p.stdout and "profiles" in p.stdout and "completion --names" in p.stdout


def test_bash_completion_completes_route_names_and_subcommand_options(tmp_path):
    script = routesh("completion", "bash").stdout
    cfg = tmp_path / "r.yaml"
    cfg.write_text("providers: {a: {type: anthropic}}\n"
                   "routes: {default: {provider: a, model: sonnet}, review-deep: {provider: a, model: opus}}\n"
                   "profiles: {home: {}, client-x: {}}\n")
    probe = (script + "\n"
             "COMP_WORDS=(routesh --route re); COMP_CWORD=2; _routesh; echo \"R:${COMPREPLY[*]}\"\n"
             "COMP_WORDS=(routesh --profile cl); COMP_CWORD=2; _routesh; echo \"P:${COMPREPLY[*]}\"\n"
             "COMP_WORDS=(routesh log --s); COMP_CWORD=2; _routesh; echo \"L:${COMPREPLY[*]}\"\n"
             "COMP_WORDS=(routesh mo); COMP_CWORD=1; _routesh; echo \"C:${COMPREPLY[*]}\"\n")
    p = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, ROUTESH_CONFIG=str(cfg)))
    assert "R:review-deep" in p.stdout and "P:client-x" in p.stdout
    assert "L:--since" in p.stdout and "C:models" in p.stdout


def test_completion_without_a_shell_is_a_usage_error():
    p = routesh("completion")
    assert p.returncode == 2 and "bash|zsh|fish" in p.stderr


# --- slash words ----------------------------------------------------------------------------------

@pytest.mark.parametrize("prompt", ["/ARCHITECT split billing", "/architect: split billing",
                                    "/Architect: split billing"])
def test_slash_words_ignore_case_and_a_trailing_colon(prompt):
    d = json.loads(routesh("--dry-run", "--json", prompt).stdout)
    assert d["route"] == "architect" and d["prompt_chars"] == len("split billing")


def test_unknown_slash_word_is_sent_as_text_with_a_note(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "/deploy the app", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    assert "/deploy is not a route prefix or command, so it is sent as part of the prompt" in p.stderr
    [req] = upstream.generation_requests()
    assert "/deploy the app" in json.dumps(req.json)


def test_unknown_slash_word_alone_or_close_to_a_prefix_is_refused(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    for prompt, hint in (("/deploy", "unknown route prefix /deploy"), ("/chaep do it", "did you mean '/cheap'")):
        p = routesh("--config", str(cfg), prompt, env={"UP_KEY": KEY})
        assert p.returncode == 2 and hint in p.stderr
    assert upstream.generation_requests() == []


# --- the keyring block ----------------------------------------------------------------------------

NO_KEYRING = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus", "PYTHON_KEYRING_BACKEND": ""}


def test_keyring_block_only_when_no_key_was_found():
    with_env = routesh("--dry-run", "hello", env={**NO_KEYRING, "ANTHROPIC_API_KEY": "sk-ant-x"})
    assert with_env.returncode == 0
    assert "found in env" in with_env.stdout and "keyring" not in with_env.stdout.replace("found in env", "")
    without = routesh("--dry-run", "hello", env=NO_KEYRING)
    if "missing" in without.stdout:  # no key anywhere: the keyring problem explains why
        assert "keyring" in without.stdout


# --- failures a user can fix ----------------------------------------------------------------------

def test_rate_limit_message_says_http_429_once(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(*[rate_limited("0")] * 6)
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 1
    assert "HTTP 429" in p.stderr and "HTTP 429: HTTP 429" not in p.stderr


def test_401_on_a_key_from_the_environment_names_the_variable(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(*[unauthorized()] * 4)
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 1
    assert "$UP_KEY" in p.stderr and KEY not in p.stderr


def test_missing_claude_is_a_setup_problem_exit_2_and_flagged_by_the_dry_run(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("providers: {a: {type: anthropic, auth: subscription}}\n"
                   "routes: {default: {provider: a, model: claude-sonnet-4-6, via: claude-code}}\n")
    env = {"PATH": os.path.dirname(ROUTESH)}  # no claude on this PATH
    p = routesh("--config", str(cfg), "hello", env=env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert "not on PATH" in p.stderr and "npm install -g @anthropic-ai/claude-code" in p.stderr
    code = routesh("--config", str(cfg), "code", "-p", "hi", env=env)
    assert code.returncode == 2
    d = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "hello", env=env).stdout)
    assert any("not on PATH" in n for n in d["notes"])


# --- log filters ----------------------------------------------------------------------------------

def test_log_validates_n_and_route_and_says_what_the_filter_excluded(upstream, tmp_path):
    p = routesh("log", "-n", "0")
    assert p.returncode == 2 and "-n" in p.stderr
    cfg = upstream_config(upstream, tmp_path)
    assert routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY}).returncode == 0
    p = routesh("--config", str(cfg), "log", "--route", "defualt")
    assert p.returncode == 2 and "did you mean 'default'" in p.stderr
    p = routesh("--config", str(cfg), "log", "--route", "cheap")
    assert p.returncode == 0 and "No requests match route cheap" in p.stdout and "holds 1 attempt" in p.stdout
    assert "No requests recorded yet" not in p.stdout
    p = routesh("--config", str(cfg), "log", "--route", "default")
    assert "claude-sonnet-4-6" in p.stdout


# --- the spinner ----------------------------------------------------------------------------------

def test_spinner_on_a_terminal_shows_route_and_elapsed_then_clears(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(slow_first_byte(1.2))
    master, slave = pty.openpty()
    proc = subprocess.Popen([ROUTESH, "--config", str(cfg), "hello"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ, UP_KEY=KEY))
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait(timeout=30)
    os.close(master)
    err = seen.decode("utf-8", "replace")
    assert proc.returncode == 0, err
    assert out == "Hello from claude-sonnet-4-6.\n"  # nothing of the spinner on stdout
    assert "default · claude-sonnet-4-6" in err and "s" in err
    assert any(f"{t / 10:.1f}s" in err for t in range(3, 12))  # elapsed time, ticking
    assert "\r\x1b[2K" in err  # erased before the answer


def test_no_spinner_when_stderr_is_not_a_terminal(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    upstream.script(slow_first_byte(0.6))
    p = routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY})
    assert p.returncode == 0 and "\r" not in p.stderr and "⠋" not in p.stderr


def test_one_shot_answer_into_a_closed_pipe_exits_quietly(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    r, w = os.pipe()
    os.close(r)
    try:
        p = subprocess.run([ROUTESH, "--config", str(cfg), "hello"], stdin=subprocess.DEVNULL, stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=60, env=dict(os.environ, UP_KEY=KEY))
    finally:
        os.close(w)
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr


def test_stats_and_log_on_a_pipe_stay_readable(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    assert routesh("--config", str(cfg), "hello", env={"UP_KEY": KEY}).returncode == 0
    stats = routesh("--config", str(cfg), "stats")
    assert stats.returncode == 0 and "default" in stats.stdout
    assert max(len(ln) for ln in stats.stdout.splitlines()) <= 200  # bars are not stretched to "no width"
    log = routesh("log").stdout.splitlines()
    assert any("claude-sonnet-4-6" in ln for ln in log) and not [ln for ln in log if ln != ln.rstrip()]
