"""Read a project directory: project file, profiles, sources, models, macros and view files.

Nothing here executes anything; every problem becomes a `Diagnostic` naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2
import jinja2.sandbox
from pydantic import BaseModel, ValidationError

from ..config import DimensionDef, ModelDef, ModelsFile, Profile, ProjectConfig, SourceDef, SourcesFile, Target
from ..config.project import PROJECT_FILE
from ..errors import Diagnostic, DiagnosticBag, SkewlessError
from ..render.context import TemplateCallError, env_var_value, not_recording_env
from ..render.safe import TemplateLimit, read_text, render_limited, sandbox
from .yaml_positions import PosDict, load_yaml_text, locate

M = TypeVar("M", bound=BaseModel)
PROFILES_FILE = "profiles.yml"
VIEW_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME = 63            # Postgres truncates identifiers beyond 63 bytes


@dataclass
class ViewFile:
    name: str
    path: Path
    rel: str
    text: str


class ModelLocation(BaseModel):
    file: str
    at: tuple[int, int]
    on_demand: dict[str, tuple[int, int]] = {}


@dataclass
class Project:
    root: Path
    config: ProjectConfig
    vars: dict[str, Any]
    target_name: str
    target: Target
    sources: dict[str, SourceDef] = field(default_factory=dict)
    source_files: dict[str, str] = field(default_factory=dict)  # sources and dimensions -> their file
    dimensions: dict[str, DimensionDef] = field(default_factory=dict)
    source_positions: dict[str, tuple[int, int]] = field(default_factory=dict)  # (line, col) of each name
    models: dict[str, ModelDef] = field(default_factory=dict)
    model_files: dict[str, tuple[str, Any, int]] = field(default_factory=dict)
    views: dict[str, ViewFile] = field(default_factory=dict)
    macro_files: list[Path] = field(default_factory=list)
    diagnostics: DiagnosticBag = field(default_factory=DiagnosticBag)
    # a project loaded from its compiled artifact has no YAML data: the places diagnostics name
    model_locations: dict[str, ModelLocation] = field(default_factory=dict)

    def model_location(self, name: str, on_demand: str | None = None) -> tuple[str, int, int]:
        """Where model ``name`` (or its on-demand feature) is declared: file, line, column."""
        if name in self.model_files:
            where, data, index = self.model_files[name]
            path: tuple = ("models", index) if on_demand is None else ("models", index, "on_demand", on_demand)
            return (where, *locate(data, path))
        if name in self.model_locations:
            loc = self.model_locations[name]
            line, col = loc.on_demand.get(on_demand, loc.at) if on_demand else loc.at
            return loc.file, line, col
        return f"model {name}", 1, 1

    def model_locations_of(self) -> dict[str, ModelLocation]:
        """Every model's `model_location`s (what the compiled artifact stores)."""
        out = {}
        for name, model in self.models.items():
            where, line, col = self.model_location(name)
            out[name] = ModelLocation(file=where, at=(line, col), on_demand={
                f: self.model_location(name, f)[1:] for f in model.on_demand})
        return out

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)

    @property
    def target_dir(self) -> Path:
        return self.root / self.config.target_path


def _validate(model: type[M], data: Any, path: str, bag: DiagnosticBag) -> M | None:
    try:
        return model.model_validate(data)
    except RecursionError:
        bag.add(path, 1, 1, "nested too deeply", "a project file is a few levels of mappings and lists")
        return None
    except ValidationError as exc:
        for err in exc.errors():
            line, col = locate(data, tuple(err["loc"]))
            where = ".".join(str(p) for p in err["loc"]) or "file"
            msg = err["msg"].removeprefix("Value error, ")
            bag.add(path, line, col, f"{where}: {msg}", f"see docs/project.md for the {model.__name__} fields")
        return None


def _render_yaml(path: Path, display: str, bag: DiagnosticBag) -> Any:
    """Render a YAML file through Jinja (for env_var()/var()) and load it with positions."""
    text = read_text(path, display, bag)
    if text is None:
        return None
    if "{{" in text or "{%" in text:
        try:
            text = render_limited(sandbox().from_string(text), env_var=env_var_value)
        except TemplateCallError as exc:
            bag.add(display, 1, 1, exc.message, exc.hint)
            return None
        except jinja2.sandbox.SecurityError as exc:
            bag.add(display, 1, 1, f"Jinja: not allowed in a template: {exc}", "templates run sandboxed")
            return None
        except jinja2.TemplateError as exc:
            bag.add(display, getattr(exc, "lineno", 1) or 1, 1, f"Jinja error: {exc}", "")
            return None
        except RecursionError:
            bag.add(display, 1, 1, "Jinja: template recursion too deep", "")
            return None
        except TemplateLimit as exc:
            bag.add(display, 1, 1, f"Jinja: {exc}", "templates run with time and size limits")
            return None
    try:
        return load_yaml_text(text, display)
    except SkewlessError as exc:
        bag.extend(exc.diagnostics)
        return None


def find_project_root(start: Path) -> Path:
    here = start.resolve()
    for candidate in (here, *here.parents):
        if (candidate / PROJECT_FILE).exists():
            return candidate
    raise SkewlessError(Diagnostic(str(start), 1, 1, f"no {PROJECT_FILE} found here or in any parent directory",
                                   "run inside a skewless project, pass --project DIR, or create one with skewless init"))


def load_config(root: Path, bag: DiagnosticBag) -> tuple[Path, ProjectConfig]:
    """The project's root and its project file (raises `SkewlessError` when there is none)."""
    root = find_project_root(root)
    proj_path = root / PROJECT_FILE
    data = _render_yaml(proj_path, _display(proj_path), bag)
    config = _validate(ProjectConfig, data or PosDict(), _display(proj_path), bag) if data is not None else None
    if config is None:
        raise SkewlessError(bag.items or [Diagnostic(_display(proj_path), 1, 1, "empty project file", "")])
    assert isinstance(config, ProjectConfig)
    return root, config


def load_target(root: Path, config: ProjectConfig, target: str | None, bag: DiagnosticBag) -> tuple[str, Target]:
    """The target's name and settings from profiles.yml. Read on every command (never stored in the
    compiled artifact: a target holds DSNs and tokens), and not recorded as an input of it."""
    with not_recording_env():
        profile, target_name = _load_profile(root, config, target, bag)
    return target_name, profile.targets[target_name] if profile else Target()


def load_project(root: Path, vars_override: dict[str, Any] | None = None, target: str | None = None) -> Project:
    bag = DiagnosticBag()
    root, config = load_config(root, bag)
    display = lambda p: _display(p)  # noqa: E731
    vars_ = {**config.vars, **(vars_override or {})}
    target_name, target_def = load_target(root, config, target, bag)
    project = Project(root=root, config=config, vars=vars_, target_name=target_name, target=target_def,
                      diagnostics=bag)
    _load_sources(project)
    _load_models(project)
    for macro_dir in config.macro_paths:
        project.macro_files.extend(sorted((root / macro_dir).glob("**/*.sql")))
    for feature_dir in config.feature_paths:
        for path in sorted((root / feature_dir).glob("**/*.sql")):
            name = path.stem
            problem = view_name_problem(name)
            if problem:
                bag.add(display(path), 1, 1, problem, "view names are SQL identifiers: letters, digits and _, "
                        f"not starting with a digit, at most {MAX_NAME} characters")
                continue
            text = read_text(path, display(path), bag)
            if text is None:
                continue
            if name in project.views:
                bag.add(display(path), 1, 1, f"duplicate view name {name!r}", f"also defined in {project.views[name].rel}")
                continue
            project.views[name] = ViewFile(name, path, display(path), text)
    return project


def view_name_problem(name: str) -> str | None:
    if not VIEW_NAME.fullmatch(name):
        return f"view name {name!r} (the file name) is not an identifier"
    if len(name) > MAX_NAME:
        return f"view name {name[:20]!r}... is {len(name)} characters long"
    return None


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _load_profile(root: Path, config: ProjectConfig, target: str | None, bag: DiagnosticBag) -> tuple[Profile | None, str]:
    directory = Path(os.environ.get("SKEWLESS_PROFILES_DIR", root))
    path = directory / PROFILES_FILE
    if not path.exists():
        profile = Profile()
        name = target or profile.target
        if name not in profile.targets:
            bag.add(_display(root / PROJECT_FILE), 1, 1, f"unknown target {name!r}", f"no {PROFILES_FILE}; only 'dev' exists")
            return None, "dev"
        return profile, name
    data = _render_yaml(path, _display(path), bag)
    if data is None:
        return None, "dev"
    if not isinstance(data, dict) or config.profile_name not in data:
        known = ", ".join(map(str, data)) if isinstance(data, dict) else "none"
        bag.add(_display(path), 1, 1, f"profile {config.profile_name!r} is not defined",
                f"profiles in the file: {known}")
        return None, "dev"
    validated = _validate(Profile, data[config.profile_name], _display(path), bag)
    if validated is None:
        return None, "dev"
    profile = validated
    name = target or profile.target
    if name not in profile.targets:
        bag.add(_display(path), 1, 1, f"unknown target {name!r}", f"targets: {', '.join(profile.targets)}")
        return None, "dev"
    return profile, name


def _load_sources(project: Project) -> None:
    for src_dir in project.config.source_paths:
        for path in sorted((project.root / src_dir).glob("**/*.yml")) + sorted((project.root / src_dir).glob("**/*.yaml")):
            display = _display(path)
            data = _render_yaml(path, display, project.diagnostics)
            if data is None:
                continue
            parsed = _validate(SourcesFile, data, display, project.diagnostics)
            if parsed is None:
                continue
            declared: list[tuple[str, list[Any], dict[str, Any]]] = [
                ("sources", list(parsed.sources), project.sources),
                ("dimensions", list(parsed.dimensions), project.dimensions)]
            for section, items, into in declared:
                for i, item in enumerate(items):
                    if item.name in project.sources or item.name in project.dimensions:
                        line, col = locate(data, (section, i, "name"))
                        project.diagnostics.add(display, line, col, f"duplicate source {item.name!r}",
                                                f"also declared in {project.source_files[item.name]}")
                        continue
                    into[item.name] = item
                    project.source_files[item.name] = display
                    project.source_positions[item.name] = locate(data, (section, i, "name"))


def _load_models(project: Project) -> None:
    for model_dir in project.config.model_paths:
        for path in sorted((project.root / model_dir).glob("**/*.yml")) + sorted((project.root / model_dir).glob("**/*.yaml")):
            display = _display(path)
            data = _render_yaml(path, display, project.diagnostics)
            if data is None:
                continue
            parsed = _validate(ModelsFile, data, display, project.diagnostics)
            if parsed is None:
                continue
            for i, model in enumerate(parsed.models):
                if model.name in project.models:
                    line, col = locate(data, ("models", i, "name"))
                    project.diagnostics.add(display, line, col, f"duplicate model {model.name!r}", "")
                    continue
                project.models[model.name] = model
                project.model_files[model.name] = (display, data, i)
