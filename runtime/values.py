"""Value comparison by the contract (§3): NULL equals NULL, integers exactly, floats within a
relative 1e-9 or the computation's conditioning bound, NaN equals NaN, timestamps and intervals as
exact microseconds. The one comparison used by `parity`, the tests and the benches."""

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


def same(a, b, scale: float = 0.0) -> bool:
    """Parity of two values (docs/semantics.md §3). Floats agree when |a - b| <= 1e-9·max(|a|, |b|)
    or within the conditioning bound ``1e-12 · scale`` (``scale``: the sum of the magnitudes the
    computation aggregated, e.g. Σ|x| for a sum or average, Σx² for a variance); NaN equals NaN and
    infinities equal themselves, as in Postgres."""
    a, b = norm(a), norm(b)
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, int) and isinstance(b, int):
            return a == b
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        if math.isinf(x) or math.isinf(y):
            return x == y
        return abs(x - y) <= max(1e-9 * max(abs(x), abs(y)), 1e-12 * scale, 1e-300)
    return a == b
