"""The example project with generated events in a temporary directory (shared by the benches)."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "skewless.runtime.cli"]


def example_project(tmp: str | Path, events: int, days: int) -> Path:
    root = Path(tmp) / "features"
    shutil.copytree(Path(__file__).parents[1] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
    subprocess.run([*CLI, "--project", str(root), "generate", "--events", str(events), "--days", str(days)],
                   check=True, capture_output=True)
    return root


def example_parser(events: int, days: int) -> argparse.ArgumentParser:
    """The benches' command line: --events and --days of the generated example data (defaults given)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=events)
    parser.add_argument("--days", type=int, default=days)
    return parser


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def parity_paths(compiled, views: list[str], dsn: str | None, work: Path) -> dict[str, float]:
    """Each path `skewless parity` runs, timed alone on the project's events (source loading
    included): the stream replay, the compiled SQL on DuckDB and (with ``dsn``) Postgres, the views'
    own SQL on the oracle (Postgres with ``dsn``, else DuckDB). Prints each view's time per path."""
    from skewless.compiler.batch import per_event_sql
    from skewless.compiler.batch.inputs import input_for
    from skewless.runtime.batch_jobs import needed_sources, register_sources, tables
    from skewless.runtime.engines import DuckDBEngine, PostgresEngine, fetch
    from skewless.runtime.parity import oracle_for, register_original_views
    from skewless.runtime.stream.jobs import replay

    duck, pg = DuckDBEngine(), (PostgresEngine(dsn) if dsn else None)
    engines = [e for e in (duck, pg) if e is not None]
    load = {e.dialect: timed(lambda e=e: register_sources(e, compiled, needed_sources(compiled, views)))
            for e in engines}

    def per_event(engine) -> None:
        for v in views:
            t = timed(lambda v=v: fetch(engine, per_event_sql(compiled.views[v], engine.dialect, input_for(
                compiled.views[v], compiled.views, engine.dialect, tables(compiled)))))
            print(f"    {engine.dialect} compiled {v}: {t:.1f} s", flush=True)

    def oracle() -> None:
        for v in views:
            engine = oracle_for(compiled, v, pg, duck)
            register_original_views(engine, compiled, v)  # the views it reads through ref(), as written
            t = timed(lambda v=v, engine=engine: fetch(engine, compiled.views[v].sql))
            print(f"    oracle {v}: {t:.1f} s", flush=True)

    try:
        paths = {"stream replay": timed(lambda: replay(compiled, views, work, to_online=False,
                                                       dead_letters=work / "dead.jsonl"))}
        for engine in engines:
            paths[f"{'DuckDB' if engine is duck else 'Postgres'} compiled SQL"] = \
                load[engine.dialect] + timed(lambda engine=engine: per_event(engine))
        paths["oracle (views' own SQL)"] = load[(pg or duck).dialect] + timed(oracle)
    finally:
        for engine in engines:
            engine.close()
    return paths


def time_parity(root: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """`skewless parity` on the project (every path + comparison): (seconds, the finished process)."""
    start = time.perf_counter()
    proc = subprocess.run([*CLI, "--project", str(root), "parity", *args], capture_output=True, text=True)
    return time.perf_counter() - start, proc
