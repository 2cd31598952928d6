"""Building the scoring service from a project: the store, one `Scorer` per model, the ASGI app.

``skewless serve`` builds it once (one worker) or has each uvicorn worker process build its own
(``--workers N``: `worker_app` is the factory uvicorn imports in every worker; the settings travel
in the ``SKEWLESS_SERVE`` environment variable, JSON)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path
from typing import Any

from skewless.compiler.contract import CompiledProject, Diagnostic, KafkaStream, SkewlessError

ENV = "SKEWLESS_SERVE"


def _trained(compiled: CompiledProject, model: str) -> bool:
    from ..training.trainer import served_artifact

    try:
        return (served_artifact(compiled, model) / "model.json").exists()
    except FileNotFoundError:
        return False


def build_service(compiled: CompiledProject, models: list[str] | None = None):
    """The app serving ``models`` (default: every trained model of the project, a warning naming
    each untrained one); a `SkewlessError` naming the model when one named is not trained or its
    views changed since."""
    from ..experiments.router import build_experiments
    from ..experiments.store import ExperimentStore
    from ..stores import open_store
    from ..training.trainer import model_artifact, served_artifact
    from .app import create_app
    from .scorer import Scorer, SkewError

    store = open_store(compiled.project.target.online, compiled.project.root)
    target_dir, dsn = compiled.project.target_dir, compiled.project.target.registry_dsn
    loaded: dict[Path, Scorer] = {}

    def scorer_for(model: str, version: str = "latest") -> Scorer:
        path = model_artifact(target_dir, model, version, dsn).resolve()
        if path not in loaded:  # arms sharing a version share its booster
            loaded[path] = Scorer(compiled, path, store)
        return loaded[path]

    names = models or sorted(compiled.project.models)
    if not models:  # every model: those trained (a project's new model is not served until trained)
        from .. import log

        untrained = [n for n in names if not _trained(compiled, n)]
        for n in untrained:
            log.warning("serve.model_not_trained", model=n, hint=f"skewless train {n}")
        names = [n for n in names if n not in untrained] or names  # none trained: the error below names one
    unknown = [n for n in names if n not in compiled.project.models]
    if unknown:
        store.close()
        raise SkewlessError(Diagnostic(f"model {unknown[0]}", 1, 1, f"unknown model {unknown[0]!r}",
                                       f"models: {', '.join(sorted(compiled.project.models))}"))
    stream = compiled.project.target.stream
    brokers = list(stream.brokers) if isinstance(stream, KafkaStream) else None
    if brokers and any(d.stream.topic for d in compiled.project.dimensions.values()):
        # dimensions with a topic follow it here too: request events and reads join their latest rows
        from ..sources.dimension import load_indexes
        from ..sources.dimension_feed import start_feeds

        from ..sources.kafka import KafkaUnavailable

        try:
            start_feeds(compiled.project, load_indexes(compiled.project, list(compiled.views.values())), brokers,
                        dict(stream.add_config) if isinstance(stream, KafkaStream) else {})
        except KafkaUnavailable as exc:
            store.close()
            raise SkewlessError(Diagnostic("kafka", 1, 1, str(exc), "start the broker or fix stream.brokers / the "
                                           "dimension's stream.topic")) from None
    scorers = {}
    try:
        for name in names:
            current = name
            if compiled.project.models[name].experiment is None:
                scorers[name] = scorer_for(name, served_artifact(compiled, name).name)  # champion, else LATEST
        current = "experiments"
        experiments = build_experiments(compiled, ExperimentStore.location(target_dir, dsn), scorer_for, names)
    except (FileNotFoundError, SkewError) as exc:
        store.close()
        raise SkewlessError(Diagnostic(f"model {current}", 1, 1, str(exc), "")) from None
    from .feature_log import FeatureLog

    logs = {m: FeatureLog(target_dir / "feature_log", m, d.feature_log, brokers)
            for m, d in compiled.project.models.items() if d.feature_log is not None and d.feature_log.enabled}
    app = create_app(scorers, compiled, store, compiled.project.target.serve_token, experiments,
                     reload=ChampionReload(target_dir, scorers, scorer_for, dsn), feature_logs=logs)
    # the project, models and boosters live as long as the process: out of the cyclic collector's
    # way (each full collection would walk them again, tens of ms under load)
    gc.collect()
    gc.freeze()
    return app


class ChampionReload:
    """Follows the registry without a restart: every ``every`` seconds (checked on requests), a
    model whose champion moved (promote, rollback) is loaded and swapped in; a version that cannot
    be served (its views changed) is logged and the current one kept."""

    def __init__(self, target_dir: Path, scorers: dict, scorer_for, dsn: str | None = None, every: float = 2.0):
        import time

        self.target_dir, self.scorers, self.scorer_for, self.every, self.dsn = target_dir, scorers, scorer_for, every, dsn
        self.checked = time.monotonic()
        self.registry: Any = None  # the model registry, opened once it exists

    def __call__(self) -> None:
        import time

        now = time.monotonic()
        if now - self.checked < self.every:
            return
        self.checked = now
        from .. import log
        from ..registry.store import CHAMPION, Registry
        from .scorer import SkewError

        if self.registry is None:
            if not Registry.exists(self.target_dir, self.dsn):
                return
            self.registry = Registry.of(self.target_dir, self.dsn)
        aliases = self.registry.aliases()
        for model, scorer in list(self.scorers.items()):
            version = aliases.get((model, CHAMPION))
            if version is None or version == scorer.meta["version"]:
                continue
            try:
                self.scorers[model] = self.scorer_for(model, version)
                log.info("serve.reloaded", model=model, version=version, previous=scorer.meta["version"])
            except (FileNotFoundError, SkewError) as exc:
                log.error("serve.reload_failed", model=model, version=version, error=str(exc))
                self.checked = now + 30  # do not retry on every request


def worker_settings(project_dir: Path, target: str | None, vars_: dict, models: list[str] | None) -> str:
    return json.dumps({"project": str(Path(project_dir).resolve()), "target": target, "vars": vars_,
                       "models": models})


def worker_app():
    """uvicorn's app factory in each worker process of ``serve --workers N``."""
    settings = json.loads(os.environ[ENV])
    from ..api import Project

    compiled = Project(settings["project"], settings["target"], settings["vars"]).compiled
    return build_service(compiled, settings["models"])
