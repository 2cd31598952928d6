"""Outputs are written whole or not at all: an interrupted write (Ctrl-C, an error) leaves the
previous file, or none, and no partial file — never a valid-looking part of the result."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from skewless.runtime.artifacts import atomic_output


def test_a_completed_output_replaces_the_previous_one(tmp_path):
    out = tmp_path / "sub" / "o.parquet"
    with atomic_output(out) as tmp:
        assert tmp.parent == out.parent and tmp != out
        pq.write_table(pa.table({"a": [1, 2]}), tmp)
        assert not out.exists()
    assert pq.read_table(out).num_rows == 2
    with atomic_output(out) as tmp:
        pq.write_table(pa.table({"a": [3]}), tmp)
    assert pq.read_table(out)["a"].to_pylist() == [3]
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.parquet"]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_output_leaves_the_previous_file_or_none(tmp_path, interruption):
    out = tmp_path / "o.parquet"
    with pytest.raises(interruption):
        with atomic_output(out) as tmp:
            writer = pq.ParquetWriter(tmp, pa.schema([("a", pa.int64())]))
            writer.write_table(pa.table({"a": list(range(50_000))}))  # a valid-looking part
            raise interruption()
    assert list(tmp_path.iterdir()) == []
    out.write_bytes(b"previous")
    with pytest.raises(interruption):
        with atomic_output(out) as tmp:
            pq.write_table(pa.table({"a": [1]}), tmp)
            raise interruption()
    assert out.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [out]


def test_an_interrupted_backfill_writes_no_output(tmp_path):
    """The engine is interrupted after writing part of a view's rows (Ctrl-C mid-export)."""
    import shutil
    from pathlib import Path

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.batch_jobs import backfill, open_engine, register_sources
    from skewless.runtime.datagen import GenConfig, generate, write_all

    root = tmp_path / "features"
    shutil.copytree(Path(__file__).parents[2] / "features", root, ignore=shutil.ignore_patterns("target", "data"))
    write_all(generate(GenConfig(events=2000, days=2, seed=3, late_rate=0.0)), root / "data")
    compiled = build_project(load_project(root))
    engine = open_engine(compiled)
    register_sources(engine, compiled, {compiled.views["user_velocity"].root_source})
    export = engine.to_parquet

    def interrupted(sql, path):
        export(sql, path)
        assert pq.read_table(path).num_rows == 2000  # the whole result was on disk, unnamed
        raise KeyboardInterrupt

    engine.to_parquet = interrupted
    out = root / "target" / "bf" / "user_velocity.parquet"
    with pytest.raises(KeyboardInterrupt):
        backfill(compiled, engine, "user_velocity", out)
    assert not out.exists() and list(out.parent.iterdir()) == []
    engine.to_parquet = export
    assert backfill(compiled, engine, "user_velocity", out) == 2000 and pq.read_table(out).num_rows == 2000
    engine.close()
