"""Stream throughput benchmark (issues 3, 11).

The 10-feature view (user 1h/24h/7d count+sum+avg, max 24h, distinct merchants 24h, time since
last event), one process, events in memory (Bytewax TestingSource). In one run, on the same events:
  * skewless: the real dataflow, 1 worker and 2 workers;
  * a *good* hand-written incremental Bytewax dataflow — per-user deques with running sums, a
    monotonic deque for the max, counts for the distinct merchants: what a skilled engineer writes;
  * a naive hand-written one (rescans the user's recent events per event), on a prefix;
  * DuckDB computing the same per-event window values in batch (the practical ceiling here);
and the ratios; the stored bytes per retained event; the memory of a key's state (compiled kernel vs
the Python state); with --profile, where skewless's time goes.

Usage: python bench/stream_throughput.py [--events 200000] [--baseline-events N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

import sys

sys.path.insert(0, str(Path(__file__).parent))
from batch_backfill import bench_project  # noqa: E402 - the same 10-feature view as the batch bench


def _per_user(events: list[dict], step) -> tuple[float, int]:
    """A Bytewax dataflow: events keyed by user through ``stateful_map(step)``; (seconds, rows)."""
    out: list = []
    flow = Dataflow("hand")
    s = op.input("in", flow, TestingSource(events, batch_size=1000))
    keyed = op.key_on("key", s, lambda e: e["user_id"])
    op.output("out", op.stateful_map("feats", keyed, step), TestingSink(out))
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start, len(out)


def hand_written(events: list[dict]) -> tuple[float, int]:
    """What a Bytewax user writes by hand: stateful_map over a per-user deque of recent events."""
    H, D, W = timedelta(hours=1), timedelta(days=1), timedelta(days=7)

    def step(state, e):
        state = state or {"rows": deque(), "last": None}
        rows = state["rows"]
        rows.append((e["ts"], e["amount"], e["merchant_id"]))
        while rows and rows[0][0] < e["ts"] - W:
            rows.popleft()
        feats = {}
        for name, span in (("1h", H), ("24h", D), ("7d", W)):
            vals = [a for t, a, _ in rows if t >= e["ts"] - span]
            nn = [a for a in vals if a is not None]
            feats[f"c{name}"] = len(vals)
            feats[f"s{name}"] = sum(nn) if nn else None
            feats[f"a{name}"] = sum(nn) / len(nn) if nn else None
        day = [(a, m) for t, a, m in rows if t >= e["ts"] - D]
        amounts = [a for a, _ in day if a is not None]
        feats["max24h"] = max(amounts) if amounts else None
        feats["dm24h"] = len({m for _, m in day if m is not None})
        feats["since_last"] = None if state["last"] is None else (e["ts"] - state["last"]).total_seconds()
        state["last"] = e["ts"]
        return state, feats

    return _per_user(events, step)


def good_incremental(events: list[dict]) -> tuple[float, int]:
    """A skilled engineer's per-user incremental state: O(1) amortized per event, no rescans."""
    H, D, W = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))
    spans = (("1h", H), ("24h", D), ("7d", W))

    def step(state, e):
        if state is None:
            state = {name: [deque(), 0, 0.0, 0] for name, _ in spans}  # rows, count, sum, non-null
            state["max"], state["merch"], state["mq"], state["last"] = deque(), {}, deque(), None
        ts, amount, merchant = e["ts"], e["amount"], e["merchant_id"]
        feats = {}
        for name, span in spans:
            w = state[name]
            rows = w[0]
            rows.append((ts, amount))
            w[1] += 1
            if amount is not None:
                w[2] += amount
                w[3] += 1
            while rows[0][0] < ts - span:
                _, old = rows.popleft()
                w[1] -= 1
                if old is not None:
                    w[2] -= old
                    w[3] -= 1
            feats[f"c{name}"] = w[1]
            feats[f"s{name}"] = w[2] if w[3] else None
            feats[f"a{name}"] = w[2] / w[3] if w[3] else None
        mx = state["max"]  # (ts, amount), amounts decreasing
        if amount is not None:
            while mx and mx[-1][1] <= amount:
                mx.pop()
            mx.append((ts, amount))
        while mx and mx[0][0] < ts - D:
            mx.popleft()
        feats["max24h"] = mx[0][1] if mx else None
        mq, merch = state["mq"], state["merch"]
        mq.append((ts, merchant))
        if merchant is not None:
            merch[merchant] = merch.get(merchant, 0) + 1
        while mq[0][0] < ts - D:
            _, old = mq.popleft()
            if old is not None:
                merch[old] -= 1
                if not merch[old]:
                    del merch[old]
        feats["dm24h"] = len(merch)
        feats["since_last"] = None if state["last"] is None else (ts - state["last"]).total_seconds()
        state["last"] = ts
        return state, feats

    return _per_user(events, step)


DUCK = """
SELECT txn_id,
  COUNT(*) OVER w1h, SUM(amount) OVER w1h, AVG(amount) OVER w1h,
  COUNT(*) OVER w24h, SUM(amount) OVER w24h, AVG(amount) OVER w24h,
  COUNT(*) OVER w7d, SUM(amount) OVER w7d, AVG(amount) OVER w7d,
  MAX(amount) OVER w24h, COUNT(DISTINCT merchant_id) OVER w24h,
  EXTRACT(EPOCH FROM ts - LAG(ts) OVER (PARTITION BY user_id ORDER BY ts, txn_id))
FROM events
WINDOW w1h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 1 HOUR PRECEDING AND CURRENT ROW),
       w24h AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 24 HOURS PRECEDING AND CURRENT ROW),
       w7d AS (PARTITION BY user_id ORDER BY ts RANGE BETWEEN INTERVAL 7 DAYS PRECEDING AND CURRENT ROW)
"""


def duckdb_ceiling(table) -> float:
    """DuckDB computing the same per-event window values in batch (all its threads)."""
    import duckdb

    con = duckdb.connect()
    con.register("events", table)
    start = time.perf_counter()
    n = con.sql(DUCK).to_arrow_table().num_rows  # every value materialised (a count(*) lets DuckDB skip the windows)
    elapsed = time.perf_counter() - start
    assert n == table.num_rows
    return elapsed


def skewless_run(compiled, events: list[dict], profile: bool, workers: int = 1,
                 rows: bool = True) -> tuple[float, int, tuple]:
    """``rows``: per-event rows out (as `replay --out`); without, only the key states (as `run`)."""
    from skewless.runtime.stream.dataflow import StoreWriter, build_flow

    view = compiled.views["bench"]
    src = compiled.project.sources["transactions"]
    out: list = []

    collected: dict = {}

    class Writer(StoreWriter):  # collect the states instead of writing them
        def add(self, key, slot):
            collected[tuple(key)] = slot

    writer = Writer(None)
    flow = build_flow(src, view.allowed_lateness_us, [view], TestingSource(events, batch_size=1000),
                      (lambda v: TestingSink(out)) if rows else None, TestingSink([]), writer)
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    from skewless.runtime.stream import gctune

    with gctune.tuned():  # as `replay` and `run` run their dataflows
        if workers == 1:
            run_main(flow)
        else:
            from bytewax.testing import cluster_main

            cluster_main(flow, [], 0, worker_count_per_proc=workers)
    elapsed = time.perf_counter() - start
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    slots = list(collected.values())
    state_bytes = sum(len(record) + len(tail or b"") for slot in slots
                      for record, tail in [slot.payload()])  # the stored record and tail (docs/state-format.md)
    retained = sum(slot.state.retained() + sum(len(g) for g in slot.pending.values()) for slot in slots)
    return elapsed, len(out), (state_bytes, retained)


def key_memory(view) -> tuple[float, float, str]:
    """Bytes of one new key's state (tracemalloc over 2,000 of them): kernel and Python state."""
    import gc
    import tracemalloc

    from skewless.runtime.stream import fast
    from skewless.runtime.stream.frames import ViewKeyState

    out = []
    for make in (fast.new_state, ViewKeyState):
        make(view)
        gc.collect()
        tracemalloc.start()
        states = [make(view) for _ in range(2000)]
        out.append(tracemalloc.get_traced_memory()[0] / len(states))
        tracemalloc.stop()
        del states
    plan = fast.plan_for(view)
    covered = f"{len(plan.agg_index) + len(plan.lag_index)} of {len(view.aggregates)} aggregates in the kernel"
    return out[0], out[1], covered


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--baseline-events", type=int, default=None,
                        help="run the hand-written baseline (and the ratio) on only the first N events; it rescans "
                             "windows per event, so 1M events take it tens of minutes")
    args = parser.parse_args()
    from skewless.runtime.datagen import GenConfig, generate

    table = generate(GenConfig(events=args.events, days=30, seed=3))["transactions"]
    events = table.to_pylist()
    with tempfile.TemporaryDirectory() as tmp:
        compiled = bench_project(Path(tmp) / "p")
        t_ours, n_ours, (state_bytes, retained) = skewless_run(compiled, events, args.profile)
    assert n_ours == len(events), (n_ours, len(events))
    print(f"events: {len(events):,}  users: {len(set(table['user_id'].to_pylist())):,}")
    print(f"skewless dataflow:      {len(events) / t_ours:>10,.0f} events/s ({t_ours:.1f} s)   goal >= 100,000")
    with tempfile.TemporaryDirectory() as tmp:
        t_two, n_two, _ = skewless_run(bench_project(Path(tmp) / "p"), events, False, workers=2)
    assert n_two == len(events)
    print(f"skewless, 2 workers:    {len(events) / t_two:>10,.0f} events/s ({t_two:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        t_states, _, _ = skewless_run(bench_project(Path(tmp) / "p"), events, False, rows=False)
    print(f"skewless, states only:  {len(events) / t_states:>10,.0f} events/s ({t_states:.1f} s)   "
          "(as `run` without --out: no per-event rows; states kept, their store writes not timed)")
    t_good, n_good = good_incremental(events)
    assert n_good == len(events)
    print(f"good hand-written:      {len(events) / t_good:>10,.0f} events/s ({t_good:.1f} s)   "
          f"skewless / good = {t_good / t_ours:.2f}x (goal >= 5x)")
    t_duck = duckdb_ceiling(table)
    print(f"DuckDB batch (ceiling): {len(events) / t_duck:>10,.0f} events/s ({t_duck:.2f} s)   "
          f"skewless time / DuckDB time = {t_ours / t_duck:.1f}x (goal <= 10x)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        kernel, python, covered = key_memory(bench_project(Path(tmp) / "p").views["bench"])
    print(f"in memory per key (empty): {kernel:,.0f} bytes with the compiled kernel ({covered}), {python:,.0f} with "
          "the Python state")
    print(f"retained state: {state_bytes / 1e6:.1f} MB stored for {retained:,} retained events = "
          f"{state_bytes / max(retained, 1):.0f} bytes per retained event ({state_bytes / len(events):.0f} per input "
          "event)   goal <= 32", flush=True)
    n_base = min(args.baseline_events or len(events), len(events))
    if n_base < len(events):  # the ratio on the same prefix, both measured in this run
        with tempfile.TemporaryDirectory() as tmp:
            t_ours, _, _ = skewless_run(bench_project(Path(tmp) / "p"), events[:n_base], False)
        print(f"skewless on the first {n_base:,}: {n_base / t_ours:>10,.0f} events/s ({t_ours:.1f} s)")
    t_hand, n_hand = hand_written(events[:n_base])
    assert n_hand == n_base
    print(f"naive hand-written:     {n_base / t_hand:>10,.0f} events/s ({t_hand:.1f} s) on {n_base:,} events "
          f"(rescans windows)   skewless / naive = {t_hand / t_ours:.2f}x")


if __name__ == "__main__":
    main()
