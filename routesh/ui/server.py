"""The dashboard's HTTP server: stdlib, threaded, loopback only, one token per run, every answer under a strict CSP."""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..usage.ledger import LedgerError
from .html import error_page
from .outcomes_cache import OutcomesCache
from .rollup import Rollup

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
MAX_BODY = 256 * 1024  # a playground prompt; anything bigger is refused unread


@dataclass
class App:
    """What every request needs: the token, the ledger's path, the config flags; the ledger opened once, lazily."""

    token: str
    ledger_path: Path
    config_flag: str | None = None
    profile_flag: str | None = None
    port: int = 0
    rollup: Rollup = field(default_factory=Rollup)
    outcomes: OutcomesCache = field(default_factory=OutcomesCache)
    _local: threading.local = field(default_factory=threading.local)

    def ledger(self) -> Any:
        """This request's read-only ledger (None while there is none yet); raises LedgerError when unreadable.

        Opened per request and closed by done(): a file moved aside, replaced or locked shows on the next page.
        """
        from .store import open_ledger

        if not hasattr(self._local, "ledger"):
            self._local.ledger = open_ledger(self.ledger_path)
        return self._local.ledger

    def warm(self) -> None:
        """Fold the whole ledger into the rollup now (at start, in the background), so no page waits for it."""
        try:
            ledger = self.ledger()
            if ledger is not None:
                self.rollup.refresh(ledger)
                from . import views
                from .page_spend import outcomes_available

                if outcomes_available():
                    key = views.DEFAULT_SINCE
                    self.outcomes.put(key, self.outcomes.state(ledger), views.outcomes_now(self, ledger, key))
        except Exception:  # noqa: BLE001 - the first page reports any problem, plainly
            pass
        finally:
            self.done()

    def done(self) -> None:
        """Close this request's ledger connection, if it opened one."""
        ledger = self._local.__dict__.pop("ledger", None)
        if ledger is not None:
            ledger.close()

    def allowed_hosts(self) -> frozenset[str]:
        """The Host values a page may be asked for (a DNS-rebinding page names its own host instead)."""
        return frozenset(f"{h}:{self.port}" for h in ("127.0.0.1", "localhost", "[::1]"))


def is_loopback(host: str) -> bool:
    """Whether a peer address is this machine (IPv4-mapped IPv6 included)."""
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(addr, "ipv4_mapped", None)
    return (mapped or addr).is_loopback


class Handler(BaseHTTPRequestHandler):
    """One request: refuse what is not ours (peer, Host, Origin, token), then route to a page."""

    server: DashboardServer
    protocol_version = "HTTP/1.1"
    server_version = "routesh-ui"
    sys_version = ""
    timeout = 30  # an idle or trickling connection is dropped, not kept for ever

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        """Quiet: URLs carry the token, and the terminal is the user's."""

    # -- gatekeeping --------------------------------------------------------------------------

    def _refusal(self) -> tuple[int, str] | None:
        """(status, text) when this request must not be served, checked before anything is read or shown."""
        app = self.server.app
        if not is_loopback(self.client_address[0]):
            return 403, "routesh ui answers only this machine"
        if self.headers.get("Host", "") not in app.allowed_hosts():
            return 403, "unexpected Host header: open the address routesh ui printed"
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in app.allowed_hosts()}:
            return 403, "cross-origin request refused"
        if self.headers.get("Sec-Fetch-Site") == "cross-site":
            return 403, "cross-site request refused"
        given = parse_qs(urlsplit(self.path).query).get("token", [""])[0]
        if not hmac.compare_digest(given.encode(), app.token.encode()):
            return 401, "401: this address needs the token routesh ui printed (…?token=…)"
        return None

    def _send(self, status: int, body: bytes, ctype: str, *, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in {"Content-Type": ctype, "Content-Length": str(len(body)), "Content-Security-Policy": CSP,
                     "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
                     "Cache-Control": "no-store", "Cross-Origin-Resource-Policy": "same-origin",
                     **(extra or {})}.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _text(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def _html(self, status: int, html: str) -> None:
        self._send(status, html.encode("utf-8"), "text/html; charset=utf-8")

    # -- methods ------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        refused = self._refusal()
        if refused:
            self._text(*refused)
            return
        self._guarded(self._get)

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        refused = self._refusal()
        if refused:
            self.close_connection = True
            self._text(*refused)
            return
        if urlsplit(self.path).path != "/api/dry-run":
            self._text(405, "only /api/dry-run takes a POST")
            return
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            self._text(415, "send JSON (Content-Type: application/json)")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._text(411, "a Content-Length is needed")
            return
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True
            self._text(413, f"a playground prompt is at most {MAX_BODY // 1024} KB")
            return
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
            prompt, route = str(data.get("prompt", "")), data.get("route") or None
        except (ValueError, AttributeError):
            self._text(400, 'send {"prompt": "...", "route": null}')
            return
        self._guarded(lambda: self._dry_run(prompt, None if route is None else str(route)))

    def _guarded(self, fn: Any) -> None:
        """Run a page; a ledger problem becomes a clear page, anything else a short 500 without a traceback."""
        app = self.server.app
        try:
            fn()
        except LedgerError as exc:
            from ..core.kept import shown

            self._html(503, error_page("The usage ledger cannot be read", [
                shown(str(exc)), "The dashboard only reads the ledger; it shows again once the file can be read "
                "(another routesh holding a lock lets go within seconds; a damaged file can be moved aside)."],
                token=app.token))
        except Exception as exc:  # noqa: BLE001 - one bad page must not stop the dashboard or show a traceback
            from ..core.errors import bug_location

            self._html(500, error_page("Internal error", [
                f"{type(exc).__name__}{bug_location(exc)}: this is a bug in routesh ui; please report it."],
                token=app.token))
        finally:
            app.done()

    def _get(self) -> None:
        from . import views

        parts = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith("/static/"):
            name = parts.path[len("/static/"):]
            if name not in STATIC:
                self._text(404, "no such file")
                return
            body = resources.files("routesh.ui").joinpath("static", name).read_bytes()
            self._send(200, body, STATIC[name])
            return
        status, html = views.render(self.server.app, parts.path, q, datetime.now().astimezone())
        self._html(status, html)

    def _dry_run(self, prompt: str, route: str | None) -> None:
        from . import views

        body = views.dry_run(self.server.app, prompt, route)
        self._send(200, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")


class DashboardServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer that carries the App and never outlives the command (daemon threads)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, app: App, port: int, host: str = "127.0.0.1") -> None:
        super().__init__((host, port), Handler)  # another host only in tests: peers are checked all the same
        self.app = app
        app.port = self.server_address[1]

    def url(self, path: str = "/") -> str:
        """The address to open, with the token."""
        return f"http://127.0.0.1:{self.app.port}{path}?token={self.app.token}"
