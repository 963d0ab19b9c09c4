"""The `routesh` command: parse arguments, hand off to a command module, turn failures into exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, NoReturn

from ..core.errors import UserError, bug_location
from ..engines import registry  # noqa: F401 - registers the engines' provider types before any config is read

if TYPE_CHECKING:
    import argparse

# subcommand → "module:function"; imported only when used, so `--dry-run` stays fast
SUBCOMMANDS: dict[str, str] = {
    "keys": "routesh.commands.keys_cmd:add_parser",
    "config": "routesh.commands.config_cmd:add_parser",
    "routes": "routesh.commands.config_cmd:add_routes_parser",
    "log": "routesh.commands.usage_cmd:add_log_parser",
    "stats": "routesh.commands.usage_cmd:add_stats_parser",
    "doctor": "routesh.commands.doctor:add_parser",
    "serve": "routesh.commands.gateway_cmd:add_serve_parser",
    "code": "routesh.commands.gateway_cmd:add_code_parser",
    "import-ccr": "routesh.commands.gateway_cmd:add_import_parser",
    "models": "routesh.commands.models_cmd:add_parser",
    "completion": "routesh.commands.completion_cmd:add_parser",
    "ui": "routesh.ui.command:add_parser",
}
_VALUE_OPTS = {"--config", "--profile", "--ledger", "--route", "--tag", "-f", "--file", "-m", "--model", "-s",
               "--system", "--cid"}
BUILTINS = ("help", "version")  # answered here, as git and gh do, never sent as a prompt
_FAST_FLAGS = {"--dry-run": "dry_run", "--json": "json"}


def _split(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(global args, subcommand or None, subcommand args): the first bare word decides."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv, None, []
        if a in _VALUE_OPTS:
            i += 2
            continue
        if a.startswith("-"):
            i += 1
            continue
        if a in SUBCOMMANDS or a in BUILTINS:
            return argv[:i], a, argv[i + 1:]
        return argv, None, []
    return argv, None, []


def fast_args(argv: list[str]) -> SimpleNamespace | None:
    """`routesh [--dry-run] [--json] [PROMPT...]` parsed by hand (argparse's import and parser build were a
    fifth of the dry-run's start), with every value argparse would give; None for anything else."""
    flags = {"dry_run": False, "json": False}
    prompt: list[str] = []
    for a in argv:
        if a in _FAST_FLAGS:
            flags[_FAST_FLAGS[a]] = True
        elif a.startswith("-"):  # any other option, `--`, a lone `-`: argparse decides
            return None
        else:
            prompt.append(a)
    if prompt and (prompt[0] in SUBCOMMANDS or prompt[0] in BUILTINS):
        return None
    return SimpleNamespace(config=None, profile=None, route=None, tag=None, file=None, model=None, system=None,
                           cont=False, cid=None, ledger=None, prompt=prompt, **flags)


def load(spec: str) -> Callable[..., Callable[[argparse.Namespace], int]]:
    """A subcommand's add_parser function from its "module:function" spec."""
    from importlib import import_module

    mod, _, fn = spec.partition(":")
    return getattr(import_module(mod), fn)


def run(argv: list[str]) -> int:
    """Parse and dispatch; raises UserError and friends for main() to report."""
    head, sub, rest = _split(argv)
    args: Any = fast_args(argv) if sub is None else None
    if args is None:
        from .parsers import dispatch

        args = dispatch(argv, head, sub, rest)
        if isinstance(args, int):  # a subcommand, help or version: done
            return args
    import gc

    was = gc.isenabled()
    gc.disable()  # importing the core allocates much and frees nothing: collections there were pure cost
    try:
        from .oneshot import main as oneshot

        if was and not args.dry_run:  # an answer or the shell runs long: collect as usual from here on
            gc.enable()
        return oneshot(args)  # a dry-run ends in milliseconds: no collection at all
    finally:
        if was:
            gc.enable()


def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure becomes one or two plain lines and a documented exit code."""
    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except UserError as exc:
        from ..core.kept import shown

        print(f"routesh: {shown(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("routesh: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): stop quietly, like other Unix tools
        _quiet_stdout()
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        if os.environ.get("ROUTESH_DEBUG"):
            raise
        where = bug_location(exc)
        print(f"routesh: internal error ({type(exc).__name__}{where}); this is a bug.\n"
              "Run again with ROUTESH_DEBUG=1 to see the traceback, and report it.", file=sys.stderr)
        return 1


def entry() -> NoReturn:
    """The `routesh` command: main(), then a fast exit (fastexit.py) instead of the interpreter's slow teardown."""
    from .fastexit import finish

    finish(main())


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        sys.stdout = None  # type: ignore[assignment]
