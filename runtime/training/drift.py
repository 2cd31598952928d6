"""Feature distribution drift: a version's reference (the distribution of each feature in the
rows it was trained on, saved as ``reference.json`` in its artifact) against recent feature
vectors — the ones the stream-fed online store served, from the feature log.

Per numeric feature: PSI over the reference's deciles (with the missing values as their own bin)
and the two-sample Kolmogorov-Smirnov statistic against a sample of the reference's values; per
categorical feature: PSI over its categories (codes) and missing. PSI = Σ (a − e) ln(a / e) with
both shares floored at 1e-4 (an empty bin would be infinite)."""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from .features import FeatureSpec

SAMPLE = 2000
FLOOR = 1e-4


def reference(spec: FeatureSpec, x: np.ndarray, seed: int = 0) -> dict:
    out = {}
    rng = np.random.default_rng(seed)
    categorical = set(spec.categorical_indices)
    for j, name in enumerate(spec.names):
        col = x[:, j]
        ok = col[~np.isnan(col)]
        entry: dict = {"missing": float(np.isnan(col).mean()) if len(col) else 0.0, "rows": int(len(col))}
        if j in categorical:
            codes, counts = np.unique(ok, return_counts=True)
            entry["categories"] = {str(int(c)): float(n / len(col)) for c, n in zip(codes, counts)}
        elif len(ok):
            edges = np.unique(np.quantile(ok, np.linspace(0.1, 0.9, 9)))
            shares = np.bincount(np.searchsorted(edges, ok, side="right"), minlength=len(edges) + 1) / len(col)
            entry["edges"] = edges.tolist()
            entry["shares"] = shares.tolist()
            entry["sample"] = rng.choice(ok, size=min(SAMPLE, len(ok)), replace=False).tolist()
        out[name] = entry
    return {"features": out}


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e = np.maximum(expected, FLOOR)
    a = np.maximum(actual, FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def drift(ref: dict, spec: FeatureSpec, x: np.ndarray) -> dict[str, dict]:
    """Per feature: psi (and ks, ks_p for numeric features) of ``x`` (recent vectors) against ``ref``."""
    out = {}
    for j, name in enumerate(spec.names):
        entry = ref["features"].get(name)
        if entry is None or len(x) == 0:
            continue
        col = x[:, j]
        missing = np.isnan(col)
        ok = col[~missing]
        if "categories" in entry:
            cats = list(entry["categories"])
            expected = np.array([entry["categories"][c] for c in cats] + [entry["missing"]])
            codes = [str(int(v)) for v in ok]
            actual = np.array([codes.count(c) for c in cats] + [missing.sum()], dtype=float) / len(col)
            other = 1 - actual.sum()  # categories the reference never saw
            out[name] = {"psi": _psi(np.append(expected, 0.0), np.append(actual, other))}
        elif "edges" in entry:
            edges = np.array(entry["edges"])
            shares = np.bincount(np.searchsorted(edges, ok, side="right"), minlength=len(edges) + 1) / len(col)
            expected = np.append(np.array(entry["shares"]), entry["missing"])
            actual = np.append(shares, missing.mean())
            row = {"psi": _psi(expected, actual)}
            if len(ok) and entry["sample"]:
                ks = sps.ks_2samp(np.array(entry["sample"]), ok)
                row.update(ks=float(ks.statistic), ks_p=float(ks.pvalue))
            out[name] = row
    return out
