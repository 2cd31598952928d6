"""Batch SQL from the IR: the per-event relation (backfill) and the as-of relation (training sets).

Generated as sqlglot trees and rendered per dialect. Where a dialect lacks a construct, an exact
rewrite is generated (FILTER → CASE, EXCLUDE GROUP → a frame ending 1 µs / 1 row before, COUNT
DISTINCT → an interval-stabbing count on Postgres or COLLECT_SET on Spark, RANGE over timestamps →
RANGE over epoch microseconds on BigQuery) or compilation fails with `BatchUnsupported` naming the
view, the construct and the dialect. Nothing is emitted that silently means something else.
"""

from .as_of import as_of_sql
from .capabilities import BatchUnsupported
from .per_event import per_event_sql

__all__ = ["BatchUnsupported", "as_of_sql", "per_event_sql"]
