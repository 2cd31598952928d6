"""Batch jobs on the target's engine: backfill (per-event relations) and training sets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from skewless.compiler.contract import (
    CompiledProject, Diagnostic, input_for, per_event_sql, quote, SkewlessError, training_set_sql,
)

from .artifacts import atomic_output
from .engines import BatchEngine, engine_for
from .sources.files import batch_file, read_batch_source


def open_engine(compiled: CompiledProject, engine: str | None = None, dsn: str | None = None) -> BatchEngine:
    project = compiled.project
    if engine is None:
        return engine_for(project.target.batch, project.root)
    from skewless.compiler.contract import DuckDBBatch, PostgresBatch, SparkBatch

    if engine == "duckdb":
        return engine_for(DuckDBBatch(), project.root)
    if engine == "postgres":
        if not dsn:
            raise ValueError("--engine postgres needs --dsn (or a postgres batch target in profiles.yml)")
        return engine_for(PostgresBatch(engine="postgres", dsn=dsn), project.root)
    return engine_for(SparkBatch(engine="spark"), project.root)


def needed_sources(compiled: CompiledProject, views: list[str], models: Sequence[str] = ()) -> set[str]:
    """The sources and dimensions the views (and the models' labels and views) read, up their ref()
    chains and through the views they join."""
    names: set[str] = set()
    todo = list(views)
    for m in models:
        model = compiled.project.models[m]
        names.add(model.label.source)
        todo += [ref.view for ref in model.features]
    while todo:
        v = compiled.views[todo.pop()]
        names.add(v.root_source)
        names |= {j.dimension for j in v.joins}
        if v.input.kind == "view":
            todo.append(v.input.name)
        todo += [j.view for j in v.view_joins]
    return names


def register_sources(engine: BatchEngine, compiled: CompiledProject, names: set[str]) -> dict[str, int | None]:
    """Make each source queryable under its ``batch.table`` name (compiled SQL) and its own name
    (the view's original SQL). A ``batch.table`` that exists in the engine is the user's table: it
    is read as it is (count None). Otherwise the source's file is loaded into temporary space."""
    counts: dict[str, int | None] = {}
    for name in sorted(names):
        if name in compiled.project.dimensions:
            counts[name] = register_dimension(engine, compiled, name)
            continue
        source = compiled.project.sources[name]
        table_name = source.batch.table or name
        where = compiled.project.source_files.get(name, "sources")
        if source.batch.table and engine.has_table(source.batch.table):
            _check_columns(engine, source, where)
            if name != table_name:
                engine.alias(name, table_name)
            counts[name] = None
            continue
        try:
            table = read_batch_source(source, compiled.project.root)
        except FileNotFoundError as exc:
            missing = f"table {source.batch.table!r} does not exist in the batch engine and " if source.batch.table else ""
            raise SkewlessError(Diagnostic(where, 1, 1, f"source {name!r}: {missing}{exc}",
                                           "create the table or give the source a batch.path")) from None
        register_table(engine, source, table)
        counts[name] = table.num_rows
    return counts


def register_dimension(engine: BatchEngine, compiled: CompiledProject, name: str) -> int | None:
    """A dimension, checked to keep its key (`DimensionIndex`), under its ``batch.table`` name and its
    own name; a ``batch.table`` the engine has is the user's table: read (to check it), never altered."""
    from .sources.dimension import DimensionIndex, read_dimension, table_rows, where_of

    dim = compiled.project.dimensions[name]
    where = where_of(compiled.project, name)
    if dim.batch.table and engine.has_table(dim.batch.table):
        _check_columns(engine, dim, where[0])
        DimensionIndex(dim, table_rows(dim, engine), where)
        if name != dim.batch.table:
            engine.alias(name, dim.batch.table)
        return None
    if not dim.batch.path:
        raise SkewlessError(Diagnostic(*where, f"dimension {name!r}: table {dim.batch.table!r} does not exist "
                                       "in the batch engine", "create the table or give the dimension a batch.path"))
    table = read_dimension(dim, compiled.project, where)
    DimensionIndex(dim, table, where)
    register_table(engine, dim, table)
    return table.num_rows


def register_table(engine: BatchEngine, source, table) -> None:
    """Load ``table`` as ``source``'s events, under its ``batch.table`` name (compiled SQL) and its
    own name (the view's original SQL)."""
    for t in dict.fromkeys([source.batch.table or source.name, source.name]):
        engine.register(t, table, source.column_types())


def _check_columns(engine: BatchEngine, source, where: str) -> None:
    cols = ", ".join(quote(c.name) for c in source.columns)
    try:
        engine.query(f"SELECT {cols} FROM {quote(source.batch.table)} WHERE 1 = 0")
    except Exception as exc:  # noqa: BLE001 - engine-specific errors; the message names the table
        raise SkewlessError(Diagnostic(
            where, 1, 1, f"source {source.name!r}: table {source.batch.table!r} does not have the declared columns "
            f"({', '.join(c.name for c in source.columns)}): {str(exc).splitlines()[0]}",
            "the table is read as it is, never altered: fix the source's columns or batch.table")) from None


def tables(compiled: CompiledProject) -> dict[str, str]:
    """Source and dimension names -> their tables (the compiled SQL reads ``batch.table`` names)."""
    project = compiled.project
    out = {n: quote(s.batch.table or n) for n, s in project.sources.items()}
    out.update({n: quote(d.batch.table or n) for n, d in project.dimensions.items()})
    return out


def backfill(compiled: CompiledProject, engine: BatchEngine, view: str, out: Path) -> int:
    v = compiled.views[view]
    sql = per_event_sql(v, engine.dialect, input_for(v, compiled.views, engine.dialect, tables(compiled)))
    with atomic_output(out) as tmp:
        return engine.to_parquet(sql, tmp)


def training_set(compiled: CompiledProject, engine: BatchEngine, model: str, out: Path) -> int:
    from .training import on_demand
    from .training.trainer import AS_OF_KEY

    m = compiled.project.models[model]
    metadata = {AS_OF_KEY: str(m.features_as_of), "skewless.model": model}
    sessions = min(parallel_sessions(engine), len(m.features) + 1)
    if sessions > 1:
        return _training_set_in_sessions(compiled, engine, model, out, metadata, sessions)
    sql = training_set_sql(m, compiled.project.sources[m.label.source], compiled.views, engine.dialect,
                           tables(compiled))
    with atomic_output(out) as tmp:
        n = engine.to_parquet(sql, tmp, metadata)
        on_demand.add_to_file(compiled, m, tmp)
        return n


def build_training_set(compiled: CompiledProject, model: str, out: Path, engine: str | None = None,
                       dsn: str | None = None) -> int:
    """`training_set` on an engine of its own (the target's unless given) with the sources it reads."""
    eng = open_engine(compiled, engine, dsn)
    try:
        register_sources(eng, compiled, needed_sources(compiled, [], [model]))
        return training_set(compiled, eng, model, out)
    finally:
        eng.close()


def parallel_sessions(engine: BatchEngine) -> int:
    """How many sessions of ``engine`` a job may run at once: Postgres runs each query on one core,
    so independent parts of a job go to parallel sessions (one per core, at most 4); DuckDB and
    Spark parallelise each query themselves."""
    import os

    return min(os.cpu_count() or 1, 4) if hasattr(engine, "fork") else 1


def _training_set_in_sessions(compiled: CompiledProject, engine: BatchEngine, model: str, out: Path,
                              metadata: dict[str, str], sessions: int) -> int:
    """The training set as independent parts (labels; each feature view's as-of values), run in
    parallel sessions — each loads the sources it reads; the labels run on ``engine``, whose
    sources the caller loaded — and set side by side by ``__spine_id``."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.parquet as pq

    from skewless.compiler.contract import training_set_parts

    from .training import on_demand

    m = compiled.project.models[model]
    label = compiled.project.sources[m.label.source]
    parts = training_set_parts(m, label, compiled.views, engine.dialect, tables(compiled))
    needs = [{label.name}] + [{label.name} | needed_sources(compiled, [ref.view]) for ref in m.features]
    order = sorted(range(len(parts)), key=lambda i: -len(parts[i]))  # the largest first: they finish last
    pool_engines: list = []

    def run(i: int) -> pa.Table:
        eng: Any  # a PostgresEngine (sessions: fork; Arrow results spooled in a directory)
        if i == 0:  # the labels: on the caller's session, whose sources are loaded already
            eng = engine
        else:
            eng = cast(Any, engine).fork()
            pool_engines.append(eng)
            register_sources(eng, compiled, needs[i])
        return eng.to_arrow(parts[i], out.parent).sort_by("__spine_id")

    try:
        with ThreadPoolExecutor(max_workers=sessions) as pool:
            futures = {i: pool.submit(run, i) for i in order}
            results = [futures[i].result() for i in range(len(parts))]
    finally:
        for eng in pool_engines:
            eng.close()
    table = results[0]
    for part in results[1:]:
        if not part["__spine_id"].equals(table["__spine_id"]):
            raise AssertionError("training-set parts do not hold one row per label")  # a compiler bug
        for name in part.column_names[1:]:
            if name not in table.column_names:
                table = table.append_column(part.schema.field(name), part[name])
    table = on_demand.add_columns(compiled, m, table).replace_schema_metadata(metadata)
    with atomic_output(out) as tmp:
        pq.write_table(table, tmp)
    return table.num_rows


def training_set_key(compiled: CompiledProject, model: str, engine: BatchEngine) -> str | None:
    """What a model's training set depends on, hashed: the model's definition, its views'
    fingerprints, the engine's dialect and each source file's size and modification time. None
    when a source is read from a table in the engine (its contents cannot be known without
    reading it) or has no file."""
    import hashlib
    import json

    m = compiled.project.models[model]
    files = {}
    for name in sorted(needed_sources(compiled, [], [model])):
        source = compiled.project.sources.get(name) or compiled.project.dimensions[name]
        path = batch_file(source, compiled.project.root)
        if (source.batch.table and engine.has_table(source.batch.table)) or path is None or not path.exists():
            return None
        stat = path.stat()
        files[name] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    doc = {"model": m.model_dump(mode="json"), "dialect": engine.dialect, "files": files,
           "views": {ref.view: compiled.views[ref.view].fingerprint for ref in m.features}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
