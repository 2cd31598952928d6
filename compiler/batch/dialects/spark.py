"""Spark SQL (ANSI mode): scale-out batch."""

from .base import BatchDialect

DIALECT = BatchDialect(
    name="spark",
    exclude=False,
    single_unit_intervals=True,
    int_row_offsets=True,
    count_distinct_window=False,
    count_distinct_collect_set=True,
    eager_arguments=True,          # raises ARITHMETIC_OVERFLOW on rows no frame reads: reach masks
    spine_reach_masks=True,
    row_id="MONOTONICALLY_INCREASING_ID()",  # ROW_NUMBER() needs an order on Spark
)
