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
from skewless.compiler.ir import FeatureView
from skewless.runtime.engines import DuckDBEngine, PostgresEngine
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, spines, tx_events

pytestmark = pytest.mark.postgres
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("catalog") / "proj")


@pytest.fixture(scope="module")
def engines(pg_dsn):
    pg, duck = PostgresEngine(pg_dsn), DuckDBEngine()
    yield pg, duck
    pg.close()
    duck.close()


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


def _agg_call(agg) -> str:
    func = {"count_star": "COUNT(*)", "count_distinct": f"COUNT(DISTINCT {agg.arg})"}.get(agg.func)
    if func is None:
        func = f"{agg.func.upper()}({agg.arg})"
    return func + (f" FILTER (WHERE {agg.filter})" if agg.filter else "")


def lateral_sql(view: FeatureView, agg) -> str:
    """The as-of definition of one aggregate, as a correlated subquery over ``tx e`` for spine ``s``."""
    key = view.entity[0]
    base = [f'e."{key}" IS NOT DISTINCT FROM s."{key}"', "e.ts <= s.__t"]
    if view.where:
        base.append(f"({view.where})")
    newest = "ORDER BY e.ts DESC, e.txn_id DESC"
    frame = agg.frame
    if agg.func == "lag":
        if agg.offset == 0:
            return "NULL" if agg.arg != "ts" else "s.__t"
        default = agg.default or "NULL"
        return (f"(SELECT CASE WHEN COUNT(*) = 0 THEN {default} ELSE MAX(q.v) END FROM (SELECT {agg.arg} AS v "
                f"FROM tx e WHERE {' AND '.join(base)} {newest} OFFSET {agg.offset - 1} LIMIT 1) q)")
    if frame.mode == "range" and agg.func not in ("first_value", "last_value"):
        if frame.start.kind == "preceding":
            base.append(f"e.ts >= s.__t - INTERVAL '{frame.start.offset} microseconds'")
        if frame.exclude in ("group", "ties"):
            base.append("e.ts < s.__t")
        return f"(SELECT {_agg_call(agg)} FROM tx e WHERE {' AND '.join(base)})"
    # ROWS frames (and FIRST/LAST_VALUE over the whole history): positions 1 = newest event <= t
    m = 0 if frame.end.kind == "current_row" else frame.end.offset
    lo = max(m, 1)
    limit = "" if frame.start.kind == "unbounded_preceding" else f" LIMIT {max(frame.start.offset - lo + 1, 0)}"
    rows = f"(SELECT e.* FROM tx e WHERE {' AND '.join(base)} {newest} OFFSET {lo - 1}{limit}) e"
    if agg.func == "first_value":
        return f"(SELECT e.{agg.arg} FROM {rows} ORDER BY e.ts ASC, e.txn_id ASC LIMIT 1)"
    if agg.func == "last_value":
        return f"(SELECT e.{agg.arg} FROM {rows} {newest} LIMIT 1)"
    return f"(SELECT {_agg_call(agg)} FROM {rows})"


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
