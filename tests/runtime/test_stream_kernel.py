"""The compiled window kernel (`fast.FastViewKeyState`, `_kernel.pyx`) against the Python state it
replaces in the stream (`frames.ViewKeyState`): on generated peer groups of any doubles — huge,
tiny, subnormal, NaN, ±Infinity, -0.0 — integers and texts, every aggregate value is the same to
the bit, the stored records are the same bytes, and a state loaded from a record continues the
same. (Both are compared with Postgres by the differential fuzzer and the oracle tests; this test
reaches the number ranges those keep away from: sums past 128 bits, results that round to
subnormals, cancellation.)"""

from __future__ import annotations

import math
import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skewless.compiler.project.build import build_project
from skewless.compiler.project.loader import load_project
from skewless.runtime.stream import codec, fast, records
from skewless.runtime.stream.accumulators import Failed
from skewless.runtime.stream.frames import ViewKeyState

pytestmark = pytest.mark.skipif(fast._kernel is None, reason="the compiled kernel is not built")

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
W = "PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL '{}' PRECEDING AND CURRENT ROW"
VIEW = f"""
SELECT txn_id, user_id, ts,
  COUNT(*) OVER w1 AS c1, COUNT(amount) OVER w1 AS ca1, SUM(amount) OVER w1 AS s1, AVG(amount) OVER w1 AS a1,
  MIN(amount) OVER w1 AS mn1, MAX(amount) OVER w1 AS mx1, MIN(n) OVER w1 AS mnn1, MAX(n) OVER w1 AS mxn1,
  COUNT(DISTINCT merchant_id) OVER w1 AS dm1, COUNT(DISTINCT amount) OVER w1 AS da1,
  SUM(amount) FILTER (WHERE flag) OVER w1 AS sf1, BOOL_OR(flag) OVER w1 AS bo1, BOOL_AND(amount > 0) OVER w1 AS ba1,
  VAR_SAMP(amount) OVER w1 AS vs1, STDDEV_POP(amount) OVER w1 AS sp1, SUM(amount / n) OVER w1 AS sdiv1,
  SUM(amount) OVER w2 AS s2, AVG(amount) OVER w2 AS a2, MAX(amount) OVER w2 AS mx2, COUNT(*) OVER w2 AS c2,
  SUM(amount) OVER w2x AS s2x, MAX(amount) OVER w2x AS mx2x, COUNT(*) OVER w2x AS c2x, BOOL_OR(flag) OVER w2x AS bo2x,
  MIN(amount) OVER wt AS mnt, COUNT(DISTINCT merchant_id) OVER wt AS dmt, SUM(amount) OVER wt AS st,
  MAX(amount / n) OVER wt AS mxdivt, STDDEV_SAMP(amount) OVER wt AS sst,
  SUM(amount) OVER wc AS sc, COUNT(*) OVER wc AS cc, COUNT(DISTINCT merchant_id) OVER wc AS dmc,
  VAR_POP(amount) OVER wc AS vpc, AVG(amount / n) OVER wc AS adivc,
  SUM(amount) OVER w3 AS s3, MIN(amount) OVER w3c AS mn3c,
  LAG(amount) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS lag1,
  LAG(n, 2, -1) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS lag2,
  LAG(n, 1, 0.5) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS lag_numeric,
  EXTRACT(EPOCH FROM ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts, txn_id)) AS gap,
  LAG(merchant_id, 0) OVER (PARTITION BY user_id ORDER BY ts, txn_id) AS lag0,
  COUNT(*) OVER (PARTITION BY user_id ORDER BY ts) AS life
FROM {{{{ source('tx') }}}}
WINDOW w1 AS ({W.format('1 hour')}), w2 AS ({W.format('2 minutes')}), w2x AS ({W.format('2 minutes')} EXCLUDE GROUP),
       wt AS ({W.format('10 minutes')} EXCLUDE TIES), wc AS ({W.format('5 minutes')} EXCLUDE CURRENT ROW),
       w3 AS ({W.format('30 minutes')}), w3c AS ({W.format('30 minutes')} EXCLUDE CURRENT ROW)
"""

doubles = st.one_of(st.floats(allow_nan=False), st.sampled_from(
    [float("nan"), 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e308, -1e308, 1.7976931348623157e308,
     0.1, 0.2, 0.3, 1e16, -1e16, 12.34, 2.0 ** 60, 2.0 ** -60, 3.0]))
rows = st.fixed_dictionaries({
    "amount": st.one_of(st.none(), doubles),
    "n": st.one_of(st.none(), st.sampled_from([0, 0, 1, -1, 2, 7]), st.integers(-2 ** 31, 2 ** 31 - 1)),
    "merchant_id": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3", ""])),
    "flag": st.one_of(st.none(), st.booleans()),
})
groups = st.lists(st.tuples(st.sampled_from([1, 30, 61, 119, 120, 121, 1799, 3600, 7200]),
                            st.lists(rows, min_size=1, max_size=3)), min_size=1, max_size=40)


_VIEW: list = []


@pytest.fixture(scope="module")
def view(tmp_path_factory):
    root = tmp_path_factory.mktemp("kernel") / "p"
    shutil.copytree(Path(__file__).parents[1] / "compiler" / "fixture_project", root)
    (root / "features" / "k.sql").write_text(VIEW)
    compiled = build_project(load_project(root))
    assert not compiled.diagnostics, compiled.diagnostics[:3]
    _VIEW[:] = [compiled.views["k"]]
    return compiled.views["k"]


def _same(a, b) -> bool:
    """Equal to the bit, but for the sign of a zero MIN/MAX: Python's SortedList removes the first
    of equal values (0.0 for -0.0), the kernel the one that left — both are values Postgres gives."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and (a != 0 or math.copysign(1, a) == math.copysign(1, b)
                                                                 or _ZERO_SIGN_FREE))
    if isinstance(a, Failed):
        return isinstance(b, Failed) and a.reason == b.reason
    return type(a) is type(b) and a == b


_ZERO_SIGN_FREE = True


def _groups(spec) -> list[list[dict]]:
    out, t, i = [], T0, 0
    for gap, members in spec:
        t += timedelta(seconds=gap)
        group = []
        for r in members:
            group.append({**r, "txn_id": f"t{i:04d}", "user_id": "u1", "status": None, "ts": t})
            i += 1
        out.append(group)
    return out


def _decoded(rec: tuple) -> tuple:
    """A record (and its tail) as plain values, the nested msgpack decoded too: equal when the bytes
    are, but for the sign of zeros and NaN payloads."""
    def plain(v):
        if isinstance(v, Failed):
            return ("Failed", v.reason)
        if isinstance(v, float):  # the sign of a zero and a NaN's bits aside (see `_same`), to the bit
            return ("float", "NaN" if v != v else 0.0 if v == 0 else v)
        if isinstance(v, int):
            return (type(v).__name__, v)
        if isinstance(v, (tuple, list)):
            return tuple(plain(x) for x in v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    fields = list(codec.unpack(rec[0]))
    fields[6] = records.unpack_full(fields[6])  # decompressed, shared aggregate data resolved
    if rec[1] is None:
        return plain(fields), None
    tail = list(codec.unpack(rec[1]))
    tail[3] = codec.unpack(records.unsqueeze(tail[3]))
    return plain(fields), plain(tail)


def _run(state, groups) -> list[dict]:
    return [v for g in groups for v in state.process_group(g)]


@pytest.fixture(scope="module")
def view_loaded(view):
    return True  # (the view itself stays out of hypothesis's report: `_VIEW`)


def test_the_view_runs_in_the_kernel(view):
    plan = fast.plan_for(view)
    # 30 minutes has MIN EXCLUDE CURRENT ROW (a monotonic deque cannot): that window stays Python
    assert sorted(plan.reaches) == [120_000_000, 300_000_000, 600_000_000, 3_600_000_000]
    assert len(plan.lag_index) == 5  # every LAG too
    assert isinstance(fast.new_state(view), fast.FastViewKeyState)


def test_a_sum_the_kernel_keeps_once_is_stored_once(view):
    """SUM and AVG of one column over one frame keep one sum in the kernel: the record stores its
    data once and the other aggregate as that one's index (`records._pack_head`); the decoded
    record equals the Python state's, which keeps two (`test_same_values_and_records_...`)."""
    plan = fast.plan_for(view)
    pairs = {3: 2, 17: 16}  # a1 -> s1 (1 hour), a2 -> s2 (2 minutes), in the view's order
    assert all((view.aggregates[a].func, view.aggregates[s].func) == ("avg", "sum") for a, s in pairs.items())
    assert pairs.items() <= plan.shares.items()
    state = fast.new_state(view)
    for g in _groups([(1, [{"amount": 2.5, "n": 1, "merchant_id": "m1", "flag": True}]),
                      (30, [{"amount": 0.1, "n": 2, "merchant_id": "m2", "flag": False}])]):
        state.process_group(g)
    full = codec.unpack(records.encode(view, state, {}, T0)[0])[6]
    stored = codec.unpack(records.unsqueeze(codec.unpack(full)[0]))[0]
    assert {i: stored[i] for i in pairs} == pairs
    data = records.unpack_full(full)[0][0]
    assert all(data[i] == data[j] and not isinstance(data[i], int) for i, j in pairs.items())


@given(groups)
@settings(max_examples=int(os.environ.get("SKEWLESS_KERNEL_EXAMPLES", "300")), deadline=None)
@example([(0, [{"amount": 1e308, "n": 1, "merchant_id": "m1", "flag": True}]),
          (1, [{"amount": 1e308, "n": 2, "merchant_id": "m1", "flag": True}]),
          (1, [{"amount": 5e-324, "n": None, "merchant_id": None, "flag": None}]),
          (121, [{"amount": -1e308, "n": 3, "merchant_id": "m2", "flag": True}])])
@example([(0, [{"amount": 5e-324, "n": None, "merchant_id": None, "flag": True}]),
          (1, [{"amount": 2.2250738585072014e-308, "n": None, "merchant_id": None, "flag": True}]),
          (1, [{"amount": -2.2250738585072014e-308, "n": None, "merchant_id": None, "flag": True}])])
def test_same_values_and_records_as_the_python_state(view_loaded, spec):
    view = _VIEW[0]
    groups = _groups(spec)
    py, fa = ViewKeyState(view), fast.new_state(view)
    for g in groups:
        expected, got = py.process_group(g), fa.process_group(g)
        for e, o in zip(expected, got):
            assert e.keys() == o.keys()
            for k in e:
                assert _same(e[k], o[k]), (k, e[k], o[k])
    last = groups[-1][0]["ts"]
    rec_py, rec_fast = records.encode(view, py, {}, last), records.encode(view, fa, {}, last)
    assert _decoded(rec_py) == _decoded(rec_fast)
    # a state loaded from the record continues exactly as the Python state does
    loaded, _, _ = records.decode(rec_fast[0], view).load(rec_fast[1])
    resumed = fast.from_state(view, loaded)
    assert isinstance(resumed, fast.FastViewKeyState)
    more = _groups([(30, [{"amount": 2.5, "n": 7, "merchant_id": "m1", "flag": True}]),
                    (4000, [{"amount": None, "n": None, "merchant_id": None, "flag": None}])])
    more = [[{**r, "ts": r["ts"] + (last - T0)} for r in g] for g in more]
    for g in more:
        for e, o in zip(py.process_group(g), resumed.process_group(g)):
            for k in e:
                assert _same(e[k], o[k]), (k, e[k], o[k])
    assert resumed.retained() == py.retained()
