"""Bounded replay without Bytewax: the reference driver of the state machine.

Events arrive in file (arrival) order; the watermark is the maximum event time seen minus the
source's allowed lateness. An event older than the watermark when it arrives is late: it goes to
the late output with the reason and never enters state. A key's peer group at time T is finalized
once the watermark passes T (or at the end of input), then every row of it is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable

from skewless.compiler.contract import FeatureView

from .expr import SqlError
from .frames import ViewEvaluator, ViewKeyState

Row = dict[str, Any]


@dataclass
class KeyBuffer:
    state: ViewKeyState
    pending: dict[datetime, list[Row]] = field(default_factory=dict)
    last_event: datetime | None = None
    dirty: bool = False


class ViewStream:
    """One view's stream state across keys, fed with already-validated events."""

    def __init__(self, view: FeatureView):
        self.view = view
        self.eval = ViewEvaluator(view)
        self.keys: dict[tuple, KeyBuffer] = {}
        self.lateness = timedelta(microseconds=view.allowed_lateness_us)
        self.max_ts: datetime | None = None
        self.late: list[tuple[Row, str]] = []

    @property
    def watermark(self) -> datetime | None:
        return None if self.max_ts is None else self.max_ts - self.lateness

    def push(self, event: Row) -> list[Row]:
        ts = event[self.view.timestamp]
        wm = self.watermark
        if wm is not None and ts < wm:
            self.late.append((event, f"late: event time {ts.isoformat()} is before the watermark {wm.isoformat()}"))
            return []
        if self.max_ts is None or ts > self.max_ts:
            self.max_ts = ts
        try:
            if not self.eval.admit(event):
                return []
        except SqlError as exc:
            self.late.append((event, f"view {self.view.name}: {exc}"))
            return []
        key = tuple(event.get(k) for k in self.view.entity)
        buf = self.keys.get(key)
        if buf is None:
            buf = self.keys[key] = KeyBuffer(ViewKeyState(self.view))
        buf.pending.setdefault(ts, []).append(event)
        buf.dirty = True
        return self._flush(buf, self.watermark)

    def _flush(self, buf: KeyBuffer, upto: datetime | None) -> list[Row]:
        out = []
        for ts in sorted(t for t in buf.pending if upto is None or t < upto):
            rows = buf.pending.pop(ts)
            for row, values in zip(rows, buf.state.process_group(rows)):
                try:
                    out.append(self.eval.output(row, values))
                except SqlError as exc:
                    self.late.append((row, f"view {self.view.name}: {exc}"))
            buf.last_event, buf.dirty = ts, True
        return out

    def dirty_states(self):
        """(key, state, latest final event, pending groups) of keys changed since the last call."""
        for key, buf in self.keys.items():
            if buf.dirty:
                buf.dirty = False
                yield key, buf.state, buf.last_event, buf.pending

    def advance(self) -> list[Row]:
        """Emit every group the watermark has passed (for keys that saw no new event)."""
        wm = self.watermark
        return [r for buf in self.keys.values() for r in self._flush(buf, wm)]

    def finish(self) -> list[Row]:
        return [r for buf in self.keys.values() for r in self._flush(buf, None)]


def replay_rows(view: FeatureView, events: Iterable[Row], store=None, flush_every: int = 10_000,
                finish: bool = True) -> tuple[list[Row], list[tuple[Row, str]]]:
    """Run ``events`` (arrival order) through the view; with ``store``, keep the online store
    up to date (batched upserts every ``flush_every`` events and at the end). ``finish=False``
    stops as a running stream would: groups the watermark has not passed stay pending."""
    from .online import stored

    stream = ViewStream(view)
    out: list[Row] = []

    def flush():
        if store is not None:
            batch = [stored(view, key, state, last, pending) for key, state, last, pending in stream.dirty_states()]
            if batch:
                store.write(batch)

    for i, event in enumerate(events, 1):
        out.extend(stream.push(event))
        if i % flush_every == 0:
            flush()
    if finish:
        out.extend(stream.finish())
    flush()
    return out, stream.late


def join_rows(events: list[Row], other: list[Row], vj) -> list[Row]:
    """Each event with the columns of ``other``'s row for the same event (`ViewJoin` ``vj``:
    ``<alias>__<column>``; NULLs when ``other`` has no row for it) — what the stream's keys of
    the joined view send the joining view."""
    key_cols = [k.dimension_column for k in vj.on]
    by_key = {tuple(r[c] for c in key_cols): r for r in other}
    names = vj.read()
    out = []
    for e in events:
        r = by_key.get(tuple(e.get(k.input_column) for k in vj.on))
        out.append({**e, **{name: None if r is None else r[col] for col, name in names}})
    return out
