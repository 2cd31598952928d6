"""Continual learning under concept drift (issue 15): the example's fraud model on generated events
whose pattern changes halfway (``GenConfig.drift_at``: normal spending rises and moves abroad;
fraud turns from fast bursts of large foreign purchases into slow card testing of small amounts at
home). Point-in-time features for every label come from the batch path once; then, day by day,
three policies are scored on the next day's labels (prequential AUC — never a stationary test set):

  * never: trained on the first week, never updated;
  * stateless: retrained from scratch every day on every label so far;
  * stateful: the previous day's model fine-tuned on the last day's labels (LightGBM continuation,
    as ``skewless train --continue``), early-stopped on that day's latest labels.

Prints AUC per day, the mean before/after the drift, training time and rows read per policy, and
writes a plot (bench_continual.png in the working directory).

Usage: python bench/continual.py [--events 120000] [--days 28]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

EXAMPLE = Path(__file__).parents[1] / "features"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=120_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--warmup", type=int, default=7, help="days before the first model")
    parser.add_argument("--plot", default="bench_continual.png")
    args = parser.parse_args()
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.compiler.project.models_check import model_feature_columns
    from skewless.runtime.datagen import GenConfig, generate, write_all
    from skewless.runtime.training.features import build_spec
    from skewless.runtime.training.metrics import roc_auc
    from skewless.runtime.training.trainer import _fit, categorical_features
    from skewless.runtime.training.continual import _params

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "features"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
        write_all(generate(GenConfig(events=args.events, days=args.days, seed=11, drift_at=0.5)), root / "data")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(root), "training-set", "fraud",
                        "--out", str(root / "ts.parquet")], check=True, capture_output=True)
        print(f"{args.events:,} events over {args.days} days, drift at day {args.days // 2}; training set "
              f"(DuckDB, point in time) in {time.perf_counter() - started:.1f} s")
        compiled = build_project(load_project(root))
        model = compiled.project.models["fraud"]
        table = pq.read_table(root / "ts.parquet").sort_by([("ts", "ascending"), ("__spine_id", "ascending")])
        table = table.filter(pc.is_valid(table["label"]))
        names = list(model.request_features) + [f for _, _, f in model_feature_columns(model, compiled.views)]
        t_us = table["ts"].cast("int64").to_numpy()
        day = ((t_us - t_us.min()) // 86_400_000_000).astype(int)
        first = table.filter(day < args.warmup)
        spec = build_spec(first, names, categorical_features(model, first, names))
        x = spec.matrix(table)
        y = np.array(table["label"].to_pylist(), dtype=float)

        def split_fit(mask):  # from scratch on the rows of ``mask``: the latest 20% of them early-stop it
            idx = np.flatnonzero(mask)
            cut = int(len(idx) * 0.8)
            return _fit(model, spec, x[idx[:cut]], y[idx[:cut]], x[idx[cut:]], y[idx[cut:]])

        def continue_fit(booster, mask):
            idx = np.flatnonzero(mask)
            cut = int(len(idx) * 0.8)
            if len(set(y[idx[:cut]])) < 2 or len(set(y[idx[cut:]])) < 2:
                return booster  # a day without both labels: keep the model
            train = lgb.Dataset(x[idx[:cut]], y[idx[:cut]], feature_name=spec.names,
                                categorical_feature=spec.categorical_indices or "auto", free_raw_data=False)
            valid = lgb.Dataset(x[idx[cut:]], y[idx[cut:]], reference=train)
            return lgb.train(_params(model), train, num_boost_round=100, valid_sets=[valid], init_model=booster,
                             keep_training_booster=True,
                             callbacks=[lgb.early_stopping(model.early_stopping_rounds, verbose=False)])

        t0 = time.perf_counter()
        never = split_fit(day < args.warmup)
        base_time = time.perf_counter() - t0
        stateful = never
        cost = {"never": [base_time, int((day < args.warmup).sum())], "stateless": [0.0, 0], "stateful": [0.0, 0]}
        rows = []
        for d in range(args.warmup, args.days):
            test = day == d
            if y[test].sum() == 0 or y[test].sum() == test.sum():
                continue
            if d > args.warmup:
                t0 = time.perf_counter()
                stateless = split_fit(day < d)
                cost["stateless"][0] += time.perf_counter() - t0
                cost["stateless"][1] += int((day < d).sum())
                t0 = time.perf_counter()
                stateful = continue_fit(stateful, day == d - 1)
                cost["stateful"][0] += time.perf_counter() - t0
                cost["stateful"][1] += int((day == d - 1).sum())
            else:
                stateless = never
            aucs = {name: roc_auc(y[test], m.predict(x[test])) for name, m in
                    (("never", never), ("stateless", stateless), ("stateful", stateful))}
            rows.append((d, int(test.sum()), aucs))
        print(f"{'day':>4} {'labels':>7} {'never':>8} {'stateless':>10} {'stateful':>9}")
        for d, n, a in rows:
            mark = "  <- drift" if d == args.days // 2 else ""
            print(f"{d:>4} {n:>7,} {a['never']:>8.4f} {a['stateless']:>10.4f} {a['stateful']:>9.4f}{mark}")
        for label, sel in (("before the drift", lambda d: d < args.days // 2), ("after the drift", lambda d: d >= args.days // 2),
                           ("the 3 days after it", lambda d: args.days // 2 <= d < args.days // 2 + 3)):
            chosen = [a for d, _, a in rows if sel(d)]
            if chosen:
                print(f"mean AUC {label:<20} " + "  ".join(f"{k} {np.mean([a[k] for a in chosen]):.4f}"
                                                          for k in ("never", "stateless", "stateful")))
        for k, (secs, read) in cost.items():
            print(f"training {k:<10} {secs:7.2f} s, {read:>10,} rows read")
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 4))
        for k in ("never", "stateless", "stateful"):
            ax.plot([d for d, _, _ in rows], [a[k] for _, _, a in rows], marker="o", label=k)
        ax.axvline(args.days // 2, color="grey", linestyle="--", label="drift")
        ax.set_xlabel("day")
        ax.set_ylabel("AUC on the next day's labels")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"plot → {args.plot}")


if __name__ == "__main__":
    main()
