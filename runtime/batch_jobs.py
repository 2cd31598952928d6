"""Batch jobs on the target's engine: backfill (per-event relations) and training sets."""

from __future__ import annotations

from pathlib import Path

from skewless.compiler.batch import per_event_sql
from skewless.compiler.batch.inputs import input_for
from skewless.compiler.batch.training import training_set_sql
from skewless.compiler.batch.windows import quote
from skewless.compiler.errors import Diagnostic, SkewlessError
from skewless.compiler.project.build import CompiledProject

from .artifacts import atomic_output
from .engines import BatchEngine, engine_for
from .sources.files import batch_file, read_batch_source


def open_engine(compiled: CompiledProject, engine: str | None = None, dsn: str | None = None) -> BatchEngine:
    project = compiled.project
    if engine is None:
        return engine_for(project.target.batch, project.root)
    from skewless.compiler.config.profiles import DuckDBBatch, PostgresBatch, SparkBatch

    if engine == "duckdb":
        return engine_for(DuckDBBatch(), project.root)
    if engine == "postgres":
        if not dsn:
            raise ValueError("--engine postgres needs --dsn (or a postgres batch target in profiles.yml)")
        return engine_for(PostgresBatch(engine="postgres", dsn=dsn), project.root)
    return engine_for(SparkBatch(engine="spark"), project.root)


def needed_sources(compiled: CompiledProject, views: list[str], models: list[str] = ()) -> set[str]:
    names = {compiled.views[v].root_source for v in views}
    for m in models:
        model = compiled.project.models[m]
        names.add(model.label.source)
        names |= {compiled.views[ref.view].root_source for ref in model.features}
    return names


def register_sources(engine: BatchEngine, compiled: CompiledProject, names: set[str]) -> dict[str, int | None]:
    """Make each source queryable under its ``batch.table`` name (compiled SQL) and its own name
    (the view's original SQL). A ``batch.table`` that exists in the engine is the user's table: it
    is read as it is (count None). Otherwise the source's file is loaded into temporary space."""
    counts: dict[str, int | None] = {}
    for name in sorted(names):
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
        for t in dict.fromkeys([table_name, name]):
            engine.register(t, table, source.column_types())
        counts[name] = table.num_rows
    return counts


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
    return {n: quote(s.batch.table or n) for n, s in compiled.project.sources.items()}


def backfill(compiled: CompiledProject, engine: BatchEngine, view: str, out: Path) -> int:
    v = compiled.views[view]
    sql = per_event_sql(v, engine.dialect, input_for(v, compiled.views, engine.dialect, tables(compiled)))
    with atomic_output(out) as tmp:
        return engine.to_parquet(sql, tmp)


def training_set(compiled: CompiledProject, engine: BatchEngine, model: str, out: Path) -> int:
    m = compiled.project.models[model]
    sql = training_set_sql(m, compiled.project.sources[m.label.source], compiled.views, engine.dialect,
                           tables(compiled))
    from .training.trainer import AS_OF_KEY

    with atomic_output(out) as tmp:
        return engine.to_parquet(sql, tmp, {AS_OF_KEY: str(m.features_as_of), "skewless.model": model})


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
        source = compiled.project.sources[name]
        path = batch_file(source, compiled.project.root)
        if (source.batch.table and engine.has_table(source.batch.table)) or path is None or not path.exists():
            return None
        stat = path.stat()
        files[name] = [str(path.resolve()), stat.st_size, stat.st_mtime_ns]
    doc = {"model": m.model_dump(mode="json"), "dialect": engine.dialect, "files": files,
           "views": {ref.view: compiled.views[ref.view].fingerprint for ref in m.features}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
