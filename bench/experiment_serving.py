"""What an experiment costs a request (issue 16), in process on the example project (SQLite online
store): p50/p99 of reading features + scoring for the plain model, then through an experiment of
two arms — A/B, bandit (Thompson draw), shadow (both arms scored) — each including the decision's
commit to target/experiments.sqlite before the answer.

Usage: python bench/experiment_serving.py [--events 20000] [--requests 3000]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

EXAMPLE = Path(__file__).parents[1] / "features"


def cli(project: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args], check=True,
                   capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    from skewless.compiler.config.experiments import ExperimentDef
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.datagen import GenConfig, generate, write_all
    from skewless.runtime.experiments.router import ServedExperiment
    from skewless.runtime.experiments.store import ExperimentStore
    from skewless.runtime.serving.scorer import Scorer
    from skewless.runtime.stores import open_store
    from skewless.runtime.training.trainer import model_artifact

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "features"
        shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
        data = generate(GenConfig(events=args.events, days=7, seed=5))
        write_all(data, root / "data")
        text = (root / "models" / "fraud.yml").read_text()
        small = text.split("models:\n", 1)[1].replace("name: fraud\n", "name: fraud_small\n").replace(
            "num_leaves: 31", "num_leaves: 4")
        (root / "models" / "fraud.yml").write_text(text + small)
        for a in (("replay",), ("train", "fraud"), ("train", "fraud_small")):
            cli(root, *a)
        compiled = build_project(load_project(root))
        store = open_store(compiled.project.target.online, root)
        fraud = Scorer(compiled, model_artifact(compiled.project.target_dir, "fraud"), store)
        small_s = Scorer(compiled, model_artifact(compiled.project.target_dir, "fraud_small"), store)
        labels = data["labels"].to_pylist()[-args.requests:]
        rows = [{k: r[k] for k in ("txn_id", "user_id", "merchant_id", "card_id", "amount", "country")} for r in labels]
        at = datetime(2030, 1, 1, tzinfo=timezone.utc)

        def timed(fn) -> tuple[float, float]:
            for r in rows[:200]:
                fn(dict(r))
            lat = []
            for r in rows:
                t0 = time.perf_counter()
                fn(dict(r))
                lat.append(time.perf_counter() - t0)
            return np.percentile(lat, 50) * 1e6, np.percentile(lat, 99) * 1e6

        def plain(r):
            p = fraud.prepare(r)
            fraud.finish(p, store.read_many(fraud.store_keys(p)), at)

        results = {"plain model (no experiment)": timed(plain)}
        exp_store = ExperimentStore(Path(tmp) / "experiments.sqlite")
        for mode in ("ab", "bandit", "shadow"):
            exp = ExperimentDef(mode=mode, arms=[{"name": "control"}, {"name": "small", "model": "fraud_small"}])
            served = ServedExperiment("fraud", exp, {"control": fraud, "small": small_s}, exp_store,
                                      sorted(fraud.key_columns))

            def routed(r, served=served):
                p = served.prepare(r)
                decision, _ = served.finish(p, store.read_many(served.store_keys(p)), at)
                served.log([decision])

            results[f"{mode} (2 arms, decision committed)"] = timed(routed)
        base = results["plain model (no experiment)"][0]
        print(f"{args.requests:,} requests, in process, SQLite online store and experiment store")
        for name, (p50, p99) in results.items():
            print(f"  {name:<36} p50 {p50:7.0f} µs  p99 {p99:7.0f} µs   p50 / plain {p50 / base:.2f}x")


if __name__ == "__main__":
    main()
