"""Building the scoring service from a project: the store, one `Scorer` per model, the ASGI app.

``skewless serve`` builds it once (one worker) or has each uvicorn worker process build its own
(``--workers N``: `worker_app` is the factory uvicorn imports in every worker; the settings travel
in the ``SKEWLESS_SERVE`` environment variable, JSON)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

from skewless.compiler.errors import Diagnostic, SkewlessError
from skewless.compiler.project.build import CompiledProject, build_project
from skewless.compiler.project.loader import load_project

ENV = "SKEWLESS_SERVE"


def build_service(compiled: CompiledProject, models: list[str] | None = None):
    """The app serving ``models`` (default: every model of the project); a `SkewlessError` naming
    the model when one is not trained or its views changed since."""
    from ..experiments.router import build_experiments
    from ..stores import open_store
    from ..training.trainer import model_artifact
    from .app import create_app
    from .scorer import Scorer, SkewError

    store = open_store(compiled.project.target.online, compiled.project.root)
    target_dir = compiled.project.target_dir
    loaded: dict[Path, Scorer] = {}

    def scorer_for(model: str, version: str = "latest") -> Scorer:
        path = model_artifact(target_dir, model, version).resolve()
        if path not in loaded:  # arms sharing a version share its booster
            loaded[path] = Scorer(compiled, path, store)
        return loaded[path]

    names = models or sorted(compiled.project.models)
    unknown = [n for n in names if n not in compiled.project.models]
    if unknown:
        store.close()
        raise SkewlessError(Diagnostic(f"model {unknown[0]}", 1, 1, f"unknown model {unknown[0]!r}",
                                       f"models: {', '.join(sorted(compiled.project.models))}"))
    scorers = {}
    try:
        for name in names:
            current = name
            if compiled.project.models[name].experiment is None:
                scorers[name] = scorer_for(name)
        current = "experiments"
        experiments = build_experiments(compiled, target_dir / "experiments.sqlite", scorer_for, names)
    except (FileNotFoundError, SkewError) as exc:
        store.close()
        raise SkewlessError(Diagnostic(f"model {current}", 1, 1, str(exc), "")) from None
    app = create_app(scorers, compiled, store, compiled.project.target.serve_token, experiments)
    # the project, models and boosters live as long as the process: out of the cyclic collector's
    # way (each full collection would walk them again, tens of ms under load)
    gc.collect()
    gc.freeze()
    return app


def worker_settings(project_dir: Path, target: str | None, vars_: dict, models: list[str] | None) -> str:
    return json.dumps({"project": str(Path(project_dir).resolve()), "target": target, "vars": vars_,
                       "models": models})


def worker_app():
    """uvicorn's app factory in each worker process of ``serve --workers N``."""
    settings = json.loads(os.environ[ENV])
    compiled = build_project(load_project(Path(settings["project"]), settings["vars"], settings["target"]))
    if compiled.diagnostics:
        raise SkewlessError(list(compiled.diagnostics))
    return build_service(compiled, settings["models"])
