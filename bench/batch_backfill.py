"""Batch benchmark (issue 4): a point-in-time training set on DuckDB.

For each size (default 1M, 3M, 10M events; a spine of 10% as many (user, t) rows) it times, each in
a fresh process so peak memory (max RSS) is per step:
  * skewless: the as-of SQL compiled from a 10-feature view (user 1h/24h/7d count+sum+avg, max 24h,
    distinct merchants 24h, time since last event);
  * hand-written: the union-and-window DuckDB query a skilled engineer would write for it;
  * pandas: groupby().rolling() per window (a rolling apply for the distinct count) + merge_asof of
    the spine (the common notebook approach; it does not expire windows between a user's last event
    and t, so it is less exact than what it is compared to).
It checks that skewless and the hand-written query agree row for row, and prints the ratios.

Usage: python bench/batch_backfill.py [--sizes 1000000,3000000,10000000] [--pandas-max 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VIEW = """
SELECT txn_id, user_id, ts,
  COUNT(*) OVER w1h AS c1h, SUM(amount) OVER w1h AS s1h, AVG(amount) OVER w1h AS a1h,
  COUNT(*) OVER w24h AS c24h, SUM(amount) OVER w24h AS s24h, AVG(amount) OVER w24h AS a24h,
  COUNT(*) OVER w7d AS c7d, SUM(amount) OVER w7d AS s7d, AVG(amount) OVER w7d AS a7d,
  MAX(amount) OVER w24h AS max24h,
  COUNT(DISTINCT merchant_id) OVER w24h AS dm24h,
  EXTRACT(EPOCH FROM ts - LAG(ts) OVER seq) AS since_last
FROM {{ source('transactions') }}
WINDOW w1h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW),
       w24h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '24 hours' PRECEDING AND CURRENT ROW),
       w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW),
       seq AS (PARTITION BY user_id ORDER BY ts, txn_id)
"""

HAND = """
WITH u AS (
  SELECT user_id, ts, txn_id, amount, merchant_id, 0 AS s, NULL::BIGINT AS sid FROM read_parquet('{events}')
  WHERE ts <= (SELECT max(__t) FROM read_parquet('{spine}'))
  UNION ALL
  SELECT user_id, __t, NULL, NULL, NULL, 1, __spine_id FROM read_parquet('{spine}')
), f AS (
  SELECT s, sid,
    SUM(1 - s) OVER w1h AS c1h, SUM(amount) OVER w1h AS s1h, AVG(amount) OVER w1h AS a1h,
    SUM(1 - s) OVER w24h AS c24h, SUM(amount) OVER w24h AS s24h, AVG(amount) OVER w24h AS a24h,
    SUM(1 - s) OVER w7d AS c7d, SUM(amount) OVER w7d AS s7d, AVG(amount) OVER w7d AS a7d,
    MAX(amount) OVER w24h AS max24h, COUNT(DISTINCT merchant_id) OVER w24h AS dm24h,
    EXTRACT(EPOCH FROM ts - MAX(CASE WHEN s = 0 THEN ts END) OVER (PARTITION BY user_id ORDER BY ts, s
      ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) AS since_last
  FROM u
  WINDOW w1h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW),
         w24h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 24 HOURS PRECEDING AND CURRENT ROW),
         w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)
)
SELECT sid AS __spine_id, c1h, s1h, a1h, c24h, s24h, a24h, c7d, s7d, a7d, max24h, dm24h, since_last FROM f WHERE s = 1
"""


def make_data(n: int, out: Path) -> tuple[Path, Path]:
    from skewless.runtime.datagen import GenConfig, generate

    events = generate(GenConfig(events=n, days=60, seed=1))["transactions"]
    events_path, spine_path = out / "events.parquet", out / "spine.parquet"
    pq.write_table(events, events_path)
    rng = np.random.default_rng(2)
    pick = rng.integers(0, events.num_rows, size=max(1, n // 10))
    ts = events["ts"].cast(pa.int64()).to_numpy()[pick] + rng.integers(0, 7_200_000_000, size=pick.size)
    spine = pa.table({"user_id": events["user_id"].take(pa.array(pick)),
                      "__t": pa.array(ts).cast(pa.timestamp("us", tz="UTC")),
                      "__spine_id": pa.array(np.arange(pick.size, dtype=np.int64))})
    pq.write_table(spine, spine_path)
    return events_path, spine_path


def bench_project(root: Path):
    """The example project with its views replaced by the one bench view (shared by the benches)."""
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project

    shutil.copytree(Path(__file__).parents[1] / "features", root, ignore=shutil.ignore_patterns("target", "data", "*.sql"))
    (root / "features").mkdir(exist_ok=True)
    (root / "features" / "bench.sql").write_text(VIEW)
    shutil.rmtree(root / "models", ignore_errors=True)
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, compiled.diagnostics
    return compiled


def compiled_sql(events: Path, spine: Path) -> str:
    from skewless.compiler.batch import as_of_sql

    compiled = bench_project(Path(tempfile.mkdtemp()) / "p")
    return as_of_sql(compiled.views["bench"], "duckdb", f"read_parquet('{events}')", f"read_parquet('{spine}')")


def _run_duckdb(sql: str, out: str, q) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    start = time.perf_counter()
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT PARQUET)")
    q.put((time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def _run_pandas(events: str, spine: str, out: str, q) -> None:
    import pandas as pd

    start = time.perf_counter()
    ev = pd.read_parquet(events, columns=["user_id", "ts", "amount", "merchant_id"]).sort_values("ts", kind="stable")
    ev["one"] = 1
    codes = ev["merchant_id"].astype("category").cat.codes.astype("float64")
    ev["merchant"] = codes.where(codes >= 0)
    g = ev.set_index("ts").groupby("user_id")
    feats = []
    for name, win in (("1h", "1h"), ("24h", "24h"), ("7d", "7D")):
        r = g.rolling(win)
        feats += [r["one"].sum().rename(f"c{name}"), r["amount"].sum().rename(f"s{name}"),
                  r["amount"].mean().rename(f"a{name}")]
    feats.append(g.rolling("24h")["amount"].max().rename("max24h"))
    # pandas has no rolling distinct count: the usual way is a rolling apply over category codes
    feats.append(g.rolling("24h")["merchant"].apply(lambda a: len(np.unique(a[~np.isnan(a)])), raw=True)
                 .rename("dm24h"))
    per_event = pd.concat(feats, axis=1).reset_index()
    per_event["since_last"] = per_event.groupby("user_id")["ts"].diff().dt.total_seconds()
    sp = pd.read_parquet(spine).rename(columns={"__t": "ts"}).sort_values("ts")
    per_event = per_event.sort_values("ts")
    merged = pd.merge_asof(sp, per_event, on="ts", by="user_id", direction="backward")
    merged.to_parquet(out)
    q.put((time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure(target, *args) -> tuple[float, float]:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    result = q.get()
    p.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,3000000,10000000")
    parser.add_argument("--pandas-max", type=int, default=1_000_000, help="largest size the pandas baseline runs at")
    args = parser.parse_args()
    print(f"{'events':>10} {'spine':>9} | {'skewless s':>10} {'MB':>6} | {'hand s':>8} {'MB':>6} | "
          f"{'pandas s':>8} {'MB':>6} | {'vs hand':>7} {'vs pandas':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            events, spine = make_data(n, out)
            ours_sql = compiled_sql(events, spine)
            t_ours, m_ours = measure(_run_duckdb, ours_sql, str(out / "ours.parquet"))
            t_hand, m_hand = measure(_run_duckdb, HAND.format(events=events, spine=spine), str(out / "hand.parquet"))
            a = pq.read_table(out / "ours.parquet").sort_by("__spine_id")
            b = pq.read_table(out / "hand.parquet").sort_by("__spine_id")
            for col in b.column_names:
                x, y = a[col].to_numpy(zero_copy_only=False), b[col].to_numpy(zero_copy_only=False)
                assert np.allclose(np.nan_to_num(x.astype(float), nan=-1), np.nan_to_num(y.astype(float), nan=-1),
                                   rtol=1e-9, atol=1e-9), f"skewless and hand-written disagree on {col}"
            if n <= args.pandas_max:
                t_pd, m_pd = measure(_run_pandas, str(events), str(spine), str(out / "pd.parquet"))
                pd_cols, ratio_pd = f"{t_pd:8.2f} {m_pd:6.0f}", f"{t_pd / t_ours:8.1f}x"
            else:
                pd_cols, ratio_pd = f"{'-':>8} {'-':>6}", f"{'-':>9}"
            print(f"{n:>10,} {n // 10:>9,} | {t_ours:10.2f} {m_ours:6.0f} | {t_hand:8.2f} {m_hand:6.0f} | "
                  f"{pd_cols} | {t_ours / t_hand:6.2f}x {ratio_pd}", flush=True)


if __name__ == "__main__":
    main()
