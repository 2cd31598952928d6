"""Between the stream state and the online store: encode keys and states, read as of t."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from skewless.compiler.contract import FeatureView

from ..stores.base import OnlineStore, StoredState
from . import records
from .frames import ViewEvaluator, ViewKeyState
from .windows import NeedTail

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class StaleRead(ValueError):
    """The requested time is before the key's latest event: the online state has moved past it."""


_KEYS = json.JSONEncoder(separators=(",", ":"), default=str)  # json.dumps with options builds one per call


def encode_key(values: Sequence[Any]) -> str:
    if len(values) == 1:  # the common key: one plain ASCII text, spelled as json.dumps spells it
        v = values[0]
        if type(v) is str and v.isascii() and v.isprintable() and '"' not in v and "\\" not in v:
            return f'["{v}"]'
    return _KEYS.encode(list(values))


_ONE_US = timedelta(microseconds=1)


def to_us(t: datetime) -> int:
    return (t - EPOCH) // _ONE_US


NO_EVENT_US = -(2 ** 62)


def stored(view: FeatureView, key: Sequence[Any], state: ViewKeyState, last_event: datetime | None,
           pending: dict | None = None) -> StoredState:
    """The record of one key: its finalized state plus the peer groups the watermark has not passed
    yet (so an online read sees an event as soon as it arrived, not only once it is final)."""
    return stored_payload(view, key, records.encode(view, state, pending or {}, last_event), last_event)


def stored_payload(view: FeatureView, key: Sequence[Any], payload: tuple[bytes, bytes | None],
                   last_event: datetime | None) -> StoredState:
    """A store row from an already encoded (record, tail) (`records.encode`)."""
    record, tail = payload
    return StoredState(view.name, encode_key(key), record, NO_EVENT_US if last_event is None else to_us(last_event),
                       view.fingerprint, tail)


def parse_key(view: FeatureView, text: str) -> list[Any]:
    """An entity key of ``view`` from its text form — a compound key's values comma-separated in
    PARTITION BY order, as over HTTP and on the command line; ValueError when it is not one."""
    from ..sources.decode import _coerce

    parts = text.split(",")
    if len(parts) != len(view.entity):
        raise ValueError(f"{view.name} is keyed by ({', '.join(view.entity)}): {text!r} has {len(parts)} value(s), "
                         f"{len(view.entity)} expected")
    types = {c.name: c.type for c in view.input_columns}
    return [_coerce(k, types[c]) for k, c in zip(parts, view.entity)]


def lookups(view: FeatureView, keys: list[list[Any]]) -> list[tuple[str, str]]:
    """The store keys of ``view``'s entity ``keys`` (for one `read_many`)."""
    return [(view.name, encode_key(k)) for k in keys]


def rows_as_of(view: FeatureView, keys: list[list[Any]], found: dict, t: datetime,
               store: OnlineStore | None = None, evaluator: ViewEvaluator | None = None) -> list[dict[str, Any]]:
    """`as_of_record` for each of ``keys`` from the records ``found`` by `read_many(lookups(...))`."""
    evaluator = evaluator or ViewEvaluator(view)
    return [as_of_record(found.get(lk), view, k, t, evaluator, store) for k, lk in zip(keys, lookups(view, keys))]


def probe_joins(view: FeatureView) -> bool:
    """A join the read's probe row takes part in: its key is the view's entity key (semantics
    §1.2: the probe row holds only the key and t — it matches a dimension row only then)."""
    return any(all(k.input_column in view.entity for k in j.on) for j in view.joins)


def read_as_of(store: OnlineStore, view: FeatureView, key: Sequence[Any], t: datetime,
               evaluator: ViewEvaluator | None = None) -> dict[str, Any]:
    """The view's columns for entity ``key`` as of ``t`` (semantics §1.2), from one store lookup
    (two when ``t`` is far past the key's latest event and a window needs its tail)."""
    return as_of_record(store.read(view.name, encode_key(key)), view, key, t, evaluator, store)


def as_of_record(rec: StoredState | None, view: FeatureView, key: Sequence[Any], t: datetime,
                 evaluator: ViewEvaluator | None = None, store: OnlineStore | None = None) -> dict[str, Any]:
    """`read_as_of` on a record already fetched (for batched lookups across views); ``store``
    fetches the window tail when the read needs it (else the record must have been read in full)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    row: dict[str, Any] = {c.name: None for c in view.input_columns}
    row.update(dict(zip(view.entity, key)))
    row[view.timestamp] = t
    evaluator = evaluator or ViewEvaluator(view)
    if evaluator.enrich is not None:
        row = evaluator.enrich(row)  # the probe's dimension rows: the key's, as of t
    elif probe_joins(view):
        raise ValueError(f"view {view.name!r} joins dimensions on its entity key: read it with their rows "
                         "(sources.dimension.evaluator_for)")
    if rec is None:
        return evaluator.output(row, ViewKeyState(view).as_of(t, row))
    if rec.fingerprint != view.fingerprint:
        raise records.StateFormatError(
            f"online state of view {view.name!r} was built from fingerprint {rec.fingerprint}, the project has "
            f"{view.fingerprint}: {records.REBUILD}")
    t_us = to_us(t)
    if t_us < rec.last_event_us:
        raise StaleRead(f"{t.isoformat()} is before the latest event of {view.name} {list(key)}; "
                        "use the training-set path for past times")
    record = records.decode(rec.state, view, rec.log)
    try:
        values = record.quick_values(t_us)
        if values is None:
            values = _as_of_state(record.load(complete=False), t, row)  # the windows' heads
    except NeedTail:  # the read is far past the key's latest event: the windows in full
        tail, newer = _tail(rec, view, store)
        if newer is not None:
            return as_of_record(newer, view, key, t, evaluator, store)
        values = _as_of_state(record.load(tail), t, row)
    return evaluator.output(row, values)


def _tail(rec: StoredState, view: FeatureView, store: OnlineStore | None) -> tuple[bytes | None, StoredState | None]:
    """The record's window tail, fetched when the record was read without it: (tail, None), or
    (None, the newer record) when the key was rewritten meanwhile (read that afresh)."""
    tail = rec.tail
    if tail is None and store is not None:
        full = store.read(view.name, rec.entity, full=True)
        if full is not None and (full.state != rec.state or full.log != rec.log):
            return None, full
        tail = None if full is None else full.tail
    if tail is None:
        raise records.StateFormatError(f"online state of view {view.name!r}: the record's window tail is "
                                       f"missing: {records.REBUILD}") from None
    return tail, None


def read_with_event(store: OnlineStore, view: FeatureView, event: dict[str, Any],
                    evaluator: ViewEvaluator | None = None) -> dict[str, Any] | None:
    """Semantics §1.3: the view's row for ``event`` appended to the source (None when its WHERE
    leaves the event out), from the key's record; nothing is recorded."""
    key = [event.get(k) for k in view.entity]
    return with_event(store.read(view.name, encode_key(key)), view, event, evaluator, store)


def with_event(rec: StoredState | None, view: FeatureView, event: dict[str, Any],
               evaluator: ViewEvaluator | None = None, store: OnlineStore | None = None) -> dict[str, Any] | None:
    """`read_with_event` on a record already fetched: the key's state, its pending groups before the
    event's time applied, and the event processed as the next event — joining the pending group at
    its own time as a peer. Raises `StaleRead` when the event is not after the key's latest final
    event (its windows have moved on), `SqlError` where Postgres would fail on it."""
    if view.view_joins:
        raise ValueError(f"view {view.name!r} joins view {view.view_joins[0].view!r}, which has no row for an event "
                         "not recorded yet: read it as of a time instead")
    evaluator = evaluator or ViewEvaluator(view)
    t = event[view.timestamp]
    if t.tzinfo is None:
        event = dict(event, **{view.timestamp: t.replace(tzinfo=timezone.utc)})
        t = event[view.timestamp]
    if evaluator.enrich is not None:
        event = evaluator.enrich(event)
    elif view.joins:
        raise ValueError(f"view {view.name!r} joins dimensions: give its evaluator their rows (`Enricher`)")
    if not evaluator.admit(event):
        return None
    if rec is None:
        return evaluator.output(event, ViewKeyState(view).process_group([event])[0])
    if rec.fingerprint != view.fingerprint:
        raise records.StateFormatError(
            f"online state of view {view.name!r} was built from fingerprint {rec.fingerprint}, the project has "
            f"{view.fingerprint}: {records.REBUILD}")
    if rec.last_event_us != NO_EVENT_US and to_us(t) <= rec.last_event_us:
        raise StaleRead(f"the event at {t.isoformat()} is not after the latest final event of {view.name} "
                        f"{[event.get(k) for k in view.entity]}: the state has moved past it")
    record = records.decode(rec.state, view, rec.log)
    try:
        values = _with_event_state(record.load(complete=False), t, event)
    except NeedTail:  # the event is far past the key's latest event: the windows in full
        tail, newer = _tail(rec, view, store)
        if newer is not None:
            return with_event(newer, view, event, evaluator, store)
        values = _with_event_state(record.load(tail), t, event)
    return evaluator.output(event, values)


def _with_event_state(loaded: tuple, t: datetime, event: dict) -> dict:
    state, pending, _ = loaded
    for ts in sorted(pending):  # groups not final yet: all arrived before the request
        if ts < t:
            state.process_group(pending[ts])
    group = [*pending.get(t, []), event]
    return state.process_group(group)[-1]


def _as_of_state(loaded: tuple, t: datetime, row: dict) -> dict:
    state, pending, _ = loaded
    for ts in sorted(pending):  # groups not final yet: all of them arrived before the read
        if ts <= t:
            state.process_group(pending[ts])
    return state.as_of(t, row)
