"""The IR as a Bytewax dataflow.

source → decode (bad records → dead letters) → event-time watermark (late events → late output)
→ per view: WHERE → key by entity → exact window state (`StatefulLogic`) → per-event rows and
online-store upserts.

The watermark is global to the source, as the contract defines it (max event time seen − allowed
lateness): one keyed step computes it and tags every event before the per-entity state sees it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from skewless.compiler.config.sources import SourceDef
from skewless.compiler.ir import FeatureView

from ..sources.decode import DeadLetter
from .frames import ViewEvaluator, ViewKeyState
from .online import encode_key, stored


@dataclass(frozen=True)
class Tagged:
    event: dict
    watermark: datetime | None


class StoreWriter:
    """Collects the keys whose state changed (one process) and upserts their latest states in
    batches: each state is serialized once per flush, not once per event."""

    def __init__(self, store, batch: int = 20_000):
        self.store, self.batch, self.dirty, self.lock = store, batch, {}, threading.Lock()

    def add(self, view: FeatureView, key: list, state: ViewKeyState, last: datetime) -> None:
        if self.store is None:
            return
        with self.lock:
            self.dirty[(view.name, encode_key(key))] = (view, key, state, last)
            if len(self.dirty) >= self.batch:
                self.flush_locked()

    def flush_locked(self) -> None:
        if self.dirty:
            self.store.write([stored(v, k, s, last) for v, k, s, last in self.dirty.values()])
            self.dirty = {}

    def flush(self) -> None:
        with self.lock:
            self.flush_locked()


class WindowLogic(StatefulLogic):
    """One view's state for one entity key."""

    def __init__(self, view: FeatureView, evaluator: ViewEvaluator, writer: StoreWriter, resume: Any):
        self.view, self.eval, self.writer = view, evaluator, writer
        if resume is None:
            self.state, self.pending, self.last, self.key = ViewKeyState(view), {}, None, None
        else:
            self.state, self.pending, self.last, self.key = resume

    def _flush(self, upto: datetime | None) -> list[dict]:
        out = []
        for ts in sorted(t for t in self.pending if upto is None or t < upto):
            rows = self.pending.pop(ts)
            for row, values in zip(rows, self.state.process_group(rows)):
                out.append(self.eval.output(row, values))
            self.last = ts
        if out:
            self.writer.add(self.view, self.key, self.state, self.last)
        return out

    def on_item(self, value: Tagged):
        ts = value.event[self.view.timestamp]
        if self.key is None:
            self.key = [value.event.get(k) for k in self.view.entity]
        self.pending.setdefault(ts, []).append(value.event)
        return self._flush(value.watermark), StatefulLogic.RETAIN

    def on_eof(self):
        return self._flush(None), StatefulLogic.RETAIN

    def snapshot(self):
        return (self.state, self.pending, self.last, self.key)


def _watermark(lateness: timedelta) -> Callable:
    def mapper(max_ts, event):
        if isinstance(event, DeadLetter):
            return max_ts, event
        ts = event["__ts"]
        wm = None if max_ts is None else max_ts - lateness
        if wm is not None and ts < wm:
            return max_ts, DeadLetter(event["__source"], json.dumps(event["row"], default=str)[:1000],
                                      f"late: event time {ts.isoformat()} is before the watermark {wm.isoformat()}")
        max_ts = ts if max_ts is None or ts > max_ts else max_ts
        return max_ts, Tagged(event["row"], max_ts - lateness)
    return mapper


def build_flow(source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any], dead_sink, writer: StoreWriter) -> Dataflow:
    flow = Dataflow("skewless")
    raw = op.input("input", flow, inp_source)
    wrapped = op.map("wrap", raw, lambda r: r if isinstance(r, DeadLetter) else
                     {"__ts": r[source.timestamp], "__source": source.name, "row": r})
    tagged = op.map("unkey", op.stateful_map("watermark", op.key_on("all", wrapped, lambda _: "all"),
                                             _watermark(timedelta(microseconds=lateness_us))), lambda kv: kv[1])
    branch = op.branch("dead?", tagged, lambda x: isinstance(x, DeadLetter))
    op.output("dead", branch.trues, dead_sink)
    good = branch.falses
    for view in views:
        evaluator = ViewEvaluator(view)
        kept = op.filter(f"where_{view.name}", good, lambda t, e=evaluator: e.keep(t.event))
        keyed = op.key_on(f"key_{view.name}", kept,
                          lambda t, v=view: encode_key([t.event.get(k) for k in v.entity]))
        rows = op.stateful(f"window_{view.name}", keyed,
                           lambda resume, v=view, e=evaluator: WindowLogic(v, e, writer, resume))
        op.output(f"rows_{view.name}", op.map(f"unkey_{view.name}", rows, lambda kv: kv[1]), row_sink_for(view))
    return flow
