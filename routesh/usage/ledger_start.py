"""A team's PostgreSQL ledger is opened (and migrated) when a command starts, not at its first row.

Why: a wrong or unreachable URL, or a database newer than this routesh, is then one clear line and
exit 2 before anything is sent, instead of a warning after an answer that was never recorded. The SQLite
file keeps its lazy open (no cost on a one-shot's start).
"""

from __future__ import annotations

from ..core.errors import UserError


def open_at_start() -> None:
    """Connect to and migrate a postgresql:// ledger now; raise UserError (exit 2) if it cannot be used."""
    from ..core.paths import ledger_target
    from .ledger_dialect import is_postgres

    target = ledger_target()
    if not is_postgres(target):
        return
    from .ledger import Ledger, LedgerError

    try:
        with Ledger(target) as ledger:
            ledger.schema_version()
    except LedgerError as exc:
        raise UserError(f"{exc}\ncheck the URL in --ledger, $ROUTESH_LEDGER or routes.yaml's ledger: key") from None
