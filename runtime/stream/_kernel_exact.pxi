# Included by _kernel.pyx: exact float arithmetic in C (128-bit scaled sums, correctly rounded
# conversions) and the decomposition of a double into m / 2^k.

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
