# Included by _kernel.pyx: a window column and everything its aggregates keep over it.

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

    def last_group(self):
        """(µs, values) of the latest peer group, or (None, []) before the first."""
        if self.last_tus == NO_TIME:
            return None, []
        return self.last_tus, list(self.last_vals)

    def sum_fields(self):
        """(n, isum, fsum, fexp, floats, nan, pinf, ninf): accumulators._Sum's fields."""
        return self.nn, self.isum, self.fsum_py(), self.fexp, self.floats, self.nan, self.pinf, self.ninf
