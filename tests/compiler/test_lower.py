"""Valid constructs of the contract's SQL surface lower to the intended IR."""

from __future__ import annotations

import json

import pytest

from skewless.compiler.ir import FeatureView

HOUR = 3_600_000_000


def one(compile_views, sql: str, name: str = "v") -> FeatureView:
    compiled = compile_views({name: sql})
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    return compiled.views[name]


def test_default_frame_is_lifetime_range(compile_views):
    v = one(compile_views, "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}")
    agg = v.aggregates[0]
    assert agg.func == "count_star" and agg.arg is None
    assert agg.frame.mode == "range"
    assert agg.frame.start.kind == "unbounded_preceding" and agg.frame.end.kind == "current_row"
    assert agg.frame.exclude == "no_others"
    assert v.entity == ["user_id"] and v.timestamp == "ts" and v.unique_key == ["txn_id"]


@pytest.mark.parametrize("interval,us", [
    ("INTERVAL '1 hour'", HOUR), ("INTERVAL '90 minutes'", 90 * 60_000_000), ("INTERVAL '1' DAY", 24 * HOUR),
    ("INTERVAL '1 day 2 hours'", 26 * HOUR), ("INTERVAL '2 weeks'", 14 * 24 * HOUR), ("INTERVAL '30 seconds'", 30_000_000),
    ("'15 minutes'::interval", 15 * 60_000_000),
])
def test_range_interval_offsets_are_exact_microseconds(compile_views, interval, us):
    v = one(compile_views, f"SELECT user_id, SUM(amount) OVER (PARTITION BY user_id ORDER BY ts "
                           f"RANGE BETWEEN {interval} PRECEDING AND CURRENT ROW) AS s FROM {{{{ source('tx') }}}}")
    assert v.aggregates[0].frame.start.offset == us


@pytest.mark.parametrize("clause,mode", [
    ("EXCLUDE CURRENT ROW", "current_row"), ("EXCLUDE GROUP", "group"), ("EXCLUDE TIES", "ties"),
    ("EXCLUDE NO OTHERS", "no_others"), ("", "no_others"),
])
def test_exclude_modes(compile_views, clause, mode):
    v = one(compile_views, "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts RANGE BETWEEN "
                           f"INTERVAL '1 hour' PRECEDING AND CURRENT ROW {clause}) AS c FROM {{{{ source('tx') }}}}")
    assert v.aggregates[0].frame.exclude == mode


def test_rows_frames_with_tiebreak(compile_views):
    v = one(compile_views, """
        SELECT user_id,
          SUM(n) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING) AS prev5,
          AVG(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS 3 PRECEDING) AS last4
        FROM {{ source('tx') }}""")
    a, b = v.aggregates
    assert (a.frame.mode, a.frame.start.offset, a.frame.end.kind, a.frame.end.offset) == ("rows", 5, "preceding", 1)
    assert (b.frame.start.offset, b.frame.end.kind) == (3, "current_row")
    assert a.order == ["ts", "txn_id"]
    assert a.type == "bigint" and b.type == "double precision"


def test_named_windows_and_inheritance(compile_views):
    v = one(compile_views, """
        SELECT user_id,
          COUNT(*) OVER w AS c,
          FIRST_VALUE(amount) OVER (s ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS f
        FROM {{ source('tx') }}
        WINDOW w AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW),
               s AS (PARTITION BY user_id ORDER BY ts, txn_id)""")
    c, f = v.aggregates
    assert c.frame.start.offset == HOUR and c.order == ["ts"]
    assert f.func == "first_value" and f.frame.mode == "rows" and f.order == ["ts", "txn_id"]
    assert "OVER (PARTITION BY user_id ORDER BY ts, txn_id ROWS BETWEEN 2 PRECEDING" in f.sql


def test_lag_offset_default_and_time_difference(compile_views):
    v = one(compile_views, """
        SELECT user_id,
          LAG(amount, 2, 0.0) OVER w AS prev2,
          ts - LAG(ts) OVER w AS gap,
          EXTRACT(EPOCH FROM ts - LAG(ts) OVER w) AS gap_s
        FROM {{ source('tx') }} WINDOW w AS (PARTITION BY user_id ORDER BY ts, txn_id)""")
    prev2, lag_ts = v.aggregates  # the two LAG(ts) calls are one aggregate
    assert (prev2.func, prev2.offset, prev2.default, prev2.frame) == ("lag", 2, "0.0", None)
    assert v.column("gap").aggregates == [lag_ts.id] == v.column("gap_s").aggregates
    assert v.column("gap").type == "interval"
    assert v.column("gap_s").type == "numeric"  # EXTRACT is numeric since Postgres 14
    assert v.column("gap_s").expr == f"EXTRACT(EPOCH FROM ts - __{lag_ts.id})"


def test_filter_distinct_bool_and_variance_families(compile_views):
    v = one(compile_views, """
        SELECT user_id,
          COUNT(*) FILTER (WHERE status = 'declined') OVER w AS declined,
          COUNT(DISTINCT merchant_id) OVER w AS merchants,
          BOOL_OR(amount > 100) OVER w AS any_big, BOOL_AND(flag) OVER w AS all_flag,
          STDDEV(amount) OVER w AS sd, VARIANCE(amount) OVER w AS var, VAR_POP(n) OVER w AS vp,
          STDDEV_POP(n) OVER w AS sdp, MIN(ts) OVER w AS first_ts, MAX(status) OVER w AS max_status,
          COUNT(amount) OVER w AS n_amount, SUM(n) OVER w AS sum_n
        FROM {{ source('tx') }}
        WINDOW w AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '1 day' PRECEDING AND CURRENT ROW)""")
    funcs = {c.name: v.aggregate(c.aggregates[0]) for c in v.columns if c.kind == "feature"}
    assert funcs["declined"].filter == "status = 'declined'"
    assert funcs["merchants"].func == "count_distinct" and funcs["merchants"].arg == "merchant_id"
    assert funcs["any_big"].func == "bool_or" and funcs["all_flag"].func == "bool_and"
    assert [funcs[k].func for k in ("sd", "var", "vp", "sdp")] == ["stddev_samp", "var_samp", "var_pop", "stddev_pop"]
    assert funcs["first_ts"].type == "timestamptz" and funcs["max_status"].type == "text"
    assert funcs["sum_n"].type == "bigint" and funcs["n_amount"].func == "count"


def test_composite_entity_scalars_and_where(compile_views):
    v = one(compile_views, """
        SELECT user_id, merchant_id, amount * 2 AS doubled,
          COALESCE(SUM(amount) OVER (PARTITION BY user_id, merchant_id ORDER BY ts), 0)
            / NULLIF(COUNT(*) OVER (PARTITION BY merchant_id, user_id ORDER BY ts), 0) AS avg_manual,
          CASE WHEN COUNT(*) OVER (PARTITION BY user_id, merchant_id ORDER BY ts) > 3 THEN 'many' ELSE 'few' END AS bucket
        FROM {{ source('tx') }} AS t
        WHERE t.status <> 'test' AND EXTRACT(HOUR FROM ts) BETWEEN 0 AND 23""")
    assert v.entity == ["user_id", "merchant_id"]
    assert v.where == "t.status <> 'test' AND EXTRACT(HOUR FROM ts) BETWEEN 0 AND 23".replace("t.status", "status")
    assert [c.kind for c in v.columns] == ["passthrough", "passthrough", "scalar", "feature", "feature"]
    assert v.column("bucket").type == "text"
    assert len(v.aggregates) == 2  # identical COUNT(*) windows share one aggregate


def test_ref_reads_upstream_view(compile_views):
    compiled = compile_views({
        "base": "SELECT txn_id, user_id, ts, SUM(amount) OVER (PARTITION BY user_id ORDER BY ts) AS total "
                "FROM {{ source('tx') }}",
        "derived": "SELECT user_id, MAX(total) OVER (PARTITION BY user_id ORDER BY ts, txn_id "
                   "ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS max_total FROM {{ ref('base') }}",
    })
    assert not compiled.diagnostics, [d.format() for d in compiled.diagnostics]
    derived = compiled.views["derived"]
    assert derived.input.kind == "view" and derived.depends_on == ["base"] and derived.root_source == "tx"
    assert derived.unique_key == ["txn_id"]
    assert {c.name: c.type for c in derived.input_columns}["total"] == "double precision"


def test_ref_requires_upstream_timestamp(compile_views):
    compiled = compile_views({
        "base": "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}",
        "derived": "SELECT user_id,\n  SUM(c) OVER (PARTITION BY user_id ORDER BY ts) AS s\nFROM {{ ref('base') }}",
    })
    [diag] = compiled.diagnostics
    assert diag.path.endswith("derived.sql") and (diag.line, diag.col) == (3, 6)
    assert "does not output its timestamp column" in diag.message


def test_ref_cycle_is_reported_at_each_ref(compile_views):
    compiled = compile_views({
        "a": "SELECT user_id, ts, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ ref('b') }}",
        "b": "SELECT user_id, ts,\n COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c\nFROM {{ ref('a') }}",
    })
    msgs = {(d.path.rsplit("/", 1)[-1], d.line, d.col): d.message for d in compiled.diagnostics}
    assert msgs[("a.sql", 1, 80)].startswith("ref() cycle: a -> b -> a")
    assert msgs[("b.sql", 3, 6)].startswith("ref() cycle: b -> a -> b") or "cycle" in msgs[("b.sql", 3, 6)]


def test_vars_macros_and_config(compile_views):
    compiled = compile_views({"v": (
        "{{ config(description='spend', tags=['x'], online=false) }}\n"
        "SELECT user_id, {{ sum_over('amount') }} AS s FROM {{ source('tx') }} WHERE amount > {{ var('min_amount') }}"
    )})
    v = compiled.views["v"]
    assert (v.description, v.tags, v.online) == ("spend", ["x"], False)
    assert v.where == "amount > 0"
    assert v.aggregates[0].sql == "SUM(amount) OVER (PARTITION BY user_id ORDER BY ts)"


def test_disabled_view_is_skipped(compile_views):
    compiled = compile_views({"v": "{{ config(enabled=false) }}\nSELECT nonsense FROM nowhere"})
    assert not compiled.diagnostics and compiled.views == {}


def test_ir_round_trips_through_json(compile_views):
    v = one(compile_views, "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}")
    again = FeatureView.model_validate(json.loads(v.model_dump_json()))
    assert again == v


def test_fingerprint_tracks_semantics_not_formatting(compile_views):
    base = "SELECT user_id, COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS c FROM {{ source('tx') }}"
    a = one(compile_views, base)
    b = one(compile_views, base.replace(" AS c", "\n   AS c  -- comment\n"))
    c = one(compile_views, base.replace("COUNT(*)", "COUNT(amount)"))
    assert a.fingerprint == b.fingerprint != c.fingerprint
