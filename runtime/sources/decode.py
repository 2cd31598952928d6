"""Decode raw events (JSON objects, CSV rows) against a source's declared schema.

Anything that does not fit becomes a `DeadLetter` with the reason; it never stops the job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from functools import lru_cache

from skewless.compiler.config.sources import SourceDef
from skewless.compiler.functions import pgvalues as V
from skewless.compiler.functions.pgtypes import BOOL, FLOAT8, INTEGERS, NUMERIC, TEXT, TSTZ, base, normalize


@dataclass(frozen=True)
class DeadLetter:
    source: str
    raw: str
    reason: str


PART = "__part"  # key a partitioned source adds to each decoded row: which input partition it came from


@dataclass(frozen=True)
class Idle:
    """A source partition has no new records (caught up or ended): it stops holding the watermark
    back until it yields records again."""
    part: str


def _timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return datetime.fromtimestamp(v, tz=timezone.utc)  # epoch seconds
    if isinstance(v, str):
        t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        return t.astimezone(timezone.utc) if t.tzinfo else t.replace(tzinfo=timezone.utc)
    raise ValueError(f"not a timestamp: {v!r}")


def _coerce(v: Any, sql_type: str) -> Any:
    """One event value -> the Python value of its declared type (the registry's value rules)."""
    if v is None:
        return None
    t = _normal(sql_type)
    b = base(t)
    if b == TSTZ:
        return _timestamp(v)
    if b == BOOL:
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            return V.text_to_bool(v)
        raise ValueError(f"not a boolean: {v!r}")
    if b in INTEGERS:
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise ValueError(f"not an integer: {v!r}")
        if isinstance(v, str):
            return V.text_to_int(v, b)
        if isinstance(v, float) and (v != v or v in (INF, -INF)):
            raise ValueError(f"not an integer: {v!r}")
        return V.check_int(int(v), b)
    if b == FLOAT8:
        if isinstance(v, bool):
            raise ValueError(f"not a number: {v!r}")
        if isinstance(v, str):
            return V.text_to_float(v)
        f = float(v)
        if f in (INF, -INF) and not (isinstance(v, float) and v in (INF, -INF)):
            raise ValueError(f"{v!r} is out of range for type double precision")
        return f
    if b == NUMERIC:
        if isinstance(v, bool):
            raise ValueError(f"not a number: {v!r}")
        d = V.text_to_numeric(v if isinstance(v, str) else repr(v) if isinstance(v, float) else str(v))
        return V.n_typmod(d, t)
    return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)


INF = float("inf")


@lru_cache(maxsize=256)
def _normal(sql_type: str) -> str:
    try:
        return normalize(sql_type)
    except ValueError:
        return TEXT


class Decoder:
    def __init__(self, source: SourceDef):
        self.source = source
        self.types = source.column_types()

    def decode_obj(self, obj: Any, raw: str) -> dict | DeadLetter:
        if not isinstance(obj, dict):
            return DeadLetter(self.source.name, raw, "not a JSON object")
        row = {}
        for name, sql_type in self.types.items():
            try:
                row[name] = _coerce(obj.get(name), sql_type)
            except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
                return DeadLetter(self.source.name, raw, f"column {name!r} ({sql_type}): {exc}")
        if row[self.source.timestamp] is None:
            return DeadLetter(self.source.name, raw, f"missing timestamp column {self.source.timestamp!r}")
        return row

    def decode_json(self, line: str | bytes) -> dict | DeadLetter:
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            return DeadLetter(self.source.name, text[:1000], f"invalid JSON: {exc.msg} at column {exc.colno}")
        return self.decode_obj(obj, text[:1000])
