"""Row-set comparison by the contract's rules: NULL equals NULL, integers exactly, floats within a
relative 1e-9, timestamps and intervals as exact microseconds."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def norm(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return float(value)
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


def rows_by(table: pa.Table, key: str) -> dict:
    out = {}
    for row in table.to_pylist():
        k = row[key]
        assert k not in out, f"duplicate key {k!r}"
        out[k] = row
    return out


def diff(expected: pa.Table, actual: pa.Table, key: str, columns: list[str] | None = None) -> list[str]:
    """Every difference between two relations keyed by ``key`` (empty list: equal)."""
    exp_rows, act_rows = rows_by(expected, key), rows_by(actual, key)
    problems = []
    if set(exp_rows) != set(act_rows):
        problems.append(f"keys differ: missing {sorted(set(exp_rows) - set(act_rows))[:5]}, "
                        f"extra {sorted(set(act_rows) - set(exp_rows))[:5]}")
    cols = columns or [c for c in expected.column_names if c != key]
    for k in sorted(set(exp_rows) & set(act_rows), key=str):
        for c in cols:
            if not same(exp_rows[k][c], act_rows[k][c]):
                problems.append(f"{key}={k!r} {c}: expected {exp_rows[k][c]!r}, got {act_rows[k][c]!r}")
    return problems
