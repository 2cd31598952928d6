"""`rolling.Rolling`: a large window's rows encoded once each give exactly the bytes of encoding the
window whole (`codec.pack` per column), through any sequence of appends, evictions, splits and
reloads — for the Python window and the compiled kernel's."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.runtime.stream import codec, fast, rolling
from skewless.runtime.stream.accumulators import Failed
from skewless.runtime.stream.windows import SharedWindow

values = st.one_of(st.none(), st.floats(), st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.text(max_size=5),
                   st.booleans(), st.just(Decimal("12.50")), st.just(Failed("division by zero")),
                   st.just(datetime(2026, 1, 1, tzinfo=timezone.utc)))
steps = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 600), st.lists(values, min_size=2, max_size=2)),
                 min_size=1, max_size=60)


def whole(win: SharedWindow, cut: int) -> tuple:
    """The window encoded whole, as `SharedWindow.dump` does without a `Rolling`."""
    enc, win.enc = win.enc, None
    try:
        saved = rolling.LARGE
        rolling.LARGE = 10 ** 9
        return win.dump(cut)
    finally:
        rolling.LARGE = saved
        win.enc = enc


@pytest.mark.parametrize("n", [0, 1, 15, 16, 65535, 65536, 70000])
def test_array_header_is_msgpacks(n):
    assert codec.pack(tuple([None] * n)) == rolling.array_header(n) + b"\xc0" * n


@settings(max_examples=150, deadline=None)
@given(steps=steps, large=st.integers(0, 40))
def test_rolling_dump_equals_encoding_the_window_whole(steps, large):
    saved = rolling.LARGE
    rolling.LARGE = large  # exercise small thresholds (and their hysteresis) as well as none
    try:
        win = SharedWindow(50, [("a",), ("b",)])
        t = 0
        for dt, burst, (a, b) in steps:
            t += dt
            win.evict(t - win.reach)
            for i in range(burst % 7):
                win.append(t, {("a",): [a], ("b",): [b if i % 2 else None]}, 1)
            for cut in (-1, t - 30, t, 2 ** 62):
                assert win.dump(cut) == whole(win, cut)
            if burst % 13 == 0:  # a reload starts a new history of sequence numbers
                head, tail = win.dump(t - 20)
                fresh = SharedWindow(50, [("a",), ("b",)])
                fresh.load(head, tail)
                win = fresh
    finally:
        rolling.LARGE = saved


@pytest.mark.skipif(fast._kernel is None, reason="the compiled kernel is not built")
@settings(max_examples=60, deadline=None)
@given(steps=steps)
def test_kernel_window_rolling_dump_equals_its_whole_dump(steps):
    # one window of 50 µs: COUNT(*) (a column of 1s) and SUM(amount) over doubles
    core = fast._kernel.Core([None, "amount"], [(50, [(0, 0, False, False, False, False, False, False, False),
                                                      (1, 1, True, False, False, False, False, False, False)])],
                             [(0, 0, 0, 0), (0, 1, 1, 0)], ["c", "s"], [])
    win, enc = core.wins[0], rolling.Rolling(2)
    t = 0
    for dt, burst, (a, _) in steps:
        t += dt
        rows = [{"amount": float(i) + a if isinstance(a, float) and a == a else None} for i in range(burst % 9)]
        if rows:
            core.step(t, rows)
        for cut in (-1, t - 30, t, 2 ** 62):
            assert enc.dump(win, cut) == win.dump(cut, codec.pack)


events = st.fixed_dictionaries({"txn_id": st.text(max_size=4), "amount": st.one_of(st.none(), st.floats()),
                                "n": st.integers(-2 ** 70, 2 ** 70)})


@settings(max_examples=100, deadline=None)
@given(ops=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.booleans(), events), min_size=1, max_size=40))
def test_pending_events_encoded_once_give_the_same_record(ops):
    """`records.GroupBytes` (the pending groups' encoding kept between upserts, and the unreported
    counts') == encoding them all again, whatever arrives out of order, becomes final or is encoded
    in between; a mapping changed behind its back is encoded whole."""
    from skewless.runtime.stream import records

    pending: dict = {}
    counts: dict = {}
    kept, kept_counts = records.GroupBytes(), records.GroupBytes()
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    from datetime import timedelta

    for step, finalize, encode, event in ops:
        ts = t0 + timedelta(seconds=step)
        if finalize and pending:  # the oldest groups become final: their encodings go with them
            due = sorted(pending)[:finalize]
            for t in due:
                pending.pop(t)
                counts.pop(t)
            kept.passed(due[-1])
            kept_counts.passed(due[-1])
            if not pending:
                t0 = due[-1]  # later events come after what became final (earlier ones are late)
                ts = t0 + timedelta(seconds=step + 1)
        pending.setdefault(ts, []).append(dict(event, ts=ts))
        counts[ts] = counts.get(ts, 0) + 1
        kept.touch(ts)
        kept_counts.touch(ts)
        if encode:
            assert b"".join(kept.parts(pending)) == codec.pack(tuple((t, rows) for t, rows in sorted(pending.items())))
            assert records.encode_counts(counts, kept_counts) == records.encode_counts(counts)
    assert b"".join(kept.parts(pending)) == codec.pack(tuple((t, rows) for t, rows in sorted(pending.items())))
    assert records.decode_counts(records.encode_counts(counts, kept_counts)) == counts
    pending[t0 - timedelta(days=1)] = [{"x": 1}]  # no touch: a loaded state
    assert b"".join(kept.parts(pending)) == codec.pack(tuple((t, rows) for t, rows in sorted(pending.items())))
