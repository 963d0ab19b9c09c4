"""The PostgreSQL ledger: the same rows, schema and migrations as the SQLite one, shared by a team's processes.

`Ledger("postgresql://...")` builds one of these; psycopg is imported only here. The SQL is the SQLite
store's own, translated by ledger_dialect; migrations run in one transaction under an advisory lock, so
processes starting together migrate once. A URL's password is never shown: `where` and every error hide it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import IO, Any

from .ledger import Ledger, LedgerError, check_not_newer
from .ledger_dialect import redacted, to_postgres, without_secret

CONNECT_TIMEOUT_S = 5  # an unreachable server is a clear error at start, not a hang
_MIGRATION_LOCK = 0x726F75746573  # pg_advisory_xact_lock key: "routes"


def _driver() -> Any:
    """psycopg, or a LedgerError that names the extra to install."""
    try:
        import psycopg
    except ImportError:
        raise LedgerError("a postgresql:// ledger needs psycopg: pip install 'routesh[postgres]'") from None
    return psycopg


class _Conn:
    """A psycopg connection with the sqlite3 methods the store uses, each statement translated to PostgreSQL."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(to_postgres(sql), tuple(params))  # () too: % is always read as a placeholder mark

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cur:
            cur.executemany(to_postgres(sql), rows)

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def close(self) -> None:
        self.raw.close()


class PgLedger(Ledger):
    """The usage store on a PostgreSQL database (`ledger: postgresql://...`, `--ledger`, `$ROUTESH_LEDGER`)."""

    def __init__(self, path: Any = None, *, warn: IO[str] | None = None) -> None:
        super().__init__(":memory:", warn=warn)  # the shared state; path stays None (no file)
        self.url = str(path)
        self._db_errors = (_driver().Error,)

    @property
    def where(self) -> str:
        return redacted(self.url)

    def _open(self) -> Any:  # type: ignore[override]
        """A new autocommit connection, migrated; a bad or unreachable URL is a LedgerError without the password."""
        psycopg = _driver()
        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                  application_name="routesh")
        except (psycopg.Error, ValueError) as exc:
            raise LedgerError(self._no_connect(exc)) from None
        conn = _Conn(raw)
        try:
            self._migrate(conn, self.where)
        except BaseException:
            conn.close()
            raise
        return conn

    def _no_connect(self, exc: BaseException) -> str:
        """One line: which database (password hidden) and what the driver said, first line only."""
        said = without_secret(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, self.url)
        return f"cannot connect to the usage ledger {self.where}: {said}"

    @staticmethod
    def _migrate(conn: Any, where: str) -> None:  # type: ignore[override]
        """Apply the missing migrations in one transaction, under an advisory lock (DDL is transactional here)."""
        from . import ledger as store  # the module's MIGRATIONS, read at call time

        conn.execute("BEGIN")
        try:
            conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            check_not_newer(applied, where)
            for version, name, statements in store.MIGRATIONS:
                if version in applied:
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                             (version, name, time.time()))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def record(self, rec: Any) -> bool:
        """Ledger.record; after a failure the next call reconnects (a restarted server is picked up by itself)."""
        ok = super().record(rec)
        if not ok:
            self._reset()
        return ok

    def _failed(self, exc: BaseException) -> None:
        """Ledger._failed with the driver's first line only: its DETAIL lines quote the row (the prompt too)."""
        text = str(exc).strip().splitlines()
        super()._failed(LedgerError(without_secret(text[0] if text else type(exc).__name__, self.url)))

    def _read_error(self, exc: BaseException) -> LedgerError:
        """Ledger._read_error's one line, password hidden; a lost connection is dropped so the next read reconnects."""
        self._reset()
        said = without_secret(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, self.url)
        return LedgerError(f"cannot read the usage ledger {self.where}: {said}")

    def check_writable(self) -> None:
        """Raise LedgerError unless the server answers now and the table can be written."""
        conn = self._reader()
        try:
            with self._lock:
                conn.execute("BEGIN")
                conn.execute("LOCK TABLE attempts IN ROW EXCLUSIVE MODE NOWAIT")
                conn.execute("ROLLBACK")
        except self._db_errors as exc:
            self._reset()
            said = without_secret((str(exc).strip().splitlines() or [type(exc).__name__])[0], self.url)
            raise LedgerError(f"cannot write to the usage ledger {self.where}: {said}") from exc

    def _reset(self) -> None:
        """Drop a connection the server closed, so the next call connects again."""
        with self._lock:
            if self._conn is not None and self._conn.raw.closed:
                self._conn = None

    def checkpoint(self) -> bool:
        """Nothing to fold: the server manages its own write-ahead log."""
        return False
