"""Dense-key batch benchmark (issue 17): few keys holding ~100k events each, long windows, EXCLUDE
GROUP (the leakage-safe form), and a label per event read under the default rule (features as of
1 µs before the label). The as-of SQL skewless compiles for the view, on DuckDB and on Postgres,
against a hand-written DuckDB query a skilled engineer would write for the same values (union of
events and labels, windows ending 1 µs before each label), each checked cell for cell against the
hand-written result.

Usage: python bench/batch_dense.py [--events 1000000] [--keys 10] [--days 60] [--postgres-max 300000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

VIEW = """
SELECT flight_id, airport, ts,
  COUNT(*) OVER d1 AS c1d, AVG(delay) OVER d1 AS a1d, MAX(delay) OVER d1 AS max1d,
  SUM(delay) OVER d7 AS s7d, STDDEV_SAMP(delay) OVER d7 AS sd7d,
  COUNT(*) OVER life AS c_life, AVG(delay) OVER life AS a_life
FROM {{ source('flights') }}
WINDOW d1 AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW EXCLUDE GROUP),
       d7 AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN INTERVAL '7 days' PRECEDING AND CURRENT ROW EXCLUDE GROUP),
       life AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP)
"""

SOURCE = """sources:
  - name: flights
    timestamp: ts
    unique_key: [flight_id]
    columns:
      - {name: flight_id, type: text}
      - {name: airport, type: text}
      - {name: delay, type: double precision}
      - {name: ts, type: timestamptz}
    batch: {path: data/flights.parquet}
"""

# the spine's times are label times; features are read as of 1 µs before (semantics: features_as_of)
HAND = """
WITH u AS (
  SELECT airport, ts, delay, 0 AS s, NULL::BIGINT AS sid FROM read_parquet('{events}')
  UNION ALL
  SELECT airport, __t, NULL, 1, __spine_id FROM read_parquet('{spine}')
), f AS (
  SELECT s, sid,
    COUNT(delay) OVER d1 AS c1d, AVG(delay) OVER d1 AS a1d, MAX(delay) OVER d1 AS max1d,
    SUM(delay) OVER d7 AS s7d, STDDEV_SAMP(delay) OVER d7 AS sd7d,
    COUNT(delay) OVER life AS c_life, AVG(delay) OVER life AS a_life
  FROM u
  WINDOW d1 AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
         d7 AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
         life AS (PARTITION BY airport ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING)
)
SELECT sid AS __spine_id, c1d, a1d, max1d, s7d, sd7d, c_life, a_life FROM f WHERE s = 1
"""
FEATURES = ["c1d", "a1d", "max1d", "s7d", "sd7d", "c_life", "a_life"]


def make_data(n: int, keys: int, days: int, out: Path) -> tuple[Path, Path]:
    """Events on ``keys`` airports (Zipf-skewed: the busiest holds ~30%), whole seconds with ties;
    one label per event at its own time (the spine reads 1 µs before it)."""
    rng = np.random.default_rng(7)
    weights = 1 / np.arange(1, keys + 1)
    airport = rng.choice(keys, size=n, p=weights / weights.sum())
    ts = np.sort(rng.integers(0, days * 86_400, size=n)) * 1_000_000 + 1_767_225_600_000_000  # 2026-01-01
    events = pa.table({"flight_id": [f"f{i:07d}" for i in range(n)],
                       "airport": pa.array([f"A{a:02d}" for a in airport]),
                       "delay": pa.array(np.round(rng.normal(10, 25, size=n), 1)),
                       "ts": pa.array(ts).cast(pa.timestamp("us", tz="UTC"))})
    events_path, spine_path = out / "flights.parquet", out / "spine.parquet"
    pq.write_table(events, events_path)
    spine = pa.table({"airport": events["airport"], "__t": pa.array(ts - 1).cast(pa.timestamp("us", tz="UTC")),
                      "__spine_id": pa.array(np.arange(n, dtype=np.int64))})
    pq.write_table(spine, spine_path)
    return events_path, spine_path


def project(root: Path, events: Path):
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project

    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text("name: dense\nbatch_dialects: [duckdb, postgres]\n")
    (root / "sources" / "flights.yml").write_text(SOURCE)
    (root / "features" / "dense.sql").write_text(VIEW)
    shutil.copy(events, root / "data" / "flights.parquet")
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, compiled.diagnostics
    return compiled


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--postgres-max", type=int, default=300_000, help="Postgres runs on the first N events")
    args = parser.parse_args()

    import duckdb

    from skewless.compiler.batch import as_of_sql
    from skewless.runtime.engines import PostgresEngine
    from skewless.runtime.pg_local import throwaway_cluster
    from skewless.runtime.values import same

    tmp = Path(tempfile.mkdtemp(prefix="skewless-dense-"))
    try:
        events, spine = make_data(args.events, args.keys, args.days, tmp)
        compiled = project(tmp / "p", events)
        view = compiled.views["dense"]
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")

        def run(sql: str) -> tuple[float, pa.Table]:
            start = time.perf_counter()
            table = con.sql(sql).to_arrow_table()
            return time.perf_counter() - start, table.sort_by("__spine_id")

        t_hand, hand = run(HAND.format(events=events, spine=spine))
        t_ours, ours = run(as_of_sql(view, "duckdb", f"read_parquet('{events}')", f"read_parquet('{spine}')"))

        def differing(a: pa.Table, b: pa.Table) -> int:
            return sum(not same(x, y) for f in FEATURES for x, y in zip(a[f].to_pylist(), b[f].to_pylist()))

        busiest = max(np.unique(pq.read_table(events, columns=["airport"])["airport"].to_numpy(zero_copy_only=False),
                                return_counts=True)[1])
        print(f"{args.events:,} events on {args.keys} keys (busiest {busiest:,}) over {args.days} days; "
              f"{args.events:,} labels; 7 features (1d/7d/lifetime, EXCLUDE GROUP)")
        print(f"DuckDB hand-written: {t_hand:7.2f} s")
        print(f"DuckDB skewless:     {t_ours:7.2f} s   {t_ours / t_hand:.2f}x hand-written (goal <= 1.2x); "
              f"cells differing: {differing(hand, ours)}")
        m = min(args.postgres_max, args.events)
        with throwaway_cluster() as dsn:
            pg = PostgresEngine(dsn)
            ev, sp = pq.read_table(events).slice(0, m), pq.read_table(spine).slice(0, m)
            pg.register("flights", ev)
            pg.register("spine", sp)
            start = time.perf_counter()
            got = pg.to_arrow(as_of_sql(view, "postgres", '"flights"', '"spine"')).sort_by("__spine_id")
            t_pg = time.perf_counter() - start
            pg.close()
        con.register("ev", ev)
        con.register("sp", sp)
        start = time.perf_counter()
        small = con.sql(as_of_sql(view, "duckdb", "ev", "sp")).to_arrow_table().sort_by("__spine_id")
        t_small = time.perf_counter() - start
        print(f"Postgres skewless on the first {m:,} events/labels: {t_pg:7.2f} s = {t_pg / t_small:.1f}x DuckDB "
              f"on the same ({t_small:.2f} s; goal <= 5x); cells differing: {differing(small, got)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
