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


def _train(root: Path) -> tuple[dict, list[float]]:
    compiled = build_project(load_project(root))
    assert compiled.diagnostics == []
    engine = open_engine(compiled)
    register_sources(engine, compiled, needed_sources(compiled, [], ["fraud"]))
    out = root / "target" / "ts.parquet"
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
    unlisted_spec, unlisted = _train(_project(tmp_path / "unlisted", unlisted=True))
    country = next(f for f in unlisted_spec["features"] if f["name"] == "country")
    assert country["categories"] and country == next(f for f in listed_spec["features"] if f["name"] == "country")
    assert unlisted == listed  # the same model: LightGBM is deterministic on the same data
