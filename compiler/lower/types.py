"""Type inference for scalar expressions, on top of sqlglot's annotate_types."""

from __future__ import annotations

from functools import lru_cache

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types

T = exp.DataType.Type
NUMERIC = exp.DataType.NUMERIC_TYPES
TEMPORAL = exp.DataType.TEMPORAL_TYPES
TEXT = exp.DataType.TEXT_TYPES
INTEGER = exp.DataType.INTEGER_TYPES


def type_name(dt: exp.DataType | None) -> str:
    if dt is None or dt.this in (T.UNKNOWN, T.NULL):
        return "unknown"
    if dt.this in (T.TIMESTAMPTZ, T.TIMESTAMP, T.TIMESTAMPLTZ):
        return "timestamptz"
    if dt.this in INTEGER and dt.this not in (T.INT, T.SMALLINT, T.TINYINT):
        return "bigint"
    if dt.this in (T.INT, T.SMALLINT, T.TINYINT):
        return "integer"
    if dt.this in (T.DOUBLE, T.FLOAT):
        return "double precision"
    if dt.this in TEXT:
        return "text"
    return dt.sql("postgres").lower()


@lru_cache(maxsize=256)
def normalize(type_str: str) -> str:
    return type_str if type_str == "unknown" else type_name(exp.DataType.build(type_str, dialect="postgres"))


@lru_cache(maxsize=256)
def kind(type_str: str) -> str:
    """Coarse family of a postgres type name: numeric, text, boolean, temporal, interval, other."""
    dt = exp.DataType.build(type_str, dialect="postgres") if type_str != "unknown" else None
    if dt is None:
        return "unknown"
    if dt.this in NUMERIC:
        return "numeric"
    if dt.this in TEXT:
        return "text"
    if dt.this == T.BOOLEAN:
        return "boolean"
    if dt.this in TEMPORAL:
        return "temporal"
    if dt.this == T.INTERVAL:
        return "interval"
    return "other"


def annotate(node: exp.Expression, columns: dict[str, str]) -> str:
    """Annotate ``node`` (bare column references) against ``columns`` and return its type name."""
    if isinstance(node, exp.Column) and node.name in columns:
        return normalize(columns[node.name])  # the common case: a pass-through column or a lone aggregate
    return _annotate_cached(node.sql("postgres"), tuple(sorted(columns.items())), node)


_CACHE: dict[tuple[str, tuple], str] = {}


def _annotate_cached(key_sql: str, cols: tuple, node: exp.Expression) -> str:
    key = (key_sql, cols)
    if key not in _CACHE:
        if len(_CACHE) > 4096:
            _CACHE.clear()
        _CACHE[key] = _annotate(node, dict(cols))
    return _CACHE[key]


def _annotate(node: exp.Expression, columns: dict[str, str]) -> str:
    def qualify(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and not isinstance(n.this, exp.Star):
            return exp.column(n.name, table="__t")
        return n

    wrapper = exp.select(node.copy().transform(qualify, copy=False).as_("__x")).from_("__t")
    schema = {"__t": dict(columns)}
    typed = annotate_types(wrapper, schema=schema, dialect="postgres")
    root = typed.expressions[0].this
    _fix(root)
    return type_name(root.type)


def _fix(node: exp.Expression) -> None:
    """Postgres rules that annotate_types does not model: ts - ts is an interval, EXTRACT is numeric."""
    for child in node.iter_expressions():
        _fix(child)
    if isinstance(node, exp.Sub) and _is_temporal(node.left) and _is_temporal(node.right):
        node.type = exp.DataType.build("INTERVAL")
    elif isinstance(node, exp.Extract):
        node.type = exp.DataType.build("DOUBLE")
    elif isinstance(node, (exp.Paren, exp.Coalesce)) and node.this is not None and node.this.type is not None:
        if node.this.type.this == T.INTERVAL:
            node.type = node.this.type


def _is_temporal(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in TEMPORAL
