"""`routesh serve`, `routesh code` and `routesh import-ccr`: Claude Code's own traffic, routed by routesh."""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import UserError

Handler = Callable[[argparse.Namespace], int]
DEFAULT_PORT = 3456
TOKEN_ENV = "ROUTESH_GATEWAY_TOKEN"
MIN_REMOTE_TOKEN = 16


# ------------------------------------------------------------------------------------------------ serve


def add_serve_parser(p: argparse.ArgumentParser) -> Handler:
    """An Anthropic-compatible gateway for Claude Code."""
    p.description = ("Serve the Anthropic Messages API on HOST:PORT and route every request Claude Code makes "
                     "(main turns, background, subagents, thinking, long context, web search, images) by the "
                     "`code:` section of routes.yaml. Prints the two lines a client needs.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    p.add_argument("--token", help=f"the token clients must present; prefer ${TOKEN_ENV} or --token-file, since a "
                                   "command line is visible to every local user; generated when absent")
    p.add_argument("--token-file", metavar="FILE", help="read the token from the first line of FILE")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow listening on an address other machines can reach (needs --token)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="one line per attempt on stderr: route, provider, model, status, tokens, latency")
    return serve


def _token(args: argparse.Namespace) -> tuple[str, str]:
    """(token, where it came from: flag | file | env | generated); a token on the command line gets a warning."""
    if args.token and args.token_file:
        raise UserError("give the token once: --token or --token-file, not both")
    if args.token:
        print(f"routesh: warning: --token is visible to every local user (ps, /proc/PID/cmdline); "
              f"use ${TOKEN_ENV} or --token-file instead", file=sys.stderr)
        return _checked_token(args.token, "--token"), "flag"
    if args.token_file:
        path = Path(args.token_file).expanduser()
        try:
            first = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"--token-file {path}: cannot read it ({getattr(exc, 'strerror', None) or exc})") from None
        return _checked_token(first[0].strip() if first else "", f"--token-file {path}"), "file"
    env = os.environ.get(TOKEN_ENV)
    if env:
        return _checked_token(env, f"${TOKEN_ENV}"), "env"
    return secrets.token_urlsafe(32), "generated"


def _checked_token(token: str, where: str) -> str:
    """A token must be one line of printable ASCII: it travels in a header."""
    from ..keys.secrets import unusable_key

    if not token:
        raise UserError(f"{where} is empty; give the token clients must present")
    bad = unusable_key(token)
    if bad:
        raise UserError(f"the token from {where} {bad}")
    return token


def serve(args: argparse.Namespace) -> int:
    """Run the gateway in the foreground until Ctrl-C."""
    from ..core.context import build
    from ..gateway.server import Gateway, LedgerWriter, bind, is_loopback, serve_forever

    token, origin = _token(args)
    if not is_loopback(args.host):
        if not args.allow_remote:
            raise UserError(f"--host {args.host} can be reached from other machines; add --allow-remote "
                            f"(and --token or ${TOKEN_ENV}) if you mean it, or use --host 127.0.0.1")
        if origin == "generated":
            raise UserError(f"listening on {args.host} needs a token you chose: set ${TOKEN_ENV} or pass --token-file")
        if len(token) < MIN_REMOTE_TOKEN:
            raise UserError(f"a token for a remote-reachable gateway must be at least {MIN_REMOTE_TOKEN} characters")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is not a port number (0-65535)")
    ctx = build(args.config, args.profile)
    for warning in ctx.loaded.warnings:
        print(f"routesh: warning: {warning}", file=sys.stderr)
    from ..usage.ledger_start import open_at_start

    open_at_start()
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        if exc.errno == 98:
            raise UserError(f"port {args.port} on {args.host} is already in use; pick another with --port "
                            f"(or stop what is listening there)") from None
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    port = sock.getsockname()[1]
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown_host}:{port}"
    from ..core.kept import shown

    def log(line: str) -> None:
        print(shown(line), file=sys.stderr, flush=True)

    ledger = LedgerWriter(None, ctx.profile, log=log)
    gateway = Gateway(ctx, token, verbose=args.verbose, ledger=ledger, log=log)

    def ready() -> None:
        where = str(ctx.loaded.path) if ctx.loaded.path else "the built-in routes.yaml"
        print(f"routesh gateway on {url} · profile {ctx.profile.name} · {where} · Ctrl-C stops it", file=sys.stderr)
        from_file = f'"$(head -n1 {shlex.quote(args.token_file or "")})"'
        given = {"env": f'"${TOKEN_ENV}"', "file": from_file}.get(origin, token)
        print(f"export ANTHROPIC_BASE_URL={url}")
        print(f"export ANTHROPIC_AUTH_TOKEN={given}")
        from ..gateway.code import model_names

        n = model_names(ctx.config, ctx.catalog)
        print("# to tell Claude Code's request kinds apart (`routesh code` does this for you):\n"
              f"# export ANTHROPIC_MODEL={n.main} ANTHROPIC_DEFAULT_HAIKU_MODEL={n.background} "
              f"CLAUDE_CODE_SUBAGENT_MODEL={n.subagent}", flush=True)

    try:
        serve_forever(gateway, sock, on_ready=ready)
    finally:
        ledger.close()
        sock.close()
    print("routesh: gateway stopped", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------ code

_CODE_OPTS = {"--gateway-log": True, "-v": False, "--verbose": False, "--config": True, "--profile": True}


def add_code_parser(p: argparse.ArgumentParser) -> Handler:
    """Claude Code, with its own traffic routed by routesh."""
    p.description = ("Run Claude Code with every request it makes routed by routesh: a private gateway on a free "
                     "loopback port with a one-time token, stopped when claude exits. Everything after routesh's "
                     "own options goes to claude (`routesh code -p 'fix the test'`, `routesh code --resume`); "
                     "use `routesh code -- --help` for claude's own help. Prefix rules become slash commands: "
                     "`/architect ...` inside Claude Code sends that turn to the architect route.")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log one line per attempt to the gateway log (see --gateway-log)")
    p.add_argument("--gateway-log", metavar="FILE",
                   help="where the gateway's log lines go (default: gateway.log in routesh's state dir)")
    p.add_argument("claude_args", nargs="*", metavar="CLAUDE ARGS", help="passed to claude unchanged")
    original = p.parse_args

    def parse_args(args: Any = None, namespace: Any = None) -> Any:
        """routesh's own options first; from the first other argument on, everything is claude's."""
        argv = list(sys.argv[1:] if args is None else args)
        i = 0
        ours: list[str] = []
        while i < len(argv):
            a = argv[i]
            if a == "--":
                i += 1
                break
            if a in ("-h", "--help"):
                return original(["-h"], namespace)
            name = a.split("=", 1)[0]
            if name not in _CODE_OPTS:
                break
            ours.append(a)
            if _CODE_OPTS[name] and "=" not in a:
                if i + 1 >= len(argv):
                    return original(ours, namespace)  # argparse says what is missing
                ours.append(argv[i + 1])
                i += 1
            i += 1
        ns = original(ours, namespace)
        ns.claude_args = argv[i:]
        return ns

    p.parse_args = parse_args  # type: ignore[method-assign]
    return code


def _tallied_writer() -> type:
    """LedgerWriter that also sums the session's attempts for the closing cost line (gateway imported lazily)."""
    from ..gateway.server import LedgerWriter
    from ..usage.tally import Tally

    class Tallied(LedgerWriter):  # type: ignore[misc, valid-type]
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.tally = Tally()

        def record(self, rec: Any) -> None:
            self.tally.add(rec)
            super().record(rec)

    return Tallied


def code(args: argparse.Namespace) -> int:
    """Start the gateway, run claude against it, stop the gateway; exit with claude's exit code."""
    import shutil

    from ..core.context import build
    from ..core.kept import shown
    from ..core.paths import state_dir
    from ..core.private import append_private
    from ..gateway import code as cc
    from ..gateway.server import Gateway, RunningGateway, bind

    ctx = build(args.config, args.profile)
    claude = cc.find_claude(ctx.config, os.environ)
    if claude is None:
        where = f"claude.path ({ctx.config.claude_path}) is not an executable file" if ctx.config.claude_path \
            else "`claude` is not on PATH"
        raise UserError(f"{where}; install Claude Code with `npm install -g @anthropic-ai/claude-code`, "
                        "or set claude.path in routes.yaml")
    for warning in ctx.loaded.warnings:
        print(f"routesh: warning: {warning}", file=sys.stderr)
    token = secrets.token_urlsafe(32)
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tmp = cc.make_tempdir()
    _Tallied = _tallied_writer()
    ledger: Any = None
    running: RunningGateway | None = None
    log_file = None
    try:
        cc.write_commands(ctx.config, tmp)
        from ..core.paths import ledger_file
        from ..usage.statusline_setup import settings_arg

        argv = [claude, f"--add-dir={tmp}", settings_arg(ledger_file(), ctx.profile), *args.claude_args]
        # claude starts before any thread exists (its pre-exec hook must run in a single-threaded process);
        # its first requests wait in the listening socket's backlog until the gateway accepts them.
        names = cc.model_names(ctx.config, ctx.catalog)
        env = cc.claude_env(os.environ, url, token, names, drop=cc.credential_vars(ctx.config))
        proc = cc.spawn(argv, env, os.getpid())
        with cc.SignalRelay(proc):
            try:
                if args.verbose:
                    path = Path(args.gateway_log) if args.gateway_log else state_dir() / "gateway.log"
                    log_file = append_private(path)

                def log(line: str) -> None:
                    if log_file is not None:
                        log_file.write(shown(line) + "\n")

                ledger = _Tallied(None, ctx.profile, log=log)
                gateway = Gateway(ctx, token, verbose=args.verbose, log=log, ledger=ledger)
                running = RunningGateway(gateway, sock).start()
            except BaseException:
                proc.terminate()
                cc.wait(proc)
                raise
            rc = cc.wait(proc)
        return rc
    finally:
        if running is not None:
            running.stop()
        if ledger is not None:
            ledger.close()
            if sys.stderr.isatty():  # like the shell's line under each answer
                from .code_end import closing_lines

                for line in closing_lines(ledger.tally, args.claude_args):
                    print(line, file=sys.stderr)
        if log_file is not None:
            log_file.close()
        sock.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ import-ccr

CCR_DEFAULT = "~/.claude-code-router/config.json"


def add_import_parser(p: argparse.ArgumentParser) -> Handler:
    """Convert a claude-code-router config.json into routes.yaml."""
    p.description = ("Convert a claude-code-router config.json into a routes.yaml: Providers become providers, "
                     "Router keys become `code:` routes. Keys are never copied: `$VAR` keys become key_env, "
                     "literal keys are left for `routesh keys set`. The YAML goes to stdout (or --output); "
                     "the commands to run and what could not be carried over go to stderr.")
    p.add_argument("path", nargs="?", default=CCR_DEFAULT, help=f"the config.json (default {CCR_DEFAULT})")
    p.add_argument("-o", "--output", metavar="FILE", help="write the routes.yaml here instead of stdout")
    p.add_argument("--force", action="store_true", help="with --output: replace an existing file")
    return import_ccr


def import_ccr(args: argparse.Namespace) -> int:
    """Read, convert, write; say what the user still has to do."""
    from .ccr_json import parse_config_text
    from .import_ccr import convert

    path = Path(args.path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; give the path of claude-code-router's config.json") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read it ({exc})") from None
    result = convert(parse_config_text(text), source=args.path)
    if args.output:
        out = Path(args.output).expanduser()
        if out.exists() and not args.force:
            raise UserError(f"{out} already exists; add --force to replace it, or choose another --output")
        from ..core.private import write_private

        write_private(out, result.yaml_text)
        print(f"routesh: wrote {out}; check it with `routesh config check {out}`", file=sys.stderr)
    else:
        sys.stdout.write(result.yaml_text if result.yaml_text.endswith("\n") else result.yaml_text + "\n")
        sys.stdout.flush()
    if result.key_commands:
        print("routesh: store the provider keys in the keyring (they are not in the YAML):", file=sys.stderr)
        for cmd in result.key_commands:
            print(f"  {cmd}", file=sys.stderr)
    for warning in result.warnings:
        print(f"routesh: not carried over: {warning}", file=sys.stderr)
    return 0
