"""Postgres's type names and the rules that relate them (the part of its type system a view uses).

Type names are Postgres's canonical spellings: ``smallint``, ``integer``, ``bigint``, ``numeric``
(or ``numeric(p,s)``), ``double precision``, ``text``, ``boolean``, ``timestamptz``, ``interval``;
``unknown`` is an untyped string literal or NULL (Postgres resolves it from context).
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlglot import exp

T = exp.DataType.Type
INT2, INT4, INT8, NUMERIC, FLOAT8 = "smallint", "integer", "bigint", "numeric", "double precision"
TEXT, BOOL, TSTZ, INTERVAL, UNKNOWN = "text", "boolean", "timestamptz", "interval", "unknown"
INTEGERS = (INT2, INT4, INT8)
NUMBERS = (*INTEGERS, NUMERIC, FLOAT8)
RANK = {INT2: 0, INT4: 1, INT8: 2, NUMERIC: 3, FLOAT8: 4}
INT_RANGE = {INT2: (-(2**15), 2**15 - 1), INT4: (-(2**31), 2**31 - 1), INT8: (-(2**63), 2**63 - 1)}
_NUMERIC_TYPMOD = re.compile(r"numeric\((\d+)(?:,\s*(-?\d+))?\)")


class UnsupportedType(ValueError):
    pass


_SQLGLOT = {
    T.SMALLINT: INT2, T.TINYINT: INT2, T.INT: INT4, T.BIGINT: INT8, T.DOUBLE: FLOAT8, T.FLOAT: FLOAT8,
    T.TEXT: TEXT, T.VARCHAR: TEXT, T.CHAR: TEXT, T.NCHAR: TEXT, T.NVARCHAR: TEXT, T.BOOLEAN: BOOL,
    T.TIMESTAMPTZ: TSTZ, T.TIMESTAMP: TSTZ, T.TIMESTAMPLTZ: TSTZ, T.INTERVAL: INTERVAL,
}


def from_datatype(dt: exp.DataType) -> str:
    """A sqlglot data type -> a canonical Postgres type name (raises `UnsupportedType`)."""
    if dt.this in (T.DECIMAL, T.BIGDECIMAL):
        params = [p.this.name if isinstance(p.this, exp.Literal) else p.sql() for p in dt.expressions]
        if not params:
            return NUMERIC
        p, s = int(params[0]), int(params[1]) if len(params) > 1 else 0
        if not 1 <= p <= 1000 or not 0 <= s <= p:
            raise UnsupportedType(f"NUMERIC({p},{s}): precision must be 1..1000 and scale 0..precision")
        return f"numeric({p},{s})"
    if dt.this in (T.VARCHAR, T.CHAR) and dt.expressions:
        raise UnsupportedType(f"{dt.sql('postgres')}: length-limited text types are not supported (use text)")
    if dt.this == T.FLOAT and dt.expressions:
        raise UnsupportedType(f"{dt.sql('postgres')}: use double precision")
    if dt.this == T.TIMESTAMP and dt.expressions:
        raise UnsupportedType(f"{dt.sql('postgres')}: timestamps carry microseconds (drop the precision)")
    if dt.this not in _SQLGLOT:
        raise UnsupportedType(f"type {dt.sql('postgres')} is not supported")
    return _SQLGLOT[dt.this]


@lru_cache(maxsize=512)
def normalize(type_str: str) -> str:
    """A declared type (a source schema, a cast) -> canonical name. ``real``/``float4`` are refused:
    Postgres computes them in single precision."""
    if type_str == UNKNOWN:
        return UNKNOWN
    low = type_str.strip().lower()
    if low in ("real", "float4"):
        raise UnsupportedType(f"{type_str}: single-precision floats are not supported (use double precision)")
    return from_datatype(exp.DataType.build(low, dialect="postgres"))


def base(t: str) -> str:
    return NUMERIC if t.startswith("numeric") else t


def numeric_typmod(t: str) -> tuple[int, int] | None:
    m = _NUMERIC_TYPMOD.fullmatch(t)
    return (int(m.group(1)), int(m.group(2) or 0)) if m else None


def is_number(t: str) -> bool:
    return base(t) in NUMBERS


def is_integer(t: str) -> bool:
    return t in INTEGERS


def category(t: str) -> str:
    b = base(t)
    if b in NUMBERS:
        return "number"
    return {TEXT: "text", BOOL: "boolean", TSTZ: "timestamp", INTERVAL: "interval"}.get(b, "unknown")


def promote(a: str, b: str) -> str:
    """The common type of two numbers for arithmetic/comparison (Postgres's implicit casts)."""
    a, b = base(a), base(b)
    return a if RANK[a] >= RANK[b] else b


def datatype_sql(t: str) -> str:
    return {TSTZ: "TIMESTAMPTZ", FLOAT8: "DOUBLE PRECISION"}.get(t, t.upper())
