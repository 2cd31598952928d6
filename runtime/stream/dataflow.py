"""The IR as a Bytewax dataflow.

Per source: input → decode (bad records → dead letters) → event-time watermark (late events → dead
letters) → per view: WHERE → key by entity → exact window state (`StatefulLogic`) → per-event rows
and online-store upserts.

The watermark is global to the source, as the contract defines it (max event time seen − allowed
lateness): one keyed step computes it and tags every event before the per-entity state sees it.
Every tagged event also advances its worker's clock (`_clock`), so a key that sees no new events
still finalizes its groups once the watermark has passed them (`notify_at`, in continuous runs).
The clock is per worker thread: items reach a worker in the order the watermark step sent them,
so a clock value never gets ahead of an event still on its way to that worker.
"""

from __future__ import annotations

import json
import pickle
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulLogic

from skewless.compiler.config.sources import SourceDef
from skewless.compiler.ir import FeatureView

from ..sources.control import stopping
from ..sources.decode import PART, DeadLetter, Idle
from .frames import ViewEvaluator, ViewKeyState, register_view
from .online import encode_key, stored


@dataclass(frozen=True)
class Tagged:
    event: dict
    watermark: datetime | None


@dataclass
class StreamStats:
    """Counters of one process, read by the progress display (approximate while running)."""
    events: int = 0
    dead: int = 0
    late: int = 0
    rows: int = 0
    written: int = 0                                 # key states upserted into the online store
    stopped_by: str | None = None                    # SIGINT / SIGTERM when asked to stop
    max_event: dict = field(default_factory=dict)   # source -> latest event time seen
    watermark: dict = field(default_factory=dict)   # source -> watermark
    started: float = field(default_factory=time.monotonic)


_LOCAL = threading.local()


def _clock() -> dict:
    """This worker thread's watermark per source."""
    clock = getattr(_LOCAL, "clock", None)
    if clock is None:
        clock = _LOCAL.clock = {}
    return clock


class StoreWriter:
    """Upserts changed key states in batches. Each worker thread has its own buffer and flushes it
    itself (states are only ever serialized by the thread that mutates them): when it holds
    ``batch`` keys or ``interval`` seconds passed since its last flush, and at the end."""

    def __init__(self, store, batch: int = 20_000, interval: float | None = None, stats: StreamStats | None = None):
        self.store, self.batch, self.interval, self.stats = store, batch, interval, stats
        self.lock = threading.Lock()
        self.buffers: list[dict] = []

    def _buffer(self) -> dict:
        buf = getattr(_LOCAL, "writer_buf", None)
        if buf is None or getattr(_LOCAL, "writer", None) is not self:
            buf = _LOCAL.writer_buf = {"dirty": {}, "since": time.monotonic()}
            _LOCAL.writer = self
            with self.lock:
                self.buffers.append(buf)
        return buf

    def add(self, view: FeatureView, key: list, state: ViewKeyState, last: datetime | None, pending: dict) -> None:
        if self.store is None:
            return
        buf = self._buffer()
        buf["dirty"][(view.name, encode_key(key))] = (view, key, state, last, pending)
        if len(buf["dirty"]) >= self.batch:
            self._flush(buf)

    def due(self) -> bool:
        """This thread has unwritten states."""
        buf = getattr(_LOCAL, "writer_buf", None)
        return bool(buf and buf["dirty"])

    def tick(self) -> None:
        """Flush this thread's buffer if the interval has passed."""
        buf = getattr(_LOCAL, "writer_buf", None)
        if buf and buf["dirty"] and self.interval is not None and time.monotonic() - buf["since"] >= self.interval:
            self._flush(buf)

    def _flush(self, buf: dict) -> None:
        records = [stored(v, k, s, last, pending) for v, k, s, last, pending in buf["dirty"].values()]
        buf["dirty"], buf["since"] = {}, time.monotonic()
        if records:
            with self.lock:
                self.store.write(records)
                if self.stats is not None:
                    self.stats.written += len(records)

    def flush(self) -> None:
        """Flush every thread's buffer; only once the workers have stopped."""
        for buf in list(self.buffers):
            self._flush(buf)


class WindowLogic(StatefulLogic):
    """One view's state for one entity key."""

    def __init__(self, view: FeatureView, evaluator: ViewEvaluator, writer: StoreWriter, resume: Any,
                 tick: float | None, stats: StreamStats | None):
        self.view, self.eval, self.writer, self.tick, self.stats = view, evaluator, writer, tick, stats
        self.source = view.root_source
        if resume is None:
            self.state, self.pending, self.last, self.key = ViewKeyState(view), {}, None, None
        else:
            register_view(view)  # stored states name their aggregates by (fingerprint, id)
            self.state, self.pending, self.last, self.key = pickle.loads(resume)

    def _flush(self, upto: datetime | None, final: bool = False) -> list[dict]:
        """Process the pending groups before the watermark ``upto`` (every group when ``final``)."""
        if upto is None and not final:
            return []  # no watermark yet: nothing is final
        out = []
        for ts in sorted(t for t in self.pending if final or t < upto):
            rows = self.pending.pop(ts)
            for row, values in zip(rows, self.state.process_group(rows)):
                out.append(self.eval.output(row, values))
            self.last = ts
        return out

    def on_item(self, value: Tagged):
        ts = value.event[self.view.timestamp]
        if self.key is None:
            self.key = [value.event.get(k) for k in self.view.entity]
        clock = _clock()
        if value.watermark is not None and (clock.get(self.source) is None or value.watermark > clock[self.source]):
            clock[self.source] = value.watermark
        self.pending.setdefault(ts, []).append(value.event)
        out = self._flush(value.watermark)
        self.writer.add(self.view, self.key, self.state, self.last, self.pending)
        return out, StatefulLogic.RETAIN

    def on_notify(self):
        out = self._flush(_clock().get(self.source)) if self.pending else []
        if out:
            self.writer.add(self.view, self.key, self.state, self.last, self.pending)
        self.writer.tick()
        return out, StatefulLogic.RETAIN

    def notify_at(self):
        if self.tick is None or not (self.pending or self.writer.due()):
            return None
        return datetime.now(timezone.utc) + timedelta(seconds=self.tick)

    def on_eof(self):
        if stopping():  # not the end of the input: a stop; groups stay pending for the next start
            self.writer.add(self.view, self.key, self.state, self.last, self.pending)
            return [], StatefulLogic.RETAIN
        out = self._flush(None, final=True)
        if out:
            self.writer.add(self.view, self.key, self.state, self.last, self.pending)
        return out, StatefulLogic.RETAIN

    def snapshot(self):
        # an immutable copy: the live state keeps changing after the epoch closes
        return pickle.dumps((self.state, self.pending, self.last, self.key), protocol=pickle.HIGHEST_PROTOCOL)


class _Watermark:
    """The source's watermark: per input partition the latest event time seen; the watermark is the
    minimum of those over the partitions that are not idle, minus the allowed lateness, and never
    moves back. With one partition (a file) this is the contract's "max event time seen − lateness";
    with several (Kafka) a partition that is behind does not see its events called late because
    another partition ran ahead."""

    def __init__(self, parts: list[str]):
        self.latest: dict[str, datetime | None] = {p: None for p in parts}
        self.idle: set[str] = set()
        self.mark: datetime | None = None   # min over active partitions (before lateness)

    def see(self, part: str, ts: datetime) -> None:
        self.idle.discard(part)
        prev = self.latest.get(part)
        if prev is None or ts > prev:
            self.latest[part] = ts
        self._update()

    def rest(self, part: str) -> None:
        self.idle.add(part)
        self._update()

    def _update(self) -> None:
        active = [t for p, t in self.latest.items() if p not in self.idle]
        if any(t is None for t in active):
            return  # an active partition has not produced yet: it may still be far behind
        if not active:
            active = [t for t in self.latest.values() if t is not None]  # all idle
        if not active:
            return
        low = min(active)
        if self.mark is None or low > self.mark:
            self.mark = low


def _watermark(lateness: timedelta, parts: list[str], stats: StreamStats | None) -> Callable:
    def mapper(wm_state, event):
        if wm_state is None:
            wm_state = _Watermark(parts)
        if isinstance(event, DeadLetter):
            return wm_state, event
        if isinstance(event, Idle):
            wm_state.rest(event.part)
            return wm_state, None
        ts = event["__ts"]
        wm = None if wm_state.mark is None else wm_state.mark - lateness
        if wm is not None and ts < wm:
            if stats is not None:
                stats.late += 1
            return wm_state, DeadLetter(event["__source"], json.dumps(event["row"], default=str)[:1000],
                                        f"late: event time {ts.isoformat()} is before the watermark {wm.isoformat()}")
        wm_state.see(event["__part"], ts)
        wm = None if wm_state.mark is None else wm_state.mark - lateness
        if stats is not None:
            prev = stats.max_event.get(event["__source"])
            if prev is None or ts > prev:
                stats.max_event[event["__source"]] = ts
            stats.watermark[event["__source"]] = wm
        return wm_state, Tagged(event["row"], wm)
    return mapper


def add_source(flow: Dataflow, source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any] | None, dead_sink, writer: StoreWriter,
               tick: float | None = None, stats: StreamStats | None = None) -> None:
    """Add one source and the views over it to ``flow``. ``tick``: seconds between checks of idle
    keys against the watermark and of unwritten states (None: only at end of a bounded input)."""
    name = source.name

    def count(r):
        if stats is not None:
            if isinstance(r, DeadLetter):
                stats.dead += 1
            else:
                stats.events += 1
        return r

    parts = inp_source.partitions() if hasattr(inp_source, "partitions") else [""]

    def wrap(r):
        if isinstance(r, (DeadLetter, Idle)):
            return count(r) if isinstance(r, DeadLetter) else r
        return count({"__ts": r[source.timestamp], "__source": name, "__part": r.pop(PART, ""), "row": r})

    raw = op.input(f"input_{name}", flow, inp_source)
    wrapped = op.map(f"wrap_{name}", raw, wrap)
    tagged = op.filter_map(f"unkey_{name}",
                           op.stateful_map(f"watermark_{name}", op.key_on(f"all_{name}", wrapped, lambda _: "all"),
                                           _watermark(timedelta(microseconds=lateness_us), parts, stats)),
                           lambda kv: kv[1])
    branch = op.branch(f"dead?_{name}", tagged, lambda x: isinstance(x, DeadLetter))
    op.output(f"dead_{name}", branch.trues, dead_sink)
    good = branch.falses
    for view in views:
        evaluator = ViewEvaluator(view)
        kept = op.filter(f"where_{view.name}", good, lambda t, e=evaluator: e.keep(t.event))
        keyed = op.key_on(f"key_{view.name}", kept,
                          lambda t, v=view: encode_key([t.event.get(k) for k in v.entity]))
        rows = op.stateful(f"window_{view.name}", keyed,
                           lambda resume, v=view, e=evaluator: WindowLogic(v, e, writer, resume, tick, stats))
        if row_sink_for is not None:
            sink = row_sink_for(view)
            if sink is not None:
                unkeyed = op.map(f"unkey_{view.name}", rows, lambda kv: kv[1])
                if stats is not None:
                    unkeyed = op.inspect(f"count_{view.name}", unkeyed, lambda _s, _r: _bump_rows(stats))
                op.output(f"rows_{view.name}", unkeyed, sink)


def _bump_rows(stats: StreamStats) -> None:
    stats.rows += 1


def build_flow(source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any], dead_sink, writer: StoreWriter) -> Dataflow:
    """A one-source bounded dataflow (replay, benchmarks)."""
    flow = Dataflow("skewless")
    add_source(flow, source, lateness_us, views, inp_source, row_sink_for, dead_sink, writer)
    return flow
