"""Compiled batch SQL against the databases as oracle.

* Per event: the view's own SQL run by Postgres (DuckDB for COUNT(DISTINCT) OVER, which Postgres
  cannot run) == compiled SQL on Postgres == compiled SQL on DuckDB, for every aggregate family ×
  frame kind × EXCLUDE mode, on hypothesis-generated event streams.
* As of t: compiled as-of SQL on Postgres and DuckDB == the contract's definition written as
  explicit lateral SQL, evaluated by Postgres.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from skewless.compiler.batch import as_of_sql, per_event_sql
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, spines, tx_events
from tests.support.lateral import lateral_sql

pytestmark = pytest.mark.postgres
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("catalog") / "proj")


@pytest.fixture(scope="module")
def engines(oracle_engines):
    return oracle_engines


@given(events=tx_events())
@SETTINGS
def test_per_event_compiled_equals_original(catalog, engines, events):
    compiled, distinct = catalog
    pg, duck = engines
    pg.register("tx", events, TYPES)
    duck.register("tx", events, TYPES)
    for name, view in sorted(compiled.views.items()):
        oracle_engine = duck if name in distinct else pg
        original = oracle_engine.query(compiled.rendered[name].sql)
        for engine in (pg, duck):
            got = engine.query(per_event_sql(view, engine.dialect, '"tx"'))
            problems = diff(original, got, "txn_id")
            assert not problems, f"{name} on {engine.dialect}: {problems[:5]}\n{per_event_sql(view, engine.dialect, 'tx', pretty=True)}"


@given(events=tx_events(), spine=spines())
@SETTINGS
def test_as_of_compiled_equals_lateral_definition(catalog, engines, events, spine):
    compiled, _ = catalog
    pg, duck = engines
    for engine in (pg, duck):
        engine.register("tx", events, TYPES)
        engine.register("spine", spine, {"user_id": "text", "__t": "timestamptz", "__spine_id": "bigint"})
    for name, view in sorted(compiled.views.items()):
        single = {c.name: view.aggregate(c.aggregates[0]) for c in view.columns
                  if c.kind == "feature" and c.expr == f"__{c.aggregates[0]}"}
        oracle = pg.query("SELECT s.__spine_id, " + ", ".join(
            f'{lateral_sql(view, agg)} AS "{col}"' for col, agg in single.items()) + " FROM spine s")
        for engine in (pg, duck):
            got = engine.query(as_of_sql(view, engine.dialect, '"tx"', '"spine"'))
            problems = diff(oracle, got, "__spine_id", list(single))
            assert not problems, f"{name} as-of on {engine.dialect}: {problems[:5]}"
