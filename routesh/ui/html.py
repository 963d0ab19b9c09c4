"""HTML building blocks: every value from the ledger or the config goes through `esc`, so a prompt is never markup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlencode

NAV: tuple[tuple[str, str], ...] = (("/", "Spend"), ("/outcomes", "Outcomes"), ("/requests", "Requests"),
                                    ("/playground", "Playground"), ("/config", "Config"))


def esc(value: object) -> str:
    """Text for HTML content or a quoted attribute: &, <, >, " and ' escaped."""
    return escape("" if value is None else str(value), quote=True)


def href(path: str, token: str, **params: object) -> str:
    """A link inside the dashboard, carrying the run's token; None params left out."""
    query = {"token": token, **{k: v for k, v in params.items() if v is not None and v != ""}}
    return esc(f"{path}?{urlencode(query)}")


def usd(value: float | None, digits: int = 4) -> str:
    """Dollars for a cell: '—' when unknown, the sign before the $, and 6 decimals for amounts under a cent."""
    if value is None:
        return "—"
    if value and abs(value) < 0.01:
        digits = max(digits, 6)
    return f"{'-' if value < 0 else ''}${abs(value):,.{digits}f}"


def num(value: float | int | None, fmt: str = ",") -> str:
    """A number for a table cell: '—' when unknown."""
    return "—" if value is None else format(value, fmt)


def table(head: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "", sortable: bool = False,
          numeric: Sequence[int] = ()) -> str:
    """A table whose cells are already HTML (escape before); numeric columns are right-aligned."""
    attrs = f' class="{esc(cls)}"' if cls else ""
    if sortable:
        attrs += " data-sortable"
    ths = "".join(f'<th{" class=num" if i in numeric else ""} scope="col">{esc(h)}</th>'
                  for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in numeric else ""}>{c}</td>'
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f'<div class="scroll"><table{attrs}><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table></div>'


def definition_list(items: Iterable[tuple[str, str]]) -> str:
    """A <dl> of label → HTML value pairs (values already escaped)."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in items) + "</dl>"


def select(name: str, options: Sequence[str], current: str | None, *, label: str) -> str:
    """A filter menu with an 'any' choice; the current value stays listed even when unknown."""
    values = list(options)
    if current and current not in values:
        values.insert(0, current)
    opts = '<option value="">any</option>' + "".join(
        f'<option value="{esc(v)}"{" selected" if v == current else ""}>{esc(v)}</option>' for v in values)
    return f'<label>{esc(label)} <select name="{esc(name)}">{opts}</select></label>'


def hidden(fields: Mapping[str, Any]) -> str:
    """Hidden inputs (the token, mostly) for a GET form."""
    return "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())


def page(title: str, body: str, *, token: str, active: str, notice: str = "") -> str:
    """The whole document: nav, the body (already HTML), and the one script and stylesheet, both from /static."""
    nav = "".join(f'<a href="{href(p, token)}"{" aria-current=page" if p == active else ""}>{esc(t)}</a>'
                  for p, t in NAV)
    banner = f'<p class="notice" role="status">{notice}</p>' if notice else ""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · routesh</title><link rel="icon" href="data:,">'
        f'<link rel="stylesheet" href="/static/style.css?token={esc(token)}">'
        f'<script src="/static/app.js?token={esc(token)}" defer></script></head>'
        f'<body><header><span class="brand">routesh</span><nav>{nav}</nav></header>'
        f"<main><h1>{esc(title)}</h1>{banner}{body}</main></body></html>"
    )


def error_page(title: str, lines: Sequence[str], *, token: str | None) -> str:
    """A plain page for a problem the user can fix (a corrupt or busy ledger): what is wrong, what to do."""
    body = "".join(f"<p>{esc(line)}</p>" for line in lines)
    if token is None:
        return f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(title)}</title></head>" \
               f"<body><h1>{esc(title)}</h1>{body}</body></html>"
    return page(title, f'<div class="problem">{body}</div>', token=token, active="")
