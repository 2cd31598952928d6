"""Postgres: the oracle's engine (psycopg)."""

from .base import BatchDialect

DIALECT = BatchDialect(
    name="postgres",
    count_distinct_window=False,   # no COUNT(DISTINCT ...) OVER: stabbing queries
    float_sums_in_numeric=True,
    spine_reach_masks=True,        # lazy arguments, but the as-of union's events sit in events' frames
    materialized_cte=True,
    text_collation=' COLLATE "C"',  # the database's collation would order text otherwise
    global_event_numbers=True,
    sliding_extreme_blocks=True,   # MIN/MAX restart per row on sliding frames
)
