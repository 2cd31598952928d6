"""``skewless docs generate|serve``: the project's static HTML site (runtime/docs_site.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .cli_common import app, compile_project, out

docs_app = typer.Typer(no_args_is_help=True, help="A static HTML site of the project: views, models, lineage.")
app.add_typer(docs_app, name="docs")


def _generate(out_dir: Optional[Path]) -> Path:
    from .docs_site import generate

    compiled = compile_project()
    where = out_dir or compiled.project.target_dir / "docs"
    index = generate(compiled, where)
    out.print(f"docs → {index}", markup=False, highlight=False)
    return where


@docs_app.command("generate")
def docs_generate(out_dir: Optional[Path] = typer.Option(None, "--out", help="Directory (default: target/docs).")) -> None:
    """Write the site: index (sources, views, models, lineage graph), a page per view and per model."""
    _generate(out_dir)


@docs_app.command("serve")
def docs_serve(out_dir: Optional[Path] = typer.Option(None, "--out"), host: str = typer.Option("127.0.0.1"),
               port: int = typer.Option(8080)) -> None:
    """Generate the site, then serve it (uvicorn, Starlette static files) until stopped."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    where = _generate(out_dir)
    out.print(f"serving http://{host}:{port}/", markup=False, highlight=False)
    uvicorn.run(Starlette(routes=[Mount("/", StaticFiles(directory=where, html=True))]), host=host, port=port,
                log_level="warning")
