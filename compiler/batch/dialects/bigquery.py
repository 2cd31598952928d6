"""BigQuery (SQL emitted, not run in the tests: no server here)."""

from .base import BatchDialect

DIALECT = BatchDialect(name="bigquery", exclude=False, count_distinct_window=False, range_timestamp=False)
