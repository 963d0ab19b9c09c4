"""routes.yaml's `ledger:` key: where usage is recorded (a SQLite file, or a team's PostgreSQL database).

Checked by the pure core like every key, so a typo is a file:line error before anything is opened. A
password is refused here: routes.yaml is shown (`config show`) and shared, so it goes in ~/.pgpass,
$PGPASSWORD or $ROUTESH_LEDGER instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from yaml import Node

    from .yamlnodes import Reader

SCHEMES = ("postgresql://", "postgres://")


def parse_ledger(r: Reader, node: Node | None) -> str | None:
    """The `ledger:` value: a postgresql:// URL without a password, or a path to a SQLite file."""
    value = r.string(node, "ledger")
    if value is None or node is None:
        return None
    value = value.strip()
    if "://" in value and not value.startswith(SCHEMES):
        r.fail(node, f"ledger: {value.split('://', 1)[0]}:// is not a ledger; use postgresql://HOST/DB or a file path")
        return None
    if value.startswith(SCHEMES):
        from urllib.parse import urlsplit  # only for a URL: a start-up with none pays nothing

        try:
            password = urlsplit(value).password
        except ValueError:
            r.fail(node, "ledger: not a valid URL; e.g. postgresql://routesh@db.internal/routesh")
            return None
        if password:
            r.fail(node, "ledger: holds a password, and routes.yaml is shown and shared; put it in ~/.pgpass or "
                         "$PGPASSWORD (or give the whole URL in $ROUTESH_LEDGER) and remove it here")
            return None
    elif not value.startswith(("/", "~")):
        r.fail(node, f"ledger: '{value}' is neither a postgresql:// URL nor an absolute path (/… or ~/…)")
        return None
    return value
