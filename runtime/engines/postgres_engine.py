"""Postgres through psycopg: sources become tables, results come back as Arrow."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from .base import arrow_to_pg_type


class PostgresEngine:
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str = "public"):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("SET TimeZone = 'UTC'")
        self.schema = schema

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        cols = [(f.name, (types or {}).get(f.name) or arrow_to_pg_type(f.type)) for f in table.schema]
        ident = psycopg.sql.Identifier
        with self.conn.cursor() as cur:
            cur.execute(psycopg.sql.SQL("DROP TABLE IF EXISTS {}").format(ident(name)))
            cur.execute(psycopg.sql.SQL("CREATE TABLE {} ({})").format(
                ident(name), psycopg.sql.SQL(", ").join(
                    psycopg.sql.SQL("{} {}").format(ident(c), psycopg.sql.SQL(t)) for c, t in cols)))
            with cur.copy(psycopg.sql.SQL("COPY {} FROM STDIN").format(ident(name))) as copy:
                for batch in table.to_batches(max_chunksize=50_000):
                    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
                    for row in zip(*columns):
                        copy.write_row(row)
            cur.execute(psycopg.sql.SQL("ANALYZE {}").format(ident(name)))

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def query(self, sql: str) -> pa.Table:
        with self.conn.cursor() as cur:
            cur.execute(sql)
            names = [d.name for d in cur.description]
            rows = cur.fetchall()
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        return pa.table({n: pa.array([_plain(v) for v in col]) for n, col in zip(names, columns)})

    def to_parquet(self, sql: str, path: Path) -> int:
        writer = None
        rows = 0
        with self.conn.transaction(), self.conn.cursor(name="skewless_export") as cur:
            cur.itersize = 50_000
            cur.execute(sql)
            names = None
            while True:
                chunk = cur.fetchmany(50_000)
                if names is None:
                    names = [d.name for d in cur.description]
                if not chunk:
                    break
                table = pa.table({n: pa.array([_plain(v) for v in col]) for n, col in zip(names, zip(*chunk))})
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
                rows += len(chunk)
        if writer:
            writer.close()
        return rows

    def close(self) -> None:
        self.conn.close()


def _plain(value):
    from datetime import timedelta
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() or abs(value) > 2**62 else int(value)
    if isinstance(value, timedelta):
        return value
    return value
