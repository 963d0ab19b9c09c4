"""`routesh ui` in a real browser (Debian's chromium, headless, driven by Playwright; nothing is downloaded).

The ledger is filled by real runs through the test upstream; the numbers on the page are checked against
`routesh stats --json` and `routesh log --json`; screenshots are saved under the test's temp dir.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring_fixtures import skip_or_fail
from uiworld import UI, XSS_TAG, fill_ledger, running_ui, write_config
from upstream import Upstream

from routesh.ui.html import usd

# the module's ledger is filled by real routesh runs (an `import anthropic` each): slow on a loaded machine
pytestmark = pytest.mark.timeout(480)

CHROMIUM = os.environ.get("ROUTESH_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UI]:
    home = tmp_path_factory.mktemp("uibrowser")
    with Upstream() as up:
        cfg = write_config(up, home / "routes.yaml")
        env = fill_ledger(up, home, cfg)
        yield from running_ui(env, cfg, home)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        skip_or_fail("chromium is not installed (Debian: apt-get install chromium chromium-driver; .ci/run does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 900}, timeout=60_000)
        try:
            yield ctx
        finally:
            ctx.close()


class Watched:
    """A page plus everything that must not happen on it: dialogs (an XSS would alert), CSP violations, errors."""

    def __init__(self, ctx: Any, shots: Path) -> None:
        self.page = ctx.new_page()
        self.page.set_default_timeout(30_000)
        self.shots = shots
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def open(self, ui: UI, path: str) -> Any:
        sep = "&" if "?" in path else "?"
        self.page.goto(f"http://127.0.0.1:{ui.port}{path}{sep}token={ui.token}")
        return self.page

    def shot(self, name: str) -> Path:
        out = self.shots / f"{name}.png"
        self.page.screenshot(path=str(out), full_page=True)
        assert out.stat().st_size > 5000
        return out

    def clean(self) -> None:
        assert self.dialogs == [] and self.errors == [], (self.dialogs, self.errors)


@pytest.fixture
def watched(browser_context: Any, tmp_path: Path) -> Iterator[Watched]:
    w = Watched(browser_context, tmp_path)
    try:
        yield w
    finally:
        w.page.close()


def test_spend_page_shows_the_numbers_stats_json_gives(ui: UI, watched: Watched) -> None:
    stats = json.loads(ui.routesh("stats", "--json").stdout)
    page = watched.open(ui, "/")
    assert page.locator("[data-metric=spend] .value").inner_text() == usd(stats["total"]["spend_usd"])
    assert page.locator("[data-metric=requests] .value").inner_text() == str(stats["total"]["requests"])
    assert page.locator("[data-metric=attempts] .value").inner_text() == str(stats["total"]["attempts"])
    assert page.locator("svg.chart").count() == 2
    rows = page.locator("table.routes tbody tr")
    shown = {rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).locator("td").nth(1).inner_text()
             for i in range(rows.count())}
    assert shown == {g["key"]: str(g["requests"]) for g in stats["groups"]}
    page.locator("table.routes th", has_text="Requests").click()  # sortable: descending first
    firsts = [int(rows.nth(i).locator("td").nth(1).inner_text()) for i in range(rows.count())]
    assert firsts == sorted(firsts, reverse=True)
    watched.shot("spend")
    watched.clean()


def test_request_log_filters_and_explanation(ui: UI, watched: Watched) -> None:
    log = json.loads(ui.routesh("log", "--json", "-n", "100").stdout)
    page = watched.open(ui, "/requests")
    assert page.locator("a.rid").count() == len(log)
    assert page.locator("table.log td").get_by_text(XSS_TAG, exact=True).count() == 1  # shown as text, not run
    page.select_option("select[name=route]", "cheap")  # a change submits the form
    page.wait_for_url(re.compile(r"route=cheap"))
    assert page.locator("a.rid").count() == sum(1 for r in log if r["route"] == "cheap")
    watched.shot("requests-cheap")
    fallback = next(r["request_id"] for r in log if r["tag"] == "fallback")
    page = watched.open(ui, f"/request?id={fallback}")
    assert page.locator("dt:text-is('Fallbacks taken') + dd").inner_text() == "cheap"
    assert page.locator("h2", has_text="Attempt").count() == 3
    watched.shot("request-explained")
    xss = next(r["request_id"] for r in log if r["tag"] == XSS_TAG)
    page = watched.open(ui, f"/request?id={xss}")
    assert "<script>alert('prompt')</script>" in page.locator("pre.prompt").inner_text()
    watched.shot("request-xss")
    page = watched.open(ui, "/requests?route=chep")
    assert "did you mean 'cheap'" in page.locator(".notice").inner_text()
    watched.clean()


def test_the_playground_follows_the_typing(ui: UI, watched: Watched) -> None:
    from playwright.sync_api import expect

    page = watched.open(ui, "/playground")
    box = page.locator("#prompt")
    box.click()
    page.keyboard.type("/cheap summarise this log", delay=15)
    want = json.loads(ui.routesh("--dry-run", "--json", "/cheap summarise this log").stdout)
    expect(page.locator(".verdict strong")).to_have_text("cheap")  # (wait_for_function would need unsafe-eval)
    assert json.loads(page.locator("#plan-json").text_content() or "{}")["plan"] == want
    watched.shot("playground-cheap")
    box.fill("")
    page.keyboard.type("/architect split billing from the monolith", delay=10)
    expect(page.locator(".verdict strong")).to_have_text("architect")
    assert "rule 2" in page.locator("#plan").inner_text()
    page.fill("#route", "chep")
    expect(page.locator("#plan .problem")).to_contain_text("did you mean 'cheap'")
    watched.shot("playground-error")
    watched.clean()


def test_outcomes_and_config_pages(ui: UI, watched: Watched) -> None:
    page = watched.open(ui, "/outcomes")
    assert page.locator("h1").inner_text() == "Outcomes"
    watched.shot("outcomes")
    page = watched.open(ui, "/config")
    assert page.locator("strong.ok").inner_text() == "Valid:"
    assert page.locator("ol.source li").count() > 10
    watched.shot("config")
    watched.clean()
