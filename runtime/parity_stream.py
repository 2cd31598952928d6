"""``parity``'s stream path and key sampling.

The stream replay (the Bytewax dataflow over the source files; one core of Python) runs in its own
process while the batch paths run (DuckDB on every core, Postgres in its server), so parity takes
about as long as its slowest path rather than the sum. ``--sample-keys N`` keeps, per view, the
events of N entity keys (chosen by a hash of the key, the same on every run) and runs every path
on those alone: a window only ever reads its own key's events, so each sampled key's values are
exactly the full run's.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from skewless.compiler.contract import CompiledProject

from .engines import BatchEngine, fetch
from .parity import (EngineResult, ViewParity, _key_columns, compare_all, oracle_for, register_inputs,
                     register_original_views)


def streamable(compiled: CompiledProject, views: list[str]) -> list[str]:
    from .stream.jobs import not_streamable

    return [n for n in views if not_streamable(compiled, n) is None]


def sample_inputs(compiled: CompiledProject, views: list[str], keys: int) -> dict[str, dict[str, pa.Table]]:
    """Per view: its root source's events for ``keys`` of the view's entity keys (those with the
    smallest SHA-1 of their JSON spelling)."""
    from .sources.files import read_batch_source

    tables: dict[str, pa.Table] = {}
    out: dict[str, dict[str, pa.Table]] = {}
    for name in views:
        view = compiled.views[name]
        src = view.root_source
        if src not in tables:
            tables[src] = read_batch_source(compiled.project.sources[src], compiled.project.root)
        events = tables[src]
        if not all(k in events.column_names for k in view.entity):
            out[name] = {src: events}  # a key computed upstream (ref()): every event
            continue
        spelled = [json.dumps(list(k), default=str) for k in zip(*[events[k].to_pylist() for k in view.entity])]
        chosen = set(sorted(set(spelled), key=lambda s: hashlib.sha1(s.encode()).hexdigest())[:keys])
        out[name] = {src: events.filter(pa.array([s in chosen for s in spelled]))}
    return out


def _replay_job(project_dir: str, vars_: dict | None, target: str | None, views: list[str], work: str,
                files: dict[str, dict[str, str]] | None) -> dict:
    """In the child process: compile the project and replay; paths of the outputs and dead letters."""
    from .api import Project
    from .stream.jobs import replay

    compiled = Project(project_dir, target, vars_).compiled
    outputs, dead = {}, []
    groups = [(views, None)] if files is None else [([v], files[v]) for v in views]
    for i, (names, given) in enumerate(groups):
        out = Path(work) / f"run{i}"
        result = replay(compiled, names, out, to_online=False, dead_letters=out / "dead.jsonl",
                        files={s: Path(p) for s, p in given.items()} if given else None)
        # with per-view inputs, only the asked view's rows: a chain's upstream ran on this view's sample
        outputs.update({k: str(v) for k, v in result.outputs.items() if given is None or k in names})
        dead.append(str(result.dead_letters))
    return {"outputs": outputs, "dead": dead}


def start_replay(compiled: CompiledProject, views: list[str], work: Path, vars_: dict | None, target: str | None,
                 inputs: dict[str, dict[str, pa.Table]] | None) -> tuple[Future, ProcessPoolExecutor]:
    """The stream path in a process of its own (the caller shuts the executor down)."""
    from .datagen import write_jsonl

    files: dict[str, dict[str, str]] | None = None
    if inputs is not None:
        files = {}
        for name in views:
            files[name] = {}
            for src, table in inputs[name].items():
                path = work / "input" / name / f"{src}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                write_jsonl(table, path)
                files[name][src] = str(path)
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return pool.submit(_replay_job, str(compiled.project.root), vars_, target, views, str(work), files), pool


def compare_stream(compiled: CompiledProject, views: list[str], replayed: dict, postgres: BatchEngine | None,
                   duckdb: BatchEngine, results: list[ViewParity],
                   inputs: dict[str, dict[str, pa.Table]] | None, progress=None) -> int:
    """Each streamed view's per-event rows against its own SQL on the events the stream accepted
    (late events are counted, not called mismatches). Appends a "stream" result to each view's
    entry; returns the number of late events."""
    from .sources.files import read_batch_source

    late: dict[str, set] = {}
    for path in replayed["dead"]:
        for line in Path(path).read_text().splitlines():
            d = json.loads(line) if line else None
            if d and d["reason"].startswith("late"):
                src = compiled.project.sources[d["source"]]
                row = json.loads(d["raw"])
                late.setdefault(d["source"], set()).add(tuple(str(row.get(k)) for k in src.unique_key))
    full: dict[str, pa.Table] = {}
    changed: set[tuple[int, str]] = set()  # (oracle, source) holding a subset of the source's events
    for name, entry in zip(views, results):
        if name not in replayed["outputs"]:
            continue  # views over ref() are not streamed (batch only)
        view = compiled.views[name]
        src = compiled.project.sources[view.root_source]
        oracle = oracle_for(compiled, name, postgres, duckdb)
        excluded = late.get(src.name, set())
        res = EngineResult("stream")
        if excluded and not src.unique_key:
            res.error = f"{len(excluded)} late events and no unique key to exclude them by"
        else:
            events: pa.Table | None = None
            if inputs is not None:
                events = inputs[name][src.name]
            elif excluded or (id(oracle), src.name) in changed:
                if src.name not in full:
                    full[src.name] = read_batch_source(src, compiled.project.root)
                events = full[src.name]
            if excluded and events is not None:
                spelled = [tuple(str(v) for v in t) for t in zip(*[events[k].to_pylist() for k in src.unique_key])]
                events = events.filter(pa.array([t not in excluded for t in spelled]))
            if events is not None:  # else the oracle holds the source's events as loaded
                register_inputs(oracle, compiled, {src.name: events})
                if inputs is None and excluded:
                    changed.add((id(oracle), src.name))
                else:
                    changed.discard((id(oracle), src.name))
            register_original_views(oracle, compiled, name)  # (again: reloaded tables drop the views over them)
            expected = fetch(oracle, compiled.views[name].sql)
            actual = pq.read_table(replayed["outputs"][name])
            res.rows = actual.num_rows
            res.record(compare_all(expected, actual, _key_columns(compiled, name)))
        entry.results.append(res)
        if progress:
            progress("stream", name)
    return sum(len(v) for v in late.values())


__all__ = ["compare_stream", "sample_inputs", "start_replay", "streamable"]
