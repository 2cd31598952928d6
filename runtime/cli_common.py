"""What every ``skewless`` command shares: the Typer app, consoles, global options, errors."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
import yaml
from rich.console import Console

from skewless.compiler.contract import CompiledProject, Diagnostic, SkewlessError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="skewless: SQL feature views, computed exactly in stream and batch.")
out = Console()
console = out
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
    log_level: Optional[str] = typer.Option(None, "--log-level", help="debug | info | warning | error (default: "
                                            "SKEWLESS_LOG_LEVEL or info). Logs go to stderr, one event per line."),
    log_format: Optional[str] = typer.Option(None, "--log-format", help="text (key=value) | json (default: "
                                             "SKEWLESS_LOG_FORMAT or text)."),
) -> None:
    import os

    if log_level is not None:
        if log_level.lower() not in ("debug", "info", "warning", "error"):
            _fail([Diagnostic("--log-level", 1, 1, f"unknown log level {log_level!r}", "debug, info, warning or error")])
        os.environ["SKEWLESS_LOG_LEVEL"] = log_level.upper()  # also for the processes this one starts
    if log_format is not None:
        if log_format.lower() not in ("text", "json"):
            _fail([Diagnostic("--log-format", 1, 1, f"unknown log format {log_format!r}", "text or json")])
        os.environ["SKEWLESS_LOG_FORMAT"] = log_format.lower()
    state.project_dir = project
    state.target = target
    if vars_:
        try:
            parsed = yaml.safe_load(vars_)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            _fail([Diagnostic("--vars", line, col, f"not valid YAML: {problem}", "e.g. --vars '{high_amount: 1000}'")])
        if not isinstance(parsed, dict):
            _fail([Diagnostic("--vars", 1, 1, "--vars must be a mapping", "e.g. --vars '{high_amount: 1000}'")])
        state.vars = parsed


def _fail(diags: list[Diagnostic]) -> NoReturn:
    for d in diags:
        err.print(d.format(), markup=False, highlight=False)
    n = len(diags)
    err.print(f"[red]{n} error{'s' if n != 1 else ''}[/red]")
    raise typer.Exit(1)


def _project():
    """The API's `Project` for the global options (--project, --target, --vars)."""
    from .api import Project

    return Project(state.project_dir, state.target, state.vars)


def compile_project(project=None) -> CompiledProject:
    """The project (``project``, else `_project()`), from its compiled artifact (compiled first
    when stale); errors end the command."""
    try:
        return (project or _project()).compiled
    except SkewlessError as exc:
        _fail(exc.diagnostics)


def parse_time(option: str, text: str) -> datetime:
    """An ISO-8601 time given to ``option`` (UTC when it has no offset); a bad one ends the command."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        _fail([Diagnostic(option, 1, 1, f"not an ISO-8601 time: {text!r}", "e.g. 2026-10-14T12:00:00Z")])
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _select_views(compiled: CompiledProject, select: list[str] | None) -> list[str]:
    names = select or sorted(compiled.views)
    unknown = [n for n in names if n not in compiled.views]
    if unknown:
        _fail([Diagnostic("--select", 1, 1, f"unknown view(s): {', '.join(unknown)}",
                          f"views: {', '.join(sorted(compiled.views))}")])
    return names




def out_progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=out, transient=True)


def check_model(compiled: CompiledProject, model: str, option: str = "MODEL") -> None:
    """End the command when ``model`` is not one of the project's."""
    if model not in compiled.project.models:
        _fail([Diagnostic(option, 1, 1, f"unknown model {model!r}", f"models: {', '.join(compiled.project.models)}")])
