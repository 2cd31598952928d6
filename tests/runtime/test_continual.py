"""The continual-learning loop end to end on the example project (issue 15): a champion trained
before a concept drift; after it, `serve` logs the vectors it serves; `retrain` finds the drift in
them (against the champion's training reference), fine-tunes the champion on the labels since,
registers the new version with its parent and promotes it; the running server follows the
promotion without a restart; the logged vectors equal the batch path's recomputation; the log
joined to labels is a training set."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skewless.runtime.datagen import GenConfig, generate, write_all
from tests.runtime.test_experiments_http import cli, serving

EXAMPLE = Path(__file__).parents[2] / "features"
CONFIG = """    feature_log: {rotate_rows: 25}
    retrain: {psi: 0.25, min_rows: 60, window: 1d, method: continue, promote: true}
"""


def test_drift_is_detected_and_a_fine_tuned_champion_is_served(tmp_path):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    models = root / "models" / "fraud.yml"
    text = models.read_text()
    marker = "    early_stopping_rounds: 40\n"  # the end of the fraud model's block (the first model)
    models.write_text(text.replace(marker, marker + CONFIG, 1))
    start = (datetime.now(timezone.utc) - timedelta(days=8)).replace(microsecond=0, tzinfo=None)
    data = generate(GenConfig(events=16_000, days=8, seed=3, drift_at=0.5, start=start.isoformat()))
    drift = pa.scalar(start.replace(tzinfo=timezone.utc) + timedelta(days=4), pa.timestamp("us", tz="UTC"))
    before = {n: t.filter(pc.less(t["ts"], drift)) if "ts" in t.column_names else t for n, t in data.items()}

    # 1. the champion: trained on the data before the drift
    write_all(before, root / "data")
    for args in (("replay",), ("train", "fraud")):
        proc = cli(root, *args)
        assert proc.returncode == 0, proc.stderr
    reg = sqlite3.connect(root / "target" / "registry.sqlite")
    (v1,) = reg.execute("SELECT version FROM skewless_aliases WHERE model = 'fraud' AND alias = 'champion'").fetchone()

    # 2. the drift happens: every event streams into a fresh store; serve logs what it serves
    write_all(data, root / "data")
    for f in (root / "target").glob("online.sqlite*"):
        f.unlink()
    assert cli(root, "replay").returncode == 0
    with serving(root, workers=1) as client:  # stopped (SIGTERM) on leaving: the log's last rows flushed
        labels = data["labels"].filter(pc.greater_equal(data["labels"]["ts"], drift))
        picks = labels.slice(labels.num_rows - 200).to_pylist()
        for row in picks:
            body = {k: row[k] for k in ("user_id", "merchant_id", "card_id", "amount", "country")}
            status, answer = client.call("POST", "/score/fraud", {**body, "request_id": row["txn_id"]})
            assert status == 200, answer
            assert answer["version"] == v1 and answer["request_id"] == row["txn_id"]

        # 3. retrain: the drift is found in the served vectors; the champion is fine-tuned and promoted
        proc = cli(root, "retrain", "fraud", "--labels", str(root / "data" / "labels.parquet"), "--label-id", "txn_id")
        assert proc.returncode == 0, proc.stderr
        assert "drift" in proc.stdout, proc.stdout
        (v2, parent, kind, trigger) = reg.execute(
            "SELECT version, parent, kind, trigger FROM skewless_model_versions WHERE model = 'fraud' "
            "ORDER BY created_us DESC").fetchone()
        assert (parent, kind) == (v1, "continue") and "drift" in trigger
        assert reg.execute("SELECT version FROM skewless_aliases WHERE model = 'fraud' AND alias = 'champion'"
                           ).fetchone() == (v2,)
        (fired, new_version, promoted) = reg.execute(
            "SELECT fired, new_version, promoted FROM skewless_retrain_runs WHERE model = 'fraud'").fetchone()
        assert "drift" in json.loads(fired) and new_version == v2 and promoted == 1

        # 4. the running server follows the promotion (no restart)
        body = {k: picks[0][k] for k in ("user_id", "merchant_id", "card_id", "amount", "country")}
        deadline = time.monotonic() + 30
        while client.call("POST", "/score/fraud", body)[1]["version"] != v2:
            assert time.monotonic() < deadline, "the server never loaded the promoted champion"
            time.sleep(0.5)
        assert client.call("GET", "/models")[1]["models"]["fraud"] == v2

    # 5. the served vectors equal the batch path's recomputation (all 200 of v1's, flushed at shutdown)
    proc = cli(root, "parity", "--log", "fraud", "--version", v1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "200 logged requests recomputed through the batch path; 0 differ" in proc.stdout, proc.stdout

    # 6. log-and-wait: the logged vectors joined to the labels that arrived are a training set
    out = tmp_path / "from_log.parquet"
    proc = cli(root, "training-set", "fraud", "--from-log", "--version", v1, "--labels",
               str(root / "data" / "labels.parquet"), "--label-id", "txn_id", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(out)
    assert table.num_rows == 200 and set(table["request_id"].to_pylist()) == {r["txn_id"] for r in picks}
    want = {r["txn_id"]: r["is_fraud"] for r in picks}
    assert all(want[r] == y for r, y in zip(table["request_id"].to_pylist(), table["label"].to_pylist()))
    logged = pq.read_table(sorted((root / "target" / "feature_log" / "fraud" / v1).glob("part-*.parquet"))[0])
    first = dict(zip(logged["request_id"].to_pylist(), logged["vector"].to_pylist()))
    spec = json.loads((root / "target" / "models" / "fraud" / v1 / "features.json").read_text())["features"]
    j = next(i for i, f in enumerate(spec) if f["name"] == "user_velocity__amount_sum_24h")
    for rid, value in zip(table["request_id"].to_pylist(), table["user_velocity__amount_sum_24h"].to_pylist()):
        if rid in first:
            assert (value is None and np.isnan(first[rid][j])) or value == first[rid][j]
    # 7. time travel: v1's training set rebuilt from today's sources (with the drift's events) is the same rows
    proc = cli(root, "models", "reproduce", "fraud", v1, "--out", str(tmp_path / "v1.parquet"))
    assert proc.returncode == 0 and "the same rows (digest matches)" in proc.stdout, proc.stdout + proc.stderr
    # 8. the same from Python
    from skewless.runtime.api import Project

    api = Project(root)
    versions = api.versions("fraud")
    assert versions["version"].to_pylist() == [v1, v2] and versions["parent"].to_pylist() == [None, v1]
    assert api.feature_log("fraud", v1).num_rows == 200  # and the champion v2 logs what it served after the promotion
    assert set(api.feature_log("fraud")["version"].to_pylist()) == {v2}
    assert cli(root, "models", "rollback", "fraud").returncode == 0
    assert reg.execute("SELECT version FROM skewless_aliases WHERE model = 'fraud' AND alias = 'champion'"
                       ).fetchone() == (v1,)
