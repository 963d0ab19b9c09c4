"""The dashboard's view of the ledger: opened read-only (SQLite `mode=ro`), never migrated, never written."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..usage.ledger import Ledger, LedgerError
from ..usage.ledger_reads import iso_utc
from ..usage.ledger_schema import LOG_FIELDS

FILTERS: tuple[str, ...] = ("route", "profile", "model", "status", "tag", "session")
WAIT_MS = 1000  # a page waits at most this long for a writer's lock, then says the ledger is busy
_COLUMN_OF = {"session": "session_id"}
PAGE_SIZE = 50


class ReadOnlyLedger(Ledger):
    """A Ledger whose connection is opened read-only: the dashboard reuses the stats queries and cannot write."""

    def _open(self) -> sqlite3.Connection:
        if self.path is None:
            raise LedgerError("the dashboard needs a ledger file")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=WAIT_MS / 1000, isolation_level=None,
                               check_same_thread=False, cached_statements=64)
        try:
            conn.execute(f"PRAGMA busy_timeout = {WAIT_MS}")
            conn.execute("PRAGMA query_only = 1")
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # "not a database" shows here
        except BaseException:
            conn.close()
            raise
        return conn

    def columns(self) -> frozenset[str]:
        """The attempts table's columns in this file (newer routesh versions add some)."""
        return frozenset(str(r[1]) for r in self._query("PRAGMA table_info(attempts)"))

    def has_table(self) -> bool:
        """Whether the file has an attempts table (a ledger routesh has written to)."""
        return bool(self._query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'attempts'"))


def open_ledger(path: Path) -> ReadOnlyLedger | None:
    """The ledger at path, checked readable now; None when there is none yet; raises LedgerError when unreadable."""
    if not path.exists():
        return None
    ledger = ReadOnlyLedger(path)
    ledger._reader()  # noqa: SLF001 - open now, so a corrupt file is reported at start
    if not ledger.has_table():
        return None
    return ledger


@dataclass(frozen=True)
class Filters:
    """The request log's filters, each None when not set; since as a Unix timestamp."""

    route: str | None = None
    profile: str | None = None
    model: str | None = None
    status: str | None = None
    tag: str | None = None
    session: str | None = None
    since_ts: float | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (attempts aliased a) and its parameters."""
        clauses, params = [], []
        for name in FILTERS:
            value = getattr(self, name)
            if value is not None:
                clauses.append(f"a.{_COLUMN_OF.get(name, name)} = ?")
                params.append(value)
        if self.since_ts is not None:
            clauses.append("a.ts >= ?")
            params.append(self.since_ts)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def log_page(ledger: ReadOnlyLedger, f: Filters, page: int = 0) -> tuple[list[dict[str, Any]], bool]:
    """One page of attempts, newest first, as `log --json` objects plus tag and session; and whether more follow."""
    where, params = f.where()
    cols = ", ".join(f"a.{c}" for c in (*LOG_FIELDS, "rule", "tag", "session_id"))
    rows = ledger._query(  # noqa: SLF001
        f"SELECT {cols} FROM attempts a{where} ORDER BY a.ts DESC, a.id DESC LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE + 1, page * PAGE_SIZE])
    names = (*LOG_FIELDS, "rule", "tag", "session_id")
    out = []
    for row in rows[:PAGE_SIZE]:
        d = dict(zip(names, row, strict=True))
        d["ts"] = iso_utc(d["ts"])
        out.append(d)
    return out, len(rows) > PAGE_SIZE


def request_attempts(ledger: ReadOnlyLedger, request_id: str) -> list[dict[str, Any]]:
    """Every attempt of one request, in order, with all stored columns (extra parsed) and its miss mark."""
    cols = sorted(ledger.columns() - {"id"})
    rows = ledger._query(  # noqa: SLF001
        f"SELECT {', '.join('a.' + c for c in cols)}, m.request_id IS NOT NULL, m.note FROM attempts a "
        "LEFT JOIN misses m ON m.request_id = a.request_id WHERE a.request_id = ? ORDER BY a.attempt, a.id",
        (request_id,))
    out = []
    for row in rows:
        d = dict(zip((*cols, "miss", "miss_note"), row, strict=True))
        d["ts"] = iso_utc(d["ts"])
        try:
            d["extra"] = json.loads(d["extra"]) if d.get("extra") else {}
        except ValueError:
            d["extra"] = {}
        out.append(d)
    return out
