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

import copy
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.operators import StatefulBatchLogic

from skewless.compiler.config.sources import SourceDef
from skewless.compiler.ir import FeatureView

from ..sources.control import stopping
from ..sources.decode import PART, DeadLetter, Idle
from .expr import SqlError
from . import records
from .fast import from_state, new_state
from .frames import ViewEvaluator
from .online import encode_key, stored_payload


@dataclass(frozen=True)
class Tagged:
    event: dict
    watermark: datetime | None


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
            buf = _LOCAL.writer_buf = {"dirty": {}, "since": time.monotonic()}
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

    def read(self, view: FeatureView, key: list) -> tuple[bytes, bytes | None] | None:
        """The stored (record, tail) of ``key`` (a warm start), if the store has one."""
        with self.lock:
            rec = self.store.read(view.name, encode_key(key), full=True)
        return None if rec is None else (rec.state, rec.tail)

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
        batch = [stored_payload(slot.view, key, slot.payload(), slot.last) for slot, key in buf["dirty"].items()]
        buf["dirty"], buf["since"] = {}, time.monotonic()
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


class _ViewSlot:
    """One view's part of a key's state: finalized window state, pending peer groups, last final time."""

    __slots__ = ("view", "eval", "emit", "state", "pending", "last", "blob", "flushed", "covered", "encoded")

    def __init__(self, view: FeatureView, evaluator: ViewEvaluator, emit: bool,
                 blob: tuple[bytes, bytes | None] | None = None, covered: datetime | None = None):
        self.view, self.eval, self.emit = view, evaluator, emit  # emit False: nobody reads per-event rows
        self.flushed = False
        self.covered = covered  # a warm start: events up to this time are in the state already
        self.encoded: dict = {}  # pending events' encodings, kept between upserts (`records.encode`)
        if blob is None:
            self.state, self.pending, self.last, self.blob = new_state(view), {}, None, None
        else:
            record, tail = blob
            state, self.pending, self.last = records.decode(record, view).load(tail)
            self.state = from_state(view, state)
            self.blob = blob

    @classmethod
    def warm(cls, view: FeatureView, evaluator: ViewEvaluator, emit: bool,
             blob: tuple[bytes, bytes | None]) -> "_ViewSlot":
        """A slot continuing from a stored record: every event up to its latest one is counted."""
        slot = cls(view, evaluator, emit, blob)
        times = [t for t in (slot.last, *slot.pending) if t is not None]
        slot.covered = max(times) if times else None
        return slot

    def payload(self) -> tuple[bytes, bytes | None]:
        """(record, tail), encoded once per change for the store write and the snapshot alike."""
        if self.blob is None:
            self.blob = records.encode(self.view, self.state, self.pending, self.last, self.encoded)
        return self.blob

    def add(self, ts: datetime, event: dict) -> None:
        self.pending.setdefault(ts, []).append(event)
        self.blob = None

    def take(self, rows: list) -> list:
        """A view over ``ref()`` of a view with the same entity key: the upstream's final per-event
        rows (its dead letters left out) are this view's events, final as they come — a group's
        rows all leave the upstream together. Returns this view's rows (when computed)."""
        groups: dict = {}
        out: list = []
        ts_col = self.view.timestamp
        for r in rows:
            if r.__class__ is DeadLetter:
                continue
            ts = r.get(ts_col)
            if ts is None or (self.covered is not None and ts <= self.covered):
                continue  # no time: no place in an ordered frame (the compiler requires one); or counted
            try:
                if self.eval.enrich is not None:
                    r = self.eval.enrich(r)
                admitted = self.eval.admit(r)
            except Exception as exc:  # noqa: BLE001 - Postgres would fail on this row: it enters no window
                out.append(_dead(self.view, r, exc))
                continue
            if admitted:
                groups.setdefault(ts, []).append(r)
        if not groups:
            return out
        due = sorted(groups)
        for ts in due:
            self._process(groups[ts], out)
        self.last, self.blob, self.flushed = due[-1], None, True
        return out

    def _process(self, rows: list, out: list) -> None:
        """One final peer group into the window state; its rows' outputs (or dead letters) to ``out``
        when they are computed."""
        values = self.state.process_group(rows)
        if self.emit:
            output = self.eval.output
            for row, v in zip(rows, values):
                try:
                    out.append(output(row, v))
                except Exception as exc:  # noqa: BLE001 - SqlError, or any other failure: this row's dead letter
                    out.append(_dead(self.view, row, exc))

    def flush(self, upto: datetime | None, final: bool = False) -> list[dict]:
        """Process the pending groups before the watermark ``upto`` (every group when ``final``)."""
        pending = self.pending
        if not pending:
            return []
        if final:
            due = sorted(pending)
        elif upto is None:
            return []  # no watermark yet: nothing is final
        else:
            due = [t for t in pending if t < upto]
            if not due:
                return []
            if len(due) > 1:
                due.sort()
        out: list = []
        encoded = self.encoded
        for ts in due:
            encoded.pop(ts, None)
            self._process(pending.pop(ts), out)
        self.last, self.blob = due[-1], None
        self.flushed = True
        return out


def _dead(view: FeatureView, row: dict, exc: Exception) -> DeadLetter:
    why = str(exc) if isinstance(exc, SqlError) else f"evaluation failed ({type(exc).__name__}: {exc})"
    return DeadLetter(view.root_source, json.dumps(row, default=str)[:1000], f"view {view.name}: {why}")


class KeyLogic(StatefulBatchLogic):
    """Every view over one source with one entity key, for one key value: the event is keyed, routed
    and woken once for all of them; each view applies its WHERE and keeps its own window state.
    Emits (view name, per-event row)."""

    def __init__(self, views: list[tuple[FeatureView, ViewEvaluator]], writer: StoreWriter, resume: Any,
                 tick: float | None, emit: bool):
        self.writer, self.tick = writer, tick
        self.source = views[0][0].root_source
        self.ts_col = views[0][0].timestamp
        saved, self.key = ({}, None) if resume is None else self._load(views, resume)
        # views over ref() of another view of this step (same key; `views` upstream first) take its
        # rows: feeds[i] = the slots reading slot i's rows; events go to the views over the source
        names = [v.name for v, _ in views]
        self.feeds = [[j for j, (w, _) in enumerate(views) if w.input.kind == "view" and w.input.name == n]
                      for n in names]
        self.on_source = [i for i, (v, _) in enumerate(views) if v.input.kind == "source"]
        self.wanted = emit  # per-event rows go out (a sink reads them)
        self.slots = [_ViewSlot(v, e, emit or bool(self.feeds[i]), *saved.get(v.name, (None, None)))
                      for i, (v, e) in enumerate(views)]
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
        return {name: ((record, tail), None if covered is None else records.EPOCH + covered * records.ONE_US)
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
                    from skewless.compiler.errors import Diagnostic, SkewlessError

                    raise SkewlessError(Diagnostic(slot.view.path or slot.view.name, 1, 1, str(exc),
                                                   "or start with --cold")) from None

    def _emit(self, out: list, i: int, rows: list[dict], changed: bool) -> None:
        slot = self.slots[i]
        if rows:
            name = slot.view.name
            if self.wanted:
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
        for value in values:
            event, ewm = value.event, value.watermark
            if ewm is not None and (wm is None or ewm > wm):
                wm = ewm
            ts = event[ts_col]
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
                    continue
                if admitted:
                    slot.add(ts, ev)
                    changed[i] = True
        if wm is not None:
            clock[source] = wm
        for i in self.on_source:
            slot = self.slots[i]
            if changed[i] or slot.pending:
                self._emit(out, i, slot.flush(wm), changed[i])
        return out, False

    def on_notify(self):
        wm = _clock().get(self.source)
        out: list = []
        for i in self.on_source:
            self._emit(out, i, self.slots[i].flush(wm), False)
        self.writer.tick()
        return out, False

    def notify_at(self):
        if self.tick is None or not (self.writer.due() or any(slot.pending for slot in self.slots)):
            return None
        return datetime.now(timezone.utc) + timedelta(seconds=self.tick)

    def on_eof(self):
        out: list = []
        for i in self.on_source:
            # a stop is not the end of the input: groups stay pending for the next start
            self._emit(out, i, [] if stopping() else self.slots[i].flush(None, final=True), stopping())
        if stopping():
            for i in range(len(self.slots)):
                if i not in self.on_source:
                    self._emit(out, i, [], True)
        return out, False

    def snapshot(self):
        # an immutable copy (the live state keeps changing after the epoch closes), reusing each
        # view's record when the store write already encoded this version
        return records.encode_snapshot(self.key, [(s.view.name, (*s.payload(), None if s.covered is None else
                                                                  (s.covered - records.EPOCH) // records.ONE_US))
                                                  for s in self.slots])


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
        if len(self.latest) == 1 and part in self.latest and not self.idle:  # one partition (a file)
            if self.mark is None or ts > self.mark:
                self.mark = self.latest[part] = ts
            return
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
    """The watermark step for one wrapped item: (state, item) -> (state, Tagged | DeadLetter | None)."""
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


class _WatermarkLogic(StatefulBatchLogic):
    """The source's one watermark step, a batch of items per call (`_watermark` per item); its
    snapshot is the `_Watermark` (as `stateful_map` kept it)."""

    def __init__(self, mapper: Callable, state: "_Watermark | None"):
        self.mapper, self.state = mapper, state

    def on_batch(self, values: list):
        mapper, state, out = self.mapper, self.state, []
        for v in values:
            state, w = mapper(state, v)
            if w is not None:
                out.append(w)
        self.state = state
        return out, False

    def snapshot(self):
        return copy.deepcopy(self.state)


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

    mapper = _watermark(timedelta(microseconds=lateness_us), parts, stats)
    raw = op.input(f"input_{name}", flow, inp_source)
    tagged = op.stateful_batch(f"watermark_{name}", op.flat_map_batch(f"wrap_{name}", raw, wrap),
                               lambda resume: _WatermarkLogic(mapper, resume))
    dead_streams = [op.flat_map_batch(f"late_{name}", tagged,
                                      lambda batch: [t for _, t in batch if t.__class__ is DeadLetter])]
    groups: dict[tuple, list[FeatureView]] = {}
    for view in views:  # one keyed state per entity key: views over the same key share the step
        groups.setdefault(tuple(view.entity), []).append(view)
    for entity, members in groups.items():
        step = f"{name}__{'_'.join(entity)}"
        # compiled once per view, shared by every key
        pairs = [(v, ViewEvaluator(v, Enricher(v, dims or {}, project) if v.joins else None)) for v in members]

        def key_batch(batch: list, e=entity) -> list:
            return [(encode_key([t.event.get(k) for k in e]), t) for _, t in batch if t.__class__ is Tagged]

        keyed = op.flat_map_batch(f"key_{step}", tagged, key_batch)
        emit = row_sink_for is not None
        rows = op.stateful_batch(f"state_{step}", keyed,
                                 lambda resume, ps=pairs, em=emit: KeyLogic(ps, writer, resume, tick, em))
        dead_streams.append(op.flat_map_batch(
            f"failed_{step}", rows, lambda batch: [vr[1] for _, vr in batch if vr[1].__class__ is DeadLetter]))
        for view in members:
            sink = row_sink_for(view) if row_sink_for is not None else None
            if sink is None:
                continue
            mine = op.flat_map_batch(
                f"rows_of_{view.name}", rows,
                lambda batch, n=view.name: [vr[1] for _, vr in batch
                                            if vr[0] == n and vr[1].__class__ is not DeadLetter])
            op.output(f"rows_{view.name}", mine, sink)
    op.output(f"dead_{name}", op.merge(f"all_dead_{name}", *dead_streams), dead_sink)


def build_flow(source: SourceDef, lateness_us: int, views: list[FeatureView], inp_source,
               row_sink_for: Callable[[FeatureView], Any] | None, dead_sink, writer: StoreWriter,
               dims: dict | None = None) -> Dataflow:
    """A one-source bounded dataflow (replay, benchmarks)."""
    flow = Dataflow("skewless")
    add_source(flow, source, lateness_us, views, inp_source, row_sink_for, dead_sink, writer, dims=dims)
    return flow
