"""Accumulators: `Extreme` (MIN/MAX over unbounded frames, bounded state) gives exactly what the
multiset `MinMax` gives for values that only enter, keeping one value instead of every value."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.runtime.stream.accumulators import Extreme, MinMax, dump, load, make

values = st.one_of(
    st.lists(st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([0.0, -0.0, float("nan")])), max_size=60),
    st.lists(st.one_of(st.none(), st.integers(-5, 5)), max_size=60),
    st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=60))


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    return type(a) is type(b) and a == b


@given(values, st.booleans())
@settings(max_examples=300, deadline=None)
def test_extreme_equals_the_multiset_and_keeps_one_value(seq, is_min):
    extreme, multiset = Extreme(is_min), MinMax(is_min)
    for v in seq:
        extreme.add(v)
        multiset.add(v)
        assert _same(extreme.value(), multiset.value()) or (extreme.value() is None and multiset.value() is None)
        assert len(extreme.values) <= 1
    # stored like MinMax, and a MinMax's stored list (a store from before) continues correctly
    again = load(Extreme(is_min), dump(multiset))
    for v in (3, 0.5, "b"):
        if any(x is not None for x in seq) and all(x is None or type(x) is type(v) for x in seq):
            again.add(v)
            multiset.add(v)
            assert _same(again.value(), multiset.value())


def test_unbounded_min_max_frames_use_it():
    acc = make("max", "double precision", "double precision", grows_only=True)
    assert isinstance(acc, Extreme)
    for i in range(10_000):
        acc.add(float(i % 97))
    assert acc.value() == 96.0 and len(acc.values) == 1
    assert type(make("max", "double precision", "double precision")) is MinMax  # frames rows leave
