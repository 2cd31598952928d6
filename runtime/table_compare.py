"""Columnar parity comparison: the contract's value rules (runtime/values.py::same) applied to
whole Arrow columns, for tables whose key columns identify each row. Row-by-row Python comparison
took minutes for a few hundred thousand rows per view and engine; this takes a fraction of a
second. Anything it cannot decide columnwise (repeated keys, a type it does not normalise) it
leaves to the row comparison (returns None)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REL, ABS = 1e-9, 1e-300   # values.same with scale 0: |a - b| <= max(1e-9 * max(|a|, |b|), 1e-300)


def _normalised(col: pa.ChunkedArray) -> tuple[str, pa.Array] | None:
    """(kind, values): kind 'num' (float64 with int64 kept exact beside), 'int', 'exact' (compared
    with equality after normalising), or None when unsupported."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    t = col.type
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_date(t):
        return "exact", col.cast(pa.large_string()) if pa.types.is_string(t) else col
    if pa.types.is_integer(t):
        return "int", col.cast(pa.int64())
    if pa.types.is_floating(t):
        return "num", col.cast(pa.float64())
    if pa.types.is_decimal(t):
        return "dec", col
    if pa.types.is_timestamp(t):
        return "time", col.cast(pa.timestamp("us", tz=t.tz)).cast(pa.int64()) if t.tz else \
            col.cast(pa.timestamp("us")).cast(pa.int64())
    if pa.types.is_duration(t):
        return "span", col.cast(pa.duration("us")).cast(pa.int64())
    if pa.types.is_null(t):
        return "null", col
    return None


def _decimal_parts(col: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """A decimal column as values.norm reads it: integral values as exact ints, others as floats.
    Returns (float64 values, mask of integral values) — integral values beyond 2^53 fall back."""
    as_float = pc.cast(col, pa.float64())
    integral = pc.equal(col, pc.cast(pc.cast(col, pa.decimal128(38, 0), safe=False), col.type, safe=False))
    return as_float, np.asarray(pc.fill_null(integral, False))


def _column_diff(a: pa.Array, b: pa.Array) -> np.ndarray | None:
    """Per row: True where the two columns' values are not the same by the contract (None: decide
    row by row)."""
    na, nb = _normalised(a), _normalised(b)
    if na is None or nb is None:
        return None
    (ka, va), (kb, vb) = na, nb
    null_a = np.asarray(pc.is_null(va)) if ka != "null" else np.ones(len(va), bool)
    null_b = np.asarray(pc.is_null(vb)) if kb != "null" else np.ones(len(vb), bool)
    if ka == "null" or kb == "null":
        return null_a != null_b
    numeric = {"num", "int", "dec"}
    if ka in numeric and kb in numeric:
        if ka == "int" and kb == "int":
            x, y = np.asarray(va.fill_null(0)), np.asarray(vb.fill_null(0))
            return (null_a != null_b) | (~null_a & ~null_b & (x != y))
        # values.norm: an integral decimal is an int, and two ints compare exactly
        parts = []
        for kind, col in ((ka, va), (kb, vb)):
            if kind == "dec":
                values, integral = _decimal_parts(col)
                if (pc.max(pc.abs(values)).as_py() or 0) >= 2.0 ** 53:
                    return None  # beyond exact doubles: row by row
            else:
                values = pc.cast(col, pa.float64())
                integral = np.full(len(col), kind == "int")
                if kind == "int" and (pc.max(pc.abs(values)).as_py() or 0) >= 2.0 ** 53:
                    return None
            parts.append((np.asarray(values.fill_null(0.0)), integral))
        (x, int_x), (y, int_y) = parts
        both = ~null_a & ~null_b
        with np.errstate(invalid="ignore", over="ignore"):
            nan_x, nan_y = np.isnan(x), np.isnan(y)
            inf = np.isinf(x) | np.isinf(y)
            close = np.abs(x - y) <= np.maximum(REL * np.maximum(np.abs(x), np.abs(y)), ABS)
        equal = np.where(nan_x | nan_y, nan_x & nan_y, np.where(inf | (int_x & int_y), x == y, close))
        return (null_a != null_b) | (both & ~equal)
    if ka != kb:
        return None
    eq = np.asarray(pc.fill_null(pc.equal(va, vb), False))
    return (null_a != null_b) | (~null_a & ~null_b & ~eq)


def compare_tables(expected: pa.Table, actual: pa.Table, keys: list[str], limit: int):
    """(sample of differing cells, differing rows, differing cells), or None when the tables cannot
    be compared columnwise (repeated or unsupported keys, unsupported types)."""
    if not keys or any(k not in actual.column_names for k in keys):
        return None
    if any(c not in actual.column_names for c in expected.column_names):
        return None
    sorted_tables, shared = [], False
    for table in (expected, actual):
        if any((n := _normalised(table[k])) is None or n[0] in ("num", "dec", "null") for k in keys):
            return None  # float keys: rows would be paired by rounding, leave it to the row comparison
        shared = shared or table.select(keys).group_by(keys).aggregate([]).num_rows != table.num_rows
        sorted_tables.append(table)
    # rows sharing a key are paired by their values: sorted by every column, a pairing without a
    # difference proves equality; with one, the row comparison pairs and reports them
    order = keys + ([c for c in expected.column_names if c not in keys] if shared else [])
    try:
        e, a = (t.sort_by([(c, "ascending") for c in order]) for t in sorted_tables)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    missing: list[dict] = []
    if e.num_rows != a.num_rows or not all(_key_values(e, k).equals(_key_values(a, k)) for k in keys):
        if shared:
            return None  # rows missing on one side among repeated keys: the row comparison pairs them
        # rows missing on one side (late or dead-lettered events): each is a differing row and
        # cell; the rows on both sides are compared columnwise
        try:
            e, a, missing = _common_rows(e, a, keys)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            return None  # keys of different types on the two sides: row by row
    diffs = {}
    for col in expected.column_names:
        d = _column_diff(e[col], a[col])
        if d is None:
            return None
        diffs[col] = d
    rows_mask = np.zeros(e.num_rows, bool)
    for d in diffs.values():
        rows_mask |= d
    if shared and rows_mask.any():
        return None
    cells = int(sum(int(d.sum()) for d in diffs.values())) + len(missing)
    sample: list[dict] = missing[:limit]
    if rows_mask.any():
        idx = np.flatnonzero(rows_mask)[:limit]
        e_rows = e.take(pa.array(idx)).to_pylist()
        a_rows = a.take(pa.array(idx)).to_pylist()
        for i, er, ar in zip(idx, e_rows, a_rows):
            for col, d in diffs.items():
                if d[i] and len(sample) < limit:
                    sample.append({"key": tuple(er[k] for k in keys), "column": col, "expected": er[col],
                                   "actual": ar.get(col), "row": er})
    return sample, int(rows_mask.sum()) + len(missing), cells


def _key_values(table: pa.Table, key: str) -> pa.Array:
    normalised = _normalised(table[key])
    assert normalised is not None  # checked by compare_tables before
    return normalised[1]


def _row_keys(table: pa.Table, keys: list[str]) -> pa.Array:
    """One comparable value per row for (unique) key columns: the normalised column itself, or
    several joined as text (each prefixed by its length: no two key tuples join alike)."""
    cols = [_key_values(table, k) for k in keys]
    if len(cols) == 1:
        return cols[0]
    parts = []
    for col in cols:
        text = pc.fill_null(pc.cast(col, pa.large_string()), "\x00null")
        parts += [pc.cast(pc.utf8_length(text), pa.large_string()), text]
    return pc.binary_join_element_wise(*parts, pa.scalar(":", pa.large_string()))


def _common_rows(e: pa.Table, a: pa.Table, keys: list[str]) -> tuple[pa.Table, pa.Table, list[dict]]:
    """(expected rows whose key the actual side has, actual rows whose key the expected side has,
    a sample entry per row of either side without its counterpart); order kept (sorted by key)."""
    ke, ka = _row_keys(e, keys), _row_keys(a, keys)
    in_a, in_e = pc.is_in(ke, value_set=ka), pc.is_in(ka, value_set=ke)
    missing = []
    for table, present, side in ((e, in_a, "expected"), (a, in_e, "actual")):
        for row in table.filter(pc.invert(present)).to_pylist():
            missing.append({"key": tuple(row[k] for k in keys), "column": "<row>",
                            "expected": row if side == "expected" else None,
                            "actual": row if side == "actual" else None, "row": row})
    return e.filter(in_a), a.filter(in_e), missing
