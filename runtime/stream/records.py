"""The state format of online-store records and recovery snapshots (docs/state-format.md).

A record is one msgpack array::

    ["skw", FORMAT, view name, view fingerprint, last final event µs | None,
     quick | None, full (bytes)]

* ``quick`` = [holds at the last event's own time, values in the view's aggregate order, per
  window with rows [reach µs, oldest row µs + reach, newest row µs + reach]]: the as-of values
  precomputed for reads after the latest event — as they are until a window starts expiring rows,
  with that window's aggregates empty once all its rows expired — so most reads decode a few
  values instead of the window (present when nothing is pending; `frames.quick_values`).
* ``full`` = msgpack bytes of [state, pending]: `ViewKeyState.dump()` — per aggregate its plain
  data, per window [reach, timestamps as int64 bytes, per value column one msgpack array as
  bytes] — and the peer groups the watermark has not passed yet as [[event time, [event, ...]],
  ...]. Decoded only when the quick values do not apply; a read then decodes of each window only
  the rows that leave it by the read's time.

A snapshot (one key of one Bytewax stateful step) is ["skewless-snapshot", FORMAT, key values,
[[view name, [record, tail | None, warm-start cover µs | None]], ...]]; a key whose views feed
re-keyed views also holds ["#counts", [counts, None, None]], counts = msgpack [[event time,
events], ...] of the events it has not yet reported as final (`rekey`). Nothing here executes code on load; a record of another format
version, another view or another fingerprint is refused with a message naming the view.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import pyarrow as pa

from skewless.compiler.contract import FeatureView

from . import codec
from .codec import EPOCH, ONE_US, StateFormatError, time_us  # noqa: F401 - time_us: records.time_us
from .frames import NO_CUT, ViewKeyState, quick_values, window_reaches
from .rolling import array_header

FORMAT = 3  # 2: float sums scaled by 2^(finest exponent seen), not 2^1074; 3: LZ4-compressed windows
MAGIC = "skw"  # format 3 on; "skewless-state" (LEGACY) before: read only to name its format
LEGACY = "skewless-state"
SNAPSHOT = "skewless-snapshot"
REBUILD = "replay the view or `skewless backfill --to-online` it"


def _us(t: datetime | None) -> int | None:
    return None if t is None else time_us(t)


def encode(view: FeatureView, state: ViewKeyState, pending: dict, last: datetime | None,
           encoded: "GroupBytes | None" = None, head: "list | None" = None) -> tuple[bytes, bytes | None]:
    """(record, tail): the record a read fetches, and the window rows past its horizon (None when
    there are none) — stored beside it, fetched only by the stream and by reads far past it.
    ``encoded``: the pending groups' encoding kept from earlier calls (`GroupBytes`: the caller
    touches a group's time when it grows and passes the groups that became final — `_ViewSlot`),
    so a busy key's pending events are encoded once, not at every upsert.
    ``head``: a one-element list keeping the encoded window state (its head and tail bytes) between
    calls while the state and ``last`` are unchanged — the caller empties it (``head[0] = None``)
    whenever a group is processed, so an upsert that only adds a pending event encodes that event
    and the record's header, not the windows. The bytes are the same."""
    last_us = _us(last)
    quick = None if pending else _slim_quick(view, state.quick(), last_us)
    kept = None if head is None else head[0]
    if kept is None:
        state_head, state_tail = state.dump(last_us)
        kept = (codec.pack(squeeze(_pack_head(state_head))),
                None if state_tail is None else codec.pack((MAGIC, FORMAT, view.fingerprint,
                                                            squeeze(codec.pack(state_tail)))))
        if head is not None:
            head[0] = kept
    if encoded is None:
        groups = codec.pack(tuple((ts, rows) for ts, rows in sorted(pending.items())))
    else:
        groups = b"".join(encoded.parts(pending))
    if len(groups) > SQUEEZE_PENDING:
        groups = codec.pack(squeeze(groups))
    full = b"".join((b"\x92", kept[0], groups))
    record = codec.pack((MAGIC, FORMAT, view.name, view.fingerprint, last_us, quick, full))
    return record, kept[1]


SQUEEZE_PENDING = 1024  # pending groups encoding to more bytes are stored squeezed (~4x smaller)
_LZ4 = pa.Codec("lz4_raw")
_SIZE = struct.Struct(">I")
MAX_STATE = 1 << 31  # a window state decompressing to more is damaged bytes, not a state


def squeeze(raw: bytes) -> bytes:
    """``raw`` compressed for the store: its length (4 bytes, big-endian), then an LZ4 block. A
    window's rows are sorted timestamps (8 bytes each, mostly equal high bytes) and repeated
    numbers: about half their msgpack size, for ~3 µs per KB each way."""
    return _SIZE.pack(len(raw)) + _LZ4.compress(raw, asbytes=True)


def unsqueeze(blob: bytes) -> bytes:
    if len(blob) < _SIZE.size:
        raise StateFormatError("a compressed state is truncated")
    size = _SIZE.unpack_from(blob)[0]
    if size > MAX_STATE:
        raise StateFormatError(f"a compressed state claims {size} bytes")
    try:
        raw = _LZ4.decompress(memoryview(blob)[_SIZE.size:], decompressed_size=size, asbytes=True)
    except Exception as exc:  # noqa: BLE001 - damaged bytes
        raise StateFormatError(f"a compressed state is damaged ({type(exc).__name__})") from None
    if len(raw) != size:
        raise StateFormatError("a compressed state is damaged (its length)")
    return raw


def unpack_full(full: bytes) -> tuple[tuple, tuple]:
    """A record's ``full`` part: (the state's head, the pending groups); anything else — also
    well-formed msgpack of the wrong shape — is a `StateFormatError` (reads answer 503, not 500)."""
    try:
        head, pending = codec.unpack(full)
        if isinstance(pending, bytes):  # squeezed (past SQUEEZE_PENDING bytes)
            pending = codec.unpack(unsqueeze(pending))
        return _unslim(codec.unpack(unsqueeze(head))), pending
    except StateFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - the wrong shape
        raise StateFormatError(f"a state's windows are damaged ({type(exc).__name__}: {exc})") from None


def _pack_head(head: tuple) -> bytes:
    """`ViewKeyState.dump`'s head as stored: an aggregate whose data is an earlier one's object (the
    kernel's SUM and AVG of one column over one frame keep one sum: `fast.Plan.shares`) is that
    one's index; a window without a tail has cut nil."""
    aggs, windows = head
    seen: dict[int, int] = {}
    slim = []
    for i, data in enumerate(aggs):
        j = seen.setdefault(id(data), i)
        slim.append(data if j == i else j)
    return codec.pack((tuple(slim), tuple((reach, (None if w[0] == NO_CUT else w[0], *w[1:]))
                                           for reach, w in windows)))


def _unslim(head: tuple) -> tuple:
    aggs, windows = head
    full: list = []
    for data in aggs:  # aggregate data is always an array: an int refers to an earlier one
        full.append(full[data] if isinstance(data, int) else data)
    return tuple(full), tuple((reach, (NO_CUT if w[0] is None else w[0], *w[1:])) for reach, w in windows)


def _slim_quick(view: FeatureView, quick: tuple | None, last_us: int | None) -> tuple | None:
    """`ViewKeyState.quick` as stored: per window with rows, flat, (its position among the view's
    windows, latest event µs − its newest row µs, newest − oldest row µs) — small numbers where the
    state has three absolute µs per window."""
    if quick is None or not quick[2] or last_us is None:
        return quick
    inclusive, values, windows = quick
    reaches = window_reaches(view)
    flat: list = []
    for reach, first, empty in windows:
        flat += (reaches.index(reach), last_us - (empty - reach), empty - first)
    return inclusive, values, tuple(flat)


def _full_quick(view: FeatureView, quick: tuple | None, last_us: int | None) -> tuple | None:
    """`_slim_quick`'s inverse."""
    if quick is None or not quick[2] or last_us is None:
        return quick
    inclusive, values, flat = quick
    reaches = window_reaches(view)
    windows = []
    for k in range(0, len(flat), 3):
        reach = reaches[flat[k]]
        empty = last_us - flat[k + 1] + reach
        windows.append((reach, empty - flat[k + 2], empty))
    return inclusive, values, tuple(windows)


class GroupBytes:
    """The msgpack encoding of a mapping ordered by time — a slot's pending groups (time -> events)
    or a key's unreported event counts (time -> count) —, i.e. ``codec.pack(tuple(sorted(
    mapping.items())))``, kept between encodes: entries change at the back (new events, mostly of
    the latest time) and leave at the front (the watermark passed them), so an encode packs the
    entries ``touch``-ed since the last one and drops the ``passed`` ones from its kept bytes. A key
    holding minutes of pending events (a real-time stream with its allowed lateness) thus writes
    them with a copy, not by packing each group again at every upsert. Same bytes
    (`tests/runtime/test_rolling.py`); an encode that finds the mapping changed behind its back
    (another number of entries) encodes it whole."""

    __slots__ = ("times", "ends", "buf", "base", "dirty", "cut")

    def __init__(self) -> None:
        self.times: list = []      # the kept entries' times, ascending
        self.ends: list[int] = []  # each kept entry's end offset (absolute: ``base`` is at buf[0])
        self.buf = bytearray()
        self.base = 0
        self.dirty: set = set()    # times whose entry changed since the last encode
        self.cut = None            # entries up to this time left since the last encode

    def touch(self, ts) -> None:
        self.dirty.add(ts)

    def passed(self, ts) -> None:
        """The entries up to ``ts`` left the mapping (the front)."""
        if self.cut is None or ts > self.cut:
            self.cut = ts

    def clear(self) -> None:
        self.times, self.ends, self.buf, self.base, self.dirty, self.cut = [], [], bytearray(), 0, set(), None

    def parts(self, mapping: dict) -> tuple[bytes, bytearray]:
        """(array header, entries): their concatenation is the mapping's encoding."""
        times, ends = self.times, self.ends
        if self.cut is not None:
            j = bisect_right(times, self.cut)
            if j:
                del self.buf[:ends[j - 1] - self.base]
                self.base = ends[j - 1]
                del times[:j], ends[:j]
            self.cut = None
        if self.dirty:
            dirty = self.dirty
            k = bisect_left(times, min(dirty))
            if k < len(times):  # re-encode from the earliest changed entry on
                dirty.update(times[k:])
                del self.buf[(ends[k - 1] if k else self.base) - self.base:]
                del times[k:], ends[k:]
            buf, pack = self.buf, codec.pack
            end = ends[-1] if ends else self.base
            for ts in sorted(dirty):
                value = mapping.get(ts)
                if value is None:
                    continue  # touched, then passed before this encode
                enc = b"".join((b"\x92", pack(ts), pack(value)))
                buf += enc
                end += len(enc)
                times.append(ts)
                ends.append(end)
            self.dirty = set()
        if len(times) != len(mapping):  # changed without a touch (a loaded state): encode it whole
            self.clear()
            self.dirty = set(mapping)
            return self.parts(mapping)
        if len(self.buf) > 4 * (ends[-1] - self.base if ends else 0) + 65536:
            self.buf = bytearray(self.buf)  # drop the slack of front deletions
        return array_header(len(times)), self.buf


def log_entry(ts: datetime, event: dict) -> bytes:
    """A pending event in the store's pending log: msgpack [event time, event] (its group's time
    exactly as a record's pending groups hold it)."""
    return codec.pack((ts, event))


@dataclass(frozen=True)
class Record:
    view: FeatureView
    last_us: int | None
    quick: tuple | None
    full: bytes
    log: tuple = ()  # the store's pending log entries after the record's last final event, in order

    def quick_values(self, t_us: int) -> dict[str, Any] | None:
        """The aggregate values as of ``t_us`` from the record alone, when they apply (raises
        `NeedTail` when only the tail has the rows a window expires by then)."""
        if self.quick is None or self.log:
            return None
        return quick_values(self.view, self.quick, t_us, self.last_us, lambda: unpack_full(self.full)[0])

    def load(self, tail: bytes | None = None, complete: bool = True) -> tuple[ViewKeyState, dict[datetime, list[dict]], datetime | None]:
        """(state, pending groups, last final event time). ``complete``: with the tail (``tail``
        None: there is none); otherwise the windows hold their heads (`ViewKeyState.load`)."""
        try:
            head, pending = unpack_full(self.full)
            rows = None
            if tail is not None:
                magic, version, fingerprint, rows = codec.unpack(tail)
                if (magic, version, fingerprint) != (MAGIC, FORMAT, self.view.fingerprint):
                    raise StateFormatError(f"the window tail of view {self.view.name!r} does not belong to its "
                                           f"record: {REBUILD}")
                rows = codec.unpack(unsqueeze(rows))
            state = ViewKeyState(self.view).load(head, rows if complete else None)
            groups = {ts: [dict(r) for r in rows_] for ts, rows_ in pending}
            for _, _, entry in self.log:  # events appended to the pending log since the record
                ts, event = codec.unpack(entry)
                groups.setdefault(ts, []).append(dict(event))
        except StateFormatError:
            raise
        except Exception as exc:  # noqa: BLE001 - well-formed msgpack of the wrong shape
            raise StateFormatError(f"online state of view {self.view.name!r} is damaged ({type(exc).__name__}: "
                                   f"{exc}): {REBUILD}") from None
        last = None if self.last_us is None else EPOCH + self.last_us * ONE_US
        return state, groups, last


def decode(blob: bytes, view: FeatureView, log: Sequence = ()) -> Record:
    """The record's header, checked against ``view``; the window is decoded by `Record.load`.
    ``log``: the key's pending log as read with it ((event time µs, position, entry), any order);
    entries the record already counts (up to its last final event) are left out."""
    if blob[:1] == b"\x80":  # a pickle: skewless before state format 1
        raise StateFormatError(f"online state of view {view.name!r} was written by an older skewless "
                               f"(pickled, no longer read for safety): {REBUILD}")
    try:
        magic, version, name, fingerprint, last_us, quick, full = codec.unpack(blob)
    except (TypeError, ValueError) as exc:
        raise StateFormatError(f"online state of view {view.name!r} is not a skewless state record ({exc}): "
                               f"{REBUILD}") from None
    if magic not in (MAGIC, LEGACY):
        raise StateFormatError(f"online state of view {view.name!r} is not a skewless state record: {REBUILD}")
    if version != FORMAT or magic != MAGIC:
        raise StateFormatError(f"online state of view {view.name!r} is in state format {version}, this skewless "
                               f"reads format {FORMAT}: {REBUILD}")
    if name != view.name or fingerprint != view.fingerprint:
        raise StateFormatError(f"online state of view {view.name!r} was built from {name!r} fingerprint "
                               f"{fingerprint}, the project has {view.fingerprint}: {REBUILD}")
    if log:
        log = tuple(sorted((e for e in log if last_us is None or e[0] > last_us), key=lambda e: (e[0], e[1])))
    try:
        quick = _full_quick(view, quick, last_us)
    except Exception as exc:  # noqa: BLE001 - well-formed msgpack of the wrong shape
        raise StateFormatError(f"online state of view {view.name!r} is damaged ({type(exc).__name__}: {exc}): "
                               f"{REBUILD}") from None
    return Record(view, last_us, quick, full, tuple(log))


def encode_snapshot(key: Sequence[Any] | None, payloads: list[tuple[str, tuple[bytes, bytes | None, int | None]]]) -> bytes:
    """``payloads``: per view, (its record, its tail, the µs up to which a warm start's events are
    counted)."""
    return codec.pack((SNAPSHOT, FORMAT, None if key is None else tuple(key), tuple(payloads)))


COUNTS = "#counts"  # a key's events per time not yet reported as final (views feeding re-keyed views)


def encode_counts(seen: dict, kept: GroupBytes | None = None) -> bytes:
    """[[event time, events], ...] in time order; ``kept``: its encoding kept between calls."""
    if kept is None:
        return codec.pack(tuple(sorted(seen.items())))
    return b"".join(kept.parts(seen))


def decode_counts(blob: bytes | None) -> dict:
    if blob is None:
        return {}
    return {t: n for t, n in codec.unpack(blob)}


def decode_snapshot(blob: bytes) -> tuple[list | None, dict[str, tuple[bytes, bytes | None, int | None]]]:
    if not isinstance(blob, bytes) or blob[:1] == b"\x80":
        raise StateFormatError("the recovery snapshot was written by an older skewless (pickled, no longer "
                               "read): start with a new recovery directory")
    magic, version, key, payloads = codec.unpack(blob)
    if magic != SNAPSHOT or version != FORMAT:
        raise StateFormatError(f"the recovery snapshot is in format {magic!r} {version}, this skewless reads "
                               f"{SNAPSHOT!r} {FORMAT}: start with a new recovery directory")
    return (None if key is None else list(key)), dict(payloads)
