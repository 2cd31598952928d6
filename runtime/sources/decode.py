"""Decode raw events (JSON objects, CSV rows) against a source's declared schema.

Anything that does not fit becomes a `DeadLetter` with the reason; it never stops the job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from skewless.compiler.config.sources import SourceDef


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
    if v is None:
        return None
    t = sql_type.lower()
    if t.startswith("timestamp"):
        return _timestamp(v)
    if t in ("boolean", "bool"):
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "t", "1", "false", "f", "0"):
            return v.lower() in ("true", "t", "1")
        raise ValueError(f"not a boolean: {v!r}")
    if t in ("int", "integer", "bigint", "smallint", "int4", "int8", "int2"):
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise ValueError(f"not an integer: {v!r}")
        return int(v)
    if t in ("double precision", "double", "float", "real", "float8", "float4") or t.startswith(("numeric", "decimal")):
        if isinstance(v, bool):
            raise ValueError(f"not a number: {v!r}")
        return float(v)
    return v if isinstance(v, str) else json.dumps(v) if isinstance(v, (dict, list)) else str(v)


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
            except (ValueError, TypeError, OverflowError) as exc:
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
