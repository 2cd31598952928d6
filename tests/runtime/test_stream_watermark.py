"""The source watermark over several input partitions (Kafka): the minimum of each partition's
latest event time, minus the lateness; idle partitions stop holding it back; it never moves back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from skewless.runtime.sources.decode import DeadLetter, Idle
from skewless.runtime.stream.dataflow import Tagged, _watermark

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATE = timedelta(minutes=2)


def feed(items, parts=("p0", "p1")):
    step, state, out = _watermark(LATE, list(parts), None), None, []
    for item in items:
        if isinstance(item, tuple):
            part, minutes = item
            item = {"__ts": T0 + timedelta(minutes=minutes), "__source": "s", "__part": part,
                    "row": {"ts": T0 + timedelta(minutes=minutes)}}
        state, value = step(state, item)
        out.append(value)
    return out


def marks(out):
    return [None if o.watermark is None else (o.watermark - T0) / timedelta(minutes=1) for o in out]


def test_a_partition_ahead_does_not_make_the_other_late():
    out = feed([("p0", 0), ("p0", 60), ("p0", 120), ("p1", 1), ("p1", 2), ("p0", 121)])
    assert all(isinstance(o, Tagged) for o in out)
    # no watermark until every partition produced; then min(latest per partition) - 2 minutes
    assert marks(out) == [None, None, None, -1, 0, 0]


def test_late_is_judged_against_the_slowest_partition():
    out = feed([("p0", 100), ("p1", 100), ("p1", 97), ("p0", 110), ("p1", 99)])
    assert isinstance(out[2], DeadLetter) and out[2].reason.startswith("late: event time")
    assert isinstance(out[4], Tagged)  # 99 >= min(110, 100) - 2


def test_idle_partitions_release_the_watermark_and_it_never_moves_back():
    out = feed([("p0", 10), ("p1", 5), Idle("p1"), ("p0", 20), ("p1", 6)])
    assert out[2] is None  # the marker itself emits nothing
    assert marks([out[0], out[1], out[3]]) == [None, 3, 18]
    assert isinstance(out[4], DeadLetter)  # p1 came back behind the watermark it had released
    out = feed([("p0", 10), ("p1", 30), ("p0", 11)])
    assert marks(out) == [None, 8, 9]
    out = feed([("p0", 10), Idle("p0"), Idle("p1")])  # everything idle: the latest of any partition
    assert out[1] is None and out[2] is None
    assert feed([("p0", 10), Idle("p1"), ("p0", 12)], parts=("p0", "p1"))[2].watermark == T0 + timedelta(minutes=10)


def test_a_counting_watermark_resumes_from_its_snapshot_with_the_same_counts():
    """Counting (its views feed re-keyed views), the step keeps the times of the events not yet
    before the watermark; its snapshot holds them as int64 bytes and a step resumed from it sends
    the same Frontiers (event counts before each watermark) as the one that kept running — also
    for times without a zone."""
    from skewless.runtime.stream.watermark import Frontier, WatermarkLogic

    for t0 in (T0, T0.replace(tzinfo=None)):
        def item(minutes, t0=t0):
            ts = t0 + timedelta(minutes=minutes)
            return {"__ts": ts, "__source": "s", "__part": "p0", "row": {"ts": ts}}

        def logic(resume=None):
            return WatermarkLogic(_watermark(LATE, ["p0"], None), resume, LATE, "ts")

        def frontiers(out):
            return [(f.watermark, f.count) for f in out if isinstance(f, Frontier)]

        running = logic()
        running.on_batch([item(m) for m in (5, 1, 3, 3, 4)])
        snap = running.snapshot()
        assert isinstance(snap.ahead, bytes) and len(snap.ahead) == 8 * len(running.state.ahead)
        resumed = logic(snap)
        for batch in ([item(m) for m in (6, 2.5, 7)], [item(9)], [item(m) for m in (8, 12, 20)]):
            a, b = frontiers(running.on_batch(batch)[0]), frontiers(resumed.on_batch(batch)[0])
            assert a == b and a, batch
        assert frontiers(running.on_batch([item(30)])[0]) == [(t0 + timedelta(minutes=28), 10)]  # 1 and 2.5 were late
