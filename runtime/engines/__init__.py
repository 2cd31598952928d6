"""Batch engines: one module each, behind `BatchEngine`."""

from pathlib import Path

from .base import BatchEngine, arrow_to_pg_type, fetch
from .duckdb_engine import DuckDBEngine
from .postgres_engine import PostgresEngine

__all__ = ["BatchEngine", "DuckDBEngine", "PostgresEngine", "arrow_to_pg_type", "fetch"]


def engine_for(target_batch, root=None) -> BatchEngine:
    """Open the engine a profile target names."""
    if target_batch.engine == "duckdb":
        path = target_batch.path
        if path != ":memory:":
            full = (root / path) if root is not None else Path(path)
            full.parent.mkdir(parents=True, exist_ok=True)
            path = str(full)
        return DuckDBEngine(path, threads=target_batch.threads)
    if target_batch.engine == "postgres":
        return PostgresEngine(target_batch.dsn, schema=target_batch.schema_, work_mem=target_batch.work_mem)
    from .spark_engine import SparkEngine

    return SparkEngine(master=target_batch.master, conf=target_batch.conf)
