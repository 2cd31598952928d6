"""Row-set comparison by the contract's rules: NULL equals NULL, integers exactly, floats within a
relative 1e-9, timestamps and intervals as exact microseconds."""

from __future__ import annotations

import pyarrow as pa

from skewless.runtime.values import norm, same  # noqa: F401 - the contract's comparison rules


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


def table(rows: list[dict], schema: pa.Schema) -> pa.Table:
    """Rows of Python values (numerics as Decimal) as a table of ``schema`` (numerics read as doubles)."""
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    if floats:
        rows = [{**r, **{c: float(r[c]) for c in floats if r.get(c) is not None}} for r in rows]
    return pa.Table.from_pylist(rows, schema=schema)
