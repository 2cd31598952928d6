"""When a continuous run wakes a key with no new event (runtime/stream/dataflow.py): at the time the
watermark is expected to pass its earliest pending group, and, for the writer's unwritten states,
one key per flush interval — not every key every interval (which cost more than the writes: at
1k events/s the example project's keys were woken ~40k times a second)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from skewless.runtime.stream import dataflow
from skewless.runtime.stream.dataflow import MAX_WAIT, StoreWriter, _clock, _observe, _pace, _until_final

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def fresh_thread_state():
    _clock().clear()
    _pace().clear()
    yield
    _clock().clear()
    _pace().clear()


def _measure(speed: float, monkeypatch) -> None:
    """Feed `_observe` a watermark moving ``speed`` event seconds per wall second."""
    now = [1000.0]
    monkeypatch.setattr(dataflow.time, "monotonic", lambda: now[0])
    _observe("s", T0)
    now[0] += 0.5
    wm = T0 + timedelta(seconds=speed * 0.5)
    _observe("s", wm)
    _clock()["s"] = wm


def test_without_a_watermark_a_pending_key_sleeps_the_longest_wait():
    assert _until_final("s", T0, 0.05) == MAX_WAIT


def test_a_pending_group_is_checked_when_the_watermark_should_have_passed_it(monkeypatch):
    _measure(100.0, monkeypatch)  # 100 event seconds per second
    wm = _clock()["s"]
    assert _until_final("s", wm + timedelta(seconds=30), 0.05) == pytest.approx(0.3)
    assert _until_final("s", wm + timedelta(seconds=1), 0.05) == 0.05        # never sooner than the tick
    assert _until_final("s", wm + timedelta(hours=1), 0.05) == MAX_WAIT      # never later than MAX_WAIT
    assert _until_final("s", wm - timedelta(seconds=1), 0.05) == 0.05        # already due


def test_a_stalled_watermark_gives_no_estimate(monkeypatch):
    _measure(0.0, monkeypatch)
    assert _until_final("s", _clock()["s"] + timedelta(seconds=1), 0.05) == MAX_WAIT


class _Slot:
    def store_row(self, key, entries=None):
        return ("v", key)


def test_one_key_wakes_for_the_unwritten_states_per_interval(monkeypatch):
    written = []
    writer = StoreWriter(None, interval=0.05)
    writer.store = object()  # add() only buffers with a store; the write itself is replaced below
    monkeypatch.setattr(writer, "write", lambda batch: written.append(len(batch)))
    first, second = object(), object()
    assert writer.wake_for(first) is None  # nothing unwritten: nobody wakes
    writer.add(["k1"], _Slot())
    writer.add(["k2"], _Slot())
    due = writer.wake_for(first)
    assert due is not None and 0 <= due <= 0.05
    assert writer.wake_for(second) is None  # the other dirty keys sleep
    assert writer.wake_for(first) is not None  # asked again (after its own batch), still the one
    time.sleep(0.06)
    writer.tick()
    assert written == [2]
    assert writer.wake_for(second) is None  # written: nothing due
    writer.add(["k3"], _Slot())
    assert writer.wake_for(second) is not None  # the first to ask after a flush
