"""Batch commands over the Python API (runtime/api.py): `as-of`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from skewless.compiler.contract import Diagnostic, SkewlessError

from .cli_common import _fail, _project, app, out


def _read_table(path: Path):
    import pyarrow.csv as csv
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    readers = {".parquet": pq.read_table, ".pq": pq.read_table, ".csv": csv.read_csv, ".jsonl": pj.read_json,
               ".json": pj.read_json}
    if path.suffix.lower() not in readers:
        _fail([Diagnostic(str(path), 1, 1, "a spine is a .parquet, .csv or .jsonl file", "")])
    try:
        return readers[path.suffix.lower()](path)
    except (OSError, ValueError) as exc:
        _fail([Diagnostic(str(path), 1, 1, f"cannot read the spine: {exc}", "")])


@app.command("as-of")
def as_of_cmd(
    views: Optional[list[str]] = typer.Argument(None, help="Views (default: all)."),
    spine: Path = typer.Option(..., "--spine", help="Parquet/CSV/JSONL: the views' entity columns and a time."),
    out_path: Path = typer.Option(..., "--out", help="Parquet file to write: the spine's columns + features."),
    time_column: str = typer.Option("ts", "--time-column", help="The spine's time column."),
    engine: Optional[str] = typer.Option(None, help="duckdb | postgres | spark (default: the target's)."),
    dsn: Optional[str] = typer.Option(None, help="Postgres DSN for --engine postgres."),
) -> None:
    """Features as of arbitrary times: each view's values for every spine row (key, time)."""
    import pyarrow.parquet as pq

    from .artifacts import atomic_output

    table = _read_table(spine)
    started = time.perf_counter()
    try:
        result = _project().as_of(
            table, views or None, time_column=time_column, engine=engine, dsn=dsn)
    except SkewlessError as exc:
        _fail(exc.diagnostics)
    except (KeyError, ValueError) as exc:
        _fail([Diagnostic(str(spine), 1, 1, str(exc).strip('"'), "")])
    with atomic_output(out_path) as tmp:
        pq.write_table(result, tmp)
    out.print(f"[green]wrote[/green] {result.num_rows:,} rows × {result.num_columns} columns → {out_path} "
              f"({time.perf_counter() - started:.1f} s)")
