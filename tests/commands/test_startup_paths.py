"""What keeps start-up light: the dry-run panel without rich, XDG dirs without platformdirs, and what each
path leaves unimported (issue 11, "Speed a user feels")."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import platformdirs
import pytest
from clirun import routesh

from routesh.core import paths


@pytest.mark.parametrize("env", [
    {},
    {"XDG_CONFIG_HOME": "/x/conf", "XDG_DATA_HOME": "/x/data", "XDG_STATE_HOME": "/x/state"},
    {"XDG_CONFIG_HOME": "  ", "XDG_DATA_HOME": "", "XDG_STATE_HOME": "relative/dir"},
])
def test_xdg_dirs_match_platformdirs(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert paths.config_dir() == platformdirs.user_config_path("routesh")
    assert paths.data_dir() == platformdirs.user_data_path("routesh")
    assert paths.state_dir() == platformdirs.user_state_path("routesh")


def loaded_after(argv: list[str], watch: tuple[str, ...]) -> list[str]:
    """Which of `watch` (top-level module names) the CLI imported to run argv (not what the interpreter's own
    start-up, e.g. a site-packages .pth file, had loaded already)."""
    code = (f"import sys; before = set(sys.modules); from routesh.commands.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"top = {{m.split('.')[0] for m in set(sys.modules) - before}}\n"
            f"sys.stderr.write('LOADED:' + ','.join(sorted(top & {set(watch)!r})))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ, NO_COLOR=""))
    assert "LOADED:" in p.stderr, p.stderr
    return [m for m in p.stderr.rsplit("LOADED:", 1)[1].split(",") if m]


def test_the_human_dry_run_imports_neither_rich_nor_platformdirs_nor_an_sdk() -> None:
    assert loaded_after(["--dry-run", "fix the failing test"],
                        ("rich", "platformdirs", "anthropic", "openai", "httpx", "asyncio", "prompt_toolkit")) == []


def test_dry_run_panel_on_a_pipe_is_unwrapped_unstyled_and_has_no_trailing_spaces() -> None:
    long = "explain " + "this very long prompt " * 20
    p = routesh("--dry-run", long)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("→ default · ") and "\x1b[" not in p.stdout
    labels = [line.split("  ", 1)[0].strip() for line in lines[1:]]
    assert labels[0] == "why" and "profile" in labels and labels[-1] == "cost"
    assert all(line == line.rstrip() for line in lines)
    cost = next(line for line in lines if line.startswith("cost"))
    assert "(per attempt)" in cost  # one line, however long
    # every value starts in the same column, after the widest label and two spaces
    starts = {len(line) - len(line[line.index("  "):].lstrip(" ")) for line in lines[1:]}
    assert len(starts) == 1


def test_dry_run_panel_on_a_terminal_is_styled_and_wrapped_to_its_width(monkeypatch: pytest.MonkeyPatch) -> None:
    from routesh.rendering.plan_panel import _wrap, write_plan

    assert _wrap("aa bb cc dd", 5) == ["aa bb", "cc dd"]
    assert _wrap("x" * 12, 5) == ["xxxxx", "xxxxx", "xx"]  # a word wider than the room is cut, not lost

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    plan = _plan("fix the failing test " * 10)
    out = Tty()
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    write_plan(plan, out, width=60)
    text = out.getvalue()
    assert text.startswith("\x1b[1m→ ") and "\x1b[32mallowed\x1b[0m" in text
    plain = [_strip(line) for line in text.splitlines()]
    assert all(len(line) <= 60 for line in plain[1:])
    monkeypatch.setenv("NO_COLOR", "1")
    out = Tty()
    write_plan(plan, out)
    assert "\x1b[" not in out.getvalue()


def _strip(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def _plan(text: str):  # type: ignore[no-untyped-def]
    """The plan the one-shot would show for text, with the built-in config."""
    from routesh.core.context import build
    from routesh.pipeline.prepare import plan_for

    ctx = build(None, None)
    return plan_for(ctx, text, None)


def test_the_first_short_decision_matches_what_the_full_keyword_regex_decides() -> None:
    """The first decision compiles only the phrases its prompt could contain; it must decide exactly alike."""
    from datetime import datetime

    from routesh.core.configfile import parse
    from routesh.core.router import decide

    rules = "\n".join(f"  - {{keywords: [kw{i}alpha, phrase number {i}, quer{i}y word], route: r{i % 3}}}"
                      for i in range(300))
    text = ("providers: {a: {type: anthropic}}\nroutes:\n  default: {provider: a, model: m}\n"
            + "".join(f"  r{i}: {{provider: a, model: m}}\n" for i in range(3)) + f"rules:\n{rules}\n"
            + "  - {keywords: [failing test, fix], route: r1}\n")
    now = datetime(2026, 1, 1, 12)
    prompts = ["nothing to see", "Phrase   Number 17 please", "two QUER5IES WORDS here", "kw299alphas!",
               "fixes for the failing tests", "xkw1alpha is not a word start", "phrase number 2", "é " * 3000]
    for prompt in prompts:
        fresh = parse(text, "a.yaml")  # a new config: its first decision takes the short path
        first = decide(prompt, fresh, now)
        decide("warm up", fresh, now)  # from the second decision on, the full regex
        again = decide(prompt, fresh, now)
        assert (first.route, first.reason, first.matched) == (again.route, again.reason, again.matched), prompt


def test_the_command_exits_fast_but_runs_atexit_flushes_and_waits_for_working_threads(tmp_path) -> None:
    marker = tmp_path / "thread-done"
    code = ("import atexit, sys, threading, time\n"
            "import routesh.commands.cli as cli\n"
            "atexit.register(lambda: print('atexit ran', flush=False))\n"
            f"threading.Thread(target=lambda: (time.sleep(0.3), open({str(marker)!r}, 'w').close())).start()\n"
            "sys.argv = ['routesh', '--dry-run', '--json', 'hi']\n"
            "cli.entry()\n"
            "print('not reached')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and '"route"' in p.stdout and p.stdout.rstrip().endswith("atexit ran")
    assert marker.exists() and "not reached" not in p.stdout


def test_the_exit_code_survives_the_fast_exit_and_a_closed_pipe_is_quiet() -> None:
    p = routesh("--dry-run", "--route", "nope", "hi")
    assert p.returncode == 2 and "unknown route" in p.stderr
    out = subprocess.run(f"{sys.executable} -m routesh --dry-run 'fix the failing test' | head -c 1 >/dev/null", shell=True,
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Exception ignored" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("argv", [
    [], ["hi"], ["--dry-run", "fix", "the failing test"], ["--json", "--dry-run", "x"], ["fix", "--dry-run", "it"],
    ["--dry-run", "--dry-run", ""], ["--json"], ["a=b", "ünïcode", "/debug why"],
])
def test_the_hand_parsed_one_shot_gives_what_argparse_gives(argv: list[str]) -> None:
    from routesh.commands.cli import fast_args
    from routesh.commands.parsers import _top_parser

    fast = fast_args(argv)
    assert fast is not None and vars(fast) == vars(_top_parser().parse_intermixed_args(argv))


@pytest.mark.parametrize("argv", [
    ["-m", "x", "hi"], ["--", "log", "it"], ["-"], ["--dry"], ["log", "x"], ["help"], ["--dry-run", "version"],
    ["-c", "hi"], ["--route=quick", "hi"], ["hi", "-f", "a.txt"],
])
def test_anything_else_is_left_to_argparse(argv: list[str]) -> None:
    from routesh.commands.cli import fast_args

    assert fast_args(argv) is None


def test_the_dry_run_imports_neither_argparse_nor_shutil_nor_difflib() -> None:
    assert loaded_after(["--dry-run", "fix the failing test"], ("argparse", "shutil", "difflib")) == []
