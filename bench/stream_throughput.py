"""Stream throughput benchmark (issue 3).

One process, file source, the 10-feature view (user 1h/24h/7d count+sum+avg, max 24h, distinct
merchants 24h, time since last event). In the same run and on the same events it also runs a
hand-written, idiomatic Bytewax `stateful_map` dataflow computing the same features per event
(a per-user list of recent events, rescanned per event). Prints events/s for both, the ratio,
where skewless's time goes (cProfile, top functions), and retained state bytes per event.

Usage: python bench/stream_throughput.py [--events 200000] [--profile]
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

    out: list = []
    flow = Dataflow("hand")
    s = op.input("in", flow, TestingSource(events, batch_size=1000))
    keyed = op.key_on("key", s, lambda e: e["user_id"])
    op.output("out", op.stateful_map("feats", keyed, step), TestingSink(out))
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start, len(out)


def skewless_run(compiled, events: list[dict], profile: bool) -> tuple[float, int, int]:
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
                      lambda v: TestingSink(out), TestingSink([]), writer)
    prof = cProfile.Profile() if profile else None
    start = time.perf_counter()
    if prof:
        prof.enable()
    run_main(flow)
    elapsed = time.perf_counter() - start
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(12)
    slots = list(collected.values())
    state_bytes = sum(len(record) + len(tail or b"") for slot in slots
                      for record, tail in [slot.payload()])  # the stored record and tail (docs/state-format.md)
    retained = sum(slot.state.retained() + sum(len(g) for g in slot.pending.values()) for slot in slots)
    return elapsed, len(out), (state_bytes, retained)


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
    print(f"skewless dataflow:      {len(events) / t_ours:>10,.0f} events/s ({t_ours:.1f} s)")
    print(f"retained state: {state_bytes / 1e6:.1f} MB stored for {retained:,} retained events = "
          f"{state_bytes / max(retained, 1):.0f} bytes per retained event ({state_bytes / len(events):.0f} per input "
          "event)", flush=True)
    n_base = min(args.baseline_events or len(events), len(events))
    if n_base < len(events):  # the ratio on the same prefix, both measured in this run
        with tempfile.TemporaryDirectory() as tmp:
            t_ours, _, _ = skewless_run(bench_project(Path(tmp) / "p"), events[:n_base], False)
        print(f"skewless on the first {n_base:,}: {n_base / t_ours:>10,.0f} events/s ({t_ours:.1f} s)")
    t_hand, n_hand = hand_written(events[:n_base])
    assert n_hand == n_base
    print(f"hand-written Bytewax:   {n_base / t_hand:>10,.0f} events/s ({t_hand:.1f} s) on {n_base:,} events")
    print(f"ratio skewless / hand:  {t_hand / t_ours:.2f}x   (goal: >= 5x and >= 500k events/s)")


if __name__ == "__main__":
    main()
