"""The compiled artifact: what ``skewless compile`` writes to ``target/`` and every other command loads.

``target/manifest.json`` (`manifest.MANIFEST_SCHEMA_VERSION`) carries every view's IR, the project's
declarations the runtime needs (``sources``, ``dimensions``, ``models``, ``project``) and ``inputs``:
what the artifact was compiled from — a digest of every project file the compiler reads, of the
``--vars`` given, of each environment variable a template read with ``env_var()``, and of the
compiler's own code. `load_compiled` returns the compiled project from the artifact when all of
them are unchanged, and otherwise the reason it is stale (the runtime then compiles and rewrites
it: `compile_project` is the only entry to the compiler a command runs).

The target (profiles.yml: DSNs, tokens) is never stored: it is read again on every load.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .config import DimensionDef, ModelDef, ProjectConfig, SourceDef
from .config.base import DURATIONS_US
from .config.project import PROJECT_FILE
from .errors import DiagnosticBag, SkewlessError
from .ir import IR_VERSION, FeatureView
from .project.build import CompiledProject, build_project
from .project.loader import ModelLocation, Project, load_config, load_project, load_target
from .render.context import recording_env

MANIFEST_FILE = "manifest.json"
_YAML = ("*.yml", "*.yaml")


def compile_project(root: Path | str, vars_override: dict[str, Any] | None = None,
                    target: str | None = None) -> CompiledProject:
    """Read and compile the project (diagnostics in ``.diagnostics``), remembering its inputs."""
    with recording_env() as env:
        project = load_project(Path(root), vars_override, target)
        compiled = build_project(project)
    compiled.inputs = project_inputs(project.root, project.config, vars_override, env)
    return compiled


def project_inputs(root: Path, config: ProjectConfig, vars_override: dict[str, Any] | None,
                   env: dict[str, str | None]) -> dict[str, Any]:
    """The digest of what a compile reads (stored as the manifest's ``inputs``)."""
    files = {PROJECT_FILE: _file_digest(root / PROJECT_FILE)}
    for dirs, patterns in ((config.source_paths, _YAML), (config.model_paths, _YAML),
                           (config.macro_paths, ("*.sql",)), (config.feature_paths, ("*.sql",))):
        for directory in dirs:
            for pattern in patterns:
                for path in sorted((root / directory).glob(f"**/{pattern}")):
                    files[path.relative_to(root).as_posix()] = _file_digest(path)
    return {
        "files": dict(sorted(files.items())),
        "vars": _digest(json.dumps(vars_override or {}, sort_keys=True, default=str).encode()),
        "env": {name: None if value is None else _digest(value.encode()) for name, value in sorted(env.items())},
        "compiler": compiler_digest(),
        "cwd": os.getcwd(),
    }


class _ProjectSection(BaseModel):
    """The manifest's ``project``: the declarations the runtime reads, besides views and models."""

    config: ProjectConfig
    source_files: dict[str, str]
    source_positions: dict[str, tuple[int, int]]
    model_locations: dict[str, ModelLocation]


def project_section(compiled: CompiledProject) -> dict[str, Any]:
    project = compiled.project
    return _ProjectSection(config=project.config, source_files=project.source_files,
                           source_positions=project.source_positions,
                           model_locations=project.model_locations_of()).model_dump(mode="json")


def load_compiled(root: Path | str, vars_override: dict[str, Any] | None = None,
                  target: str | None = None) -> CompiledProject | str:
    """The compiled project from ``target/manifest.json``, or why that artifact cannot be used
    (missing, another schema/IR version, unreadable, stale). Raises `SkewlessError` when the
    project file or the target is invalid."""
    bag = DiagnosticBag()
    root, config = load_config(Path(root), bag)
    path = root / config.target_path / MANIFEST_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return "not compiled yet"
    except (OSError, ValueError) as exc:
        return f"{MANIFEST_FILE} is unreadable ({exc})"
    from .manifest import MANIFEST_SCHEMA_VERSION

    meta = doc.get("metadata") if isinstance(doc, dict) else None
    if not isinstance(meta, dict) or meta.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        return f"{MANIFEST_FILE} has another schema version"
    if meta.get("ir_version") != IR_VERSION:
        return f"{MANIFEST_FILE} holds IR version {meta.get('ir_version')}, this compiler writes {IR_VERSION}"
    stored = doc.get("inputs")
    if not isinstance(stored, dict) or not isinstance(stored.get("env"), dict) or not isinstance(stored.get("cwd"), str):
        return f"{MANIFEST_FILE} does not say what it was compiled from"
    current = project_inputs(root, config, vars_override, {n: os.environ.get(n) for n in stored["env"]})
    for key, what in (("compiler", "the compiler changed"), ("files", "project files changed"),
                      ("vars", "--vars differ"), ("env", "environment variables read by the project changed")):
        if stored.get(key) != current[key]:
            return what
    try:
        section = _ProjectSection.model_validate(doc["project"], context=DURATIONS_US)
        views = {name: FeatureView.model_validate(v["ir"]) for name, v in doc["views"].items()}
        sources = {n: SourceDef.model_validate(s, context=DURATIONS_US) for n, s in doc["sources"].items()}
        dimensions = {n: DimensionDef.model_validate(d, context=DURATIONS_US) for n, d in doc["dimensions"].items()}
        models = {n: ModelDef.model_validate(m["definition"], context=DURATIONS_US) for n, m in doc["models"].items()}
    except (KeyError, TypeError, AttributeError, ValidationError) as exc:  # a hand-edited or foreign file
        return f"{MANIFEST_FILE} does not validate ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
    target_name, target_def = load_target(root, config, target, bag)
    if bag.items:
        raise SkewlessError(list(bag.items))
    moved = _redisplay(stored["cwd"])
    project = Project(
        root=root, config=section.config, vars={**section.config.vars, **(vars_override or {})},
        target_name=target_name, target=target_def, sources=sources, dimensions=dimensions, models=models,
        source_files={n: moved(p) for n, p in section.source_files.items()},
        source_positions=section.source_positions,
        model_locations={n: loc.model_copy(update={"file": moved(loc.file)})
                         for n, loc in section.model_locations.items()},
    )
    views = {n: v.model_copy(update={"path": moved(v.path)}) for n, v in views.items()}
    return CompiledProject(project, views, inputs=stored)


def _redisplay(compiled_in: str):
    """Diagnostics name files relative to the working directory: the one the artifact was compiled
    in may not be this process's."""
    here = os.getcwd()
    if compiled_in == here:
        return lambda p: p

    def moved(p: str) -> str:
        if os.path.isabs(p) or p.startswith("model "):  # a path, or `model_location`'s stand-in
            return p
        try:
            return os.path.relpath(os.path.normpath(os.path.join(compiled_in, p)), here)
        except ValueError:
            return p
    return moved


def _file_digest(path: Path) -> str | None:
    try:
        return _digest(path.read_bytes())
    except OSError:
        return None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    """The compiler's own code: an artifact compiled by other code is stale."""
    h = hashlib.sha256()
    base = Path(__file__).parent
    for path in sorted(base.rglob("*.py")):
        h.update(path.relative_to(base).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:32]
