"""Value comparison by the contract (§3): NULL equals NULL, integers exactly, floats within a
relative 1e-9, timestamps and intervals as exact microseconds."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def norm(value):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, timedelta):
        return ("us", value // timedelta(microseconds=1))
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return ("ts", (value - EPOCH) // timedelta(microseconds=1))
    if type(value).__name__ == "MonthDayNano" or (isinstance(value, tuple) and len(value) == 3):
        months, days, nanos = value
        return ("us", months * 30 * 86_400_000_000 + days * 86_400_000_000 + nanos // 1000)
    return value


def same(a, b) -> bool:
    a, b = norm(a), norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b
