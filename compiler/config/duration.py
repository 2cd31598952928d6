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
        us = value * 1_000_000
    else:
        m = _RE.match(str(value))
        if not m or m.group(2).lower() not in US_PER:
            raise ValueError(f"invalid duration {value!r}: use e.g. '30s', '5m', '2h', '1d' (no months: they vary in length)")
        us = int(m.group(1)) * US_PER[m.group(2).lower()]
    if us > 36_600 * US_PER["d"]:
        raise ValueError(f"duration {value!r} is longer than 100 years")
    return us


def format_duration(us: int) -> str:
    for unit, size in (("w", US_PER["w"]), ("d", US_PER["d"]), ("h", US_PER["h"]), ("m", US_PER["m"]), ("s", US_PER["s"]), ("ms", 1000)):
        if us and us % size == 0:
            return f"{us // size}{unit}"
    return f"{us}us"


CALENDAR_UNITS = {"month", "months", "mon", "mons", "year", "years", "yr", "yrs", "decade", "decades",
                  "century", "centuries", "millennium", "millennia", "quarter", "quarters", "y", "mo"}
MAX_INTERVAL_US = 36_600 * US_PER["d"]  # 100 years of days: anything longer is a mistake
_PAIR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*")


def parse_interval_text(text: str) -> int:
    """The one interval parser (frames, literals in expressions, stream and batch): exact
    microseconds of ``'<n> <unit> [<n> <unit> ...]'`` with units from microsecond to week.
    Calendar units (months, years), ISO 8601 (``P1M``) and anything else raise ValueError."""
    total, rest = 0, text.strip()
    if not rest:
        raise ValueError("empty interval: write e.g. '1 hour'")
    while rest:
        m = _PAIR.match(rest)
        unit = m.group(2).lower() if m else ""
        if m and unit in CALENDAR_UNITS:
            raise ValueError(f"interval '{text}' uses calendar unit {unit!r}, whose length varies: "
                             "use an exact duration in days or weeks (e.g. '30 days')")
        if not m or unit not in US_PER:
            raise ValueError(f"cannot read interval '{text}': write <number> <unit> pairs with microsecond, "
                             "millisecond, second, minute, hour, day or week units")
        number = m.group(1)
        if "." in number:
            whole, frac = number.split(".")
            us = int(whole) * US_PER[unit] + (int(frac) * US_PER[unit]) // 10 ** len(frac)
            if (int(frac) * US_PER[unit]) % 10 ** len(frac):
                raise ValueError(f"interval '{text}' is not a whole number of microseconds")
        else:
            us = int(number) * US_PER[unit]
        total += us
        if total > MAX_INTERVAL_US:
            raise ValueError(f"interval '{text}' is longer than 100 years")
        rest = rest[m.end():]
    return total
