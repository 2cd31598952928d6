"""Stream jobs: bounded replay of a file source through the dataflow into Parquet + online store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bytewax.testing import run_main

from skewless.compiler.project.build import CompiledProject

from ..sources.stream_file import FileEventSource
from ..stores import open_store
from .dataflow import StoreWriter, build_flow
from .sinks import DeadLetterSink, NullSink, ParquetSink, view_schema


@dataclass
class ReplayResult:
    outputs: dict[str, Path]
    dead_letters: Path


def source_file(compiled: CompiledProject, source_name: str) -> Path:
    src = compiled.project.sources[source_name]
    path = src.stream.file or src.batch.path
    if not path:
        raise FileNotFoundError(f"source {source_name!r} has no stream file")
    p = Path(path)
    return p if p.is_absolute() else compiled.project.root / p


def replay(compiled: CompiledProject, views: list[str], out_dir: Path | None, to_online: bool = True,
           dead_letters: Path | None = None) -> ReplayResult:
    """Run the views (grouped by root source) over their bounded file sources."""
    project = compiled.project
    store = open_store(project.target.online, project.root) if to_online else None
    writer = StoreWriter(store)
    dead = dead_letters or project.target_dir / "dead_letters.jsonl"
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_text("")
    outputs: dict[str, Path] = {}
    by_source: dict[str, list] = {}
    for name in views:
        view = compiled.views[name]
        if view.input.kind != "source":
            raise NotImplementedError(f"view {name!r} reads ref({view.input.name!r}); streaming ref() views is not "
                                      "supported yet")
        by_source.setdefault(view.root_source, []).append(view)
    try:
        for source_name, vs in by_source.items():
            src = project.sources[source_name]
            lateness = vs[0].allowed_lateness_us

            def sink_for(view):
                if out_dir is None:
                    return NullSink()
                outputs[view.name] = out_dir / f"{view.name}.parquet"
                return ParquetSink(outputs[view.name], view_schema(view))

            flow = build_flow(src, lateness, vs, FileEventSource(src, source_file(compiled, source_name),
                                                                 src.stream.format),
                              sink_for, DeadLetterSink(dead), writer)
            run_main(flow)
            writer.flush()
    finally:
        if store is not None:
            store.close()
    return ReplayResult(outputs, dead)
