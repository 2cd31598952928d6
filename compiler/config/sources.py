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


def _unique_columns(columns: list[ColumnDef]) -> None:
    names = [c.name for c in columns]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"duplicate column(s): {', '.join(sorted(dupes))}")


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
        _unique_columns(self.columns)
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


class DimensionDef(Frozen):
    """A dimension table (``dimensions:`` in a sources file): rows a view joins to its events with
    ``LEFT JOIN {{ source('name') }} AS d ON d.<key> = <event column> ...``. ``key`` is unique per
    row — or, with ``valid_from``/``valid_to`` (a versioned table, as a dbt snapshot writes it), per
    version: a key's versions cover disjoint ranges [valid_from, valid_to), valid_to NULL for the
    current one. Read from ``batch.path`` (a file) or ``batch.table`` (in the batch engine)."""

    name: Identifier
    description: str = ""
    columns: list[ColumnDef]
    key: list[Identifier]
    valid_from: Identifier | None = None
    valid_to: Identifier | None = None
    batch: BatchBinding = BatchBinding()
    # changes since the batch table, one JSON row per message (continuous Kafka runs, serving)
    stream: StreamBinding = StreamBinding()

    @model_validator(mode="after")
    def _check(self) -> "DimensionDef":
        _unique_columns(self.columns)
        types = self.column_types()
        if not self.key:
            raise ValueError("a dimension needs a key: the column(s) a view joins on, unique per row (or version)")
        for key in self.key:
            if key not in types:
                raise ValueError(f"key column {key!r} is not among the columns")
        if (self.valid_from is None) != (self.valid_to is None):
            raise ValueError("a versioned dimension names both valid_from and valid_to (valid_to NULL: current)")
        for what in ("valid_from", "valid_to"):
            col = getattr(self, what)
            if col is None:
                continue
            if col not in types:
                raise ValueError(f"{what} column {col!r} is not among the columns")
            if not types[col].startswith("timestamp"):
                raise ValueError(f"{what} column {col!r} has type {types[col]}, expected timestamptz")
            if col in self.key:
                raise ValueError(f"{what} column {col!r} is also a key column")
        if not self.batch.path and not self.batch.table:
            raise ValueError("a dimension needs batch.path (a file) or batch.table")
        if self.stream.file or self.stream.format:
            raise ValueError("a dimension's stream is a Kafka topic of changes (stream: {topic: ...}); its rows "
                             "come from batch.path or batch.table")
        return self

    @property
    def versioned(self) -> bool:
        return self.valid_from is not None

    def column_types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}


class SourcesFile(Frozen):
    sources: list[SourceDef] = []
    dimensions: list[DimensionDef] = []
