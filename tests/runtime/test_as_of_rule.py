"""A model's ``features_as_of`` rule: training-set features are the view's values as of the label's
time minus the offset (default 1 µs: strictly before the label), checked against Postgres running
the view's own SQL with probe rows at that time; a LAG/ROWS/RANGE feature of the label's own event
cannot leak under the default; serving subtracts the same offset."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewless.compiler.config.models import parse_as_of_rule
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.batch_jobs import needed_sources, open_engine, register_sources, training_set
from skewless.runtime.engines import PostgresEngine
from skewless.runtime.training.trainer import TrainingSetError, train_model
from skewless.runtime.values import same
from tests.fuzz.as_of import PROBE, probe_sql, table

VIEW = """SELECT txn_id, user_id, ts,
  LAG(y) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS last_y,
  SUM(y) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS y_3,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS n_1h,
  MAX(y) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '10 minutes' PRECEDING AND CURRENT ROW) AS y_10m,
  AVG(amount) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW) AS avg_2h
FROM {{ source('tx') }}
"""
COLUMNS = {"txn_id": "text", "user_id": "text", "ts": "timestamptz", "amount": "double precision", "y": "integer"}
FEATURES = ["last_y", "y_3", "n_1h", "y_10m", "avg_2h"]


def _project(root: Path, rule: str | None) -> Path:
    for sub in ("features", "sources", "models", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text("name: rule\nbatch_dialects: [duckdb, postgres]\n")
    (root / "profiles.yml").write_text("rule:\n  target: dev\n  targets:\n    dev:\n"
                                       "      batch: {engine: duckdb, path: ':memory:'}\n"
                                       "      online: {store: sqlite, path: target/online.sqlite}\n")
    cols = "".join(f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in COLUMNS.items())
    (root / "sources" / "tx.yml").write_text(
        "sources:\n" + "".join(f"  - name: {name}\n    timestamp: ts\n    unique_key: [txn_id]\n    columns:\n" + cols
                               + "    batch: {path: data/tx.parquet}\n" for name in ("tx", "labels")))
    (root / "features" / "v.sql").write_text(VIEW)
    (root / "models" / "m.yml").write_text(
        "models:\n  - name: m\n    label: {source: labels, column: y}\n    features: [{view: v}]\n"
        "    num_boost_round: 5\n    early_stopping_rounds: 5\n    params: {min_data_in_leaf: 5}\n"
        + (f"    features_as_of: '{rule}'\n" if rule is not None else ""))
    return root


def _events(seed: int) -> list[dict]:
    rnd = random.Random(seed)
    base = datetime(2026, 3, 1, tzinfo=timezone.utc)
    rows = []
    for i in range(600):
        # whole seconds, bursts and same-second ties within a user: the label's own event and its peers
        t = base + timedelta(seconds=rnd.choice([rnd.randrange(0, 6 * 3600), rnd.randrange(0, 60) + 3600]))
        rows.append({"txn_id": f"t{i:04d}", "user_id": f"u{rnd.randrange(8)}", "ts": t,
                     "amount": rnd.choice([1.5, 2.5, 10.0, 100.125]), "y": rnd.randrange(2)})
    return rows


def _training_set(root: Path, dsn: str | None = None) -> list[dict]:
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    engine = PostgresEngine(dsn) if dsn else open_engine(compiled)
    register_sources(engine, compiled, needed_sources(compiled, [], ["m"]))
    out = root / "target" / f"ts_{'pg' if dsn else 'duck'}.parquet"
    out.parent.mkdir(exist_ok=True)
    training_set(compiled, engine, "m", out)
    engine.close()
    return pq.read_table(out).to_pylist()


def _expected(pg, root: Path, rows: list[dict], offset: timedelta) -> dict[str, dict]:
    """By label txn_id: Postgres's output row for a probe of the label's user at ``ts - offset``."""
    compiled = build_project(load_project(root))
    cols = ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items())
    names = [c.name for c in compiled.views["v"].columns]
    passes: dict[str, list[dict]] = {}
    for r in rows:
        passes.setdefault(r["user_id"], []).append(r)
    expected = {}
    # one probe per user in each pass: a probe is a row of its user's ROWS order, another probe of
    # the same user would be counted in its frame
    for k in range(max(map(len, passes.values()))):
        chunk = [labels[k] for labels in passes.values() if k < len(labels)]
        probes = [{"txn_id": None, "user_id": r["user_id"], "ts": r["ts"] - offset, "amount": None, "y": None}
                  for r in chunk]
        table(pg, "probe_tx", f"{cols}, {PROBE} boolean",
              [[r[c] for c in COLUMNS] + [False] for r in rows] + [[p[c] for c in COLUMNS] + [True] for p in probes])
        out = pg.execute(probe_sql(compiled.views["v"].sql, "probe_tx", ["user_id"])).fetchall()
        by_user = {r[len(names) + 1]: dict(zip(names, r)) for r in out if r[len(names)]}
        for r in chunk:
            expected[r["txn_id"]] = by_user[r["user_id"]]
    return expected


@pytest.mark.postgres
@pytest.mark.parametrize("rule", [None, "label_time", "label_time - 15 minutes"])
def test_training_set_features_are_the_view_as_of_the_rule(tmp_path, pg_dsn, rule):
    root = _project(tmp_path / "p", rule)
    rows = _events(3)
    pq.write_table(pa.Table.from_pylist(rows), root / "data" / "tx.parquet")
    offset = timedelta(microseconds=parse_as_of_rule(rule if rule is not None else "label_time - 1us"))
    with psycopg.connect(pg_dsn, autocommit=True) as pg:
        expected = _expected(pg, root, rows, offset)
    for got_rows in (_training_set(root), _training_set(root, pg_dsn)):
        assert len(got_rows) == len(rows)
        for got in got_rows:
            want = expected[got["txn_id"]]
            for f in FEATURES:
                assert same(got[f"v__{f}"], want[f]), (rule, got["txn_id"], f, got[f"v__{f}"], want[f])
    result = train_model(build_project(load_project(root)), "m", root / "target" / "ts_pg.parquet", allow_leakage=True)
    check = result.metrics["leakage_check"]
    assert check["reads_at_label_time"] == (rule == "label_time")
    if rule != "label_time":
        assert check["suspects"] == {}, check
    labels = {r["txn_id"]: r["y"] for r in rows}
    own = sum(r["v__last_y"] == labels[r["txn_id"]] for r in got_rows) / len(rows)
    if rule == "label_time":  # the label's own event is in its features: LAG reads its own label
        assert own > 0.9
    else:                     # nothing of the label's own event (or a peer at its time) reaches them
        assert own < 0.7
        for got in got_rows:
            assert got["v__n_1h"] == sum(1 for r in rows if r["user_id"] == got_user(rows, got)
                                         and got["ts"] - offset - timedelta(hours=1) <= r["ts"] <= got["ts"] - offset)


def got_user(rows, got):
    return next(r["user_id"] for r in rows if r["txn_id"] == got["txn_id"])


def test_a_training_set_built_under_another_rule_is_refused(tmp_path):
    root = _project(tmp_path / "p", "label_time")
    pq.write_table(pa.Table.from_pylist(_events(4)), root / "data" / "tx.parquet")
    _training_set(root)
    out = root / "target" / "ts_duck.parquet"
    assert pq.read_schema(out).metadata[b"skewless.features_as_of_us"] == b"0"
    _project(root, None)  # the model now reads features strictly before the label (the default)
    with pytest.raises(TrainingSetError, match="built with features as of label_time, model 'm' reads them as of "
                                               "label_time - 1us"):
        train_model(build_project(load_project(root)), "m", out)


def test_the_rule_is_validated_with_the_model_file_position(tmp_path):
    root = _project(tmp_path / "p", "now - 1us")
    compiled = build_project(load_project(root))
    msgs = [d.format() for d in compiled.diagnostics]
    assert any("m.yml:" in m and "features_as_of" in m and "label_time - 1us" in m for m in msgs), msgs
