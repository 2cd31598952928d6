"""``skewless parity --log MODEL``: production-traffic skew detection. Every logged request of a
model version is recomputed through the batch path — each view's as-of SQL over the events, at
the time the served features were read as of — and encoded by the version's `FeatureSpec`; any
served number that differs from the recomputed one is reported (with the request, the feature, both
values), as text and as an HTML page.

A difference means the served vector is not what the SQL gives on the events the batch path holds:
an event the stream had not seen when the request came (late or not yet arrived — then the batch
is right and the model saw stale data), or train-serve skew. Numbers compare by the contract's
rule (docs/semantics.md §3: doubles within a relative 1e-9 — a batch engine sums in its own order)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from .serving.feature_log import read_log
from .values import same as values_same
from .training.features import FeatureSpec
from .training.trainer import model_artifact


def recompute(project, model_name: str, version: str = "champion", engine: str | None = None) -> dict:
    """Compare the logged vectors of ``version`` with the batch path's; a summary with the differences."""
    from .sources.decode import _coerce

    compiled = project.compiled
    model = compiled.project.models[model_name]
    artifact = model_artifact(compiled.project.target_dir, model_name, version, compiled.project.target.registry_dsn)
    meta = json.loads((artifact / "model.json").read_text())
    spec = FeatureSpec.from_json(json.loads((artifact / "features.json").read_text()))
    log = read_log(compiled.project.target_dir, model_name, meta["version"])
    n = log.num_rows
    if n == 0:
        return {"model": model_name, "version": meta["version"], "rows": 0, "differing_rows": 0, "differences": []}
    label_types = compiled.project.sources[model.label.source].column_types()
    requests = [json.loads(r) for r in log["request"].to_pylist()]
    values: list[dict] = [{c: r.get(c) for c in model.request_features} for r in requests]
    as_of = log["as_of"].combine_chunks()
    for ref in model.features:
        if ref.at == "request_event":
            raise ValueError(f"model {model_name}: parity --log recomputes features read as of a time; "
                             f"{ref.view} is read with the request event (at: request_event) — not supported yet")
        view = compiled.views[ref.view]
        join = ref.join or {k: k for k in view.entity}
        spine = {k: pa.array([_coerce(r[join[k]], label_types[join[k]]) for r in requests]) for k in view.entity}
        spine["__t"] = as_of
        got = project.as_of(pa.table(spine), [ref.view], time_column="__t", engine=engine)
        cols = ref.columns or [c.name for c in view.columns if c.kind == "feature"]
        for c in cols:
            for i, v in enumerate(got[c].to_pylist()):
                values[i][f"{ref.view}__{c}"] = v
    served = np.array(log["vector"].to_pylist(), dtype=float).reshape(n, len(spec.names))
    recomputed = np.vstack([spec.vector(v) for v in values])
    same = (served == recomputed) | (np.isnan(served) & np.isnan(recomputed))
    for i, j in zip(*np.nonzero(~same)):  # the contract's rule for doubles (docs/semantics.md §3): batch
        same[i, j] = values_same(float(served[i, j]), float(recomputed[i, j]))  # engines sum in their own order
    differences = []
    rids = log["request_id"].to_pylist()
    for i, j in zip(*np.nonzero(~same)):
        differences.append({"request_id": rids[i], "feature": spec.names[j], "served": float(served[i, j]),
                            "recomputed": float(recomputed[i, j]), "as_of": as_of[i].as_py().isoformat(),
                            "request": requests[i]})
    per_feature: dict[str, int] = {}
    for d in differences:
        per_feature[d["feature"]] = per_feature.get(d["feature"], 0) + 1
    return {"model": model_name, "version": meta["version"], "rows": n,
            "differing_rows": int((~same.all(axis=1)).sum()), "differing_values": len(differences),
            "per_feature": per_feature, "differences": differences}


def html_report(summary: dict, limit: int = 200) -> str:
    rows = "".join(f"<tr><td>{html.escape(d['request_id'])}</td><td>{html.escape(d['feature'])}</td>"
                   f"<td>{d['served']!r}</td><td>{d['recomputed']!r}</td><td>{html.escape(d['as_of'])}</td>"
                   f"<td>{html.escape(json.dumps(d['request']))}</td></tr>" for d in summary["differences"][:limit])
    verdict = "no served value differs" if not summary["differing_rows"] else \
        f"{summary['differing_rows']:,} of {summary['rows']:,} requests differ"
    return ("<!doctype html><meta charset=utf-8><title>skewless log parity</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:3px 6px}"
            "table{border-collapse:collapse}</style>"
            f"<h1>Served vs recomputed: {html.escape(summary['model'])} {html.escape(summary['version'])}</h1>"
            f"<p>{summary['rows']:,} logged requests recomputed through the batch path: {verdict}.</p>"
            + ("<table><tr><th>request</th><th>feature</th><th>served</th><th>recomputed</th><th>as of</th>"
               f"<th>request fields</th></tr>{rows}</table>" if summary["differences"] else ""))


def write_report(summary: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(summary))
