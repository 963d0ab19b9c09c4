"""`routesh ui` over real sockets and a ledger filled by real runs: security, escaping, numbers, bad input."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from clirun import routesh
from uiworld import (
    GW_SESSION,
    KEY,
    UI,
    XSS_TAG,
    fill_ledger,
    home_env,
    ledger_path,
    request,
    running_ui,
    start_ui,
    stop,
    write_config,
)
from upstream import Upstream

from routesh.ui.html import usd

# the module's ledger is filled by real routesh runs (an `import anthropic` each): slow on a loaded machine
pytestmark = pytest.mark.timeout(480)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    home = tmp_path_factory.mktemp("uihome")
    with Upstream() as up:
        cfg = write_config(up, home / "routes.yaml")
        env = fill_ledger(up, home, cfg)
        yield from running_ui(env, cfg, home)


def rows(ui: UI) -> list[dict]:
    return json.loads(ui.routesh("log", "--json", "-n", "100").stdout)


# ------------------------------------------------------------------------------------------------ security


@pytest.mark.parametrize("token", [None, "", "wrong", "x" * 32])
def test_a_missing_or_wrong_token_is_401_and_shows_nothing(ui: UI, token: str | None) -> None:
    for path in ("/", "/requests", "/config", "/playground", "/static/app.js", "/request?id=x"):
        status, headers, body = ui.get(path, token=token)
        assert status == 401, path
        assert "default" not in body and "claude" not in body and "<" not in body
    status, _, body = request(ui.port, "POST", "/api/dry-run?token=nope", body=b'{"prompt": "hi"}',
                              headers={"Content-Type": "application/json"})
    assert status == 401 and '"route"' not in body


def test_the_token_is_compared_in_constant_time() -> None:
    import inspect

    from routesh.ui import server

    assert "hmac.compare_digest" in inspect.getsource(server.Handler._refusal)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "localhost.evil.example:{port}"])
def test_a_foreign_host_header_is_refused(ui: UI, host: str) -> None:
    status, _, body = ui.get("/", headers={"Host": host.format(port=ui.port)})
    assert status == 403 and "claude" not in body


def test_its_own_host_names_are_served(ui: UI) -> None:
    for host in (f"127.0.0.1:{ui.port}", f"localhost:{ui.port}"):
        status, _, _ = ui.get("/", headers={"Host": host})
        assert status == 200, host


def test_a_foreign_origin_is_refused_even_with_the_token(ui: UI) -> None:
    status, _ = ui.post_json("/api/dry-run", {"prompt": "hi"}, headers={"Origin": "http://evil.example"})
    assert status == 403
    status, _, _ = ui.get("/", headers={"Origin": f"http://evil.example:{ui.port}"})
    assert status == 403
    status, _ = ui.post_json("/api/dry-run", {"prompt": "hi"}, headers={"Origin": f"http://127.0.0.1:{ui.port}"})
    assert status == 200


class _Active(HTMLParser):
    """Collects what a browser would run: inline scripts, on* handlers, javascript: URLs, injected elements."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and not names.get("src", "").startswith("/static/"):
            self.found.append("inline script")
        if tag in ("img", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        for k, v in attrs:
            if k.startswith("on") or (v or "").strip().lower().startswith("javascript:"):
                self.found.append(f"{tag} {k}")
            if k in ("src", "href", "action") and (v or "").lower().startswith(("http:", "https:", "//")):
                self.found.append(f"{tag} {k} off the machine (a CDN?)")


def active_markup(html: str) -> list[str]:
    p = _Active()
    p.feed(html)
    return p.found


def _outside_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent for a UDP connect
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def test_a_peer_that_is_not_loopback_is_refused(tmp_path: Path) -> None:
    from routesh.ui.server import App, DashboardServer, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("192.168.1.5") and not is_loopback("::ffff:10.0.0.1") and not is_loopback("evil")
    addr = _outside_address()
    if addr is None:  # a developer box may be offline; in CI (CI set) this fails instead of being skipped
        from keyring_fixtures import skip_or_fail

        skip_or_fail("no non-loopback interface to connect from (the peer check needs an outside address)")
    app = App(token="t" * 20, ledger_path=tmp_path / "usage.db")
    server = DashboardServer(app, 0, host=addr)  # only a test binds elsewhere; the peer check still holds
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        app.port = server.server_address[1]
        status, _, body = request(app.port, "GET", f"/?token={'t' * 20}", host=addr,
                                  headers={"Host": f"127.0.0.1:{app.port}"})
        assert status == 403 and "only this machine" in body
    finally:
        server.shutdown()
        server.server_close()


def test_every_page_has_a_strict_csp_and_no_inline_script(ui: UI) -> None:
    for path in ("/", "/outcomes", "/requests", "/playground", "/config"):
        status, headers, body = ui.get(path)
        assert status == 200, path
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"
        assert active_markup(body) == [], path  # every script is a file; no inline handlers


# ------------------------------------------------------------------------------------------------ escaping


def test_an_xss_payload_in_a_tag_and_a_prompt_is_shown_as_text(ui: UI) -> None:
    [rid] = {r["request_id"] for r in rows(ui) if r["tag"] == XSS_TAG}
    status, _, body = ui.get("/requests")
    assert status == 200 and XSS_TAG not in body and active_markup(body) == []
    assert "&lt;img src=x onerror=alert(&#x27;tag&#x27;)&gt;" in body
    status, _, body = ui.get(f"/request?id={rid}")
    assert status == 200 and XSS_TAG not in body and "<script>alert" not in body and active_markup(body) == []
    assert "&lt;script&gt;alert(&#x27;prompt&#x27;)&lt;/script&gt;" in body  # the prompt, kept (log_prompts)
    status, _, body = ui.get("/requests?tag=" + "%3Cimg%20src%3Dx%20onerror%3Dalert(%27tag%27)%3E")
    assert status == 200 and rid in body and XSS_TAG not in body


def test_a_payload_in_the_query_is_escaped_too(ui: UI) -> None:
    status, _, body = ui.get("/requests?route=%3Cscript%3Ealert(1)%3C/script%3E&since=%22%3E%3Cb%3E")
    assert status == 200 and "<script>alert(1)" not in body and '"><b>' not in body
    assert "unknown route &#x27;&lt;script&gt;" in body


# ------------------------------------------------------------------------------------------------ numbers


def _metric(body: str, name: str) -> str:
    m = re.search(rf'data-metric="{name}"><div class="label">[^<]*</div><div class="value">([^<]*)<', body)
    assert m, name
    return m.group(1)


def test_spend_page_numbers_are_those_of_stats_json(ui: UI) -> None:
    stats = json.loads(ui.routesh("stats", "--json").stdout)
    status, _, body = ui.get("/")
    assert status == 200
    assert _metric(body, "spend") == usd(stats["total"]["spend_usd"])
    assert _metric(body, "requests") == f"{stats['total']['requests']:,}"
    assert _metric(body, "attempts") == f"{stats['total']['attempts']:,}"
    assert stats["total"]["requests"] >= 8 and stats["total"]["attempts"] > stats["total"]["requests"]  # a retry
    saved = stats["savings"]
    assert _metric(body, "baseline") == usd(saved["baseline_usd"])
    shown = float(re.search(r'data-savings="(-?[0-9.]+)"', body).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(saved["saved_usd"], abs=1e-6)
    assert ("more</strong> than the baseline" in body) == (saved["saved_usd"] < 0)
    for g in stats["groups"]:
        assert re.search(rf">{re.escape(g['key'])}</a></td><td class=num>{g['requests']}</td>", body), g["key"]
    assert body.count("<svg") == 2 and 'aria-label="spend per day by profile"' in body


def test_outcomes_table_is_stats_outcomes_json(ui: UI) -> None:
    want = json.loads(ui.routesh("stats", "--outcomes", "--json").stdout)
    status, _, body = ui.get("/outcomes")
    assert status == 200 and want["routes"]
    for r in want["routes"]:
        m = re.search(rf"<tr><td>{re.escape(r['route'])}</td><td class=num>([\d,]+)</td><td class=num>([\d,]+)</td>",
                      body)
        assert m and (m.group(1), m.group(2)) == (f"{r['sessions']:,}", f"{r['requests']:,}"), r["route"]
    assert "n=" in body and "data-sortable" in body and want["definitions"]["successful_session"] in body
    total = want["total"]
    shown = "—" if total["re_ask_rate"] is None else f"{total['re_ask_rate']:.1%}"
    assert f"{shown} <small class=\"muted\">n={total['sessions']}</small>" in body or total["re_ask_rate"] is None


def test_request_log_filters_match_log_json(ui: UI) -> None:
    all_rows = rows(ui)
    for name, value in (("route", "cheap"), ("profile", "work"), ("status", "error"), ("tag", "fallback")):
        status, _, body = ui.get(f"/requests?{name}={value}")
        assert status == 200
        shown = set(re.findall(r'class="rid" href="[^"]*">([0-9a-z-]+)</a>', body))
        key = name
        want = {r["request_id"] for r in all_rows if r[key] == value}
        assert shown == want and want, name
    status, _, body = ui.get(f"/requests?session={GW_SESSION}")
    assert len(re.findall(r'class="rid"', body)) == sum(1 for r in all_rows if r["session_id"] == GW_SESSION) == 3


def test_a_request_opens_to_its_routing_explanation(ui: UI) -> None:
    rid = next(r["request_id"] for r in rows(ui) if r["tag"] == "fallback")
    status, _, body = ui.get(f"/request?id={rid}")
    assert status == 200
    assert "<dt>Fallbacks taken</dt><dd>cheap</dd>" in body and "<dt>Retries</dt><dd>1</dd>" in body
    assert body.count("<h2>Attempt") == 3 and "HTTP 500" in body
    assert "the default profile" in body  # why this profile, recorded with the request
    assert "<dt>Secrets found</dt><dd>none found</dd>" in body
    assert re.search(r"<h2>Answer</h2><pre class=\"answer\">Hello from claude-haiku-4-5\.", body)  # the kept answer
    rid = next(r["request_id"] for r in rows(ui) if r["route"] == "cheap" and r["tag"] is None)
    status, _, body = ui.get(f"/request?id={rid}")
    assert "rule 1: /cheap" in body and "routes.yaml, line 11</a>)" in body
    assert re.search(r"<td>input</td><td class=num>\d+</td><td class=num>\$1/M</td>", body)  # haiku's price


def test_an_unknown_request_id_is_a_page_not_an_error(ui: UI) -> None:
    status, _, body = ui.get("/request?id=%3Cb%3Enope")
    assert status == 200 and "No request &lt;b&gt;nope in the ledger" in body


# ------------------------------------------------------------------------------------------------ bad input


def test_an_unknown_route_filter_says_did_you_mean(ui: UI) -> None:
    status, _, body = ui.get("/requests?route=chep")
    assert status == 200 and "unknown route &#x27;chep&#x27; (did you mean &#x27;cheap&#x27;?)" in body
    assert "No requests match these filters" in body
    status, _, body = ui.get("/requests?status=eror&since=3%20fortnights")
    assert status == 200 and "did you mean &#x27;error&#x27;" in body and "unknown unit" in body


def test_bad_page_numbers_and_unknown_pages(ui: UI) -> None:
    assert ui.get("/requests?page=abc")[0] == 200
    assert ui.get("/requests?page=-4")[0] == 200
    assert ui.get("/nothing-here")[0] == 404
    assert ui.get("/static/../routes.yaml")[0] == 404
    status, body = ui.post_json("/api/dry-run", "not an object")
    assert status == 400


def test_the_playground_answers_what_the_dry_run_answers(ui: UI) -> None:
    for prompt in ("/cheap summarise this", "/architect plan it", "hello"):
        status, got = ui.post_json("/api/dry-run", {"prompt": prompt})
        want = json.loads(ui.routesh("--dry-run", "--json", prompt).stdout)
        assert status == 200
        assert got["plan"] == want
    status, got = ui.post_json("/api/dry-run", {"prompt": "hi", "route": "chep"})
    assert "did you mean 'cheap'" in got["error"]
    status, got = ui.post_json("/api/dry-run", {"prompt": f"deploy with {KEY}"})
    assert KEY not in json.dumps(got)


def test_the_dashboard_never_writes_the_ledger(ui: UI) -> None:
    path = ledger_path(ui.home)
    before = (path.stat().st_mtime_ns, path.stat().st_size)
    for p in ("/", "/requests", "/outcomes", "/config"):
        ui.get(p)
    ui.post_json("/api/dry-run", {"prompt": "hi"})
    assert (path.stat().st_mtime_ns, path.stat().st_size) == before


def test_no_ledger_yet_is_an_empty_state_and_creates_nothing(tmp_path: Path) -> None:
    env = home_env(tmp_path)
    proc, url = start_ui(env, None)
    try:
        assert url
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        for path in ("/", "/requests", "/outcomes"):
            status, _, body = request(port, "GET", f"{path}?token={token}")
            assert status == 200 and "No requests recorded yet" in body, path
        status, _, body = request(port, "GET", f"/config?token={token}")
        assert status == 200 and "the built-in default" in body
        assert not ledger_path(tmp_path).exists() and not ledger_path(tmp_path).parent.exists()
    finally:
        stop(proc)


def test_a_corrupt_ledger_is_a_clear_line_and_exit_2(tmp_path: Path) -> None:
    env = home_env(tmp_path)
    ledger_path(tmp_path).parent.mkdir(parents=True)
    ledger_path(tmp_path).write_bytes(b"this is not a database, it is a text file" * 100)
    proc, url = start_ui(env, None)
    assert not url and proc.wait(10) == 2
    err = proc.stderr.read() if proc.stderr else ""
    assert "cannot read the usage ledger" in err and "move the file aside" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_a_locked_ledger_at_start_and_while_serving(tmp_path: Path) -> None:
    env = home_env(tmp_path)
    from routesh.core.events import AttemptRecord
    from routesh.usage.ledger import Ledger

    path = ledger_path(tmp_path)
    with Ledger(path) as led:
        led.record(AttemptRecord(ts=1e9, request_id="r1", attempt=1, profile="p", route="r", provider="x",
                                 model="m", via="api", status="ok"))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        proc, url = start_ui(env, None)
        assert not url and proc.wait(20) == 2
        err = proc.stderr.read() if proc.stderr else ""
        assert "locked" in err and "Traceback" not in err
    finally:
        holder.execute("COMMIT")
        holder.close()
    proc, url = start_ui(env, None)
    try:
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        assert request(port, "GET", f"/?token={token}")[0] == 200
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO misses (request_id, ts) VALUES ('r1', 1)")
        try:
            status, _, body = request(port, "GET", f"/requests?token={token}")
            assert status == 503 and "The usage ledger cannot be read" in body and "locked" in body
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert request(port, "GET", f"/requests?token={token}")[0] == 200  # and back once the lock is gone
    finally:
        stop(proc)


def test_the_config_page_lists_problems_with_their_lines(tmp_path: Path) -> None:
    env = home_env(tmp_path)
    cfg = tmp_path / "routes.yaml"
    cfg.write_text("default_route: default\nroutes:\n  default: {provider: nope, model: m}\nrulez: []\n")
    proc, url = start_ui(env, cfg)
    try:
        port, token = int(url.split(":")[2].split("/")[0]), url.split("token=")[1]
        status, _, body = request(port, "GET", f"/config?token={token}")
        assert status == 200 and "problems in the config" in body
        assert "unknown provider" in body and "did you mean &#x27;rules&#x27;" in body
        assert '<li class=bad id="L3">' in body and '<li class=bad id="L4">' in body
        status, _, body = request(port, "POST", f"/api/dry-run?token={token}", body=b'{"prompt": "hi"}',
                                  headers={"Content-Type": "application/json"})
        assert status == 200 and "the config has problems" in json.loads(body)["error"]
    finally:
        stop(proc)


def test_bad_port_is_a_usage_error() -> None:
    p = routesh("ui", "--port", "70000", "--no-open")
    assert p.returncode == 2 and "--port must be between 0 and 65535" in p.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        p = routesh("ui", "--port", str(s.getsockname()[1]), "--no-open")
        assert p.returncode == 2 and "choose another with --port" in p.stderr
