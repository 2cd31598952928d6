"""IR expressions compiled to Python closures: the registry's implementations
(`skewless.compiler.functions`), with Postgres's types and SQL NULL semantics.

Errors Postgres would raise while evaluating (division by zero, overflow, bad input) raise
`SqlError`; the stream turns the event into a dead letter with that reason."""

from __future__ import annotations

from typing import Any, Callable

from skewless.compiler.contract import compile_scalar, converter, FeatureView, SqlError

Row = dict[str, Any]
Fn = Callable[[Row], Any]


def input_types(view: FeatureView) -> dict[str, str]:
    return {c.name: c.type for c in view.input_columns}


def output_types(view: FeatureView) -> dict[str, str]:
    types = input_types(view)
    types.update({f"__{a.id}": a.type for a in view.aggregates})
    return types


def compile_expr(sql: str, columns: dict[str, str], to: str | None = None) -> Fn:
    """``sql`` over a row of ``columns``; with ``to``, the value converted to that type (as
    Postgres converts LAG's value and default to their common type)."""
    fn = compile_scalar(sql, columns)
    if to is None:
        return fn
    from skewless.compiler.contract import scalar_type

    conv = converter(scalar_type(sql, columns), to)
    if conv is None:
        return fn
    return lambda r: None if (v := fn(r)) is None else conv(v)


__all__ = ["compile_expr", "SqlError", "input_types", "output_types"]
