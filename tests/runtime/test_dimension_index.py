"""`DimensionIndex` lookups: the row the join condition picks, at the range bounds, for NULL keys
and numeric NaN (equal to itself in Postgres)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pytest

from skewless.compiler.config.sources import DimensionDef
from skewless.compiler.errors import SkewlessError
from skewless.runtime.sources.dimension import DimensionIndex

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
US = timedelta(microseconds=1)


def _dim(**kw) -> DimensionDef:
    cols = [{"name": "k", "type": kw.pop("key_type", "text")}, {"name": "v", "type": "integer"},
            {"name": "vf", "type": "timestamptz"}, {"name": "vt", "type": "timestamptz"}]
    return DimensionDef(name="d", columns=cols, key=["k"], batch={"path": "d.csv"}, **kw)


def _table(rows, key_type=pa.string()):
    return pa.Table.from_pylist(rows, schema=pa.schema([("k", key_type), ("v", pa.int32()),
                                                        ("vf", pa.timestamp("us", tz="UTC")),
                                                        ("vt", pa.timestamp("us", tz="UTC"))]))


def test_versioned_lookup_follows_the_join_condition():
    dim = _dim(valid_from="vf", valid_to="vt")
    idx = DimensionIndex(dim, _table([
        {"k": "a", "v": 1, "vf": T0, "vt": T0 + timedelta(hours=1)},
        {"k": "a", "v": 2, "vf": T0 + timedelta(hours=2), "vt": None},           # a gap before it
        {"k": "a", "v": 9, "vf": T0 + timedelta(hours=5), "vt": T0 + timedelta(hours=5)},  # empty: never
        {"k": "a", "v": 8, "vf": None, "vt": None},                               # NULL valid_from: never
        {"k": None, "v": 7, "vf": T0, "vt": None},                                # NULL key: never
    ]), "sources.yml")

    def v(t):
        row = idx.lookup(("a",), t)
        return None if row is None else row["v"]

    assert v(T0 - US) is None and v(T0) == 1 and v(T0 + timedelta(hours=1) - US) == 1
    assert v(T0 + timedelta(hours=1)) is None and v(T0 + timedelta(hours=2)) == 2
    assert v(T0 + timedelta(days=900)) == 2
    assert idx.lookup((None,), T0) is None and idx.lookup(("b",), T0) is None


def test_static_lookup_and_numeric_nan():
    dim = DimensionDef(name="d", columns=[{"name": "k", "type": "numeric"}, {"name": "v", "type": "integer"}],
                       key=["k"], batch={"path": "d.csv"})
    table = pa.Table.from_pylist([{"k": 1.0, "v": 1}, {"k": float("nan"), "v": 2}],
                                 schema=pa.schema([("k", pa.float64()), ("v", pa.int32())]))
    idx = DimensionIndex(dim, table, "sources.yml")
    assert idx.lookup((Decimal("1"),), None)["v"] == 1      # 1.0 = 1 in numeric
    assert idx.lookup((Decimal("NaN"),), None)["v"] == 2    # NaN = NaN in numeric
    assert idx.lookup((None,), None) is None


@pytest.mark.parametrize("rows, message", [
    ([{"k": "a", "v": 1, "vf": T0, "vt": None}, {"k": "a", "v": 2, "vf": T0 + US, "vt": None}], "overlap"),
    ([{"k": "a", "v": 1, "vf": T0, "vt": T0 + US * 2}, {"k": "a", "v": 2, "vf": T0 + US, "vt": None}], "overlap"),
])
def test_overlapping_versions_are_refused(rows, message):
    with pytest.raises(SkewlessError, match=message):
        DimensionIndex(_dim(valid_from="vf", valid_to="vt"), _table(rows), "sources.yml")


def test_adjacent_versions_are_fine():
    rows = [{"k": "a", "v": 1, "vf": T0, "vt": T0 + US}, {"k": "a", "v": 2, "vf": T0 + US, "vt": None}]
    idx = DimensionIndex(_dim(valid_from="vf", valid_to="vt"), _table(rows), "sources.yml")
    assert idx.lookup(("a",), T0)["v"] == 1 and idx.lookup(("a",), T0 + US)["v"] == 2


def test_the_enricher_reads_a_changed_file_again_and_keeps_rows_when_the_new_file_is_broken(tmp_path):
    import os

    import pyarrow.parquet as pq

    from skewless.compiler.project.build import build_project
    from skewless.compiler.project.loader import load_project
    from skewless.runtime.sources.dimension import Enricher, load_indexes

    root = tmp_path / "p"
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True)
    (root / "skewless_project.yml").write_text("name: p\ndialect: postgres\n")
    (root / "sources" / "s.yml").write_text(
        "sources:\n  - name: tx\n    timestamp: ts\n    columns:\n      - {name: k, type: text}\n"
        "      - {name: ts, type: timestamptz}\n    stream: {file: data/tx.jsonl}\n"
        "dimensions:\n  - name: d\n    key: [k]\n    columns:\n      - {name: k, type: text}\n"
        "      - {name: v, type: integer}\n    batch: {path: data/d.parquet}\n")
    (root / "features" / "f.sql").write_text(
        "SELECT e.k, e.ts, SUM(d.v) OVER (PARTITION BY e.k ORDER BY e.ts) AS s\n"
        "FROM {{ source('tx') }} e LEFT JOIN {{ source('d') }} d ON d.k = e.k")
    schema = pa.schema([("k", pa.string()), ("v", pa.int32())])

    def write(rows, mtime):
        path = root / "data" / "d.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
        os.utime(path, (mtime, mtime))

    write([{"k": "a", "v": 1}], 1_000_000)
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, compiled.diagnostics
    view = compiled.views["f"]
    enrich = Enricher(view, load_indexes(compiled.project, [view]), compiled.project, every=0.0)
    assert enrich({"k": "a", "ts": T0})["d__v"] == 1
    write([{"k": "a", "v": 2}, {"k": "b", "v": 3}], 2_000_000)  # the table changed
    assert enrich({"k": "a", "ts": T0})["d__v"] == 2 and enrich({"k": "b", "ts": T0})["d__v"] == 3
    write([{"k": "a", "v": 5}, {"k": "a", "v": 6}], 3_000_000)  # broken: a key twice
    enrich.next_check = 0.0
    assert enrich({"k": "a", "ts": T0})["d__v"] == 2  # logged; the rows read before are kept
