"""On-demand features (a model's ``on_demand``): SQL expressions over the request features and the
model's view features, evaluated by the registry's evaluator — Postgres's semantics — over each
training-set row, exactly as `Scorer` evaluates them over each request (one implementation for
both: training equals serving by construction)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from skewless.compiler.contract import (
    CompiledProject, Diagnostic, model_feature_columns, ModelDef, scalar_type, SkewlessError, SqlError,
)

from ..stream.expr import Fn, compile_expr

_ARROW = {"double precision": pa.float64(), "real": pa.float64(), "bigint": pa.int64(), "integer": pa.int64(),
          "smallint": pa.int64(), "boolean": pa.bool_(), "text": pa.string()}


def input_types(compiled: CompiledProject, model: ModelDef) -> dict[str, str]:
    """Feature name -> type: the request features (label source columns) and the view features."""
    types = {c: compiled.project.sources[model.label.source].column_types()[c] for c in model.request_features}
    for view, column, name in model_feature_columns(model, compiled.views):
        types[name] = compiled.views[view].column(column).type
    return types


def compiled_expressions(compiled: CompiledProject, model: ModelDef) -> list[tuple[str, Fn, str]]:
    """(name, fn(row), result type) per on-demand feature."""
    types = input_types(compiled, model)
    return [(name, compile_expr(sql, types), scalar_type(sql, types)) for name, sql in model.on_demand.items()]


def add_columns(compiled: CompiledProject, model: ModelDef, table: pa.Table) -> pa.Table:
    """``table`` (a training set) with one column per on-demand feature."""
    exprs = compiled_expressions(compiled, model)
    if not exprs:
        return table
    rows = table.select([c for c in input_types(compiled, model) if c in table.column_names]).to_pylist()
    for name, fn, typ in exprs:
        values = []
        for i, row in enumerate(rows):
            try:
                values.append(fn(row))
            except SqlError as exc:  # the model file's entry, as validate names it
                where, line, col = compiled.project.model_location(model.name, on_demand=name)
                raise SkewlessError(Diagnostic(where, line, col, f"model {model.name!r}: on-demand feature {name!r} "
                                               f"fails on training row {i}: {exc}",
                                               "guard it in SQL, e.g. NULLIF(x, 0)")) from None
        arrow = _ARROW.get(typ)
        table = table.append_column(pa.field(name, arrow) if arrow else name, pa.array(values, type=arrow))
    return table


def add_to_file(compiled: CompiledProject, model: ModelDef, path: Path) -> None:
    """`add_columns` on a training-set file, its metadata kept."""
    if not model.on_demand:
        return
    table = pq.read_table(path)
    pq.write_table(add_columns(compiled, model, table).replace_schema_metadata(table.schema.metadata), path)
