"""``target/manifest.json``: every view's IR, dependencies, columns, fingerprint, compiled SQL.

Pure: builds the document and the artifact texts; the runtime writes them to ``target/``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from .artifact import project_section
from .batch import BatchUnsupported, as_of_sql, per_event_sql
from .batch.inputs import input_for
from .batch.windows import quote
from .config import DimensionDef, SourceDef
from .config.models import as_of_rule_text
from .ir import IR_VERSION
from .plan.stream import stream_plan
from .project.build import CompiledProject
from .project.models_check import model_feature_columns

MANIFEST_SCHEMA_VERSION = 2
MANIFEST_SCHEMA = f"https://skewless.dev/schemas/manifest/v{MANIFEST_SCHEMA_VERSION}.json"
VERSION = "0.1.0"
SPINE_TABLE = "skewless_spine"


def build_artifacts(compiled: CompiledProject, generated_at: datetime | None = None) -> dict[str, str | dict]:
    """Relative path under target/ -> text (``.sql``) or JSON document (``.json``)."""
    # sqlglot warns that BigQuery/Snowflake cannot spell Postgres' NULLS LAST inside OVER(); the
    # ORDER BY columns are the timestamp and unique keys, which are never NULL, so it does not matter.
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
    project = compiled.project
    cfg = project.config
    artifacts: dict[str, str | dict] = {}
    views_doc = {}
    declared: list[tuple[str, SourceDef | DimensionDef]] = [*project.sources.items(), *project.dimensions.items()]
    tables = {n: (src.batch.table or n) for n, src in declared}
    for name, view in sorted(compiled.views.items()):
        compiled_sql: dict[str, dict[str, Any]] = {}
        for dialect in cfg.batch_dialects:
            try:
                source = input_for(view, compiled.views, dialect, {n: quote(t) for n, t in tables.items()})
                per_event = per_event_sql(view, dialect, source, pretty=True)
                as_of = as_of_sql(view, dialect, source, SPINE_TABLE, pretty=True)
            except BatchUnsupported as exc:
                compiled_sql[dialect] = {"unsupported": [str(exc)]}
                continue
            rel = f"compiled/{dialect}/{name}.sql"
            artifacts[rel] = f"-- {name}: per-event relation ({dialect})\n{per_event}\n"
            rel_as_of = f"compiled/{dialect}/{name}.as_of.sql"
            artifacts[rel_as_of] = (f"-- {name}: as-of relation ({dialect}) for the spine table {SPINE_TABLE}"
                                    f"({', '.join(view.entity)}, __t, __spine_id)\n{as_of}\n")
            compiled_sql[dialect] = {"path": rel, "as_of_path": rel_as_of}
        views_doc[name] = {
            "name": name, "path": view.path, "fingerprint": view.fingerprint, "depends_on": view.depends_on,
            "input": view.input.model_dump(), "entity": view.entity,
            "columns": [{"name": c.name, "type": c.type, "kind": c.kind} for c in view.columns],
            "compiled": compiled_sql, "ir": view.model_dump(mode="json"),
        }
    models_doc = {}
    for name, model in sorted(project.models.items()):
        if not all(ref.view in compiled.views for ref in model.features):
            continue
        feats = model_feature_columns(model, compiled.views)
        models_doc[name] = {
            "definition": model.model_dump(mode="json"),
            "features": list(model.request_features) + [f for _, _, f in feats],
            "features_as_of": as_of_rule_text(model.features_as_of),
            "depends_on": sorted({ref.view for ref in model.features}),
            "view_fingerprints": {ref.view: compiled.views[ref.view].fingerprint for ref in model.features},
        }
    children: dict[str, list[str]] = {}
    for name, view in compiled.views.items():
        for dep in view.depends_on:
            children.setdefault(dep, []).append(name)
    for name, doc in models_doc.items():
        for dep in doc["depends_on"]:
            children.setdefault(dep, []).append(f"model.{name}")
    manifest = {
        "metadata": {
            "schema": MANIFEST_SCHEMA, "schema_version": MANIFEST_SCHEMA_VERSION, "ir_version": IR_VERSION,
            "skewless_version": VERSION,
            "generated_at": (generated_at or datetime.now(timezone.utc)).isoformat(),
            "project": cfg.name, "project_version": cfg.version, "target": project.target_name,
            "dialect": cfg.dialect, "batch_dialects": list(cfg.batch_dialects),
        },
        "sources": {n: s.model_dump(mode="json") for n, s in sorted(project.sources.items())},
        "dimensions": {n: d.model_dump(mode="json") for n, d in sorted(project.dimensions.items())},
        "views": views_doc,
        "models": models_doc,
        "project": project_section(compiled),
        "inputs": compiled.inputs,
        "child_map": {k: sorted(v) for k, v in sorted(children.items())},
    }
    artifacts["manifest.json"] = manifest
    artifacts["plan/stream.json"] = stream_plan(compiled.views)
    return artifacts
