"""Time-of-day ranges for rules ("22:00-06:00"), which may wrap midnight."""

from __future__ import annotations

import re
from datetime import datetime

_HOURS = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-4]):([0-5]\d)\s*$")


def parse_hours(spec: str) -> tuple[int, int]:
    """'22:00-06:00' → (start, end) in minutes since midnight; ValueError if malformed."""
    m = _HOURS.match(spec)
    if not m:
        raise ValueError(f"'{spec}' is not a time range like 22:00-06:00")
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4])
    if end > 24 * 60:
        raise ValueError(f"'{spec}': the end is past 24:00")
    if start == end:
        raise ValueError(f"'{spec}' is empty: start and end are the same")
    return start, end


def in_hours(spec: str, now: datetime) -> bool:
    """True when `now` falls in the range; ranges that wrap midnight (22:00-06:00) work."""
    start, end = parse_hours(spec)
    minute = now.hour * 60 + now.minute
    return start <= minute < end if start < end else minute >= start or minute < end
