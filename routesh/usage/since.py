"""`--since` for log and stats: a duration (30m, 7d), 'today' or a date → the aware datetime a window starts at."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

_UNITS = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "week": 604800, "weeks": 604800,
}  # fmt: skip
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([a-z]+)$")
_SINCE_HELP = "use a duration like 30m, 24h, 7d or 2w, 'today', or a date like 2025-01-31 (or 2025-01-31T09:00)"


def parse_since(text: str, now: datetime) -> datetime:
    """`--since` text → the aware datetime the window starts at; naive dates are read in now's time zone."""
    if now.tzinfo is None:
        raise ValueError("parse_since needs an aware `now` (a datetime with a time zone)")
    raw = text.strip()
    s = raw.lower()
    if not s:
        raise ValueError(f"--since is empty: {_SINCE_HELP}")
    if s == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    m = _DURATION.match(s)
    if m:
        unit = _UNITS.get(m.group(2))
        if unit is None:
            hint = (
                " (months are ambiguous: use days, e.g. 30d)"
                if m.group(2) in ("mo", "mon", "month", "months", "y", "year", "years")
                else ""
            )
            raise ValueError(f"--since {raw!r}: unknown unit {m.group(2)!r}{hint}; {_SINCE_HELP}")
        return now - timedelta(seconds=float(m.group(1)) * unit)
    if s.startswith("-"):
        raise ValueError(f"--since {raw!r}: a duration counts back from now and cannot be negative; {_SINCE_HELP}")
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"--since {raw!r} is neither a duration nor a date; {_SINCE_HELP}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    if when > now:
        raise ValueError(f"--since {raw!r} is in the future (now is {now.isoformat(timespec='minutes')})")
    return when
