"""Source declarations (``sources/*.yml``): schema, timestamp, unique key, stream and batch bindings."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator
from sqlglot import exp

from .base import DurationUs, Frozen, Identifier

FileFormat = Literal["jsonl", "csv", "parquet"]


def sql_type(value: str, dialect: str = "postgres") -> exp.DataType:
    return exp.DataType.build(value, dialect=dialect)


class ColumnDef(Frozen):
    name: Identifier
    type: str
    description: str = ""

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        try:
            dt = sql_type(value)
        except Exception:  # noqa: BLE001 - sqlglot's parse errors for a type name: the user's typo
            raise ValueError(f"unknown SQL type {value!r}") from None
        if dt.this == exp.DataType.Type.USERDEFINED:
            raise ValueError(f"unknown SQL type {value!r}")
        return dt.sql("postgres").lower()


class StreamBinding(Frozen):
    file: str | None = None
    format: FileFormat | None = None
    topic: str | None = None


class BatchBinding(Frozen):
    path: str | None = None
    format: FileFormat | None = None
    table: str | None = None


class SourceDef(Frozen):
    name: Identifier
    description: str = ""
    columns: list[ColumnDef]
    timestamp: Identifier
    unique_key: list[Identifier] = []
    allowed_lateness: DurationUs | None = None
    # the stream refuses (dead-letters) events dated more than this ahead of the wall clock, so one
    # bad clock cannot push the watermark into the future; null: no bound
    max_future: DurationUs | None = 3_600_000_000
    stream: StreamBinding = StreamBinding()
    batch: BatchBinding = BatchBinding()

    @model_validator(mode="after")
    def _check(self) -> "SourceDef":
        names = [c.name for c in self.columns]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate column(s): {', '.join(sorted(dupes))}")
        types = {c.name: c.type for c in self.columns}
        if self.timestamp not in types:
            raise ValueError(f"timestamp column {self.timestamp!r} is not among the columns")
        if not types[self.timestamp].startswith("timestamp"):
            raise ValueError(f"timestamp column {self.timestamp!r} has type {types[self.timestamp]}, expected timestamptz")
        for key in self.unique_key:
            if key not in types:
                raise ValueError(f"unique_key column {key!r} is not among the columns")
        return self

    def column_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}


class SourcesFile(Frozen):
    sources: list[SourceDef]
