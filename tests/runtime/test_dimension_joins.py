"""Views that LEFT JOIN dimension tables (issue 13, part 2): a static one (one row per key) and a
versioned one (valid_from/valid_to ranges, the version valid at the event's time), in arguments,
FILTERs, WHERE, pass-through columns and expressions, over a source and over ref() of a joined view.
Events and both tables generated (hypothesis; versions whose bounds fall exactly on event times).
Every path equals Postgres running the views' own SQL over the same tables:

- the real Bytewax dataflow's per-event rows (`replay`),
- online reads after it, as of times at and after the last event (the fuzzer's probe-row oracle),
- per-event relations on DuckDB and Postgres (`Project.per_event`),
- as-of reads of a generated spine on DuckDB and Postgres (`Project.as_of`; probe rows per time),
- `backfill --to-online` (`seed_online`) read back as of the end."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import skewless
from skewless.compiler.errors import SkewlessError
from skewless.runtime.sources.dimension import evaluator_for
from skewless.runtime.stores import open_store
from skewless.runtime.stream.jobs import replay
from skewless.runtime.stream.online import read_as_of, read_with_event
from tests.fuzz.as_of import AS_OF_AFTER, PROBE, over_table, probe_sql
from tests.support.compare import diff
from tests.support.events import BASE, TYPES, spines, tx_events

pytestmark = pytest.mark.postgres

W = "PARTITION BY e.user_id ORDER BY e.ts"
TIERS_ON = ("t.merchant_id = e.merchant_id AND e.ts >= t.valid_from AND (e.ts < t.valid_to OR t.valid_to IS NULL)")
VIEWS = {
    "by_category": f"""SELECT e.txn_id, e.user_id, e.merchant_id, e.ts, m.category, amount * m.risk AS weighted,
  SUM(e.amount * m.risk) OVER ({W} RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS risky_1h,
  COUNT(*) FILTER (WHERE m.category = 'food') OVER ({W}) AS food_life,
  MAX(risk) OVER ({W} RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW EXCLUDE GROUP) AS max_risk_1d,
  LAG(m.category, 1, 'none') OVER ({W}, e.txn_id) AS prev_category
FROM {{{{ source('tx') }}}} e
LEFT JOIN {{{{ source('merchants') }}}} m ON m.id = e.merchant_id
WHERE m.category IS DISTINCT FROM 'blocked'""",
    "by_tier": f"""SELECT txn_id, user_id, ts, t.tier,
  AVG(t.tier) OVER ({W} RANGE BETWEEN INTERVAL '2 hours' PRECEDING AND CURRENT ROW) AS avg_tier_2h,
  COUNT(t.tier) OVER ({W}) AS tiered,
  SUM(CASE WHEN t.tier >= 2 THEN e.amount END) OVER ({W} RANGE BETWEEN INTERVAL '7 days' PRECEDING
                                                     AND INTERVAL '1 hour' PRECEDING) AS high_tier_amount
FROM {{{{ source('tx') }}}} AS e
LEFT JOIN {{{{ source('tiers') }}}} t ON {TIERS_ON}""",
    "merchant_mix": """SELECT e.txn_id, e.merchant_id, e.ts,
  SUM(m.risk * t.tier) OVER (PARTITION BY e.merchant_id ORDER BY e.ts
                             RANGE BETWEEN INTERVAL '3 hours' PRECEDING AND CURRENT ROW) AS risk_tier_3h,
  MIN(t.tier) FILTER (WHERE m.category IS NOT NULL) OVER (PARTITION BY e.merchant_id ORDER BY e.ts) AS min_tier
FROM {{ source('tx') }} e
LEFT JOIN {{ source('merchants') }} m ON e.merchant_id = m.id
LEFT JOIN {{ source('tiers') }} AS t ON t.merchant_id = e.merchant_id AND t.valid_from <= e.ts
                                       AND (t.valid_to IS NULL OR e.ts < t.valid_to)""",
    # over ref() of a joined view, joining again: the upstream's rows are this view's events
    "category_tier": """SELECT s.txn_id, s.user_id, s.ts, s.category,
  COUNT(*) FILTER (WHERE t.tier = 1 OR s.category = 'travel')
      OVER (PARTITION BY s.user_id ORDER BY s.ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW) AS c
FROM {{ ref('by_category') }} s
LEFT JOIN {{ source('tiers') }} t ON t.merchant_id = s.merchant_id AND s.ts >= t.valid_from
                                       AND (s.ts < t.valid_to OR t.valid_to IS NULL)""",
}
SOURCE_VIEWS = ["by_category", "by_tier", "merchant_mix"]
PROJECT = "name: dims\ndialect: postgres\nallowed_lateness: 1m\nbatch_dialects: [duckdb, postgres]\n"
SOURCES = ("sources:\n  - name: tx\n    timestamp: ts\n    unique_key: [txn_id]\n    columns:\n"
           + "".join(f"      - {{name: {c}, type: \"{t}\"}}\n" for c, t in TYPES.items())
           + "    stream: {file: data/tx.parquet}\n    batch: {path: data/tx.parquet}\n" + """
dimensions:
  - name: merchants
    key: [id]
    columns:
      - {name: id, type: text}
      - {name: category, type: text}
      - {name: risk, type: double precision}
    batch: {path: data/merchants.parquet}
  - name: tiers
    key: [merchant_id]
    valid_from: valid_from
    valid_to: valid_to
    columns:
      - {name: merchant_id, type: text}
      - {name: tier, type: integer}
      - {name: valid_from, type: timestamptz}
      - {name: valid_to, type: timestamptz}
    batch: {path: data/tiers.csv}
""")
M_TYPES = {"id": "text", "category": "text", "risk": "double precision"}
T_TYPES = {"merchant_id": "text", "tier": "integer", "valid_from": "timestamptz", "valid_to": "timestamptz"}
M_SCHEMA = pa.schema([("id", pa.string()), ("category", pa.string()), ("risk", pa.float64())])
T_SCHEMA = pa.schema([("merchant_id", pa.string()), ("tier", pa.int32()),
                      ("valid_from", pa.timestamp("us", tz="UTC")), ("valid_to", pa.timestamp("us", tz="UTC"))])
# version bounds on and around the events' times (tests/support/events.py: BASE + offsets)
CUTS = [BASE + timedelta(seconds=s) for s in (-3600, 0, 1, 1800, 3600, 3601, 7200, 10800, 14400, 86400, 180000)]


@st.composite
def dimensions(draw) -> tuple[pa.Table, pa.Table]:
    merchants = [{"id": m, "category": draw(st.sampled_from(["food", "travel", "blocked", None])),
                  "risk": draw(st.sampled_from([0.5, 1.0, 2.0, -1.5, None]))}
                 for m in ("m1", "m2", "m3", "m4") if m == "m1" or draw(st.booleans())]
    merchants.append({"id": None, "category": "food", "risk": 9.0})  # a NULL key matches no event
    tiers = []
    for m in ("m1", "m2", "m3"):
        cuts = sorted(set(draw(st.lists(st.sampled_from(CUTS), max_size=4))))
        for i, start in enumerate(cuts):
            if draw(st.integers(0, 3)) == 0:
                continue  # a gap: no version then
            end = cuts[i + 1] if i + 1 < len(cuts) else draw(st.sampled_from([None, CUTS[-1] + timedelta(days=1)]))
            tiers.append({"merchant_id": m, "tier": draw(st.integers(0, 3)), "valid_from": start, "valid_to": end})
    return pa.Table.from_pylist(merchants, schema=M_SCHEMA), pa.Table.from_pylist(tiers, schema=T_SCHEMA)


def _project(root: Path) -> None:
    for sub in ("features", "sources", "data"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "skewless_project.yml").write_text(PROJECT)
    (root / "sources" / "sources.yml").write_text(SOURCES)
    for name, sql in VIEWS.items():
        (root / "features" / f"{name}.sql").write_text(sql)


def _write(root: Path, events: pa.Table, merchants: pa.Table, tiers: pa.Table) -> None:
    pq.write_table(events, root / "data" / "tx.parquet")
    pq.write_table(merchants, root / "data" / "merchants.parquet")
    pacsv.write_csv(tiers, root / "data" / "tiers.csv")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dims") / "proj"
    _project(root)
    return root


def _oracle(pg, events: pa.Table, merchants: pa.Table, tiers: pa.Table) -> None:
    pg.execute("DROP VIEW IF EXISTS pg_temp.by_category")  # ours, from the previous example
    pg.register("tx", events, TYPES)
    pg.register("merchants", merchants, M_TYPES)
    pg.register("tiers", tiers, T_TYPES)


def _as_of_oracle(pg, api, name: str, events: pa.Table, keys_times: list[tuple]) -> dict:
    """(key, t) -> the view's row as of t: its own SQL over the events plus one probe row per key
    (tests/fuzz/as_of.py), one run per time (probes of one key at two times would see each other)."""
    view = api.compiled.views[name]
    names = [c.name for c in view.columns]
    out: dict = {}
    for t in sorted({t for _, t in keys_times}):
        keys = sorted({k for k, tt in keys_times if tt == t}, key=repr)
        probes = pa.Table.from_pylist([{view.entity[0]: k, "ts": t} for k in keys], schema=events.schema)
        table = pa.concat_tables([events, probes])
        table = table.append_column(PROBE, pa.array([False] * events.num_rows + [True] * len(keys)))
        pg.register("probe_tx", table, {**TYPES, PROBE: "boolean"})
        rows = pg.query(probe_sql(api.compiled.views[name].sql, "probe_tx", view.entity, qualify="e")).to_pylist()
        for r in rows:
            if r[PROBE]:
                out[(r["__k0"], t)] = {c: r[c] for c in names}
    return out


SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))


@given(events=tx_events(min_size=3, max_size=40), dims=dimensions(), spine=spines(max_size=12))
@SETTINGS
def test_joined_views_equal_postgres_on_every_path(root, oracle_engines, pg_dsn, events, dims, spine):
    pg, _ = oracle_engines
    merchants, tiers = dims
    events = events.sort_by("ts")  # in time order: nothing is late
    _write(root, events, merchants, tiers)
    _oracle(pg, events, merchants, tiers)
    api = skewless.Project(root)
    assert api.validate() == []
    compiled = api.compiled
    for path in (root / "target").glob("online.sqlite*"):
        path.unlink()
    result = replay(compiled, [*SOURCE_VIEWS, "category_tier"], root / "target" / "rows", to_online=True,
                    dead_letters=root / "target" / "dead.jsonl")
    expected = {}
    for name in VIEWS:
        expected[name] = pg.query(compiled.views[name].sql)
        if name == "by_category":
            pg.execute(f'CREATE TEMP VIEW "by_category" AS {compiled.views[name].sql}')
        problems = diff(expected[name], pq.read_table(result.outputs[name]), "txn_id")
        assert not problems, f"{name} stream: {problems[:5]}"
        for engine, dsn in (("duckdb", None), ("postgres", pg_dsn)):
            problems = diff(expected[name], api.per_event(name, engine=engine, dsn=dsn), "txn_id")
            assert not problems, f"{name} per-event on {engine}: {problems[:5]}"

    # as-of reads of a spine (batch) and online reads at and after the last event (stream)
    last = max(events["ts"].to_pylist())
    store = open_store(compiled.project.target.online, root)
    try:
        for name in SOURCE_VIEWS:
            view = compiled.views[name]
            names = [c.name for c in view.columns if c.name not in ("txn_id", "ts")]
            ent = view.entity[0]
            asked = spine.rename_columns([ent, "ts", "row"]) if ent == "user_id" else pa.table({
                ent: pa.array([f"m{(i % 4) + 1}" for i in range(spine.num_rows)]), "ts": spine["__t"],
                "row": spine["__spine_id"]})
            pairs = list(zip(asked[ent].to_pylist(), asked["ts"].to_pylist()))
            online_keys = sorted({v for v in events[ent].to_pylist() if v is not None})
            online_pairs = [(k, last + d) for k in online_keys for d in AS_OF_AFTER]
            oracle = _as_of_oracle(pg, api, name, events, pairs + online_pairs)
            for engine, dsn in (("duckdb", None), ("postgres", pg_dsn)):
                got = api.as_of(asked, name, engine=engine, dsn=dsn).to_pylist()
                for row, pair in zip(got, pairs):
                    for c in (c.name for c in view.columns if c.kind == "feature"):
                        assert _same(oracle[pair][c], row[c]), f"{name} as of {pair} on {engine}: {c} " \
                            f"expected {oracle[pair][c]!r}, got {row[c]!r}"
            for k, t in online_pairs:
                got = read_as_of(store, view, [k], t, evaluator_for(compiled.project, view))
                for c in names:
                    assert _same(oracle[(k, t)][c], got[c]), f"{name} online {k} @ {t}: {c} " \
                        f"expected {oracle[(k, t)][c]!r}, got {got[c]!r}"
        # request events (semantics §1.3): the view's row for an event appended to the source,
        # its dimension rows looked up as the stream does
        for merchant in ("m1", "m2", "m4", None):
            user = events["user_id"].to_pylist()[-1]
            event = {"txn_id": "zz_request", "user_id": user, "merchant_id": merchant, "amount": 2.5, "n": 1,
                     "status": "ok", "flag": True, "ts": last + timedelta(minutes=1)}
            pg.register("tx_req", pa.concat_tables([events, pa.Table.from_pylist([event], schema=events.schema)]),
                        TYPES)
            for name in SOURCE_VIEWS:
                view = compiled.views[name]
                sql = over_table(compiled.views[name].sql, "tx_req")
                want = [r for r in pg.query(sql).to_pylist() if r["txn_id"] == "zz_request"]
                got = read_with_event(store, view, event, evaluator_for(compiled.project, view))
                assert (got is None) == (not want), (name, merchant, got, want)
                for c in (c.name for c in view.columns if got is not None):
                    assert _same(want[0][c], got[c]), f"{name} with event at {merchant}: {c} " \
                        f"expected {want[0][c]!r}, got {got[c]!r}"
    finally:
        store.close()


def tx_events_schema() -> pa.Schema:
    from tests.support.events import SCHEMA

    return SCHEMA


def _same(a, b) -> bool:
    from skewless.runtime.values import same

    return same(a, b, 1e7)


@given(events=tx_events(min_size=20, max_size=20), dims=dimensions())
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_backfill_to_online_reads_the_dimensions(root, oracle_engines, events, dims):
    pg, _ = oracle_engines
    events = events.sort_by("ts")
    merchants, tiers = dims
    _write(root, events, merchants, tiers)
    _oracle(pg, events, merchants, tiers)
    api = skewless.Project(root)
    for path in (root / "target").glob("online.sqlite*"):
        path.unlink()
    assert dict(api.seed_online(SOURCE_VIEWS))
    last = max(events["ts"].to_pylist()) + timedelta(minutes=30)
    store = open_store(api.compiled.project.target.online, root)
    try:
        for name in SOURCE_VIEWS:
            view = api.compiled.views[name]
            ent = view.entity[0]
            keys = sorted({v for v in events[ent].to_pylist() if v is not None})
            oracle = _as_of_oracle(pg, api, name, events, [(k, last) for k in keys])
            for k in keys:
                got = read_as_of(store, view, [k], last, evaluator_for(api.compiled.project, view))
                for c in (c.name for c in view.columns if c.name not in ("txn_id", "ts")):
                    assert _same(oracle[(k, last)][c], got[c]), (name, k, c, oracle[(k, last)][c], got[c])
    finally:
        store.close()


@pytest.mark.parametrize("bad, message", [
    ("merchants", "key (id='m1') appears in more than one row"),
    ("tiers", "key (merchant_id='m1') has versions whose [valid_from, valid_to) ranges overlap"),
])
def test_a_table_that_breaks_its_key_is_refused_by_every_path(root, bad, message):
    events = pa.Table.from_pylist([{"txn_id": f"t{i}", "user_id": "u1", "merchant_id": "m1", "amount": 1.0, "n": i,
                                    "status": "ok", "flag": True, "ts": CUTS[1] + timedelta(minutes=i)}
                                   for i in range(5)], schema=tx_events_schema())
    merchants = pa.Table.from_pylist([{"id": "m1", "category": "a", "risk": 1.0}], schema=M_SCHEMA)
    tiers = pa.Table.from_pylist([{"merchant_id": "m1", "tier": 1, "valid_from": CUTS[0], "valid_to": CUTS[3]}],
                                 schema=T_SCHEMA)
    if bad == "merchants":
        merchants = pa.concat_tables([merchants, pa.Table.from_pylist([{"id": "m1", "category": "b", "risk": 2.0}],
                                                                      schema=M_SCHEMA)])
    else:  # the second version starts before the first ends
        tiers = pa.concat_tables([tiers, pa.Table.from_pylist([{"merchant_id": "m1", "tier": 2, "valid_from": CUTS[2],
                                                                "valid_to": None}], schema=T_SCHEMA)])
    _write(root, events, merchants, tiers)
    api = skewless.Project(root)
    view = "by_category" if bad == "merchants" else "by_tier"
    with pytest.raises(SkewlessError) as stream:
        replay(api.compiled, [view], None, to_online=False, dead_letters=root / "target" / "dead.jsonl")
    with pytest.raises(SkewlessError) as batch:
        api.per_event(view)
    for err in (stream.value, batch.value):
        text = str(err)
        assert message in text and "sources/sources.yml" in text, text


@pytest.mark.spark
@given(events=tx_events(min_size=3, max_size=30), dims=dimensions(), spine=spines(max_size=10))
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
def test_joined_views_on_spark_equal_postgres(root, oracle_engines, spark, events, dims, spine):
    """Spark (local[2]) runs the compiled per-event SQL == Postgres running the view's SQL, and the
    compiled as-of SQL == the as-of SQL on Postgres (itself checked against probe rows above)."""
    import os

    from skewless.compiler.batch import as_of_sql, per_event_sql
    from skewless.compiler.batch.inputs import input_for

    if not os.environ.get("CI"):
        pytest.importorskip("pyspark")
    pg, _ = oracle_engines
    merchants, tiers = dims
    _write(root, events, merchants, tiers)
    _oracle(pg, events, merchants, tiers)
    api = skewless.Project(root)
    views = api.compiled.views
    for engine in (pg, spark):
        engine.register("spine", spine)
    spark.register("tx", events, TYPES)
    spark.register("merchants", merchants, M_TYPES)
    spark.register("tiers", tiers, T_TYPES)
    for name in VIEWS:
        sql = per_event_sql(views[name], "spark", input_for(views[name], views, "spark"))
        expected = pg.query(api.compiled.views[name].sql)
        if name == "by_category":
            pg.execute(f'CREATE TEMP VIEW "by_category" AS {api.compiled.views[name].sql}')
        problems = diff(expected, spark.query(sql), "txn_id")
        assert not problems, f"{name} per-event on spark: {problems[:5]}"
    merchants_spine = pa.table({"merchant_id": pa.array([f"m{(i % 4) + 1}" for i in range(spine.num_rows)]),
                                "__t": spine["__t"], "__spine_id": spine["__spine_id"]})
    for engine in (pg, spark):
        engine.register("mspine", merchants_spine)
    # by merchant, merchant_mix's spine rows join both dimensions (its joins are on its entity key)
    for name, table in (("by_category", "spine"), ("by_tier", "spine"), ("merchant_mix", "mspine")):
        view = views[name]
        expected = pg.query(as_of_sql(view, "postgres", input_for(view, views, "postgres"), f'"{table}"'))
        got = spark.query(as_of_sql(view, "spark", input_for(view, views, "spark"), table))
        problems = diff(expected, got, "__spine_id")
        assert not problems, f"{name} as-of on spark: {problems[:5]}"


@given(events=tx_events(min_size=30, max_size=30), dims=dimensions())
@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_stream_reads_a_dimension_table_from_the_targets_postgres(tmp_path_factory, oracle_engines, pg_dsn,
                                                                       events, dims):
    """A dimension with only ``batch.table``, in the target's Postgres: the stream reads it there
    (read only) — the rows equal Postgres running the view over that very table."""
    import psycopg

    pg, _ = oracle_engines
    root = tmp_path_factory.mktemp("pgdim") / "proj"
    _project(root)
    for name in VIEWS:
        if name != "by_tier":
            (root / "features" / f"{name}.sql").unlink()
    sources = root / "sources" / "sources.yml"
    sources.write_text(sources.read_text().replace("batch: {path: data/tiers.csv}", "batch: {table: pg_tiers}")
                       .replace("name: tiers", "name: pg_tiers"))
    view = root / "features" / "by_tier.sql"
    view.write_text(view.read_text().replace("source('tiers')", "source('pg_tiers')"))
    (root / "profiles.yml").write_text(f"dims:\n  target: dev\n  targets:\n    dev:\n      batch: {{engine: postgres, "
                                       f"dsn: '{pg_dsn}'}}\n      online: {{store: sqlite, path: target/online.sqlite}}\n")
    events = events.sort_by("ts")
    _, tiers = dims
    _write(root, events, pa.table({"id": pa.array([], pa.string())}), tiers)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS public.pg_tiers")  # this test's own table
        conn.execute("CREATE TABLE public.pg_tiers (" + ", ".join(f'"{c}" {t}' for c, t in T_TYPES.items()) + ")")
        with conn.cursor() as cur, cur.copy("COPY public.pg_tiers FROM STDIN") as copy:
            for r in tiers.to_pylist():
                copy.write_row([r[c] for c in T_TYPES])
    api = skewless.Project(root)
    assert api.validate() == []
    result = replay(api.compiled, ["by_tier"], root / "target" / "rows", to_online=False,
                    dead_letters=root / "target" / "dead.jsonl")
    pg.execute("DROP VIEW IF EXISTS pg_temp.by_category")  # a view of an earlier test over its tx
    pg.register("tx", events, TYPES)
    expected = pg.query(api.compiled.views["by_tier"].sql)  # reads public.pg_tiers
    problems = diff(expected, pq.read_table(result.outputs["by_tier"]), "txn_id")
    assert not problems, problems[:5]
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM public.pg_tiers").fetchone()[0] == tiers.num_rows  # untouched
        conn.execute("DROP TABLE public.pg_tiers")
