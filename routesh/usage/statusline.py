"""Claude Code's status line under `routesh code`: route and model, session cost, today's spend, savings.

Claude Code runs this command every few hundred milliseconds with the session as JSON on stdin, so
it must answer fast: it is run as a plain file (`python -I -S statusline.py ...`) and imports only
the standard library, never routesh. It reads the ledger read-only by Claude Code's session id. It
never fails the display: any problem prints a short placeholder and exits 0. A status line the user
already had (`--then CMD`) is run with the same input and shown after ours.
"""

from __future__ import annotations

import sqlite3
import sys
import time

PLACEHOLDER = "routesh"  # shown when there is nothing (yet) or something went wrong
THEIRS_TIMEOUT_S = 2.0


def usd(v: float) -> str:
    """$0.0042, $1.20, $1,234."""
    if v == 0:
        return "$0"
    a = abs(v)
    text = f"${a:.4f}" if a < 0.01 else f"${a:,.2f}" if a < 1000 else f"${a:,.0f}"
    return "-" + text if v < 0 else text


def day_start(now: float) -> float:
    """Local midnight today, as a Unix time (daily budgets reset then)."""
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1))


def month_start(now: float) -> float:
    t = time.localtime(now)
    return time.mktime((t.tm_year, t.tm_mon, 1, 0, 0, 0, 0, 0, -1))


def _printable(text: object) -> str:
    """Ledger text as it may reach Claude Code's terminal: control characters (escape sequences) dropped."""
    return "".join(c for c in str(text) if c.isprintable())[:80]


def ours(ledger: str, profile: str, session: str | None, daily: float | None, monthly: float | None,
         now: float) -> str:
    """The routesh part of the line, from the ledger."""
    conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=0.2)
    try:
        parts = []
        if session:
            last = conn.execute("SELECT route, model FROM attempts WHERE session_id = ? ORDER BY ts DESC, id DESC "
                                "LIMIT 1", (session,)).fetchone()
            cost, saved = conn.execute(
                "SELECT COALESCE(SUM(cost_usd), 0), COALESCE(SUM(CASE WHEN cost_usd IS NOT NULL "
                "THEN baseline_cost_usd - cost_usd END), 0) FROM attempts WHERE session_id = ?", (session,)).fetchone()
            if last is not None:
                parts.append(f"{_printable(last[0])} → {_printable(last[1])}")
                parts.append(f"session {usd(cost)}")
        start = month_start(now) if daily is None and monthly is not None else day_start(now)
        (spent,) = conn.execute("SELECT COALESCE(SUM(cost_usd), 0) FROM attempts WHERE profile = ? AND ts >= ?",
                                (profile, start)).fetchone()
        limit = daily if daily is not None else monthly
        label = "month" if daily is None and monthly is not None else "today"
        parts.append(f"{label} {usd(spent)}" + (f"/{usd(limit)}" if limit is not None else ""))
        if session and last is not None:
            parts.append(f"saved {usd(saved)}" if saved >= 0 else f"{usd(-saved)} over baseline")
        return "routesh · " + " · ".join(parts)
    finally:
        conn.close()


def theirs(command: str, data: bytes) -> str:
    """The user's own status line command, run as Claude Code would (a shell, the same stdin)."""
    import subprocess

    try:
        p = subprocess.run(command, shell=True, input=data, capture_output=True,  # noqa: S602 - the user's own
                           timeout=THEIRS_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return ""
    return p.stdout.decode("utf-8", "replace").rstrip("\n")


def session_id(data: bytes) -> str | None:
    """The "session_id" string of Claude Code's input, read without json (its import alone costs more than the rest)."""
    at = data.find(b'"session_id"')
    if at < 0:
        return None
    colon = data.find(b":", at + 12)
    if colon < 0 or data[at + 12:colon].strip():
        return None
    rest = data[colon + 1:colon + 400].lstrip()
    end = rest.find(b'"', 1)
    if not rest.startswith(b'"') or end < 0 or b"\\" in rest[:end]:
        return None
    return rest[1:end].decode("utf-8", "replace") or None


def parse(argv: list[str]) -> dict[str, str]:
    """--name value pairs (argparse would cost more than the whole rest of this script)."""
    out: dict[str, str] = {}
    it = iter(argv)
    for a in it:
        if a.startswith("--"):
            out[a[2:]] = next(it, "")
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the status line; exit 0 whatever happens."""
    args: dict[str, str] = {}
    data = b""
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
        data = sys.stdin.buffer.read() if not sys.stdin.isatty() else b""
        line = ours(args["ledger"], args.get("profile", ""), session_id(data),
                    float(args["daily"]) if args.get("daily") else None,
                    float(args["monthly"]) if args.get("monthly") else None, time.time())
    except Exception:  # noqa: BLE001 - never break Claude Code's display
        line = PLACEHOLDER
    then = args.get("then")
    if then:
        try:
            extra = theirs(then, data)
        except Exception:  # noqa: BLE001
            extra = ""
        if extra:
            first, _, rest = extra.partition("\n")
            line = f"{line} │ {first}" + (f"\n{rest}" if rest else "")
    try:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except Exception:  # noqa: BLE001
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
