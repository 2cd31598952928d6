"""Training-set benchmark (issue 18): the example model's point-in-time training set (4 views,
26 features, one label per transaction) through `skewless training-set` on DuckDB and on Postgres
(a throwaway local cluster), the same events and labels, each timed end to end (the command: load
sources, run the as-of SQL, write Parquet); prints the Postgres / DuckDB ratio and checks that the
two training sets agree (runtime/values.py::same, per cell).

Usage: python bench/training_set.py [--events 300000] [--days 30]
"""

from __future__ import annotations

import subprocess
import tempfile
import time

from _example import CLI, example_parser, example_project


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(proc.stdout + proc.stderr)
    return time.perf_counter() - start


def main() -> None:
    parser = example_parser(300_000, 30)
    args = parser.parse_args()

    import pyarrow.parquet as pq

    from skewless.runtime.pg_local import throwaway_cluster
    from skewless.runtime.values import same

    with tempfile.TemporaryDirectory() as tmp, throwaway_cluster() as dsn:
        root = example_project(tmp, args.events, args.days)
        duck, pg = root / "ts_duckdb.parquet", root / "ts_postgres.parquet"
        base = [*CLI, "--project", str(root), "training-set", "fraud"]
        t_duck = timed([*base, "--out", str(duck)])
        t_pg = timed([*base, "--out", str(pg), "--engine", "postgres", "--dsn", dsn])
        a = pq.read_table(duck).sort_by("__spine_id").to_pylist()
        b = pq.read_table(pg).sort_by("__spine_id").to_pylist()
        differing = sum(1 for x, y in zip(a, b) for k in x if not same(x[k], y.get(k)))
        print(f"{args.events:,} events / labels over {args.days} days, model fraud (4 views)")
        print(f"training set DuckDB:   {t_duck:7.1f} s")
        print(f"training set Postgres: {t_pg:7.1f} s   {t_pg / t_duck:.1f}x DuckDB   goal <= 5x")
        print(f"rows {len(a):,} / {len(b):,}; cells differing: {differing}")


if __name__ == "__main__":
    main()
