"""The differential fuzzer's Spark budget: generated views and events, the per-event and as-of SQL
compiled for Spark run on ``local[2]``, compared with the view's own SQL on Postgres (DuckDB for
COUNT(DISTINCT) OVER; probe rows for as of t, tests/fuzz/as_of.py). Smaller than the main budget:
Spark answers a query in about a second. ``SKEWLESS_FUZZ_SPARK_EXAMPLES`` (default 6) examples of
``SKEWLESS_FUZZ_VIEWS`` views."""

from __future__ import annotations

import os
from collections import Counter

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from skewless.compiler.batch.as_of import as_of_sql
from skewless.compiler.batch.capabilities import BatchUnsupported
from skewless.compiler.batch.inputs import input_for
from skewless.compiler.batch.per_event import per_event_sql
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.sources.files import arrow_type
from skewless.runtime.values import same

from .as_of import expected_as_of
from .test_differential import PROJECT, SOURCES, VIEWS, _load, _load_upstream, _rows, _scale, write_dimensions
from .views import COLUMNS, DIMENSIONS, UPSTREAM, events, over_upstream, upstream_sql, view_join_sql, view_sql

if os.environ.get("CI"):
    import pyspark  # noqa: F401 - CI installs the spark extra
else:
    pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.postgres]
# CI replays one fixed, verified exploration (a merge is never blocked by a case nobody has seen);
# local `make test` and `make fuzz` explore new cases on every run
DERANDOMIZE = os.environ.get("SKEWLESS_FUZZ_DERANDOMIZE") == "1"
EXAMPLES = int(os.environ.get("SKEWLESS_FUZZ_SPARK_EXAMPLES", "6"))
STATS: Counter = Counter()




@pytest.fixture(scope="module")
def pg(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


class EagerOverflow(Exception):
    """Spark raised an overflow where Postgres ran the view: it evaluated an argument for a row no
    frame holds (Postgres never evaluates those) — the compiled SQL's reach masks missed it."""


def _spark_rows(engine, sql: str, key: str) -> dict:
    try:
        return {r[key]: r for r in engine.query(sql).to_pylist()}
    except Exception as exc:  # noqa: BLE001 - pyspark's exception classes; anything else is re-raised
        if "ARITHMETIC_OVERFLOW" in str(exc) or "CAST_OVERFLOW" in str(exc):
            raise EagerOverflow(str(exc).splitlines()[0]) from None
        raise


@given(rows=events(max_size=30), sqls=st.lists(view_sql(), min_size=VIEWS, max_size=VIEWS),
       up=st.one_of(st.none(), upstream_sql()), joining=st.lists(view_join_sql(), max_size=2))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
def test_spark_sql_equals_postgres_running_the_view(tmp_path_factory, spark, pg, rows, sqls, up, joining):
    root = tmp_path_factory.mktemp("spark_fuzz")
    for sub in ("features", "sources"):
        (root / sub).mkdir(parents=True)
    (root / "skewless_project.yml").write_text(PROJECT)
    (root / "sources" / "tx.yml").write_text(SOURCES)
    if up is not None:  # half of the views over the upstream view's rows, and views joining them
        sqls = [over_upstream(sql) if i % 2 else sql for i, sql in enumerate(sqls)] + joining
        (root / "features" / f"{UPSTREAM}.sql").write_text(up)
    for i, sql in enumerate(sqls):
        (root / "features" / f"v{i}.sql").write_text(sql)
    (root / "data").mkdir()
    write_dimensions(root)
    compiled = build_project(load_project(root))
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    _load(pg, duck, rows)
    write_dimensions(root, (pg, duck))
    if UPSTREAM in compiled.views:
        _load_upstream(pg, duck, compiled.views[UPSTREAM].sql)
    for name, d in DIMENSIONS.items():
        spark.register(name, pq.read_table(root / "data" / f"{name}.parquet"), d["columns"])
    schema = pa.schema([(c, arrow_type(t)) for c, t in COLUMNS.items()])
    spark.register("tx", pa.Table.from_pylist(rows, schema=schema), dict(COLUMNS))
    scale, problems = _scale(rows), []
    for name, view in sorted(compiled.views.items()):
        names = [c.name for c in view.columns]
        use_duck = any(a.func == "count_distinct" for a in view.aggregates)
        try:
            oracle = _rows((duck if use_duck else pg).execute(compiled.views[name].sql).fetchall(), names)
        except (psycopg.Error, duckdb.Error):
            STATS["views skipped: Postgres raised an error on the data"] += 1
            continue
        try:
            got = _spark_rows(spark, per_event_sql(view, "spark", input_for(view, compiled.views, "spark")), "txn_id")
        except BatchUnsupported:
            STATS["spark per-event SQL: views refused (cannot be exact)"] += 1
            continue
        except EagerOverflow as exc:
            problems.append(f"{name} spark per-event: {exc} (Postgres ran the view)\n{view.sql}")
            continue
        for k, exp_row in oracle.items():
            for c, v in exp_row.items():
                if not same(v, got.get(k, {}).get(c), scale):
                    problems.append(f"{name} spark per-event {k} {c}: Postgres {v!r}, got {got.get(k, {}).get(c)!r}\n{view.sql}")
        STATS["spark per-event SQL: views compared"] += 1
        if view.input.kind == "view" or view.view_joins:
            STATS["spark per-event SQL: views over or joining another view compared"] += 1
        found = expected_as_of(compiled, name, pg, duck, rows)
        try:
            sql = as_of_sql(view, "spark", input_for(view, compiled.views, "spark"), "spine")
        except BatchUnsupported:
            STATS["spark as-of SQL: views refused (cannot be exact)"] += 1
            continue
        if found is None:
            continue
        spine, expected = found
        spine_schema = pa.schema([*[(k, arrow_type(COLUMNS[k])) for k in view.entity],
                                  ("__t", pa.timestamp("us", tz="UTC")), ("__spine_id", pa.int64())])
        spark.register("spine", pa.Table.from_pylist(
            [{**dict(zip(view.entity, key)), "__t": t, "__spine_id": sid} for key, t, sid in spine], schema=spine_schema))
        try:
            res = _spark_rows(spark, sql, "__spine_id")
        except EagerOverflow as exc:
            problems.append(f"{name} spark as-of: {exc} (Postgres ran the view)\n{view.sql}")
            continue
        for key, t, sid in spine:
            for c in names:
                if c != "txn_id" and not same(expected[sid][c], res.get(sid, {}).get(c), scale):
                    problems.append(f"{name} spark as-of {list(key)} @ {t.isoformat()} {c}: Postgres "
                                    f"{expected[sid][c]!r}, got {res.get(sid, {}).get(c)!r}\n{view.sql}")
        STATS["spark as-of SQL: views compared"] += 1
    duck.close()
    assert not problems, "\n\n".join(problems[:5])


def test_zz_spark_fuzz_summary():
    if STATS:
        print("\nspark fuzz summary:", dict(sorted(STATS.items())))
        assert STATS["spark per-event SQL: views compared"] > 0
