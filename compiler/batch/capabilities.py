"""What each batch dialect can express natively."""

from __future__ import annotations

from dataclasses import dataclass


class BatchUnsupported(Exception):
    def __init__(self, view: str, construct: str, dialect: str, why: str = ""):
        self.view, self.construct, self.dialect = view, construct, dialect
        super().__init__(f"view {view!r}: {construct} cannot be compiled exactly for {dialect}"
                         + (f" ({why})" if why else ""))


@dataclass(frozen=True)
class Caps:
    exclude: bool = True            # frame EXCLUDE clause
    # EXCLUDE evaluated as fast as the frame without it (DuckDB's segment trees: 0.19 s for 300k
    # rows, where the frame ending 1 µs before takes 0.58 s). Postgres restarts the aggregate of
    # every row's frame under EXCLUDE (33 s for 100k rows on dense keys, 7 s without): elsewhere
    # EXCLUDE is written as a shortened frame wherever that is the same frame
    exclude_fast: bool = False
    count_distinct_window: bool = True
    range_timestamp: bool = True    # RANGE frames with INTERVAL offsets over timestamps
    materialized_cte: bool = False  # WITH x AS MATERIALIZED (...)


CAPS: dict[str, Caps] = {
    "duckdb": Caps(exclude_fast=True),
    "postgres": Caps(count_distinct_window=False, materialized_cte=True),
    "spark": Caps(exclude=False, count_distinct_window=False),
    "snowflake": Caps(exclude=False, count_distinct_window=False),
    "bigquery": Caps(exclude=False, count_distinct_window=False, range_timestamp=False),
}


def caps(dialect: str) -> Caps:
    if dialect not in CAPS:
        raise ValueError(f"unknown batch dialect {dialect!r}; one of {', '.join(CAPS)}")
    return CAPS[dialect]
