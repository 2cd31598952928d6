"""Project -> IR: render every view, order them by ref(), lower them, check models."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..config import DimensionDef, SourceDef
from ..errors import Diagnostic, DiagnosticBag, ViewError
from ..ir import FeatureView
from ..lower.joins import DimSchema
from ..lower.view import InputSchema, ViewMeta, lower_view
from ..render.context import RenderContext
from ..render.jinja import Rendered, Renderer
from .loader import Project
from .models_check import check_model


@dataclass
class CompiledProject:
    project: Project
    views: dict[str, FeatureView] = field(default_factory=dict)
    rendered: dict[str, Rendered] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    inputs: dict | None = None  # what it was compiled from (`compiler.artifact.project_inputs`)

    @property
    def ok(self) -> bool:
        return not self.diagnostics


def source_schema(src: SourceDef, default_lateness: int) -> InputSchema:
    return InputSchema("source", src.name, src.name, src.column_types(), src.timestamp, list(src.unique_key),
                       src.allowed_lateness if src.allowed_lateness is not None else default_lateness)


def view_schema(view: FeatureView) -> InputSchema | str:
    """A view's per-event output as the input of a downstream view (or why it cannot be one)."""
    cols = {c.name: c.type for c in view.columns}
    ts_col = view.timestamp_output
    if ts_col is None:
        return f"view {view.name!r} does not output its timestamp column {view.timestamp!r}; add it to its select list"
    passthrough = view.passthrough()
    key = [passthrough[k] for k in view.unique_key] if all(k in passthrough for k in view.unique_key) else []
    return InputSchema("view", view.name, view.root_source, cols, ts_col, key, view.allowed_lateness_us)


def joinable_schema(view: FeatureView, source: SourceDef | None) -> DimSchema:
    """A view another view may LEFT JOIN: its rows keyed by the columns passing the unique key of
    its root source through."""
    passes = {c.name: c.column for c in view.columns if c.kind == "passthrough" and c.column is not None}
    key = [] if source is None else list(source.unique_key)
    passing = {col: src for col, src in passes.items() if src in key and view.input.kind == "source"}
    return DimSchema(view.name, {c.name: c.type for c in view.columns}, list(passing), view=True, passes=passing,
                     root_source=view.root_source)


def dim_schema(dim: DimensionDef) -> DimSchema:
    return DimSchema(dim.name, dim.column_types(), list(dim.key), dim.valid_from, dim.valid_to)


def fingerprint(view: FeatureView, upstream: list[str], source: SourceDef | None,
                dims: Sequence[DimensionDef] = ()) -> str:
    # not `column` of an output column: derived from its expression (fingerprints predate the field)
    leave_out: Any = {"path": True, "fingerprint": True, "sql": True, "description": True, "tags": True,
                 "columns": {"__all__": {"column"}}}
    payload = view.model_dump(mode="json", exclude=leave_out)
    payload["upstream"] = upstream
    if not payload["joins"]:
        del payload["joins"]  # views without joins keep the fingerprints they had before joins existed
    if not payload["view_joins"]:
        del payload["view_joins"]
    if dims:
        payload["dimensions"] = [d.model_dump(mode="json", include={"columns", "key", "valid_from", "valid_to"})
                                 for d in dims]
    if source is not None:
        payload["source"] = source.model_dump(mode="json", include={"columns", "timestamp", "unique_key", "allowed_lateness"})
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build_project(project: Project) -> CompiledProject:
    bag = DiagnosticBag(list(project.diagnostics.items))
    out = CompiledProject(project)
    renderer = Renderer(project.vars, project.macro_files)
    bag.extend(renderer.macro_errors)
    names = set(project.views)
    for name in sorted((project.sources.keys() | project.dimensions.keys()) & names):
        bag.add(project.views[name].rel, 1, 1, f"view {name!r} has the same name as a source", "rename the view file")
    for name, vf in project.views.items():
        ctx = RenderContext(sources=set(project.sources) | set(project.dimensions), views=names - {name}, vars=project.vars)
        result = renderer.render(vf.rel, vf.text, ctx)
        if isinstance(result, Diagnostic):
            bag.extend([result])
        else:
            out.rendered[name] = result
    order = _topological(out.rendered, project, bag)
    for name in order:
        rendered = out.rendered[name]
        ctx = rendered.context
        if not ctx.config.get("enabled", True):
            continue
        inputs: dict[str, InputSchema] = {}
        for s in ctx.used_sources:
            if s in project.sources:
                inputs[s] = source_schema(project.sources[s], project.config.allowed_lateness)
        missing = False
        for r in ctx.used_refs:
            if r not in out.views:
                missing = True  # upstream failed or disabled: reported there
                if r in out.rendered and not out.rendered[r].context.config.get("enabled", True):
                    line, col = _call_position(rendered, "ref", r)
                    bag.add(rendered.path, line, col, f"ref({r!r}) points at a disabled view", "enable it or remove the ref")
                continue
            schema = view_schema(out.views[r])
            if isinstance(schema, str):
                line, col = _call_position(rendered, "ref", r)
                bag.add(rendered.path, line, col, schema, "a downstream view orders by the upstream timestamp")
                missing = True
                continue
            inputs[r] = schema
        if missing:
            continue
        meta = ViewMeta(name=name, path=rendered.path, description=ctx.config.get("description", ""),
                        tags=list(ctx.config.get("tags", [])), online=ctx.config.get("online", True),
                        dialect=project.config.dialect)
        try:
            view = lower_view(rendered.sql, meta, inputs, frozenset(project.sources) | frozenset(project.views),
                              dims={d: dim_schema(project.dimensions[d]) for d in ctx.used_sources
                                    if d in project.dimensions},
                              joinable={r: joinable_schema(out.views[r], project.sources.get(out.views[r].root_source))
                                        for r in ctx.used_refs})
        except ViewError as exc:
            line, col = rendered.linemap.original(exc.offset)
            bag.add(rendered.path, line, col, exc.message, exc.hint)
            continue
        except RecursionError:
            bag.add(rendered.path, 1, 1, "expression nested too deeply to compile", "simplify the expression")
            continue
        except Exception as exc:  # noqa: BLE001 - a compiler bug still names the file, never a traceback
            bag.add(rendered.path, 1, 1, f"internal compiler error: {type(exc).__name__}: {exc}",
                    "please report this view; set SKEWLESS_DEBUG=1 for details")
            if os.environ.get("SKEWLESS_DEBUG"):
                raise
            continue
        upstream = [out.views[d].fingerprint for d in view.depends_on]
        src = project.sources.get(view.root_source)
        dims = [project.dimensions[j.dimension] for j in view.joins]
        out.views[name] = view.model_copy(update={"fingerprint": fingerprint(view, upstream, src, dims)})
    for model in project.models.values():
        path, data, index = project.model_files[model.name]
        for diag in check_model(model, project, out.views, path, data, index):
            bag.extend([diag])
    out.diagnostics = sorted(bag.items)
    return out


def _call_position(rendered: Rendered, func: str, name: str) -> tuple[int, int]:
    for i, line in enumerate(rendered.original.splitlines(), 1):
        for quote in ("'", '"'):
            pos = line.find(f"{func}({quote}{name}{quote})")
            if pos >= 0:
                brace = line.rfind("{{", 0, pos)
                return i, (brace if brace >= 0 else pos) + 1
    return 1, 1


def _topological(rendered: dict[str, Rendered], project: Project, bag: DiagnosticBag) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}
    cyclic: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if state.get(name) == 2 or name not in rendered:
            return
        if state.get(name) == 1:
            cycle = stack[stack.index(name):] + [name]
            for a, b in zip(cycle, cycle[1:]):
                if a not in cyclic:
                    cyclic.add(a)
                    line, col = _call_position(rendered[a], "ref", b)
                    bag.add(rendered[a].path, line, col, f"ref() cycle: {' -> '.join(cycle)}",
                            "views must form a DAG: remove one of these refs")
            return
        state[name] = 1
        for dep in rendered[name].context.used_refs:
            visit(dep, stack + [name])
        state[name] = 2
        order.append(name)

    for name in sorted(rendered):
        visit(name, [])
    return [n for n in order if n not in cyclic]
