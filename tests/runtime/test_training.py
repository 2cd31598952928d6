"""Training: a text feature is a category whether the model lists it or not (it crashed training
after the whole training set was built, naming no column)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.batch_jobs import needed_sources, open_engine, register_sources, training_set
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.training.trainer import train_model

EXAMPLE = Path(__file__).parents[2] / "features"


def _project(root: Path, unlisted: bool) -> Path:
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    if unlisted:
        model = root / "models" / "fraud.yml"
        text = model.read_text()
        assert "    categorical: [country]\n" in text
        model.write_text(text.replace("    categorical: [country]\n", ""))
    write_all(generate(GenConfig(events=3000, days=3, seed=5, late_rate=0.0)), root / "data")
    return root


def _train(root: Path, given: Path | None = None) -> tuple[dict, list[float]]:
    compiled = build_project(load_project(root))
    assert compiled.diagnostics == []
    out = given or root / "target" / "ts.parquet"
    if given is None:
        engine = open_engine(compiled)
        register_sources(engine, compiled, needed_sources(compiled, [], ["fraud"]))
        training_set(compiled, engine, "fraud", out)
        engine.close()
    result = train_model(compiled, "fraud", out)
    spec = json.loads((result.directory / "features.json").read_text())
    import lightgbm as lgb

    from skewless.runtime.training.features import FeatureSpec

    booster = lgb.Booster(model_file=str(result.directory / "model.txt"))
    preds = booster.predict(FeatureSpec.from_json(spec).matrix(pq.read_table(out))).tolist()
    return spec, preds


def test_a_text_feature_not_listed_as_categorical_is_one(tmp_path):
    listed_spec, listed = _train(_project(tmp_path / "listed", unlisted=False))
    # on the same training set: DuckDB's parallel float sums may differ in the last bit between two
    # builds, and LightGBM's bins with them
    unlisted_spec, unlisted = _train(_project(tmp_path / "unlisted", unlisted=True),
                                     tmp_path / "listed" / "target" / "ts.parquet")
    country = next(f for f in unlisted_spec["features"] if f["name"] == "country")
    assert country["categories"] and country == next(f for f in listed_spec["features"] if f["name"] == "country")
    assert unlisted == listed  # the same model: LightGBM is deterministic on the same data


def test_train_reuses_an_unchanged_training_set_and_takes_one_given(tmp_path):
    import os
    import subprocess
    import sys

    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=1500, days=2, seed=9, late_rate=0.0)), root / "data")

    def train(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "train", "fraud",
                               *args], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})

    first = train()
    assert first.returncode == 0 and "reusing" not in first.stdout, first.stdout + first.stderr
    built = (root / "target" / "training" / "fraud.parquet").stat().st_mtime_ns
    second = train()
    assert second.returncode == 0 and "reusing the training set" in second.stdout, second.stdout
    assert (root / "target" / "training" / "fraud.parquet").stat().st_mtime_ns == built
    labels = root / "data" / "labels.parquet"
    os.utime(labels, ns=(labels.stat().st_atime_ns, labels.stat().st_mtime_ns + 1_000_000_000))  # new data
    third = train()
    assert third.returncode == 0 and "reusing" not in third.stdout
    assert "reusing" not in train("--rebuild").stdout
    given = train("--training-set", str(root / "target" / "training" / "fraud.parquet"))
    assert given.returncode == 0, given.stderr
    wrong = train("--training-set", str(labels))  # a Parquet file, not a training set
    assert wrong.returncode == 1 and "not a training set of model 'fraud'" in wrong.stderr, wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_training_refuses_a_planted_leak_unless_allowed(tmp_path):
    """A feature equal to the label (what a window that includes the label's own event can be)
    stops training with the feature named; --allow-leakage trains and records the suspects."""
    import numpy as np
    import pyarrow as pa
    import pytest

    from skewless.runtime.training.trainer import LeakageError

    root = _project(tmp_path / "p", unlisted=False)
    compiled = build_project(load_project(root))
    engine = open_engine(compiled)
    register_sources(engine, compiled, needed_sources(compiled, [], ["fraud"]))
    clean = root / "target" / "ts.parquet"
    training_set(compiled, engine, "fraud", clean)
    engine.close()
    table = pq.read_table(clean)
    labels = np.array([float(v) for v in table["label"].to_pylist()])
    assert 0 < labels.sum() < len(labels)  # both classes: the check can measure
    col = "user_velocity__amount_max_24h"
    planted = table.set_column(table.column_names.index(col), col, pa.array(labels * 1000.0 + 1.0))
    leaky = root / "target" / "leaky.parquet"
    pq.write_table(planted, leaky)
    with pytest.raises(LeakageError, match=col):
        train_model(compiled, "fraud", leaky)
    result = train_model(compiled, "fraud", leaky, allow_leakage=True)
    assert list(result.metrics["leakage_check"]["suspects"]) == [col]
    assert train_model(compiled, "fraud", clean).metrics["leakage_check"]["suspects"] == {}
