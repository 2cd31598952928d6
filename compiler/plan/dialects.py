"""Per-view SQL for each batch dialect: the view's own query, bound to a table per input.

This is the per-event relation (one row per input event). Where a dialect lacks a construct the
view uses, no SQL is emitted: the result records why, so nothing silently differs (sqlglot would
otherwise drop an EXCLUDE clause without a word). Rewrites that make these dialects work are
the batch planner's job.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from ..ir import FeatureView

# construct -> dialects that cannot run it as written
LIMITS: dict[str, dict[str, str]] = {
    "count_distinct": {
        "postgres": "Postgres has no DISTINCT in window functions",
        "spark": "Spark has no DISTINCT in window functions",
        "snowflake": "Snowflake has no DISTINCT in window functions with a frame",
        "bigquery": "BigQuery has no DISTINCT in window functions with a frame",
    },
    "exclude": {
        "spark": "Spark has no frame EXCLUDE",
        "snowflake": "Snowflake has no frame EXCLUDE",
        "bigquery": "BigQuery has no frame EXCLUDE",
    },
    "filter": {
        "spark": "Spark has no FILTER clause on window aggregates",
        "bigquery": "BigQuery has no FILTER clause on window aggregates",
    },
    "range_interval": {
        "bigquery": "BigQuery has no RANGE frames over timestamps",
    },
}


@dataclass(frozen=True)
class DialectSQL:
    dialect: str
    sql: str | None
    unsupported: list[str]


def constructs(view: FeatureView) -> set[str]:
    used: set[str] = set()
    for agg in view.aggregates:
        if agg.func == "count_distinct":
            used.add("count_distinct")
        if agg.filter is not None:
            used.add("filter")
        if agg.frame is not None:
            if agg.frame.exclude != "no_others":
                used.add("exclude")
            if agg.frame.mode == "range" and agg.frame.start.kind == "preceding":
                used.add("range_interval")
    return used


def view_sql(view: FeatureView, dialect: str, source_dialect: str, tables: dict[str, str] | None = None,
             parsed: exp.Expression | None = None) -> DialectSQL:
    """The view's SQL in ``dialect``, with each input bound to ``tables[name]`` (default: its name).
    Pass ``parsed`` (the view's parsed SQL) to avoid parsing it again for every dialect."""
    reasons = [LIMITS[c][dialect] for c in sorted(constructs(view)) if dialect in LIMITS.get(c, {})]
    if reasons:
        return DialectSQL(dialect, None, reasons)
    tree = parsed.copy() if parsed is not None else sqlglot.parse_one(view.sql, read=source_dialect)
    tables = tables or {}
    for table in tree.find_all(exp.Table):
        if table.name in tables:
            table.replace(exp.to_table(tables[table.name], dialect=dialect).as_(table.alias or table.name))
    try:
        sql = tree.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE, copy=False)
    except UnsupportedError as exc:
        return DialectSQL(dialect, None, [f"sqlglot cannot express it in {dialect}: {exc}"])
    return DialectSQL(dialect, sql, [])
