"""The request log with its filters, and one request's routing explanation (why it went where it went)."""

from __future__ import annotations

from typing import Any

from ..core.config import Config
from ..core.cost import cache_read_price, cache_write_price
from ..core.yamlnodes import did_you_mean
from .html import definition_list, esc, hidden, href, num, page, select, table, usd
from .rollup import Rollup
from .store import FILTERS, Filters, ReadOnlyLedger, log_page, request_attempts

STATUSES = ("ok", "error", "partial", "refused", "cancelled")


def filter_problems(menus: dict[str, list[str]], f: Filters, config: Config | None) -> list[str]:
    """One line per filter value nothing matches: an unknown route gets a did-you-mean, never an error page."""
    out = []
    if f.route is not None:
        known = list(dict.fromkeys([*menus["route"], *(config.routes if config else ())]))
        if f.route not in known:
            out.append(f"unknown route '{f.route}'{did_you_mean(f.route, known)}; routes: {', '.join(known) or 'none'}")
    if f.status is not None and f.status not in STATUSES:
        out.append(f"unknown status '{f.status}'{did_you_mean(f.status, STATUSES)}; statuses: {', '.join(STATUSES)}")
    for name in ("profile", "model"):
        value = getattr(f, name)
        if value is not None:
            known = menus[name]
            if value not in known:
                out.append(f"no request has {name} '{value}'{did_you_mean(value, known)}")
    return out


def requests_page(ledger: ReadOnlyLedger | None, rollup: Rollup, f: Filters, since: str, page_no: int, token: str,
                  config: Config | None) -> str:
    """The filter form, any did-you-mean, and one page of attempts, each linking to its explanation."""
    if ledger is None:
        return page("Requests", '<div class="empty"><p>No requests recorded yet.</p></div>', token=token,
                    active="/requests")
    menus = rollup.menus()
    problems = filter_problems(menus, f, config)
    form = (f'<form class="filters" method="get" action="/requests">{hidden({"token": token})}'
            + select("route", menus["route"], f.route, label="Route")
            + select("profile", menus["profile"], f.profile, label="Profile")
            + select("model", menus["model"], f.model, label="Model")
            + select("status", STATUSES, f.status, label="Status")
            + select("tag", menus["tag"], f.tag, label="Tag")
            + f'<label>Session <input name="session" value="{esc(f.session)}" size="14"></label>'
            + f'<label>Since <input name="since" value="{esc(since)}" size="6" placeholder="7d"></label>'
            + '<button>Filter</button></form>')
    notice = "<br>".join(esc(p) for p in problems)
    rows, more = log_page(ledger, f, page_no)
    current = {n: getattr(f, n) for n in FILTERS} | {"since": since}
    body_rows = [(
        f'<time>{esc(r["ts"][:19].replace("T", " "))}</time>',
        f'<a class="rid" href="{href("/request", token, id=r["request_id"])}">{esc(r["request_id"])}</a>',
        num(r["attempt"]), esc(r["route"]), esc(r["model"]),
        f'<span class="status s-{esc(r["status"])}">{esc(r["status"])}</span>',
        num(r["input_tokens"]), num(r["output_tokens"]), usd(r["cost_usd"], 6),
        num(r["latency_ms"], ",.0f"), esc(r["tag"]), esc((r["session_id"] or "")[:12]),
    ) for r in rows]
    if body_rows:
        listing = table(("Time (UTC)", "Request", "#", "Route", "Model", "Status", "In", "Out", "Cost", "ms", "Tag",
                         "Session"), body_rows, cls="log", numeric=(2, 6, 7, 8, 9))
    else:
        listing = '<div class="empty"><p>No requests match these filters.</p></div>'
    pager = ""
    if page_no > 0:
        pager += f'<a href="{href("/requests", token, **current, page=page_no - 1)}">← newer</a> '
    if more:
        pager += f'<a href="{href("/requests", token, **current, page=page_no + 1)}">older →</a>'
    return page("Requests", form + listing + (f'<p class="pager">{pager}</p>' if pager else ""), token=token,
                active="/requests", notice=notice)


def _rule_line(label: str | None, config: Config | None, source: str, token: str) -> str:
    """'rule 2: prefix /cheap' with where that rule is in the config in use (when it still exists there)."""
    if not label:
        return '<span class="muted">no rule matched: the default route</span>'
    out = esc(label)
    if config is not None and label.startswith("rule ") and ":" in label:
        try:
            idx = int(label[5:].split(":", 1)[0]) - 1
        except ValueError:
            return out
        if 0 <= idx < len(config.rules) and config.rules[idx].line:
            line = config.rules[idx].line
            link = f'<a href="{href("/config", token)}#L{line}">{esc(source)}, line {line}</a>'
            out += f' <span class="muted">({link})</span>'
    return out


def _cost_split(a: dict[str, Any], config: Config | None) -> str:
    """The attempt's cost by token kind, priced as the catalog in use prices them."""
    from ..core.catalog import Catalog

    if all(a.get(k) is None for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")):
        return f'<p class="muted">No usage reported; recorded cost {usd(a.get("cost_usd"), 6)}.</p>'

    info = Catalog(config.models if config else {}).get(a["model"])
    kinds = (("input", a.get("input_tokens"), info.input if info else None),
             ("output", a.get("output_tokens"), info.output if info else None),
             ("cache read", a.get("cache_read_tokens"), cache_read_price(info) if info else None),
             ("cache write", a.get("cache_write_tokens"), cache_write_price(info) if info else None))
    rows = [(esc(k), num(n), "—" if p is None else f"${p:g}/M", usd(None if p is None or n is None else n * p / 1e6, 6))
            for k, n, p in kinds]
    rows.append(("<strong>recorded cost</strong>", "", "", f"<strong>{usd(a.get('cost_usd'), 6)}</strong>"))
    return table(("Tokens", "Count", "Price", "Cost"), rows, cls="split", numeric=(1, 2, 3))


def request_page(ledger: ReadOnlyLedger | None, request_id: str, token: str, config: Config | None,
                 source: str) -> str:
    """Every attempt of one request: route, rule and config line, profile, fallbacks, retries, secrets, cost split."""
    attempts = [] if ledger is None or not request_id else request_attempts(ledger, request_id)
    if not attempts:
        return page("Request", f'<div class="empty"><p>No request {esc(request_id)!s} in the ledger.</p>'
                    f'<p><a href="{href("/requests", token)}">Back to the request log</a></p></div>',
                    token=token, active="/requests")
    first = attempts[0]
    routes = list(dict.fromkeys(a["route"] for a in attempts))
    retries = sum(1 for prev, a in zip(attempts, attempts[1:], strict=False) if a["route"] == prev["route"])
    extra = first.get("extra") or {}
    why_profile = extra.get("profile_why") or "not recorded for this request"
    secrets = extra.get("secrets") or ("none found" if "secrets" in extra else "not recorded for this request")
    summary = definition_list([
        ("Request", f"<code>{esc(request_id)}</code>"),
        ("Time (UTC)", esc(first["ts"])),
        ("Profile", f"{esc(first['profile'])} <span class=muted>({esc(why_profile)})</span>"),
        ("Rule", _rule_line(first.get("rule"), config, source, token)),
        ("Route chosen", esc(first["route"])),
        ("Fallbacks taken", esc(" → ".join(routes[1:])) if len(routes) > 1 else "none"),
        ("Retries", num(retries)),
        ("Secrets found", esc(secrets)),
        *((("Request class", esc(extra["class"])),) if extra.get("class") else ()),
        *((("Signals", esc(extra["signals"])),) if extra.get("signals") else ()),
        ("Tag", esc(first.get("tag")) or "—"),
        ("Session", f"<code>{esc(first.get('session_id'))}</code>" if first.get("session_id") else "—"),
        ("Routing miss", f"yes: {esc(first.get('miss_note') or '')}" if first.get("miss") else "no"),
    ])
    parts = [summary]
    for a in attempts:
        head = (f"<h2>Attempt {num(a['attempt'])}: {esc(a['route'])} → {esc(a['provider'])}/{esc(a['model'])} "
                f'<span class="status s-{esc(a["status"])}">{esc(a["status"])}</span></h2>')
        facts = definition_list([
            ("Via", esc(a["via"])),
            ("Latency", f"{num(a.get('latency_ms'), ',.0f')} ms" + (
                f" (first token after {num(a['ttft_ms'], ',.0f')} ms)" if a.get("ttft_ms") is not None else "")),
            *((("Error", f'<pre class="error">{esc(a["error"])}</pre>'),) if a.get("error") else ()),
            *((("Baseline cost", usd(a["baseline_cost_usd"], 6)),) if "baseline_cost_usd" in a else ()),
        ])
        parts.append(head + facts + _cost_split(a, config))
    if first.get("prompt"):
        parts.append(f'<h2>Prompt</h2><pre class="prompt">{esc(first["prompt"])}</pre>')
    elif first.get("prompt_chars"):
        parts.append(f"<p class=muted>Prompt not kept ({num(first['prompt_chars'])} characters; the profile's "
                     "log_prompts is off).</p>")
    answer = next((a["answer"] for a in reversed(attempts) if a.get("answer")), None)
    if answer:  # kept with the prompt where log_prompts allows (`routesh log --show` prints the same)
        parts.append(f'<h2>Answer</h2><pre class="answer">{esc(answer)}</pre>')
    return page(f"Request {request_id[:16]}", "".join(parts), token=token, active="/requests")
