"""Training == serving: after replaying events into the online store, scoring requests online gives
the same feature vectors and scores as the training-set (batch SQL) path for the same rows at the
same time. Plus the HTTP service's contract: 4xx with a message, auth, metrics, skew refusal."""

from __future__ import annotations

import json
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


def cli(project: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **(env or {})})


# the example project's targets: dev (SQLite store), prod (Postgres store), redis
TARGETS = [pytest.param("dev"), pytest.param("prod", marks=pytest.mark.postgres),
           pytest.param("redis", marks=pytest.mark.redis)]


def store_target(root: Path, target: str, request) -> tuple:
    """(compiled project for ``target``, its store) after replaying the events into that store."""
    env = {}
    if target == "prod":
        env["SKEWLESS_PG_DSN"] = request.getfixturevalue("pg_dsn")
    if target == "redis":
        env["SKEWLESS_REDIS_URL"] = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(env["SKEWLESS_REDIS_URL"]).flushdb()  # the session's own throwaway server
    if target != "dev":
        proc = cli(root, "--target", target, "replay", env=env)
        assert proc.returncode == 0, proc.stderr
    os.environ.update(env)
    try:
        compiled = build_project(load_project(root, None, target))
    finally:
        for k in env:
            os.environ.pop(k, None)
    return compiled, open_store(compiled.project.target.online, root)


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


@pytest.mark.parametrize("target", TARGETS)
def test_online_scores_equal_the_training_set_path(trained, tmp_path, request, target):
    """On every online store; one request at a time and as one batch."""
    root, _ = trained
    labels = pq.read_table(root / "data" / "labels.parquet")
    end = max(labels["ts"].to_pylist()) + timedelta(minutes=3)
    picks = labels.sort_by([("ts", "descending")]).slice(0, 40)
    requests = picks.set_column(picks.schema.get_field_index("ts"), "ts", pa.array([end] * picks.num_rows,
                                                                                  picks.schema.field("ts").type))
    pq.write_table(requests, tmp_path / "req.parquet")
    proc = cli(root, "score", "fraud", "--input", str(tmp_path / "req.parquet"), "--out", str(tmp_path / "out.parquet"))
    assert proc.returncode == 0, proc.stderr
    batch = {r["txn_id"]: r for r in pq.read_table(tmp_path / "out.parquet").to_pylist()}
    compiled, store = store_target(root, target, request)
    scorer = Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    assert len(batch) == requests.num_rows
    rows = [{k: v for k, v in req.items() if k not in ("ts", "is_fraud")} for req in requests.to_pylist()]
    many, many_features = scorer.score_many(rows, end)
    for i, req in enumerate(rows):
        score, features = scorer.score(req, end)
        row = batch[req["txn_id"]]
        for name in scorer.spec.names:
            assert same(features[name], row[name]), (name, features[name], row[name])
            assert same(many_features[i][name], row[name]), (name, many_features[i][name], row[name])
        assert math.isclose(score, row["score"], rel_tol=1e-9, abs_tol=1e-12)
        assert math.isclose(many[i], row["score"], rel_tol=1e-9, abs_tol=1e-12)
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
    assert client.post("/score/fraud", content=b"x" * 1_100_000, headers=auth).status_code == 413
    r = client.post("/score/fraud?explain=1", json={"rows": [body, {**body, "user_id": "u000002"}]}, headers=auth)
    assert r.status_code == 200 and len(r.json()["scores"]) == 2 and r.json()["scores"][0] == \
        client.post("/score/fraud", json=body, headers=auth).json()["score"]
    assert r.json()["features"][1]["user_velocity__txn_count_1h"] is not None
    r = client.post("/score/fraud", json={"rows": [body, {"amount": 1}]}, headers=auth)
    assert r.status_code == 400 and "row 1: missing field(s)" in r.json()["error"]
    assert client.post("/score/fraud", json={"rows": []}, headers=auth).status_code == 400
    assert client.post("/score/fraud", json={"rows": [body] * 1001}, headers=auth).status_code == 413
    r = client.post("/score/fraud", json={**body, "at": "2000-01-01T00:00:00Z"}, headers=auth)
    assert r.status_code == 409
    assert client.get("/features/user_velocity/u000001", headers=auth).json()["user_id"] == "u000001"
    assert client.get("/features/user_velocity/a,b", headers=auth).status_code == 400
    later = "2030-01-01T00:00:00Z"  # every 1-hour window has expired by then
    one = client.get(f"/features/user_velocity/u000001?at={later}", headers=auth).json()
    assert one["txn_count_1h"] == 0 and one["ts"].startswith("2030-01-01")
    assert client.get("/features/user_velocity/u000001?at=yesterday", headers=auth).status_code == 400
    assert client.get("/features/user_velocity/u000001?at=2000-01-01T00:00:00Z", headers=auth).status_code == 409
    many = client.get(f"/features/user_velocity?key=u000001&key=nobody&at={later}", headers=auth).json()["rows"]
    assert [r["user_id"] for r in many] == ["u000001", "nobody"] and many[0] == one
    assert client.get("/features/user_velocity", headers=auth).status_code == 400
    assert client.get("/features/nope?key=a", headers=auth).status_code == 404
    spec = client.get("/openapi.json", headers=auth).json()
    assert spec["openapi"] == "3.1.0" and "/score/fraud" in spec["paths"]
    assert spec["components"]["schemas"]["fraud_request"]["properties"]["amount"]["type"] == ["number", "null"]
    assert "txn_count_1h" in spec["components"]["schemas"]["view_user_velocity"]["properties"]
    assert client.get("/openapi.json").status_code == 401
    assert client.get("/healthz").json()["status"] == "ok"
    assert 'skewless_requests_total{endpoint="score",status="200"} 3.0' in client.get("/metrics").text
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


def test_features_are_read_by_the_rule_the_model_was_trained_with(trained, tmp_path):
    """The default rule (features_as_of: label_time - 1us) at serving: a request at the time of the
    key's latest event reads 1 µs before it — the store has moved past that: 409 saying why (the
    training set never saw that event either); 1 µs later it is served. A model trained under
    another rule than its definition now says is refused at start."""
    from skewless.runtime.stream.online import StaleRead

    root, compiled = trained
    store = open_store(compiled.project.target.online, root)
    artifact = latest_artifact(compiled.project.target_dir, "fraud")
    assert json.loads((artifact / "model.json").read_text())["features_as_of_us"] == 1
    scorer = Scorer(compiled, artifact, store)
    tx = pq.read_table(root / "data" / "transactions.parquet").to_pylist()
    last = max(tx, key=lambda r: r["ts"])
    request = {k: last[k] for k in ("txn_id", "user_id", "merchant_id", "card_id", "amount", "country")}
    with pytest.raises(StaleRead, match=r"reads features as of label_time - 1us: the request's time minus 1us"):
        scorer.score(request, last["ts"])
    score, features = scorer.score(request, last["ts"] + timedelta(microseconds=1))
    assert 0 <= score <= 1 and features["user_sequence__lifetime_txns"] >= 1
    legacy = tmp_path / "legacy"
    shutil.copytree(artifact, legacy)
    meta = json.loads((legacy / "model.json").read_text())
    del meta["features_as_of_us"]  # trained before the rule existed: read at the request's time
    (legacy / "model.json").write_text(json.dumps(meta))
    with pytest.raises(SkewError, match="trained with features as of label_time, its definition now says "
                                        "label_time - 1us: retrain"):
        Scorer(compiled, legacy, store)
    store.close()


def test_serve_with_two_worker_processes(trained):
    """`skewless serve --workers 2`: both processes answer (the pid differs across connections), a
    batch and a single score agree, and SIGTERM stops them all."""
    import json
    import signal
    import time
    import urllib.request

    from skewless.runtime.pg_local import free_port

    root, _ = trained
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "serve", "--port",
                             str(port), "--workers", "2", "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    body = {"txn_id": "x", "user_id": "u000001", "merchant_id": "m00001", "card_id": "c000001_0", "amount": 12.5,
            "country": "US"}

    def post(payload: dict) -> dict:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/score/fraud", json.dumps(payload).encode(),
                                     {"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                single = post(body)
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "serve --workers 2 never answered"
                time.sleep(0.3)
        assert post({"rows": [body, body]})["scores"] == [single["score"]] * 2
        workers = subprocess.run(["pgrep", "-f", "multiprocessing.spawn", "-P", str(proc.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert len(workers) == 2, workers
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_a_record_it_must_not_read_is_a_503_naming_the_view(trained, tmp_path):
    import pickle

    root, compiled = trained
    shutil.copy(root / "target" / "online.sqlite", tmp_path / "online.sqlite")
    store = open_store(compiled.project.target.online.model_copy(update={"path": str(tmp_path / "online.sqlite")}))
    scorer = Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    client = TestClient(create_app({"fraud": scorer}, compiled, store))
    assert client.get("/features/user_velocity/u000001").status_code == 200
    store.conn.execute("UPDATE skewless_online SET state = ? WHERE view = 'user_velocity' AND entity = ?",
                       (pickle.dumps(("old", "format")), '["u000001"]'))
    store.conn.commit()
    r = client.get("/features/user_velocity/u000001")
    assert r.status_code == 503 and "'user_velocity'" in r.json()["error"] and "older skewless" in r.json()["error"]
    body = {"txn_id": "x", "user_id": "u000001", "merchant_id": "m00001", "card_id": "c000001_0", "amount": 1.0,
            "country": "US"}
    assert client.post("/score/fraud", json=body).status_code == 503
    store.close()


@pytest.mark.parametrize("target", TARGETS)
def test_http_scores_equal_in_process_scores_on_every_store(trained, request, target):
    """The service reads each store its own way (SQLite inline, Redis through its asyncio client,
    Postgres in the threadpool): the same scores as `Scorer.score`."""
    root, _ = trained
    compiled, store = store_target(root, target, request)
    scorer = Scorer(compiled, latest_artifact(compiled.project.target_dir, "fraud"), store)
    labels = pq.read_table(root / "data" / "labels.parquet").sort_by([("ts", "descending")]).slice(0, 25)
    at = max(labels["ts"].to_pylist()) + timedelta(minutes=3)
    rows = [{k: v for k, v in r.items() if k not in ("ts", "is_fraud")} for r in labels.to_pylist()]
    with TestClient(create_app({"fraud": scorer}, compiled, store)) as client:
        batch = client.post("/score/fraud", json={"rows": rows, "at": at.isoformat()}).json()["scores"]
        for row, in_batch in zip(rows, batch):
            got = client.post("/score/fraud", json={**row, "at": at.isoformat()}).json()["score"]
            assert got == in_batch == scorer.score(row, at)[0]
        many = client.get("/features/user_velocity", params={"key": rows[0]["user_id"], "at": at.isoformat()}).json()["rows"]
        assert many[0]["txn_count_24h"] == scorer.features(rows[0], at)["user_velocity__txn_count_24h"]
    store.close()
