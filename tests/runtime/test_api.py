"""The Python API (`skewless.Project`) against the contract's definitions evaluated by Postgres:
as-of reads of a spine (on DuckDB and on Postgres) equal the as-of definition written as explicit
lateral SQL; per-event relations equal the view's own SQL; online reads after `replay` equal the
lateral definition at the read time. Views from the shared catalog, events and spines generated."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

import skewless
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, spines, tx_events
from tests.support.lateral import lateral_sql

pytestmark = pytest.mark.postgres
VIEWS = ["r1h", "r1h_xgrp", "rows3", "rows4_1_xcur", "lag", "rlife_xties"]
SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("api") / "proj"
    compile_catalog(root)
    sources = root / "sources" / "sources.yml"
    text = sources.read_text()
    anchor = "      - {name: ts, type: timestamptz}\n"
    assert text.count(anchor) == 2
    sources.write_text(text.replace(anchor, anchor + "    batch: {path: data/tx.parquet}\n    stream: {file: data/tx.parquet}\n", 1))
    (root / "data").mkdir()
    return root


def _lateral(pg, project, name: str, spine: pa.Table) -> pa.Table:
    view = project.views[name]
    single = {c.name: view.aggregate(c.aggregates[0]) for c in view.columns
              if c.kind == "feature" and c.expr == f"__{c.aggregates[0]}"}
    pg.register("spine", spine, {"user_id": "text", "__t": "timestamptz", "__spine_id": "bigint"})
    return pg.query("SELECT s.__spine_id, " + ", ".join(
        f'{lateral_sql(view, agg)} AS "{col}"' for col, agg in single.items()) + " FROM spine s"), list(single)


@given(events=tx_events(), spine=spines())
@SETTINGS
def test_as_of_a_spine_equals_the_definition(project, oracle_engines, pg_dsn, events, spine):
    pg, _ = oracle_engines
    pq.write_table(events, project / "data" / "tx.parquet")
    pg.register("tx", events, TYPES)
    api = skewless.Project(project)
    asked = spine.rename_columns(["user_id", "ts", "row"])
    for engine, dsn in (("duckdb", None), ("postgres", pg_dsn)):
        for name in VIEWS:
            got = api.as_of(asked.to_pandas() if engine == "duckdb" else asked, name, engine=engine, dsn=dsn)
            assert got.column_names[:3] == ["user_id", "ts", "row"] and got.num_rows == spine.num_rows
            oracle, columns = _lateral(pg, api, name, spine)
            got = got.rename_columns(["user_id", "ts", "__spine_id", *got.column_names[3:]])
            problems = diff(oracle, got, "__spine_id", columns)
            assert not problems, f"{name} on {engine}: {problems[:5]}"
    both = api.as_of(asked, ["r1h", "lag"])  # several views: columns named <view>__<column>
    assert "r1h__c_star" in both.column_names and "lag__lag1" in both.column_names


@given(events=tx_events())
@SETTINGS
def test_per_event_equals_the_view_sql(project, oracle_engines, events):
    pg, _ = oracle_engines
    pq.write_table(events, project / "data" / "tx.parquet")
    pg.register("tx", events, TYPES)
    api = skewless.Project(project)
    for name in VIEWS:
        problems = diff(pg.query(api.compiled.views[name].sql), api.per_event(name), "txn_id")
        assert not problems, f"{name}: {problems[:5]}"


@given(events=tx_events(min_size=5), spine=spines())
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_online_reads_after_replay_equal_the_definition(project, oracle_engines, events, spine):
    pg, _ = oracle_engines
    # in time order (late events are the stream's dead letters, not part of the definition)
    events = events.filter(pa.array([u is not None for u in events["user_id"].to_pylist()])).sort_by("ts")
    pq.write_table(events, project / "data" / "tx.parquet")
    pg.register("tx", events, TYPES)
    store = project / "target" / "online.sqlite"
    for path in store.parent.glob("online.sqlite*"):
        path.unlink()
    api = skewless.Project(project)
    api.replay(VIEWS)
    at = max(events["ts"].to_pylist()) + timedelta(minutes=30)
    users = sorted({u for u in events["user_id"].to_pylist()}) + ["nobody"]
    read_spine = pa.table({"user_id": users, "__t": pa.array([at] * len(users), pa.timestamp("us", tz="UTC")),
                           "__spine_id": list(range(len(users)))})
    for name in VIEWS:
        got = api.online(name).get(users, at=at)
        assert got["known"].to_pylist() == [u != "nobody" for u in users]
        oracle, columns = _lateral(pg, api, name, read_spine)
        got = got.append_column("__spine_id", pa.array(range(len(users)), pa.int64()))
        problems = diff(oracle, got, "__spine_id", columns)
        assert not problems, f"{name} online: {problems[:5]}"


def test_errors_name_what_is_wrong(project):
    api = skewless.Project(project)
    with pytest.raises(ValueError, match="lacks column"):
        api.as_of(pa.table({"ts": pa.array([], pa.timestamp("us", tz="UTC"))}), "r1h")
    with pytest.raises(KeyError, match="unknown view"):
        api.per_event("nope")
    with pytest.raises(TypeError, match="Arrow, pandas or Polars"):
        api.as_of([1, 2], "r1h")
    assert api.validate() == []
