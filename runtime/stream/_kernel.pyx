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

from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
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


cdef inline bint _decompose(double d, long long *m, int *k, int *s):
    """A finite non-zero double as m / 2^k (k >= 0) with m << s: as_integer_ratio's numerator
    and k (an integer-valued double has k = 0 and its mantissa shifted by s)."""
    cdef int ex, tz
    cdef double f = frexp(d, &ex)              # d = f * 2^ex, 0.5 <= |f| < 1
    cdef long long mm = <long long> ldexp(f, 53)  # d = mm * 2^(ex - 53), exactly
    tz = sk_ctz(<uint64_t> (mm if mm > 0 else -mm))
    mm >>= tz
    k[0] = 53 - ex - tz
    s[0] = 0
    if k[0] < 0:
        s[0] = -k[0]
        k[0] = 0
    m[0] = mm
    return True


cdef class Col:
    """One value column of a window and everything the window's aggregates keep over it."""
    cdef int kind
    cdef Py_ssize_t sig       # which of the row's values (`Core` getters) this column holds
    cdef bint want_sum, want_min, want_max, want_distinct, want_bool, want_var, want_last
    cdef list ring
    cdef public Py_ssize_t nn
    cdef public Py_ssize_t failed
    cdef public object reason
    # the exact sum (accumulators._Sum's fields)
    cdef sk_i128 fsum
    cdef object fbig          # None while the sum fits 128 bits
    cdef public int fexp
    cdef public Py_ssize_t floats, nan, pinf, ninf
    cdef public object isum
    # variance (accumulators.Variance's fields)
    cdef public object s1, s2
    cdef public int ve
    cdef public Py_ssize_t bad
    # BOOL_OR / BOOL_AND
    cdef public Py_ssize_t t, f
    cdef SeqDeque mind, maxd
    cdef public dict counts
    # the latest peer group's values (EXCLUDE GROUP / TIES: as-of reads at its time exclude it)
    cdef public long long last_tus
    cdef public list last_vals

    def __cinit__(self, Py_ssize_t sig, int kind, bint want_sum, bint want_min, bint want_max, bint want_distinct,
                  bint want_bool, bint want_var, bint want_last):
        self.sig = sig
        self.kind = kind
        self.want_sum, self.want_min, self.want_max, self.want_distinct = want_sum, want_min, want_max, want_distinct
        self.want_bool, self.want_var, self.want_last = want_bool, want_var, want_last
        self.ring = [None] * 8
        self.nn = self.failed = 0
        self.reason = ""
        self.fsum = 0
        self.fbig = None
        self.fexp = 0
        self.floats = self.nan = self.pinf = self.ninf = 0
        self.isum = 0
        self.s1 = self.s2 = 0
        self.ve = 0
        self.bad = self.t = self.f = 0
        self.mind = SeqDeque() if want_min else None
        self.maxd = SeqDeque() if want_max else None
        self.counts = {} if want_distinct else None
        self.last_tus = NO_TIME
        self.last_vals = []

    cdef int acc(self, object v, int sign) except -1:
        """The invertible part of adding (sign 1) or removing (-1) a non-NULL value."""
        if type(v) is Failed:
            self.failed += sign
            if sign > 0:
                self.reason = (<object> v).reason
            return 0
        self.nn += sign
        if self.want_sum:
            self.sum_add(v, sign)
        if self.want_var:
            self.var_add(v, sign)
        if self.want_bool:
            if v:
                self.t += sign
            else:
                self.f += sign
        if self.want_distinct:
            key = NAN_KEY if (type(v) is float and v != v) else v
            if sign > 0:
                self.counts[key] = self.counts.get(key, 0) + 1
            else:
                left = self.counts[key] - 1
                if left:
                    self.counts[key] = left
                else:
                    del self.counts[key]
        return 0

    cdef int sum_add(self, object v, int sign) except -1:
        cdef double d
        cdef int k, s, mb
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
            _decompose(d, &m, &k, &s)
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
            mb = 64 - sk_clz(<uint64_t> (m if m > 0 else -m))
            if mb + s + self.fexp - k > LIMIT:
                self._spill()
                self._big_add(m, k, s, sign)
                return 0
            term = (<sk_i128> m) << (s + self.fexp - k)
            if sign < 0:
                term = -term
            if sk_add_ovf(self.fsum, term, &r):
                self._spill()
                self._big_add(m, k, s, sign)
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
        """fbig += sign * (m << s) / 2^k in Python ints, rescaling when k is finer."""
        if k > self.fexp:
            self.fbig = self.fbig << (k - self.fexp)
            self.fexp = k
        term = (<object> m) << (s + self.fexp - k)
        self.fbig = self.fbig + term if sign > 0 else self.fbig - term

    cdef object fsum_py(self):
        return self.fbig if self.fbig is not None else sk_to_py(self.fsum)

    cdef int var_add(self, object v, int sign) except -1:
        cdef double d
        cdef int k, s
        cdef long long m
        if type(v) is not float:
            raise TypeError(f"the compiled window state takes variances of doubles, not {type(v).__name__}")
        d = PyFloat_AS_DOUBLE(v)
        if isnan(d) or isinf(d):
            self.bad += sign
            return 0
        if d == 0.0:
            m, k, s = 0, 0, 0
        else:
            _decompose(d, &m, &k, &s)
        if k > self.ve:
            self.s1 = self.s1 << (k - self.ve)
            self.s2 = self.s2 << (2 * (k - self.ve))
            self.ve = k
        x = (<object> m) << (s + self.ve - k)
        if sign > 0:
            self.s1 = self.s1 + x
            self.s2 = self.s2 + x * x
        else:
            self.s1 = self.s1 - x
            self.s2 = self.s2 - x * x
        return 0

    cdef object special(self):
        if self.nan or (self.pinf and self.ninf):
            return _NAN
        if self.pinf:
            return _INF
        if self.ninf:
            return _NINF
        return None

    cdef object mean(self, bint average):
        """SUM (``average`` False) or AVG of the exact sum, rounded once."""
        cdef int ok
        cdef double d
        if self.nn == 0:
            return None
        sp = self.special()
        if sp is not None:
            return sp
        if not self.floats:
            return self.isum / self.nn if average else float(self.isum)
        if self.fbig is None and self.isum == 0:
            if average:
                d = sk_div_scaled(sk_abs(self.fsum), self.nn, self.fexp, &ok)
            else:
                d = sk_scaled(sk_abs(self.fsum), self.fexp, &ok)
            if ok:
                return -d if self.fsum < 0 else d
        try:
            return ((self.isum << self.fexp) + self.fsum_py()) / ((<object> (self.nn if average else 1)) << self.fexp)
        except OverflowError:
            return Failed("value out of range: overflow")

    cdef object variance(self, int func):
        cdef Py_ssize_t n = self.nn
        cdef bint sample = func == A_VAR_SAMP or func == A_STDDEV_SAMP
        if n == 0 or (sample and n == 1):
            return None
        if self.bad:
            return _NAN
        num = n * self.s2 - self.s1 * self.s1
        den = (<object> (n * (n - 1) if sample else n * n)) << (2 * self.ve)
        try:
            var = num / den if num > 0 else 0.0
        except OverflowError:
            return Failed("value out of range: overflow")
        return var ** 0.5 if (func == A_STDDEV_SAMP or func == A_STDDEV_POP) else var

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


DYNAMIC = object()  # a LAG value that depends on the read's own row (`frames._Dynamic`)


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
        if self.k == 0:
            return DYNAMIC
        if self.count >= self.k:
            return self.hist[len(self.hist) - self.k]
        return DYNAMIC if self.default is not None else None

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
        (`ViewKeyState.quick`'s values; `DYNAMIC` where a LAG's depends on the read's row)."""
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
