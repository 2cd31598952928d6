# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The compiled core of a key's window state (`fast.FastViewKeyState`): RANGE frames over time
(``RANGE BETWEEN <reach> PRECEDING AND CURRENT ROW``, EXCLUDE NO OTHERS) with COUNT(*), COUNT,
SUM, AVG, MIN, MAX and COUNT(DISTINCT), for one key, one call per finalized peer group.

The same data and arithmetic as the Python state (`windows.SharedWindow` + `accumulators`), kept
in C: per window a ring of µs timestamps and one ring of values per (argument, FILTER) column;
per column its non-NULL count, an exact float sum (integers scaled by 2^fexp, the finest binary
exponent seen, as `accumulators._Sum` — 128-bit while it fits, a Python int after that), monotonic
deques for MIN/MAX (eviction is in arrival order), counts per distinct value. Results are those of
the Python state to the bit: sums and averages are rounded once from the exact value (the 128-bit
paths round with a sticky bit; anything they cannot round exactly goes through Python ints).
"""

from libc.stdlib cimport malloc, realloc, free
from libc.math cimport frexp, ldexp, isnan, isinf, fabs
from cpython.float cimport PyFloat_AS_DOUBLE

cdef extern from *:
    """
    #include <float.h>
    #include <stdint.h>
    typedef __int128 sk_i128;
    typedef unsigned __int128 sk_u128;

    static inline int sk_bits_u(sk_u128 a) {
        uint64_t hi = (uint64_t)(a >> 64);
        if (hi) return 128 - __builtin_clzll(hi);
        if ((uint64_t)a) return 64 - __builtin_clzll((uint64_t)a);
        return 0;
    }
    static inline sk_u128 sk_abs(sk_i128 x) { return x < 0 ? -(sk_u128)x : (sk_u128)x; }
    static inline int sk_bits(sk_i128 x) { return sk_bits_u(sk_abs(x)); }
    static inline int sk_add_ovf(sk_i128 a, sk_i128 b, sk_i128 *r) { return __builtin_add_overflow(a, b, r); }
    static inline int sk_ctz(uint64_t x) { return __builtin_ctzll(x); }
    static inline int sk_clz(uint64_t x) { return __builtin_clzll(x); }

    /* a * 2^-e correctly rounded (a < 2^127); *ok = 0 where one rounding cannot give it
       (a subnormal or infinite result): the caller computes it with Python ints instead. */
    static double sk_scaled(sk_u128 a, int e, int *ok) {
        *ok = 1;
        if (!a) return 0.0;
        int b = sk_bits_u(a), sh = 0;
        if (b > 62) {  /* keep 62 bits and a sticky bit far below the rounding position */
            sh = b - 62;
            sk_u128 lost = a & ((((sk_u128)1) << sh) - 1);
            a >>= sh;
            if (lost) a |= 1;
        }
        double d = ldexp((double)(int64_t)a, sh - e);
        if (d < DBL_MIN || d > DBL_MAX) *ok = 0;
        return d;
    }

    /* (a / n) * 2^-e correctly rounded (a < 2^127, 1 <= n < 2^63) */
    static double sk_div_scaled(sk_u128 a, int64_t n, int e, int *ok) {
        *ok = 1;
        if (!a) return 0.0;
        int s = 126 - sk_bits_u(a);
        if (s < 0) s = 0;
        sk_u128 num = a << s;
        sk_u128 q = num / (sk_u128)n, r = num % (sk_u128)n;
        if (r) q |= 1;  /* q >= 2^62: bit 0 is far below the rounding position */
        return sk_scaled(q, e + s, ok);
    }

    static PyObject *sk_to_py(sk_i128 x) {
        unsigned char buf[16];
        sk_u128 u = (sk_u128)x;
        for (int i = 0; i < 16; i++) { buf[i] = (unsigned char)(u & 0xff); u >>= 8; }
        return _PyLong_FromByteArray(buf, 16, 1, 1);
    }
    """
    ctypedef long long sk_i128
    ctypedef unsigned long long sk_u128
    ctypedef unsigned long long uint64_t
    ctypedef long long int64_t
    int sk_bits(sk_i128 x)
    sk_u128 sk_abs(sk_i128 x)
    bint sk_add_ovf(sk_i128 a, sk_i128 b, sk_i128 *r)
    int sk_ctz(uint64_t x)
    int sk_clz(uint64_t x)
    double sk_scaled(sk_u128 a, int e, int *ok)
    double sk_div_scaled(sk_u128 a, int64_t n, int e, int *ok)
    object sk_to_py(sk_i128 x)

from .accumulators import Failed, NAN_KEY

cdef enum:
    LIMIT = 125  # bits a 128-bit sum may use before it moves to a Python int
    # aggregate codes
    A_COUNT = 0
    A_SUM = 1
    A_AVG = 2
    A_MIN = 3
    A_MAX = 4
    A_DISTINCT = 5
    # column value kinds
    K_ANY = 0
    K_FLOAT = 1
    K_INT = 2

cdef object _NAN = float("nan")
cdef object _INF = float("inf")
cdef object _NINF = float("-inf")


cdef class SeqDeque:
    """A deque of row sequence numbers (a monotonic deque for MIN/MAX)."""
    cdef long long *buf
    cdef Py_ssize_t cap, head, n

    def __cinit__(self):
        self.cap = 8
        self.buf = <long long *> malloc(self.cap * sizeof(long long))
        if self.buf == NULL:
            raise MemoryError()
        self.head = 0
        self.n = 0

    def __dealloc__(self):
        free(self.buf)

    cdef inline long long front(self):
        return self.buf[self.head]

    cdef inline long long back(self):
        return self.buf[(self.head + self.n - 1) & (self.cap - 1)]

    cdef inline void pop_front(self):
        self.head = (self.head + 1) & (self.cap - 1)
        self.n -= 1

    cdef inline void pop_back(self):
        self.n -= 1

    cdef int push(self, long long seq) except -1:
        cdef long long *nb
        cdef Py_ssize_t i
        if self.n == self.cap:
            nb = <long long *> malloc(2 * self.cap * sizeof(long long))
            if nb == NULL:
                raise MemoryError()
            for i in range(self.n):
                nb[i] = self.buf[(self.head + i) & (self.cap - 1)]
            free(self.buf)
            self.buf, self.head, self.cap = nb, 0, 2 * self.cap
        self.buf[(self.head + self.n) & (self.cap - 1)] = seq
        self.n += 1
        return 0

    cdef void clear(self):
        self.head = 0
        self.n = 0


cdef class Col:
    """One value column of a window and everything the window's aggregates keep over it."""
    cdef int kind
    cdef Py_ssize_t sig       # which of the row's values (`Core` getters) this column holds
    cdef bint want_sum, want_min, want_max, want_distinct
    cdef list ring
    cdef public Py_ssize_t nn
    # the exact sum (accumulators._Sum's fields)
    cdef sk_i128 fsum
    cdef object fbig          # None while the sum fits 128 bits
    cdef public int fexp
    cdef public Py_ssize_t floats, nan, pinf, ninf
    cdef public object isum
    cdef SeqDeque mind, maxd
    cdef public dict counts

    def __cinit__(self, Py_ssize_t sig, int kind, bint want_sum, bint want_min, bint want_max, bint want_distinct):
        self.sig = sig
        self.kind = kind
        self.want_sum, self.want_min, self.want_max, self.want_distinct = want_sum, want_min, want_max, want_distinct
        self.ring = [None] * 8
        self.nn = 0
        self.fsum = 0
        self.fbig = None
        self.fexp = 0
        self.floats = self.nan = self.pinf = self.ninf = 0
        self.isum = 0
        self.mind = SeqDeque() if want_min else None
        self.maxd = SeqDeque() if want_max else None
        self.counts = {} if want_distinct else None

    cdef int sum_add(self, object v, int sign) except -1:
        cdef double d, f
        cdef int ex, k, tz, s, mb
        cdef long long m
        cdef sk_i128 term, r
        if type(v) is float:
            d = PyFloat_AS_DOUBLE(v)
            if isnan(d):
                self.nan += sign
                return 0
            if isinf(d):
                if d > 0:
                    self.pinf += sign
                else:
                    self.ninf += sign
                return 0
            self.floats += sign
            if d == 0.0:
                return 0
            f = frexp(d, &ex)                    # d = f * 2^ex, 0.5 <= |f| < 1
            m = <long long> ldexp(f, 53)         # d = m * 2^(ex - 53), exactly
            tz = sk_ctz(<uint64_t> (m if m > 0 else -m))
            m >>= tz
            k = 53 - ex - tz                     # d = m / 2^k
            s = 0
            if k < 0:                            # an integer: m << -k (as_integer_ratio's k is 0)
                s, k = -k, 0
            if self.fbig is not None:
                self._big_add(m, k, s, sign)
                return 0
            if k > self.fexp:                    # a finer value: rescale the sum once
                if sk_bits(self.fsum) + (k - self.fexp) > LIMIT:
                    self._spill()
                    self._big_add(m, k, s, sign)
                    return 0
                self.fsum = self.fsum << (k - self.fexp)
                self.fexp = k
            s += self.fexp - k
            mb = 64 - sk_clz(<uint64_t> (m if m > 0 else -m))
            if mb + s > LIMIT:
                self._spill()
                self._big_add(m, k, s - (self.fexp - k), sign)
                return 0
            term = (<sk_i128> m) << s
            if sign < 0:
                term = -term
            if sk_add_ovf(self.fsum, term, &r):
                self._spill()
                self._big_add(m, k, s - (self.fexp - k), sign)
                return 0
            self.fsum = r
            return 0
        if isinstance(v, int):
            self.isum = self.isum + v if sign > 0 else self.isum - v
            return 0
        raise TypeError(f"the compiled window state sums doubles and integers, not {type(v).__name__}")

    cdef void _spill(self):
        self.fbig = sk_to_py(self.fsum)

    cdef void _big_add(self, long long m, int k, int s, int sign):
        """fbig += sign * (m << s) / 2^k in Python ints, rescaling when k is finer (s: m's own shift)."""
        cdef object big = self.fbig
        if k > self.fexp:
            big = big << (k - self.fexp)
            self.fexp = k
        term = (<object> m) << (s + self.fexp - k)
        self.fbig = big + term if sign > 0 else big - term

    cdef object fsum_py(self):
        return self.fbig if self.fbig is not None else sk_to_py(self.fsum)

    cdef object special(self):
        if self.nan or (self.pinf and self.ninf):
            return _NAN
        if self.pinf:
            return _INF
        if self.ninf:
            return _NINF
        return None

    cdef object sum_value(self):
        cdef int ok
        cdef double d
        if self.nn == 0:
            return None
        sp = self.special()
        if sp is not None:
            return sp
        if not self.floats:
            return float(self.isum)
        if self.fbig is None and self.isum == 0:
            d = sk_scaled(sk_abs(self.fsum), self.fexp, &ok)
            if ok:
                return -d if self.fsum < 0 else d
        try:
            return ((self.isum << self.fexp) + self.fsum_py()) / ((<object> 1) << self.fexp)
        except OverflowError:
            return Failed("value out of range: overflow")

    cdef object avg_value(self):
        cdef int ok
        cdef double d
        if self.nn == 0:
            return None
        sp = self.special()
        if sp is not None:
            return sp
        if not self.floats:
            return self.isum / self.nn
        if self.fbig is None and self.isum == 0:
            d = sk_div_scaled(sk_abs(self.fsum), self.nn, self.fexp, &ok)
            if ok:
                return -d if self.fsum < 0 else d
        try:
            return ((self.isum << self.fexp) + self.fsum_py()) / ((<object> self.nn) << self.fexp)
        except OverflowError:
            return Failed("value out of range: overflow")

    def sum_fields(self):
        """(n, isum, fsum, fexp, floats, nan, pinf, ninf): accumulators._Sum's fields."""
        return self.nn, self.isum, self.fsum_py(), self.fexp, self.floats, self.nan, self.pinf, self.ninf


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
    cdef long long seq0                  # sequence number of the oldest row held
    cdef list cols
    cdef Py_ssize_t ncols

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
                    c.nn -= 1
                    if c.want_sum:
                        c.sum_add(v, -1)
                    if c.want_max and c.maxd.n and c.maxd.front() == self.seq0:
                        c.maxd.pop_front()
                    if c.want_min and c.mind.n and c.mind.front() == self.seq0:
                        c.mind.pop_front()
                    if c.want_distinct:
                        _uncount(c.counts, v)
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
            c.nn += 1
            if c.want_sum:
                c.sum_add(v, 1)
            if c.want_max:
                while c.maxd.n and _le(c.kind, self._val(c, c.maxd.back()), v):
                    c.maxd.pop_back()
                c.maxd.push(seq)
            if c.want_min:
                while c.mind.n and not _le(c.kind, self._val(c, c.mind.back()), v):
                    c.mind.pop_back()
                c.mind.push(seq)
            if c.want_distinct:
                key = NAN_KEY if (type(v) is float and v != v) else v
                c.counts[key] = c.counts.get(key, 0) + 1
        return 0

    def rows(self):
        """(timestamps, per column its values), oldest first."""
        cdef Py_ssize_t i, mask = self.cap - 1
        cdef Col c
        ts = [self.ts[(self.head + i) & mask] for i in range(self.n)]
        return ts, [[c.ring[(self.head + i) & mask] for i in range(self.n)] for c in self.cols]

    def col(self, Py_ssize_t j):
        return self.cols[j]

    def minmax(self, Py_ssize_t j):
        """MinMax's fields over column ``j``: (its non-NaN values sorted, (a NaN, how many) | None)."""
        cdef Col c = self.cols[j]
        cdef Py_ssize_t i, mask = self.cap - 1
        values, nan, nans = [], None, 0
        for i in range(self.n):
            v = c.ring[(self.head + i) & mask]
            if v is None:
                continue
            if type(v) is float and v != v:
                nan, nans = v, nans + 1
            else:
                values.append(v)
        values.sort()
        return values, (None if not nans else (nan, nans))

    cdef object value(self, int func, Py_ssize_t j):
        cdef Col c = self.cols[j]
        if func == A_COUNT:
            return c.nn
        if func == A_SUM:
            return c.sum_value()
        if func == A_AVG:
            return c.avg_value()
        if func == A_MAX:
            return self._val(c, c.maxd.front()) if c.maxd.n else None
        if func == A_MIN:
            return self._val(c, c.mind.front()) if c.mind.n else None
        return len(c.counts)


cdef inline void _uncount(dict counts, object v):
    key = NAN_KEY if (type(v) is float and v != v) else v
    left = counts[key] - 1
    if left:
        counts[key] = left
    else:
        del counts[key]


cdef class Core:
    """Every compiled window of one view for one key.

    ``getters``: per value signature how a row gives it — None: 1 (COUNT(*)), a str: that column
    of the row, else a callable (an argument or FILTER expression); ``windows``: per window (reach
    µs, per column (signature index, kind, sum?, min?, max?, distinct?)); ``aggs``: per aggregate
    (window index, column index, code); ``ids``: the aggregates' ids."""
    cdef public list wins
    cdef list aggs, getters, ids

    def __cinit__(self, list getters, list windows, list aggs, list ids):
        self.getters = getters
        self.wins = [Win(reach, [Col(*spec) for spec in cols]) for reach, cols in windows]
        self.aggs = aggs
        self.ids = ids

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

    def step(self, long long tus, list rows):
        """One finalized peer group at ``tus`` (its rows: dicts). Every window drops the rows older
        than its frame and takes the group's rows; returns {aggregate id: value} — the same for
        every row of the group: they are peers."""
        cdef Win w
        cdef tuple a
        cdef dict out = {}
        cdef Py_ssize_t i
        for w in self.wins:
            w.evict(tus - w.reach)
        for row in rows:
            values = self._values(<dict> row)
            for w in self.wins:
                w.add(tus, values)
        for i in range(len(self.aggs)):
            a = <tuple> self.aggs[i]
            out[self.ids[i]] = (<Win> self.wins[<Py_ssize_t> a[0]]).value(<int> a[2], <Py_ssize_t> a[1])
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

    def retained(self):
        cdef Win w
        return sum([w.n for w in self.wins])
