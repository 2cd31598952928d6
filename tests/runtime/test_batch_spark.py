"""Spark (local[2], Java 17) runs the compiled batch SQL with the same results as the original SQL
on Postgres (DuckDB for COUNT(DISTINCT) OVER), on a smaller sample than the other engines."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from skewless.compiler.batch import BatchUnsupported, as_of_sql, per_event_sql
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, spines, to_table, tx_events
from tests.support.lateral import lateral_as_of

if os.environ.get("CI"):
    import pyspark  # noqa: F401 - CI installs the spark extra: a missing pyspark is a failure there
else:
    pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.postgres]




@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("spark") / "proj")


@pytest.fixture(scope="module")
def oracles(oracle_engines):
    return oracle_engines


@given(events=tx_events(max_size=30), spine=spines(max_size=10))
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_spark_matches_oracle(catalog, spark, oracles, events, spine):
    compiled, distinct = catalog
    pg, duck = oracles
    for engine in (pg, duck, spark):
        engine.register("tx", events, TYPES)
        engine.register("spine", spine)
    checked = refused = 0
    for name, view in sorted(compiled.views.items()):
        try:
            per_event = per_event_sql(view, "spark", "tx")
            as_of = as_of_sql(view, "spark", "tx", "spine")
        except BatchUnsupported as exc:
            assert "cannot be compiled exactly for spark" in str(exc)
            refused += 1
            continue
        oracle = (duck if name in distinct else pg).query(compiled.views[name].sql)
        problems = diff(oracle, spark.query(per_event), "txn_id")
        assert not problems, f"{name} on spark: {problems[:5]}"
        # as of t: the contract's definition (explicit lateral SQL) evaluated by Postgres
        expected, single = lateral_as_of(pg, view)
        problems = diff(expected, spark.query(as_of), "__spine_id", single)
        assert not problems, f"{name} as-of on spark: {problems[:5]}"
        checked += 1
    assert checked >= 30 and refused <= 10, (checked, refused)


# arguments that overflow for some rows (int4 + 1, a cast to smallint) in frames that leave those
# rows out: Postgres never evaluates them there; Spark (ANSI mode) evaluates every row's argument
# unless the compiled SQL masks the rows no frame holds (reach.py)
FALLIBLE = {
    "x_cur": "SUM(n + 1) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING "
             "AND CURRENT ROW EXCLUDE CURRENT ROW)",
    "x_grp": "MAX(CAST(n AS SMALLINT)) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' "
             "PRECEDING AND CURRENT ROW EXCLUDE GROUP)",
    "x_rows": "SUM(n + 1) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING)",
    "x_rows_cur": "AVG(n + 1) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 3 PRECEDING AND "
                  "CURRENT ROW EXCLUDE CURRENT ROW)",
    "x_delayed": "SUM(n + 1) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING "
                 "AND INTERVAL '1 hour' PRECEDING)",
    "x_lag": "LAG(n + 1) OVER (PARTITION BY user_id ORDER BY ts, txn_id)",
    "x_filter": "COUNT(*) FILTER (WHERE n + 1 > 0) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN "
                "INTERVAL '1 hour' PRECEDING AND CURRENT ROW EXCLUDE GROUP)",
}


def test_spark_evaluates_arguments_only_where_postgres_does(compile_views, spark, oracles):
    from datetime import datetime, timedelta, timezone

    compiled = compile_views({name: f"SELECT txn_id, user_id, ts, {expr} AS f\nFROM {{{{ source('tx') }}}}"
                              for name, expr in FALLIBLE.items()})
    assert not compiled.diagnostics, compiled.diagnostics[:3]
    t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    big = 2 ** 31 - 1
    rows = []  # (user, minutes, n): the big values sit where no frame (or LAG) reads them
    for i, (user, minutes, n) in enumerate([
            ("a", 0, big),            # alone: in no other row's frame (excluded from its own)
            ("b", 0, 3), ("b", 10, 4), ("b", 20, big),  # the last of b: no later row reads it
            ("c", 0, 40000), ("c", 300, 5)]):          # smallint overflow 5 hours before the next row
        rows.append({"txn_id": f"t{i}", "user_id": user, "merchant_id": "m", "amount": 1.0, "n": n,
                     "status": "ok", "flag": True, "ts": t0 + timedelta(minutes=minutes)})
    events = to_table(rows)
    pg, _ = oracles
    for engine in (pg, spark):
        engine.register("tx", events, TYPES)
    for name in FALLIBLE:
        view = compiled.views[name]
        expected = pg.query(compiled.views[name].sql)  # Postgres runs it: the rows it skips do not fail
        problems = diff(expected, spark.query(per_event_sql(view, "spark", "tx")), "txn_id")
        assert not problems, f"{name} on spark: {problems[:5]}"
