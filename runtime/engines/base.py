"""The small interface every batch engine implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq


class BatchEngine(Protocol):
    dialect: str

    def register(self, name: str, table: pa.Table, types: dict[str, str] | None = None) -> None:
        """Make ``table`` queryable as ``name`` (``types``: declared SQL types per column), in
        engine-private temporary space: never creates, replaces or drops a user's table."""

    def has_table(self, name: str) -> bool:
        """The user has a table or view ``name`` (not one registered here): it is read, never written."""

    def alias(self, name: str, target: str) -> None:
        """A temporary ``name`` reading ``target``."""

    def execute(self, sql: str) -> None:
        """Run a statement that returns nothing (DDL)."""

    def query(self, sql: str) -> pa.Table:
        """Run ``sql`` (in this engine's dialect) and return the result as Arrow."""

    def to_parquet(self, sql: str, path: Path, metadata: dict[str, str] | None = None) -> int:
        """Run ``sql`` and write the result to ``path`` without Python rows (``metadata``: the
        file's key-value metadata); returns the row count."""

    def close(self) -> None: ...


def fetch(engine: BatchEngine, sql: str) -> pa.Table:
    """A query's result as Arrow, by the engine's fastest way (Postgres: COPY parsed by Arrow)."""
    return engine.to_arrow(sql) if hasattr(engine, "to_arrow") else engine.query(sql)


def write_batches(reader: pa.RecordBatchReader, path: Path, metadata: dict[str, str] | None = None) -> int:
    rows = 0
    schema = reader.schema.with_metadata({**(reader.schema.metadata or {}), **metadata}) if metadata else reader.schema
    with pq.ParquetWriter(path, schema) as writer:
        for batch in reader:
            writer.write_batch(batch if not metadata else pa.RecordBatch.from_arrays(batch.columns, schema=schema))
            rows += batch.num_rows
    return rows


def arrow_to_pg_type(t: pa.DataType) -> str:
    if pa.types.is_timestamp(t):
        return "timestamptz"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return "numeric"
    return "text"
