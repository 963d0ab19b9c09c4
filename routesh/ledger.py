"""The usage ledger: one SQLite row per attempt, so spend, budgets, `routesh log` and stats share one record.

Writing never breaks a request: `record()` swallows every failure, warns once on stderr and
reports it through its return value and `Ledger.failures`. The file is WAL-mode SQLite with
synchronous=NORMAL, so a killed process loses at most the attempt in flight, and several
routesh processes (shell, gateway, one-shots) can write at once.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, tzinfo
from operator import attrgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .events import AttemptRecord

if TYPE_CHECKING:
    from .stats import StatsReport

BUSY_TIMEOUT_MS = 5000  # how long a writer waits for another process's write before giving up

from .ledger_schema import _INSERT, COLUMNS, LOG_EXTRA_FIELDS, LOG_FIELDS, MIGRATIONS, SCHEMA_VERSION

_values = attrgetter(*COLUMNS)

def scrub(text: str | None) -> str | None:
    """Redact what screening finds, mask key shapes, drop terminal escapes: the ledger keeps no credential."""
    from .kept import shown

    return shown(text) if text else text


_LOCKED_RETRIES = 8  # ~2.5 s in all at worst, for "database is locked" that the busy handler did not absorb


class LedgerError(Exception):
    """The ledger could not be read (the write path never raises this)."""


def iso_utc(ts: float) -> str:
    """A Unix timestamp as ISO-8601 UTC with milliseconds (2025-01-31T09:00:00.000+00:00)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _as_ts(when: float | datetime | None) -> float | None:
    """A bound given as a Unix timestamp or an aware datetime → Unix timestamp."""
    if when is None or isinstance(when, (int, float)):
        return when
    if when.tzinfo is None:
        raise ValueError("pass an aware datetime (with a time zone) or a Unix timestamp")
    return when.timestamp()


def _ensure_file(path: Path) -> None:
    """Create the file 0600 (its directories 0700) before SQLite does; SQLite gives -wal/-shm the same mode."""
    from .private import create_private

    create_private(path)


def creation_problem(path: Path) -> str | None:
    """Why a ledger could not be created at path, or None; creates nothing (for budgets checked on a dry run)."""
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        return f"the usage ledger {path} cannot be created: {parent} is not a directory"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the usage ledger {path} cannot be created: {parent} is not writable"
    return None


class Ledger:
    """The SQLite usage store: `record()` on the request path; `recent`, `spent`, `stats` for log, budgets, stats."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, warn: IO[str] | None = None) -> None:
        if path is None:
            from .paths import ledger_file

            path = ledger_file()
        self.path = Path(path) if str(path) != ":memory:" else None
        self._warn = warn
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one statement at a time on the shared connection
        self._open_lock = threading.Lock()  # one open (and migration) per Ledger
        self._warned = False
        self.failures = 0  # record() calls that did not store their row
        self.last_error: str | None = None  # why the latest failed record() failed

    # -- connection ---------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """Open (creating 0600 in a 0700 directory if needed), set pragmas and migrate; once per Ledger."""
        with self._open_lock:
            if self._conn is None:
                self._conn = self._open()
            return self._conn

    def _open(self) -> sqlite3.Connection:
        """A new, migrated connection with the pragmas the ledger relies on."""
        if self.path is None:
            target = ":memory:"
        else:
            _ensure_file(self.path)
            target = str(self.path)
        conn = sqlite3.connect(
            target, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self.path is not None:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> None:
        """Apply the migrations this file has not had yet, in order, each under a write lock."""
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        if all(m[0] in applied for m in MIGRATIONS):
            return
        for version, name, statements in MIGRATIONS:  # by number, gaps allowed: a branch's later number may be in
            if version in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,)).fetchone()
                if not done:
                    for sql in statements:
                        conn.execute(sql)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                        (version, name, time.time()),
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _reader(self) -> sqlite3.Connection:
        """The connection for a read path; failures become a LedgerError that names the file and a fix."""
        try:
            return self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise self._read_error(exc) from exc

    def _read_error(self, exc: BaseException) -> LedgerError:
        """A plain-language error for a ledger that cannot be read."""
        where = self.path or ":memory:"
        hint = ""
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            hint = "; move the file aside and routesh will start a new ledger"
        return LedgerError(f"cannot read the usage ledger {where}: {exc}{hint}")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query under the connection lock."""
        conn = self._reader()
        try:
            with self._lock:
                return conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc

    def check_writable(self) -> None:
        """Raise LedgerError unless a row could be stored now: a budget must be able to count what it lets through."""
        conn = self._reader()
        try:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot write to the usage ledger {self.path or ':memory:'}: {exc}") from exc

    def checkpoint(self) -> bool:
        """Fold the WAL into the database now (PASSIVE: never waits); for idle moments, e.g. between shell prompts.

        SQLite also does this by itself every ~1000 pages, inside whichever record() crosses
        the mark (a few ms, once every few hundred attempts); calling this when idle keeps
        that cost off the request path. Never raises; False if it did not run.
        """
        if self._conn is None or self.path is None:
            return False
        try:
            with self._lock:
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL when the last one closes)."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ok(self) -> bool:
        """True while every record() so far has stored its row."""
        return self.failures == 0

    # -- writing ------------------------------------------------------------------------------

    def record(self, rec: AttemptRecord) -> bool:
        """Store one attempt; never raises (a failure warns once on stderr and returns False)."""
        try:
            params = (*_values(rec), json.dumps(dict(rec.extra), separators=(",", ":")) if rec.extra else None)
            params = _scrubbed(params)
            for attempt in range(_LOCKED_RETRIES + 1):
                try:
                    conn = self._conn if self._conn is not None else self._connect()  # opening can race too
                    with self._lock:
                        conn.execute(_INSERT, params)
                    return True
                except sqlite3.OperationalError as exc:
                    # SQLite skips the busy handler in a few cases (WAL recovery, a lock upgrade that could
                    # deadlock): "database is locked" at once. Those clear in milliseconds; try again briefly.
                    if "locked" not in str(exc) or attempt == _LOCKED_RETRIES:
                        raise
                    time.sleep(0.005 * 2**attempt)
            return False  # pragma: no cover - the loop returns or raises
        except Exception as exc:  # noqa: BLE001 - a ledger problem must never cost the user their answer
            self._failed(exc)
            return False

    def _failed(self, exc: BaseException) -> None:
        """Count a failed write; warn on stderr the first time only."""
        self.failures += 1
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self._warned:
            return
        self._warned = True
        stream = self._warn if self._warn is not None else sys.stderr
        try:
            stream.write(
                f"routesh: warning: usage not recorded in {self.path or ':memory:'} ({self.last_error}); "
                "answers are unaffected\n"
            )
            stream.flush()
        except Exception:  # noqa: BLE001 - even a closed stderr must not break the request
            pass

    def mark_miss(
        self,
        request_id: str | None = None,
        note: str | None = None,
        *,
        profile: str | None = None,
        now: float | None = None,
    ) -> str | None:
        """Mark a request (default: the latest, optionally of one profile) as a routing miss; returns its id.

        A unique prefix of a request id is enough. Returns None when the ledger has no
        request yet; raises LedgerError for an unknown or ambiguous id. Marking again
        replaces the note (if a new one is given).
        """
        if request_id is None:
            sql = "SELECT request_id FROM attempts"
            params: tuple[Any, ...] = ()
            if profile is not None:
                sql += " WHERE profile = ?"
                params = (profile,)
            rows = self._query(sql + " ORDER BY ts DESC, id DESC LIMIT 1", params)
            if not rows:
                return None
            rid = rows[0][0]
        else:
            rid = self._resolve_request(request_id)
        conn = self._reader()
        try:
            with self._lock:
                conn.execute(
                    "INSERT INTO misses (request_id, ts, note) VALUES (?, ?, ?) "
                    "ON CONFLICT(request_id) DO UPDATE "
                    "SET ts = excluded.ts, note = COALESCE(excluded.note, misses.note)",
                    (rid, time.time() if now is None else now, scrub(note)),
                )
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc
        return rid

    def _resolve_request(self, request_id: str) -> str:
        """An exact request id, or the one request whose id starts with the given prefix."""
        if self._query("SELECT 1 FROM attempts WHERE request_id = ? LIMIT 1", (request_id,)):
            return request_id
        escaped = request_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self._query(
            "SELECT DISTINCT request_id FROM attempts WHERE request_id LIKE ? ESCAPE '\\' LIMIT 2", (escaped + "%",)
        )
        if not rows:
            raise LedgerError(f"no request {request_id!r} in the usage ledger (see `routesh log`)")
        if len(rows) > 1:
            raise LedgerError(f"request id {request_id!r} is ambiguous; give more characters (see `routesh log`)")
        return str(rows[0][0])

    # -- reading ------------------------------------------------------------------------------

    def recent(
        self,
        n: int | None = 20,
        route: str | None = None,
        since: float | datetime | None = None,
        profile: str | None = None,
        *,
        include_prompt: bool = False,
    ) -> list[dict[str, Any]]:
        """The latest n attempts, newest first, as `routesh log --json` objects (ts as ISO-8601 UTC).

        Besides the DESIGN.md fields each object has rule, tag, prompt_sha256, prompt_chars,
        session_id, miss and miss_note; `prompt` only with include_prompt=True.
        """
        where, params = _filters(since=since, route=route, profile=profile)
        cols = ", ".join(f"a.{c}" for c in (*LOG_FIELDS, *LOG_EXTRA_FIELDS[:5]))
        if include_prompt:
            cols += ", a.prompt"
        sql = (
            f"SELECT {cols}, m.request_id IS NOT NULL, m.note, a.extra, a.baseline_cost_usd FROM attempts a "
            f"LEFT JOIN misses m ON m.request_id = a.request_id{where} ORDER BY a.ts DESC, a.id DESC"
        )
        if n is not None:
            if n < 0:
                raise ValueError(f"-n must be zero or more (got {n})")
            sql += " LIMIT ?"
            params.append(n)
        names = (*LOG_FIELDS, *LOG_EXTRA_FIELDS[:5], *(("prompt",) if include_prompt else ()), "miss", "miss_note",
                 "usage_estimated", "baseline_cost_usd")
        out = []
        for row in self._query(sql, params):
            d = dict(zip(names, row, strict=True))
            d["ts"] = iso_utc(d["ts"])
            d["miss"] = bool(d["miss"])
            d["usage_estimated"] = _usage_estimated(d["usage_estimated"])
            out.append(d)
        return out

    def spent(self, profile: str | None, since_ts: float | datetime, until_ts: float | datetime | None = None) -> float:
        """USD spent by a profile (None: all) since a time, summing known costs only; for budgets."""
        where, params = _filters(since=since_ts, until=until_ts, profile=profile)
        rows = self._query(f"SELECT COALESCE(SUM(a.cost_usd), 0.0) FROM attempts a{where}", params)
        return float(rows[0][0])

    def unpriced(
        self, profile: str | None, since_ts: float | datetime, until_ts: float | datetime | None = None
    ) -> int:
        """How many attempts in the window have no known cost, so a budget can say its sum is a floor."""
        where, params = _filters(since=since_ts, until=until_ts, profile=profile)
        rows = self._query(
            f"SELECT COUNT(*) FROM attempts a{where}{' AND' if where else ' WHERE'} a.cost_usd IS NULL "
            "AND (a.input_tokens IS NOT NULL OR a.output_tokens IS NOT NULL)", params
        )
        return int(rows[0][0])

    def rows_since(
        self, ts: float | datetime | None, profile: str | None = None, until: float | datetime | None = None
    ) -> list[dict[str, Any]]:
        """The rows stats needs (ts as a float, plus `miss`), oldest first; ts None means all."""
        where, params = _filters(since=ts, until=until, profile=profile)
        sql = (
            "SELECT a.ts, a.request_id, a.attempt, a.profile, a.route, a.provider, a.model, a.status, a.cost_usd, "
            "a.latency_ms, a.ttft_ms, a.input_tokens, a.output_tokens, a.cache_read_tokens, a.cache_write_tokens, "
            "m.request_id IS NOT NULL "
            f"FROM attempts a LEFT JOIN misses m ON m.request_id = a.request_id{where} ORDER BY a.ts, a.id"
        )
        names = _STATS_FIELDS
        return [dict(zip(names, row, strict=True)) for row in self._query(sql, params)]

    def stats(
        self,
        since: float | datetime | None = None,
        by: str = "route",
        *,
        profile: str | None = None,
        until: float | datetime | None = None,
        input_price: Callable[[str], float | None] | None = None,
        top_models: Collection[str] | None = None,
        tz: tzinfo = UTC,
    ) -> StatsReport:
        """`routesh stats` for a window: one narrow SQL scan (status and flags packed in an int) fed to stats.fold."""
        from . import stats as st

        st.check_by(by)
        where, params = _filters(since=since, until=until, profile=profile)
        key = "NULL" if by == "day" else f"a.{by}"
        status_code = " ".join(f"WHEN '{name}' THEN {code}" for name, code in st.STATUS_CODE.items())
        sql = (
            f"SELECT {key}, CAST(a.ts / {st.SLOT_S} AS INTEGER), "
            f"(CASE a.status {status_code} ELSE 5 END) + {st.FIRST} * (a.attempt <= 1) "
            f"+ {st.MISS} * (a.attempt <= 1 AND a.request_id IN (SELECT request_id FROM misses)) "
            # failed: a first attempt that did not answer, and no later one did either (an index lookup for the few)
            f"+ {st.FAILED} * (a.attempt <= 1 AND a.status NOT IN {st.ANSWERED!r} AND NOT EXISTS (SELECT 1 "
            f"FROM attempts b WHERE b.request_id = a.request_id AND b.status IN {st.ANSWERED!r}"
            f"{where.replace(' WHERE ', ' AND ').replace('a.', 'b.')})), "
            f"{_COST_OR_FREE}, a.latency_ms, a.ttft_ms, {'NULL' if by == 'route' else 'a.route'}, "
            f"{'NULL' if by == 'model' else 'a.model'} FROM attempts a{where}"
        )
        conn = self._reader()
        try:
            with self._lock:
                cursor = conn.execute(sql, [*params, *params])  # the answered-later subquery's window, then the scan
                if since is None or isinstance(since, datetime):
                    since_dt = since
                else:
                    since_dt = datetime.fromtimestamp(since, UTC)
                return st.fold(cursor, by, input_price=input_price, top_models=top_models, tz=tz, since=since_dt)  # type: ignore[arg-type]
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc

    def count(self) -> int:
        """How many attempts the ledger holds."""
        return int(self._query("SELECT COUNT(*) FROM attempts")[0][0])

    def route_names(self) -> list[str]:
        """Every route name the ledger has recorded (routes renamed since still count)."""
        return [str(r[0]) for r in self._query("SELECT DISTINCT route FROM attempts")]

    def schema_version(self) -> int:
        """The highest migration applied to this file."""
        return int(self._query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0])


def _usage_estimated(extra: str | None) -> bool:
    """Whether a row's token counts are partly estimated (a cancelled or broken attempt), from its extra JSON."""
    if not extra or "usage" not in extra:
        return False
    try:
        return json.loads(extra).get("usage") == "estimated"
    except (ValueError, AttributeError):
        return False


# stats.row_cost in SQL: an attempt that used nothing costs $0; NULL (unpriced) only when tokens went unpriced.
_COST_OR_FREE = ("CASE WHEN a.cost_usd IS NULL AND a.input_tokens IS NULL AND a.output_tokens IS NULL "
                 "THEN 0.0 ELSE a.cost_usd END")

_STATS_FIELDS = (
    "ts", "request_id", "attempt", "profile", "route", "provider", "model", "status", "cost_usd",
    "latency_ms", "ttft_ms", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "miss",
)  # fmt: skip
_FREE_TEXT = tuple(COLUMNS.index(c) for c in ("error", "prompt", "tag"))  # text that came from users or upstreams


def _scrubbed(params: tuple[Any, ...]) -> tuple[Any, ...]:
    """The insert parameters with every free-text column scrubbed of secrets."""
    out = list(params)
    for i in _FREE_TEXT:
        if isinstance(out[i], str):
            out[i] = scrub(out[i])
    return tuple(out)


def _filters(
    *,
    since: float | datetime | None = None,
    until: float | datetime | None = None,
    route: str | None = None,
    profile: str | None = None,
) -> tuple[str, list[Any]]:
    """A WHERE clause over attempts (aliased a) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    lo, hi = _as_ts(since), _as_ts(until)
    if lo is not None:
        clauses.append("a.ts >= ?")
        params.append(lo)
    if hi is not None:
        clauses.append("a.ts < ?")
        params.append(hi)
    if route is not None:
        clauses.append("a.route = ?")
        params.append(route)
    if profile is not None:
        clauses.append("a.profile = ?")
        params.append(profile)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params
