"""One view's part of one key's stream state (`_ViewSlot`, held by `dataflow.KeyLogic`): the
finalized window state, the pending peer groups the watermark has not passed, the latest final
event time, and what the next store write and recovery snapshot carry (`records`, `pending_log`)."""

from __future__ import annotations

import json
from datetime import datetime

from skewless.compiler.contract import FeatureView

from ..sources.decode import DeadLetter
from . import records
from .expr import SqlError
from .fast import from_state, new_state
from .frames import ViewEvaluator
from .pending_log import StoreLog
from .rekey import Joined


def _dead(view: FeatureView, row: dict, exc: Exception) -> DeadLetter:
    why = str(exc) if isinstance(exc, SqlError) else f"evaluation failed ({type(exc).__name__}: {exc})"
    return DeadLetter(view.root_source, json.dumps(row, default=str)[:1000], f"view {view.name}: {why}")


class _ViewSlot:
    """One view's part of a key's state: finalized window state, pending peer groups, last final time."""

    __slots__ = ("view", "eval", "emit", "state", "pending", "first", "last", "blob", "flushed", "covered", "encoded",
                 "head", "log", "join_out", "joined")

    def __init__(self, view: FeatureView, evaluator: ViewEvaluator, emit: bool,
                 blob: tuple | None = None, covered: datetime | None = None):
        self.view, self.eval, self.emit = view, evaluator, emit  # emit False: nobody reads per-event rows
        self.flushed = False
        self.covered = covered  # a warm start: events up to this time are in the state already
        self.encoded = records.GroupBytes()  # the pending groups' encoding, kept between upserts (`records.encode`)
        self.head: list = [None]  # the encoded window state while no group is processed (`records.encode`)
        self.log = StoreLog()  # what the next store write carries (`pending_log`)
        self.join_out: list | None = None  # views joining this one (`rekey.JoinOut`)
        self.joined: list = []             # their joined rows, taken by `KeyLogic._emit`
        if blob is None:
            self.state, self.pending, self.last, self.blob = new_state(view), {}, None, None
        else:
            record, tail, log = (*blob, ())[:3]  # (record, tail[, the store's pending log])
            state, self.pending, self.last = records.decode(record, view, log).load(tail)
            self.state = from_state(view, state)
            self.blob = None if log else (record, tail)
        self.first = min(self.pending) if self.pending else None  # the earliest pending group's time
        self.log.count = sum(len(g) for g in self.pending.values())

    @classmethod
    def warm(cls, view: FeatureView, evaluator: ViewEvaluator, emit: bool, blob: tuple) -> "_ViewSlot":
        """A slot continuing from a stored record: every event up to its latest one is counted."""
        slot = cls(view, evaluator, emit, blob)
        times = [t for t in (slot.last, *slot.pending) if t is not None]
        slot.covered = max(times) if times else None
        return slot

    def payload(self) -> tuple[bytes, bytes | None]:
        """(record, tail) with the pending groups in the record: a recovery snapshot's."""
        if self.blob is None:
            self.blob = records.encode(self.view, self.state, self.pending, self.last, self.encoded, self.head)
        return self.blob

    def store_row(self, key: list, entries: dict | None = None):
        """The store write of this version: the record when a group was processed since the last
        write, the events added since (`pending_log`; ``entries``: their encodings by event, shared
        between the slots of one write)."""
        return self.log.row(self.view, key, self.state, self.pending, self.last, self.head, self.payload, entries)

    def add(self, ts: datetime, event: dict) -> None:
        self.pending.setdefault(ts, []).append(event)
        self.encoded.touch(ts)
        self.log.added(ts)
        if self.first is None or ts < self.first:
            self.first = ts
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
        self.head[0] = None  # the windows changed: encode them again at the next upsert
        self.log.changed()
        if self.emit:
            output = self.eval.output
            join_out = self.join_out
            for row, v in zip(rows, values):
                try:
                    o = output(row, v)
                except Exception as exc:  # noqa: BLE001 - SqlError, or any other failure: this row's dead letter
                    o = _dead(self.view, row, exc)
                out.append(o)
                if join_out:
                    for spec in join_out:
                        self.joined.append(Joined(spec.feed, spec.row(row, None if o.__class__ is DeadLetter else o)))

    def flush(self, upto: datetime | None, final: bool = False) -> list[dict]:
        """Process the pending groups before the watermark ``upto`` (every group when ``final``)."""
        pending = self.pending
        if not pending:
            return []
        if final:
            due = sorted(pending)
        elif upto is None or not self.first < upto:
            return []  # no watermark yet, or before the earliest group: nothing is final
        else:
            due = [t for t in pending if t < upto]
            if len(due) > 1:
                due.sort()
        out: list = []
        events = 0
        for ts in due:
            rows = pending.pop(ts)
            events += len(rows)
            self._process(rows, out)
        self.encoded.passed(due[-1])
        self.log.final(due, events)
        self.first = min(pending) if pending else None
        self.last, self.blob = due[-1], None
        self.flushed = True
        return out
