"""Exact, invertible accumulators: add(v), remove(v), value(), all O(1) or O(log n).

Float sums are kept exactly as integers scaled by 2^1074 (every double is an integer multiple of
2^-1074), so a sliding sum never drifts however many values enter and leave, and the result is the
correctly rounded exact sum. Variance uses exact sums of x and x^2 the same way. NULLs (None) are
skipped, as SQL aggregates skip them.
"""

from __future__ import annotations

from collections import Counter

from sortedcontainers import SortedList

_SCALE = 1074


def _scaled(v: float) -> int:
    num, den = v.as_integer_ratio()
    return num << (_SCALE - den.bit_length() + 1)


class _Sum:
    __slots__ = ("n", "isum", "fsum", "floats")

    def __init__(self):
        self.n = 0
        self.isum = 0      # exact sum of integer inputs
        self.fsum = 0      # exact sum of float inputs, scaled by 2^1074
        self.floats = 0

    def add(self, v):
        if v is None:
            return
        self.n += 1
        if isinstance(v, float):
            self.fsum += _scaled(v)
            self.floats += 1
        else:
            self.isum += v

    def remove(self, v):
        if v is None:
            return
        self.n -= 1
        if isinstance(v, float):
            self.fsum -= _scaled(v)
            self.floats -= 1
        else:
            self.isum -= v

    def total(self):
        if self.floats:
            return ((self.isum << _SCALE) + self.fsum) / (1 << _SCALE)
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
        if self.floats:
            return ((self.isum << _SCALE) + self.fsum) / (self.n << _SCALE)
        return self.isum / self.n


class Variance:
    """var_samp / var_pop / stddev_*: exact rational from exact sums of x and x^2."""

    __slots__ = ("kind", "n", "s1", "s2")

    def __init__(self, kind: str):
        self.kind = kind
        self.n = 0
        self.s1 = 0  # sum of x, scaled by 2^1074
        self.s2 = 0  # sum of x^2, scaled by 2^2148

    def add(self, v, sign: int = 1):
        if v is None:
            return
        x = _scaled(float(v)) if not isinstance(v, int) else v << _SCALE
        self.n += sign
        self.s1 += sign * x
        self.s2 += sign * x * x

    def remove(self, v):
        self.add(v, -1)

    def value(self):
        n = self.n
        sample = self.kind in ("var_samp", "stddev_samp")
        if n == 0 or (sample and n == 1):
            return None
        num = n * self.s2 - self.s1 * self.s1
        den = (n * (n - 1) if sample else n * n) << (2 * _SCALE)
        var = num / den if num > 0 else 0.0
        return var ** 0.5 if self.kind.startswith("stddev") else var


class MinMax:
    __slots__ = ("values", "is_min")

    def __init__(self, is_min: bool):
        self.values = SortedList()
        self.is_min = is_min

    def add(self, v):
        if v is not None:
            self.values.add(v)

    def remove(self, v):
        if v is not None:
            self.values.remove(v)

    def value(self):
        if not self.values:
            return None
        return self.values[0] if self.is_min else self.values[-1]


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
            self.counts[v] += 1

    def remove(self, v):
        if v is not None:
            self.counts[v] -= 1
            if not self.counts[v]:
                del self.counts[v]

    def value(self):
        return len(self.counts)


def make(func: str):
    if func in ("count_star", "count"):
        return Count()
    if func == "count_distinct":
        return Distinct()
    if func == "sum":
        return Sum()
    if func == "avg":
        return Avg()
    if func in ("var_samp", "var_pop", "stddev_samp", "stddev_pop"):
        return Variance(func)
    if func in ("min", "max"):
        return MinMax(func == "min")
    if func in ("bool_or", "bool_and"):
        return BoolAgg(func == "bool_or")
    raise ValueError(func)


_SLOTS: dict[type, tuple[str, ...]] = {}


def _slots(cls: type) -> tuple[str, ...]:
    slots = _SLOTS.get(cls)
    if slots is None:
        slots = _SLOTS[cls] = tuple(s for c in reversed(cls.__mro__) for s in getattr(c, "__slots__", ()))
    return slots


def dump(acc) -> tuple:
    """The accumulator's data as plain values (compact, fast to pickle)."""
    if isinstance(acc, MinMax):
        return (list(acc.values),)
    if isinstance(acc, Distinct):
        return (dict(acc.counts),)
    return tuple(getattr(acc, s) for s in _slots(type(acc)))


def load(acc, data: tuple):
    """Restore ``dump`` output into a fresh accumulator from `make`."""
    if isinstance(acc, MinMax):
        acc.values = SortedList(data[0])  # already sorted: linear
    elif isinstance(acc, Distinct):
        acc.counts = Counter(data[0])
    else:
        for slot, value in zip(_slots(type(acc)), data):
            setattr(acc, slot, value)
    return acc
