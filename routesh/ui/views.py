"""Which page a path shows, with its query read and checked: the glue between the server and the page modules."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .html import esc, page

if TYPE_CHECKING:
    from .server import App

DEFAULT_SINCE = "7d"  # as `routesh stats`, so the two show the same numbers by default


def _since(q: dict[str, str], now: datetime, default: str = DEFAULT_SINCE) -> tuple[str, datetime, str]:
    """(the period's text, its start, a problem line or ''): a bad period falls back to the default, said plainly."""
    from ..usage.since import parse_since

    text = q.get("since", "").strip() or default
    try:
        return text, parse_since(text, now), ""
    except ValueError as exc:
        return default, parse_since(default, now), f"{exc}; showing {default}"


def render(app: App, path: str, q: dict[str, str], now: datetime) -> tuple[int, str]:
    """(status, HTML) for a GET."""
    pages = {"/": _spend, "/outcomes": _outcomes, "/requests": _requests, "/request": _request,
             "/playground": _playground, "/config": _config}
    view = pages.get(path)
    if view is None:
        return 404, page("Not found", f"<p>No page {esc(path)} here.</p>", token=app.token, active="")
    return 200, view(app, q, now)


def _spend(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_spend import spend_page

    since, since_dt, problem = _since(q, now)
    ledger = app.ledger()
    w = None if ledger is None else app.rollup.window(ledger, since_dt.timestamp(), now.timestamp() + 1)
    return _with_notice(spend_page(w, app.token, since), problem)


def _with_notice(html: str, problem: str) -> str:
    if not problem:
        return html
    return html.replace("</h1>", f'</h1><p class="notice" role="status">{esc(problem)}</p>', 1)


def _outcomes(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_spend import outcomes_available, outcomes_page

    since, since_dt, problem = _since(q, now)
    ledger = app.ledger()
    if ledger is None:
        return _with_notice(outcomes_page(None, app.token, since), problem)
    if not outcomes_available():
        return outcomes_page(None, app.token, since, "This routesh does not record outcome signals yet.")
    report, stale_at = app.outcomes.get(since, ledger, lambda: outcomes_now(app, ledger, since),
                                        lambda: outcomes_later(app, since))
    if stale_at is not None:
        when = datetime.fromtimestamp(stale_at).astimezone().strftime("%H:%M:%S")
        problem = " ".join(x for x in (problem, f"As of {when}; newer requests are being counted: reload soon.") if x)
    return _with_notice(outcomes_page(report, app.token, since), problem)


def outcomes_now(app: App, ledger: Any, since: str) -> dict[str, Any]:
    """`stats --outcomes --json` for a period, against the config in use (it names the baseline)."""
    from ..usage.outcomes import outcomes_report
    from .page_config import load

    now = datetime.now().astimezone()
    _, since_dt, _ = _since({"since": since}, now)
    state = load(app.config_flag, app.profile_flag)
    return outcomes_report(ledger, since_ts=since_dt.timestamp(), until_ts=now.timestamp() + 1,
                           config=state.ctx.config if state.ctx else None,
                           catalog=state.ctx.catalog if state.ctx else None)


def outcomes_later(app: App, since: str) -> None:
    """The background refresh: its own read-only connection, its own thread."""
    try:
        ledger = app.ledger()
        if ledger is not None:
            state = app.outcomes.state(ledger)
            app.outcomes.put(since, state, outcomes_now(app, ledger, since))
    except Exception:  # noqa: BLE001 - the page keeps the last report and the next page tries again
        pass
    finally:
        app.outcomes.failed(since)
        app.done()


def _requests(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_config import load
    from .page_requests import requests_page
    from .store import FILTERS, Filters

    since_text = q.get("since", "").strip()
    problem = ""
    since_ts = None
    if since_text:
        since_text, since_dt, problem = _since(q, now)
        since_ts = since_dt.timestamp()
    values = {n: (q.get(n) or "").strip() or None for n in FILTERS}
    f = Filters(**values, since_ts=since_ts)
    try:
        page_no = max(0, min(int(q.get("page", "0")), 100_000))
    except ValueError:
        page_no = 0
    state = load(app.config_flag, app.profile_flag)
    ledger = app.ledger()
    if ledger is not None:
        app.rollup.refresh(ledger)
    html = requests_page(ledger, app.rollup, f, since_text, page_no, app.token,
                         state.ctx.config if state.ctx else None)
    return _with_notice(html, problem)


def _request(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_config import load
    from .page_requests import request_page

    state = load(app.config_flag, app.profile_flag)
    source = str(state.ctx.loaded.path or "the built-in default") if state.ctx else "the config"
    return request_page(app.ledger(), q.get("id", "").strip(), app.token, state.ctx.config if state.ctx else None,
                        source)


def _playground(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_config import playground_page

    return playground_page(app.token)


def _config(app: App, q: dict[str, str], now: datetime) -> str:
    from .page_config import config_page, load

    return config_page(load(app.config_flag, app.profile_flag), app.token)


def dry_run(app: App, prompt: str, route: str | None) -> dict[str, Any]:
    """The playground's answer: the dry-run JSON, with budgets counted from the read-only ledger."""
    from .page_config import dry_run as plan
    from .page_config import load

    def spent(profile: str, day: datetime, month: datetime) -> tuple[float, float]:
        from ..core.errors import PolicyRefusal
        from ..usage.ledger import LedgerError

        try:  # as the CLI: a budget that cannot be checked is not waved through
            ledger = app.ledger()
            if ledger is None:
                return 0.0, 0.0
            return ledger.spent(profile, day.timestamp()), ledger.spent(profile, month.timestamp())
        except LedgerError as exc:
            raise PolicyRefusal(f"refused, nothing was sent: profile '{profile}' has a budget but {exc}") from None

    return plan(load(app.config_flag, app.profile_flag), prompt, route, spent)
