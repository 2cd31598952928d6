"""Stateful retraining (``skewless train MODEL --continue``): the champion fine-tuned on the labels
that arrived since it was trained, instead of a retrain from scratch on the whole window.

* ``continue``: LightGBM continuation — the parent's trees are kept and new trees are boosted on
  the new rows from the parent's predictions (``init_model``), early-stopped on the most recent rows;
* ``refit``: the parent's trees with their leaf values re-estimated on the new rows
  (``Booster.refit``, decay 0.9): cheapest, keeps the structure.

Evaluation is prequential: the newest ``validation_fraction`` of the new rows (by label time) is
held out and every candidate is scored on it — never a stationary test set. ``compare`` also
trains from scratch on every row before that hold-out and scores the stale parent on it, in the
same run: time, rows read, and the metrics on the most recent data, side by side.

The features are encoded with the parent's `FeatureSpec` (the same categorical codes the parent's
trees split on; a category it never saw is missing)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from skewless.compiler.contract import CompiledProject

from .features import FeatureSpec
from .trainer import TrainingSetError, _fit, _scores, model_artifact, table_digest, write_artifact


@dataclass
class Candidate:
    name: str
    seconds: float
    rows_read: int
    metrics: dict


@dataclass
class ContinueResult:
    directory: Path
    version: str
    parent: str
    since: datetime
    candidates: list[Candidate]


def _params(model) -> dict:
    return {"objective": model.objective, "verbosity": -1, "seed": 7, "deterministic": True, "num_threads": 2,
            **({"metric": ["auc", "binary_logloss"]} if model.objective == "binary" else {}), **model.params}


def continue_training(compiled: CompiledProject, model_name: str, training_set: Path, parent: str = "champion",
                      since: datetime | None = None, method: str = "continue", compare: bool = False,
                      rounds: int | None = None, lineage: dict | None = None) -> ContinueResult:
    model = compiled.project.models[model_name]
    target = compiled.project.target_dir
    parent_dir = model_artifact(target, model_name, parent, compiled.project.target.registry_dsn)
    meta = json.loads((parent_dir / "model.json").read_text())
    spec = FeatureSpec.from_json(json.loads((parent_dir / "features.json").read_text()))
    booster = lgb.Booster(model_file=str(parent_dir / "model.txt"))
    if since is None:
        since = datetime.fromisoformat(meta["training_data"]["to"])
    table = pq.read_table(training_set)
    missing = [c for c in ["__spine_id", "ts", "label", *spec.names] if c not in table.column_names]
    if missing:
        raise TrainingSetError(f"not a training set of model {model_name!r}: missing column(s) {', '.join(missing)}")
    table = table.filter(pc.is_valid(table["label"])).sort_by([("ts", "ascending"), ("__spine_id", "ascending")])
    new = table.filter(pc.greater(table["ts"], pa.scalar(since, table.schema.field("ts").type)))
    if new.num_rows < 20:
        raise TrainingSetError(f"only {new.num_rows} labelled row(s) after {since.isoformat()}: nothing to continue "
                               "on (wait for labels, or pass --since)")
    y_new = np.array(new["label"].to_pylist(), dtype=float)
    x_new = spec.matrix(new)
    cut = int(len(y_new) * (1 - model.validation_fraction))  # the most recent rows are held out
    if model.objective == "binary" and (len(set(y_new[:cut])) < 2 or len(set(y_new[cut:])) < 2):
        raise TrainingSetError(f"the {new.num_rows} rows after {since.isoformat()} need both labels in their "
                               "training and hold-out parts")
    x_tr, y_tr, x_va, y_va = x_new[:cut], y_new[:cut], x_new[cut:], y_new[cut:]
    cats: Any = spec.categorical_indices or "auto"
    candidates = []

    started = time.perf_counter()
    if method == "refit":
        tuned = booster.refit(x_tr, y_tr, decay_rate=0.9)
    else:
        train = lgb.Dataset(x_tr, y_tr, feature_name=spec.names, categorical_feature=cats, free_raw_data=False)
        valid = lgb.Dataset(x_va, y_va, reference=train)
        tuned = lgb.train(_params(model), train, num_boost_round=rounds or max(20, model.num_boost_round // 4),
                          valid_sets=[valid], init_model=booster, keep_training_booster=True,
                          callbacks=[lgb.early_stopping(model.early_stopping_rounds, verbose=False)])
    tuned_metrics = _scores(y_va, tuned.predict(x_va))
    candidates.append(Candidate(method, time.perf_counter() - started, len(y_tr), tuned_metrics))
    if compare:
        candidates.append(Candidate("stale (no retrain)", 0.0, 0, _scores(y_va, booster.predict(x_va))))
        hold_from = new["ts"][cut].as_py()
        before = table.filter(pc.less(table["ts"], pa.scalar(hold_from, table.schema.field("ts").type)))
        y_all = np.array(before["label"].to_pylist(), dtype=float)
        x_all = spec.matrix(before)
        started = time.perf_counter()
        inner = int(len(y_all) * (1 - model.validation_fraction))  # its own early-stopping split, as `train` does
        scratch = _fit(model, spec, x_all[:inner], y_all[:inner], x_all[inner:], y_all[inner:])
        candidates.append(Candidate("from scratch (full window)", time.perf_counter() - started, len(y_all),
                                    _scores(y_va, scratch.predict(x_va, num_iteration=scratch.best_iteration))))
    metrics = {"validation": tuned_metrics, "best_iteration": tuned.best_iteration or tuned.current_iteration(),
               "continued_from": meta["version"], "method": method, "since": since.isoformat(),
               "compared": {c.name: {"seconds": round(c.seconds, 3), "rows_read": c.rows_read, **c.metrics}
                            for c in candidates}}
    result = write_artifact(compiled, model_name, tuned, spec, metrics, new, len(y_new),
                            new["ts"][cut].as_py() if cut < new.num_rows else None,
                            {"kind": method, "parent": meta["version"], "rows_read": int(len(y_tr)),
                             "training_set": str(training_set), "training_set_digest": table_digest(new),
                             "alias": "challenger", **(lineage or {})}, x_tr)
    return ContinueResult(result.directory, result.directory.name, meta["version"], since, candidates)

