"""The ``skewless`` command."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from skewless.compiler.contract import CompiledProject, Diagnostic, SkewlessError

from .cli_common import (  # noqa: F401
    _fail, _project, _select_views, app, check_model, compile_project, console, err, out, out_progress, parse_time,
    state,
)


@app.command()
def validate(as_json: bool = typer.Option(False, "--json", help="One JSON object: ok and every diagnostic "
                                                              "(path, line, col, severity, message, hint).")) -> None:
    """Render, parse, type-check and check every view, source and model; report all errors."""
    project = _project()
    found = project.validate()
    if as_json:
        print(json.dumps({"ok": not found, "diagnostics": [
            {"path": d.path, "line": d.line, "col": d.col, "severity": d.severity, "message": d.message,
             "hint": d.hint} for d in found]}))
        if found:
            raise typer.Exit(1)
        return
    if found:
        _fail(found)
    p = project.compiled.project
    dims = f", {len(p.dimensions)} dimension{'s' * (len(p.dimensions) != 1)}" if p.dimensions else ""
    out.print(f"[green]OK[/green] {len(project.views)} views, {len(p.sources)} sources{dims}, {len(p.models)} models")


@app.command("compile")
def compile_() -> None:
    """Validate, then write target/manifest.json, compiled SQL per dialect and the stream plan."""
    started = time.perf_counter()
    try:
        path = _project().compile()
    except SkewlessError as exc:
        _fail(exc.diagnostics)
    manifest = json.loads(path.read_text())
    for view, doc in manifest["views"].items():
        for dialect, entry in doc["compiled"].items():
            if entry.get("unsupported"):
                out.print(f"note: {view}: no {dialect} SQL emitted — {'; '.join(entry['unsupported'])}",
                          markup=False, highlight=False, soft_wrap=True)
    written = 2 + sum(1 for _ in (path.parent / "compiled").rglob("*.sql"))
    elapsed = time.perf_counter() - started
    out.print(f"[green]compiled[/green] {len(manifest['views'])} views → {written} files in "
              f"{os.path.relpath(path.parent)} ({elapsed * 1000:.0f} ms)")


@app.command("ls")
def ls(columns: bool = typer.Option(True, "--columns/--no-columns", help="Show each view's columns."),
       as_json: bool = typer.Option(False, "--json", help="JSON: each view's entity, input, fingerprint, columns.")
       ) -> None:
    """List views with their entity key, input and columns."""
    compiled = compile_project()
    if as_json:
        import json

        print(json.dumps({name: {"entity": v.entity, "input": {"kind": v.input.kind, "name": v.input.name},
                                 "fingerprint": v.fingerprint,
                                 "columns": [{"name": c.name, "type": c.type, "kind": c.kind} for c in v.columns]}
                          for name, v in sorted(compiled.views.items())}))
        return
    table = Table(title=f"{compiled.project.config.name}: feature views")
    table.add_column("view")
    table.add_column("entity")
    table.add_column("input")
    table.add_column("columns" if columns else "#columns")
    for name, view in sorted(compiled.views.items()):
        cols = "\n".join(f"{c.name} [dim]{c.type}[/dim]" + ("" if c.kind == "feature" else f" [dim]({c.kind})[/dim]")
                         for c in view.columns) if columns else str(len(view.columns))
        table.add_row(name, ", ".join(view.entity), f"{view.input.kind}:{view.input.name}", cols)
    out.print(table)


@app.command()
def init(directory: Path = typer.Argument(..., help="Directory to create."),
         name: Optional[str] = typer.Option(None, help="Project name (default: the directory name).")) -> None:
    """Scaffold a working project (a source, a view, a model and sample events)."""
    from .scaffold import scaffold

    try:
        created = scaffold(directory, name)
    except FileExistsError as exc:
        _fail([Diagnostic(str(directory), 1, 1, str(exc), "choose a new directory")])
    out.print(f"[green]created[/green] {directory} ({len(created)} files). Next: cd {directory} && skewless compile")


@app.command()
def generate(
    events: int = typer.Option(200_000, help="Number of transactions."),
    days: float = typer.Option(14.0, help="Time span of the events."),
    seed: int = typer.Option(7),
    late_rate: float = typer.Option(0.0, help="Fraction of events delivered later than the allowed lateness."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Output directory (default: <project>/data)."),
) -> None:
    """Generate realistic payment events (transactions + labels) as JSONL and Parquet."""
    from .datagen import GenConfig, generate as gen, write_all

    target = out_dir or (state.project_dir / "data")
    with out.status(f"generating {events:,} events"):
        counts = write_all(gen(GenConfig(events=events, days=days, seed=seed, late_rate=late_rate)), target)
    for name, n in counts.items():
        out.print(f"[green]wrote[/green] {name}: {n:,} rows → {target}/{name}.{{jsonl,parquet}}")


@app.command()
def backfill(
    select: Optional[list[str]] = typer.Option(None, "--select", "-s", help="View(s); default: all."),
    out: Path = typer.Option(..., "--out", help="Parquet file (one view) or directory (one file per view)."),
    engine: Optional[str] = typer.Option(None, help="duckdb | postgres | spark (default: the target's)."),
    dsn: Optional[str] = typer.Option(None, help="Postgres DSN for --engine postgres."),
    to_online: bool = typer.Option(False, "--to-online", help="Also seed the online store from the history."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="With --to-online: only events up to this time."),
) -> None:
    """Compute the per-event relation of views in batch and write Parquet (and, with --to-online,
    seed the online store so a stream can start warm from history)."""
    from .batch_jobs import backfill as run_backfill, needed_sources, open_engine, register_sources

    compiled = compile_project()
    names = _select_views(compiled, select)
    eng = open_engine(compiled, engine, dsn)
    try:
        with out_progress() as progress:
            task = progress.add_task("loading sources", total=len(names) + 1)
            register_sources(eng, compiled, needed_sources(compiled, names))
            for name in names:
                progress.update(task, advance=1, description=f"backfill {name}")
                path = out if (len(names) == 1 and out.suffix == ".parquet") else out / f"{name}.parquet"
                rows = run_backfill(compiled, eng, name, path)
                console.print(f"[green]wrote[/green] {name}: {rows:,} rows → {path}")
            progress.update(task, advance=1)
    finally:
        eng.close()
    if to_online:
        _seed_online(compiled, names, as_of)


def _seed_online(compiled: CompiledProject, names: list[str], as_of: str | None) -> None:
    from .api import Project

    cutoff = parse_time("--as-of", as_of) if as_of else None
    for name, count in Project.of(compiled).seed_online(names, cutoff,
                                                        progress=lambda n: out.status(f"seeding the online store: {n}")):
        console.print(f"[green]seeded[/green] {name}: {count:,} input rows → online store")


@app.command("training-set")
def training_set_cmd(
    model: str = typer.Argument(..., help="Model name from models/*.yml."),
    out_path: Path = typer.Option(..., "--out", help="Parquet file to write."),
    engine: Optional[str] = typer.Option(None, help="duckdb | postgres | spark (default: the target's)."),
    dsn: Optional[str] = typer.Option(None, help="Postgres DSN for --engine postgres."),
    from_log: bool = typer.Option(False, "--from-log", help="From the feature log: the vectors a version was "
                                  "served, joined to --labels by request id (no recomputation)."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="--from-log: labels (Parquet/CSV/JSONL)."),
    label_id: str = typer.Option("request_id", "--label-id", help="--from-log: the labels' request id column."),
    version: str = typer.Option("champion", "--version", help="--from-log: the version (or alias) whose log."),
) -> None:
    """Build a model's point-in-time training set: each label joined with every feature as of its
    time (or, --from-log, the logged served vectors joined with later labels)."""
    project = _project()
    compiled = compile_project(project)
    check_model(compiled, model)
    if from_log:
        from .cli_models import training_set_from_log_cmd

        return training_set_from_log_cmd(compiled, model, out_path, labels, label_id, version)
    started = time.perf_counter()
    try:
        with out.status(f"building training set for {model}"):
            rows = project.write_training_set(model, out_path, engine, dsn)
    except SkewlessError as exc:
        _fail(exc.diagnostics)
    out.print(f"[green]wrote[/green] training set {model}: {rows:,} rows → {out_path} "
              f"({time.perf_counter() - started:.1f} s)")


@app.command()
def parity(
    select: Optional[list[str]] = typer.Option(None, "--select", "-s", help="View(s); default: all."),
    postgres: Optional[str] = typer.Option(None, help="Postgres DSN, or 'local' to start a throwaway cluster."),
    spark: bool = typer.Option(False, help="Also run the compiled SQL on Spark (local[2])."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Also replay the events through the stream."),
    sample_keys: Optional[int] = typer.Option(None, "--sample-keys", min=1,
                                              help="Check N entity keys per view (every event of each) instead "
                                                   "of all: a quick check."),
    report: Path = typer.Option(Path("target/parity.html"), help="HTML report (relative to the project)."),
    log: Optional[str] = typer.Option(None, "--log", help="MODEL: recompute its logged served vectors through the "
                                      "batch path instead (production-traffic skew)."),
    version: str = typer.Option("champion", "--version", help="--log: the version (or alias) whose log."),
) -> None:
    """Evaluate views through every engine and the original SQL on the same events; exit 1 on any
    differing row. The stream replays in a process of its own while the batch paths run."""
    if log is not None:
        from .cli_models import log_parity_cmd

        return log_parity_cmd(log, version, report)
    from .parity_run import run

    compiled = compile_project()
    names = _select_views(compiled, select)
    with out_progress() as progress:
        def track(path: str, total: int):
            task = progress.add_task(path if path != "stream" else "stream (replaying)", total=total)
            return lambda view: progress.update(task, advance=1, description=f"{path}: {view}")

        checked = run(compiled, names, postgres, spark, stream, sample_keys, state.vars, state.target, track)
    out.print(_parity_table(checked))
    out.print(f"late events (excluded from the stream, reported not compared): {checked.late}")
    path = report if report.is_absolute() else compiled.project.root / report
    checked.write_report(compiled, path)
    out.print(f"report → {path}")
    if not checked.ok:
        raise typer.Exit(1)


def _parity_table(checked) -> Table:
    table = Table(title="parity: stream and compiled batch SQL vs the original SQL")
    for col in ("view", "oracle", "engine", "rows", "differing rows"):
        table.add_column(col)
    for r in checked.results:
        for e in r.results:
            status = f"[red]{e.error}[/red]" if e.error else (
                "[green]0[/green]" if not e.differing_rows else f"[red]{e.differing_rows:,}[/red]")
            table.add_row(r.view, r.oracle, e.engine, f"{e.rows:,}", status)
    return table


@app.command()
def score(
    model: str = typer.Argument(..., help="Model name."),
    input_path: Path = typer.Option(..., "--input", help="Rows with the label source's columns (Parquet/JSONL/CSV)."),
    out_path: Path = typer.Option(..., "--out", help="Parquet file: the input rows with their features and score."),
    engine: Optional[str] = typer.Option(None, help="duckdb | postgres | spark (default: the target's)."),
    dsn: Optional[str] = typer.Option(None, help="Postgres DSN for --engine postgres."),
) -> None:
    """Batch scoring through the training-set path (features as of each row's timestamp), with the
    model's champion — `Project.score`."""
    import pyarrow.parquet as pq

    from .api import Project
    from .artifacts import atomic_output
    from .sources.files import detect_format, read_file, schema_of

    compiled = compile_project()
    check_model(compiled, model)
    label = compiled.project.sources[compiled.project.models[model].label.source]
    rows = read_file(input_path, detect_format(input_path, None), schema_of(label))
    scored = Project.of(compiled).score(model, rows, engine, dsn)
    with atomic_output(out_path) as tmp:
        pq.write_table(scored, tmp)
    out.print(f"[green]scored[/green] {scored.num_rows:,} rows → {out_path}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="Model(s) to serve; default: all trained."),
    workers: int = typer.Option(1, "--workers", "-w", min=1, max=64, help="Worker processes sharing the port "
                                "(each loads the models and opens the online store)."),
    insecure: bool = typer.Option(False, "--insecure", help="Serve without a bearer token (serve_token unset)."),
) -> None:
    """Serve POST /score/{model} (one row or {"rows": [...]}), GET /features/{view}/{key}[?at=],
    GET /features/{view}?key=..., /models, /openapi.json, /healthz and /metrics (uvicorn).
    Requires the target's serve_token unless --insecure."""
    from .serving.server import run
    from .serving.service import worker_settings

    compiled = compile_project()
    if not compiled.project.target.serve_token and not insecure:
        _fail([Diagnostic("profiles.yml", 1, 1, f"target {compiled.project.target_name!r} has no serve_token: "
                          "the API would be open to anyone who can reach it",
                          "set serve_token (e.g. \"{{ env_var('SKEWLESS_TOKEN') }}\") or pass --insecure")])
    if not compiled.project.target.serve_token:
        from . import log

        log.warning("serve.insecure", message="serving without a bearer token (--insecure)")
    app_ = build_service(compiled, model)  # every worker builds the same: fail here, once, with a clear error
    run(app_, host, port, workers, worker_settings(state.project_dir, state.target, state.vars, model))


def build_service(compiled: CompiledProject, models: list[str] | None = None):
    from .serving.service import build_service as build

    try:
        return build(compiled, models)
    except SkewlessError as exc:
        _fail(exc.diagnostics)


from .cli_batch import as_of_cmd  # noqa: E402,F401 - registers as-of
from .cli_stream import replay_cmd  # noqa: E402,F401 - registers replay, run, get
from .cli_experiments import experiments_app  # noqa: E402,F401 - registers experiments, feedback
from .cli_models import models_app  # noqa: E402,F401 - registers models, retrain
from .cli_train import train  # noqa: E402,F401 - registers train
from .cli_docs import docs_app  # noqa: E402,F401 - registers docs
from .cli_demo import demo  # noqa: E402,F401 - registers demo


def _causes(exc: BaseException):
    """The exception and what caused it (Bytewax wraps errors raised inside the dataflow)."""
    seen = set()
    at: BaseException | None = exc
    while at is not None and id(at) not in seen:
        seen.add(id(at))
        yield at
        at = at.__cause__ or at.__context__


def main() -> None:
    from .retry import Unavailable

    if not os.environ.get("SKEWLESS_DEBUG"):
        os.environ["RUST_BACKTRACE"] = "0"  # Bytewax errors carry a 100-line Rust backtrace otherwise
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted: an output being written was discarded (outputs are written whole or not at all)",
                  markup=False, highlight=False)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - no tracebacks for users unless asked
        chain = list(_causes(exc))
        known = next((e for e in chain if isinstance(e, SkewlessError)), None)
        if known is not None:
            for d in known.diagnostics:
                err.print(d.format(), markup=False, highlight=False)
            sys.exit(1)
        down = next((e for e in chain if isinstance(e, Unavailable)), None)
        if down is not None:
            err.print(f"error: {down} — the job stopped at its last snapshot; start it again once the component "
                      "is back (nothing is lost)", markup=False, highlight=False)
            sys.exit(1)
        if os.environ.get("SKEWLESS_DEBUG"):
            raise
        root = chain[-1]
        err.print(f"internal error: {type(root).__name__}: {str(root).splitlines()[0] if str(root) else ''} "
                  "(set SKEWLESS_DEBUG=1 for a traceback)", markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
