"""Views over ``ref()`` keyed by other columns than their upstream (issue 13, part 1 — re-keyed), in
the real Bytewax dataflow: source → base (by user) → by_merchant (re-keyed by merchant) →
merchant_trend (same key, inside by_merchant's stage) and user_context (re-keyed back to the user:
the merchant's features at each of the user's events), plus by_status (re-keyed by a column with
NULLs). Events arrive out of order within the allowed lateness. Every view's per-event rows equal
its own SQL run by Postgres with each upstream as a view of its SQL; online reads of the re-keyed
views as of times at and after the last event equal that SQL over the upstream's rows plus probe
rows; the same with two workers (rows cross workers between the stages)."""

from __future__ import annotations

import contextlib
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from skewless.runtime.stores import open_store
from skewless.runtime.stream.jobs import RunOptions, not_streamable, replay, run_stream
from skewless.runtime.stream.online import read_as_of
from skewless.runtime.stream.rekey import plan_stages
from skewless.runtime.values import same
from tests.fuzz.as_of import AS_OF_AFTER, PROBE, probe_sql
from tests.runtime.test_stream_ref import _project as project_with
from tests.support.events import TYPES, tx_events

pytestmark = pytest.mark.postgres

U = "PARTITION BY user_id ORDER BY ts"
M = "PARTITION BY merchant_id ORDER BY ts"
VIEWS = {
    "base": f"""SELECT txn_id, user_id, merchant_id, ts, amount, status,
  COUNT(*) OVER ({U} RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS c1h,
  SUM(amount) OVER ({U}) AS s_life
FROM {{{{ source('tx') }}}}
WHERE status IS DISTINCT FROM 'bad'""",
    "by_merchant": f"""SELECT txn_id, user_id, merchant_id, ts,
  COUNT(*) OVER ({M} RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS m_c1h,
  SUM(c1h) OVER ({M} RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS m_users_busy,
  LAG(amount) OVER ({M}, txn_id) AS m_prev,
  MAX(s_life) OVER ({M} RANGE BETWEEN INTERVAL '1 day' PRECEDING AND INTERVAL '1 hour' PRECEDING) AS m_max_life,
  COUNT(DISTINCT user_id) OVER ({M} RANGE BETWEEN INTERVAL '3 hours' PRECEDING AND CURRENT ROW) AS m_users
FROM {{{{ ref('base') }}}}
WHERE amount IS NOT NULL""",
    "merchant_trend": f"""SELECT txn_id, merchant_id, ts,
  SUM(m_c1h) OVER ({M} RANGE BETWEEN INTERVAL '3 hours' PRECEDING AND CURRENT ROW) AS s_m_c1h
FROM {{{{ ref('by_merchant') }}}}""",
    "user_context": f"""SELECT txn_id, user_id, ts,
  AVG(m_c1h) OVER ({U} RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS avg_merchant_load,
  MAX(m_users) OVER ({U}, txn_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS max_merchant_users,
  LAG(m_prev, 1, -1.0) OVER ({U}, txn_id) AS prev_m_prev
FROM {{{{ ref('by_merchant') }}}}""",
    "by_status": """SELECT txn_id, status, ts,
  COUNT(*) OVER (PARTITION BY status ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS c,
  SUM(c1h) OVER (PARTITION BY status ORDER BY ts) AS s
FROM {{ ref('base') }}""",
}
# by_merchant has COUNT(DISTINCT) OVER, which Postgres cannot run: DuckDB is the oracle for it and
# the views over it
DUCK = ("by_merchant", "merchant_trend", "user_context")


def _arrival(rows: list[dict], seed: int) -> list[dict]:
    """Time order disturbed within the allowed lateness (1 minute): nothing is late."""
    rng = random.Random(seed)
    return [r for _, r in sorted(((r["ts"] + timedelta(seconds=rng.uniform(0, 59)), r) for r in rows),
                                 key=lambda p: p[0])]


def _project(root: Path, rows: list[dict]):
    return project_with(root, rows, VIEWS)


@contextlib.contextmanager
def _oracles(pg_dsn: str):
    import duckdb

    duck = duckdb.connect()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        duck.execute("SET TimeZone = 'UTC'")
        yield conn, duck


def _expected(conn, compiled, rows: list[dict], duck) -> dict[str, dict]:
    """Per view, txn_id -> the row its own SQL returns (Postgres; DuckDB for COUNT(DISTINCT) OVER)."""
    out = {}
    for db in (conn, duck):
        db.execute("DROP TABLE IF EXISTS tx CASCADE")
        cols = ", ".join(f'"{c}" {t if db is conn else t.replace("double precision", "DOUBLE")}'
                         for c, t in TYPES.items())
        db.execute(f"CREATE TABLE tx ({cols})")
    with conn.cursor() as cur, cur.copy("COPY tx FROM STDIN") as copy:
        for r in rows:
            copy.write_row([r[c] for c in TYPES])
    duck.executemany(f"INSERT INTO tx VALUES ({', '.join('?' for _ in TYPES)})", [[r[c] for c in TYPES] for r in rows])
    for name in ("base", "by_merchant", "merchant_trend", "user_context", "by_status"):
        sql = compiled.rendered[name].sql
        db = duck if name in DUCK else conn
        cur = db.execute(sql)
        names = [d[0] for d in cur.description]
        out[name] = {r[names.index("txn_id")]: dict(zip(names, r)) for r in cur.fetchall()}
        db.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')
        if db is conn and name == "base":
            duck.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS {sql}')
    return out


def _check_rows(expected: dict, got: dict, name: str) -> None:
    assert set(got) == set(expected), (name, sorted(set(got) ^ set(expected))[:5])
    for txn, row in expected.items():
        for c, v in row.items():
            g = got[txn][c]
            if isinstance(v, datetime) and isinstance(g, str):
                g = datetime.fromisoformat(g)
            assert same(v, g, 1e7), f"{name} txn {txn} column {c}: SQL {v!r}, stream {g!r}"


def _check_online(compiled, root: Path, conn, duck, rows: list[dict]) -> None:
    """Online reads of the re-keyed views as of the last event + AS_OF_AFTER == the view's SQL
    over its upstream's rows plus one probe row per key."""
    last = max(r["ts"] for r in rows)
    store = open_store(compiled.project.target.online, root)
    try:
        for name in ("by_merchant", "merchant_trend", "user_context", "by_status"):
            view = compiled.views[name]
            up, key = view.input.name, view.entity[0]
            db = duck if name in DUCK else conn
            keys = sorted({r[key] for r in rows}, key=repr)
            names = [c.name for c in view.columns]
            for d in AS_OF_AFTER:
                t = last + d
                db.execute("DROP TABLE IF EXISTS probe_up")
                db.execute(f'CREATE TEMP TABLE probe_up AS SELECT *, false AS {PROBE} FROM "{up}"')
                for k in keys:
                    db.execute(f'INSERT INTO probe_up ("{key}", ts, {PROBE}) VALUES (%s, %s, true)'
                               .replace("%s", "?" if db is duck else "%s"), (k, t))
                out = db.execute(probe_sql(compiled.rendered[name].sql, "probe_up", [key], reads=up)).fetchall()
                expected = {r[len(names) + 1]: dict(zip(names, r)) for r in out if r[len(names)]}
                for k in keys:
                    got = read_as_of(store, view, [k], t)
                    for c in names:
                        if view.column(c).kind != "feature":
                            continue
                        assert same(expected[k][c], got[c], 1e7), \
                            f"{name} online read {k!r} @ {t}: column {c}: SQL {expected[k][c]!r}, store {got[c]!r}"
    finally:
        store.close()


def test_stages_of_a_re_keyed_chain(tmp_path):
    compiled = _project(tmp_path, [])
    assert all(not_streamable(compiled, n) is None for n in VIEWS)
    order = ["base", "by_merchant", "merchant_trend", "user_context", "by_status"]
    stages = plan_stages("tx", [compiled.views[n] for n in order])
    assert [(s.feed, s.entity, [v.name for v in s.views], s.reports) for s in stages] == [
        (None, ("user_id",), ["base"], ["base"]),
        ("base", ("merchant_id",), ["by_merchant", "merchant_trend"], ["by_merchant"]),
        ("by_merchant", ("user_id",), ["user_context"], []),
        ("base", ("status",), ["by_status"], []),
    ]
    # step names of views over the source's events are those they had before re-keying existed
    assert stages[0].name == "tx__user_id"


@given(events=tx_events(max_size=60))
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_re_keyed_views_in_the_stream_equal_their_sql(tmp_path_factory, pg_dsn, events):
    rows = events.to_pylist()
    root = tmp_path_factory.mktemp("rekey")
    compiled = _project(root, _arrival(rows, len(rows)))
    result = replay(compiled, ["merchant_trend", "user_context", "by_status"], root / "target" / "rows",
                    to_online=True, dead_letters=root / "target" / "dead.jsonl")
    assert set(result.outputs) == set(VIEWS)  # the chains run with them
    assert (root / "target" / "dead.jsonl").read_text() == ""
    with _oracles(pg_dsn) as (conn, duck):
        expected = _expected(conn, compiled, rows, duck)
        for name, exp_rows in expected.items():
            got = {r["txn_id"]: r for r in pq.read_table(result.outputs[name]).to_pylist()}
            _check_rows(exp_rows, got, name)
        _check_online(compiled, root, conn, duck, rows)


@given(events=tx_events(min_size=20, max_size=80, users=6))
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_re_keyed_views_with_two_workers_equal_their_sql(tmp_path_factory, pg_dsn, events):
    """The continuous job with two worker threads (the file read to its end): rows of base cross
    workers to by_merchant's keys and back to user_context's."""
    rows = events.to_pylist()
    root = tmp_path_factory.mktemp("rekey2")
    compiled = _project(root, _arrival(rows, 7))
    rows_dir = root / "target" / "rows"
    stats = run_stream(compiled, RunOptions(views=list(VIEWS), until_end=True, workers=2, warm=False,
                                            rows_dir=rows_dir, dead_letters=root / "target" / "dead.jsonl"))
    assert stats.events == len(rows)
    with _oracles(pg_dsn) as (conn, duck):
        expected = _expected(conn, compiled, rows, duck)
        for name, exp_rows in expected.items():
            got = {}
            for part in rows_dir.glob(f"{name}.*.jsonl"):
                for line in part.read_text().splitlines():
                    r = json.loads(line)
                    assert r["txn_id"] not in got, f"{name}: row of {r['txn_id']} twice"
                    got[r["txn_id"]] = r
            _check_rows(exp_rows, got, name)
        _check_online(compiled, root, conn, duck, rows)


@given(events=tx_events(max_size=60))
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_seeding_re_keyed_views_equals_their_sql(tmp_path_factory, pg_dsn, events):
    """`backfill --to-online` (`Project.seed_online`) of views over ref(): each from its upstream's
    rows over the same events; online reads as of t == the view's SQL with probe rows."""
    from skewless.runtime.api import Project

    rows = events.to_pylist()
    root = tmp_path_factory.mktemp("seed")
    compiled = _project(root, _arrival(rows, 3))
    seeded = dict(Project.of(compiled).seed_online(["by_merchant", "merchant_trend", "user_context", "by_status"]))
    assert seeded["by_status"] == len([r for r in rows if r["status"] != "bad"])  # base's rows are its input
    with _oracles(pg_dsn) as (conn, duck):
        _expected(conn, compiled, rows, duck)
        _check_online(compiled, root, conn, duck, rows)
