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

import queue
import uuid
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic

from skewless.compiler.contract import FeatureView, SourceDef

from ..sources.control import stopping
from ..sources.decode import PART, DeadLetter, Idle
from . import records
from .frames import ViewEvaluator
from .online import encode_key
from .rekey import Count, Joined, SequencerLogic, plan_stages, sequencer_inputs
from .slot import _dead, _ViewSlot  # noqa: F401 - _ViewSlot: tests
from .watermark import Frontier, Tagged, WatermarkLogic, _watermark  # noqa: F401 - Tagged, _watermark: tests


@dataclass
class StreamStats:
    """Counters of one process, read by the progress display (approximate while running)."""
    events: int = 0
    dead: int = 0                                    # malformed records (late ones are in `late`)
    late: int = 0
    written: int = 0                                 # key states upserted into the online store
    stopped_by: str | None = None                    # SIGINT / SIGTERM when asked to stop
    max_event: dict = field(default_factory=dict)   # source -> latest event time seen
    watermark: dict = field(default_factory=dict)   # source -> watermark
    started: float = field(default_factory=time.monotonic)
    recovery_dir: Path | None = None                 # where the job snapshots its state (None: no recovery)


_LOCAL = threading.local()


def _thread_dict(name: str) -> dict:
    """A dict of this worker thread's own, made on first use."""
    found = getattr(_LOCAL, name, None)
    if found is None:
        found = {}
        setattr(_LOCAL, name, found)
    return found


def _clock() -> dict:
    """This worker thread's watermark per source."""
    return _thread_dict("clock")


PACE_WINDOW = 0.25  # seconds of wall time over which a source's watermark speed is measured
MAX_WAIT = 1.0      # seconds: the longest a key with pending groups sleeps between checks


def _pace() -> dict:
    """This worker thread's watermark speed per source: [wall time, watermark then, event seconds
    per wall second measured over the last `PACE_WINDOW` (None until measured)]."""
    return _thread_dict("pace")


def _observe(source: str, wm: datetime) -> None:
    pace = _pace()
    now = time.monotonic()
    p = pace.get(source)
    if p is None:
        pace[source] = [now, wm, None]
    elif now - p[0] >= PACE_WINDOW:
        p[2] = (wm - p[1]).total_seconds() / (now - p[0])
        p[0], p[1] = now, wm


def _until_final(source: str, need: datetime, wake: float) -> float:
    """Seconds to sleep before a group at ``need`` may be final (the watermark passed it), at the
    source's measured watermark speed; at least ``wake``, at most `MAX_WAIT` (the speed can change,
    and a source without a watermark yet gives no estimate)."""
    wm = _clock().get(source)
    p = _pace().get(source)
    if wm is None or p is None or p[2] is None or p[2] <= 0:
        return max(wake, MAX_WAIT)
    if need < wm:
        return wake
    return min(max((need - wm).total_seconds() / p[2], wake), max(wake, MAX_WAIT))


class StoreWriter:
    """Upserts changed key states in batches. Each worker thread has its own buffer and flushes it
    itself (states are only ever serialized by the thread that mutates them): when it holds
    ``batch`` keys or ``interval`` seconds passed since its last flush, and at the end."""

    def __init__(self, store, batch: int = 20_000, interval: float | None = None, stats: StreamStats | None = None,
                 warm: bool = False, background: bool = False):
        self.store, self.batch, self.interval, self.stats = store, batch, interval, stats
        # background: the encoded batches are written by one thread of their own, in order, while
        # the workers go on (the store's I/O releases the GIL); `flush` waits for it
        self.io = _Io(self) if background and store is not None else None
        # warm starts: which slots without recovery state continue from the store — every key's
        # (a job without recovery state), or only those of the views ``added`` to a resumed job (its
        # other keys are new since the snapshot: the input replays all their events from it)
        self.warm = warm and store is not None
        self.warm_views: set[str] | None = None  # None: every view
        self.lock = threading.Lock()
        self.buffers: list[dict] = []

    def _buffer(self) -> dict:
        buf = getattr(_LOCAL, "writer_buf", None)
        if buf is None or getattr(_LOCAL, "writer", None) is not self:
            buf = _LOCAL.writer_buf = {"dirty": {}, "since": time.monotonic(), "owner": None}
            _LOCAL.writer = self
            with self.lock:
                self.buffers.append(buf)
        return buf

    def add(self, key: list, slot: "_ViewSlot") -> None:
        """The slot's view state for ``key`` changed: write its latest version at the next flush."""
        if self.store is None:
            return
        buf = self._buffer()
        buf["dirty"][slot] = key  # one slot object per (key, view) in this process
        if len(buf["dirty"]) >= self.batch:
            self._flush(buf)

    def warm_start(self, view: FeatureView) -> bool:
        return self.warm and (self.warm_views is None or view.name in self.warm_views)

    def read(self, view: FeatureView, key: list) -> tuple | None:
        """The stored (record, tail, pending log) of ``key`` (a warm start), if the store has one."""
        with self.lock:
            rec = self.store.read(view.name, encode_key(key), full=True)
        return None if rec is None else (rec.state, rec.tail, rec.log)

    def wake_for(self, owner: object) -> float | None:
        """Seconds until this thread's unwritten states are due, if ``owner`` (a key's logic) is
        the one key that wakes up to write them: the first to ask after a flush. Every other key
        sleeps (a wake-up per dirty key per interval cost more than the writes)."""
        buf = getattr(_LOCAL, "writer_buf", None)
        if not buf or not buf["dirty"] or self.interval is None:
            return None
        if buf["owner"] is None:
            buf["owner"] = owner
        elif buf["owner"] is not owner:
            return None
        return max(0.0, buf["since"] + self.interval - time.monotonic())

    def tick(self) -> None:
        """Flush this thread's buffer if the interval has passed."""
        buf = getattr(_LOCAL, "writer_buf", None)
        if buf and buf["dirty"] and self.interval is not None and time.monotonic() - buf["since"] >= self.interval:
            self._flush(buf)

    def _flush(self, buf: dict) -> None:
        entries: dict = {}  # one encoding per pending event, shared by the views of its key
        batch = [slot.store_row(key, entries) for slot, key in buf["dirty"].items()]
        buf["dirty"], buf["since"], buf["owner"] = {}, time.monotonic(), None
        if not batch:
            return
        if self.io is not None:
            self.io.put(batch)
        else:
            self.write(batch)

    def write(self, batch: list) -> None:
        with self.lock:
            self.store.write(batch)
            if self.stats is not None:
                self.stats.written += len(batch)

    def flush(self) -> None:
        """Flush every thread's buffer and wait until it is written; only once the workers have stopped."""
        for buf in list(self.buffers):
            self._flush(buf)
        if self.io is not None:
            self.io.drain()

    def stop(self) -> None:
        """End the background writes (after `flush`, or when the job failed) before the store closes."""
        if self.io is not None:
            self.io.stop()


class _Io:
    """The store writes of a `StoreWriter`, on a thread of their own: batches in the order the
    workers flushed them (a bounded queue: a store slower than the stream holds the workers back
    rather than piling up states). A failed write stops the job at the workers' next flush."""

    def __init__(self, writer: StoreWriter):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="skewless-store-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            batch = self.queue.get()
            if batch is None:
                self.queue.task_done()
                return
            try:
                if self.error is None:  # after a failed write, later batches are dropped: the job stops
                    self.writer.write(batch)
            except BaseException as exc:  # noqa: BLE001 - raised in the workers (`put`, `drain`)
                self.error = exc
            finally:
                self.queue.task_done()

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def put(self, batch: list) -> None:
        self._check()
        self.queue.put(batch)

    def drain(self) -> None:
        self.queue.join()
        self._check()

    def stop(self) -> None:
        """Write what is queued and end the thread (errors are left to `drain`)."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()


REKEY_WAKE = 0.02  # seconds: how often keys of views others re-key check their pending groups (bounded runs)


class KeyLogic(StatefulBatchLogic):
    """Every view of one stage (`rekey.Stage`: the views over one input with one entity key) for one
    key value: the event is keyed, routed and woken once for all of them; each view applies its
    WHERE and keeps its own window state. Emits (view name, per-event row).

    A stage's input is its source's events (``roots`` None: the views over the source read them) or,
    for views re-keying another view's rows or joining them, what the sequencer of their feed
    releases (read by the views ``roots``). Views of the stage that
    re-keyed stages read (``reports``) always emit their rows, and the key reports how many input
    events it has finalized per event time (`rekey.Count`), so their sequencer knows when every
    row before a watermark has arrived."""

    def __init__(self, views: list[tuple[FeatureView, ViewEvaluator]], writer: StoreWriter, resume: Any,
                 tick: float | None, emit: bool, roots: tuple[str, ...] | None = None, reports: tuple[str, ...] = (),
                 clock: str = "", wake: float | None = None, joins_out: dict | None = None):
        self.writer, self.tick = writer, tick
        self.wake = tick if tick is not None else wake  # seconds between checks of pending groups
        self.source = clock  # this stage's watermark in the worker's clock (a key unique to the dataflow)
        self.ts_col = views[0][0].timestamp
        saved, self.key = ({}, None) if resume is None else self._load(views, resume)
        # views over ref() of another view of this step (same key; `views` upstream first) take its
        # rows: feeds[i] = the slots reading slot i's rows; events go to the views over the input
        names = [v.name for v, _ in views]
        self.feeds = [[j for j, (w, _) in enumerate(views) if w.input.kind == "view" and w.input.name == n]
                      for n in names]
        self.on_source = [i for i, (v, _) in enumerate(views)
                          if (v.input.kind == "source" if roots is None else v.name in roots)]
        self.wanted = emit  # per-event rows go out (a sink reads them)
        self.reports = reports
        self.reported = [v.name in reports for v, _ in views]
        # events of this key per event time, not yet reported as final (None: nobody re-keys)
        self.seen: dict | None = (records.decode_counts(saved.pop(records.COUNTS, None)) if reports else None)
        self.seen_bytes = records.GroupBytes()  # their encoding, kept between snapshots
        self.seen_first = min(self.seen) if self.seen else None  # the earliest of those times
        joins_out = joins_out or {}
        self.slots = [_ViewSlot(v, e, emit or bool(self.feeds[i]) or self.reported[i] or v.name in joins_out,
                                *saved.get(v.name, (None, None)))
                      for i, (v, e) in enumerate(views)]
        for slot in self.slots:  # views others join: each event also leaves joined to its row
            slot.join_out = joins_out.get(slot.view.name)
        # slots without recovery state (a new key, or a view added to the job): with a warm start
        # they continue from the online store, loaded on the key's first event
        self.cold = [i for i, (v, _) in enumerate(views) if v.name not in saved]
        if resume is not None and self.key is not None:
            # the store may lag the snapshot (a crash between a change and its upsert): write the
            # resumed state back even if this key sees no new event (an added view's slot is
            # loaded from the store first, or, on a cold start, left out: nothing to write)
            resumed = [s for i, s in enumerate(self.slots) if i not in self.cold]
            self._warm_start()
            for slot in resumed:
                writer.add(self.key, slot)

    @staticmethod
    def _load(views, resume: bytes):
        key, payloads = records.decode_snapshot(resume)
        return {name: (record if name == records.COUNTS else
                       ((record, tail), None if covered is None else records.EPOCH + covered * records.ONE_US))
                for name, (record, tail, covered) in payloads.items()}, key

    def _warm_start(self) -> None:
        cold, self.cold = self.cold, []
        if not self.writer.warm:
            return
        for i in cold:
            slot = self.slots[i]
            if not self.writer.warm_start(slot.view):
                continue
            blob = self.writer.read(slot.view, self.key)
            if blob is not None:
                try:
                    self.slots[i] = _ViewSlot.warm(slot.view, slot.eval, slot.emit, blob)
                except records.StateFormatError as exc:  # the job stops with the view's file named
                    from skewless.compiler.contract import Diagnostic, SkewlessError

                    raise SkewlessError(Diagnostic(slot.view.path or slot.view.name, 1, 1, str(exc),
                                                   "or start with --cold")) from None

    def _emit(self, out: list, i: int, rows: list[dict], changed: bool) -> None:
        slot = self.slots[i]
        if slot.joined:
            out.extend((None, j) for j in slot.joined)
            slot.joined.clear()
        if rows:
            name = slot.view.name
            if self.wanted or self.reported[i]:
                out.extend((name, r) for r in rows)
            else:
                out.extend((name, r) for r in rows if r.__class__ is DeadLetter)
            for j in self.feeds[i]:  # views over this one's rows
                self._emit(out, j, self.slots[j].take(rows), False)
        if changed or slot.flushed:
            slot.flushed = False
            self.writer.add(self.key, slot)

    def on_batch(self, values: list):
        """The key's events of one Bytewax batch, in arrival order. Each is admitted to its views'
        pending groups; then the groups before the latest watermark are finalized, in time order —
        the rows of finalizing after each event, as a group's events all arrive before the
        watermark passes it (a later one is late)."""
        first = values[0].event
        if self.key is None:
            self.key = [first.get(k) for k in self.slots[0].view.entity]
        if self.cold:
            self._warm_start()
        clock = _clock()
        source, ts_col = self.source, self.ts_col
        wm = clock.get(source)
        out: list = []
        changed = [False] * len(self.slots)
        seen = self.seen
        for value in values:
            event, ewm = value.event, value.watermark
            if ewm is not None and (wm is None or ewm > wm):
                wm = ewm
            ts = event[ts_col]
            if seen is not None:
                seen[ts] = seen.get(ts, 0) + 1
                self.seen_bytes.touch(ts)
                if self.seen_first is None or ts < self.seen_first:
                    self.seen_first = ts
            for i in self.on_source:
                slot = self.slots[i]
                if slot.covered is not None and ts <= slot.covered:
                    continue  # counted in the state this key started from
                ev = event
                try:
                    if slot.eval.enrich is not None:
                        ev = slot.eval.enrich(event)  # the view's own copy, with its dimension columns
                    admitted = slot.eval.admit(ev)
                except Exception as exc:  # noqa: BLE001 - Postgres would fail on this event: it enters no window
                    out.append((slot.view.name, _dead(slot.view, ev, exc)))
                    admitted = False
                if admitted:
                    slot.add(ts, ev)
                    changed[i] = True
                elif slot.join_out:  # no row of this view for the event: views joining it get NULLs
                    out.extend((None, Joined(spec.feed, spec.row(event, None))) for spec in slot.join_out)
        if wm is not None:
            clock[source] = wm
            _observe(source, wm)
        for i in self.on_source:
            slot = self.slots[i]
            if changed[i] or slot.pending:
                self._emit(out, i, slot.flush(wm), changed[i])
        if seen:
            self._report(out, wm)
        if self.tick is not None:
            self.writer.tick()
        return out, False

    def _report(self, out: list, upto: datetime | None, final: bool = False) -> None:
        """After the rows of the groups before ``upto``: how many input events there were per time
        (each re-keyed view's sequencer counts them against the watermark's `Frontier`)."""
        seen = self.seen
        if final:
            due = list(seen)
        elif upto is None or self.seen_first is None or not self.seen_first < upto:
            return
        else:
            due = [t for t in seen if t < upto]
        if due:
            pairs = tuple((t, seen.pop(t)) for t in due)
            self.seen_bytes.passed(max(due))
            self.seen_first = min(seen) if seen else None
            out.extend((None, Count(name, pairs)) for name in self.reports)

    def on_notify(self):
        wm = _clock().get(self.source)
        out: list = []
        for i in self.on_source:
            self._emit(out, i, self.slots[i].flush(wm), False)
        if self.seen:
            self._report(out, wm)
        self.writer.tick()
        return out, False

    def notify_at(self):
        """When to wake this key with no new event: when the watermark is expected to have passed
        its earliest pending group (`_until_final`), and, for the one key the writer chose, when
        the thread's unwritten states are due."""
        if self.wake is None:
            return None
        firsts = [slot.first for slot in self.slots if slot.first is not None]
        if self.seen:
            firsts.append(self.seen_first)
        delay = _until_final(self.source, min(firsts), self.wake) if firsts else None
        if self.tick is not None:
            due = self.writer.wake_for(self)
            if due is not None and (delay is None or due < delay):
                delay = due
        if delay is None:
            return None
        return datetime.now(timezone.utc) + timedelta(seconds=delay)

    def on_eof(self):
        out: list = []
        for i in self.on_source:
            # a stop is not the end of the input: groups stay pending for the next start
            self._emit(out, i, [] if stopping() else self.slots[i].flush(None, final=True), stopping())
        if self.seen and not stopping():
            self._report(out, None, final=True)
        if stopping():
            for i in range(len(self.slots)):
                if i not in self.on_source:
                    self._emit(out, i, [], True)
        return out, False

    def snapshot(self):
        # an immutable copy (the live state keeps changing after the epoch closes), reusing each
        # view's record when the store write already encoded this version
        payloads = [(s.view.name, (*s.payload(), None if s.covered is None else
                                   (s.covered - records.EPOCH) // records.ONE_US)) for s in self.slots]
        if self.seen:
            payloads.append((records.COUNTS, (records.encode_counts(self.seen, self.seen_bytes), None, None)))
        return records.encode_snapshot(self.key, payloads)


def add_source(flow: Dataflow, source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any] | None, dead_sink, writer: StoreWriter,
               tick: float | None = None, stats: StreamStats | None = None, dims: dict | None = None,
               project=None) -> None:
    """Add one source and the views over it to ``flow``. ``tick``: seconds between checks of idle
    keys against the watermark and of unwritten states (None: only at end of a bounded input).
    ``dims``: the dimensions the views join (`sources.dimension.load_indexes`); with ``project``
    their files are read again when they change (continuous runs)."""
    from ..sources.dimension import Enricher

    name = source.name

    parts = inp_source.partitions() if hasattr(inp_source, "partitions") else [""]

    def wrap(batch: list) -> list:
        """Every step works on whole Bytewax batches: one Python call per batch, not per event."""
        out = []
        events = dead = 0
        for r in batch:
            if r.__class__ is DeadLetter:
                dead += 1
                out.append(("all", r))
            elif r.__class__ is Idle:
                out.append(("all", r))
            else:
                events += 1
                out.append(("all", {"__ts": r[source.timestamp], "__source": name, "__part": r.pop(PART, ""),
                                    "row": r}))
        if stats is not None:
            stats.events += events
            stats.dead += dead
        return out

    lateness = timedelta(microseconds=lateness_us)
    mapper = _watermark(lateness, parts, stats)
    # the worker clocks' keys for this dataflow: a thread running several dataflows one after the
    # other (bounded replays run in the caller's thread) must not start one from another's watermark
    run = uuid.uuid4().hex
    stages = plan_stages(name, views)
    # the watermark step counts events when views over the source's events are re-keyed
    counting = any(st.reports for st in stages if st.feed is None)
    raw = op.input(f"input_{name}", flow, inp_source)
    tagged = op.stateful_batch(
        f"watermark_{name}", op.flat_map_batch(f"wrap_{name}", raw, wrap),
        lambda resume: WatermarkLogic(mapper, resume, lateness, source.timestamp if counting else None))
    dead_streams = [op.flat_map_batch(f"late_{name}", tagged,
                                      lambda batch: [t for _, t in batch if t.__class__ is DeadLetter])]
    emit = row_sink_for is not None
    feeds = {st.feed.id: st.feed for st in stages if st.feed is not None}
    feeding: dict[str, Any] = {}  # feed id -> its sequencer's output stream
    for stage in stages:
        step, entity = stage.name, stage.entity
        # compiled once per view, shared by every key
        pairs = [(v, ViewEvaluator(v, Enricher(v, dims or {}, project) if v.joins else None)) for v in stage.views]
        if stage.feed is None:
            def key_batch(batch: list, e=entity) -> list:
                return [(encode_key([t.event.get(k) for k in e]), t) for _, t in batch if t.__class__ is Tagged]
            inp = tagged
        else:
            def key_batch(batch: list, e=entity, me=("stage", step)) -> list:
                return [(encode_key([t.event.get(k) for k in e]), t) for _, (to, t) in batch if to == me]
            inp = feeding[stage.feed.id]
        keyed = op.flat_map_batch(f"key_{step}", inp, key_batch)
        rows = op.stateful_batch(
            f"state_{step}", keyed,
            lambda resume, ps=pairs, st=stage: KeyLogic(ps, writer, resume, tick, emit,
                                                       roots=None if st.feed is None else tuple(st.roots),
                                                       reports=tuple(st.reports),
                                                       clock=f"{run}:{name if st.feed is None else st.name}",
                                                       wake=REKEY_WAKE if st.reports else None,
                                                       joins_out=st.joins_out))
        dead_streams.append(op.flat_map_batch(
            f"failed_{step}", rows, lambda batch: [vr[1] for _, vr in batch if vr[1].__class__ is DeadLetter]))
        for view in stage.views:
            sink = row_sink_for(view) if row_sink_for is not None else None
            if sink is None:
                continue
            mine = op.flat_map_batch(
                f"rows_of_{view.name}", rows,
                lambda batch, n=view.name: [vr[1] for _, vr in batch
                                            if vr[0] == n and vr[1].__class__ is not DeadLetter])
            op.output(f"rows_{view.name}", mine, sink)
        for fid in stage.reports:  # a feed of this stage's views for a later stage: its sequencer
            sid = fid.replace("@", "_for_")
            if stage.feed is None:
                frontiers = op.flat_map_batch(f"frontier_{name}__{sid}", tagged,
                                              lambda batch, f=fid: [(f, x) for _, x in batch if x.__class__ is Frontier])
            else:
                frontiers = op.flat_map_batch(f"frontier_{name}__{sid}", feeding[stage.feed.id],
                                              lambda batch, me=("seq", fid), f=fid: [(f, x) for _, (to, x) in batch
                                                                                     if to == me])
            counted = op.flat_map_batch(f"rekeyed_{name}__{sid}", rows, lambda batch, f=fid: sequencer_inputs(f, batch))
            readers = [(s.name, tuple(s.reports)) for s in stages if s.feed is not None and s.feed.id == fid]
            feeding[fid] = op.stateful_batch(
                f"sequence_{name}__{sid}", op.merge(f"to_sequence_{name}__{sid}", counted, frontiers),
                lambda resume, f=feeds[fid], r=readers: SequencerLogic(f, r, resume))
    op.output(f"dead_{name}", op.merge(f"all_dead_{name}", *dead_streams), dead_sink)


def build_flow(source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any] | None, dead_sink, writer: StoreWriter,
               dims: dict | None = None) -> Dataflow:
    """A one-source bounded dataflow (replay, benchmarks)."""
    flow = Dataflow("skewless")
    add_source(flow, source, lateness_us, views, inp_source, row_sink_for, dead_sink, writer, dims=dims)
    return flow
