"""Semantics §1.3 — features with the request event: after replaying events into the online store,
`with_event` for an event e equals the view's own SQL run by Postgres over the events plus e
(DuckDB for COUNT(DISTINCT) OVER, which Postgres cannot run), e's row — for every view of the
catalog, on keys with and without history, at times right after, inside and past the windows,
with groups still pending (a running stream) and e joining a pending group as a peer. Nothing is
recorded: the store is unchanged afterwards."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from skewless.runtime.serving.scorer import Scorer
from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stream.online import StaleRead, encode_key, read_with_event, to_us
from skewless.runtime.stream.replay import replay_rows
from skewless.runtime.values import same
from tests.support.catalog import compile_catalog
from tests.support.events import SCHEMA, TYPES, tx_events

pytestmark = pytest.mark.postgres
AFTER = [timedelta(0), timedelta(microseconds=1), timedelta(seconds=30), timedelta(hours=1),
         timedelta(hours=1, microseconds=1), timedelta(days=2)]
REQ = "__req"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    return compile_catalog(tmp_path_factory.mktemp("request_event") / "proj")


def _with_request(sql: str, i: int) -> str:
    """The view's own SQL over the events plus request ``i`` (the table ``tx_req`` holds every
    request, tagged; each query sees the events and its own request only)."""
    tree = sqlglot.parse_one(sql, read="postgres")
    for tbl in list(tree.find_all(exp.Table)):
        if tbl.name == "tx":
            sub = sqlglot.parse_one(f"SELECT * FROM tx_req WHERE {REQ} IS NULL OR {REQ} = {i}", read="postgres")
            tbl.replace(exp.Subquery(this=sub, alias=exp.TableAlias(this=exp.to_identifier(tbl.alias_or_name))))
    return tree.sql("postgres")


def _contents(store: SQLiteStore) -> list:
    return store.conn.execute("SELECT view, entity, state, tail FROM skewless_online ORDER BY 1, 2").fetchall()


requests = st.lists(st.tuples(st.sampled_from(["u0", "u1", "u2", "u3", "new"]), st.sampled_from(AFTER),
                              st.integers(0, 10 ** 6)), min_size=1, max_size=5)


@given(events=tx_events(max_size=40), reqs=requests, finish=st.booleans())
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_features_with_the_request_event_equal_the_sql_over_events_plus_it(catalog, oracle_engines, events, reqs,
                                                                          finish):
    compiled, distinct = catalog
    pg, duck = oracle_engines
    rows = events.sort_by("ts").to_pylist()
    # each request: the user's latest event time + the offset, other fields copied from an event
    latest: dict = {}
    for r in rows:
        latest[r["user_id"]] = max(latest.get(r["user_id"], r["ts"]), r["ts"])
    overall = max(r["ts"] for r in rows)
    req_rows = []
    for i, (user, after, pick) in enumerate(reqs):
        like = rows[pick % len(rows)]
        req_rows.append(dict(like, txn_id=f"req{i}", user_id=user, ts=latest.get(user, overall) + after))
    table = pa.Table.from_pylist([dict(r, **{REQ: None}) for r in rows] + [dict(r, **{REQ: i})
                                                                             for i, r in enumerate(req_rows)],
                                 schema=SCHEMA.append(pa.field(REQ, pa.int64())))
    for engine in (pg, duck):
        engine.register("tx_req", table, dict(TYPES, **{REQ: "bigint"}))
    compared = 0
    for name, view in sorted(compiled.views.items()):
        store = SQLiteStore(":memory:")
        replay_rows(view, rows, store, flush_every=7, finish=finish)
        before = _contents(store)
        engine = duck if name in distinct else pg
        names = [c.name for c in view.columns]
        for i, req in enumerate(req_rows):
            try:
                got = read_with_event(store, view, dict(req))
            except StaleRead:  # only an event at or before the key's latest final event
                rec = store.read(view.name, encode_key([req["user_id"]]))
                assert rec is not None and to_us(req["ts"]) <= rec.last_event_us, (name, req)
                continue
            out = engine.query(_with_request(compiled.views[name].sql, i)).to_pylist()
            expected = [r for r in out if r["txn_id"] == req["txn_id"]]
            if got is None:
                assert not expected, f"{name}: request {i} left out by WHERE, Postgres returns {expected}"
                continue
            assert len(expected) == 1, f"{name}: request {i}: {expected}"
            for c in names:
                assert same(expected[0][c], got[c], 1e7), \
                    f"{name} request {req}: column {c}: SQL {expected[0][c]!r}, with_event {got[c]!r}"
            compared += 1
        assert _contents(store) == before  # nothing recorded
        store.close()
    assert compared or all(after == timedelta(0) for _, after, _ in reqs)


NOW_MODEL = """models:
  - name: fraud_now
    label: {source: labels, column: is_fraud}
    request_features: [amount]
    on_demand:
      amount_vs_7d: "amount / NULLIF(user_velocity__amount_avg_7d, 0)"
      burst: "user_velocity__txn_count_1h >= 3 AND amount > 100"
    features:
      - view: user_velocity
        at: request_event
      - view: merchant_risk
    objective: binary
    num_boost_round: 20
"""


def test_a_model_reads_features_with_the_request_event_in_training_and_serving(tmp_path, oracle_engines):
    """``at: request_event``: the training set holds each label's own event's per-event row (equal
    to the view's own SQL), and serving computes the same row from the store with the request
    event — for events the store has not seen, so nothing is recorded twice."""
    import shutil
    from pathlib import Path

    import skewless
    from skewless.runtime.datagen import GenConfig, generate, write_all
    from skewless.runtime.stores import open_store

    root = tmp_path / "features"
    shutil.copytree(Path(__file__).parents[2] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
    tables = generate(GenConfig(events=3000, days=3, seed=5))
    write_all(tables, root / "data")
    (root / "models" / "now.yml").write_text(NOW_MODEL)
    project = skewless.Project(root)
    training = {r["txn_id"]: r for r in project.training_set("fraud_now").to_pylist()}
    view = project.compiled.views["user_velocity"]
    cols = [c.name for c in view.columns if c.kind == "feature"]
    _, duck = oracle_engines  # the view counts DISTINCT merchants: Postgres cannot run it, DuckDB runs the same SQL
    events = tables["transactions"]
    duck.register("transactions", events, {c.name: c.type for c in view.input_columns})
    oracle = {r["txn_id"]: r for r in duck.query(project.compiled.views["user_velocity"].sql).to_pylist()}
    checked = 0
    for txn, row in training.items():
        for c in cols:
            assert same(oracle[txn][c], row[f"user_velocity__{c}"], 1e6), (txn, c)
        checked += 1
    assert checked > 100

    # serving: the store holds every event up to a cut; each user's next event is scored with it
    result = project.train("fraud_now")
    rows = sorted(events.to_pylist(), key=lambda r: r["ts"])
    cut = rows[len(rows) // 2]["ts"]
    store = open_store(project.compiled.project.target.online, root)
    for name in ("user_velocity", "merchant_risk"):
        replay_rows(project.compiled.views[name], [r for r in rows if r["ts"] <= cut], store)
    scorer = Scorer(project.compiled, result.directory, store)
    after: dict = {}
    for r in rows:
        if r["ts"] > cut:
            after.setdefault(r["user_id"], []).append(r)
    served = 0
    for evs in after.values():
        e = evs[0]
        if len(evs) > 1 and evs[1]["ts"] == e["ts"]:
            continue  # a peer recorded later: the per-event row includes it, the request could not
        if e["txn_id"] not in training:
            continue
        request = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in e.items()}
        features = scorer.features(request, at=e["ts"])
        for c in [*(f"user_velocity__{c}" for c in cols), "amount_vs_7d", "burst"]:
            assert same(training[e["txn_id"]][c], features[c], 1e6), (e["txn_id"], c)
        served += 1
    assert served > 20
    # over HTTP: the same features; an event the store has moved past is a 409, a bad value a 400
    from starlette.testclient import TestClient

    from skewless.runtime.serving.app import create_app

    client = TestClient(create_app({"fraud_now": scorer}, project.compiled, store))
    e = next(evs[0] for evs in after.values() if evs[0]["txn_id"] in training)
    body = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in e.items()}
    r = client.post("/score/fraud_now?explain=1", json={**body, "at": body["ts"]})
    assert r.status_code == 200, r.text
    assert same(r.json()["features"]["user_velocity__txn_count_1h"], training[e["txn_id"]]["user_velocity__txn_count_1h"])
    old_event = rows[0]
    r = client.post("/score/fraud_now", json={**body, "user_id": old_event["user_id"], "ts": old_event["ts"].isoformat(),
                                             "at": old_event["ts"].isoformat()})
    assert r.status_code == 409, r.text
    assert client.post("/score/fraud_now", json={**body, "ts": "not a time"}).status_code == 400
    r = client.post("/score/fraud_now", json={**body, "ts": None})
    assert r.status_code == 400 and "no time" in r.json()["error"]
    missing = {k: v for k, v in body.items() if k != "status"}
    r = client.post("/score/fraud_now", json=missing)
    assert r.status_code == 400 and "status" in r.json()["error"]
    # the on-demand expressions as Postgres evaluates them on the training rows' values
    pg, _ = oracle_engines
    inputs = pa.Table.from_pylist([{"i": i, "amount": r["amount"], "user_velocity__amount_avg_7d":
                                    r["user_velocity__amount_avg_7d"], "user_velocity__txn_count_1h":
                                    r["user_velocity__txn_count_1h"]} for i, r in enumerate(training.values())])
    pg.register("od", inputs, {"i": "bigint", "amount": "double precision", "user_velocity__amount_avg_7d":
                               "double precision", "user_velocity__txn_count_1h": "bigint"})
    expected = pg.query("SELECT i, amount / NULLIF(user_velocity__amount_avg_7d, 0) AS a, "
                        "user_velocity__txn_count_1h >= 3 AND amount > 100 AS b FROM od ORDER BY i").to_pylist()
    for e_row, row in zip(expected, training.values()):
        assert same(e_row["a"], row["amount_vs_7d"]) and e_row["b"] == row["burst"], (e_row, row)
    assert "txn_id" in scorer.request_fields and "status" in scorer.request_fields
    store.close()


def test_an_on_demand_expression_postgres_would_refuse_fails_the_training_set_at_its_entry(tmp_path):
    import shutil
    from pathlib import Path

    import skewless
    from skewless.compiler.errors import SkewlessError
    from skewless.runtime.datagen import GenConfig, generate, write_all

    root = tmp_path / "features"
    shutil.copytree(Path(__file__).parents[2] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=500, days=2, seed=3)), root / "data")
    (root / "models" / "now.yml").write_text(NOW_MODEL.replace("amount / NULLIF(user_velocity__amount_avg_7d, 0)",
                                                               "amount / 0"))
    with pytest.raises(SkewlessError) as info:
        skewless.Project(root).training_set("fraud_now")
    [diag] = info.value.diagnostics
    assert diag.path.endswith("now.yml") and (diag.line, diag.col) == (6, 7), diag.format()  # the entry
    assert "on-demand feature 'amount_vs_7d' fails on training row" in diag.message
    assert "division by zero" in diag.message and "NULLIF" in diag.hint
