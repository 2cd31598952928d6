"""Batch jobs on the target's engine: backfill (per-event relations) and training sets."""

from __future__ import annotations

from pathlib import Path

from skewless.compiler.batch import per_event_sql
from skewless.compiler.batch.inputs import input_for
from skewless.compiler.batch.training import training_set_sql
from skewless.compiler.batch.windows import quote
from skewless.compiler.project.build import CompiledProject

from .engines import BatchEngine, engine_for
from .sources.files import read_batch_source


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


def register_sources(engine: BatchEngine, compiled: CompiledProject, names: set[str]) -> dict[str, int]:
    counts = {}
    for name in sorted(names):
        source = compiled.project.sources[name]
        table = read_batch_source(source, compiled.project.root)
        for table_name in dict.fromkeys([source.batch.table or name, name]):  # compiled SQL / original SQL
            engine.register(table_name, table, source.column_types())
        counts[name] = table.num_rows
    return counts


def tables(compiled: CompiledProject) -> dict[str, str]:
    return {n: quote(s.batch.table or n) for n, s in compiled.project.sources.items()}


def backfill(compiled: CompiledProject, engine: BatchEngine, view: str, out: Path) -> int:
    v = compiled.views[view]
    sql = per_event_sql(v, engine.dialect, input_for(v, compiled.views, engine.dialect, tables(compiled)))
    out.parent.mkdir(parents=True, exist_ok=True)
    return engine.to_parquet(sql, out)


def training_set(compiled: CompiledProject, engine: BatchEngine, model: str, out: Path) -> int:
    m = compiled.project.models[model]
    sql = training_set_sql(m, compiled.project.sources[m.label.source], compiled.views, engine.dialect,
                           tables(compiled))
    out.parent.mkdir(parents=True, exist_ok=True)
    return engine.to_parquet(sql, out)
