"""Between the stream state and the online store: encode keys and states, read as of t."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from skewless.compiler.ir import FeatureView

from ..stores.base import OnlineStore, StoredState
from . import records
from .frames import ViewEvaluator, ViewKeyState

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class StaleRead(ValueError):
    """The requested time is before the key's latest event: the online state has moved past it."""


_KEYS = json.JSONEncoder(separators=(",", ":"), default=str)  # json.dumps with options builds one per call


def encode_key(values: Sequence[Any]) -> str:
    return _KEYS.encode(list(values))


def to_us(t: datetime) -> int:
    return (t - EPOCH) // timedelta(microseconds=1)


NO_EVENT_US = -(2 ** 62)


def stored(view: FeatureView, key: Sequence[Any], state: ViewKeyState, last_event: datetime | None,
           pending: dict | None = None) -> StoredState:
    """The record of one key: its finalized state plus the peer groups the watermark has not passed
    yet (so an online read sees an event as soon as it arrived, not only once it is final)."""
    return stored_payload(view, key, records.encode(view, state, pending or {}, last_event), last_event)


def stored_payload(view: FeatureView, key: Sequence[Any], payload: bytes, last_event: datetime | None) -> StoredState:
    """A record from an already encoded state (`records.encode`)."""
    return StoredState(view.name, encode_key(key), payload, NO_EVENT_US if last_event is None else to_us(last_event),
                       view.fingerprint)


def read_as_of(store: OnlineStore, view: FeatureView, key: Sequence[Any], t: datetime,
               evaluator: ViewEvaluator | None = None) -> dict[str, Any]:
    """The view's columns for entity ``key`` as of ``t`` (semantics §1.2), from one store lookup."""
    return as_of_record(store.read(view.name, encode_key(key)), view, key, t, evaluator)


def as_of_record(rec: StoredState | None, view: FeatureView, key: Sequence[Any], t: datetime,
                 evaluator: ViewEvaluator | None = None) -> dict[str, Any]:
    """`read_as_of` on a record already fetched (for batched lookups across views)."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    row: dict[str, Any] = {c.name: None for c in view.input_columns}
    row.update(dict(zip(view.entity, key)))
    row[view.timestamp] = t
    evaluator = evaluator or ViewEvaluator(view)
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
    record = records.decode(rec.state, view)
    values = record.quick_values(t_us)
    if values is None:
        state, pending, _ = record.load(read_at=t)
        for ts in sorted(pending):  # groups not final yet: all of them arrived before the read
            if ts <= t:
                state.process_group(pending[ts])
        values = state.as_of(t, row)
    return evaluator.output(row, values)
