"""`BatchDialect`: what a batch SQL dialect expresses natively, and how skewless spells what differs.

One file per dialect defines its instance (duckdb.py, postgres.py, spark.py, snowflake.py,
bigquery.py); the batch compilers read these fields instead of testing dialect names. SQL text
itself is written by sqlglot's generator for the dialect, from the query tree the compilers assemble.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BatchDialect:
    name: str
    # -- window frames -------------------------------------------------------------------------
    exclude: bool = True                # the frame EXCLUDE clause (else: exclude_rewrite.py)
    # EXCLUDE evaluated as fast as the frame without it (DuckDB's segment trees: 0.19 s for 300k
    # rows, where the frame ending 1 µs before takes 0.58 s). Postgres restarts the aggregate of
    # every row's frame under EXCLUDE (33 s for 100k rows on dense keys, 7 s without): elsewhere
    # EXCLUDE is written as a shortened frame wherever that is the same frame
    exclude_fast: bool = False
    range_timestamp: bool = True        # RANGE frames with INTERVAL offsets over timestamps
    single_unit_intervals: bool = False  # both RANGE bounds in one interval unit (Spark: seconds)
    int_row_offsets: bool = False       # ROWS offsets are INT: beyond 2^31 - 1 back means unbounded
    # -- aggregates --------------------------------------------------------------------------------
    count_distinct_window: bool = True  # COUNT(DISTINCT x) OVER (frame)
    count_distinct_collect_set: bool = False  # else SIZE(COLLECT_SET(x)) OVER (frame) (Spark)
    # float SUM/AVG/variances over sliding frames computed in NUMERIC: Postgres has no inverse
    # transition for floats and re-aggregates every row's frame (quadratic on dense keys)
    float_sums_in_numeric: bool = False
    # -- evaluation --------------------------------------------------------------------------------
    # evaluates a window function's argument for every row, not only the rows a frame holds
    # (Postgres: lazily); arguments that may raise are masked to the rows some frame reads (reach.py)
    eager_arguments: bool = False
    # the as-of relation masks arguments to rows a spine row's frame holds (RANGE ... FOLLOWING
    # over intervals; not where RANGE offsets are not intervals or not spelled so)
    spine_reach_masks: bool = False
    # -- plans -------------------------------------------------------------------------------------
    materialized_cte: bool = False      # WITH x AS MATERIALIZED (...)
    row_id: str = "ROW_NUMBER() OVER ()"  # a number per row of a relation, no order needed
    text_collation: str = ""            # after a text sort key: order text by bytes, as the stream
    # as-of: number events over all keys at once (a hash join finds a shifted row by its number
    # alone) instead of per key (joined with the key: Spark cannot sort all rows in one partition)
    global_event_numbers: bool = False
    as_of_row_positions: bool = False   # sliding RANGE frames as ROWS frames over positions (row_positions.py)
    sliding_extreme_blocks: bool = False  # sliding MIN/MAX by block decomposition (sliding_extreme.py)

    @property
    def count_distinct_stabbing(self) -> bool:
        """COUNT(DISTINCT) over a frame by stabbing queries (count_distinct.py): no window form."""
        return not self.count_distinct_window and not self.count_distinct_collect_set
