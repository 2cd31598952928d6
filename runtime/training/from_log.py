"""Training data from the feature log (log-and-wait): the vectors a model version was *served*,
joined by request id to labels that arrived later — no recomputation, the exact numbers the model
saw. Categorical codes are turned back into their categories (the version's `FeatureSpec`), so
the result is a training set ``skewless train MODEL --training-set FILE`` reads like any other."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.compiler.contract import CompiledProject

from ..serving.feature_log import read_log
from .features import FeatureSpec
from .trainer import AS_OF_KEY, model_artifact


def training_set_from_log(compiled: CompiledProject, model_name: str, labels: pa.Table, label_id: str = "request_id",
                          version: str = "champion") -> tuple[pa.Table, dict]:
    """(training set, counts): the logged requests of ``version`` with a label."""
    model = compiled.project.models[model_name]
    artifact = model_artifact(compiled.project.target_dir, model_name, version, compiled.project.target.registry_dsn)
    meta = json.loads((artifact / "model.json").read_text())
    spec = FeatureSpec.from_json(json.loads((artifact / "features.json").read_text()))
    log = read_log(compiled.project.target_dir, model_name, meta["version"])
    label_col = model.label.column
    for col in (label_id, label_col):
        if col not in labels.column_names:
            raise ValueError(f"the labels lack column {col!r} (they join the log by {label_id!r})")
    lab = pa.table({"request_id": labels[label_id].cast(pa.string()), "label": labels[label_col]})
    lab = lab.group_by("request_id", use_threads=False).aggregate([("label", "last")]).rename_columns(["request_id", "label"])
    keys = pa.table({"request_id": log["request_id"], "requested_at": log["requested_at"],
                     "__row": pa.array(np.arange(log.num_rows), pa.int64())})  # Arrow joins no list columns
    hits = keys.join(lab, "request_id", join_type="inner").sort_by([("requested_at", "ascending"),
                                                                   ("request_id", "ascending")])
    joined = log.take(hits["__row"]).append_column("label", hits["label"])
    n = joined.num_rows
    vectors = np.array(joined["vector"].to_pylist(), dtype=float).reshape(n, len(spec.names))
    cols: dict[str, pa.Array] = {"__spine_id": pa.array(np.arange(n), pa.int64()),
                                 "request_id": joined["request_id"].combine_chunks(),
                                 "ts": joined["requested_at"].combine_chunks(), "label": joined["label"].combine_chunks()}
    for j, name in enumerate(spec.names):
        values = vectors[:, j]
        if name in spec.categories:
            vocab = spec.categories[name]
            cols[name] = pa.array([None if np.isnan(c) else vocab[int(c)] for c in values], pa.string())
        else:
            cols[name] = pa.array(values, pa.float64(), mask=np.isnan(values))
    table = pa.table(cols).replace_schema_metadata({AS_OF_KEY: str(meta.get("features_as_of_us", 0))})
    counts = {"logged": log.num_rows, "labelled": n, "version": meta["version"],
              "unlabelled": log.num_rows - int(pc.sum(pc.is_in(log["request_id"], lab["request_id"])).as_py() or 0)}
    return table, counts
