"""A window's stored rows, encoded once each (issue 11: cheap state persistence).

Every upsert of a key writes its windows' rows (docs/state-format.md: per window the timestamps as
int64 bytes and one msgpack array per value column). Re-encoding a busy key's whole window for
every upsert made a flush cost grow with the window — a merchant key with 10k rows in its 7-day
window re-encoded them 20 times a second. `Rolling` keeps, beside a window, the encodings of the
rows it already wrote: a row is identified by its sequence number (rows enter at the back and leave
at the front, in order), so a dump encodes only the rows that entered since the last one and
slices the rest out of the kept bytes. The bytes are exactly `codec.pack` of the column (a msgpack
array is its header followed by each element's own encoding) — the format does not change, and
`tests/runtime/test_rolling.py` checks the two against each other.

A window gives: ``seq0`` (the sequence number of its oldest row), ``n`` (rows held), ``ncols``,
``enc`` (its `Rolling`, kept by `rolling_for`) and ``rows_from(k)`` (timestamps and per column the
values of its rows from position ``k`` on).
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left

from . import codec

_COMPACT = 4096  # rows forgotten at the front before their bytes are dropped
# A window keeps its encodings from this many rows. Python windows (`windows.SharedWindow`) hold the
# values the kernel does not — numeric, timestamps, text — and msgpack calls back into Python for
# each numeric or timestamp value: a 150-row numeric column cost ~470 µs to encode whole at every
# upsert, ~20 µs rolling. The kernel's windows hold numbers msgpack encodes natively (~20 µs for
# 150 rows whole), so they keep encodings only when large (memory: a kept row costs ~8 bytes per
# column beside its encoding).
LARGE = 16
LARGE_KERNEL = 256


def array_header(n: int) -> bytes:
    """msgpack's header of an array of ``n`` elements."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 0x10000:
        return b"\xdc" + n.to_bytes(2, "big")
    return b"\xdd" + n.to_bytes(4, "big")


class Rolling:
    __slots__ = ("lo", "hi", "first", "ts", "bufs", "offs", "base")

    def __init__(self, ncols: int):
        self.lo = self.hi = 0            # sequence numbers encoded: [lo, hi)
        self.first = 0                   # index (in ts/offs) of row lo; rows before it are forgotten
        self.ts = array("q")
        self.bufs = [bytearray() for _ in range(ncols)]
        self.offs = [array("q", [0]) for _ in range(ncols)]  # absolute start of each row's bytes (+ end)
        self.base = [0] * ncols          # absolute offset of bufs[c][0]

    def _reset(self, seq: int) -> None:
        self.lo = self.hi = seq
        self.first = 0
        self.ts = array("q")
        self.bufs = [bytearray() for _ in self.bufs]
        self.offs = [array("q", [0]) for _ in self.bufs]
        self.base = [0] * len(self.bufs)

    def sync(self, win) -> None:
        """Forget the rows the window evicted, encode the rows it took since the last sync."""
        seq0, n = win.seq0, win.n
        if seq0 < self.lo or seq0 > self.hi or seq0 + n < self.hi:
            self._reset(seq0)  # another window's history (reloaded): start over
        if seq0 > self.lo:
            self.first += seq0 - self.lo
            self.lo = seq0
            if self.first >= _COMPACT and self.first * 2 >= len(self.ts):
                self._compact()
        if seq0 + n > self.hi:
            times, columns = win.rows_from(self.hi - seq0)
            self.ts.extend(times)
            pack = codec.pack
            for buf, offs, values in zip(self.bufs, self.offs, columns):
                end = offs[-1]
                for v in values:
                    b = pack(v)
                    buf += b
                    end += len(b)
                    offs.append(end)
            self.hi = seq0 + n

    def _compact(self) -> None:
        k = self.first
        del self.ts[:k]
        for c, (buf, offs) in enumerate(zip(self.bufs, self.offs)):
            cut = offs[k] - self.base[c]
            del buf[:cut]
            self.base[c] += cut
            del offs[:k]
        self.first = 0

    def segment(self, a: int, b: int) -> tuple[bytes, tuple[bytes, ...]]:
        """Rows at positions a..b (from the oldest held): (timestamps as int64 little-endian bytes,
        per column its values as one msgpack array)."""
        i, j = self.first + a, self.first + b
        if sys.byteorder == "little":
            ts = memoryview(self.ts)[i:j].tobytes()
        else:
            times = self.ts[i:j]
            times.byteswap()
            ts = times.tobytes()
        cols = []
        for buf, offs, base in zip(self.bufs, self.offs, self.base):
            view = memoryview(buf)[offs[i] - base:offs[j] - base]
            cols.append(b"".join((array_header(b - a), view)))
        return ts, tuple(cols)

    def dump(self, win, cut: int) -> tuple[tuple, tuple | None]:
        """`windows.SharedWindow.dump` of ``win``: (head, tail) split at ``cut`` µs."""
        self.sync(win)
        n = win.n
        k = bisect_left(self.ts, cut, self.first, self.first + n) - self.first
        ts, cols = self.segment(0, k)
        head = (cut, ts, cols, n - k)
        if k == n:
            return head, None
        return head, self.segment(k, n)


def rolling_for(win, n: int, large: int | None = None) -> Rolling | None:
    """The window's `Rolling` if it has more than ``large`` rows (default `LARGE`; made on first
    need; dropped when it has shrunk to half, to free its bytes), else None."""
    large = LARGE if large is None else large
    enc = win.enc
    if n > large:
        if enc is None:
            enc = win.enc = Rolling(win.ncols)
        return enc
    if enc is not None and n <= large // 2:
        win.enc = None
    return None if n <= large // 2 else enc
