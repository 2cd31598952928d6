"""Exact, invertible accumulators: add(v), remove(v), value(), all O(1) or O(log n).

Float sums are kept exactly as integers scaled by 2^e, e the largest binary exponent among the
values seen (every double is an integer multiple of 2^-1074; e grows when a finer value arrives,
and amounts like 12.34 need e ~ 50, not 1074: small integers, fast arithmetic), so a sliding sum
never drifts however many values enter and leave, and the result is the correctly rounded exact
sum. Variance uses exact sums of x and x^2 the same way. NULLs (None) are
skipped, as SQL aggregates skip them.
"""

from __future__ import annotations

from collections import Counter

from decimal import Decimal

from sortedcontainers import SortedList

from skewless.compiler.contract import base_type as base, dscale, FLOAT8, is_nan, n_div, n_quantize, NUMERIC

INF = float("inf")
NAN = float("nan")
NAN_KEY = ("NaN",)  # one key for every NaN in COUNT(DISTINCT)

def _ratio(v: float) -> tuple[int, int]:
    """(m, k) with v == m / 2^k exactly."""
    num, den = v.as_integer_ratio()
    return num, den.bit_length() - 1


class Failed:
    """An aggregate value Postgres would refuse to compute (overflow): the output row that reads it
    becomes a dead letter with the reason; the window state stays as it is."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failed({self.reason!r})"


class _Sum:
    """Exact sums of integers (int), numerics (Decimal, with the display scales in the frame) and
    finite doubles (scaled int); NaN and infinities are counted, as IEEE sums them."""

    __slots__ = ("n", "isum", "fsum", "floats", "nan", "pinf", "ninf", "scales", "out", "fexp")

    def __init__(self, out: str = FLOAT8):
        self.n = 0
        self.isum = 0      # exact sum of integer / numeric inputs
        self.fsum = 0      # exact sum of float inputs, scaled by 2^fexp
        self.fexp = 0
        self.floats = 0
        self.nan = self.pinf = self.ninf = 0
        self.scales: dict | None = None  # numeric display scale -> count (the result's scale is the max)
        self.out = out

    def add(self, v, sign: int = 1):
        if v is None:
            return
        self.n += sign
        if isinstance(v, float):
            if v != v:
                self.nan += sign
            elif v in (INF, -INF):
                if v > 0:
                    self.pinf += sign
                else:
                    self.ninf += sign
            else:
                num, k = _ratio(v)
                e = self.fexp
                if k > e:  # a finer value: rescale the sum (exactly) once
                    self.fsum <<= k - e
                    self.fexp = e = k
                self.fsum += sign * (num << (e - k))
                self.floats += sign
        elif isinstance(v, Decimal):
            if not v.is_finite():
                if v.is_nan():
                    self.nan += sign
                elif v > 0:
                    self.pinf += sign
                else:
                    self.ninf += sign
                return
            self.isum += v if sign > 0 else -v
            if self.scales is None:
                self.scales = {}
            sc = dscale(v)
            left = self.scales.get(sc, 0) + sign
            if left:
                self.scales[sc] = left
            else:
                self.scales.pop(sc, None)
        else:
            self.isum += sign * v

    def remove(self, v):
        self.add(v, -1)

    def _special(self):
        if self.nan or (self.pinf and self.ninf):
            return "nan"
        if self.pinf:
            return "inf"
        if self.ninf:
            return "-inf"
        return None

    def decimal_total(self) -> Decimal:
        d = Decimal(self.isum)
        if self.scales:
            d = d.quantize(Decimal(1).scaleb(-max(self.scales)))
        return d

    def total(self):
        special = self._special()
        out = self.out
        if out == FLOAT8:
            if special is not None:
                return float(special)
            try:
                if self.floats:
                    return ((self.isum << self.fexp) + self.fsum) / (1 << self.fexp)
                return float(self.isum)
            except OverflowError:
                return Failed("value out of range: overflow")
        if out == NUMERIC:
            return Decimal({"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[special]) if special else \
                self.decimal_total()
        if not -(2 ** 63) <= self.isum < 2 ** 63:
            return Failed("bigint out of range")
        return self.isum


class Count:
    __slots__ = ("n",)

    def __init__(self):
        self.n = 0

    def add(self, v):
        if v is not None:
            self.n += 1

    def remove(self, v):
        if v is not None:
            self.n -= 1

    def value(self):
        return self.n


class Sum(_Sum):
    def value(self):
        return None if self.n == 0 else self.total()


class Avg(_Sum):
    def value(self):
        if self.n == 0:
            return None
        special = self._special()
        if self.out == FLOAT8:
            if special is not None:
                return float(special)
            try:
                e = self.fexp
                return ((self.isum << e) + self.fsum) / (self.n << e) if self.floats else self.isum / self.n
            except OverflowError:
                return Failed("value out of range: overflow")
        if special is not None:
            return Decimal({"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[special])
        return n_div(self.decimal_total(), Decimal(self.n))


class Variance:
    """var_samp / var_pop / stddev_* of doubles: exact rational from exact sums of x and x^2."""

    __slots__ = ("kind", "n", "s1", "s2", "bad", "e")

    def __init__(self, kind: str):
        self.kind = kind
        self.n = 0
        self.s1 = 0  # sum of x, scaled by 2^e
        self.s2 = 0  # sum of x^2, scaled by 2^2e
        self.bad = 0  # NaN / infinite inputs: the result is NaN
        self.e = 0

    def add(self, v, sign: int = 1):
        if v is None:
            return
        self.n += sign
        if v != v or v in (INF, -INF):
            self.bad += sign
            return
        num, k = _ratio(float(v)) if not isinstance(v, int) else (v, 0)
        e = self.e
        if k > e:  # a finer value: rescale both sums (exactly) once
            self.s1 <<= k - e
            self.s2 <<= 2 * (k - e)
            self.e = e = k
        x = num << (e - k)
        self.s1 += sign * x
        self.s2 += sign * x * x

    def remove(self, v):
        self.add(v, -1)

    def value(self):
        n = self.n
        sample = self.kind in ("var_samp", "stddev_samp")
        if n == 0 or (sample and n == 1):
            return None
        if self.bad:
            return NAN
        num = n * self.s2 - self.s1 * self.s1
        den = (n * (n - 1) if sample else n * n) << (2 * self.e)
        try:
            var = num / den if num > 0 else 0.0
        except OverflowError:
            return Failed("value out of range: overflow")
        return var ** 0.5 if self.kind.startswith("stddev") else var


class NumericVariance:
    """var/stddev of integers and numerics: numeric, computed as Postgres's numeric_stddev_internal
    (exact sums, one division at select_div_scale, the square root rounded at that scale)."""

    __slots__ = ("kind", "n", "s1", "s2", "nan")

    def __init__(self, kind: str):
        self.kind = kind
        self.n = 0
        self.s1 = Decimal(0)
        self.s2 = Decimal(0)
        self.nan = 0

    def add(self, v, sign: int = 1):
        if v is None:
            return
        self.n += sign
        if isinstance(v, Decimal) and not v.is_finite():
            self.nan += sign
            return
        d = Decimal(v)
        if sign > 0:
            self.s1 += d
            self.s2 += d * d
        else:
            self.s1 -= d
            self.s2 -= d * d

    def remove(self, v):
        self.add(v, -1)

    def value(self):
        n = self.n
        sample = self.kind in ("var_samp", "stddev_samp")
        if n == 0 or (sample and n == 1):
            return None
        if self.nan:
            return Decimal("NaN")
        num = Decimal(n) * self.s2 - self.s1 * self.s1
        if num <= 0:
            return Decimal(0)
        den = Decimal(n * (n - 1) if sample else n * n)
        var = n_div(num, den)
        if self.kind.startswith("var"):
            return var
        return n_quantize(var.sqrt(), dscale(var))


class MinMax:
    """MIN/MAX in Postgres's order: NaN above every number (kept as a count); text by code point."""

    __slots__ = ("values", "is_min", "nan")

    def __init__(self, is_min: bool):
        self.values = SortedList()
        self.is_min = is_min
        self.nan = None  # the NaN value seen (float or Decimal) and how many are in the frame

    def add(self, v):
        if v is not None:
            if is_nan(v):
                self.nan = (v, (self.nan[1] if self.nan else 0) + 1)
            else:
                self.values.add(v)

    def remove(self, v):
        if v is not None:
            if is_nan(v):
                left = self.nan[1] - 1
                self.nan = (self.nan[0], left) if left else None
            else:
                self.values.remove(v)

    def value(self):
        if self.nan and (not self.is_min or not self.values):
            return self.nan[0]
        if not self.values:
            return None
        return self.values[0] if self.is_min else self.values[-1]


class Extreme(MinMax):
    """MIN/MAX over a frame rows only ever enter (RANGE UNBOUNDED PRECEDING, EXCLUDE NO OTHERS):
    the extreme so far and the NaN count, not every value (bounded state). Same fields and stored
    form as `MinMax` (a sorted list, here of at most one value); rows never leave."""

    __slots__ = ()

    def add(self, v):
        if v is None:
            return
        if is_nan(v):
            self.nan = (v, (self.nan[1] if self.nan else 0) + 1)
            return
        values = self.values
        if not values:
            values.add(v)
        elif (v < values[0]) if self.is_min else (v >= values[-1]):  # ties: MAX keeps the latest, MIN the first
            self.values = SortedList([v])

    def remove(self, v):
        raise TypeError("rows never leave an unbounded frame")


class BoolAgg:
    __slots__ = ("t", "f", "is_or")

    def __init__(self, is_or: bool):
        self.t = self.f = 0
        self.is_or = is_or

    def add(self, v, sign: int = 1):
        if v is None:
            return
        if v:
            self.t += sign
        else:
            self.f += sign

    def remove(self, v):
        self.add(v, -1)

    def value(self):
        if self.t + self.f == 0:
            return None
        return self.t > 0 if self.is_or else self.f == 0


class Distinct:
    __slots__ = ("counts",)

    def __init__(self):
        self.counts: Counter = Counter()

    def add(self, v):
        if v is not None:
            self.counts[NAN_KEY if is_nan(v) else v] += 1  # NaN = NaN in Postgres

    def remove(self, v):
        if v is not None:
            v = NAN_KEY if is_nan(v) else v
            self.counts[v] -= 1
            if not self.counts[v]:
                del self.counts[v]

    def value(self):
        return len(self.counts)


class Guarded:
    """An accumulator whose inputs may be `Failed` — an argument or FILTER Postgres would refuse to
    compute for that row (a cast overflow, a division by zero). Postgres computes an aggregate's
    argument only for the rows it aggregates, so such a row breaks nothing until a frame holds it:
    failed inputs are counted, not added, and while one is in the frame the value is `Failed`."""

    __slots__ = ("inner", "failed", "reason")

    def __init__(self, inner):
        self.inner, self.failed, self.reason = inner, 0, ""

    def add(self, v):
        if isinstance(v, Failed):
            self.failed += 1
            self.reason = v.reason
        else:
            self.inner.add(v)

    def remove(self, v):
        if isinstance(v, Failed):
            self.failed -= 1
        else:
            self.inner.remove(v)

    def value(self):
        return Failed(self.reason) if self.failed else self.inner.value()


def make(func: str, arg_type: str | None = None, out_type: str | None = None, can_fail: bool = False,
         grows_only: bool = False):
    """An accumulator for ``func`` over arguments of ``arg_type`` giving ``out_type`` (IR types);
    ``can_fail``: its inputs may be `Failed` (see `Guarded`); ``grows_only``: values are never
    removed (an unbounded frame read after each row enters: MIN/MAX keep only the extreme)."""
    acc = Extreme(func == "min") if grows_only and func in ("min", "max") else _make(func, arg_type, out_type)
    return Guarded(acc) if can_fail else acc


def _make(func: str, arg_type: str | None = None, out_type: str | None = None):
    out = base(out_type) if out_type else FLOAT8
    if func in ("count_star", "count"):
        return Count()
    if func == "count_distinct":
        return Distinct()
    if func == "sum":
        return Sum(out)
    if func == "avg":
        return Avg(out)
    if func in ("var_samp", "var_pop", "stddev_samp", "stddev_pop"):
        return NumericVariance(func) if out == NUMERIC else Variance(func)
    if func in ("min", "max"):
        return MinMax(func == "min")
    if func in ("bool_or", "bool_and"):
        return BoolAgg(func == "bool_or")
    raise ValueError(func)


_SLOTS: dict[type, tuple[str, ...]] = {}
_CONFIG = frozenset({"out", "kind", "is_or"})  # set by `make` from the aggregate: not state, not stored


def _slots(cls: type) -> tuple[str, ...]:
    """The fields ``dump`` writes: the class's slots but the configuration `make` sets."""
    slots = _SLOTS.get(cls)
    if slots is None:
        # each class's own __slots__ (getattr would return a base's again for a subclass without any)
        slots = _SLOTS[cls] = tuple(s for c in reversed(cls.__mro__) for s in c.__dict__.get("__slots__", ())
                                    if s not in _CONFIG)
    return slots


def dump(acc) -> tuple:
    """The accumulator's data as plain values (compact, fast to pickle)."""
    if isinstance(acc, Guarded):
        return (dump(acc.inner), acc.failed, acc.reason)
    if isinstance(acc, MinMax):
        return (list(acc.values), acc.nan)
    if isinstance(acc, Distinct):
        return (dict(acc.counts),)
    return tuple(getattr(acc, s) for s in _slots(type(acc)))


def load(acc, data: tuple):
    """Restore ``dump`` output into a fresh accumulator from `make`."""
    if isinstance(acc, Guarded):
        load(acc.inner, data[0])
        acc.failed, acc.reason = data[1], data[2]
        return acc
    if isinstance(acc, MinMax):
        acc.values = SortedList(data[0])  # already sorted: linear
        acc.nan = data[1]
    elif isinstance(acc, Distinct):
        acc.counts = Counter(data[0])
    else:
        slots = _slots(type(acc))
        if len(data) != len(slots):  # another layout (another format): never half-loaded
            raise ValueError(f"{type(acc).__name__} state has {len(data)} fields, expected {len(slots)}")
        for slot, value in zip(slots, data):
            setattr(acc, slot, value)
    return acc
