"""backfill / training-set / parity through the command line, on files the project declares."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from skewless.runtime.datagen import GenConfig, generate, write_all
from skewless.runtime.parity import compare
from tests.support.compare import diff

EXAMPLE = Path(__file__).parents[2] / "features"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("example") / "features"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=4000, days=3, seed=11, late_rate=0.0)), root / "data")
    return root


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "skewless.runtime.cli", "--project", str(project), *args],
                          capture_output=True, text=True, env=env)


@pytest.mark.postgres
def test_training_set_is_the_same_on_duckdb_and_postgres(project, pg_dsn):
    duck, pg = project / "target" / "ts_duck.parquet", project / "target" / "ts_pg.parquet"
    assert run(project, "training-set", "fraud", "--out", str(duck)).returncode == 0
    proc = run(project, "training-set", "fraud", "--out", str(pg), "--engine", "postgres", "--dsn", pg_dsn)
    assert proc.returncode == 0, proc.stderr
    a, b = pq.read_table(duck), pq.read_table(pg)
    assert a.num_rows == 4000 and "user_velocity__txn_count_1h" in a.column_names
    assert not diff(a, b, "txn_id")
    # point-in-time under the default rule (features as of label_time - 1us): the 1h window holds the
    # user's transactions with t - 1h - 1us <= ts < t — never the label's own transaction, never a later one
    tx = pq.read_table(project / "data" / "transactions.parquet", columns=["txn_id", "user_id", "ts"]).to_pylist()
    by_user: dict[str, list] = {}
    user_of = {r["txn_id"]: r["user_id"] for r in tx}
    for r in tx:
        by_user.setdefault(r["user_id"], []).append(r["ts"])
    us, hour = timedelta(microseconds=1), timedelta(hours=1)
    rows = a.to_pylist()
    for r in rows:
        t = r["ts"] - us
        assert r["user_velocity__txn_count_1h"] == sum(t - hour <= x <= t for x in by_user[user_of[r["txn_id"]]]), r
    assert sum(r["user_velocity__txn_count_1h"] == 0 for r in rows) > 100  # first transactions of a burst


def test_backfill_writes_per_event_relations(project):
    out = project / "target" / "bf"
    proc = run(project, "backfill", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for view in ("user_velocity", "user_sequence", "merchant_risk", "card_activity"):
        assert pq.read_table(out / f"{view}.parquet").num_rows == 4000


@pytest.mark.postgres
def test_parity_passes_and_writes_report(project, pg_dsn):
    proc = run(project, "parity", "--postgres", pg_dsn, "--report", "target/parity.html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "differing rows" in proc.stdout
    assert "No differing rows" in (project / "target" / "parity.html").read_text()


@pytest.mark.postgres
def test_parity_through_the_python_api(project, pg_dsn):
    """`Project.parity` is what the command runs: every path's rows against the view's own SQL."""
    from skewless import Project

    checked = Project(project).parity(["user_velocity", "merchant_risk"], postgres=pg_dsn)
    assert checked.ok and checked.late == 0
    assert [r.view for r in checked.results] == ["user_velocity", "merchant_risk"]
    oracles = {"user_velocity": "duckdb", "merchant_risk": "postgres"}  # Postgres cannot run COUNT(DISTINCT) OVER
    for r in checked.results:
        assert r.oracle == f"original SQL on {oracles[r.view]}" and r.oracle_rows == 4000
        assert {e.engine: e.rows for e in r.results} == {"duckdb": 4000, "postgres": 4000, "stream": 4000}


def test_parity_on_sampled_keys_checks_every_event_of_those_keys(project, pg_dsn):
    """--sample-keys 7: every path on the events of 7 keys per view (whole histories, so exact)."""
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.parity_stream import sample_inputs

    proc = run(project, "parity", "--postgres", pg_dsn, "--sample-keys", "7", "--report", "target/sampled.html")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    compiled = build_project(load_project(project))
    inputs = sample_inputs(compiled, sorted(compiled.views), 7)
    tx = pq.read_table(project / "data" / "transactions.parquet")
    for name, tables in inputs.items():
        view = compiled.views[name]
        events = tables[view.root_source]
        assert 0 < events.num_rows < tx.num_rows
        keys = {tuple(r[k] for k in view.entity) for r in events.select(view.entity).to_pylist()}
        assert len(keys) == 7
        # every event of each sampled key, not a part of its history
        assert events.num_rows == sum(1 for r in tx.select(view.entity).to_pylist() if tuple(r.values()) in keys)
    table = "\n".join(line for line in proc.stdout.splitlines() if "│" in line)
    for name in compiled.views:  # on every path, the rows compared are the sampled keys' (WHERE may drop some)
        rows = {cells[2]: int(cells[3].replace(",", "")) for line in table.splitlines()
                if (cells := [c.strip() for c in line.split("│")[1:-1]]) and cells[0] == name}
        assert set(rows) == {"duckdb", "postgres", "stream"}, rows
        assert len(set(rows.values())) == 1 and 0 < rows["stream"] <= inputs[name][compiled.views[name].root_source].num_rows


def test_compare_reports_each_differing_cell_and_pairs_tied_keys_by_value():
    expected = pa.table({"k": ["a", "a", "b"], "v": [1.0, 2.0, None]})
    same_values_other_order = pa.table({"k": ["a", "a", "b"], "v": [2.0, 1.0, None]})
    assert compare(expected, same_values_other_order, ["k"]) == []
    wrong = pa.table({"k": ["a", "a", "b"], "v": [1.0, 2.0 + 1e-6, 0.0]})
    problems = compare(expected, wrong, ["k"])
    assert {(p["key"], p["expected"], p["actual"]) for p in problems} == {(("a",), 2.0, 2.0 + 1e-6), (("b",), None, 0.0)}
    missing = compare(expected, expected.slice(0, 2), ["k"])
    assert missing[0]["column"] == "<row>" and missing[0]["actual"] is None


def test_compare_counts_every_difference_beyond_the_sample():
    from skewless.runtime.parity import compare_all

    n = 2_500
    expected = pa.table({"k": list(range(n)), "v": [1.0] * n, "w": [1] * n})
    actual = pa.table({"k": list(range(n - 10)), "v": [2.0] * (n - 10), "w": [1] * 1_000 + [2] * (n - 1_010)})
    got = compare_all(expected, actual, ["k"])
    # 10 rows missing; 2,490 rows differ in v, 1,490 of them in w too
    assert (got.rows, got.cells) == (n, 10 + (n - 10) + (n - 1_010))
    assert len(got.sample) == 1_000 and len(compare(expected, actual, ["k"], limit=7)) == 7


def test_backfill_to_online_seeds_reads_equal_to_the_training_set_path(project):
    from datetime import timedelta

    from skewless.compiler.batch import as_of_sql
    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.engines import DuckDBEngine
    from skewless.runtime.sources.files import read_batch_source
    from skewless.runtime.stores import open_store
    from skewless.runtime.stream.online import read_as_of

    proc = run(project, "backfill", "-s", "user_velocity", "--out", str(project / "target" / "uv.parquet"),
               "--to-online")
    assert proc.returncode == 0, proc.stderr
    compiled = build_project(load_project(project))
    view = compiled.views["user_velocity"]
    events = read_batch_source(compiled.project.sources["transactions"], project)
    end = max(events["ts"].to_pylist()) + timedelta(minutes=20)
    users = events["user_id"].value_counts().to_pylist()[:10]
    spine = pa.table({"user_id": [u["values"] for u in users], "__t": pa.array([end] * len(users)),
                      "__spine_id": list(range(len(users)))})
    duck = DuckDBEngine()
    duck.register("transactions", events)
    duck.register("spine", spine)
    expected = duck.query(as_of_sql(view, "duckdb", '"transactions"', '"spine"'))
    store = open_store(compiled.project.target.online, project)
    got = pa.Table.from_pylist([{"__spine_id": i, **read_as_of(store, view, [u["values"]], end)}
                                for i, u in enumerate(users)])
    feats = [c.name for c in view.columns if c.kind == "feature"]
    assert not diff(expected.select(["__spine_id", *feats]), got.select(["__spine_id", *feats]), "__spine_id")
