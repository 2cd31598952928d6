"""Rows inside a RANGE frame, shared by every aggregate of a view that reaches as far back.

One µs timestamp column and one value column per distinct (argument, FILTER) signature: COUNT(*),
SUM(amount) and AVG(amount) over the same 24 hours keep one timestamp per row and two value
columns, not three copies of the window. A row none of the columns takes (NULL argument, FILTER
false) is not kept at all. Eviction pops a row once and removes its values from every accumulator
reading that column."""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
from collections import deque
from itertools import islice

from . import codec
from .rolling import Rolling, rolling_for


class NeedTail(Exception):
    """A read needs window rows that only the record's tail holds (read far past the horizon)."""


def _times_bytes(values) -> bytes:
    ts = array("q", values)
    if sys.byteorder != "little":
        ts.byteswap()
    return ts.tobytes()


def _times(data: bytes) -> array:
    times = array("q")
    times.frombytes(data)
    if sys.byteorder != "little":
        times.byteswap()
    return times


class SharedWindow:
    __slots__ = ("reach", "sigs", "ts", "cols", "subs", "cut", "missing", "seq0", "enc")

    def __init__(self, reach: int, sigs: list[tuple]):
        self.reach = reach                       # µs
        self.sigs = sigs                         # value signature of each column
        self.ts: deque = deque()
        self.cols: list[deque] = [deque() for _ in sigs]
        self.subs: list[list] = [[] for _ in sigs]  # accumulators reading each column
        self.cut, self.missing = 0, 0            # loaded without the tail: rows at/after cut absent
        self.seq0 = 0                            # sequence number of the oldest row held
        self.enc: Rolling | None = None          # a large window's rows, encoded once each

    def evict(self, low: int) -> None:
        if self.missing and low > self.cut:
            raise NeedTail  # rows this window was loaded without could be older than low
        ts = self.ts
        if not ts or ts[0] >= low:
            return
        pairs = list(zip(self.cols, self.subs))
        while ts and ts[0] < low:
            ts.popleft()
            self.seq0 += 1
            for col, accs in pairs:
                v = col.popleft()
                if v is not None:
                    for acc in accs:
                        acc.remove(v)

    def append(self, tus: int, values: dict, n: int) -> None:
        """Keep the group's ``n`` rows; ``values[sig]`` holds each row's value for that column."""
        if n == 1:  # the common case
            row = [values[s][0] for s in self.sigs]
            for v in row:
                if v is not None:
                    self.ts.append(tus)
                    for col, value in zip(self.cols, row):
                        col.append(value)
                    return
            return
        columns = [values[s] for s in self.sigs]
        for i in range(n):
            row = [c[i] for c in columns]
            if any(v is not None for v in row):
                self.ts.append(tus)
                for col, v in zip(self.cols, row):
                    col.append(v)

    def dump(self, cut: int) -> tuple[tuple, tuple | None]:
        """(head, tail): the rows older than ``cut`` µs — those reads up to the record's horizon may
        expire — and the rest. head = (cut, timestamps as little-endian int64 bytes, per column
        one msgpack array as bytes, how many rows are in the tail); tail = (timestamps, columns) or
        None when empty. Separate blobs: a read decodes only the rows it expires."""
        n = len(self.ts)
        enc = rolling_for(self, n)
        if enc is not None:
            return enc.dump(self, cut)
        k = bisect_left(self.ts, cut)
        head = (cut, _times_bytes(islice(self.ts, 0, k)), tuple(codec.pack(tuple(islice(c, 0, k))) for c in self.cols),
                n - k)
        if k == n:
            return head, None
        return head, (_times_bytes(islice(self.ts, k, n)), tuple(codec.pack(tuple(islice(c, k, n))) for c in self.cols))

    def load(self, head: tuple, tail: tuple | None) -> None:
        """Restore `dump` output; without the tail (a read) the window holds only the head rows and
        refuses (`NeedTail`) an eviction that would reach the rows it lacks."""
        cut, ts, cols, missing = head
        times = _times(ts)
        values = [list(codec.unpack(c)) for c in cols]
        if tail is not None and missing:
            t_ts, t_cols = tail
            more = _times(t_ts)
            if len(more) != missing:
                raise ValueError("window tail does not match its head")
            times.extend(more)
            for col, blob in zip(values, t_cols):
                col.extend(codec.unpack(blob))
            missing = 0
        if len(values) != len(self.sigs) or any(len(c) != len(times) for c in values):
            raise ValueError("window columns do not match")
        self.ts = deque(times)
        self.cols = [deque(c) for c in values]
        self.seq0, self.enc = 0, None
        self.cut, self.missing = cut, missing

    def expire(self, head: tuple, low: int) -> None:
        """For a read: remove from the accumulators the stored rows older than ``low`` (as `evict`
        would after `load`), decoding only those rows' values; the window is left empty."""
        cut, ts, cols, missing = head
        if missing and low > cut:
            raise NeedTail
        times = _times(ts)
        k = bisect_left(times, low)
        if len(cols) != len(self.sigs):
            raise ValueError("window columns do not match")
        if k:
            for blob, accs in zip(cols, self.subs):
                for v in codec.unpack_prefix(blob, k):
                    if v is not None:
                        for acc in accs:
                            acc.remove(v)

    @property
    def n(self) -> int:
        return len(self.ts)

    @property
    def ncols(self) -> int:
        return len(self.sigs)

    def rows_from(self, k: int) -> tuple:
        """(timestamps, per column its values) of the rows from position ``k`` (0: the oldest)."""
        return islice(self.ts, k, None), [islice(c, k, None) for c in self.cols]

    def __len__(self) -> int:
        return len(self.ts)
