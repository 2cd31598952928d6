"""Batch SQL generation: dialect rewrites and refusals (execution is checked in the oracle tests)."""

from __future__ import annotations

import pytest
import sqlglot

from skewless.compiler.batch import BatchUnsupported, as_of_sql, per_event_sql

W = "PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW"


def view(compile_views, select: str):
    compiled = compile_views({"v": f"SELECT txn_id, user_id, ts, {select} FROM {{{{ source('tx') }}}}"})
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    return compiled.views["v"]


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery"])
def test_every_dialect_parses_back(compile_views, dialect):
    v = view(compile_views, f"SUM(amount) FILTER (WHERE flag) OVER ({W} EXCLUDE GROUP) AS s, "
                            f"COUNT(DISTINCT merchant_id) OVER ({W}) AS d")
    for sql in (per_event_sql(v, dialect, "tx"), as_of_sql(v, dialect, "tx", "spine")):
        sqlglot.parse_one(sql, read=dialect)


def test_duckdb_keeps_native_constructs(compile_views):
    v = view(compile_views, f"COUNT(DISTINCT merchant_id) OVER ({W} EXCLUDE TIES) AS d")
    sql = per_event_sql(v, "duckdb", "tx")
    assert "COUNT(DISTINCT" in sql and "EXCLUDE TIES" in sql


def test_postgres_rewrites_count_distinct_without_self_join(compile_views):
    v = view(compile_views, f"COUNT(DISTINCT merchant_id) OVER ({W}) AS d")
    sql = per_event_sql(v, "postgres", "tx")
    assert "COUNT(DISTINCT" not in sql and "LEAD(__pos)" in sql and "MATERIALIZED" in sql


def test_spark_rewrites_filter_exclude_and_distinct(compile_views):
    v = view(compile_views, f"COUNT(*) FILTER (WHERE status = 'ok') OVER ({W} EXCLUDE GROUP) AS c, "
                            f"COUNT(DISTINCT merchant_id) OVER ({W}) AS d, MIN(amount) OVER ({W} EXCLUDE TIES) AS m")
    sql = per_event_sql(v, "spark", "tx")
    assert "EXCLUDE" not in sql and "FILTER" not in sql
    assert "INTERVAL '0.000001' SECONDS PRECEDING" in sql and "SIZE(COLLECT_SET(" in sql


def test_bigquery_orders_range_frames_by_epoch_micros(compile_views):
    v = view(compile_views, f"SUM(amount) OVER ({W}) AS s")
    assert "ORDER BY UNIX_MICROS(`ts`) RANGE BETWEEN 3600000000 PRECEDING" in per_event_sql(v, "bigquery", "tx")


@pytest.mark.parametrize("select,construct", [
    (f"STDDEV_SAMP(amount) OVER ({W} EXCLUDE TIES) AS x", "STDDEV_SAMP over a RANGE frame with EXCLUDE TIES"),
    (f"MIN(amount) OVER ({W} EXCLUDE CURRENT ROW) AS x", "MIN over a RANGE frame with EXCLUDE CURRENT ROW"),
    (f"SUM(amount) OVER ({W} EXCLUDE CURRENT ROW) AS x", "SUM over a RANGE frame with EXCLUDE CURRENT ROW"),
])
def test_no_exact_rewrite_is_a_clear_error(compile_views, select, construct):
    v = view(compile_views, select)
    with pytest.raises(BatchUnsupported) as err:
        per_event_sql(v, "spark", "tx")
    assert str(err.value) == f"view 'v': {construct} cannot be compiled exactly for spark (no EXCLUDE clause and no exact rewrite)"
    per_event_sql(v, "duckdb", "tx")  # natively fine elsewhere


def test_as_of_reads_only_the_reachable_range(compile_views):
    v = view(compile_views, f"SUM(amount) OVER ({W}) AS s")
    assert "- INTERVAL '1 hour'" in as_of_sql(v, "postgres", "tx", "spine").replace("'1 HOUR'", "'1 hour'")
    lifetime = view(compile_views, "COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c")
    assert "MIN(__t)" not in as_of_sql(lifetime, "postgres", "tx", "spine")
