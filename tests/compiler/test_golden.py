"""Golden files for the example project: the IR and compiled SQL of every view.

A change to lowering or SQL generation shows up here as a diff to review. To accept an intended
change: SKEWLESS_UPDATE_GOLDEN=1 pytest tests/compiler/test_golden.py, then read the diff.
Beyond the text, the compiled DuckDB SQL is executed on generated events: it must return exactly
one row per event that passes WHERE, with the view's columns.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from skewless.compiler.manifest import build_artifacts
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.datagen import GenConfig, generate

EXAMPLE = Path(__file__).parents[2] / "features"
GOLDEN = Path(__file__).parent / "golden"
VIEWS = ["card_activity", "merchant_customer_risk", "merchant_risk", "user_burst_peak", "user_merchant_mix",
         "user_merchant_risk", "user_sequence", "user_velocity"]


@pytest.fixture(scope="module")
def artifacts():
    compiled = build_project(load_project(EXAMPLE))
    assert not compiled.diagnostics
    return compiled, build_artifacts(compiled, generated_at=datetime(2026, 1, 1, tzinfo=timezone.utc))


def _check(path: Path, text: str) -> None:
    if os.environ.get("SKEWLESS_UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"missing golden {path.name}: run with SKEWLESS_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{path.name} changed; review and update the golden if intended"


@pytest.mark.parametrize("view", VIEWS)
def test_ir_golden(artifacts, view):
    compiled, _ = artifacts
    ir = compiled.views[view].model_dump(mode="json", exclude={"path"})
    _check(GOLDEN / f"{view}.ir.json", json.dumps(ir, indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("view", VIEWS)
def test_compiled_sql_golden(artifacts, view):
    _, arts = artifacts
    texts = {rel: content for rel, content in arts.items() if rel.endswith(f"/{view}.sql")}
    assert texts, "at least the DuckDB SQL is emitted"
    _check(GOLDEN / f"{view}.sql.txt", "".join(f"== {rel}\n{texts[rel]}" for rel in sorted(texts)))


@pytest.mark.parametrize("view", VIEWS)
def test_compiled_duckdb_sql_runs_one_row_per_event(artifacts, view):
    compiled, arts = artifacts
    tables = generate(GenConfig(events=3000, days=2, seed=3))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("transactions", tables["transactions"])
    con.register("merchants", tables["merchants"])
    ir = compiled.views[view]
    rel = con.sql(arts[f"compiled/duckdb/{view}.sql"])
    assert rel.columns == [c.name for c in ir.columns]
    expected = con.execute(f"SELECT count(*) FROM transactions WHERE {ir.where or 'TRUE'}").fetchall()[0][0]
    assert rel.aggregate("count(*)").fetchall()[0][0] == expected
