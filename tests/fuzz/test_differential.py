"""Differential fuzzing against Postgres (issue: exact everywhere).

Each example generates adversarial events and a batch of random views from the registry's
surface, then runs every path on them and compares each with **the view's own SQL executed by
Postgres** (DuckDB runs it only for COUNT(DISTINCT) OVER, which Postgres cannot run):

* the stream: the real Bytewax dataflow (`replay`), per-event rows;
* the batch per-event SQL compiled for Postgres and for DuckDB;
* as of times at and after the last event, for every key: the online store the replay wrote
  (`read_as_of`) and the as-of SQL for Postgres and DuckDB, against the view's own SQL over the
  events plus probe rows (tests/fuzz/as_of.py).

Budget: ``SKEWLESS_FUZZ_EXAMPLES`` examples (default 100) of ``SKEWLESS_FUZZ_VIEWS`` views each
(default 10): 1,000 generated views per CI run (about 40 s); ``make fuzz`` runs 10x more. A summary with counts
per path (compared, refused by a dialect, skipped because Postgres itself raised an error) is
written to ``target/fuzz-summary.json`` of the test's project and printed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import psycopg
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from skewless.compiler.batch.capabilities import BatchUnsupported
from skewless.compiler.batch.as_of import as_of_sql
from skewless.compiler.batch.inputs import input_for
from skewless.compiler.batch.per_event import per_event_sql
from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.sources.dimension import evaluator_for
from skewless.runtime.stores import open_store
from skewless.runtime.stream import fast
from skewless.runtime.stream.jobs import replay
from skewless.runtime.stream.expr import SqlError
from skewless.runtime.stream.online import read_as_of, read_with_event
from skewless.runtime.values import same

from .as_of import _duck_type, expected_as_of, over_table, table
from .views import (COLUMNS, DIMENSIONS, UPSTREAM, events, over_upstream, upstream_sql, view_join_sql,
                    view_sql)

pytestmark = pytest.mark.postgres
# CI replays one fixed, verified exploration (a merge is never blocked by a case nobody has seen);
# local `make test` and `make fuzz` explore new cases on every run
DERANDOMIZE = os.environ.get("SKEWLESS_FUZZ_DERANDOMIZE") == "1"
EXAMPLES = int(os.environ.get("SKEWLESS_FUZZ_EXAMPLES", "100"))
VIEWS = int(os.environ.get("SKEWLESS_FUZZ_VIEWS", "10"))
STATS: Counter = Counter()
REGRESSIONS = Path(__file__).parent / "regressions"

PROJECT = """name: fuzz
dialect: postgres
allowed_lateness: 1m
batch_dialects: [duckdb, postgres]
"""
SOURCES = "sources:\n  - name: tx\n    timestamp: ts\n    unique_key: [txn_id]\n    columns:\n" + "".join(
    f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in COLUMNS.items()) + "    stream:\n      file: data/tx.jsonl\n" + \
    "dimensions:\n" + "".join(
        f"  - name: {name}\n    key: {d['key']}\n" + (f"    valid_from: {d['valid'][0]}\n    valid_to: {d['valid'][1]}\n"
                                                       if "valid" in d else "")
        + "    columns:\n" + "".join(f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in d["columns"].items())
        + f"    batch: {{path: data/{name}.parquet}}\n" for name, d in DIMENSIONS.items())


def write_dimensions(root: Path, engines=()) -> None:
    """The fixed dimension tables as the project's files and as tables of the oracle connections."""
    import pyarrow as pa

    from skewless.runtime.sources.files import arrow_type

    for name, d in DIMENSIONS.items():
        schema = pa.schema([(c, arrow_type(t)) for c, t in d["columns"].items()])
        pq.write_table(pa.Table.from_pylist(d["rows"], schema=schema), root / "data" / f"{name}.parquet")
        for conn in engines:
            types = {c: t if not isinstance(conn, duckdb.DuckDBPyConnection) else
                     t.replace("double precision", "DOUBLE") for c, t in d["columns"].items()}
            table(conn, name, ", ".join(f'"{c}" {t}' for c, t in types.items()),
                  [[r[c] for c in d["columns"]] for r in d["rows"]])


@pytest.fixture(scope="module")
def pg(pg_dsn):
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


def _json(row: dict) -> str:
    def enc(v):
        if isinstance(v, Decimal):
            return str(v)
        if hasattr(v, "isoformat"):
            return v.isoformat()
        return v
    return json.dumps({k: enc(v) for k, v in row.items()})


def _load(pg, duck, rows: list[dict]) -> None:
    cols = ", ".join(f'"{c}" {t}' for c, t in COLUMNS.items())
    pg.execute(f"DROP VIEW IF EXISTS {UPSTREAM}")
    pg.execute("DROP TABLE IF EXISTS tx")  # the fuzzer's own scratch table in its own cluster
    pg.execute(f"CREATE TABLE tx ({cols})")
    with pg.cursor() as cur, cur.copy("COPY tx FROM STDIN") as copy:
        for r in rows:
            copy.write_row([r[c] for c in COLUMNS])
    dcols = ", ".join(f'"{c}" {t.replace("double precision", "DOUBLE").replace("numeric", "DECIMAL")}'
                      for c, t in COLUMNS.items())
    duck.execute(f"CREATE OR REPLACE TABLE tx ({dcols})")
    duck.executemany(f"INSERT INTO tx VALUES ({', '.join('?' for _ in COLUMNS)})",
                     [[r[c] for c in COLUMNS] for r in rows])


def _load_upstream(pg, duck, sql: str) -> None:
    """The upstream view as a Postgres view of its SQL and, for DuckDB (the oracle of COUNT(DISTINCT)
    views), a table of the rows Postgres returns for it (no DuckDB semantics in between)."""
    pg.execute(f"CREATE VIEW {UPSTREAM} AS {sql}")
    try:
        rows = pg.execute(f"SELECT * FROM {UPSTREAM}").fetchall()
    except psycopg.Error:
        rows = []  # Postgres fails the views over it too: their oracle is skipped
    dcols = ", ".join(f'"{c}" {t.replace("double precision", "DOUBLE").replace("numeric", "DECIMAL")}'
                      for c, t in COLUMNS.items())
    duck.execute(f"CREATE OR REPLACE TABLE {UPSTREAM} ({dcols})")
    if rows:
        duck.executemany(f"INSERT INTO {UPSTREAM} VALUES ({', '.join('?' for _ in COLUMNS)})", rows)


def _rows(cur_rows, names) -> dict:
    return {r[0]: dict(zip(names, r)) for r in cur_rows}


def _scale(rows: list[dict]) -> float:
    """The conditioning bound's magnitude: Σ(x² + |x|) over every finite number of the events
    (an upper bound on what any frame aggregates)."""
    total = 0.0
    for r in rows:
        for c in ("amount", "n", "q"):
            v = r[c]
            if v is not None and math.isfinite(float(v)):
                total += float(v) ** 2 + abs(float(v))
    return total


def _compare(expected: dict, got: dict, what: str, sql: str, scale: float = 0.0) -> list[str]:
    problems = []
    if set(expected) != set(got):
        problems.append(f"{what}: rows differ: missing {sorted(set(expected) - set(got))[:3]} "
                        f"extra {sorted(set(got) - set(expected))[:3]}")
    for k in sorted(set(expected) & set(got)):
        for c, v in expected[k].items():
            if not same(v, got[k].get(c), scale):
                problems.append(f"{what}: txn {k} column {c}: Postgres {v!r}, got {got[k].get(c)!r}")
    return [f"{p}\n--- view:\n{sql}" for p in problems[:3]]


def check(root: Path, pg, rows: list[dict], sqls: list[str], up: str | None = None) -> list[str]:
    """Every difference between the paths and the views' own SQL on Postgres, for one case. With
    ``up``, the view ``up`` (`views.upstream_sql`) is part of the case, and views reading
    ``ref('up')`` are the oracle's SQL over a Postgres view of it."""
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text(PROJECT)
    (root / "sources" / "tx.yml").write_text(SOURCES)
    for i, sql in enumerate(sqls):
        (root / "features" / f"v{i}.sql").write_text(sql)
    if up is not None:
        (root / "features" / f"{UPSTREAM}.sql").write_text(up)
    (root / "data" / "tx.jsonl").write_text("".join(_json(r) + "\n" for r in rows))
    write_dimensions(root)
    compiled = build_project(load_project(root))
    STATS["views generated"] += len(sqls)
    STATS["views rejected by validate"] += len(sqls) - len(compiled.views)
    duck = duckdb.connect()
    duck.execute("SET TimeZone = 'UTC'")
    _load(pg, duck, rows)
    write_dimensions(root, (pg, duck))
    if UPSTREAM in compiled.views:
        _load_upstream(pg, duck, compiled.views[UPSTREAM].sql)
    # the oracle: the view's own SQL on Postgres (DuckDB for COUNT(DISTINCT) OVER)
    oracle: dict[str, dict] = {}
    for name, view in compiled.views.items():
        sql = compiled.views[name].sql
        names = [c.name for c in view.columns]
        use_duck = any(a.func == "count_distinct" for a in view.aggregates)
        try:
            if use_duck:
                oracle[name] = _rows(duck.execute(sql).fetchall(), names)
            else:
                oracle[name] = _rows(pg.execute(sql).fetchall(), names)
        except (psycopg.Error, duckdb.Error):
            STATS["views skipped: Postgres raised an error on the data"] += 1
            continue
    problems: list[str] = []
    scale = _scale(rows)
    out = root / "target" / "stream"
    result = replay(compiled, list(oracle), out, to_online=True, dead_letters=root / "target" / "dead.jsonl")
    for name, expected in oracle.items():
        view = compiled.views[name]
        got = {r["txn_id"]: r for r in pq.read_table(result.outputs[name]).to_pylist()}
        problems += _compare(expected, got, f"{name} stream (Bytewax)", view.sql, scale)
        STATS["stream: views compared"] += 1
        if view.joins:
            STATS["stream: views with dimension joins compared"] += 1
        if view.input.kind == "view":
            up_view = compiled.views[view.input.name]
            STATS["stream: views over ref() compared" + (" (keyed alike)" if up_view.entity == view.entity
                                                          else " (re-keyed)")] += 1
        if view.view_joins:
            STATS["stream: views joining another view's rows compared"] += 1
        if fast.plan_for(view):
            STATS["stream: views compared with windows in the compiled kernel"] += 1
        for dialect, conn in (("postgres", pg), ("duckdb", duck)):
            try:
                sql = per_event_sql(view, dialect, input_for(view, compiled.views, dialect))
            except BatchUnsupported:
                STATS[f"{dialect} SQL: views refused (cannot be exact)"] += 1
                continue
            names = [c.name for c in view.columns]
            try:
                rows_ = conn.execute(sql).fetchall()
            except (psycopg.Error, duckdb.Error) as exc:
                problems.append(f"{name} {dialect} per-event SQL failed: {exc}\n{sql}")
                continue
            problems += _compare(expected, _rows(rows_, names), f"{name} {dialect} per-event SQL", view.sql, scale)
            STATS[f"{dialect} SQL: views compared"] += 1
    problems += _check_as_of(root, compiled, pg, duck, rows, list(oracle), scale)
    problems += _check_request_events(root, compiled, pg, duck, rows, list(oracle), scale)
    duck.close()
    return problems


REQUEST_AFTER = [timedelta(microseconds=1), timedelta(minutes=30), timedelta(days=1)]


def _check_request_events(root: Path, compiled, pg, duck, rows: list[dict], names: list[str], scale: float) -> list[str]:
    """Features with a request event (semantics §1.3) from the store the replay wrote: for a few
    events e after the last one — an existing key's, and a key never seen — the view's own SQL on
    Postgres (DuckDB for COUNT(DISTINCT)) over the events plus e, e's row (none: its WHERE left e out)."""
    problems: list[str] = []
    last = max(r["ts"] for r in rows)
    store = open_store(compiled.project.target.online, root)
    try:
        for name in names:
            view = compiled.views[name]
            if view.input.kind != "source" or view.view_joins:
                continue  # features with the request event are computed from a source's events
            use_duck = any(a.func == "count_distinct" for a in view.aggregates)
            conn = duck if use_duck else pg
            evaluator = evaluator_for(compiled.project, view)
            for i, after in enumerate(REQUEST_AFTER):
                base = rows[(i * 7) % len(rows)]
                event = dict(base, txn_id=f"zz_request_{i}", ts=last + after)
                if i == len(REQUEST_AFTER) - 1:
                    event.update({k: "zz_new" for k in view.entity})
                table(conn, "tx_req", ", ".join(f'"{c}" {_duck_type(t) if use_duck else t}' for c, t in COLUMNS.items()),
                      [[r[c] for c in COLUMNS] for r in [*rows, event]])
                try:
                    want = [r for r in conn.execute(over_table(compiled.views[name].sql, "tx_req")).fetchall()
                            if r[0] == event["txn_id"]]
                except (psycopg.Error, duckdb.Error):
                    STATS["request events: skipped (Postgres raised an error with the event)"] += 1
                    continue
                try:
                    got = read_with_event(store, view, event, evaluator)
                except SqlError:
                    got = "error"
                cols = [c.name for c in view.columns]
                if not want:
                    if got is not None:
                        problems.append(f"{name} with request event {event['txn_id']}: Postgres returns no row, got "
                                        f"{got!r}\n--- view:\n{view.sql}")
                    continue
                if got is None or got == "error":
                    problems.append(f"{name} with request event {event['txn_id']}: Postgres {want[0]!r}, got {got!r}"
                                    f"\n--- view:\n{view.sql}")
                    continue
                for c, v in zip(cols, want[0]):
                    if not same(v, got.get(c), scale):
                        problems.append(f"{name} with request event {event['txn_id']} column {c}: Postgres {v!r}, "
                                        f"got {got.get(c)!r}\n--- view:\n{view.sql}")
                STATS["request events compared"] += 1
    finally:
        store.close()
    return problems[:6]



def _check_as_of(root: Path, compiled, pg, duck, rows: list[dict], names: list[str], scale: float) -> list[str]:
    """Online reads (the store the Bytewax replay wrote) and the as-of SQL on Postgres and DuckDB,
    for every key of every view at times at and after the last event, against the view's own SQL
    with probe rows (tests/fuzz/as_of.py) on Postgres (DuckDB for COUNT(DISTINCT))."""
    problems: list[str] = []
    store = open_store(compiled.project.target.online, root)
    try:
        for name in names:
            view = compiled.views[name]
            use_duck = any(a.func == "count_distinct" for a in view.aggregates)
            found = expected_as_of(compiled, name, pg, duck, rows)
            if found is None:
                STATS["as-of: views skipped (Postgres raised an error on the data)"] += 1
                continue
            spine, expected = found
            evaluator = evaluator_for(compiled.project, view)
            compare_cols = [c.name for c in view.columns if c.name != "txn_id"]
            # the stream's online reads
            for key, t, sid in spine:
                got = read_as_of(store, view, list(key), t, evaluator)
                exp_row = expected[sid]
                if exp_row is None:
                    problems.append(f"{name} as-of oracle: no probe row for {key} at {t}")
                    continue
                for c in compare_cols:
                    if not same(exp_row[c], got.get(c), scale):
                        problems.append(f"{name} online read {list(key)} @ {t.isoformat()} column {c}: "
                                        f"Postgres {exp_row[c]!r}, got {got.get(c)!r}\n--- view:\n{view.sql}")
            STATS["online reads compared"] += len(spine)
            # the as-of SQL of each dialect
            for dialect, conn in (("postgres", pg), ("duckdb", duck)):
                try:
                    sql = as_of_sql(view, dialect, input_for(view, compiled.views, dialect), '"spine"')
                except BatchUnsupported:
                    STATS[f"{dialect} as-of SQL: views refused (cannot be exact)"] += 1
                    continue
                if dialect == "postgres" and use_duck:
                    continue
                kcols = ", ".join(f'"{k}" {COLUMNS[k] if dialect == "postgres" else "TEXT"}' for k in view.entity)
                table(conn, "spine", f"{kcols}, __t timestamptz, __spine_id bigint",
                       [[*key, t, sid] for key, t, sid in spine])
                try:
                    cur = conn.execute(sql)
                    res_names = [d[0] for d in cur.description]
                    res = {r[0]: dict(zip(res_names, r)) for r in cur.fetchall()}
                except (psycopg.Error, duckdb.Error) as exc:
                    problems.append(f"{name} {dialect} as-of SQL failed: {exc}\n{sql}")
                    continue
                for key, t, sid in spine:
                    for c in compare_cols:
                        if not same(expected[sid][c], res.get(sid, {}).get(c), scale):
                            problems.append(f"{name} {dialect} as-of SQL {list(key)} @ {t.isoformat()} column {c}: "
                                            f"Postgres {expected[sid][c]!r}, got {res.get(sid, {}).get(c)!r}"
                                            f"\n--- view:\n{view.sql}")
                STATS[f"{dialect} as-of SQL: views compared"] += 1
    finally:
        store.close()
    return problems[:6]


@given(rows=events(), sqls=st.lists(view_sql(), min_size=VIEWS, max_size=VIEWS),
       up=st.one_of(st.none(), upstream_sql(), upstream_sql()),
       reads=st.sets(st.integers(0, VIEWS - 1), min_size=1, max_size=VIEWS // 2),
       joining=st.lists(view_join_sql(), max_size=2))
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=DERANDOMIZE,
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # shrinking a batch of views takes minutes
def test_every_path_equals_postgres_running_the_view(tmp_path_factory, pg, rows, sqls, up, reads, joining):
    if up is not None:  # some of the views read the upstream view's rows instead of the events, some join them
        sqls = [over_upstream(sql) if i in reads else sql for i, sql in enumerate(sqls)] + joining
    try:
        problems = check(tmp_path_factory.mktemp("fuzz"), pg, rows, sqls, up)
    except Exception as exc:  # noqa: BLE001 - a crash of any path is a failure to keep as well
        problems = [f"a path crashed: {type(exc).__name__}: {exc}"]
    if problems:  # keep the case (events and views) as a regression test: tests/fuzz/regressions/
        case = REGRESSIONS / ("case_" + hashlib.sha1("\n".join(sqls).encode()).hexdigest()[:10])
        (case / "features").mkdir(parents=True, exist_ok=True)
        (case / "events.jsonl").write_text("".join(_json(r) + "\n" for r in rows))
        for i, sql in enumerate(sqls):
            (case / "features" / f"v{i}.sql").write_text(sql)
        if up is not None:
            (case / "features" / f"{UPSTREAM}.sql").write_text(up)
    assert not problems, "\n\n".join(problems[:5])


def _read_events(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        r["q"] = None if r["q"] is None else Decimal(r["q"])
        r["ts"] = datetime.fromisoformat(r["ts"])
        rows.append(r)
    return rows


@pytest.mark.parametrize("case", sorted(REGRESSIONS.glob("case_*")) if REGRESSIONS.exists() else [],
                         ids=lambda p: p.name)
def test_kept_fuzz_failures_stay_fixed(tmp_path, pg, case):
    sqls = [p.read_text() for p in sorted((case / "features").glob("v*.sql"), key=lambda p: int(p.stem[1:]))]
    up = case / "features" / f"{UPSTREAM}.sql"
    problems = check(tmp_path / "proj", pg, _read_events(case / "events.jsonl"), sqls,
                     up.read_text() if up.exists() else None)
    assert not problems, "\n\n".join(problems[:5])


def test_zz_fuzz_summary():
    """Prints what the fuzzer covered in this run (the closing note's figures come from here)."""
    if STATS:
        print("\nfuzz summary:", json.dumps(dict(sorted(STATS.items())), indent=1))
        assert STATS["stream: views compared"] > 0
    assert not math.isnan(0.0)


def test_arguments_postgres_never_evaluates_do_not_fail_the_stream(tmp_path, pg):
    """Postgres evaluates a window function's argument only for the rows it reads: the last row's
    overflowing cast below is never read by LAG, FIRST_VALUE over an unbounded frame, or a frame
    excluding the current row, so Postgres succeeds — and so must the stream and the Postgres SQL.
    (DuckDB casts every row first and fails the query: a known limitation of its batch SQL.)"""
    base = datetime.fromisoformat("2026-03-01T00:00:00+00:00")
    rows = [{"txn_id": f"t{i}", "user_id": "u1" if i < 3 else "u2", "merchant_id": "m1", "amount": 1.5, "n": n,
             "q": Decimal("1.25"), "status": "ok", "flag": True, "ts": base.replace(second=i)}
            for i, n in enumerate([1, 2, 100, 3, 99])]
    cast = "CAST(n AS NUMERIC(3,1))"
    sqls = [f"SELECT txn_id, ts, LAG({cast}) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS f0 FROM {{{{ source('tx') }}}}",
            f"SELECT txn_id, ts, FIRST_VALUE({cast}) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN "
            f"UNBOUNDED PRECEDING AND CURRENT ROW) AS f0 FROM {{{{ source('tx') }}}}",
            f"SELECT txn_id, ts, SUM({cast}) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND "
            f"CURRENT ROW EXCLUDE CURRENT ROW) AS f0 FROM {{{{ source('tx') }}}}"]
    before = STATS["stream: views compared"]
    problems = check(tmp_path / "lazy", pg, rows, sqls)
    assert STATS["stream: views compared"] - before == 3  # Postgres ran all three
    assert not [p for p in problems if "duckdb" not in p], problems
