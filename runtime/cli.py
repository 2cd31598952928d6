"""The ``skewless`` command."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table

from skewless.compiler.errors import Diagnostic, SkewlessError
from skewless.compiler.manifest import build_artifacts
from skewless.compiler.project.build import CompiledProject, build_project
from skewless.compiler.project.loader import load_project

from .artifacts import write_artifacts

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="skewless: SQL feature views, computed exactly in stream and batch.")
out = Console()
err = Console(stderr=True)


class State:
    project_dir: Path = Path(".")
    target: str | None = None
    vars: dict[str, Any] = {}


state = State()


@app.callback()
def _global(
    project: Path = typer.Option(Path("."), "--project", "-p", help="Project directory (holds skewless_project.yml)."),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target in profiles.yml (default: the profile's)."),
    vars_: Optional[str] = typer.Option(None, "--vars", help="YAML/JSON mapping overriding project vars."),
) -> None:
    state.project_dir = project
    state.target = target
    if vars_:
        parsed = yaml.safe_load(vars_)
        if not isinstance(parsed, dict):
            _fail([Diagnostic("--vars", 1, 1, "--vars must be a mapping", "e.g. --vars '{high_amount: 1000}'")])
        state.vars = parsed


def _fail(diags: list[Diagnostic]) -> None:
    for d in diags:
        err.print(d.format(), markup=False, highlight=False)
    n = len(diags)
    err.print(f"[red]{n} error{'s' if n != 1 else ''}[/red]")
    raise typer.Exit(1)


def compile_project() -> CompiledProject:
    try:
        project = load_project(state.project_dir, state.vars, state.target)
    except SkewlessError as exc:
        _fail(exc.diagnostics)
    compiled = build_project(project)
    if compiled.diagnostics:
        _fail(compiled.diagnostics)
    return compiled


@app.command()
def validate() -> None:
    """Render, parse, type-check and check every view, source and model; report all errors."""
    compiled = compile_project()
    p = compiled.project
    out.print(f"[green]OK[/green] {len(compiled.views)} views, {len(p.sources)} sources, {len(p.models)} models")


@app.command("compile")
def compile_() -> None:
    """Validate, then write target/manifest.json, compiled SQL per dialect and the stream plan."""
    started = time.perf_counter()
    compiled = compile_project()
    artifacts = build_artifacts(compiled)
    written = write_artifacts(compiled.project.target_dir, artifacts)
    manifest = artifacts["manifest.json"]
    for view, doc in manifest["views"].items():
        for dialect, entry in doc["compiled"].items():
            if entry.get("unsupported"):
                out.print(f"note: {view}: no {dialect} SQL emitted — {'; '.join(entry['unsupported'])}",
                          markup=False, highlight=False, soft_wrap=True)
    elapsed = time.perf_counter() - started
    out.print(f"[green]compiled[/green] {len(compiled.views)} views → {len(written)} files in "
              f"{os.path.relpath(compiled.project.target_dir)} ({elapsed * 1000:.0f} ms)")


@app.command("ls")
def ls(columns: bool = typer.Option(True, "--columns/--no-columns", help="Show each view's columns.")) -> None:
    """List views with their entity key, input and columns."""
    compiled = compile_project()
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
def demo(events: int = typer.Option(200_000, help="Number of generated transactions.")) -> None:
    """The main job on embedded defaults: generate events, validate, compile, list the views."""
    generate(events=events, days=14.0, seed=7, late_rate=0.0, out_dir=None)
    validate()
    compile_()
    ls(columns=False)


def main() -> None:
    try:
        app()
    except SkewlessError as exc:
        for d in exc.diagnostics:
            err.print(d.format(), markup=False, highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - no tracebacks for users unless asked
        if os.environ.get("SKEWLESS_DEBUG"):
            raise
        err.print(f"internal error: {type(exc).__name__}: {exc} (set SKEWLESS_DEBUG=1 for a traceback)",
                  markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()
