"""Exact durations as integer microseconds: ``"5m"``, ``"90 seconds"``, ``"1h"``, ``"7d"``."""

from __future__ import annotations

import re

US_PER = {
    "us": 1, "microsecond": 1, "microseconds": 1,
    "ms": 1_000, "millisecond": 1_000, "milliseconds": 1_000,
    "s": 1_000_000, "sec": 1_000_000, "second": 1_000_000, "seconds": 1_000_000,
    "secs": 1_000_000, "m": 60_000_000, "min": 60_000_000, "mins": 60_000_000, "minute": 60_000_000, "minutes": 60_000_000,
    "h": 3_600_000_000, "hr": 3_600_000_000, "hrs": 3_600_000_000, "hour": 3_600_000_000, "hours": 3_600_000_000,
    "d": 86_400_000_000, "day": 86_400_000_000, "days": 86_400_000_000,
    "w": 604_800_000_000, "week": 604_800_000_000, "weeks": 604_800_000_000,
}
_RE = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+)\s*$")


def parse_duration(value: str | int) -> int:
    """Microseconds for a duration; ints are taken as seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as '5m' or '2 hours'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("durations cannot be negative")
        return value * 1_000_000
    m = _RE.match(str(value))
    if not m or m.group(2).lower() not in US_PER:
        raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '5m', '2h', '1d' (no months: they vary in length)")
    return int(m.group(1)) * US_PER[m.group(2).lower()]


def format_duration(us: int) -> str:
    for unit, size in (("w", US_PER["w"]), ("d", US_PER["d"]), ("h", US_PER["h"]), ("m", US_PER["m"]), ("s", US_PER["s"]), ("ms", 1000)):
        if us and us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}us"
