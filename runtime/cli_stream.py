"""Stream commands of the ``skewless`` CLI: replay (bounded), run (continuous), get (online reads)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.live import Live
from rich.table import Table

from skewless.compiler.contract import Diagnostic, SkewlessError

from .cli_common import _fail, _project, _select_views, app, compile_project, err, out, parse_time

@app.command("replay")
def replay_cmd(
    select: Optional[list[str]] = typer.Option(None, "--select", "-s", help="View(s); default: all."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Directory for <view>.parquet (per-event rows)."),
    to_online: bool = typer.Option(True, "--to-online/--no-online", help="Update the target's online store."),
) -> None:
    """Run the stream dataflow over the target's file sources (bounded): per-event rows to Parquet,
    window state to the online store, malformed and late events to target/dead_letters.jsonl."""
    from .stream.jobs import replay

    compiled = compile_project()
    names = _stream_views(compiled, select)
    started = time.perf_counter()
    with out.status(f"streaming {len(names)} views"):
        result = replay(compiled, names, out_dir, to_online=to_online)
    elapsed = time.perf_counter() - started
    dead = [line for line in result.dead_letters.read_text().splitlines() if line]
    late = sum('"reason": "late:' in line for line in dead)
    for name, path in result.outputs.items():
        out.print(f"[green]wrote[/green] {name} → {path}")
    out.print(f"streamed {len(names)} views in {elapsed:.1f} s; dead letters: {len(dead) - late} malformed, "
              f"{late} late → {result.dead_letters}")


@app.command()
def get(
    view: str = typer.Argument(..., help="View name."),
    keys: list[str] = typer.Argument(..., metavar="KEY...", help="Entity key(s); a compound key's values "
                                     "comma-separated in PARTITION BY order (as over HTTP)."),
    at: Optional[str] = typer.Option(None, "--at", help="ISO-8601 time (default: now, UTC)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per key (JSON lines) instead of tables."),
) -> None:
    """Read a view's features for entity keys from the online store, as of a time (one lookup)."""
    from .serving.app import _json_value
    from .stream.online import parse_key

    project = _project()
    compiled = compile_project(project)
    if view not in compiled.views:
        _fail([Diagnostic("VIEW", 1, 1, f"unknown view {view!r}", f"views: {', '.join(sorted(compiled.views))}")])
    v = compiled.views[view]
    t = parse_time("--at", at) if at else datetime.now(timezone.utc)
    try:
        parsed = [parse_key(v, key) for key in keys]
        rows = project.online(view).rows(parsed, t)
    except ValueError as exc:
        _fail([Diagnostic("KEY", 1, 1, str(exc), "separate a compound key's values with commas, in PARTITION "
                          "BY order")])
    for key, (row, _) in zip(keys, rows):
        if as_json:
            out.print_json(json.dumps({k: _json_value(val) for k, val in row.items()}), indent=None)
        else:
            out.print(_row_table(f"{view} {key} as of {t.isoformat()}", row))
    unknown = [values for values, (_, known) in zip(parsed, rows) if not known]
    for values in unknown:  # the values above are the view's over an empty frame: say so, exit 1
        err.print(f"no events for {view} key {json.dumps(values, default=str)} in the online store: the values shown "
                  "are those of an empty frame (COUNT 0, other aggregates NULL)", markup=False, highlight=False)
    if unknown:
        raise typer.Exit(1)


def _row_table(title: str, row: dict) -> Table:
    table = Table(title=title)
    table.add_column("column")
    table.add_column("value")
    for name, value in row.items():
        shown = "NULL" if value is None else value if isinstance(value, str) else (
            value.isoformat() if isinstance(value, datetime) else repr(value))
        table.add_row(name, shown, style="dim" if value is None else None)
    return table


def _stream_views(compiled, select: list[str] | None) -> list[str]:
    """The selected views the stream can run; without a selection, views it cannot run (over ref()
    of a view keyed otherwise) are skipped with a note (they are computed in batch: `skewless backfill`)."""
    from .stream.jobs import not_streamable

    names = _select_views(compiled, select)
    refs = {n: why for n in names if (why := not_streamable(compiled, n)) is not None}
    if refs and select:
        _fail([Diagnostic(compiled.views[n].path or n, 1, 1, f"view {n!r} cannot be streamed: {why}",
                          "compute it with `skewless backfill -s " + n + "`") for n, why in refs.items()])
    if refs:
        err.print(f"note: not streamed (use backfill): {', '.join(refs)}", highlight=False)
    names = [n for n in names if n not in refs]
    if not names:
        _fail([Diagnostic("--select", 1, 1, "no view over a source to stream", "")])
    return names


def _ago(t: datetime | None) -> str:
    if t is None:
        return "-"
    s = (datetime.now(timezone.utc) - t).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(s) >= size:
            return f"{s / size:.1f}{unit}"
    return f"{s:.1f}s"


def _kafka_lag() -> int | None:
    """Messages on the broker not consumed yet by this process (Bytewax's consumer-lag gauge, fed
    by librdkafka statistics every second)."""
    try:
        from bytewax.connectors.kafka import BYTEWAX_CONSUMER_LAG_GAUGE
    except ImportError:
        return None
    values = [s.value for metric in BYTEWAX_CONSUMER_LAG_GAUGE.collect() for s in metric.samples]
    return int(sum(values)) if values else None


def _progress_table(stats, rate: float) -> Table:
    table = Table(title="skewless run", show_header=True, header_style="bold")
    for col in ("events", "events/s", "malformed", "late", "states written", "kafka lag", "source", "latest event",
                "behind now", "watermark"):
        table.add_column(col, justify="right" if col not in ("source", "latest event", "watermark") else "left")
    lag = _kafka_lag()
    sources = sorted(stats.max_event) or ["-"]
    for i, src in enumerate(sources):
        latest = stats.max_event.get(src)
        wm = stats.watermark.get(src)
        head = [f"{stats.events:,}", f"{rate:,.0f}", f"{stats.dead:,}", f"{stats.late:,}",
                f"{stats.written:,}", "-" if lag is None else f"{lag:,}"] if i == 0 else [""] * 6
        table.add_row(*head, src, latest.isoformat() if latest else "-", _ago(latest), wm.isoformat() if wm else "-")
    return table


@app.command("run")
def run_cmd(
    select: Optional[list[str]] = typer.Option(None, "--select", "-s", help="View(s); default: every view."),
    source: Optional[str] = typer.Option(None, "--source", help="file | kafka (default: the target's stream.kind)."),
    brokers: Optional[str] = typer.Option(None, "--brokers", help="Kafka bootstrap servers, comma-separated "
                                          "(default: the target's)."),
    until_end: bool = typer.Option(False, "--until-end", help="Stop at the end of the input available now "
                                   "(Kafka: each partition's end; file: don't follow it, as with `follow: false` in profiles.yml)."),
    recovery_dir: Optional[Path] = typer.Option(None, "--recovery-dir", help="Bytewax recovery store "
                                                "(default: the target's recovery_dir, else target/recovery)."),
    recovery: bool = typer.Option(True, "--recovery/--no-recovery", help="Snapshot state to resume after a stop "
                                  "or crash."),
    snapshot_every: float = typer.Option(1.0, "--snapshot-every", min=0.05, help="Seconds between snapshots."),
    workers: Optional[int] = typer.Option(None, "--workers", "-w", min=1, help="Worker threads per process "
                                          "(default: the target's workers)."),
    addresses: Optional[str] = typer.Option(None, "--addresses", help="host:port of every process of the cluster, "
                                            "comma-separated, the same on each process."),
    process_id: Optional[int] = typer.Option(None, "--process-id", "-i", min=0, help="This process's index in "
                                             "--addresses."),
    from_latest: bool = typer.Option(False, "--from-latest", help="Kafka: a job without recovery state starts at "
                                     "the end of the topic instead of its beginning."),
    flush_ms: float = typer.Option(50.0, "--flush-ms", min=1.0, help="Longest wait of a changed state for its "
                                   "online-store upsert."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Live progress on the terminal."),
    warm: bool = typer.Option(True, "--warm/--cold", help="A key without recovery state continues from its state in "
                              "the online store (seeded by `backfill --to-online` or an earlier run); events up to "
                              "that state's latest event are taken as counted. --cold: every key starts empty."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Also append per-event rows to DIR/<view>.<worker>.jsonl "
                                           "(at least once across a crash)."),
) -> None:
    """Run the stream continuously: Kafka topics or followed JSONL files → exact window state → online
    store. Stops cleanly on Ctrl-C / SIGTERM; with recovery, the next start resumes where it stopped."""
    from .sources.kafka import KafkaUnavailable
    from .stream.dataflow import StreamStats

    project = _project()
    names = _stream_views(compile_project(project), select)
    stats = StreamStats()
    try:
        with _live_progress(stats, progress and err.is_terminal):
            project.run(names, source=source, brokers=brokers.split(",") if brokers else None, until_end=until_end,
                        recovery=recovery, recovery_dir=recovery_dir, snapshot_every=snapshot_every,
                        workers=workers, addresses=[a for a in addresses.split(",") if a] if addresses else None,
                        process_id=process_id, from_latest=from_latest, flush_ms=flush_ms, warm=warm,
                        out_dir=out_dir, stats=stats)
    except SkewlessError as exc:
        _fail(exc.diagnostics)
    except KafkaUnavailable as exc:
        _fail([Diagnostic("kafka", 1, 1, str(exc), "start the broker or fix stream.brokers / the topic name")])
    elapsed = time.monotonic() - stats.started
    out.print(f"stopped ({stats.stopped_by or 'end of input'}) after {elapsed:.1f} s: {stats.events:,} events "
              f"({stats.events / max(elapsed, 1e-9):,.0f}/s), {stats.dead:,} malformed, "
              f"{stats.late:,} late, {stats.written:,} states written"
              + (f"; recovery state in {stats.recovery_dir}" if stats.recovery_dir else ""), highlight=False)


@contextmanager
def _live_progress(stats, show: bool):
    """A live table of the job's counters on the terminal while the block runs."""
    done = threading.Event()

    def draw():
        last_n, last_t = 0, time.monotonic()
        with Live(_progress_table(stats, 0.0), console=err, refresh_per_second=4, transient=False) as live:
            while not done.wait(0.5):
                now = time.monotonic()
                rate = (stats.events - last_n) / max(now - last_t, 1e-9)
                last_n, last_t = stats.events, now
                live.update(_progress_table(stats, rate))
            live.update(_progress_table(stats, stats.events / max(time.monotonic() - stats.started, 1e-9)))

    drawer = threading.Thread(target=draw, daemon=True) if show else None
    if drawer:
        drawer.start()
    try:
        yield
    finally:
        done.set()
        if drawer:
            drawer.join(timeout=2)
