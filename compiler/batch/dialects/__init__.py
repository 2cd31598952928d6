"""The batch SQL dialects, one file each (`BatchDialect` in base.py)."""

from __future__ import annotations

from . import bigquery, duckdb, postgres, snowflake, spark
from .base import BatchDialect

DIALECTS: dict[str, BatchDialect] = {m.DIALECT.name: m.DIALECT for m in (duckdb, postgres, spark, snowflake, bigquery)}


def batch_dialect(name: str) -> BatchDialect:
    if name not in DIALECTS:
        raise ValueError(f"unknown batch dialect {name!r}; one of {', '.join(DIALECTS)}")
    return DIALECTS[name]


__all__ = ["BatchDialect", "DIALECTS", "batch_dialect"]
