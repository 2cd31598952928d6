"""Hypothesis strategies for event streams with ties, NULLs, boundary timestamps and many keys."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pyarrow as pa
from hypothesis import strategies as st

BASE = datetime(2026, 3, 1, tzinfo=timezone.utc)
# offsets (seconds) chosen to hit RANGE boundaries: exactly 1h / 30min apart, 1 µs inside/outside
OFFSETS = [0, 0, 1, 60, 900, 1800, 1800, 3600, 3600, 3601, 5400, 7200, 7200.000001, 10799.999999, 10800, 86400]


@st.composite
def tx_events(draw, min_size: int = 1, max_size: int = 60, users: int = 4) -> pa.Table:
    n = draw(st.integers(min_size, max_size))
    rows = []
    for i in range(n):
        off = draw(st.sampled_from(OFFSETS)) + draw(st.sampled_from([0, 0, 0, 3600 * 3, 86400 * 2]))
        rows.append({
            "txn_id": f"t{i:04d}",
            "user_id": draw(st.sampled_from([f"u{j}" for j in range(users)] + [None])) if users else "u0",
            "merchant_id": draw(st.sampled_from(["m1", "m2", "m3", None])),
            "amount": draw(st.one_of(st.none(), st.sampled_from([0.0, 1.5, 2.25, 10.0, 100.125, -3.5, 1e6]))),
            "n": draw(st.one_of(st.none(), st.integers(-5, 50))),
            "status": draw(st.sampled_from(["ok", "ok", "bad", None])),
            "flag": draw(st.sampled_from([True, False, None])),
            "ts": BASE + timedelta(seconds=off),
        })
    return to_table(rows)


SCHEMA = pa.schema([("txn_id", pa.string()), ("user_id", pa.string()), ("merchant_id", pa.string()),
                    ("amount", pa.float64()), ("n", pa.int64()), ("status", pa.string()), ("flag", pa.bool_()),
                    ("ts", pa.timestamp("us", tz="UTC"))])
TYPES = {"txn_id": "text", "user_id": "text", "merchant_id": "text", "amount": "double precision", "n": "integer",
         "status": "text", "flag": "boolean", "ts": "timestamptz"}


def to_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@st.composite
def spines(draw, users: int = 4, max_size: int = 25) -> pa.Table:
    n = draw(st.integers(1, max_size))
    rows = []
    for i in range(n):
        off = draw(st.sampled_from(OFFSETS)) + draw(st.sampled_from([0, 0, 3600 * 3, 86400 * 2, -3600]))
        rows.append({"user_id": draw(st.sampled_from([f"u{j}" for j in range(users)] + ["nobody"])),
                     "__t": BASE + timedelta(seconds=off), "__spine_id": i})
    return pa.Table.from_pylist(rows, schema=pa.schema([("user_id", pa.string()), ("__t", pa.timestamp("us", tz="UTC")),
                                                        ("__spine_id", pa.int64())]))
