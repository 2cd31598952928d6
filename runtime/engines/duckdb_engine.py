"""DuckDB, in process: the embedded default batch engine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from .base import write_batches


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, path: str = ":memory:", threads: int | None = None):
        self.con = duckdb.connect(path)
        self.con.execute("SET TimeZone = 'UTC'")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        self.con.register(f"__arrow_{name}", table)
        casts = ", ".join(
            f'CAST("{f.name}" AS {types[f.name]}) AS "{f.name}"' if types and f.name in types else f'"{f.name}"'
            for f in table.schema)
        self.con.execute(f'CREATE OR REPLACE VIEW "{name}" AS SELECT {casts} FROM "__arrow_{name}"')

    def register_parquet(self, name: str, path: Path) -> None:
        self.con.execute(f"CREATE OR REPLACE VIEW \"{name}\" AS SELECT * FROM read_parquet('{path}')")

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def to_parquet(self, sql: str, path: Path) -> int:
        return write_batches(self.con.sql(sql).to_arrow_reader(), path)

    def close(self) -> None:
        self.con.close()
