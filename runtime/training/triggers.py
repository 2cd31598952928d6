"""When to retrain (``skewless retrain``): the model's ``retrain:`` block evaluated against its
champion.

(a) schedule — the champion is older than ``every``;
(b) drift — the champion's logged requests of the last ``window`` (the vectors the stream-fed
    online store served: runtime/serving/feature_log.py) against the distribution of its training
    rows (its ``reference.json``): any feature's PSI above ``psi`` or Kolmogorov-Smirnov statistic
    above ``ks`` (with at least ``min_rows`` logged requests);
(c) performance — the logged scores of the last ``window`` joined to labels that arrived (by
    request id): ROC-AUC below the champion's validation AUC by more than ``auc_drop``.

`evaluate` returns every check's numbers and which fired; the caller retrains and records the run
in the registry with them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from skewless.compiler.contract import CompiledProject

from ..serving.feature_log import read_log
from .drift import drift
from .features import FeatureSpec
from .metrics import roc_auc
from .trainer import model_artifact


def evaluate(compiled: CompiledProject, model_name: str, now: datetime | None = None, labels: pa.Table | None = None,
             label_id: str = "request_id") -> tuple[list[str], dict]:
    model = compiled.project.models[model_name]
    rule = model.retrain
    now = now or datetime.now(timezone.utc)
    artifact = model_artifact(compiled.project.target_dir, model_name, "champion", compiled.project.target.registry_dsn)
    meta = json.loads((artifact / "model.json").read_text())
    spec = FeatureSpec.from_json(json.loads((artifact / "features.json").read_text()))
    fired: list[str] = []
    checks: dict = {"champion": meta["version"], "at": now.isoformat()}

    created = datetime.strptime(meta["version"][1:16], "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)
    checks["age_s"] = (now - created).total_seconds()
    if rule.every is not None and now - created >= timedelta(microseconds=rule.every):
        fired.append("schedule")

    log = read_log(compiled.project.target_dir, model_name, meta["version"])
    since = pa.scalar(now - timedelta(microseconds=rule.window), pa.timestamp("us", tz="UTC"))
    recent = log.filter(pc.greater_equal(log["requested_at"], since)) if log.num_rows else log
    checks["logged"] = recent.num_rows
    if (rule.psi is not None or rule.ks is not None) and recent.num_rows >= rule.min_rows \
            and (artifact / "reference.json").exists():
        ref = json.loads((artifact / "reference.json").read_text())
        x = np.array(recent["vector"].to_pylist(), dtype=float).reshape(recent.num_rows, len(spec.names))
        per = drift(ref, spec, x)
        over = {n: d for n, d in per.items()
                if (rule.psi is not None and d["psi"] > rule.psi) or (rule.ks is not None and d.get("ks", 0) > rule.ks)}
        checks["drift"] = {"max_psi": max((d["psi"] for d in per.values()), default=0.0),
                           "features_over": {n: {k: round(v, 4) for k, v in d.items()} for n, d in over.items()}}
        if over:
            fired.append("drift")

    if labels is not None and rule.auc_drop is not None and model.objective == "binary" and recent.num_rows:
        ids = labels[label_id].cast(pa.string())
        lab = dict(zip(ids.to_pylist(), labels[model.label.column].to_pylist()))
        pairs = [(s, lab[r]) for r, s in zip(recent["request_id"].to_pylist(), recent["score"].to_pylist())
                 if lab.get(r) is not None]
        baseline = meta["metrics"]["validation"].get("auc")
        checks["performance"] = {"labelled": len(pairs), "champion_validation_auc": baseline}
        ys = [float(y) for _, y in pairs]
        if len(pairs) >= rule.min_rows and 0 < sum(ys) < len(ys) and baseline is not None:
            auc = roc_auc(np.array(ys), np.array([s for s, _ in pairs]))
            checks["performance"]["logged_auc"] = auc
            if auc < baseline - rule.auc_drop:
                fired.append("performance")
    return fired, checks
