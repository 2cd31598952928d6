# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core of a key's window state (`fast.FastViewKeyState`): RANGE frames over time
(``RANGE BETWEEN <reach> PRECEDING AND CURRENT ROW`` with any EXCLUDE) with COUNT(*), COUNT,
SUM/AVG/VAR_*/STDDEV_* of doubles, MIN/MAX of numbers, BOOL_OR/AND and COUNT(DISTINCT), for one
key, one call per finalized peer group.

The same data and arithmetic as the Python state (`windows.SharedWindow` + `accumulators`), kept
in C: per window a ring of µs timestamps and one ring of values per (argument, FILTER) column;
per column its non-NULL count, an exact float sum (integers scaled by 2^fexp, the finest binary
exponent seen, as `accumulators._Sum` — 128-bit while it fits, a Python int after that), exact sums
of x and x² for variances (Python ints, as `accumulators.Variance`), true/false counts, monotonic
deques for MIN/MAX (eviction is in arrival order), counts per distinct value, and how many of its
rows failed (an argument Postgres would refuse: `accumulators.Guarded`). Results are those of the
Python state to the bit: sums and averages are rounded once from the exact value (the 128-bit
paths round with a sticky bit; anything they cannot round exactly goes through Python ints).
EXCLUDE GROUP reads before the group enters; TIES adds the row for its read, CURRENT ROW takes it
out for its read (not for MIN/MAX: a monotonic deque cannot give the extreme without one row).
"""

from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.math cimport frexp, ldexp, isnan, isinf
from cpython.float cimport PyFloat_AS_DOUBLE

include "_kernel_exact.pxi"

from .accumulators import Failed, NAN_KEY
from .frames import _Dynamic

cdef enum:
    LIMIT = 125  # bits a 128-bit sum may use before it moves to a Python int
    # aggregate codes
    A_COUNT = 0
    A_SUM = 1
    A_AVG = 2
    A_MIN = 3
    A_MAX = 4
    A_DISTINCT = 5
    A_BOOL_OR = 6
    A_BOOL_AND = 7
    A_VAR_SAMP = 8
    A_VAR_POP = 9
    A_STDDEV_SAMP = 10
    A_STDDEV_POP = 11
    # EXCLUDE modes
    X_NO_OTHERS = 0
    X_GROUP = 1
    X_TIES = 2
    X_CURRENT_ROW = 3
    # column value kinds
    K_ANY = 0
    K_FLOAT = 1
    K_INT = 2

cdef object _NAN = float("nan")
cdef object _INF = float("inf")
cdef object _NINF = float("-inf")
cdef long long NO_TIME = -(2 ** 62)


include "_kernel_col.pxi"


cdef inline bint _le(int kind, object a, object b):
    """a <= b in Postgres's order (NaN above every number and equal to itself)."""
    cdef double x, y
    if kind == K_FLOAT:
        x = PyFloat_AS_DOUBLE(a)
        y = PyFloat_AS_DOUBLE(b)
        if isnan(y):
            return True
        if isnan(x):
            return False
        return x <= y
    return a <= b


cdef class Win:
    """One RANGE window (all aggregates reaching ``reach`` µs back) of one key."""
    cdef public long long reach
    cdef long long *ts
    cdef Py_ssize_t cap, head
    cdef public Py_ssize_t n
    cdef public long long seq0           # sequence number of the oldest row held
    cdef list cols
    cdef readonly Py_ssize_t ncols
    cdef public object enc               # `rolling.Rolling` of a large window's encoded rows

    def __cinit__(self, long long reach, list cols):
        self.reach = reach
        self.cap = 8
        self.ts = <long long *> malloc(self.cap * sizeof(long long))
        if self.ts == NULL:
            raise MemoryError()
        self.head = self.n = 0
        self.seq0 = 0
        self.cols = cols
        self.ncols = len(cols)
        self.enc = None

    def __dealloc__(self):
        free(self.ts)

    cdef inline object _val(self, Col c, long long seq):
        return c.ring[(self.head + (seq - self.seq0)) & (self.cap - 1)]

    cdef int _grow(self) except -1:
        cdef long long *nt = <long long *> malloc(2 * self.cap * sizeof(long long))
        cdef Py_ssize_t i, mask = self.cap - 1
        cdef Col c
        if nt == NULL:
            raise MemoryError()
        for i in range(self.n):
            nt[i] = self.ts[(self.head + i) & mask]
        free(self.ts)
        self.ts = nt
        for c in self.cols:
            c.ring = [c.ring[(self.head + i) & mask] for i in range(self.n)] + [None] * (2 * self.cap - self.n)
        self.head = 0
        self.cap *= 2
        return 0

    cdef int evict(self, long long low) except -1:
        cdef Col c
        cdef object v
        cdef Py_ssize_t mask = self.cap - 1
        while self.n and self.ts[self.head] < low:
            for c in self.cols:
                v = c.ring[self.head]
                if v is not None:
                    c.acc(v, -1)
                    if c.want_max and c.maxd.n and c.maxd.front() == self.seq0:
                        c.maxd.pop_front()
                    if c.want_min and c.mind.n and c.mind.front() == self.seq0:
                        c.mind.pop_front()
                    c.ring[self.head] = None
            self.head = (self.head + 1) & mask
            self.seq0 += 1
            self.n -= 1
        return 0

    cdef int add(self, long long tus, list values) except -1:
        """One row: ``values[sig]`` per value signature. A row no column takes is not kept."""
        cdef Py_ssize_t idx
        cdef long long seq
        cdef Col c
        cdef object v
        cdef bint any_value = False
        for c in self.cols:
            if values[c.sig] is not None:
                any_value = True
                break
        if not any_value:
            return 0
        if self.n == self.cap:
            self._grow()
        idx = (self.head + self.n) & (self.cap - 1)
        seq = self.seq0 + self.n
        self.ts[idx] = tus
        self.n += 1
        for c in self.cols:
            v = values[c.sig]
            c.ring[idx] = v
            if v is None:
                continue
            c.acc(v, 1)
            if type(v) is Failed:
                continue
            if c.want_max:
                while c.maxd.n and _le(c.kind, self._val(c, c.maxd.back()), v):
                    c.maxd.pop_back()
                c.maxd.push(seq)
            if c.want_min:
                while c.mind.n and not _le(c.kind, self._val(c, c.mind.back()), v):
                    c.mind.pop_back()
                c.mind.push(seq)
        return 0

    def rows(self):
        """(timestamps, per column its values), oldest first."""
        cdef Py_ssize_t i, mask = self.cap - 1
        cdef Col c
        ts = [self.ts[(self.head + i) & mask] for i in range(self.n)]
        return ts, [[c.ring[(self.head + i) & mask] for i in range(self.n)] for c in self.cols]

    def rows_from(self, Py_ssize_t k):
        """(timestamps, per column its values) of the rows from position ``k`` (0: the oldest)."""
        cdef Py_ssize_t i, mask = self.cap - 1
        cdef Col c
        ts = [self.ts[(self.head + i) & mask] for i in range(k, self.n)]
        return ts, [[c.ring[(self.head + i) & mask] for i in range(k, self.n)] for c in self.cols]

    def col(self, Py_ssize_t j):
        return self.cols[j]

    cdef bytes _ts_bytes(self, Py_ssize_t lo, Py_ssize_t hi):
        """Timestamps lo..hi (positions from the oldest) as int64 little-endian bytes."""
        cdef bytes out = PyBytes_FromStringAndSize(NULL, (hi - lo) * 8)
        cdef char *dst = PyBytes_AS_STRING(out)
        cdef Py_ssize_t first, part
        if hi > lo:
            first = (self.head + lo) & (self.cap - 1)
            part = min(hi - lo, self.cap - first)
            memcpy(dst, &self.ts[first], part * 8)
            if part < hi - lo:
                memcpy(dst + part * 8, &self.ts[0], (hi - lo - part) * 8)
        return out

    cdef tuple _column(self, Col c, Py_ssize_t lo, Py_ssize_t hi):
        cdef Py_ssize_t i, mask = self.cap - 1
        return tuple([c.ring[(self.head + i) & mask] for i in range(lo, hi)])

    def dump(self, long long cut, pack):
        """`windows.SharedWindow.dump`: (head, tail) — the rows older than ``cut`` µs in the head
        (cut, timestamps, one packed column each, rows in the tail), the rest in the tail (or None)."""
        cdef Py_ssize_t lo = 0, hi = self.n, mid, k
        cdef Col c
        while lo < hi:  # bisect_left: the first row at or after cut
            mid = (lo + hi) // 2
            if self.ts[(self.head + mid) & (self.cap - 1)] < cut:
                lo = mid + 1
            else:
                hi = mid
        k = lo
        head = (cut, self._ts_bytes(0, k), tuple([pack(self._column(c, 0, k)) for c in self.cols]), self.n - k)
        if k == self.n:
            return head, None
        return head, (self._ts_bytes(k, self.n), tuple([pack(self._column(c, k, self.n)) for c in self.cols]))

    def bounds(self):
        """(oldest row µs, newest row µs), or None when empty."""
        if not self.n:
            return None
        return self.ts[self.head], self.ts[(self.head + self.n - 1) & (self.cap - 1)]

    def minmax(self, Py_ssize_t j):
        """MinMax's fields over column ``j``: (its non-NaN values sorted, (a NaN, how many) | None)."""
        cdef Col c = self.cols[j]
        cdef Py_ssize_t i, mask = self.cap - 1
        values, nan, nans = [], None, 0
        for i in range(self.n):
            v = c.ring[(self.head + i) & mask]
            if v is None or type(v) is Failed:
                continue
            if type(v) is float and v != v:
                nan, nans = v, nans + 1
            else:
                values.append(v)
        values.sort()
        return values, (None if not nans else (nan, nans))

    cdef object value(self, int func, Col c, object extra):
        """The aggregate over the column as it is; for MIN/MAX, with ``extra`` also in the frame
        (EXCLUDE TIES: the row itself; the other aggregates take it through `Col.acc`)."""
        cdef SeqDeque d
        if c.failed:
            return Failed(c.reason)
        if func == A_COUNT:
            return c.nn
        if func == A_SUM:
            return c.mean(False)
        if func == A_AVG:
            return c.mean(True)
        if func == A_MAX or func == A_MIN:
            d = c.maxd if func == A_MAX else c.mind
            best = self._val(c, d.front()) if d.n else None
            if extra is not None and (best is None or (_le(c.kind, best, extra) if func == A_MAX
                                                       else not _le(c.kind, best, extra))):
                best = extra
            return best
        if func == A_DISTINCT:
            return len(c.counts)
        if func == A_BOOL_OR or func == A_BOOL_AND:
            if c.t + c.f == 0:
                return None
            return c.t > 0 if func == A_BOOL_OR else c.f == 0
        return c.variance(func)


cdef class Lag:
    """LAG(x, k[, default]) in its total order: the last k + 1 values (`frames._Rows`)."""
    cdef object agg_id, getter, default, key
    cdef Py_ssize_t k
    cdef public list hist
    cdef public Py_ssize_t count
    cdef public object first
    cdef public bint has_first

    def __cinit__(self, agg_id, Py_ssize_t k, getter, default, key):
        self.agg_id, self.k, self.getter, self.default, self.key = agg_id, k, getter, default, key
        self.hist = []
        self.count = 0
        self.first = None
        self.has_first = False

    cdef void step(self, list rows, list out):
        cdef Py_ssize_t i, n = len(rows)
        cdef Py_ssize_t keep = self.k + 1
        if n == 1:
            order = range(1)
        else:
            keys = [self.key(r) for r in rows]
            order = sorted(range(n), key=keys.__getitem__)
        for i in order:
            row = rows[i]
            val = self.getter(row)
            if self.k == 0:
                res = val
            elif self.count >= self.k:
                res = self.hist[len(self.hist) - self.k]
            else:
                res = self.default(row) if self.default is not None else None
            (<dict> out[i])[self.agg_id] = res
            if not self.has_first:
                self.first, self.has_first = val, True
            self.hist.append(val)
            if len(self.hist) > keep:
                del self.hist[0]
            self.count += 1

    cdef object peek(self):
        """The as-of value after the latest row (`frames._Rows.peek`): raises `_Dynamic` where it
        depends on the read's own row (LAG(x, 0), or the default before k rows)."""
        if self.k == 0:
            raise _Dynamic
        if self.count >= self.k:
            return self.hist[len(self.hist) - self.k]
        if self.default is not None:
            raise _Dynamic
        return None

    def dump(self):
        """`frames._Rows.dump`."""
        return list(self.hist), self.count, self.first, self.has_first, None

    def load(self, list hist, Py_ssize_t count, first, bint has_first):
        self.hist, self.count, self.first, self.has_first = hist[-(self.k + 1):], count, first, has_first


cdef class Core:
    """Every compiled window of one view for one key.

    ``getters``: per value signature how a row gives it — None: 1 (COUNT(*)), a str: that column
    of the row, else a callable (an argument or FILTER expression; `Failed` where it fails);
    ``windows``: per window (reach µs, per column (signature index, kind, sum?, min?, max?,
    distinct?, bool?, variance?, latest group?)); ``aggs``: per aggregate (window index, column
    index, code, EXCLUDE mode); ``ids``: the aggregates' ids."""
    cdef public list wins, lags
    cdef list aggs, getters, ids
    cdef bint per_row                    # an EXCLUDE TIES / CURRENT ROW aggregate or a LAG: values per row

    def __cinit__(self, list getters, list windows, list aggs, list ids, list lags):
        self.getters = getters
        self.wins = [Win(reach, [Col(*spec) for spec in cols]) for reach, cols in windows]
        self.aggs = aggs
        self.ids = ids
        self.lags = [Lag(*spec) for spec in lags]
        self.per_row = bool(self.lags) or any(a[3] in (X_TIES, X_CURRENT_ROW) for a in aggs)

    cdef list _values(self, dict row):
        cdef list out = []
        for g in self.getters:
            if g is None:
                out.append(1)
            elif type(g) is str:
                out.append(row.get(g))
            else:
                out.append(g(row))
        return out

    cdef void _reads(self, int phase, list out, list rowvals):
        """Phase 0: the reads before the group enters (GROUP, TIES); 1: after (NO OTHERS,
        CURRENT ROW)."""
        cdef tuple a
        cdef Py_ssize_t i, j, nrows = len(rowvals)
        cdef Win w
        cdef Col c
        cdef int mode, func
        for j in range(len(self.aggs)):
            a = <tuple> self.aggs[j]
            mode = <int> a[3]
            if (mode == X_GROUP or mode == X_TIES) != (phase == 0):
                continue
            w = <Win> self.wins[<Py_ssize_t> a[0]]
            c = <Col> w.cols[<Py_ssize_t> a[1]]
            func = <int> a[2]
            agg_id = self.ids[j]
            if mode == X_GROUP or mode == X_NO_OTHERS:
                v = w.value(func, c, None)
                for i in range(nrows):
                    (<dict> out[i])[agg_id] = v
                continue
            for i in range(nrows):
                x = (<list> rowvals[i])[c.sig]
                if x is None:
                    (<dict> out[i])[agg_id] = w.value(func, c, None)
                    continue
                if mode == X_TIES:
                    c.acc(x, 1)
                    (<dict> out[i])[agg_id] = w.value(func, c, None if type(x) is Failed else x)
                    c.acc(x, -1)
                else:  # CURRENT ROW
                    c.acc(x, -1)
                    (<dict> out[i])[agg_id] = w.value(func, c, None)
                    c.acc(x, 1)

    def step(self, long long tus, list rows):
        """One finalized peer group at ``tus`` (its rows: dicts). Every window drops the rows older
        than its frame and takes the group's rows; returns each row's {aggregate id: value}."""
        cdef Win w
        cdef Col c
        cdef Py_ssize_t i, nrows = len(rows)
        cdef list rowvals = [self._values(<dict> row) for row in rows]
        cdef list out
        for w in self.wins:
            w.evict(tus - w.reach)
        if nrows == 1 or not self.per_row:
            out = [{}] * nrows           # one dict: every row reads the same values
        else:
            out = [{} for i in range(nrows)]
        self._reads(0, out, rowvals)
        for w in self.wins:
            for c in w.cols:
                if c.want_last:
                    if tus != c.last_tus:
                        c.last_tus, c.last_vals = tus, []
                    for i in range(nrows):
                        x = (<list> rowvals[i])[c.sig]
                        if x is not None:
                            c.last_vals.append(x)
            for i in range(nrows):
                w.add(tus, <list> rowvals[i])
        self._reads(1, out, rowvals)
        for lag in self.lags:
            (<Lag> lag).step(rows, out)
        return out

    def load(self, Py_ssize_t wi, ts, list columns):
        """Refill window ``wi`` from stored rows (oldest first; ``columns`` in the window's column
        order): its aggregates are recomputed."""
        cdef Win w = <Win> self.wins[wi]
        cdef Py_ssize_t i, j
        cdef Col c
        values = [None] * len(self.getters)
        for i in range(len(ts)):
            for j in range(w.ncols):
                c = <Col> w.cols[j]
                values[c.sig] = columns[j][i]
            w.add(ts[i], values)
            for j in range(w.ncols):
                values[(<Col> w.cols[j]).sig] = None

    def peek(self):
        """Every aggregate's value over its window as it is, then each LAG's as-of value
        (`ViewKeyState.quick`'s values; raises `frames._Dynamic` where a LAG's depends on the read's
        row)."""
        cdef tuple a
        cdef Win w
        out = []
        for a in self.aggs:
            w = <Win> self.wins[<Py_ssize_t> a[0]]
            out.append(w.value(<int> a[2], <Col> w.cols[<Py_ssize_t> a[1]], None))
        for lag in self.lags:
            out.append((<Lag> lag).peek())
        return out

    def retained(self):
        cdef Win w
        return sum([w.n for w in self.wins])
