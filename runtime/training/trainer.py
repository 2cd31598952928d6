"""``skewless train``: time-split LightGBM on the model's point-in-time training set, written as a
versioned artifact directory under ``target/models/<model>/<version>/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import lightgbm as lgb
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from skewless.compiler.contract import as_of_rule_text, CompiledProject, model_feature_columns

from ..artifacts import atomic_output
from .features import FeatureSpec, build_spec
from .metrics import log_loss, pr_auc, roc_auc


@dataclass
class TrainResult:
    directory: Path
    metrics: dict


def _fit(model, spec: FeatureSpec, x_tr, y_tr, x_va, y_va, progress=None):
    params = {"objective": model.objective, "verbosity": -1, "seed": 7, "deterministic": True,
              "num_threads": 2, **({"metric": ["auc", "binary_logloss"]} if model.objective == "binary" else {}),
              **model.params}
    train = lgb.Dataset(x_tr, y_tr, feature_name=spec.names, categorical_feature=spec.categorical_indices or "auto",
                        free_raw_data=False)
    valid = lgb.Dataset(x_va, y_va, reference=train)
    callbacks: list[Callable[..., Any]] = [lgb.early_stopping(model.early_stopping_rounds, verbose=False)]
    if progress is not None:
        callbacks.append(progress)
    return lgb.train(params, train, num_boost_round=model.num_boost_round, valid_sets=[valid], callbacks=callbacks)


def _scores(y, p) -> dict:
    return {"auc": roc_auc(y, p), "pr_auc": pr_auc(y, p), "log_loss": log_loss(y, p), "rows": int(len(y)),
            "positives": int(y.sum())}


def categorical_features(model, table, names: list[str]) -> list[str]:
    """The model's ``categorical`` list plus every text feature (a category whether listed or not;
    `validate` refuses the types a model cannot read)."""
    import pyarrow as pa

    text = [n for n in names if pa.types.is_string(table[n].type) or pa.types.is_large_string(table[n].type)]
    return list(dict.fromkeys([*model.categorical, *text]))


AS_OF_KEY = "skewless.features_as_of_us"  # a training set's Parquet metadata: the rule it was built with


class TrainingSetError(ValueError):
    """The training set given is not this model's (columns missing, not Parquet)."""


class LeakageError(ValueError):
    """A feature predicts the label almost perfectly on its own: most likely it was computed from
    the label's own event or a later one. Training refuses unless told to go on."""


LEAK_AUC = 0.99       # binary: a single feature's ROC-AUC (or 1 - AUC) at or above this
LEAK_CORR = 0.99      # regression: |Pearson r| at or above this
LEAK_MIN_ROWS = 50


def leakage(spec: FeatureSpec, x: np.ndarray, y: np.ndarray, objective: str) -> dict[str, float]:
    """Features that predict the label almost perfectly on their own (each with its score),
    measured on the training rows where the feature is present. Categorical codes are skipped
    (their order means nothing)."""
    found = {}
    categorical = set(spec.categorical_indices)
    for j, name in enumerate(spec.names):
        if j in categorical:
            continue
        col = x[:, j]
        ok = ~np.isnan(col)
        if ok.sum() < LEAK_MIN_ROWS or np.all(col[ok] == col[ok][0]):
            continue
        if objective == "binary":
            auc = roc_auc(y[ok], col[ok])
            score = max(auc, 1 - auc) if auc == auc else 0.0
            if score >= LEAK_AUC:
                found[name] = round(score, 4)
        else:
            r = np.corrcoef(col[ok], y[ok])[0, 1]
            if abs(r) >= LEAK_CORR:
                found[name] = round(float(abs(r)), 4)
    return found


def train_model(compiled: CompiledProject, model_name: str, training_set: Path, progress=None,
                allow_leakage: bool = False, lineage: dict | None = None) -> TrainResult:
    """``lineage``: what the registry records beside the defaults (trigger, reason)."""
    model = compiled.project.models[model_name]
    names = list(model.request_features) + [f for _, _, f in model_feature_columns(model, compiled.views)]
    names += list(model.on_demand)
    try:
        table = pq.read_table(training_set)
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a file that is not Parquet
        raise TrainingSetError(f"cannot read the training set: {exc}") from None
    missing = [c for c in ["__spine_id", "ts", "label", *names] if c not in table.column_names]
    if missing:
        raise TrainingSetError(f"not a training set of model {model_name!r}: missing column(s) {', '.join(missing)}")
    built_as_of = (table.schema.metadata or {}).get(AS_OF_KEY.encode())
    if built_as_of is not None and int(built_as_of) != model.features_as_of:
        raise TrainingSetError(
            f"the training set was built with features as of {as_of_rule_text(int(built_as_of))}, model "
            f"{model_name!r} reads them as of {as_of_rule_text(model.features_as_of)}: build it again")
    table = table.sort_by([("ts", "ascending"), ("__spine_id", "ascending")])
    spec = build_spec(table, names, categorical_features(model, table, names))
    y = np.array([float(v) if v is not None else np.nan for v in table["label"].to_pylist()])
    keep = ~np.isnan(y)
    table = table.filter(keep)
    y = y[keep]
    cut = int(len(y) * (1 - model.validation_fraction))  # earlier labels train, later ones validate
    x = spec.matrix(table)
    leaks = leakage(spec, x[:cut], y[:cut], model.objective)
    if leaks and not allow_leakage:
        what = "ROC-AUC" if model.objective == "binary" else "|correlation|"
        raise LeakageError(f"model {model_name!r}: feature(s) predicting the label almost perfectly on their own "
                           f"({what}): " + ", ".join(f"{n} {s}" for n, s in leaks.items())
                           + " — most likely computed from the label's own event or a later one")
    booster = _fit(model, spec, x[:cut], y[:cut], x[cut:], y[cut:], progress)
    p_va = booster.predict(x[cut:], num_iteration=booster.best_iteration)
    metrics = {"validation": _scores(y[cut:], p_va), "best_iteration": booster.best_iteration,
               # suspects: non-empty only when trained with allow_leakage; reads_at_label_time: the
               # rule lets events at the label's own time into its features
               "leakage_check": {"suspects": leaks, "reads_at_label_time": model.features_as_of == 0}}
    if model.baseline_features:
        base = FeatureSpec(list(model.baseline_features), spec.types,
                           {k: v for k, v in spec.categories.items() if k in model.baseline_features})
        xb = base.matrix(table)
        b = _fit(model, base, xb[:cut], y[:cut], xb[cut:], y[cut:])
        metrics["baseline"] = _scores(y[cut:], b.predict(xb[cut:], num_iteration=b.best_iteration))
        metrics["baseline"]["features"] = list(model.baseline_features)
    ts = table["ts"]
    split_ts = ts[cut].as_py() if cut < len(ts) else None
    lineage = {"kind": "full", "parent": None, "rows_read": int(len(y)), "training_set": str(training_set),
               "training_set_digest": table_digest(table), **(lineage or {})}
    return write_artifact(compiled, model_name, booster, spec, metrics, table, len(y), split_ts, lineage, x[:cut])


def table_digest(table) -> str:
    """A training set's fingerprint (JSON): sha256 of every column that is not a double (row ids,
    times, keys, labels, integers, text — exact), and per double column its count, sum, Σ|x| and
    Σx² — batch engines sum doubles in their own order (DuckDB in parallel), so two builds of the
    same rows may differ in a value's last bit; `same_training_set` compares those within 1e-9."""
    import hashlib

    import pyarrow as pa
    import pyarrow.compute as pc

    exact = table.select([f.name for f in table.schema if not pa.types.is_floating(f.type)]).replace_schema_metadata(None)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, exact.schema) as writer:
        writer.write_table(exact)
    floats = {}
    for f in table.schema:
        if pa.types.is_floating(f.type):
            col = pc.fill_null(table[f.name], 0.0)
            finite = pc.if_else(pc.is_finite(col), col, 0.0)
            floats[f.name] = [table[f.name].null_count, int(pc.sum(pc.is_nan(col)).as_py() or 0),
                              float(pc.sum(finite).as_py() or 0.0), float(pc.sum(pc.abs(finite)).as_py() or 0.0),
                              float(pc.sum(pc.multiply(finite, finite)).as_py() or 0.0)]
    return json.dumps({"rows": table.num_rows, "exact": hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest(),
                       "doubles": floats}, sort_keys=True)


def same_training_set(a: str, b: str) -> bool:
    """Two `table_digest` fingerprints of the same rows (doubles within a relative 1e-9)."""
    x, y = json.loads(a), json.loads(b)
    if x["rows"] != y["rows"] or x["exact"] != y["exact"] or set(x["doubles"]) != set(y["doubles"]):
        return False
    for name, (nulls, nans, total, magnitude, squares) in x["doubles"].items():
        n2, nan2, t2, m2, s2 = y["doubles"][name]
        if (nulls, nans) != (n2, nan2):
            return False
        if abs(total - t2) > 1e-9 * max(magnitude, m2, 1e-300) or abs(squares - s2) > 1e-9 * max(squares, s2, 1e-300):
            return False
    return True


def new_version(models_dir: Path) -> tuple[str, Path]:
    """A fresh version name (its creation time; a suffix when two land in the same second)."""
    base = datetime.now(timezone.utc).strftime("v%Y%m%dT%H%M%S")
    version, n = base, 1
    while (models_dir / version).exists():
        version, n = f"{base}_{n}", n + 1
    (models_dir / version).mkdir(parents=True)
    return version, models_dir / version


def write_artifact(compiled: CompiledProject, model_name: str, booster, spec: FeatureSpec, metrics: dict, table,
                   rows: int, split_ts, lineage: dict, x_train: np.ndarray | None = None) -> TrainResult:
    """The version's artifact directory (model, features, model.json, importance plot, the
    training features' reference distribution for drift checks), LATEST, and its registry entry."""
    from ..registry.store import Registry, now_us
    from .drift import reference

    model = compiled.project.models[model_name]
    ts = table["ts"]
    fps = {ref.view: compiled.views[ref.view].fingerprint for ref in model.features}
    version, directory = new_version(compiled.project.target_dir / "models" / model_name)
    booster.save_model(str(directory / "model.txt"), num_iteration=booster.best_iteration or None)
    (directory / "features.json").write_text(json.dumps(spec.to_json(), indent=2))
    training_data = {"rows": int(rows), "from": pc.min(ts).as_py().isoformat(), "to": pc.max(ts).as_py().isoformat(),
                     "validation_from": split_ts.isoformat() if split_ts else None}
    meta = {
        "model": model_name, "version": version, "objective": model.objective,
        "view_fingerprints": fps, "definition": model.model_dump(mode="json"),
        "features_as_of_us": model.features_as_of,  # serving reads the features as of request time minus this
        "training_data": training_data,
        "lineage": {"parent": lineage.get("parent"), "kind": lineage.get("kind", "full")},
        "metrics": metrics,
    }
    (directory / "model.json").write_text(json.dumps(meta, indent=2, default=str))
    if x_train is not None:
        (directory / "reference.json").write_text(json.dumps(reference(spec, x_train)))
    _importance_plot(booster, directory / "importance.png", model_name)
    latest = compiled.project.target_dir / "models" / model_name / "LATEST"
    with atomic_output(latest) as tmp:  # the version is complete before LATEST names it
        tmp.write_text(version)
    registry = Registry.of(compiled.project.target_dir, compiled.project.target.registry_dsn)
    try:
        registry.register({
            "model": model_name, "version": version, "parent": lineage.get("parent"), "kind": lineage.get("kind", "full"),
            "created_us": now_us(), "trigger": lineage.get("trigger", "manual"), "reason": lineage.get("reason", ""),
            "artifact": str(directory), "view_fingerprints": fps, "features_as_of_us": model.features_as_of,
            "data_from": training_data["from"], "data_to": training_data["to"], "rows": int(rows),
            "rows_read": int(lineage.get("rows_read", rows)), "training_set": lineage.get("training_set"),
            "training_set_digest": lineage.get("training_set_digest"),
            "params": {**model.params, "num_boost_round": model.num_boost_round}, "metrics": metrics},
            alias=lineage.get("alias", "champion"))
    finally:
        registry.close()
    return TrainResult(directory, metrics)


def _importance_plot(booster, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gain = booster.feature_importance(importance_type="gain")
    names = booster.feature_name()
    order = np.argsort(gain)[-20:]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(order) + 1.2))
    ax.barh([names[i] for i in order], gain[order], color="#2e86c1")
    ax.set_xlabel("total gain")
    ax.set_title(f"{title}: feature importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def model_artifact(target_dir: Path, model_name: str, version: str = "latest", dsn: str | None = None) -> Path:
    """A version's artifact directory: ``latest`` (the one LATEST names), a version, or an alias of
    the registry (``champion``, ``challenger``...; ``dsn``: the target's registry_dsn)."""
    if version == "latest":
        return latest_artifact(target_dir, model_name)
    path = target_dir / "models" / model_name / version
    if not (path / "model.json").exists():
        from ..registry.store import registry_alias

        aliased = registry_alias(target_dir, model_name, version, dsn)
        if aliased is not None:
            path = target_dir / "models" / model_name / aliased
    if "/" in version or version.startswith(".") or not (path / "model.json").exists():
        versions = sorted(p.name for p in (target_dir / "models" / model_name).glob("v*") if (p / "model.json").exists())
        raise FileNotFoundError(f"model {model_name!r} has no version {version!r}; trained: "
                                f"{', '.join(versions) or 'none (run skewless train ' + model_name + ')'}")
    return path


def served_artifact(compiled: CompiledProject, model_name: str) -> Path:
    """The version `serve`, `score` and the Python API use: the registry's champion, or LATEST for
    a model trained before the registry (a fine-tuned challenger moves LATEST, not the champion)."""
    from ..registry.store import CHAMPION, registry_alias

    target_dir, dsn = compiled.project.target_dir, compiled.project.target.registry_dsn
    champion = registry_alias(target_dir, model_name, CHAMPION, dsn)
    if champion is not None:
        return model_artifact(target_dir, model_name, champion, dsn)
    return latest_artifact(target_dir, model_name)


def latest_artifact(target_dir: Path, model_name: str) -> Path:
    base = target_dir / "models" / model_name
    latest = base / "LATEST"
    if not latest.exists():
        raise FileNotFoundError(f"model {model_name!r} has not been trained: run skewless train {model_name}")
    return base / latest.read_text().strip()
