"""Views over ``ref()`` in the stream (issue 13, part 1 — same entity key): the real Bytewax dataflow
(`replay`) runs a chain source → base → derived → derived2, each downstream view over its
upstream's per-event rows inside the same keyed state; every view's per-event rows equal the
views' own SQL run by Postgres with each upstream as a view of its SQL; online reads of the derived
views as of times at and after the last event equal that SQL over the upstream's rows plus probe
rows (the fuzzer's as-of oracle)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.stream.jobs import not_streamable, replay
from skewless.runtime.values import same
from tests.fuzz.test_differential import PROJECT, SOURCES, _json
from tests.support.events import TYPES, tx_events

pytestmark = pytest.mark.postgres

W = "PARTITION BY user_id ORDER BY ts"
VIEWS = {
    "base": f"""SELECT txn_id, user_id, ts, amount, merchant_id, status,
  COUNT(*) OVER ({W} RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS c1h,
  SUM(amount) OVER ({W}) AS s_life,
  LAG(amount) OVER ({W}, txn_id) AS prev,
  n * 2 AS n2
FROM {{{{ source('tx') }}}}
WHERE status IS DISTINCT FROM 'bad'""",
    "derived": f"""SELECT txn_id, user_id, ts, status,
  MAX(c1h) OVER ({W} RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW) AS max_c1h,
  AVG(s_life) OVER ({W}, txn_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS avg_s,
  COUNT(prev) OVER ({W} RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS c_prev,
  SUM(n2) FILTER (WHERE amount > 1) OVER ({W} RANGE BETWEEN INTERVAL '3 hours' PRECEDING AND CURRENT ROW
                                          EXCLUDE GROUP) AS s_n2,
  amount / NULLIF(s_life, 0) AS share
FROM {{{{ ref('base') }}}}
WHERE c1h >= 1""",
    "derived2": f"""SELECT txn_id, user_id, ts,
  SUM(max_c1h) OVER ({W} RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND CURRENT ROW EXCLUDE TIES) AS s_max,
  LAG(c_prev, 1, -1) OVER ({W}, txn_id) AS prev_c_prev
FROM {{{{ ref('derived') }}}}""",
}


def _project(root: Path, rows: list[dict], views: dict[str, str] = VIEWS):
    """The fuzzer's project with ``views`` over ``rows`` (the stream's file), compiled."""
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text(PROJECT)
    (root / "sources" / "tx.yml").write_text(SOURCES)
    for name, sql in views.items():
        (root / "features" / f"{name}.sql").write_text(sql)
    (root / "data" / "tx.jsonl").write_text("".join(_json(r) + "\n" for r in rows))
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    return compiled


@given(events=tx_events(max_size=50))
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_views_over_ref_in_the_stream_equal_their_sql(tmp_path_factory, pg_dsn, events):
    rows = events.sort_by("ts").to_pylist()  # in time order: nothing arrives later than the lateness
    root = tmp_path_factory.mktemp("ref")
    compiled = _project(root, rows)
    assert not_streamable(compiled, "derived2") is None
    out = root / "target" / "rows"
    result = replay(compiled, ["derived2"], out, to_online=True, dead_letters=root / "target" / "dead.jsonl")
    assert set(result.outputs) == {"base", "derived", "derived2"}  # the chain runs with it
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        conn.execute("DROP TABLE IF EXISTS tx CASCADE")
        conn.execute("CREATE TABLE tx (" + ", ".join(f'"{c}" {t}' for c, t in TYPES.items()) + ")")
        with conn.cursor() as cur, cur.copy("COPY tx FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in TYPES])
        for name in ("base", "derived", "derived2"):
            sql = compiled.views[name].sql
            cur = conn.execute(sql)
            names = [d.name for d in cur.description]
            expected = {r[0]: dict(zip(names, r)) for r in cur.fetchall()}
            got = {r["txn_id"]: r for r in pq.read_table(result.outputs[name]).to_pylist()}
            assert set(got) == set(expected), (name, sorted(set(got) ^ set(expected))[:5])
            for txn, row in expected.items():
                for c, v in row.items():
                    assert same(v, got[txn][c], 1e7), f"{name} txn {txn} column {c}: SQL {v!r}, stream {got[txn][c]!r}"
            if name != "derived2":
                conn.execute(f'CREATE TEMP VIEW "{name}" AS {sql}')
    # online reads of the derived views, as of times at and after the last event, == the view's
    # own SQL over its upstream's rows plus one probe row per key (tests/fuzz/as_of.py)
    from skewless.runtime.stores import open_store
    from skewless.runtime.stream.online import read_as_of
    from tests.fuzz.as_of import AS_OF_AFTER, PROBE, probe_sql

    last = max(r["ts"] for r in rows)
    store = open_store(compiled.project.target.online, root)
    try:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            conn.execute(f'CREATE TEMP VIEW "base" AS {compiled.views["base"].sql}')
            conn.execute(f'CREATE TEMP VIEW "derived" AS {compiled.views["derived"].sql}')
            for name in ("derived", "derived2"):
                view = compiled.views[name]
                up = view.input.name
                keys = sorted({r["user_id"] for r in rows}, key=repr)
                for d in AS_OF_AFTER:
                    t = last + d
                    conn.execute("DROP TABLE IF EXISTS probe_up")
                    conn.execute(f'CREATE TEMP TABLE probe_up AS SELECT *, false AS {PROBE} FROM "{up}"')
                    with conn.cursor() as cur:
                        cur.executemany(f'INSERT INTO probe_up (user_id, ts, {PROBE}) VALUES (%s, %s, true)',
                                        [(k, t) for k in keys])
                    names = [c.name for c in view.columns]
                    out = conn.execute(probe_sql(compiled.views[name].sql, "probe_up", ["user_id"],
                                                 reads=up)).fetchall()
                    expected = {r[len(names) + 1]: dict(zip(names, r)) for r in out if r[len(names)]}
                    for k in keys:
                        got = read_as_of(store, view, [k], t)
                        for c in names:
                            if c in ("txn_id", "ts") or compiled.views[name].column(c).kind != "feature":
                                continue
                            assert same(expected[k][c], got[c], 1e7), \
                                f"{name} online read {k} @ {t}: column {c}: SQL {expected[k][c]!r}, store {got[c]!r}"
    finally:
        store.close()
