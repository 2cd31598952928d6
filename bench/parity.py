"""Parity benchmark (issue 17): `skewless parity` over the example project's views against each
path it runs, timed alone on the same events — the stream replay, the compiled SQL on DuckDB and
on Postgres, the views' own SQL on the oracle — and the ratio of parity's time to the slowest
single path (goal <= 3x). Also times `--sample-keys`.

Usage: python bench/parity.py [--events 300000] [--days 30] [--sample-keys 200]
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from _example import CLI, example_parser, example_project


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = example_parser(300_000, 30)
    parser.add_argument("--sample-keys", type=int, default=200)
    args = parser.parse_args()

    from skewless.compiler.batch import per_event_sql
    from skewless.compiler.batch.inputs import input_for
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.batch_jobs import needed_sources, register_sources, tables
    from skewless.runtime.engines import DuckDBEngine, PostgresEngine
    from skewless.runtime.engines import fetch
    from skewless.runtime.parity import oracle_for
    from skewless.runtime.pg_local import throwaway_cluster
    from skewless.runtime.stream.jobs import replay

    with tempfile.TemporaryDirectory() as tmp, throwaway_cluster() as dsn:
        root = example_project(tmp, args.events, args.days)
        compiled = build_project(load_project(root))
        views = sorted(compiled.views)
        duck, pg = DuckDBEngine(), PostgresEngine(dsn)
        load = {e.dialect: timed(lambda e=e: register_sources(e, compiled, needed_sources(compiled, views)))
                for e in (duck, pg)}

        def per_event(engine):
            for v in views:
                fetch(engine, per_event_sql(compiled.views[v], engine.dialect,
                                           input_for(compiled.views[v], compiled.views, engine.dialect, tables(compiled))))

        def oracle():
            for v in views:
                fetch(oracle_for(compiled, v, pg, duck), compiled.rendered[v].sql)

        paths = {
            "stream replay": timed(lambda: replay(compiled, views, Path(tmp) / "s", to_online=False,
                                                  dead_letters=Path(tmp) / "s" / "dead.jsonl")),
            "DuckDB compiled SQL": load["duckdb"] + timed(lambda: per_event(duck)),
            "Postgres compiled SQL": load["postgres"] + timed(lambda: per_event(pg)),
            "oracle (views' own SQL)": load["postgres"] + timed(oracle),
        }
        duck.close()
        pg.close()

        def parity(*extra: str) -> float:
            start = time.perf_counter()
            proc = subprocess.run([*CLI, "--project", str(root), "parity", "--postgres", dsn, *extra],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise SystemExit(proc.stdout + proc.stderr)
            return time.perf_counter() - start

        total = parity()
        sampled = parity("--sample-keys", str(args.sample_keys))
        slowest = max(paths.values())
        print(f"{args.events:,} events over {args.days} days, {len(views)} views (example project)")
        for name, secs in paths.items():
            print(f"  {name:26s} {secs:7.1f} s")
        print(f"parity (every path + comparison): {total:7.1f} s = {total / slowest:.2f}x the slowest path "
              f"(goal <= 3x)")
        print(f"parity --sample-keys {args.sample_keys}:     {sampled:7.1f} s")


if __name__ == "__main__":
    main()
