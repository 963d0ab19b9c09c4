"""The argparse side of the `routesh` command: the parsers, their two-line errors, help and version.

Kept apart from cli.py so the common one-shot and dry-run, parsed by hand there, never import argparse."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from .. import __version__
from ..core.errors import EXIT_USAGE
from .cli import BUILTINS, SUBCOMMANDS, load

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


def _command(sub: str) -> tuple[argparse.ArgumentParser, Callable[[argparse.Namespace], int]]:
    """A subcommand's parser (global options accepted anywhere in it) and its handler."""
    p = _Parser(prog=f"routesh {sub}")
    handler = load(SUBCOMMANDS[sub])(p)
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




def dispatch(argv: list[str], head: list[str], sub: str | None, rest: list[str]) -> argparse.Namespace | int:
    """A subcommand's, help's or version's exit code; for the one-shot, its arguments as argparse reads them."""
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
    return args


def _use_ledger(args: argparse.Namespace) -> None:
    """--ledger wins over $ROUTESH_LEDGER and routes.yaml; set in the environment so a gateway child uses it too."""
    if getattr(args, "ledger", None):
        import os

        os.environ["ROUTESH_LEDGER"] = args.ledger
