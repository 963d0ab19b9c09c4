"""What the one-shot sends: piped stdin after the prompt, -f files, -m/-s overrides; run as a user runs routesh."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from clirun import ROUTESH, routesh
from test_cli import KEY, upstream_config
from upstream import UsageSpec, upstream_fixture  # noqa: F401 - fixture


def sent_text(req) -> str:  # type: ignore[no-untyped-def]
    content = req.json["messages"][-1]["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


# --- piped stdin with a prompt --------------------------------------------------------------------

def test_piped_stdin_follows_the_prompt_argument(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    trace = "Traceback (most recent call last):\n  File \"app.py\", line 3\nZeroDivisionError\n"
    p = routesh("--config", str(cfg), "explain this stack trace", stdin=trace, env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    [req] = upstream.generation_requests()
    assert sent_text(req) == "explain this stack trace\n\n" + trace


def test_dry_run_shows_prompt_and_stdin_sizes():
    trace = "Traceback\n" + "x = 1 / 0\n" * 50
    p = routesh("--dry-run", "explain this stack trace", stdin=trace)
    assert p.returncode == 0, p.stderr
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("input"))
    assert "prompt 24 chars" in line and f"stdin {len(trace)} B" in line
    d = json.loads(routesh("--dry-run", "--json", "explain this stack trace", stdin=trace).stdout)
    assert d["attachments"] == [{"kind": "stdin", "path": None, "bytes": len(trace), "tokens": d["attachments"][0]
                                 ["tokens"]}]
    assert d["attachments"][0]["tokens"] > 10
    assert d["prompt_chars"] == len("explain this stack trace\n\n") + len(trace)


def test_empty_stdin_adds_nothing():
    d = json.loads(routesh("--dry-run", "--json", "hello", stdin="").stdout)
    assert d["attachments"] == [] and d["prompt_chars"] == 5


def test_keywords_in_piped_text_do_not_route_but_its_size_does(tmp_path):
    cfg = tmp_path / "r.yaml"
    cfg.write_text("""
providers: {a: {type: anthropic}}
routes:
  default: {provider: a, model: claude-sonnet-4-6}
  quick: {provider: a, model: claude-haiku-4-5}
  big: {provider: a, model: claude-sonnet-4-6}
rules:
  - {keywords: [fixture], route: quick}
  - {min_tokens: 2000, route: big}
""")
    small = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "explain", stdin="a fixture\n").stdout)
    assert small["route"] == "default"
    large = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "explain",
                               stdin="word " * 3000).stdout)
    assert large["route"] == "big" and large["estimated_input_tokens"] >= 2000


# --- -f files -------------------------------------------------------------------------------------

def test_files_are_sent_fenced_with_their_paths(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    (tmp_path / "a.py").write_text("print('a')\n")
    (tmp_path / "b.md").write_text("has ``` inside\n")
    p = routesh("--config", str(cfg), "-f", str(tmp_path / "a.py"), "review", "--file", str(tmp_path / "b.md"),
                env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    [req] = upstream.generation_requests()
    assert sent_text(req) == (f"review\n\n{tmp_path / 'a.py'}\n```\nprint('a')\n```"
                              f"\n\n{tmp_path / 'b.md'}\n````\nhas ``` inside\n````")


def test_file_globs_and_dry_run_listing(tmp_path):
    for name in ("x.py", "y.py", "z.txt"):
        (tmp_path / name).write_text(f"# {name}\n" * 20)
    d = json.loads(routesh("--dry-run", "--json", "-f", str(tmp_path / "*.py"), "review these").stdout)
    assert [a["path"] for a in d["attachments"]] == [str(tmp_path / "x.py"), str(tmp_path / "y.py")]
    assert all(a["kind"] == "file" and a["bytes"] == 140 and a["tokens"] > 0 for a in d["attachments"])
    text = routesh("--dry-run", "-f", str(tmp_path / "*.py"), "review these").stdout
    assert f"{tmp_path / 'x.py'} 140 B" in text
    p = routesh("--dry-run", "-f", str(tmp_path / "*.rs"), "review")
    assert p.returncode == 2 and "no file matches" in p.stderr


def test_file_dash_is_stdin(tmp_path):
    d = json.loads(routesh("--dry-run", "--json", "-f", "-", "explain", stdin="log line\n").stdout)
    assert d["attachments"] == [{"kind": "file", "path": "-", "bytes": 9, "tokens": d["attachments"][0]["tokens"]}]
    p = routesh("--dry-run", "-f", "-", stdin="no prompt here\n")
    assert p.returncode == 2 and "the prompt must be an argument" in p.stderr


@pytest.mark.parametrize("content,needle", [(b"\x00\x01\x02ELF", "looks binary"),
                                            (b"caf\xe9 latin1", "not valid UTF-8 (byte 0xe9 at offset 3)")])
def test_binary_and_non_utf8_files_are_refused(tmp_path, content, needle):
    f = tmp_path / "blob.bin"
    f.write_bytes(content)
    p = routesh("--dry-run", "-f", str(f), "what is this")
    assert p.returncode == 2 and needle in p.stderr and str(f) in p.stderr
    assert p.stdout == ""


def test_missing_file_and_directory_are_refused(tmp_path):
    p = routesh("--dry-run", "-f", str(tmp_path / "nope.py"), "x")
    assert p.returncode == 2 and "no such file" in p.stderr
    p = routesh("--dry-run", "-f", str(tmp_path), "x")
    assert p.returncode == 2 and "is a directory" in p.stderr


def test_size_limit_is_configurable_and_validated(tmp_path):
    big = tmp_path / "big.log"
    big.write_text("y" * 3000)
    cfg = tmp_path / "r.yaml"
    cfg.write_text("routes: {default: {provider: anthropic, model: claude-haiku-4-5}}\n"
                   "providers: {anthropic: {type: anthropic}}\nattachments: {max_kb: 2}\n")
    p = routesh("--config", str(cfg), "--dry-run", "-f", str(big), "x")
    assert p.returncode == 2 and "over the 2 KB attachment limit" in p.stderr and "attachments.max_kb" in p.stderr
    assert routesh("--dry-run", "-f", str(big), "x").returncode == 0  # the default limit is larger
    cfg.write_text(cfg.read_text().replace("max_kb: 2", "max_kb: lots"))
    p = routesh("--config", str(cfg), "--dry-run", "x")
    assert p.returncode == 2 and "attachments.max_kb" in p.stderr


def test_attachments_are_screened_for_secrets(tmp_path):
    f = tmp_path / ".env"
    key = "sk-ant-api03-" + hashlib.sha512(b"not a real key").hexdigest()[:93] + "AA"
    f.write_text(f"DEBUG=1\nANTHROPIC_KEY={key}\n")
    cfg = tmp_path / "r.yaml"
    cfg.write_text("providers: {a: {type: anthropic}}\nroutes: {default: {provider: a, model: claude-haiku-4-5}}\n"
                   "profiles: {strict: {on_secret: block}}\n")
    d = json.loads(routesh("--config", str(cfg), "--dry-run", "--json", "-f", str(f), "why").stdout)
    assert d["secrets"] and d["policy"]["allowed"] is False
    assert "sk-ant-api03" not in json.dumps(d)


def test_files_need_a_prompt_when_stdin_is_a_terminal(tmp_path):
    (tmp_path / "a.py").write_text("x\n")
    p = _with_tty_stdin([ROUTESH, "-f", str(tmp_path / "a.py")], tmp_path)
    assert p.returncode == 2 and "go with a prompt" in p.stderr


# --- -m / -s --------------------------------------------------------------------------------------

def test_model_and_system_overrides_reach_the_upstream(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "-m", "haiku", "-s", "answer in French", "hello", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    assert "model overridden by -m: up/claude-haiku-4-5 instead of up/claude-sonnet-4-6" in p.stderr
    [req] = upstream.generation_requests()
    assert req.model == "claude-haiku-4-5" and req.json["system"] in (
        "answer in French", [{"type": "text", "text": "answer in French"}])
    rows = json.loads(routesh("log", "--json").stdout)
    assert rows[0]["model"] == "claude-haiku-4-5" and rows[0]["route"] == "default"


def test_model_with_provider_goes_to_that_provider(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "--model", "upo/gpt-test", "hello", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    [req] = upstream.generation_requests()
    assert req.model == "gpt-test" and "chat/completions" in req.path


def test_model_override_obeys_the_profile_policy(upstream, tmp_path):
    cfg = upstream_config(upstream, tmp_path)
    p = routesh("--config", str(cfg), "--profile", "work", "-m", "other/gpt-x", "hello", env={"UP_KEY": KEY})
    assert p.returncode == 3 and "other" in p.stderr
    assert upstream.generation_requests() == []


def test_dry_run_says_model_overridden(tmp_path):
    d = json.loads(routesh("--dry-run", "--json", "-m", "opus", "fix the failing test").stdout)
    assert d["route"] == "quick" and d["model"] == "claude-opus-4-7"
    assert any(n.startswith("model overridden by -m") for n in d["notes"])
    assert d["estimated_cost_usd"] == pytest.approx(d["estimated_input_tokens"] * 5 / 1e6)
    text = routesh("--dry-run", "-m", "opus", "-s", "terse", "fix the failing test").stdout
    assert "model overridden by -m" in text and "system prompt set by -s" in text
    p = routesh("--dry-run", "-m", "antropic/claude-opus-4-7", "hi")
    assert p.returncode == 2 and "no provider named 'antropic'" in p.stderr and "anthropic" in p.stderr


# --- no prompt, stdout redirected -----------------------------------------------------------------

def _with_tty_stdin(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run with a pseudo-terminal on stdin (as typed in an interactive shell) and stdout to a file."""
    master, slave = pty.openpty()
    out = tmp_path / "out.txt"
    try:
        with open(out, "w") as fh:
            p = subprocess.run(argv, stdin=slave, stdout=fh, stderr=subprocess.PIPE, text=True, timeout=30,
                               env=dict(os.environ))
    finally:
        os.close(master)
        os.close(slave)
    return subprocess.CompletedProcess(argv, p.returncode, out.read_text(), p.stderr)


def test_no_prompt_with_stdout_redirected_does_not_open_an_invisible_shell(tmp_path):
    p = _with_tty_stdin([ROUTESH], tmp_path)
    assert p.returncode == 2 and "stdout is not a terminal" in p.stderr and p.stdout == ""
    assert "Traceback" not in p.stderr


def test_usage_fields_still_recorded_with_attachments(upstream, tmp_path):
    upstream.configure(usage=UsageSpec(input_tokens=50, output_tokens=5))
    cfg = upstream_config(upstream, tmp_path)
    (tmp_path / "n.txt").write_text("note\n")
    p = routesh("--config", str(cfg), "-f", str(tmp_path / "n.txt"), "summarise", env={"UP_KEY": KEY})
    assert p.returncode == 0, p.stderr
    row = json.loads(routesh("log", "--json").stdout)[0]
    assert row["status"] == "ok" and row["prompt_chars"] == len(sent_text(upstream.generation_requests()[0]))
