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
import pyarrow as pa
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
UE = "PARTITION BY e.user_id ORDER BY e.ts"
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
    # another entity's features at each event: the merchant's row of the same event, joined by txn_id
    "m_src": """SELECT txn_id, merchant_id, ts,
  COUNT(*) OVER (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS mc1h,
  SUM(amount) OVER (PARTITION BY merchant_id ORDER BY ts RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW
                    EXCLUDE GROUP) AS m_amt
FROM {{ source('tx') }}
WHERE amount IS NOT NULL""",
    "user_with_merchant": f"""SELECT e.txn_id, e.user_id, e.ts, m.mc1h AS merchant_load,
  AVG(m.mc1h) OVER ({UE} RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW) AS avg_load,
  COUNT(*) FILTER (WHERE m.txn_id IS NULL) OVER ({UE}) AS unmatched,
  MAX(m.m_amt + e.amount) OVER ({UE}, e.txn_id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS mx
FROM {{{{ source('tx') }}}} e
LEFT JOIN {{{{ ref('m_src') }}}} m ON m.txn_id = e.txn_id""",
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
    for name in VIEWS:
        sql = compiled.views[name].sql
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
        for name in ("by_merchant", "merchant_trend", "user_context", "by_status", "user_with_merchant"):
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
                out = db.execute(probe_sql(compiled.views[name].sql, "probe_up", [key], reads=up,
                                           qualify="e" if view.view_joins else None)).fetchall()
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
    order = ["base", "by_merchant", "merchant_trend", "user_context", "by_status", "m_src", "user_with_merchant"]
    stages = plan_stages("tx", [compiled.views[n] for n in order])
    assert [(s.feed and s.feed.id, s.entity, [v.name for v in s.views], s.reports) for s in stages] == [
        (None, ("user_id",), ["base"], ["base"]),
        ("base", ("merchant_id",), ["by_merchant", "merchant_trend"], ["by_merchant"]),
        ("by_merchant", ("user_id",), ["user_context"], []),
        ("base", ("status",), ["by_status"], []),
        (None, ("merchant_id",), ["m_src"], ["m_src@user_with_merchant"]),
        ("m_src@user_with_merchant", ("user_id",), ["user_with_merchant"], []),
    ]
    assert sorted(stages[4].joins_out["m_src"][0].pairs) == [("m_amt", "m__m_amt"), ("mc1h", "m__mc1h"),
                                                             ("txn_id", "m__txn_id")]
    # step names of views over the source's events are those they had before re-keying existed
    assert stages[0].name == "tx__user_id"


@given(events=tx_events(max_size=60))
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_re_keyed_views_in_the_stream_equal_their_sql(tmp_path_factory, pg_dsn, events):
    rows = events.to_pylist()
    root = tmp_path_factory.mktemp("rekey")
    compiled = _project(root, _arrival(rows, len(rows)))
    result = replay(compiled, ["merchant_trend", "user_context", "by_status", "user_with_merchant"],
                    root / "target" / "rows",
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
    seeded = dict(Project.of(compiled).seed_online(["by_merchant", "merchant_trend", "user_context", "by_status",
                                                    "user_with_merchant"]))
    assert seeded["by_status"] == len([r for r in rows if r["status"] != "bad"])  # base's rows are its input
    with _oracles(pg_dsn) as (conn, duck):
        _expected(conn, compiled, rows, duck)
        _check_online(compiled, root, conn, duck, rows)


@given(events=tx_events(max_size=40))
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_view_join_in_batch_equals_its_sql(tmp_path_factory, pg_dsn, events):
    """The view joining another view's rows (user_with_merchant ⋈ m_src) in batch: per-event on
    DuckDB and Postgres, and as of times within and after the events (a spine row joins no
    event's row: the joined columns are NULL for it) == the view's SQL on Postgres (probe rows)."""
    from skewless.runtime.api import Project

    rows = events.to_pylist()
    root = tmp_path_factory.mktemp("vjoin")
    compiled = _project(root, _arrival(rows, 5))
    api = Project.of(compiled)
    view = compiled.views["user_with_merchant"]
    names = [c.name for c in view.columns]
    with _oracles(pg_dsn) as (conn, duck):
        expected = _expected(conn, compiled, rows, duck)["user_with_merchant"]
        for engine, dsn in (("duckdb", None), ("postgres", pg_dsn)):
            got = {r["txn_id"]: r for r in api.per_event("user_with_merchant", engine=engine, dsn=dsn).to_pylist()}
            _check_rows(expected, got, f"user_with_merchant per-event on {engine}")
        times = sorted({r["ts"] for r in rows})
        times = [times[0], times[len(times) // 2], times[-1] + timedelta(minutes=30), times[-1] + timedelta(days=1)]
        users = sorted({r["user_id"] for r in rows if r["user_id"] is not None}) + ["nobody"]
        spine = pa.table({"user_id": [u for t in times for u in users], "ts": [t for t in times for _ in users]})
        oracle = {}
        for t in times:
            conn.execute("DROP TABLE IF EXISTS probe_tx")
            conn.execute(f"CREATE TEMP TABLE probe_tx AS SELECT *, false AS {PROBE} FROM tx")
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO probe_tx (user_id, ts, {PROBE}) VALUES (%s, %s, true)",
                                [(u, t) for u in users])
            sql = probe_sql(compiled.views["user_with_merchant"].sql, "probe_tx", ["user_id"], reads="tx", qualify="e")
            for r in conn.execute(sql).fetchall():
                if r[len(names)]:
                    oracle[(r[len(names) + 1], t)] = dict(zip(names, r))
        for engine, dsn in (("duckdb", None), ("postgres", pg_dsn)):
            got = api.as_of(spine, "user_with_merchant", time_column="ts", engine=engine, dsn=dsn).to_pylist()
            for row in got:
                want = oracle[(row["user_id"], row["ts"])]
                for c in (c.name for c in view.columns if c.kind == "feature"):
                    assert same(want[c], row[c], 1e7), f"as of {row['user_id']} @ {row['ts']} on {engine}: {c} " \
                        f"SQL {want[c]!r}, got {row[c]!r}"


@given(events=tx_events(min_size=10, max_size=40))
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_a_second_dataflow_in_the_same_thread_starts_from_its_own_watermark(tmp_path_factory, pg_dsn, monkeypatch,
                                                                           events):
    """Bounded replays run in the caller's thread; the worker clock of an earlier dataflow (here:
    the same events 30 days later) must not finalize the next one's groups before their peers
    arrive — with batches of 3 events, peer groups and out-of-order events span batches."""
    from skewless.runtime.sources import stream_file

    monkeypatch.setattr(stream_file, "BATCH", 3)
    rows = events.to_pylist()
    later = [dict(r, ts=r["ts"] + timedelta(days=30)) for r in rows]
    first = _project(tmp_path_factory.mktemp("first"), _arrival(later, 1))
    replay(first, list(VIEWS), None, to_online=False, dead_letters=first.project.target_dir / "dead.jsonl")
    root = tmp_path_factory.mktemp("second")
    compiled = _project(root, _arrival(rows, 2))
    result = replay(compiled, list(VIEWS), root / "target" / "rows", to_online=False,
                    dead_letters=root / "target" / "dead.jsonl")
    with _oracles(pg_dsn) as (conn, duck):
        for name, exp_rows in _expected(conn, compiled, rows, duck).items():
            _check_rows(exp_rows, {r["txn_id"]: r for r in pq.read_table(result.outputs[name]).to_pylist()}, name)
