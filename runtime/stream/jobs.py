"""Stream jobs.

* `replay`: bounded run of the views over their file sources → per-event Parquet + online store.
* `run_stream`: the continuous job (Kafka topics or followed JSONL files) with Bytewax recovery,
  several workers and processes, store upserts within ``flush_interval`` of an event's arrival, and
  a clean stop on SIGINT/SIGTERM (the workers stop, unwritten states are written, the store is
  closed; the next start resumes from the recovery snapshots).
"""

from __future__ import annotations

import contextlib

import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.testing import run_main

from skewless.compiler.contract import CompiledProject

from ..sources.control import STOP
from ..sources.stream_file import FileEventSource
from ..stores import open_store
from . import gctune
from ..sources.dimension import load_indexes
from .dataflow import StoreWriter, StreamStats, add_source, build_flow
from .recovery import RecoveryGuard, expected
from .sinks import DeadLetterSink, KafkaDeadLetterSink, ParquetSink, RowsJsonlSink, view_schema


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


def not_streamable(compiled: CompiledProject, name: str) -> str | None:
    """Why the stream cannot run view ``name`` (None: it can). A view over ``ref()`` runs in its
    upstream's keyed state when keyed alike, or re-keys the upstream's rows (`stream.rekey`)."""
    view = compiled.views[name]
    while view.input.kind == "view":
        up = compiled.views.get(view.input.name)
        if up is None:
            return f"its input view {view.input.name!r} did not compile"
        view = up
    return None


def views_by_source(compiled: CompiledProject, views: list[str]) -> dict[str, list]:
    """The views to run per root source: the asked ones and, for a view over ``ref()``, the views up
    its chain (it reads their rows) and the views it joins, upstream first."""
    by_source: dict[str, list] = {}
    seen: set[str] = set()

    def add(name: str) -> None:
        if name in seen:
            return
        view = compiled.views[name]
        why = not_streamable(compiled, name)
        if why is not None:
            raise NotImplementedError(f"view {name!r} cannot be streamed: {why} (use backfill for it)")
        if view.input.kind == "view":
            add(view.input.name)
        for vj in view.view_joins:  # the view it joins runs before it (its rows are joined to the events)
            add(vj.view)
        seen.add(name)
        by_source.setdefault(view.root_source, []).append(view)

    for name in views:
        add(name)
    return by_source


def replay(compiled: CompiledProject, views: list[str], out_dir: Path | None, to_online: bool = True,
           dead_letters: Path | None = None, files: dict[str, Path] | None = None) -> ReplayResult:
    """Run the views (grouped by root source) over their bounded file sources (``files``: another
    file for a source, in its stream format)."""
    project = compiled.project
    by_source = views_by_source(compiled, views)
    STOP.clear()  # a bounded run ends at the end of its files, whatever an earlier job of this process was asked
    store = open_store(project.target.online, project.root) if to_online else None
    writer = StoreWriter(store, background=True)
    dead = dead_letters or project.target_dir / "dead_letters.jsonl"
    dead.parent.mkdir(parents=True, exist_ok=True)
    dead.write_text("")
    outputs: dict[str, Path] = {}
    try:
        for source_name, vs in by_source.items():
            src = project.sources[source_name]
            lateness = vs[0].allowed_lateness_us

            def sink_for(view):
                outputs[view.name] = out_dir / f"{view.name}.parquet"
                return ParquetSink(outputs[view.name], view_schema(view))

            given = (files or {}).get(source_name)
            source = (FileEventSource(src, given, None) if given else  # its format from its name
                      FileEventSource(src, source_file(compiled, source_name), src.stream.format))
            flow = build_flow(src, lateness, vs, source,
                              sink_for if out_dir is not None else None, DeadLetterSink(dead), writer,
                              dims=load_indexes(project, vs))
            with gctune.tuned():
                run_main(flow)
            writer.flush()
    finally:
        writer.stop()
        if store is not None:
            store.close()
    return ReplayResult(outputs, dead)


@dataclass
class RunOptions:
    views: list[str]
    kind: str = "file"                     # file | kafka
    brokers: list[str] = field(default_factory=list)
    add_config: dict[str, str] = field(default_factory=dict)
    from_beginning: bool = True            # Kafka: where a fresh job (no recovery state) starts
    until_end: bool = False                # stop at the end of the input available now
    recovery_dir: Path | None = None       # None: no recovery
    snapshot_every: float = 1.0            # seconds between epochs (recovery snapshots)
    workers: int = 1                       # worker threads per process
    addresses: list[str] | None = None     # host:port of every process of a cluster
    process_id: int | None = None
    flush_interval: float = 0.05           # seconds: longest time a changed state waits for its upsert
    dead_letters: Path | None = None
    dead_letter_topic: str | None = None   # Kafka: dead letters to this topic instead of the file
    rows_dir: Path | None = None           # per-event rows as JSON lines (at least once)
    warm: bool = True                      # keys without recovery state continue from the online store


def _input_for(compiled: CompiledProject, source_name: str, opts: RunOptions):
    src = compiled.project.sources[source_name]
    if opts.kind == "kafka":
        from ..sources.kafka import KafkaEventSource, check_topic

        topic = src.stream.topic or source_name
        check_topic(opts.brokers, topic, opts.add_config)
        return KafkaEventSource(src, opts.brokers, topic, tail=not opts.until_end, from_beginning=opts.from_beginning,
                                add_config=opts.add_config)
    return FileEventSource(src, source_file(compiled, source_name), src.stream.format, follow=not opts.until_end)


def _init_recovery(opts: RunOptions, wait: float = 60.0) -> None:
    """Create the recovery partitions once (process 0 of a cluster; the others wait for them)."""
    rec = opts.recovery_dir
    rec.mkdir(parents=True, exist_ok=True)
    if any(rec.glob("*.sqlite3")):
        return
    if opts.process_id:
        deadline = time.monotonic() + wait
        while not any(rec.glob("*.sqlite3")):
            if time.monotonic() > deadline:
                raise TimeoutError(f"process 0 did not create the recovery partitions in {rec}")
            time.sleep(0.1)
        time.sleep(0.5)  # let process 0 finish writing them
        return
    procs = len(opts.addresses) if opts.addresses else 1
    init_db_dir(rec, max(1, opts.workers * procs))


def _check_warm(store, views: list) -> None:
    """A warm start continues from the store's states: they must be built from these views."""
    from skewless.compiler.contract import Diagnostic, SkewlessError

    held = store.fingerprints()
    for view in views:
        other = held.get(view.name, set()) - {view.fingerprint}
        if other:
            raise SkewlessError(Diagnostic(
                view.path or view.name, 1, 1,
                f"the online store holds view {view.name!r} built from fingerprint(s) {', '.join(sorted(other))}, "
                f"the project has {view.fingerprint}: a warm start would continue from another view's state",
                "rebuild it (`skewless replay` or `skewless backfill --to-online`), or start with --cold"))


def run_stream(compiled: CompiledProject, opts: RunOptions, stats: StreamStats | None = None) -> StreamStats:
    """Run until the input ends (``until_end``) or SIGINT/SIGTERM; returns the counters."""
    project = compiled.project
    stats = stats or StreamStats()
    by_source = views_by_source(compiled, opts.views)
    dims = load_indexes(project, [v for vs in by_source.values() for v in vs])  # a broken table: no start
    feeds, close = [], None
    if opts.kind == "kafka" and any(project.dimensions[d].stream.topic for d in dims):
        # dimensions with a topic: read it to its end, then follow it (`sources.dimension_feed`)
        from ..sources.dimension_feed import start_feeds

        refused, close = _dimension_dead_letters(project.target_dir / "dimension_dead_letters.jsonl")
        try:
            feeds = start_feeds(project, dims, opts.brokers, opts.add_config, refused)
        except BaseException:
            close()
            raise
        dims = load_indexes(project, [v for vs in by_source.values() for v in vs])  # the feeds' indexes
    try:
        return _run(compiled, opts, stats, by_source, dims)
    finally:
        if feeds:
            from ..sources.dimension_feed import stop_feeds

            stop_feeds(feeds)
        if close is not None:
            close()


def _dimension_dead_letters(path: Path):
    """Refused dimension changes, written as the events' dead letters are (JSON lines, one append
    per line); returns (write(raw, reason), close)."""
    from ..sources.decode import DeadLetter
    from .sinks import DeadLetterSink

    part = DeadLetterSink(path).build("dimension_dead_letters", 0, 1)
    return (lambda raw, reason: part.write_batch([DeadLetter("dimension", raw, reason)])), part.close


def _run(compiled: CompiledProject, opts: RunOptions, stats: StreamStats, by_source: dict, dims: dict) -> StreamStats:
    from bytewax._bytewax import cli_main

    project = compiled.project
    store = open_store(project.target.online, project.root)
    writer = StoreWriter(store, interval=opts.flush_interval, stats=stats, warm=opts.warm, background=True)
    if opts.kind == "kafka" and opts.dead_letter_topic:
        dead_sink = KafkaDeadLetterSink(opts.brokers, opts.dead_letter_topic, opts.add_config,
                                        fallback=project.target_dir / "dead_letters.undelivered.jsonl")
    else:
        dead_sink = DeadLetterSink(opts.dead_letters or project.target_dir / "dead_letters.jsonl")
    flow = Dataflow("skewless_run")
    for source_name, vs in by_source.items():
        add_source(flow, project.sources[source_name], vs[0].allowed_lateness_us, vs,
                   _input_for(compiled, source_name, opts),
                   None if opts.rows_dir is None else (lambda v: RowsJsonlSink(opts.rows_dir, v)), dead_sink, writer,
                   tick=opts.flush_interval, stats=stats, dims=dims, project=project)
    recovery = None
    guard = contextlib.nullcontext()
    if opts.recovery_dir is not None:
        views = {v.name: v.fingerprint for vs in by_source.values() for v in vs}
        guard = RecoveryGuard(opts.recovery_dir, opts.process_id, expected(project.config.name, views, opts.kind),
                             allow_added=opts.warm)
        guard.__enter__()
        try:
            _init_recovery(opts)
        except BaseException:
            guard.__exit__(None, None, None)
            raise
        recovery = RecoveryConfig(opts.recovery_dir)
        if guard.resumed:
            writer.warm_views = guard.added
    if opts.warm:
        try:
            _check_warm(store, [v for vs in by_source.values() for v in vs if writer.warm_start(v)])
        except BaseException:
            guard.__exit__(None, None, None)
            raise

    STOP.clear()

    def stop(signum, _frame):
        if STOP.is_set():
            raise KeyboardInterrupt  # asked twice: stop now (the next start resumes from the last snapshot)
        stats.stopped_by = signal.Signals(signum).name
        STOP.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, stop)
    try:
        with gctune.tuned():
            cli_main(flow, workers_per_process=opts.workers, process_id=opts.process_id, addresses=opts.addresses,
                     epoch_interval=timedelta(seconds=opts.snapshot_every), recovery_config=recovery)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        try:
            try:
                writer.flush()
            finally:
                writer.stop()
            store.close()
        finally:
            guard.__exit__(None, None, None)
    return stats
