"""DuckDB, in process: the embedded default batch engine. Files are exposed as *temporary* views
(this connection only); tables in a user's database file are only read."""

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
        self.owned: set[str] = set()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        self.con.register(f"__arrow_{name}", table)  # connection-local
        casts = ", ".join(
            f"CAST({_q(f.name)} AS {types[f.name]}) AS {_q(f.name)}" if types and f.name in types else _q(f.name)
            for f in table.schema)
        self.con.execute(f'CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT {casts} FROM {_q("__arrow_" + name)}')
        self.owned.add(name)

    def register_parquet(self, name: str, path: Path) -> None:
        literal = str(path).replace("'", "''")
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT * FROM read_parquet('{literal}')")
        self.owned.add(name)

    def has_table(self, name: str) -> bool:
        if name in self.owned:
            return False
        rows = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE table_name = $1 AND NOT temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name = $1 AND NOT temporary", [name]).fetchall()
        return bool(rows)

    def alias(self, name: str, target: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {_q(name)} AS SELECT * FROM {_q(target)}")

    def execute(self, sql: str) -> None:
        self.con.execute(sql)

    def query(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def to_parquet(self, sql: str, path: Path, metadata: dict[str, str] | None = None) -> int:
        return write_batches(self.con.sql(sql).to_arrow_reader(), path, metadata)

    def close(self) -> None:
        self.con.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
