"""Finding kept exchanges again: one request by id prefix, recent ones, a conversation's turns (for -c/--cid).

Reads the ledger only; every failure is a UserError naming the fix (exit 2). Claude Code's own traffic
through the gateway (via 'gateway') is shown by id but never listed or continued: its rows are
requests of a tool loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.answers import Exchange
from ..core.errors import UserError

if TYPE_CHECKING:
    from .ledger import Ledger

# One row per request: its last attempt's fields, with the cost and count of all its attempts.
_EXCHANGE = (
    "SELECT a.request_id, (SELECT MIN(b.ts) FROM attempts b WHERE b.request_id = a.request_id), a.profile, a.route, "
    "a.model, a.via, a.status, (SELECT SUM(b.cost_usd) FROM attempts b WHERE b.request_id = a.request_id), "
    "(SELECT COUNT(*) FROM attempts b WHERE b.request_id = a.request_id), a.session_id, a.prompt, a.answer "
    "FROM attempts a WHERE a.attempt = "
    "(SELECT MAX(b.attempt) FROM attempts b WHERE b.request_id = a.request_id)"
)

_OWN = " AND a.via != 'gateway'"  # the shell's and the one-shot's exchanges, not Claude Code's tool loop


def _rows(ledger: Ledger, where: str, params: tuple[Any, ...], order: str = "a.ts DESC, a.id DESC",
          limit: int | None = None, skip: int = 0) -> list[Exchange]:
    sql = f"{_EXCHANGE}{where} ORDER BY {order}" + (" LIMIT ? OFFSET ?" if limit is not None else "")
    return [Exchange(*row) for row in _read(ledger, sql, (*params, *(() if limit is None else (limit, skip))))]


def _read(ledger: Ledger, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    from .ledger import LedgerError

    try:
        return ledger.select(sql, params)
    except LedgerError as exc:
        raise UserError(str(exc)) from None


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def exchange(ledger: Ledger, rid: str) -> Exchange:
    """The request whose id is rid or starts with it (like git's short ids); unknown and ambiguous are named."""
    rid = rid.strip()
    if not rid:
        raise UserError("give a request id, as `routesh log` prints it (a unique start of it is enough)")
    found = _rows(ledger, " AND a.request_id = ?", (rid,))
    if not found:
        found = _rows(ledger, " AND a.request_id LIKE ? ESCAPE '\\'", (_like(rid),), limit=6)
    if not found:
        raise UserError(f"no request {rid!r} in the usage ledger; `routesh log` lists the recent ones")
    if len(found) > 1:
        ids = ", ".join(e.request_id for e in found[:5])
        raise UserError(f"request id {rid!r} is ambiguous: it starts {ids}{' …' if len(found) > 5 else ''}; "
                        "give more characters")
    return found[0]


def recent(ledger: Ledger, profile: str, n: int, skip: int = 0) -> list[Exchange]:
    """The profile's latest n exchanges (after skipping the newest `skip`), newest first."""
    return _rows(ledger, f"{_OWN} AND a.profile = ?", (profile,), limit=n, skip=skip)


def count(ledger: Ledger, profile: str) -> int:
    """How many exchanges the profile has: /history numbers them 1 (the first) to this (the latest)."""
    return int(_read(ledger, "SELECT COUNT(DISTINCT request_id) FROM attempts WHERE profile = ? AND via != 'gateway'",
                     (profile,))[0][0])


def latest(ledger: Ledger, profile: str) -> str | None:
    """The conversation of the profile's latest exchange that kept its answer; None when there is none."""
    rows = _read(ledger, "SELECT session_id FROM attempts WHERE profile = ? AND via != 'gateway' AND "
                         "answer IS NOT NULL AND session_id IS NOT NULL ORDER BY ts DESC, id DESC LIMIT 1", (profile,))
    return str(rows[0][0]) if rows else None


def resolve(ledger: Ledger, cid: str, profile: str) -> str:
    """The conversation id cid names (a unique start is enough), if it is this profile's; else a UserError."""
    cid = cid.strip()
    if not cid:
        raise UserError("--cid needs a conversation id, as `routesh log --json` gives it (session_id)")
    sql = "SELECT DISTINCT session_id, profile FROM attempts WHERE via != 'gateway' AND session_id "
    rows = _read(ledger, sql + "= ?", (cid,)) or _read(ledger, sql + "LIKE ? ESCAPE '\\' LIMIT 12", (_like(cid),))
    ids = list(dict.fromkeys(str(r[0]) for r in rows))
    if not ids:
        raise UserError(f"no conversation {cid!r} in the usage ledger; `routesh log --show ID` names a request's "
                        "conversation, or continue the latest one with -c")
    if len(ids) > 1:
        raise UserError(f"conversation id {cid!r} is ambiguous: it starts {', '.join(ids[:5])}; "
                        "give more characters")
    others = sorted({str(r[1]) for r in rows if r[1] != profile})
    if others:
        raise UserError(f"conversation {ids[0]} belongs to profile '{others[0]}', not '{profile}': profiles never "
                        f"share a conversation; continue it with --profile {others[0]}, or start a new one")
    return ids[0]


def turns(ledger: Ledger, cid: str) -> list[Exchange]:
    """A conversation's exchanges, oldest first."""
    return _rows(ledger, f"{_OWN} AND a.session_id = ?", (cid,), order="a.ts, a.id")
