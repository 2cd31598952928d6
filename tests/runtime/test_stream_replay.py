"""`skewless replay` end to end through the Bytewax dataflow: out-of-order JSONL events with
malformed lines and events later than the allowed lateness. The per-event rows equal the views' own
SQL run by Postgres (DuckDB for COUNT(DISTINCT) OVER) on the events that were not late; malformed
and late events are in the dead-letter output with their reasons; the job never stops."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.engines import DuckDBEngine, PostgresEngine
from skewless.runtime.sources.files import read_batch_source
from tests.support.compare import diff

pytestmark = pytest.mark.postgres
EXAMPLE = Path(__file__).parents[2] / "features"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("replay") / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=2, seed=5, late_rate=0.01, late_by_s=600)), root / "data")
    with open(root / "data" / "transactions.jsonl", "a") as fh:
        fh.write("{not json\n")
        fh.write(json.dumps({"txn_id": "bad1", "user_id": "u1", "amount": "lots", "ts": "2026-10-01T00:00:00Z"}) + "\n")
        fh.write(json.dumps({"txn_id": "bad2", "user_id": "u1", "amount": 1.0}) + "\n")
    return root


def test_replay_equals_original_sql_on_events_that_were_not_late(project, pg_dsn):
    out = project / "target" / "stream"
    proc = subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), "replay",
                           "--out", str(out)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    dead = [json.loads(line) for line in (project / "target" / "dead_letters.jsonl").read_text().splitlines()]
    reasons = [d["reason"] for d in dead]
    assert any(r.startswith("invalid JSON") for r in reasons)
    assert any("column 'amount'" in r for r in reasons)
    assert any("missing timestamp column 'ts'" in r for r in reasons)
    late_ids = {json.loads(d["raw"])["txn_id"] for d in dead if d["reason"].startswith("late")}
    assert late_ids, "the generator produced events later than the lateness"

    compiled = build_project(load_project(project))
    events = read_batch_source(compiled.project.sources["transactions"], project)
    on_time = events.filter([t not in late_ids for t in events["txn_id"].to_pylist()])
    pg, duck = PostgresEngine(pg_dsn), DuckDBEngine()
    from skewless.runtime.batch_jobs import register_sources
    from skewless.runtime.parity import oracle_for, register_original_views

    for engine in (pg, duck):
        engine.register("transactions", on_time, compiled.project.sources["transactions"].column_types())
        register_sources(engine, compiled, set(compiled.project.dimensions))
    for name, view in compiled.views.items():
        oracle = oracle_for(compiled, name, pg, duck)  # DuckDB for COUNT(DISTINCT) OVER, up a ref() chain too
        register_original_views(oracle, compiled, name)
        expected = oracle.query(compiled.views[name].sql)
        got = pq.read_table(out / f"{name}.parquet")
        assert got.num_rows == expected.num_rows
        key = "txn_id" if "txn_id" in got.column_names else None
        if key:
            problems = diff(expected, got, key)
        else:
            from skewless.runtime.parity import compare

            problems = compare(expected, got, [c.name for c in view.columns if c.kind == "passthrough"])
        assert not problems, f"{name}: {problems[:5]}"
    pg.close()
    duck.close()
