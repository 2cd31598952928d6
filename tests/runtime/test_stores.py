"""The online-store contract, run against every store (SQLite, Postgres, Redis): what is written is
read back byte for byte, upserts replace, batched reads, fingerprints of what the store holds now."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from skewless.runtime.stores.base import StoredState
from skewless.runtime.stream import codec
from skewless.runtime.stream.online import NO_EVENT_US
from tests.support.stores import STORE_KINDS, fresh_store
from tests.support.together import first_failure

KINDS = [pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres),
         pytest.param("redis", marks=pytest.mark.redis)]
assert [p.values[0] for p in KINDS] == STORE_KINDS


@pytest.fixture(params=KINDS)
def store(request):
    s = fresh_store(request.param, request)
    yield s
    s.close()


def _state(view: str, entity: str, fp: str = "fp1", size: int = 40, last: int = 1_700_000_000_000_000) -> StoredState:
    return StoredState(view, entity, os.urandom(size), last, fp)


def test_what_is_written_is_read_back(store):
    states = [_state("v1", '["u0"]'), _state("v1", '["ü \\u0000 \\"quoted\\", *?[]"]', size=0),
              _state("v2", '["u0"]', last=NO_EVENT_US), _state("v1", '[1,null,"2026-01-01 00:00:00+00:00"]', size=200_000),
              StoredState("v2", '["nul"]', b"\x00\x80\x00skewless\x00", -1, "fp1")]
    store.write(states)
    for s in states:
        assert store.read(s.view, s.entity) == s
    assert store.read("v1", '["nobody"]') is None
    assert store.read("v3", '["u0"]') is None


def test_upserts_replace(store):
    first = [_state("v", f'["u{i}"]') for i in range(50)]
    store.write(first)
    second = [_state("v", f'["u{i}"]', last=2_000_000_000_000_000) for i in range(0, 50, 2)]
    store.write(second)
    store.write(second)  # a retried batch changes nothing
    for i in range(50):
        expected = second[i // 2] if i % 2 == 0 else first[i]
        assert store.read("v", f'["u{i}"]') == expected


def test_read_many(store):
    states = [_state(v, f'["u{i}"]') for v in ("a", "b") for i in range(1_500)]
    store.write(states)
    wanted = [(s.view, s.entity) for s in states[::7]] + [("a", '["missing"]'), ("c", '["u1"]')]
    got = store.read_many(wanted)
    assert set(got) == {(s.view, s.entity) for s in states[::7]}
    assert all(got[(s.view, s.entity)] == s for s in states[::7])
    assert store.read_many([]) == {}
    # a batch of 1,000 requests over 4 views reads 4,000 keys in one call (SQLite refused an OR of
    # 1,000 terms as an expression tree too deep); a key asked twice is answered once
    everything = [(s.view, s.entity) for s in states] + [(f"c{i}", '["u1"]') for i in range(1_000)]
    got = store.read_many(everything + everything[:10])
    assert len(got) == len(states) and all(got[(s.view, s.entity)] == s for s in states)
    got = store.read_many(everything, full=True)
    assert len(got) == len(states) and all(got[(s.view, s.entity)] == s for s in states)


def test_fingerprints_are_those_of_the_states_held_now(store):
    assert store.fingerprints() == {}
    store.write([_state("a", f'["u{i}"]', "old") for i in range(10)] + [_state("b", '["u0"]', "b1")])
    assert store.fingerprints() == {"a": {"old"}, "b": {"b1"}}
    store.write([_state("a", f'["u{i}"]', "new") for i in range(4)])
    assert store.fingerprints() == {"a": {"old", "new"}, "b": {"b1"}}
    store.write([_state("a", f'["u{i}"]', "new") for i in range(10)])  # a full rebuild of the view
    assert store.fingerprints() == {"a": {"new"}, "b": {"b1"}}


def test_tails_are_read_only_when_asked_and_replaced_with_their_record(store):
    with_tail = StoredState("v", '["u0"]', os.urandom(30), 5, "fp1", os.urandom(70_000))
    store.write([with_tail, _state("v", '["u1"]')])
    assert store.read("v", '["u0"]') == StoredState("v", '["u0"]', with_tail.state, 5, "fp1")  # no tail fetched
    assert store.read("v", '["u0"]', full=True) == with_tail
    assert store.read_many([("v", '["u0"]'), ("v", '["u1"]')], full=True)[("v", '["u0"]')].tail == with_tail.tail
    replaced = _state("v", '["u0"]')
    store.write([replaced])  # a record without a tail leaves none behind
    assert store.read("v", '["u0"]', full=True) == replaced


def test_pending_logs(store):
    """A key's pending log: entries added beside its record, a write without a record changes only
    the log (record and tail stay), entries up to a time go once final, a whole-state write empties
    it; read with the record (and per key in a batched read), in (time, position) order."""
    from dataclasses import replace

    rec = StoredState("v", '["u0"]', os.urandom(30), 5, "fp1", os.urandom(500),
                      ((20, 1, b"b"), (10, 0, b"\x00a"), (20, 0, b"")))
    other = StoredState("v", '["u1"]', os.urandom(30), 5, "fp1", None, ((30, 0, b"x"),))
    store.write([rec, other])
    got = store.read("v", '["u0"]', full=True)
    assert (got.state, got.tail, got.log) == (rec.state, rec.tail, ((10, 0, b"\x00a"), (20, 0, b""), (20, 1, b"b")))
    assert store.read("v", '["u1"]').log == ((30, 0, b"x"),)
    # the events at 10 became final (a new record) and one more arrived at 40
    store.write([StoredState("v", '["u0"]', b"rec2", 10, "fp1", None, ((40, 0, b"c"),), 10, True)])
    # only events: the record and tail stay, the entries up to 20 go, one replaces its position
    store.write([StoredState("v", '["u0"]', None, 0, "fp1", None, ((40, 0, b"c2"), (50, 0, b"d")), 20, True)])
    got = store.read("v", '["u0"]', full=True)
    assert (got.state, got.tail, got.last_event_us) == (b"rec2", None, 10)
    assert got.log == ((40, 0, b"c2"), (50, 0, b"d"))
    many = store.read_many([("v", '["u0"]'), ("v", '["u1"]'), ("v", '["none"]')])
    assert {k: v.log for k, v in many.items()} == {("v", '["u0"]'): got.log, ("v", '["u1"]'): other.log}
    whole = replace(other, state=b"rec3", log=())  # a whole state (a replay's): the log is emptied
    store.write([whole])
    assert store.read("v", '["u1"]') == whole
    assert store.read("v", '["u0"]').log == got.log  # another key's log untouched


@pytest.mark.redis
def test_redis_reads_take_the_log_only_for_keys_that_keep_one(request):
    """A record written with its log emptied (flag N) is read by the MGET alone; one whose key keeps
    a log (flag L) and a value written before the flag (none) are read again with the log."""
    import asyncio

    store = fresh_store("redis", request)
    try:
        scripted: list = []
        evalsha = store._evalsha
        store._evalsha = lambda names: scripted.append(names) or evalsha(names)
        plain = StoredState("v", '["a"]', b"ra", 1, "fp1")
        logged = StoredState("v", '["b"]', b"rb", 2, "fp1", None, ((5, 0, b"e"),), None, False, True)
        empty_log = StoredState("v", '["c"]', b"rc", 3, "fp1", None, (), None, True, True)
        store.write([plain, logged, empty_log])
        old = store._key("v", '["d"]')  # a value as written before the flag, with a log
        store.client.set(old, b"fp1\0" + codec.pack((4, b"rd")))
        store.client.zadd(store._key("v", '["d"]', "p"), {b"\0\0\0\0e": 6})
        keys = [("v", f'["{k}"]') for k in "abcdx"]
        want = {("v", '["a"]'): plain, ("v", '["b"]'): replace(logged, logging=False),
                ("v", '["c"]'): replace(empty_log, log_keep=False, logging=False),
                ("v", '["d"]'): StoredState("v", '["d"]', b"rd", 4, "fp1", None, ((6, 0, b"e"),))}
        assert store.read_many(keys) == want
        assert scripted == [store._names(keys[1:4], False)]
        assert asyncio.run(store.aread_many(keys)) == want
        assert store.read("v", '["a"]') == plain and len(scripted) == 1
    finally:
        store.close()


def _open_and_write(where, i: int) -> None:
    from skewless.runtime.stores import SQLiteStore

    store = SQLiteStore(where / "online.sqlite")
    store.write([_state("v", f'["p{i}"]')])
    store.close()


def test_sqlite_processes_opening_one_new_file_together(tmp_path):
    """The processes of one multi-process run open the same new store file at the same moment:
    switching it to WAL must wait for the other, not fail with "database is locked" (CI flake)."""
    failure = first_failure(_open_and_write, tmp_path, rounds=30)
    assert failure is None, failure
