"""Training == serving: after replaying events into the online store, scoring requests online gives
the same feature vectors and scores as the training-set (batch SQL) path for the same rows at the
same time. Plus the HTTP service's contract: 4xx with a message, auth, metrics, skew refusal."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.serving.app import create_app
from skewless.runtime.serving.scorer import Scorer, SkewError
from skewless.runtime.stores import open_store
from skewless.runtime.training.trainer import latest_artifact
from skewless.runtime.values import same

EXAMPLE = Path(__file__).parents[2] / "features"


def cli(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve") / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=6000, days=4, seed=21)), root / "data")
    for args in (("replay",), ("train", "fraud")):
        proc = cli(root, *args)
        assert proc.returncode == 0, proc.stderr
    compiled = build_project(load_project(root))
    return root, compiled


def test_online_scores_equal_the_training_set_path(trained, tmp_path):
    root, compiled = trained
    labels = pq.read_table(root / "data" / "labels.parquet")
    end = max(labels["ts"].to_pylist()) + timedelta(minutes=3)
    picks = labels.sort_by([("ts", "descending")]).slice(0, 40)
    requests = picks.set_column(picks.schema.get_field_index("ts"), "ts", pa.array([end] * picks.num_rows,
                                                                                  picks.schema.field("ts").type))
    pq.write_table(requests, tmp_path / "req.parquet")
    proc = cli(root, "score", "fraud", "--input", str(tmp_path / "req.parquet"), "--out", str(tmp_path / "out.parquet"))
    assert proc.returncode == 0, proc.stderr
    batch = {r["txn_id"]: r for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    store = open_store(compiled.project.target.online, root)
    scorer = Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    assert len(batch) == requests.num_rows
    for req in requests.to_pylist():
        score, features = scorer.score({k: v for k, v in req.items() if k not in ("ts", "is_fraud")}, end)
        row = batch[req["txn_id"]]
        for name in scorer.spec.names:
            assert same(features[name], row[name]), (name, features[name], row[name])
        assert math.isclose(score, row["score"], rel_tol=1e-9, abs_tol=1e-12)
    store.close()


def test_http_service(trained):
    root, compiled = trained
    store = open_store(compiled.project.target.online, root)
    scorer = Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    client = TestClient(create_app({"fraud": scorer}, compiled, store, token="s3cret"))
    auth = {"authorization": "Bearer s3cret"}
    body = {"txn_id": "x", "user_id": "u000001", "merchant_id": "m00001", "card_id": "c000001_0", "amount": 12.5,
            "country": "US"}
    r = client.post("/score/fraud?explain=1", json=body, headers=auth)
    assert r.status_code == 200 and 0 <= r.json()["score"] <= 1 and "user_velocity__txn_count_1h" in r.json()["features"]
    assert client.post("/score/fraud", json=body).status_code == 401
    assert client.post("/score/nope", json=body, headers=auth).status_code == 404
    r = client.post("/score/fraud", content=b"{oops", headers=auth)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = client.post("/score/fraud", json={"amount": 1}, headers=auth)
    assert r.status_code == 400 and "missing field(s)" in r.json()["error"]
    assert client.post("/score/fraud", content=b"x" * 70_000, headers=auth).status_code == 413
    r = client.post("/score/fraud", json={**body, "at": "2000-01-01T00:00:00Z"}, headers=auth)
    assert r.status_code == 409
    assert client.get("/features/user_velocity/u000001", headers=auth).json()["user_id"] == "u000001"
    assert client.get("/features/user_velocity/a,b", headers=auth).status_code == 400
    assert client.get("/healthz").json()["status"] == "ok"
    assert 'skewless_requests_total{endpoint="score",status="200"} 1.0' in client.get("/metrics").text
    store.close()


def test_refuses_to_serve_a_store_built_from_other_view_definitions(trained):
    root, compiled = trained
    store = open_store(compiled.project.target.online, root)
    from skewless.runtime.stores.base import StoredState

    store.write([StoredState("user_velocity", '["someone"]', b"", 0, "0000deadbeef0000")])
    with pytest.raises(SkewError, match="view 'user_velocity'"):
        Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    store.conn.execute("DELETE FROM skewless_online WHERE fingerprint = '0000deadbeef0000'")
    store.conn.commit()
    store.close()
