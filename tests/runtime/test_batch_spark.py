"""Spark (local[2], Java 17) runs the compiled batch SQL with the same results as the original SQL
on Postgres (DuckDB for COUNT(DISTINCT) OVER), on a smaller sample than the other engines."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings

from skewless.compiler.batch import BatchUnsupported, as_of_sql, per_event_sql
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, spines, tx_events

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
        oracle = (duck if name in distinct else pg).query(compiled.rendered[name].sql)
        problems = diff(oracle, spark.query(per_event), "txn_id")
        assert not problems, f"{name} on spark: {problems[:5]}"
        expected = pg.query(as_of_sql(view, "postgres", '"tx"', '"spine"'))
        problems = diff(expected, spark.query(as_of), "__spine_id")
        assert not problems, f"{name} as-of on spark: {problems[:5]}"
        checked += 1
    assert checked >= 30 and refused <= 10, (checked, refused)
