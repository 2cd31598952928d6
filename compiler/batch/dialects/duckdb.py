"""DuckDB: the embedded default engine."""

from .base import BatchDialect

DIALECT = BatchDialect(
    name="duckdb",
    exclude_fast=True,          # segment trees evaluate EXCLUDE at the frame's cost
    eager_arguments=True,       # computes every row's argument: reach masks
    spine_reach_masks=True,
    as_of_row_positions=True,   # its RANGE frame-start search is paid per row and per window call
)
