"""Online reads: after replaying events into the store, a read for (view, key, t) equals the
as-of definition evaluated by Postgres as explicit lateral SQL — including windows that expired
after the key's last event, keys never seen, and t exactly at the last event (EXCLUDE GROUP/TIES)."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from decimal import Decimal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewless.runtime.engines import PostgresEngine
from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stream.online import StaleRead, read_as_of
from skewless.runtime.stream.replay import replay_rows
from tests.support.catalog import compile_catalog
from tests.support.compare import diff
from tests.support.events import TYPES, tx_events
from tests.support.lateral import lateral_sql
from tests.support.stores import fresh_store

pytestmark = pytest.mark.postgres
AFTER = [timedelta(0), timedelta(microseconds=1), timedelta(minutes=30), timedelta(hours=1),
         timedelta(hours=1, microseconds=1), timedelta(days=2)]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("online") / "proj")


@pytest.fixture(scope="module")
def pg(pg_dsn):
    engine = PostgresEngine(pg_dsn)
    yield engine
    engine.close()


@pytest.mark.parametrize("head_rows", [256, 0])  # 0: every window keeps rows in the record's tail
@pytest.mark.parametrize("kind", [pytest.param("sqlite"), pytest.param("postgres"),
                                  pytest.param("redis", marks=pytest.mark.redis)])
@given(events=tx_events(max_size=40), picks=st.lists(st.tuples(st.sampled_from(["u0", "u1", "u2", "u3", "zz"]),
                                                                st.sampled_from(AFTER)), min_size=1, max_size=8),
       finish=st.booleans())
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_online_reads_equal_the_as_of_definition(catalog, pg, request, kind, head_rows, events, picks, finish):
    """On every online store. ``finish=False``: the stream is still running, groups within the
    lateness are not final yet and must count anyway (an event is readable as soon as it arrived)."""
    from skewless.runtime.stream import frames

    frames.HEAD_ROWS, default = head_rows, frames.HEAD_ROWS
    try:
        _check_online_reads(catalog, pg, request, kind, events, picks, finish)
    finally:
        frames.HEAD_ROWS = default


def _check_online_reads(catalog, pg, request, kind, events, picks, finish):
    compiled, distinct = catalog
    latest = max(events["ts"].to_pylist())
    spine = pa.Table.from_pylist([{"user_id": u, "__t": latest + d, "__spine_id": i} for i, (u, d) in enumerate(picks)],
                                 schema=pa.schema([("user_id", pa.string()), ("__t", pa.timestamp("us", tz="UTC")),
                                                   ("__spine_id", pa.int64())]))
    pg.register("tx", events, TYPES)
    pg.register("spine", spine)
    rows = events.sort_by("ts").to_pylist()
    for name, view in sorted(compiled.views.items()):
        store = fresh_store(kind, request)
        replay_rows(view, rows, store, flush_every=7, finish=finish)
        single = {c.name: view.aggregate(c.aggregates[0]) for c in view.columns
                  if c.kind == "feature" and c.expr == f"__{c.aggregates[0]}"}
        oracle = pg.query("SELECT s.__spine_id, " + ", ".join(
            f'{lateral_sql(view, agg)} AS "{col}"' for col, agg in single.items()) + " FROM spine s")
        got = []
        for s in spine.to_pylist():
            values = read_as_of(store, view, [s["user_id"]], s["__t"])
            got.append({"__spine_id": s["__spine_id"],
                        **{c: float(values[c]) if isinstance(values[c], Decimal) else values[c] for c in single}})
        problems = diff(oracle, pa.Table.from_pylist(got, schema=oracle.schema), "__spine_id", list(single))
        assert not problems, f"{name}: {problems[:5]}"
        store.close()


def test_reads_before_the_latest_event_are_refused(catalog):
    compiled, _ = catalog
    from datetime import datetime, timezone

    view = compiled.views["r1h"]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store = SQLiteStore(":memory:")
    replay_rows(view, [{"txn_id": "a", "user_id": "u", "merchant_id": None, "amount": 1.0, "n": 1, "status": "ok",
                        "flag": None, "ts": t0}], store)
    with pytest.raises(StaleRead):
        read_as_of(store, view, ["u"], t0 - timedelta(seconds=1))
    assert read_as_of(store, view, ["u"], t0 + timedelta(hours=1))["c_star"] == 1
    assert read_as_of(store, view, ["u"], t0 + timedelta(hours=1, microseconds=1))["c_star"] == 0
