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
    count_distinct_window: bool = True
    range_timestamp: bool = True    # RANGE frames with INTERVAL offsets over timestamps
    materialized_cte: bool = False  # WITH x AS MATERIALIZED (...)


CAPS: dict[str, Caps] = {
    "duckdb": Caps(),
    "postgres": Caps(count_distinct_window=False, materialized_cte=True),
    "spark": Caps(exclude=False, count_distinct_window=False),
    "snowflake": Caps(exclude=False, count_distinct_window=False),
    "bigquery": Caps(exclude=False, count_distinct_window=False, range_timestamp=False),
}


def caps(dialect: str) -> Caps:
    if dialect not in CAPS:
        raise ValueError(f"unknown batch dialect {dialect!r}; one of {', '.join(CAPS)}")
    return CAPS[dialect]
