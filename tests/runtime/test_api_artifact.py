"""The Python API over the compiled artifact: a `Project` loads target/manifest.json when it is
fresh, compiles and writes it when it is missing or stale, and never reads a stale one."""

from __future__ import annotations

import json

import pytest

import skewless
from skewless.compiler.errors import SkewlessError
from skewless.runtime import api

VIEW = """
SELECT txn_id, user_id, ts,
       COUNT(*) OVER (PARTITION BY user_id ORDER BY ts
                      RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS n
FROM {{ source('tx') }}
"""


def _no_compiler(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the compiler ran although the artifact is fresh")

    monkeypatch.setattr(api, "compile_project", refuse)


def test_commands_load_the_artifact_and_compile_only_when_it_is_stale(make_project, monkeypatch):
    root = make_project({"v": VIEW})
    manifest = root / "target" / "manifest.json"
    assert not manifest.exists()
    first = skewless.Project(root).compiled  # not compiled yet: compiles and writes the artifact
    assert json.loads(manifest.read_text())["views"]["v"]["fingerprint"] == first.views["v"].fingerprint
    assert (root / "target" / "compiled" / "duckdb" / "v.sql").exists()

    with monkeypatch.context() as m:
        _no_compiler(m)
        loaded = skewless.Project(root).compiled
    assert loaded.views == first.views and loaded.inputs == first.inputs

    (root / "features" / "v.sql").write_text(VIEW.replace("1 hour", "2 hours"))
    changed = skewless.Project(root).compiled
    assert changed.views["v"].aggregates[0].frame.start.offset == 7_200_000_000
    assert changed.views["v"].fingerprint != first.views["v"].fingerprint
    with monkeypatch.context() as m:
        _no_compiler(m)
        assert skewless.Project(root).compiled.views == changed.views

    # an invalid edit is reported, and the old artifact is not used in its place
    (root / "features" / "v.sql").write_text(VIEW.replace("COUNT(*)", "COUNT(nope)"))
    with pytest.raises(SkewlessError) as exc:
        _ = skewless.Project(root).compiled
    assert "nope" in str(exc.value.diagnostics[0].message)
    assert json.loads(manifest.read_text())["views"]["v"]["fingerprint"] == changed.views["v"].fingerprint


def test_validate_always_runs_the_compiler(make_project, monkeypatch):
    root = make_project({"v": VIEW})
    skewless.Project(root).compile()
    with monkeypatch.context() as m:
        _no_compiler(m)
        with pytest.raises(AssertionError, match="the compiler ran"):
            skewless.Project(root).validate()
    assert skewless.Project(root).validate() == []


def test_a_read_only_project_still_runs_and_compile_says_why_it_cannot_write(make_project, monkeypatch):
    from skewless.runtime import artifacts

    def refuse(*_a, **_k):
        raise PermissionError(13, "Permission denied", "target")

    root = make_project({"v": VIEW})
    monkeypatch.setattr(artifacts, "write_artifacts", refuse)
    assert skewless.Project(root).compiled.views["v"].aggregates[0].func == "count_star"
    assert not (root / "target" / "manifest.json").exists()
    with pytest.raises(SkewlessError) as exc:
        skewless.Project(root).compile()
    assert "cannot write the compiled artifact" in exc.value.diagnostics[0].message
