"""The columnwise parity comparison agrees with the row-by-row one (values.same) on generated
tables: every differing row and cell counted alike, the same cells sampled."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.runtime.parity import compare_rows
from skewless.runtime.table_compare import compare_tables

FLOATS = [0.0, -0.0, 1.0, 1.0 + 1e-12, 1.0 + 1e-6, -2.5, 1e300, float("nan"), float("inf"), float("-inf"), 5e-324,
          None]
INTS = [0, 1, -1, 2 ** 40, -(2 ** 31), None]
DECS = [Decimal("1"), Decimal("1.000000000001"), Decimal("-0.5"), Decimal("1000000"), Decimal("0"), None]
TEXT = ["", "a", "A", "ß", None]
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)
TIMES = [BASE, BASE + timedelta(microseconds=1), BASE - timedelta(days=400), None]

column = st.sampled_from(["f", "i", "d", "t", "b", "ts", "fi", "di"])


def _values(kind: str, n: int, draw) -> tuple[pa.Array, pa.Array]:
    pools = {"f": FLOATS, "i": INTS, "d": DECS, "t": TEXT, "b": [True, False, None], "ts": TIMES}
    types = {"d": pa.decimal128(20, 12), "ts": pa.timestamp("us", tz="UTC")}
    if kind in ("fi", "di"):  # a float or decimal column on one side, integers on the other
        a = draw(st.lists(st.sampled_from(INTS), min_size=n, max_size=n))
        pool = [None if v is None else (float(v) if kind == "fi" else Decimal(v)) for v in INTS] + \
            [0.5 if kind == "fi" else Decimal("0.5")]
        b = [draw(st.sampled_from(pool)) if draw(st.booleans()) else
             (None if v is None else (float(v) if kind == "fi" else Decimal(v))) for v in a]
        return pa.array(a, pa.int64()), pa.array(b, pa.float64() if kind == "fi" else pa.decimal128(30, 1))
    pool = pools[kind]
    a = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    b = [draw(st.sampled_from(pool)) if draw(st.integers(0, 3)) == 0 else v for v in a]
    return pa.array(a, types.get(kind)), pa.array(b, types.get(kind))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_columnwise_equals_row_by_row(data):
    n = data.draw(st.integers(0, 30))
    keys = data.draw(st.permutations(list(range(n))))
    kinds = data.draw(st.lists(column, min_size=1, max_size=4))
    exp_cols, act_cols = {"k": pa.array(list(range(n)), pa.int64())}, {"k": pa.array(keys, pa.int64())}
    for j, kind in enumerate(kinds):
        a, b = _values(kind, n, data.draw)
        exp_cols[f"c{j}"] = a
        act_cols[f"c{j}"] = b.take(pa.array(keys, pa.int64())) if n else b  # the actual side in another order
    expected, actual = pa.table(exp_cols), pa.table(act_cols)
    key_cols = ["k"]
    if data.draw(st.booleans()):  # a second key column (text, NULL in some rows)
        key_cols = ["k", "k2"]
        spell = {i: data.draw(st.sampled_from(["x", "1:", "", None])) for i in range(n)}
        expected = expected.append_column("k2", pa.array([spell[k] for k in range(n)], pa.string()))
        actual = actual.append_column("k2", pa.array([spell[k] for k in keys], pa.string()))
    # rows missing on either side (late or dead-lettered events)
    for side in ("e", "a"):
        drop = set(data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3))) if n else set()
        table = expected if side == "e" else actual
        kept = pa.array([k not in drop for k in table["k"].to_pylist()], pa.bool_())
        if side == "e":
            expected = table.filter(kept)
        else:
            actual = table.filter(kept)
    limit = data.draw(st.sampled_from([3, 1000]))
    fast = compare_tables(expected, actual, key_cols, limit)
    assert fast is not None
    slow = compare_rows(expected, actual, key_cols, limit)
    assert (fast[1], fast[2]) == (slow.rows, slow.cells)
    if slow.cells <= limit:
        assert {(p["key"], p["column"]) for p in fast[0]} == {(p["key"], p["column"]) for p in slow.sample}


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_rows_sharing_a_key_are_equal_columnwise_only_when_a_pairing_proves_it(data):
    n = data.draw(st.integers(1, 20))
    keys = data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    values = data.draw(st.lists(st.sampled_from([1.0, 2.0, None, float("nan")]), min_size=n, max_size=n))
    expected = pa.table({"k": keys, "v": values, "w": [str(v) for v in values]})
    order = data.draw(st.permutations(list(range(n))))
    actual = expected.take(pa.array(order))
    if data.draw(st.booleans()):  # one value changed
        i = data.draw(st.integers(0, n - 1))
        actual = actual.set_column(1, "v", pa.array([3.0 if j == i else v for j, v in enumerate(actual["v"].to_pylist())]))
    fast = compare_tables(expected, actual, ["k"], 100)
    slow = compare_rows(expected, actual, ["k"], 100)
    if fast is not None:
        assert (fast[1], fast[2]) == (slow.rows, slow.cells)
        assert len(set(keys)) == n or fast[1] == 0  # shared keys: decided columnwise only when equal
    if slow.rows == 0:
        assert fast == ([], 0, 0)  # same rows in another order: decided columnwise


def test_repeated_or_float_keys_are_left_to_the_row_comparison():
    t = pa.table({"k": [1, 1], "v": [1.0, 2.0]})
    assert compare_tables(t, t.take([1, 0]), ["k"], 10) == ([], 0, 0)  # paired by value
    assert compare_tables(t, pa.table({"k": [1, 1], "v": [1.0, 5.0]}), ["k"], 10) is None
    f = pa.table({"k": [1.5, 2.5], "v": [1, 2]})
    assert compare_tables(f, f, ["k"], 10) is None
    u = pa.table({"k": [1, 2], "v": [1, 2]})
    assert compare_tables(u, u, ["k"], 10) == ([], 0, 0)
    # a missing row is a differing row (and cell) without leaving the columnwise path
    sample, rows, cells = compare_tables(u, u.slice(0, 1), ["k"], 10)
    assert (rows, cells) == (1, 1) and sample[0]["key"] == (2,) and sample[0]["actual"] is None
    assert compare_tables(t, t.slice(0, 1), ["k"], 10) is None  # repeated keys with a row missing
