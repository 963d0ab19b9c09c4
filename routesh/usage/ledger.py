"""The usage ledger: one SQLite row per attempt, so spend, budgets, `routesh log` and stats share one record.

Writing never breaks a request: `record()` swallows every failure, warns once on stderr and
reports it through its return value and `Ledger.failures`. The file is WAL-mode SQLite with
synchronous=NORMAL, so a killed process loses at most the attempt in flight, and several
routesh processes (shell, gateway, one-shots) can write at once.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ..core.events import AttemptRecord
from .ledger_reads import LedgerError, LedgerReads, _filters
from .ledger_rows import _params, scrub  # noqa: F401 - scrub re-exported
from .ledger_schema import _INSERT, COLUMNS, MIGRATIONS, SCHEMA_VERSION  # noqa: F401 - re-exported

BUSY_TIMEOUT_MS = 5000  # how long a writer waits for another process's write before giving up

_LOCKED_RETRIES = 8  # ~2.5 s in all at worst, for "database is locked" that the busy handler did not absorb


def _ensure_file(path: Path) -> None:
    """Create the file 0600 (its directories 0700) before SQLite does; SQLite gives -wal/-shm the same mode."""
    from ..core.private import create_private

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


class LedgerNewer(LedgerError):
    """The ledger was migrated by a newer routesh than this one: reading or writing it could lose data."""


class Ledger(LedgerReads):
    """The usage store: `record()` on the request path; `recent`, `spent`, `stats` for log, budgets, stats.

    SQLite (a path, the default) here; a postgresql:// URL makes `Ledger(url)` a PgLedger (ledger_pg.py),
    imported, with its driver, only then.
    """

    _db_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)  # what the driver raises

    def __new__(cls, path: str | os.PathLike[str] | None = None, **kw: Any) -> Ledger:
        if cls is Ledger:
            if path is None:
                from ..core.paths import ledger_target

                path = ledger_target()
            from .ledger_dialect import is_postgres

            if is_postgres(path):
                from .ledger_pg import PgLedger

                return super().__new__(PgLedger)
        return super().__new__(cls)

    def __init__(self, path: str | os.PathLike[str] | None = None, *, warn: IO[str] | None = None) -> None:
        if path is None:
            from ..core.paths import ledger_target

            path = ledger_target()
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
            self._migrate(conn, self.where)
        except BaseException:
            conn.close()
            raise
        return conn

    @property
    def where(self) -> str:
        """The ledger as shown to a person (a path, :memory:, or a URL without its password)."""
        return str(self.path or ":memory:")

    @staticmethod
    def _migrate(conn: sqlite3.Connection, where: str) -> None:
        """Apply the migrations this file has not had yet, in order, each under a write lock."""
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        # By set, not by maximum: a file migrated by a build with other numbers (gaps) still gets the rest.
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        check_not_newer(applied, where)
        for version, name, statements in MIGRATIONS:
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
        except LedgerError:
            raise
        except (*self._db_errors, OSError) as exc:
            raise self._read_error(exc) from exc

    def _read_error(self, exc: BaseException) -> LedgerError:
        """A plain-language error for a ledger that cannot be read."""
        where = self.where
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
        except self._db_errors as exc:
            raise self._read_error(exc) from exc

    def check_writable(self) -> None:
        """Raise LedgerError unless a row could be stored now: a budget must be able to count what it lets through."""
        conn = self._reader()
        try:
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("ROLLBACK")
        except self._db_errors as exc:
            raise LedgerError(f"cannot write to the usage ledger {self.where}: {exc}") from exc

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
            params = _params(rec)
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

    def record_many(self, recs: Sequence[AttemptRecord]) -> int:
        """Store attempts in one transaction (one commit, not one per row); never raises; returns the rows stored.

        Why: the gateway's writer batches rows, and a commit per row cost it as much as relaying a small answer.
        A batch that cannot be written whole (a locked file, a bad row) is written row by row instead.
        """
        if not recs:
            return 0
        try:
            rows = [_params(rec) for rec in recs]
            conn = self._conn if self._conn is not None else self._connect()
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(_INSERT, rows)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            return len(rows)
        except Exception:  # noqa: BLE001 - each row on its own, with record()'s retries and warning
            return sum(self.record(rec) for rec in recs)

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
                f"routesh: warning: usage not recorded in {self.where} ({self.last_error}); "
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
        except self._db_errors as exc:
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

    def select(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read query for the modules that keep their own SQL (conversations.py); errors are LedgerErrors."""
        return self._query(sql, params)

    def count(self) -> int:
        """How many attempts the ledger holds."""
        return int(self._query("SELECT COUNT(*) FROM attempts")[0][0])

    def route_names(self) -> list[str]:
        """Every route name the ledger has recorded (routes renamed since still count)."""
        return [str(r[0]) for r in self._query("SELECT DISTINCT route FROM attempts")]

    def schema_version(self) -> int:
        """The highest migration applied to this file."""
        return int(self._query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0])


def check_not_newer(applied: set[int], where: str) -> None:
    """Refuse a ledger migrated past the migrations this build knows: it has columns or rules this code would break."""
    known = max(m[0] for m in MIGRATIONS)  # read now: the migrations in force (tests add some)
    if applied and max(applied) > known:
        raise LedgerNewer(f"the usage ledger {where} is at schema version {max(applied)}, newer than this routesh "
                          f"knows ({known}); upgrade routesh, or use another ledger (--ledger)")
