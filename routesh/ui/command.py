"""`routesh ui`: check the ledger can be read, serve the dashboard on loopback, print (and maybe open) its address."""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable

from ..core.errors import UserError

Handler = Callable[[argparse.Namespace], int]


def add_parser(p: argparse.ArgumentParser) -> Handler:
    """The web dashboard over the usage ledger."""
    p.description = ("A local web dashboard over the usage ledger: spend by route and profile against the baseline, "
                     "outcomes per route, the request log with each request's routing explanation, a routing "
                     "playground and the config in use. Loopback only, read-only, a new token each run.")
    p.add_argument("--port", type=int, default=0, metavar="N", help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--no-open", action="store_true", help="print the address but do not open a browser")
    return run


def has_display() -> bool:
    """Whether a browser could show a window here (a desktop session, or macOS/Windows); never true over plain ssh."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; an unreadable ledger or a busy port is a two-line error and exit 2."""
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535 (got {args.port}); 0 picks a free port")
    from ..core.paths import ledger_file
    from ..usage.ledger import LedgerError
    from .server import App, DashboardServer
    from .store import open_ledger

    path = ledger_file()
    try:
        open_ledger(path)
    except LedgerError as exc:
        raise UserError(f"{exc}\nroutesh ui only reads the ledger; fix or move the file, then run it again") from None
    app = App(token=secrets.token_urlsafe(24), ledger_path=path, config_flag=args.config, profile_flag=args.profile)
    try:
        server = DashboardServer(app, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; "
                        "choose another with --port N, or --port 0 for a free one") from None
    import threading

    threading.Thread(target=app.warm, name="routesh-ui-warm", daemon=True).start()
    url = server.url()
    print(f"routesh ui: {url}", flush=True)
    print("  read-only over " + str(path) + ("" if path.exists() else " (no requests yet)") +
          "; Ctrl-C stops it", flush=True)
    if not args.no_open and has_display():
        import webbrowser

        try:
            webbrowser.open(url)
        except Exception:  # noqa: BLE001 - no browser is fine: the address is printed
            pass
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("routesh ui: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
