"""A source's event-time watermark: one keyed step sees every event of the source, tags each with the
watermark (max event time seen − allowed lateness; per partition with Kafka) and sends late events
to the dead letters. For sources whose views feed re-keyed views (`rekey`), it also counts the
events it let through, so the steps downstream know when every event before a watermark has been
accounted for (`Frontier`)."""

from __future__ import annotations

import copy
import heapq
import json
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from bytewax.operators import StatefulBatchLogic

from ..sources.decode import DeadLetter, Idle
from .codec import time_us


@dataclass(frozen=True)
class Tagged:
    event: dict
    watermark: datetime | None


@dataclass(frozen=True)
class Frontier:
    """Every event before ``watermark`` is known: ``count`` of them passed the watermark step (or,
    downstream of a re-keying, that many rows left the sequencer)."""
    watermark: datetime
    count: int


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
        # counting (sources feeding re-keyed views): times of the events not yet before the
        # watermark, how many are, and the last watermark a Frontier was sent for
        self.ahead: list[int] = []  # a heap of µs (`codec.time_us`): as bytes in a snapshot
        self.passed = 0
        self.sent: datetime | None = None

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

    def frontier(self, lateness: timedelta) -> Frontier | None:
        """The events counted before the current watermark, if it moved since the last one sent."""
        if self.mark is None:
            return None
        wm = self.mark - lateness
        if self.sent is not None and wm <= self.sent:
            return None
        ahead, wm_us = self.ahead, time_us(wm)
        while ahead and ahead[0] < wm_us:
            heapq.heappop(ahead)
            self.passed += 1
        self.sent = wm
        return Frontier(wm, self.passed)


def _watermark(lateness: timedelta, parts: list[str], stats) -> Callable:
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


class WatermarkLogic(StatefulBatchLogic):
    """The source's one watermark step, a batch of items per call (`_watermark` per item); its
    snapshot is the `_Watermark` (as `stateful_map` kept it). With ``counting`` (its views feed
    re-keyed views), each batch ends with a `Frontier` when the watermark moved."""

    def __init__(self, mapper: Callable, state: "_Watermark | None", lateness: timedelta | None = None,
                 ts_col: str | None = None):
        if state is not None and isinstance(state.ahead, bytes):  # resumed from a snapshot
            state.ahead = array("q", state.ahead).tolist()  # still a heap: the same order
        self.mapper, self.state = mapper, state
        self.lateness, self.ts_col = lateness, ts_col  # counting when given

    def on_batch(self, values: list):
        mapper, state, out = self.mapper, self.state, []
        for v in values:
            state, w = mapper(state, v)
            if w is not None:
                out.append(w)
                if self.ts_col is not None and w.__class__ is Tagged:
                    heapq.heappush(state.ahead, time_us(w.event[self.ts_col]))
        self.state = state
        if self.ts_col is not None and state is not None:
            f = state.frontier(self.lateness)
            if f is not None:
                out.append(f)
        return out, False

    def snapshot(self):
        """A copy of the state (it keeps changing after the epoch closes): its containers copied,
        their values shared (times are immutable), the heap of event times as int64 bytes — a
        real-time stream counting its allowed lateness of events holds minutes of them, and
        Bytewax pickles a snapshot each epoch (a list of datetimes: ~10 % of a core at 1k events/s)."""
        state = self.state
        if state is None:
            return None
        copied = copy.copy(state)
        copied.latest, copied.idle = dict(state.latest), set(state.idle)
        copied.ahead = array("q", state.ahead).tobytes()
        return copied

