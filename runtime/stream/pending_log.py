"""What a key's store write carries: its record only when the state changed, else its new events.

A real-time stream holds each event pending for the allowed lateness (minutes): until then reads
see it through the record's pending groups. When every upsert rewrote the record with all of them,
a key's write grew with its pending events — an active key in a 5-minute-late stream wrote
minutes of events twenty times a second. Now, past `INLINE` pending events, the store keeps beside
the record the key's *pending log* (stores/base.py): an upsert that only added events appends those events; the record
(without pending groups: its as-of values precomputed) is rewritten only when a group became
final, and that write drops the final groups' entries. Reads merge the log into the record's
pending groups (`records.decode`), so they see exactly what the record with its pending groups
said before.

The job's first write of a key empties its log and writes every pending event again (a resumed
job's snapshot may be older than what the store holds; the entries are upserts keyed by event time
and position in the peer group, and this makes the store agree with the state the job continues).
Recovery snapshots keep the record with its pending groups (`_ViewSlot.payload`), as before.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Sequence

from skewless.compiler.contract import FeatureView

from ..stores.base import StoredState
from . import records
from .online import NO_EVENT_US, encode_key


INLINE = 32  # pending events a key's record holds itself (more: they go to the log)


class StoreLog:
    """One slot's store-write bookkeeping (`_ViewSlot` calls `added`, `changed`, `final`).

    A key with few pending events (at most `INLINE`) is written as before: its record holding them
    (the snapshot's bytes, encoded once for both) — a hot key whose groups become final every flush
    pays no log entries and deletes. Past that the key's writes use the log: the record without
    them (when a group was processed), the new events as entries, the final ones dropped."""

    __slots__ = ("logged", "new", "upto", "base", "based", "count", "in_log")

    def __init__(self) -> None:
        self.logged: dict = {}      # per pending group time: how many of its events the log holds
        self.new: set = set()       # group times with events not logged yet
        self.upto: datetime | None = None  # the latest group time that became final since the last write
        self.base: tuple[bytes, bytes | None] | None = None  # the stored record without pending (None: re-encode)
        self.based = False          # this job wrote the key (and emptied its log) already
        self.count = 0              # pending events
        self.in_log = False         # the store's record leaves the pending events to the log

    def added(self, ts: datetime) -> None:
        self.new.add(ts)
        self.count += 1

    def changed(self) -> None:
        """A group was processed: the record is written again at the next write."""
        self.base = None

    def final(self, due: list, events: int) -> None:
        """Groups ``due`` (ascending, ``events`` events) left the pending ones: their log entries go
        at the next write."""
        for ts in due:
            self.logged.pop(ts, None)
        self.upto = due[-1]
        self.count -= events

    def row(self, view: FeatureView, key: Sequence[Any], state, pending: dict, last: datetime | None,
            head: list, holding, shared: dict | None = None) -> StoredState:
        """The write of this version; ``holding()`` gives the record holding the pending groups.
        ``shared``: log entries by (event time, id of the event) — one source event is pending in
        every view of its key (the views' writes of one flush, alive together, pack it once)."""
        last_us = NO_EVENT_US if last is None else records.time_us(last)
        ekey = encode_key(key)
        if self.count <= INLINE:  # the record holds them; a log the store may have for the key is emptied
            keep = self.based and not self.in_log
            self.based, self.in_log, self.logged, self.new, self.upto = True, False, {}, set(), None
            record, tail = holding()
            return StoredState(view.name, ekey, record, last_us, view.fingerprint, tail, (), None, keep)
        if not self.based or not self.in_log:  # into the log: the record without them, every event logged
            self.logged, self.new, self.base, self.upto = {}, set(pending), None, None
            keep = False
        else:
            keep = True
        entries = []
        shared = {} if shared is None else shared
        for ts in sorted(self.new):
            rows = pending.get(ts)
            if rows is None:
                continue  # added, then final before this write
            done = self.logged.get(ts, 0)
            if done < len(rows):
                ts_us = records.time_us(ts)
                for pos in range(done, len(rows)):
                    event = rows[pos]
                    kept = shared.get((ts, id(event)))
                    if kept is None:  # the event held beside it: its id stays its own
                        kept = shared[(ts, id(event))] = (event, records.log_entry(ts, event))
                    entries.append((ts_us, pos, kept[1]))
                self.logged[ts] = len(rows)
        self.new = set()
        upto, self.upto = self.upto, None
        record = tail = None
        if self.base is None:
            record, tail = self.base = records.encode(view, state, {}, last, None, head)
        self.based = self.in_log = True
        return StoredState(view.name, ekey, record, last_us, view.fingerprint, tail, tuple(entries),
                           None if upto is None or not keep else records.time_us(upto), keep, True)
