"""Both online stores hold the same states and answer the same reads (Postgres via psycopg)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stores.postgres_store import PostgresStore
from skewless.runtime.stream.online import encode_key, read_as_of
from skewless.runtime.stream.replay import replay_rows
from tests.support.catalog import compile_catalog

pytestmark = pytest.mark.postgres


def test_postgres_and_sqlite_stores_agree(tmp_path, pg_dsn):
    compiled, _ = compile_catalog(tmp_path / "proj")
    view = compiled.views["r1h_xgrp"]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [{"txn_id": f"t{i}", "user_id": f"u{i % 3}", "merchant_id": None, "amount": float(i), "n": i,
               "status": "ok", "flag": i % 2 == 0, "ts": t0 + timedelta(minutes=7 * i)} for i in range(40)]
    lite, pg = SQLiteStore(tmp_path / "online.sqlite"), PostgresStore(pg_dsn, "test_")
    for store in (lite, pg):
        replay_rows(view, events, store, flush_every=5)
        replay_rows(view, events, store, flush_every=5)  # idempotent: a replay overwrites, never adds
    end = events[-1]["ts"]
    for user in ("u0", "u1", "u2", "nobody"):
        for t in (end, end + timedelta(minutes=30), end + timedelta(hours=2)):
            assert read_as_of(lite, view, [user], t) == read_as_of(pg, view, [user], t)
    keys = [(view.name, encode_key([u])) for u in ("u0", "u2", "nobody")]
    many = pg.read_many(keys)
    assert set(many) == set(keys[:2]) == set(lite.read_many(keys))
    assert pg.fingerprints() == {view.name: {view.fingerprint}}
    assert read_as_of(pg, view, ["u1"], end + timedelta(minutes=30))["c_star"] == \
        sum(1 for e in events if e["user_id"] == "u1" and end - timedelta(minutes=30) <= e["ts"])
    lite.close()
    pg.close()
