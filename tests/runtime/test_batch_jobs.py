"""Batch jobs: a Postgres training set built in parallel sessions (one per part) equals the one
query that builds it in a single session."""
from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime import batch_jobs
from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.engines import PostgresEngine
from tests.support.compare import diff

EXAMPLE = Path(__file__).parents[2] / "features"


@pytest.mark.postgres
def test_training_set_in_parallel_sessions_equals_the_single_query(tmp_path, pg_dsn, monkeypatch):
    root = tmp_path / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=3000, days=3, seed=8, late_rate=0.0)), root / "data")
    compiled = build_project(load_project(root))
    outs = {}
    for sessions in (1, 3):
        monkeypatch.setattr(batch_jobs, "parallel_sessions", lambda engine, n=sessions: n)
        engine = PostgresEngine(pg_dsn)
        batch_jobs.register_sources(engine, compiled, batch_jobs.needed_sources(compiled, [], ["fraud"]))
        outs[sessions] = tmp_path / f"ts{sessions}.parquet"
        assert batch_jobs.training_set(compiled, engine, "fraud", outs[sessions]) == 3000
        engine.close()
    one, many = pq.read_table(outs[1]), pq.read_table(outs[3])
    assert one.schema.equals(many.schema, check_metadata=True), (one.schema, many.schema)
    assert not diff(one, many, "__spine_id")
    assert many.num_columns == 4 + 2 + 24  # spine id, txn_id, ts, label; amount, country; 24 features
