"""The state format (docs/state-format.md): values round-trip exactly, nothing executes code on load,
records of another version / view / fingerprint are refused naming the view, and the bytes of a
known state are pinned (a format change must bump FORMAT)."""

from __future__ import annotations

import hashlib
import math
import pickle
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skewless.runtime.stream import codec, frames, records
from skewless.runtime.stream.accumulators import Failed
from skewless.runtime.stores.base import StoredState
from skewless.runtime.stream.frames import ViewEvaluator, ViewKeyState
from skewless.runtime.stream.online import as_of_record
from skewless.runtime.stream.windows import NeedTail
from skewless.runtime.stream.online import read_as_of
from skewless.runtime.stores import SQLiteStore
from skewless.runtime.stream.replay import replay_rows
from tests.support.catalog import compile_catalog

ROOT = Path(__file__).parents[2]
PINNED = "efb8caf15ff33066"  # sha256 prefix of the known state's bytes (see test_the_bytes_...)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-2 ** 200, max_value=2 ** 1100),
    st.floats(allow_nan=True), st.text(), st.binary(max_size=20),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=st.just(timezone.utc)), st.datetimes(), st.dates(),
    st.timedeltas(), st.builds(Failed, st.text()))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(st.one_of(st.text(), st.integers(), st.decimals(allow_nan=False)), inner, max_size=4)),
    max_leaves=12)


def _same(a, b) -> bool:
    if isinstance(a, Failed):
        return isinstance(b, Failed) and a.reason == b.reason
    if isinstance(a, float):
        return type(b) is float and (math.isnan(a) and math.isnan(b) or (a == b and math.copysign(1, a) == math.copysign(1, b)))
    if isinstance(a, Decimal):
        return type(b) is Decimal and str(a) == str(b)
    if isinstance(a, tuple):
        return type(b) is tuple and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and len(a) == len(b) and all(_same(v, b[k]) for k, v in a.items())
    return type(a) is type(b) and a == b


@given(values)
@settings(max_examples=400, deadline=None)
def test_values_round_trip_exactly(v):
    assert _same(v, codec.unpack(codec.pack(v)))


class Boom:
    def __reduce__(self):
        return (Path.touch, (Path("/tmp/skewless-pwned"),))


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    compiled, _ = compile_catalog(tmp_path_factory.mktemp("fmt") / "proj")
    return compiled


def _events(n: int = 30) -> list[dict]:
    return [{"txn_id": f"t{i}", "user_id": f"u{i % 2}", "merchant_id": f"m{i % 3}", "amount": i * 1.25,
             "n": i, "status": "ok" if i % 3 else "bad", "flag": i % 2 == 0,
             "ts": T0 + timedelta(minutes=9 * (i // 2))} for i in range(n)]


def test_no_pickle_anywhere_in_the_runtime():
    for path in (ROOT / "runtime").rglob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "pickle." not in text, path


def test_a_pickle_in_the_store_is_refused_not_executed(catalog, tmp_path):
    view = catalog.views["r1h"]
    store = SQLiteStore(tmp_path / "online.sqlite")
    replay_rows(view, _events(), store)
    target = Path("/tmp/skewless-pwned")
    target.unlink(missing_ok=True)
    store.conn.execute("UPDATE skewless_online SET state = ?", (pickle.dumps(Boom()),))
    store.conn.commit()
    with pytest.raises(codec.StateFormatError, match="'r1h'.*older skewless"):
        read_as_of(store, view, ["u0"], T0 + timedelta(days=1))
    assert not target.exists()
    for junk in (b"", b"\x93\x01\x02\x03", b"\xc1", codec.pack(("skewless-state", 1))):
        store.conn.execute("UPDATE skewless_online SET state = ?", (junk,))
        store.conn.commit()
        with pytest.raises(codec.StateFormatError, match="'r1h'"):
            read_as_of(store, view, ["u0"], T0 + timedelta(days=1))


def test_other_versions_views_and_fingerprints_are_refused(catalog):
    view, other = catalog.views["r1h"], catalog.views["r1h_xgrp"]
    state = ViewKeyState(view)
    state.process_group([_events(1)[0]])
    blob, _ = records.encode(view, state, {}, T0)
    assert records.decode(blob, view).load()[2] == T0
    with pytest.raises(codec.StateFormatError, match="'r1h_xgrp' was built from 'r1h'"):
        records.decode(blob, other)
    changed = view.model_copy(update={"fingerprint": "0" * 16})
    with pytest.raises(codec.StateFormatError, match="fingerprint"):
        records.decode(blob, changed)
    header = list(codec.unpack(blob))
    header[1] = 99
    with pytest.raises(codec.StateFormatError, match="state format 99"):
        records.decode(codec.pack(tuple(header)), view)
    header[:2] = ["skewless-state", 2]  # format 2 and before: the longer magic
    with pytest.raises(codec.StateFormatError, match="state format 2, this skewless reads format 3"):
        records.decode(codec.pack(tuple(header)), view)
    with pytest.raises(codec.StateFormatError, match="older skewless"):
        records.decode_snapshot(pickle.dumps(({}, None)))


def test_snapshots_round_trip(catalog):
    key, payloads = records.decode_snapshot(records.encode_snapshot(["u0", 3, Decimal("1.50"), T0],
                                                                    [("a", (b"x", None)), ("b", (b"\x00", 7))]))
    assert key == ["u0", 3, Decimal("1.50"), T0] and payloads == {"a": (b"x", None), "b": (b"\x00", 7)}


@pytest.mark.parametrize("head_rows", [256, 0])
def test_quick_values_equal_the_full_state_where_they_apply(catalog, monkeypatch, head_rows):
    """The precomputed values answer reads after the last event until the oldest window row
    would leave the frame, and again once every row has left it (empty-frame values); in between
    only the expiring window's aggregates are restored. Here: that these paths agree with the
    full state at each boundary (the oracle tests compare them all with Postgres)."""
    monkeypatch.setattr(frames, "HEAD_ROWS", head_rows)  # 0: every window has a tail
    us = lambda t: (t - records.EPOCH) // timedelta(microseconds=1)  # noqa: E731
    for name in ("r1h", "rlife", "rows3", "r1h_xcur"):
        view = catalog.views[name]
        state = ViewKeyState(view)
        events = [e for e in _events() if e["user_id"] == "u0"]
        for ts in sorted({e["ts"] for e in events}):
            state.process_group([e for e in events if e["ts"] == ts])
        last = events[-1]["ts"]
        blob, tail = records.encode(view, state, {}, last)
        rec = records.decode(blob, view)
        in_frame = [e["ts"] for e in events if e["ts"] >= last - timedelta(hours=1)]
        first, empty = min(in_frame) + timedelta(hours=1), max(in_frame) + timedelta(hours=1)
        assert rec.quick_values(us(last - timedelta(microseconds=1))) is None  # a stale read
        for t, quick in [(last, True), (first, True), (first + timedelta(microseconds=1), True), (empty, True),
                         (empty + timedelta(microseconds=1), True), (last + timedelta(days=30), True)]:
            try:
                got = rec.quick_values(us(t))
            except NeedTail:  # past the record's horizon: only the tail holds the rows leaving the window
                assert tail is not None and t > last + timedelta(hours=1) / frames.HORIZON, (name, t)
                got = "tail"
            assert (got is not None) == quick, (name, t)
            full, _, _ = rec.load(tail)
            row = {c.name: None for c in view.input_columns} | {"user_id": "u0", "ts": t}
            if isinstance(got, dict):
                assert got == full.as_of(t, row), (name, t)
                full, _, _ = rec.load(tail)
            online = as_of_record(StoredState(view.name, '["u0"]', blob, us(last), view.fingerprint, tail), view,
                                  ["u0"], t)
            assert online == ViewEvaluator(view).output(row, full.as_of(t, row)), (name, t)


def test_the_bytes_of_a_known_state_are_pinned(catalog):
    """Changing what these bytes are is a new state format: bump records.FORMAT and update this."""
    view = catalog.views["r1h"]
    state = ViewKeyState(view)
    for e in _events(6):
        state.process_group([e])
    blob, tail = records.encode(view, state, {T0 + timedelta(hours=2): [_events(1)[0]]}, T0 + timedelta(minutes=18))
    magic, version, name, fp, last, quick, full = codec.unpack(blob)
    assert (magic, version, name, fp, last, quick) == ("skw", records.FORMAT, "r1h", view.fingerprint,
                                                       1767226680000000, None)
    squeezed, pending = codec.unpack(full)
    assert pending[0][0] == T0 + timedelta(hours=2) and pending[0][1][0]["txn_id"] == "t0"
    stored = codec.unpack(records.unsqueeze(squeezed))  # the head: LZ4, its length first
    assert len(squeezed) < len(records.unsqueeze(squeezed)) == int.from_bytes(squeezed[:4], "big")
    assert len(stored[0]) == len(view.aggregates)
    (reach, (cut, ts, cols, missing)), = stored[1]  # a small window: every row in the head (cut nil)
    assert (reach, cut, len(ts), missing, tail) == (3_600_000_000, None, 6 * 8, 0, None)
    data = records.unpack_full(full)[0]
    assert data[1][0][1][0] == 2 ** 62
    # every byte of the state, accumulator fields included (SUM(amount): n, isum, fsum, floats, nan,
    # pinf, ninf, scales, fexp — 0 + 1.25 + ... + 6.25 = 18.75 = 75 / 2^2; its type is the view's)
    assert data[0][3][0] == (6, 0, 75, 6, 0, 0, 0, None, 2), data[0][3]
    # pinned uncompressed (an LZ4 release may compress the same bytes differently; all decompress the same)
    digest = hashlib.sha256(records.unsqueeze(squeezed) + codec.pack(pending)).hexdigest()[:16]
    assert digest == PINNED, digest
    assert ViewKeyState(view).load(data).as_of(T0 + timedelta(hours=1), {}) == state.as_of(T0 + timedelta(hours=1), {})


def test_large_windows_keep_their_rows_past_the_horizon_in_the_tail(catalog, monkeypatch):
    monkeypatch.setattr(frames, "HEAD_ROWS", 0)
    view = catalog.views["r1h"]
    state = ViewKeyState(view)
    for e in _events(6):
        state.process_group([e])
    blob, tail = records.encode(view, state, {}, T0 + timedelta(minutes=18))
    data, _ = records.unpack_full(codec.unpack(blob)[6])
    # the head: rows older than 18 min + 1 h / HORIZON - 1 h (none); the tail: the 6 rows
    (reach, (cut, ts, cols, missing)), = data[1]
    horizon = 3_600_000_000 // frames.HORIZON
    assert (reach, cut, len(ts), missing) == (3_600_000_000, 1767226680000000 + horizon - 3_600_000_000, 0, 6)
    assert codec.unpack(tail)[:3] == ("skw", records.FORMAT, view.fingerprint)
    assert ViewKeyState(view).load(data, codec.unpack(records.unsqueeze(codec.unpack(tail)[3]))).as_of(T0 + timedelta(hours=1), {}) == \
        state.as_of(T0 + timedelta(hours=1), {})


@given(st.text(), st.one_of(st.none(), st.integers(), st.text()))
@settings(max_examples=300, deadline=None)
def test_keys_are_spelled_as_json_spells_them(text, other):
    """`encode_key`'s shortcut for one plain text spells keys exactly as the JSON encoder does
    (stored states and recovery snapshots are found by that spelling)."""
    from skewless.runtime.stream.online import _KEYS, encode_key

    for values in ([text], [text, other], ["u000123"], ['a"b'], ["a\\b"], ["é"], ["\x7f"]):
        assert encode_key(values) == _KEYS.encode(list(values))


def test_a_kept_window_encoding_gives_the_bytes_of_a_fresh_one(catalog, monkeypatch):
    """`records.encode` with ``head``: the windows are encoded once while only pending groups change
    (the stream empties ``head`` when a group is processed); the bytes equal a fresh encoding, also
    with a tail and with pending encodings kept."""
    monkeypatch.setattr(frames, "HEAD_ROWS", 0)  # rows past the horizon go to the tail
    view = catalog.views["r1h"]
    state = ViewKeyState(view)
    events = _events(10)
    for e in events[:6]:
        state.process_group([e])
    last = T0 + timedelta(minutes=18)
    head: list = [None]
    pending: dict = {}
    kept = records.GroupBytes()
    for i, e in enumerate(events[6:]):
        pending.setdefault(e["ts"], []).append(e)
        kept.touch(e["ts"])
        assert records.encode(view, state, pending, last, kept, head) == records.encode(view, state, pending, last)
        if i == 0:
            cached = head[0]
            assert cached is not None and cached[1] is not None  # window bytes and tail kept
        assert head[0] is cached  # encoded once


def test_many_pending_events_are_stored_squeezed(catalog):
    """Pending groups past `SQUEEZE_PENDING` bytes (a key of a real-time stream holds its allowed
    lateness of events) are one LZ4 block in the record and its snapshot: read back as they were,
    the same bytes whether their encoding was kept between upserts or not."""
    view = catalog.views["r1h"]
    state = ViewKeyState(view)
    kept, pending = records.GroupBytes(), {}
    last = T0 - timedelta(hours=1)
    for i, e in enumerate(_events(40)):
        pending.setdefault(e["ts"], []).append(e)
        kept.touch(e["ts"])
        blob, _ = records.encode(view, state, pending, last, kept)
        assert (blob, None) == records.encode(view, state, pending, last)
        stored = codec.unpack(codec.unpack(blob)[6])[1]
        raw = codec.pack(tuple(sorted(pending.items())))
        assert isinstance(stored, bytes) == (len(raw) > records.SQUEEZE_PENDING), i
        assert records.decode(blob, view).load()[1] == pending
    assert len(codec.unpack(codec.unpack(blob)[6])[1]) < len(raw) / 2


def test_a_damaged_compressed_head_is_a_state_format_error(catalog):
    """The head's LZ4 block or its contents damaged (a wrong length, garbage, the wrong shape):
    reads raise `StateFormatError` — serving's 503 naming the view's rebuild —, never another error."""
    view = catalog.views["r1h"]
    state = ViewKeyState(view)
    for e in _events(6):
        state.process_group([e])
    blob, _ = records.encode(view, state, {}, T0 + timedelta(minutes=18))
    fields = list(codec.unpack(blob))
    head, pending = codec.unpack(fields[6])
    raw = records.unsqueeze(head)
    for bad in (head[:3], head[:4] + b"\xff" * 8, (len(raw) + 5).to_bytes(4, "big") + head[4:],
                records.squeeze(codec.pack(((7, 0), ()))), records.squeeze(codec.pack(3))):
        fields[6] = codec.pack((bad, pending))
        with pytest.raises(codec.StateFormatError):  # what the quick values' partial path decodes
            records.unpack_full(fields[6])
        with pytest.raises(codec.StateFormatError):
            records.decode(codec.pack(tuple(fields)), view).load()
