"""Rows inside a RANGE frame, shared by every aggregate of a view that reaches as far back.

One µs timestamp column and one value column per distinct (argument, FILTER) signature: COUNT(*),
SUM(amount) and AVG(amount) over the same 24 hours keep one timestamp per row and two value
columns, not three copies of the window. A row none of the columns takes (NULL argument, FILTER
false) is not kept at all. Eviction pops a row once and removes its values from every accumulator
reading that column."""

from __future__ import annotations

from collections import deque


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
        return (list(self.ts), [list(c) for c in self.cols])

    def load(self, data: tuple) -> None:
        ts, cols = data
        self.ts = deque(ts)
        self.cols = [deque(c) for c in cols]

    def __len__(self) -> int:
        return len(self.ts)
