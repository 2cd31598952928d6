"""The store's pending log (runtime/stream/pending_log.py): a key's upsert that only added events
writes those events, not its record; a read of the record with its log is the read of the record
holding its pending groups (the recovery snapshot's, the format the Postgres oracle tests read);
what a store write carries does not grow with the key's pending events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stores.base import StoredState
from skewless.runtime.stream import pending_log, records
from skewless.runtime.stream.dataflow import _ViewSlot
from skewless.runtime.stream.frames import ViewEvaluator
from skewless.runtime.stream.online import as_of_record, encode_key
from tests.support.catalog import compile_catalog

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
VIEWS = ("r1h", "rows3_xgrp", "rlife_xties", "rd2h_30m")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    compiled, _ = compile_catalog(tmp_path_factory.mktemp("log") / "proj")
    return compiled


def _event(i: int, minute: int) -> dict:
    return {"txn_id": f"t{i:03d}", "user_id": "u0", "merchant_id": f"m{i % 3}", "amount": (i % 7) * 1.5,
            "n": i, "status": "ok" if i % 3 else "bad", "flag": i % 2 == 0, "ts": T0 + timedelta(minutes=minute)}


def _read(store, view, slot, t):
    key = ["u0"]
    via_log = as_of_record(store.read(view.name, encode_key(key)), view, key, t, ViewEvaluator(view), store)
    record, tail = slot.payload()  # the record holding its pending groups
    holding = StoredState(view.name, encode_key(key), record, records.time_us(slot.last) if slot.last else
                          -(2 ** 62), view.fingerprint, tail)
    return via_log, as_of_record(holding, view, key, t, ViewEvaluator(view), None)


ops = st.lists(st.one_of(
    st.tuples(st.just("event"), st.integers(0, 20)),   # an event this many minutes past the watermark
    st.tuples(st.just("watermark"), st.integers(0, 30)),  # the watermark moves on by these minutes
    st.tuples(st.just("write"), st.integers(0, 90)),   # a store write, then a read this many minutes on
), min_size=1, max_size=40)


@pytest.mark.parametrize("name", VIEWS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops, inline=st.sampled_from([0, 2, 32]))
@example(steps=[("event", 0), ("event", 5), ("event", 10), ("write", 0), ("watermark", 3), ("write", 0),
                ("event", 20), ("write", 1)], inline=2)  # into the log, back into the record, into the log
def test_a_record_with_its_log_reads_as_the_record_holding_its_pending_groups(catalog, tmp_path, name, steps, inline):
    """Through keys moving between a record holding their pending events (at most ``inline``) and
    the log, and back."""
    view = catalog.views[name]
    store = SQLiteStore(tmp_path / f"{name}-{abs(hash(tuple(steps)))}-{inline}.sqlite")
    slot = _ViewSlot(view, ViewEvaluator(view), False)
    wm, i = T0, 0
    saved, pending_log.INLINE = pending_log.INLINE, inline
    try:
        for op, n in steps + [("write", 0)]:
            if op == "event":
                e = _event(i, int((wm - T0).total_seconds() // 60) + n)
                i += 1
                slot.add(e["ts"], e)
            elif op == "watermark":
                wm += timedelta(minutes=n)
                slot.flush(wm)
            else:
                row = slot.store_row(["u0"])
                store.write([row])
                if row.state is None:  # only events were added: the new ones, never the record
                    assert row.log_keep and len(row.log) <= sum(len(g) for g in slot.pending.values())
                elif not row.logging:  # the promise Redis reads rely on: the log is empty now
                    assert store.read(view.name, '["u0"]').log == ()
                latest = max([*slot.pending, *([slot.last] if slot.last else [])], default=T0)
                t = latest + timedelta(minutes=n)
                via_log, holding = _read(store, view, slot, t)
                assert via_log == holding
                stored = store.read(view.name, '["u0"]')
                in_record = records.decode(stored.state, view).load()[1]
                assert sum(map(len, in_record.values())) + len(records.decode(stored.state, view, stored.log).log) \
                    == sum(map(len, slot.pending.values()))  # each pending event stored once
    finally:
        pending_log.INLINE = saved
        store.close()


def test_an_upsert_that_only_added_events_writes_those_events(catalog, tmp_path, monkeypatch):
    view = catalog.views["r1h"]
    slot = _ViewSlot(view, ViewEvaluator(view), False)
    store = SQLiteStore(tmp_path / "s.sqlite")
    first = _event(0, 0)
    slot.add(first["ts"], first)
    row = slot.store_row(["u0"])  # few pending events: the record holds them (the snapshot's bytes)
    assert row.state == slot.payload()[0] and not row.log_keep and row.log == ()
    store.write([row])
    monkeypatch.setattr(pending_log, "INLINE", 0)
    second = _event(1, 0)
    slot.add(second["ts"], second)
    row = slot.store_row(["u0"])  # into the log: the record without them, every pending event logged
    assert row.state is not None and not row.log_keep and [e[:2] for e in row.log] == [(records.time_us(T0), 0),
                                                                                           (records.time_us(T0), 1)]
    store.write([row])
    for i in range(2, 200):  # minutes of pending events: each write carries the new one only
        e = _event(i, i // 3)
        slot.add(e["ts"], e)
        row = slot.store_row(["u0"])
        assert row.state is None and row.log_keep and [(p, records.time_us(e["ts"])) for _, p, _ in row.log
                                                       ] == [(i % 3, records.time_us(e["ts"]))]
        store.write([row])
    assert len(store.read(view.name, '["u0"]').log) == 200
    slot.flush(T0 + timedelta(minutes=30))  # the groups before 30 minutes became final
    row = slot.store_row(["u0"])
    assert row.state is not None and row.log == () and row.log_upto == records.time_us(T0 + timedelta(minutes=29))
    store.write([row])
    assert len(store.read(view.name, '["u0"]').log) == 200 - 90
    assert records.decode(row.state, view).load()[1] == {}  # the stored record holds no pending group


def test_the_views_of_a_key_share_each_events_entry(catalog, monkeypatch):
    """One flush's writes of a key's views (`StoreWriter._flush` passes one ``entries`` dict): an
    event pending in several views is packed once, and each view's write is what it writes alone."""
    monkeypatch.setattr(pending_log, "INLINE", 0)
    names = ("r1h", "rd2h_30m")
    shared_slots = [_ViewSlot(catalog.views[n], ViewEvaluator(catalog.views[n]), False) for n in names]
    alone_slots = [_ViewSlot(catalog.views[n], ViewEvaluator(catalog.views[n]), False) for n in names]
    for i in range(12):
        e = _event(i, i // 2)
        for slot in (*shared_slots, *alone_slots):
            slot.add(e["ts"], e)  # the same event object in every view, as a source's event is
        shared: dict = {}
        rows = [slot.store_row(["u0"], shared) for slot in shared_slots]
        assert rows == [slot.store_row(["u0"]) for slot in alone_slots]
        assert rows[0].log and all(a[2] is b[2] for a, b in zip(rows[0].log, rows[1].log))  # one encoding
