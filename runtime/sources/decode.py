"""Decode raw events (JSON objects, CSV rows) against a source's declared schema.

Anything that does not fit becomes a `DeadLetter` with the reason; it never stops the job."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from functools import lru_cache

from skewless.compiler.contract import (
    base_type as base, BOOL, FLOAT8, INTEGERS, normalize, NUMERIC, pgvalues as V, SourceDef, TEXT, TSTZ,
)


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


class JsonNumber(str):
    """A JSON number with a fraction or exponent (or NaN/Infinity), kept as its text so each
    declared type reads it as Postgres would read that text: ``1e999`` is out of range for
    double precision but a valid numeric, ``1e-400`` is out of range rather than 0."""


def _timestamp(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=timezone.utc)
    if isinstance(v, JsonNumber):
        v = V.text_to_float(v)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:  # epoch seconds, as to_timestamp(v)
            return EPOCH + timedelta(seconds=v)
        except (OverflowError, ValueError):
            raise ValueError(f"timestamp out of range: {v!r}") from None
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
    if isinstance(v, JsonNumber):
        if b == FLOAT8:
            return V.text_to_float(v)
        if b == NUMERIC:
            return V.n_typmod(V.text_to_numeric(v), t)
        if b in INTEGERS:
            d = V.text_to_numeric(v)
            if not d.is_finite() or d != d.to_integral_value():
                raise ValueError(f"not an integer: {v}")
            return V.check_int(int(d), b)
        return str(v)
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
    if isinstance(v, str):
        return _text(v)
    return json.dumps(_plain(v)) if isinstance(v, (dict, list)) else str(v)


def _plain(v: Any) -> Any:
    """A nested JSON value with its numbers as numbers again (text columns keep JSON text)."""
    if isinstance(v, JsonNumber):
        return float(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def _text(v: str) -> str:
    """Postgres text holds no NUL and only valid UTF-8 (JSON can spell both: \\u0000, \\ud800)."""
    if "\x00" in v:
        raise ValueError('invalid byte sequence for encoding "UTF8": 0x00')
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("invalid Unicode: a lone surrogate (\\ud800-\\udfff)") from None
    return v


INF = float("inf")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MAX_RAW = 1000          # characters of a bad record kept in its dead letter
MAX_DEPTH = 64          # JSON nesting beyond this is refused before parsing (no recursion on data)


@lru_cache(maxsize=256)
def _normal(sql_type: str) -> str:
    try:
        return normalize(sql_type)
    except ValueError:
        return TEXT


class Decoder:
    def __init__(self, source: SourceDef, bound_future: bool = True):
        """``bound_future``: refuse events beyond the source's max_future (the stream; batch reads
        of history do not)."""
        self.source = source
        self.types = source.column_types()
        # numeric columns need every JSON number's exact text; otherwise Python's float parse is
        # exact except where it is lossy (inf from overflow, 0.0 from underflow, NaN): re-read those
        self.exact_text = any(base(_normal(t)) == NUMERIC for t in self.types.values())
        future = getattr(source, "max_future", None) if bound_future else None
        self.horizon = None if future is None else timedelta(microseconds=future)

    def decode_obj(self, obj: Any, raw: str) -> dict | DeadLetter:
        if not isinstance(obj, dict):
            return DeadLetter(self.source.name, raw[:MAX_RAW], "not a JSON object")
        row = {}
        for name, sql_type in self.types.items():
            try:
                row[name] = _coerce(obj.get(name), sql_type)
            except Exception as exc:  # noqa: BLE001 - whatever a value does, it is this record's dead letter
                return DeadLetter(self.source.name, raw[:MAX_RAW], f"column {name!r} ({sql_type}): {_reason(exc)}")
        ts = row[self.source.timestamp]
        if ts is None:
            return DeadLetter(self.source.name, raw[:MAX_RAW], f"missing timestamp column {self.source.timestamp!r}")
        if self.horizon is not None:
            limit = datetime.now(timezone.utc) + self.horizon
            if ts > limit:
                return DeadLetter(self.source.name, raw[:MAX_RAW],
                                  f"future: event time {ts.isoformat()} is more than max_future "
                                  f"({self.horizon}) ahead of the clock ({limit.isoformat()})")
        return row

    def decode_json(self, line: str | bytes) -> dict | DeadLetter:
        try:
            text = line.decode("utf-8") if isinstance(line, bytes) else line
        except UnicodeDecodeError as exc:
            raw = line[:MAX_RAW]
            return DeadLetter(self.source.name, raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw,
                              f"invalid UTF-8 at byte {exc.start}")
        if _too_deep(text):
            return DeadLetter(self.source.name, text[:MAX_RAW], f"invalid JSON: nested deeper than {MAX_DEPTH} levels")
        try:
            if self.exact_text:
                obj = json.loads(text, parse_float=JsonNumber, parse_constant=JsonNumber)
            else:
                obj = json.loads(text)
                if isinstance(obj, dict) and any(type(v) is float and (v == 0.0 or v - v != 0.0) for v in obj.values()):
                    obj = json.loads(text, parse_float=JsonNumber, parse_constant=JsonNumber)
        except json.JSONDecodeError as exc:
            return DeadLetter(self.source.name, text[:MAX_RAW], f"invalid JSON: {exc.msg} at column {exc.colno}")
        except Exception as exc:  # noqa: BLE001 - e.g. an integer of more than 4,300 digits
            return DeadLetter(self.source.name, text[:MAX_RAW], f"invalid JSON: {_reason(exc)}")
        return self.decode_obj(obj, text)


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_OPEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """More than ``limit`` nested arrays/objects (brackets inside strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for m in _OPEN.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return True
        elif c in "]}":
            depth -= 1
    return False
