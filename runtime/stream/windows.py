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

from . import codec


class SharedWindow:
    __slots__ = ("reach", "sigs", "ts", "cols", "subs")

    def __init__(self, reach: int, sigs: list[tuple]):
        self.reach = reach                       # µs
        self.sigs = sigs                         # value signature of each column
        self.ts: deque = deque()
        self.cols: list[deque] = [deque() for _ in sigs]
        self.subs: list[list] = [[] for _ in sigs]  # accumulators reading each column

    def evict(self, low: int) -> None:
        ts = self.ts
        if not ts or ts[0] >= low:
            return
        pairs = list(zip(self.cols, self.subs))
        while ts and ts[0] < low:
            ts.popleft()
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

    def dump(self) -> tuple:
        """(timestamps as little-endian int64 bytes, per column its values as one msgpack array) —
        separate blobs, so a read decodes only the rows it expires (`expire`)."""
        ts = array("q", self.ts)
        if sys.byteorder != "little":
            ts.byteswap()
        return (ts.tobytes(), tuple(codec.pack(tuple(c)) for c in self.cols))

    @staticmethod
    def _times(ts: bytes) -> array:
        times = array("q")
        times.frombytes(ts)
        if sys.byteorder != "little":
            times.byteswap()
        return times

    def load(self, ts: bytes, cols: tuple) -> None:
        times = self._times(ts)
        values = [codec.unpack(c) for c in cols]
        if len(values) != len(self.sigs) or any(len(c) != len(times) for c in values):
            raise ValueError("window columns do not match")
        self.ts = deque(times)
        self.cols = [deque(c) for c in values]

    def expire(self, ts: bytes, cols: tuple, low: int) -> None:
        """For a read: remove from the accumulators the stored rows older than ``low`` (as `evict`
        would after `load`), decoding only those rows' values; the window is left empty."""
        times = self._times(ts)
        k = bisect_left(times, low)
        if len(cols) != len(self.sigs):
            raise ValueError("window columns do not match")
        if k:
            for blob, accs in zip(cols, self.subs):
                for v in codec.unpack_prefix(blob, k):
                    if v is not None:
                        for acc in accs:
                            acc.remove(v)

    def __len__(self) -> int:
        return len(self.ts)
