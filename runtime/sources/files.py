"""File sources (JSONL, CSV, Parquet) read into Arrow with the source's declared schema."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from skewless.compiler.config.sources import SourceDef
from skewless.compiler.functions.pgtypes import BOOL, FLOAT8, INT2, INT4, INT8, INTERVAL, NUMERIC, TEXT, TSTZ, base, \
    normalize, numeric_typmod


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


def schema_of(source: SourceDef) -> pa.Schema:
    return pa.schema([(c.name, arrow_type(c.type)) for c in source.columns])


def detect_format(path: Path, declared: str | None) -> str:
    if declared:
        return declared
    suffix = path.suffix.lower()
    return {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl",
            ".ndjson": "jsonl"}.get(suffix, "jsonl")


def read_file(path: Path, fmt: str, schema: pa.Schema) -> pa.Table:
    if fmt == "parquet":
        table = pq.read_table(path)
    elif fmt == "csv":
        table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=schema))
    else:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                                          unexpected_field_behavior="ignore"))
    return conform(table, schema)


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


def read_batch_source(source: SourceDef, root: Path) -> pa.Table:
    binding = source.batch if source.batch.path else source.stream
    path_str = binding.path if binding is source.batch else source.stream.file
    if not path_str:
        raise FileNotFoundError(f"source {source.name!r} has no batch path or stream file")
    path = (root / path_str) if not Path(path_str).is_absolute() else Path(path_str)
    return read_file(path, detect_format(path, binding.format), schema_of(source))
