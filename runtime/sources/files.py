"""File sources (JSONL, CSV, Parquet) read into Arrow with the source's declared schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from skewless.compiler.contract import (
    base_type as base, BOOL, DimensionDef, FLOAT8, INT2, INT4, INT8, INTERVAL, normalize, NUMERIC, numeric_typmod,
    SourceDef, TEXT, TSTZ,
)


def arrow_type(sql_type: str) -> pa.DataType:
    """The one map from Postgres types to Arrow (sources, per-event outputs, training sets).
    numeric(p,s) with p <= 38 is an exact decimal128; unconstrained numeric is a double in files."""
    try:
        t = normalize(sql_type)
    except ValueError:
        return pa.string()
    tm = numeric_typmod(t)
    if tm is not None and tm[0] <= 38:
        return pa.decimal128(*tm)
    return {INT2: pa.int16(), INT4: pa.int32(), INT8: pa.int64(), FLOAT8: pa.float64(), BOOL: pa.bool_(),
            TSTZ: pa.timestamp("us", tz="UTC"), INTERVAL: pa.duration("us"), TEXT: pa.string()}.get(base(t), pa.float64()
                                                                                                   if base(t) == NUMERIC else pa.string())


def schema_of(source: SourceDef | DimensionDef) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c.type)) for c in source.columns])


def detect_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = path.suffix.lower()
    return {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl",
            ".ndjson": "jsonl"}.get(suffix, "jsonl")


def read_file(path: Path, fmt: str, schema: pa.Schema, source: SourceDef | None = None) -> pa.Table:
    """A file as an Arrow table of the declared schema. JSONL and CSV go through the stream's
    `Decoder` (one set of rules: JSON numbers read as Postgres reads their text, epoch or ISO
    timestamps, empty CSV fields are NULL); records it refuses are left out and logged, as the
    stream dead-letters them. Parquet is typed already: cast to the schema."""
    if fmt == "parquet":
        return conform(pq.read_table(path), schema)
    if source is None:
        if fmt == "csv":
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=schema))
        else:
            table = pajson.read_json(path, parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                                              unexpected_field_behavior="ignore"))
        return conform(table, schema)
    return _decoded(path, fmt, schema, source)


def _decoded(path: Path, fmt: str, schema: pa.Schema, source: SourceDef) -> pa.Table:
    import csv

    from .. import log
    from .decode import Decoder

    decoder = Decoder(source, bound_future=False)
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    batches: list = []
    rows: list[dict] = []
    dead, first = 0, None

    def flush():
        if rows:
            for r in rows:
                for c in floats:
                    if r[c] is not None and not isinstance(r[c], float):
                        r[c] = float(r[c])  # unconstrained numeric: a double in files (arrow_type)
            batches.append(pa.Table.from_pylist(rows, schema=schema))
            rows.clear()

    def take(rec):
        nonlocal dead, first
        if isinstance(rec, dict):
            rows.append(rec)
            if len(rows) >= 50_000:
                flush()
        else:
            dead += 1
            first = first or rec.reason

    if fmt == "csv":
        with open(path, newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                take(decoder.decode_obj({k: (v if v != "" else None) for k, v in row.items()}, str(row)))
    else:
        with open(path, "rb") as binary:
            for line in binary:
                if line.strip():
                    take(decoder.decode_json(line))
    flush()
    if dead:
        log.warning("batch.records_refused", source=source.name, file=str(path), records=dead, first_reason=first)
    return pa.concat_tables(batches) if batches else schema.empty_table()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast to the declared schema (naive timestamps are UTC)."""
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        col = table[field.name]
        if pa.types.is_timestamp(field.type) and pa.types.is_timestamp(col.type) and col.type.tz is None:
            col = pc.assume_timezone(col, "UTC")
        columns.append(col.cast(field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def batch_file(source: SourceDef | DimensionDef, root: Path) -> Path | None:
    """The file a source's batch data is read from: its batch path, else its stream file (None:
    neither is declared)."""
    stream = getattr(source, "stream", None)  # a dimension has none
    path_str = source.batch.path or (stream.file if stream is not None else None)
    if not path_str:
        return None
    return (root / path_str) if not Path(path_str).is_absolute() else Path(path_str)


def read_batch_source(source: SourceDef, root: Path) -> pa.Table:
    path = batch_file(source, root)
    if path is None:
        raise FileNotFoundError(f"source {source.name!r} has no batch path or stream file")
    binding = source.batch if source.batch.path else source.stream
    return read_file(path, detect_format(path, binding.format), schema_of(source), source)
