"""Batch engines writing Parquet: types come from the result, not from each chunk's values."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewless.runtime.engines import DuckDBEngine, PostgresEngine

# 120k rows = three of the Postgres export's chunks: the first all NULL / whole numbers, later ones not
SQL = """SELECT i::bigint AS i,
  CASE WHEN i > 60000 THEN i * 0.5::float8 END AS late_double,
  CASE WHEN i > 60000 THEN i / 4.0 ELSE i::numeric END AS whole_then_fraction,
  CASE WHEN i > 110000 THEN 'x' END AS late_text,
  TIMESTAMPTZ '2026-01-01 00:00:00+00' + i * INTERVAL '1 second' AS ts
FROM generate_series(1, 120000) AS g(i)"""


@pytest.mark.postgres
def test_postgres_export_keeps_one_type_per_column_across_chunks(tmp_path, pg_dsn):
    engine = PostgresEngine(pg_dsn)
    out = tmp_path / "x.parquet"
    assert engine.to_parquet(SQL, out, {"skewless.test": "1"}) == 120_000
    engine.close()
    table = pq.read_table(out)
    assert table.schema.field("late_double").type == pa.float64()
    assert table.schema.field("whole_then_fraction").type == pa.float64()
    assert table.schema.field("late_text").type == pa.string()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    assert table.schema.metadata[b"skewless.test"] == b"1"
    rows = table.slice(59_999, 2).to_pylist()  # i = 60000, 60001
    assert rows[0]["late_double"] is None and rows[1]["late_double"] == 60_001 * 0.5
    assert rows[0]["whole_then_fraction"] == 60_000 and rows[1]["whole_then_fraction"] == 60_001 / 4
    assert table["late_text"].null_count == 110_000


@pytest.mark.postgres
def test_postgres_export_of_no_rows_keeps_names_and_types(tmp_path, pg_dsn):
    engine = PostgresEngine(pg_dsn)
    out = tmp_path / "x.parquet"
    assert engine.to_parquet(SQL + " WHERE false", out) == 0
    engine.close()
    schema = pq.read_schema(out)
    assert schema.names == ["i", "late_double", "whole_then_fraction", "late_text", "ts"]
    assert schema.field("i").type == pa.int64()


def test_duckdb_writes_the_metadata_given(tmp_path):
    engine = DuckDBEngine()
    out = tmp_path / "x.parquet"
    assert engine.to_parquet("SELECT range AS i FROM range(5)", out, {"skewless.model": "m"}) == 5
    engine.close()
    assert pq.read_schema(out).metadata[b"skewless.model"] == b"m"


TRICKY = """SELECT * FROM (VALUES
  (1, 'NaN'::float8, 'NaN'::numeric, '', 'a,b "q"' || chr(10) || 'line', true, DATE '2026-01-02',
   TIMESTAMP '2026-01-01 00:00:00.5', TIMESTAMPTZ '2026-01-01 00:00:00.000001+00', 'NaN', 1.5::float4),
  (2, 'Infinity'::float8, -0.125::numeric, NULL, NULL, false, NULL, NULL, NULL, NULL, NULL),
  (3, '-Infinity'::float8, NULL, ' ', '\\N', NULL, DATE '1999-12-31', TIMESTAMP '1999-12-31 23:59:59',
   TIMESTAMPTZ '1999-12-31 23:59:59.999999+00', 'x', -0.0::float4)
) AS v(i, d, n, empty, text, b, dt, naive, ts, nan_text, f4)"""


@pytest.mark.postgres
@pytest.mark.parametrize("interval", [False, True])  # an interval column takes the row-by-row export
def test_postgres_export_values_round_trip(tmp_path, pg_dsn, interval):
    import psycopg

    sql = TRICKY if not interval else f"SELECT *, INTERVAL '1 hour' * i AS iv FROM ({TRICKY}) AS t"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        want = conn.execute(sql + " ORDER BY i").fetchall()
    engine = PostgresEngine(pg_dsn)
    out = tmp_path / "x.parquet"
    assert engine.to_parquet(sql, out) == 3
    engine.close()
    got = pq.read_table(out).sort_by("i").to_pylist()
    for w, g in zip(want, got):
        for value, (name, have) in zip(w, g.items()):
            if isinstance(value, float) and value != value:
                assert have != have, name
            elif name == "n" and value is not None:
                assert have == float(value) or (value.is_nan() and have != have), name
            else:
                assert have == value, (name, have, value)
    assert pq.read_schema(out).field("f4").type == pa.float32()
