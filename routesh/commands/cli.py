"""The `routesh` command: parse arguments, hand off to a command module, turn failures into exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import NoReturn

from .. import __version__
from ..core.errors import EXIT_USAGE, UserError, bug_location
from ..engines import registry  # noqa: F401 - registers the engines' provider types before any config is read

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
_VALUE_OPTS = {"--config", "--profile", "--route", "--tag", "-f", "--file", "-m", "--model", "-s", "--system", "--cid"}
BUILTINS = ("help", "version")  # answered here, as git and gh do, never sent as a prompt

DESCRIPTION = """\
Route each AI coding prompt to the right model, key and engine, and record what it cost.

  routesh                          open the shell
  routesh PROMPT...                route, run, stream the answer (or: echo PROMPT | routesh)
  routesh --dry-run [--json] PROMPT   where it would go and why; sends nothing

commands: keys, config, routes, models, log, stats, ui, doctor, serve, code, import-ccr, completion,
help, version  (routesh help COMMAND)
A prompt that starts with a command name needs `--` first: routesh -- log the errors."""


class _Parser(argparse.ArgumentParser):
    """argparse that says what is wrong in two lines and exits 2, with a did-you-mean for options."""

    words: list[str] = []  # the command line split at the subcommand, for the `--` hint (set by run)
    head: list[str] = []

    def error(self, message: str) -> NoReturn:
        hint = f"run `{self.prog} -h` for usage"
        if "unrecognized arguments" in message:
            from ..core.yamlnodes import did_you_mean

            bad = message.split(":", 1)[1].split()[0]
            opts = [o for a in self._actions for o in a.option_strings]
            message = f"unknown option {bad}{did_you_mean(bad, opts)}"
            if not bad.startswith("-"):
                message = f"unexpected '{bad}'"
                hint = _prompt_hint() or hint
        elif "invalid choice" in message or message.startswith("unknown command"):
            hint = _prompt_hint() or hint
        if self.prog == "routesh" and _Parser.words:  # `routesh --dry-run log the errors`: a prompt, surely
            message, hint = f"{message} before `routesh {_Parser.words[0]}`", _prompt_hint()
        self.exit(EXIT_USAGE, f"{self.prog}: {message}\n{hint}\n")


def _prompt_hint() -> str:
    """How to send the words as a prompt, for someone who meant `routesh log the errors` as one."""
    import shlex

    if not _Parser.words:
        return ""
    return f"to send this as a prompt, put -- first: {shlex.join(['routesh', *_Parser.head, '--', *_Parser.words])}"


def add_global_options(p: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """Options every command accepts: which config and which profile (skipped where a command has its own)."""
    default = argparse.SUPPRESS if suppress else None
    have = p._option_string_actions  # noqa: SLF001 - argparse keeps no public list
    if "--config" not in have:
        p.add_argument("--config", metavar="PATH", default=default, help="routes.yaml to use (also $ROUTESH_CONFIG)")
    if "--profile" not in have:
        p.add_argument("--profile", metavar="NAME", default=default,
                       help="profile to use (also $ROUTESH_PROFILE, then $CLAUDE_CODE_ROUTE)")
    if "--ledger" not in have:
        p.add_argument("--ledger", metavar="URL|PATH", default=default,
                       help="usage ledger: a postgresql:// URL or a SQLite file (also $ROUTESH_LEDGER, routes.yaml)")


def _everywhere(p: argparse.ArgumentParser) -> None:
    """Accept the global options after a subcommand and its action too (`routesh log --config X`)."""
    add_global_options(p, suppress=True)  # suppressed: given before the subcommand, they are not reset
    for action in p._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for sub in dict.fromkeys(action.choices.values()):
                _everywhere(sub)


def _top_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="routesh", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_global_options(p)
    p.add_argument("--route", metavar="NAME", help="use this route, whatever the rules say")
    p.add_argument("--dry-run", action="store_true", help="show where the prompt would go and why; send nothing")
    p.add_argument("--json", action="store_true", help="with --dry-run: one JSON object")
    p.add_argument("--tag", metavar="TAG", help="label this request in the ledger (a workflow or namespace)")
    p.add_argument("-f", "--file", action="append", metavar="PATH",
                   help="send this file after the prompt (repeatable; globs; - for stdin)")
    p.add_argument("-m", "--model", metavar="MODEL", help="use this model (or provider/model) on the chosen route")
    p.add_argument("-s", "--system", metavar="TEXT", help="use this system prompt instead of the route's")
    p.add_argument("-c", "--continue", dest="cont", action="store_true",
                   help="continue the latest conversation (its kept turns are sent as history)")
    p.add_argument("--cid", metavar="ID", help="continue this conversation (an id or a unique start of one)")
    p.add_argument("-V", "--version", action="version", version=f"routesh {__version__}")
    p.add_argument("prompt", nargs="*", help="the prompt; read from stdin when absent and stdin is not a terminal")
    return p


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


def _load(spec: str) -> Callable[..., Callable[[argparse.Namespace], int]]:
    from importlib import import_module

    mod, _, fn = spec.partition(":")
    return getattr(import_module(mod), fn)


def _command(sub: str) -> tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], int]]:
    """A subcommand's parser (global options accepted anywhere in it) and its handler."""
    p = _Parser(prog=f"routesh {sub}")
    handler = _load(SUBCOMMANDS[sub])(p)
    _everywhere(p)
    return p, handler


def _builtin(word: str, rest: list[str]) -> int:
    """`routesh version`, `routesh help [COMMAND [ACTION]]`: answered locally, like git and gh."""
    if word == "version":
        if rest:
            _Parser(prog="routesh version").error(f"unrecognized arguments: {' '.join(rest)}")
        print(f"routesh {__version__}")
        return 0
    if not rest:
        _top_parser().print_help()
        return 0
    if rest[0] not in SUBCOMMANDS:
        from ..core.yamlnodes import did_you_mean

        _Parser(prog="routesh help").error(f"unknown command '{rest[0]}'"
                                           f"{did_you_mean(rest[0], SUBCOMMANDS)}; commands: {', '.join(SUBCOMMANDS)}")
    p, _ = _command(rest[0])
    for word in rest[1:]:  # `routesh help config init`
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
        if not subs or word not in subs[0].choices:
            p.error(f"unknown command '{word}': not an action of {p.prog}")
        p = subs[0].choices[word]
    p.print_help()
    return 0


def run(argv: list[str]) -> int:
    """Parse and dispatch; raises UserError and friends for main() to report."""
    head, sub, rest = _split(argv)
    _Parser.head, _Parser.words = head, [] if sub is None else [sub, *rest]
    if sub in BUILTINS:
        return _builtin(sub, rest)
    if sub is not None:
        parent = _Parser(prog="routesh", add_help=False)
        add_global_options(parent)
        parent.add_argument("--route", help=argparse.SUPPRESS)
        parent.add_argument("--tag", help=argparse.SUPPRESS)
        globals_ = parent.parse_args(head)
        p, handler = _command(sub)
        args = p.parse_args(rest, namespace=globals_)
        _use_ledger(args)
        return handler(args)
    args = _top_parser().parse_intermixed_args(argv)
    _use_ledger(args)
    from .oneshot import main as oneshot

    return oneshot(args)


def _use_ledger(args: argparse.Namespace) -> None:
    """--ledger wins over $ROUTESH_LEDGER and routes.yaml; set in the environment so a gateway child uses it too."""
    if getattr(args, "ledger", None):
        os.environ["ROUTESH_LEDGER"] = args.ledger


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
