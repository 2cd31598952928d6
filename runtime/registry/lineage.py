"""Reproducing a version's training set from what the registry recorded (streaming-feature
reproducibility: time travel through the batch path). The model's training set is built again over
today's sources — point in time, so events that arrived since cannot reach a label's features —
restricted to the version's label-time range, and its rows' fingerprint compared with the recorded
one (`table_digest`: exact for every column but doubles, doubles within 1e-9 — engines sum them in
their own order).
The views must still have the fingerprints the version was trained on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..training.trainer import same_training_set, table_digest
from .store import Registry


def reproduce(compiled, model: str, version: str, out: Path) -> dict:
    from ..batch_jobs import build_training_set

    registry = Registry.of(compiled.project.target_dir, compiled.project.target.registry_dsn)
    try:
        resolved = registry.alias(model, version) or version
        rec = registry.version(model, resolved)
    finally:
        registry.close()
    if rec is None:
        raise FileNotFoundError(f"model {model!r} has no registered version {version!r}")
    changed = {v: (fp, compiled.views[v].fingerprint) for v, fp in rec["view_fingerprints"].items()
               if v not in compiled.views or compiled.views[v].fingerprint != fp}
    if changed:
        raise ValueError(f"view(s) changed since {resolved} was trained (recorded -> now): {changed}; its training "
                         "set cannot be rebuilt from today's definitions")
    full = out.with_suffix(".all.parquet")
    build_training_set(compiled, model, full)
    table = pq.read_table(full)
    full.unlink()
    ts_type = table.schema.field("ts").type
    lo = pa.scalar(datetime.fromisoformat(rec["data_from"]), ts_type)
    hi = pa.scalar(datetime.fromisoformat(rec["data_to"]), ts_type)
    table = table.filter(pc.is_valid(table["label"])).sort_by([("ts", "ascending"), ("__spine_id", "ascending")])
    table = table.filter(pc.and_(pc.greater_equal(table["ts"], lo), pc.less_equal(table["ts"], hi)))
    pq.write_table(table, out)
    digest = table_digest(table)
    return {"version": resolved, "rows": table.num_rows, "recorded_rows": rec["rows"], "digest": digest,
            "recorded_digest": rec["training_set_digest"],
            "same": rec["training_set_digest"] is not None and same_training_set(digest, rec["training_set_digest"])}
