"""Serving benchmark (issue 5).

* In process: read all the example model's features as of now + LightGBM score, p50/p99 per request,
  with the SQLite store and with the Postgres store (a throwaway local cluster), next to a bare
  LightGBM ``predict`` of one row in the same run (the ratio is the cost of the feature path).
* HTTP: uvicorn serving the app; a separate process sends an open-loop load at a fixed rate on
  loopback and reports p50/p99 latency (bounded in count and time).

Usage: python bench/serving.py [--events 30000] [--requests 2000] [--rate 1000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def cli(project: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args], check=True,
                   capture_output=True)


def load(port: int, bodies: list[bytes], rate: float, out) -> None:
    """Open-loop client: requests are sent on schedule whether or not earlier ones returned."""
    import http.client

    lat: list[float] = []
    lock = threading.Lock()
    interval = 1.0 / rate

    def one(body: bytes):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        try:
            conn.request("POST", "/score/fraud", body, {"content-type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except OSError:
            status = -1  # timed out or refused: counted, not timed
        with lock:
            lat.append((time.perf_counter() - started, status))
        conn.close()

    threads = []
    start = time.perf_counter()
    for i, body in enumerate(bodies):
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(body,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join(timeout=10)
    out.put((lat, time.perf_counter() - start))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=1000)
    args = parser.parse_args()

    from datetime import timedelta

    import pyarrow.parquet as pq
    import uvicorn

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.pg_local import free_port, throwaway_cluster
    from skewless.runtime.serving.app import create_app
    from skewless.runtime.serving.scorer import Scorer
    from skewless.runtime.stores import SQLiteStore
    from skewless.runtime.stores.postgres_store import PostgresStore
    from skewless.runtime.stream.replay import replay_rows
    from skewless.runtime.training.trainer import latest_artifact

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "features"
        shutil.copytree(Path(__file__).parents[1] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
        cli(root, "generate", "--events", str(args.events), "--days", "7")
        cli(root, "replay")
        cli(root, "train", "fraud")
        compiled = build_project(load_project(root))
        artifact = latest_artifact(compiled.project.target_dir, "fraud")
        labels = pq.read_table(root / "data" / "labels.parquet").sort_by([("ts", "descending")])
        at = labels["ts"][0].as_py() + timedelta(seconds=1)
        reqs = [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in r.items() if k not in ("ts", "is_fraud")}
                for r in labels.slice(0, args.requests).to_pylist()]
        sqlite = SQLiteStore(root / "target" / "online.sqlite")
        scorer = Scorer(compiled, artifact, sqlite)
        x = scorer.spec.vector(scorer.features(reqs[0], at))
        bare = []
        for _ in range(args.requests):
            s = time.perf_counter()
            scorer.booster.predict(x)
            bare.append(time.perf_counter() - s)
        rows = {}
        with throwaway_cluster() as dsn:
            pg = PostgresStore(dsn)
            for view in compiled.views.values():
                events = sorted(pq.read_table(root / "data" / "transactions.parquet").to_pylist(), key=lambda e: e["ts"])
                replay_rows(view, events, pg, flush_every=50_000)
            for name, store in (("sqlite", sqlite), ("postgres", pg)):
                sc = Scorer(compiled, artifact, store)
                lat = []
                for r in reqs:
                    s = time.perf_counter()
                    sc.score(r, at)
                    lat.append(time.perf_counter() - s)
                rows[name] = lat
            pg.close()
        b50, b99 = pct(bare, 0.5), pct(bare, 0.99)
        print(f"bare LightGBM predict (1 row):   p50 {b50 * 1e3:.3f} ms  p99 {b99 * 1e3:.3f} ms")
        for name, lat in rows.items():
            p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
            print(f"in-process read+score [{name:8}]: p50 {p50 * 1e3:.3f} ms  p99 {p99 * 1e3:.3f} ms  "
                  f"({p50 / b50:.1f}x bare predict at p50)   goal p99 <= 1 ms")

        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app({"fraud": scorer}, compiled, sqlite), host="127.0.0.1",
                                               port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        bodies = [json.dumps({**r, "at": at.isoformat()}).encode() for r in reqs]
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        proc = ctx.Process(target=load, args=(port, bodies, args.rate, q))
        proc.start()
        lat, elapsed = q.get(timeout=300)
        proc.join()
        server.should_exit = True
        thread.join(timeout=5)
        ok = [t for t, status in lat if status == 200]
        failed = len(lat) - len(ok)
        print(f"HTTP open loop {args.rate:.0f} req/s x {len(bodies)}: sent over {elapsed:.1f} s, {len(ok)} ok, "
              f"{failed} failed/timed out; ok p50 {pct(ok, 0.5) * 1e3:.2f} ms  p99 {pct(ok, 0.99) * 1e3:.2f} ms"
              "   goal p99 <= 5 ms")
        sqlite.close()


if __name__ == "__main__":
    main()
