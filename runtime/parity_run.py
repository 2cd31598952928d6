"""One parity check: every path a view runs on (the stream, the compiled SQL on each engine) against
the view's own SQL on the oracle, on the same events. What `skewless parity` and
`Project.parity` run; the caller prints and reports."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from skewless.compiler.contract import CompiledProject

from .parity import ViewParity


@dataclass
class ParityRun:
    results: list[ViewParity]
    late: int  # late events: excluded from the stream, reported not compared

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def write_report(self, compiled: CompiledProject, path: Path) -> None:
        """The HTML report (per view and path: rows, differing rows, the first differences)."""
        from .parity import write_report

        write_report(self.results, path, {r.view: compiled.views[r.view].timestamp_output or "" for r in self.results})


def run(compiled: CompiledProject, names: list[str], postgres: str | None = None, spark: bool = False,
        stream: bool = True, sample_keys: int | None = None, vars_: dict | None = None, target: str | None = None,
        progress: Callable[[str, int], Callable[[str], None]] | None = None) -> ParityRun:
    """``postgres``: a DSN, or 'local' for a throwaway cluster (the oracle; DuckDB without it).
    ``progress(path, total)`` registers a path (oracle, each engine, stream) and returns the
    ``advance(view)`` called as the path finishes each view. The stream replays in a process of its own while the batch paths run."""
    from .batch_jobs import needed_sources, register_sources
    from .engines import DuckDBEngine, PostgresEngine
    from .parity import run_parity
    from .parity_stream import compare_stream, sample_inputs, start_replay, streamable

    inputs = sample_inputs(compiled, names, sample_keys) if sample_keys else None
    late = 0
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="skewless-parity-")))
        streamed = streamable(compiled, names) if stream else []
        replaying = None
        if streamed:  # first: the slowest path, in its own process, while the batch paths run
            replaying, pool = start_replay(compiled, streamed, work, vars_, target, inputs)
            stack.callback(pool.shutdown, cancel_futures=True)
        dsn = postgres
        if postgres == "local":
            from .pg_local import throwaway_cluster

            dsn = stack.enter_context(throwaway_cluster())
        duck = DuckDBEngine()
        stack.callback(duck.close)
        engines: list = [duck]
        pg = None
        if dsn:
            pg = PostgresEngine(dsn)
            stack.callback(pg.close)
            engines.append(pg)
        if spark:
            from .engines.spark_engine import SparkEngine

            sp = SparkEngine()
            stack.callback(sp.close)
            engines.append(sp)
        advances: dict[str, Callable[[str], None]] = {}
        if progress is not None:
            for path in ["oracle", *(e.dialect for e in engines)]:
                advances[path] = progress(path, len(names))
            if streamed:
                advances["stream"] = progress("stream", len(streamed))

        def advance(path: str, view: str) -> None:
            if path in advances:
                advances[path](view)

        needed = needed_sources(compiled, names)
        if inputs is not None:  # sampled events (loaded per view); the dimension tables whole
            needed = {n for n in needed if n in compiled.project.dimensions}
        for engine in engines:
            register_sources(engine, compiled, needed)
        results = run_parity(compiled, names, engines, pg, duck, inputs, advance)
        if replaying is not None:
            late = compare_stream(compiled, streamed, replaying.result(), pg, duck,
                                  [r for r in results if r.view in streamed], inputs, advance)
    return ParityRun(results, late)
