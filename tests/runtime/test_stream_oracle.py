"""The stream engine against the databases: per-event rows from replay == the view's own SQL run by
Postgres (DuckDB for COUNT(DISTINCT) OVER), for every aggregate family × frame kind × EXCLUDE mode,
on hypothesis-generated streams delivered out of order within the allowed lateness."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skewless.runtime.stream.replay import replay_rows
from tests.support.catalog import compile_catalog
from tests.support.compare import diff, table
from tests.support.events import TYPES, tx_events

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("stream") / "proj")


@pytest.fixture(scope="module")
def engines(oracle_engines):
    return oracle_engines


def arrival_order(events: pa.Table, rnd: random.Random, lateness_s: float) -> list[dict]:
    """Event-time order disturbed by delays shorter than the allowed lateness."""
    rows = events.to_pylist()
    keyed = [(r["ts"].timestamp() + rnd.uniform(0, lateness_s * 0.99), i, r) for i, r in enumerate(rows)]
    return [r for _, _, r in sorted(keyed, key=lambda x: (x[0], x[1]))]


@given(events=tx_events(), rnd=st.randoms(use_true_random=False))
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_replay_equals_original_sql(catalog, engines, events, rnd):
    compiled, distinct = catalog
    pg, duck = engines
    pg.register("tx", events, TYPES)
    duck.register("tx", events, TYPES)
    for name, view in sorted(compiled.views.items()):
        arrival = arrival_order(events, rnd, view.allowed_lateness_us / 1e6)
        rows, late = replay_rows(view, arrival)
        assert late == []  # every delay is within the allowed lateness
        expected = (duck if name in distinct else pg).query(compiled.views[name].sql)
        got = table(rows, expected.schema) if rows else expected.slice(0, 0)
        problems = diff(expected, got, "txn_id")
        assert not problems, f"{name}: {problems[:5]}"


def test_events_later_than_the_lateness_go_to_the_late_output(catalog):
    from datetime import datetime, timedelta, timezone

    compiled, _ = catalog
    view = compiled.views["r1h"]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ev = lambda i, s: {"txn_id": f"t{i}", "user_id": "u", "merchant_id": "m", "amount": 1.0, "n": 1,  # noqa: E731
                       "status": "ok", "flag": True, "ts": t0 + timedelta(seconds=s)}
    rows, late = replay_rows(view, [ev(1, 0), ev(2, 600), ev(3, 30), ev(4, 590)])
    assert [r["txn_id"] for r in rows] == ["t1", "t4", "t2"]
    assert [e["txn_id"] for e, _ in late] == ["t3"] and "before the watermark" in late[0][1]
    assert {r["txn_id"]: r["c_star"] for r in rows} == {"t1": 1, "t4": 2, "t2": 3}
