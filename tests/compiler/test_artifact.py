"""The compiled artifact (compiler/artifact.py): what ``compile`` writes is what every command loads,
and a change to anything the compile read makes it stale."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skewless.compiler.artifact import compile_project, load_compiled
from skewless.compiler.manifest import build_artifacts

VIEW = """
SELECT txn_id, user_id, ts,
       SUM(amount) OVER (PARTITION BY user_id ORDER BY ts
                         RANGE BETWEEN INTERVAL '{{ var("window", "1 hour") }}' PRECEDING AND CURRENT ROW) AS s
FROM {{ source('tx') }}
WHERE amount >= {{ var('min_amount') }}
"""

ENV_VIEW = """
SELECT txn_id, user_id, ts,
       COUNT(*) OVER (PARTITION BY user_id ORDER BY ts
                      RANGE BETWEEN INTERVAL '{{ env_var("SKEWLESS_TEST_WINDOW", "1 day") }}' PRECEDING
                      AND CURRENT ROW) AS n
FROM {{ source('tx') }}
"""

MODEL = """
models:
  - name: m
    label: {source: labels, column: y}
    features:
      - {view: v, columns: [s]}
    on_demand:
      big: "v__s > 100"
"""

LABELS = """
sources:
  - name: labels
    timestamp: ts
    columns:
      - {name: user_id, type: text}
      - {name: y, type: integer}
      - {name: ts, type: timestamptz}
"""


def _write(compiled, vars_=None):
    artifacts = build_artifacts(compiled)
    target = compiled.project.target_dir
    for rel, content in artifacts.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if isinstance(content, dict) else content)


@pytest.fixture
def project(make_project):
    root = make_project({"v": VIEW, "e": ENV_VIEW},
                        {"models/m.yml": MODEL, "sources/labels.yml": LABELS})
    compiled = compile_project(root)
    assert not compiled.diagnostics, compiled.diagnostics
    _write(compiled)
    return root, compiled


def test_the_loaded_artifact_is_the_compiled_project(project):
    root, compiled = project
    loaded = load_compiled(root)
    assert not isinstance(loaded, str), loaded
    assert loaded.views == compiled.views  # the IR, field for field (frozen pydantic models)
    p, q = loaded.project, compiled.project
    assert (p.root, p.config, p.vars, p.target_name, p.target) == (q.root, q.config, q.vars, q.target_name, q.target)
    assert (p.sources, p.dimensions, p.models) == (q.sources, q.dimensions, q.models)
    assert (p.source_files, p.source_positions) == (q.source_files, q.source_positions)
    # diagnostics name the same places without the YAML the compile read
    assert p.model_location("m") == q.model_location("m")
    assert p.model_location("m", on_demand="big") == q.model_location("m", on_demand="big")
    assert q.model_location("m", on_demand="big")[1:] == (8, 7)


@pytest.mark.parametrize("change, reason", [
    (lambda root: (root / "features" / "v.sql").write_text(VIEW.replace("1 hour", "2 hours")), "project files changed"),
    (lambda root: (root / "features" / "w.sql").write_text(VIEW), "project files changed"),
    (lambda root: (root / "features" / "e.sql").unlink(), "project files changed"),
    (lambda root: (root / "macros" / "helpers.sql").write_text("{% macro x() %}1{% endmacro %}"),
     "project files changed"),
    (lambda root: (root / "sources" / "labels.yml").write_text(LABELS + "\n"), "project files changed"),
    (lambda root: (root / "skewless_project.yml").write_text(
        (root / "skewless_project.yml").read_text().replace("min_amount: 0", "min_amount: 5")),
     "project files changed"),
])
def test_a_changed_input_makes_it_stale(project, change, reason):
    root, _ = project
    change(root)
    assert load_compiled(root) == reason


def test_vars_and_read_environment_variables_are_inputs(project, monkeypatch):
    root, _ = project
    assert load_compiled(root, {"min_amount": 5}) == "--vars differ"
    monkeypatch.setenv("SKEWLESS_TEST_UNREAD", "x")  # not read by any template: still fresh
    assert not isinstance(load_compiled(root), str)
    monkeypatch.setenv("SKEWLESS_TEST_WINDOW", "2 days")
    assert load_compiled(root) == "environment variables read by the project changed"
    compiled = compile_project(root)
    _write(compiled)
    assert compiled.views["e"].aggregates[0].frame.start.offset == 2 * 86_400_000_000
    assert not isinstance(load_compiled(root), str)
    monkeypatch.delenv("SKEWLESS_TEST_WINDOW")
    assert load_compiled(root) == "environment variables read by the project changed"


def test_unusable_artifacts_say_why(project):
    root, _ = project
    path = root / "target" / "manifest.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "metadata": {**doc["metadata"], "schema_version": 1}}))
    assert load_compiled(root) == "manifest.json has another schema version"
    path.write_text(json.dumps({**doc, "metadata": {**doc["metadata"], "ir_version": 0}}))
    assert "IR version 0" in load_compiled(root)
    path.write_text(json.dumps({**doc, "inputs": {**doc["inputs"], "compiler": "0" * 32}}))
    assert load_compiled(root) == "the compiler changed"
    broken = json.loads(json.dumps(doc))
    broken["views"]["v"]["ir"]["aggregates"][0]["func"] = "median"
    path.write_text(json.dumps(broken))
    assert load_compiled(root).startswith("manifest.json does not validate")
    path.write_text(json.dumps({**doc, "views": list(doc["views"])}))  # the right inputs, a wrong shape
    assert load_compiled(root).startswith("manifest.json does not validate")
    path.write_text(json.dumps({**doc, "models": {"m": None}}))
    assert load_compiled(root).startswith("manifest.json does not validate")
    inputs = dict(doc["inputs"])
    del inputs["cwd"]
    path.write_text(json.dumps({**doc, "inputs": inputs}))
    assert load_compiled(root) == "manifest.json does not say what it was compiled from"
    path.write_text(path.read_text()[:100])
    assert load_compiled(root).startswith("manifest.json is unreadable")
    path.unlink()
    assert load_compiled(root) == "not compiled yet"


def test_paths_are_named_from_the_loading_process_working_directory(project, monkeypatch):
    root, compiled = project
    assert Path(compiled.views["v"].path).resolve() == (root / "features" / "v.sql").resolve()
    monkeypatch.chdir(root / "features")
    loaded = load_compiled(root)
    assert loaded.views["v"].path == "v.sql"
    assert loaded.project.source_files["labels"] == os.path.join("..", "sources", "labels.yml")


def test_the_target_is_read_again_and_never_stored(project, monkeypatch):
    root, _ = project
    (root / "profiles.yml").write_text(
        "fixture:\n  target: dev\n  targets:\n    dev: {serve_token: \"{{ env_var('SKEWLESS_TEST_TOKEN') }}\"}\n"
        "    prod: {workers: 3}\n")
    monkeypatch.setenv("SKEWLESS_TEST_TOKEN", "s3cret-token")
    compiled = compile_project(root)
    _write(compiled)
    assert "s3cret" not in (root / "target" / "manifest.json").read_text()
    monkeypatch.setenv("SKEWLESS_TEST_TOKEN", "rotated")  # a secret is not an input of the compile
    loaded = load_compiled(root)
    assert loaded.project.target.serve_token == "rotated"
    assert load_compiled(root, target="prod").project.target.workers == 3
