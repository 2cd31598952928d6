"""The online store interface.

Layout: one row per (view, entity key) holding the key's state record (docs/state-format.md), the
window rows past the record's horizon (the *tail*, fetched only by the stream and by reads far
past the key's latest event), the time of its latest event and the view's fingerprint; beside it
the key's *pending log*: the events the watermark has not passed yet, one entry each, appended as
they arrive (an upsert that only adds events writes those events, not the record). A read for
(view, key, t) is one statement (the record and its log, one snapshot); the as-of value is
computed from the state at read time, so rows that expired from a frame never count even if the
key saw no new event. Records are upserts of whole states and log entries are upserts keyed by
(event time, position in its peer group), and a job's first write of a key empties its log:
replaying after a recovery cannot double-count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredState:
    """One key's row. In a write, ``state`` None leaves the stored record (and tail) as they are and
    changes only the key's pending log; a write with ``log_keep`` False empties the log first (a
    whole state: replays and backfills, a job's first write of the key)."""

    view: str
    entity: str          # JSON array of the key values
    state: bytes | None  # the record (docs/state-format.md); always present in a read
    last_event_us: int   # µs since the epoch of the key's latest event
    fingerprint: str
    tail: bytes | None = None  # window rows past the record's horizon (read only with full=True)
    # the pending log: events the watermark has not passed yet, appended as they arrive instead of
    # rewriting the record — (event time µs, position in its peer group, `records.log_entry`)
    log: tuple = ()
    log_upto: int | None = None  # write: the entries up to this event time µs became final — they go
    log_keep: bool = False       # write: keep the key's log (add ``log``, drop ``log_upto``)
    # write (with a record): the key's pending events live in its log — False promises the log is
    # empty once this write is applied (the record holds them), which lets Redis reads skip it
    logging: bool = False


def read_rows(rows) -> dict[tuple[str, str], StoredState]:
    """The SQL stores' `read_many` result from rows of (0, view, entity, state, last_event_us,
    fingerprint, tail) — a record — and (1, view, entity, entry, ts_us, pos, NULL) — a log entry."""
    found: dict[tuple[str, str], list] = {}
    logs: dict[tuple[str, str], list] = {}
    for kind, view, entity, data, us, fp_or_pos, tail in rows:
        if kind == 0:
            found[(view, entity)] = [bytes(data), us, fp_or_pos, None if tail is None else bytes(tail)]
        else:
            logs.setdefault((view, entity), []).append((us, fp_or_pos, bytes(data)))
    return {k: StoredState(k[0], k[1], state, us, fp, tail, tuple(sorted(logs.get(k, ()))))
            for k, (state, us, fp, tail) in found.items()}


class OnlineStore(Protocol):
    def write(self, states: list[StoredState]) -> None: ...

    def read(self, view: str, entity: str, full: bool = False) -> StoredState | None: ...

    def read_many(self, keys: list[tuple[str, str]], full: bool = False) -> dict[tuple[str, str], StoredState]: ...

    def fingerprints(self) -> dict[str, set[str]]: ...

    def close(self) -> None: ...
