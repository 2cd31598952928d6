"""CAST(x AS t) / x::t between the supported types, with Postgres's conversions:
float8 -> integer rounds half to even, numeric -> integer half away from zero, float8 -> numeric
through 15 significant digits, text input as Postgres's input functions read it."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import BOOL, FLOAT8, INT4, INTEGERS, INTERVAL, NUMERIC, TEXT, TSTZ, UNKNOWN, base
from ..registry import TypeErr, register


def cast_fn(src: str, dst: str):
    """The conversion of a non-NULL value, or None when Postgres has no such cast."""
    s, d = base(src), base(dst)
    typmod = (lambda v: V.n_typmod(v, dst)) if d == NUMERIC and dst != NUMERIC else (lambda v: v)
    if s == d:
        return typmod if d == NUMERIC else (lambda v: v)
    if s in INTEGERS:
        if d in INTEGERS:
            return lambda v: V.check_int(v, d)
        return {NUMERIC: lambda v: typmod(V.Decimal(v)), FLOAT8: float, TEXT: str,
                BOOL: (lambda v: v != 0) if s == INT4 else None}.get(d)
    if s == NUMERIC:
        if d in INTEGERS:
            return lambda v: V.numeric_to_int(v, d)
        return {FLOAT8: V.numeric_to_float, TEXT: V.numeric_text}.get(d)
    if s == FLOAT8:
        if d in INTEGERS:
            return lambda v: V.float_to_int(v, d)
        return {NUMERIC: lambda v: typmod(V.float_to_numeric(v)), TEXT: V.float_text}.get(d)
    if s == TEXT:
        from ..typecheck import parse_literal

        if d == INTERVAL:
            return None
        return lambda v: parse_literal(v, dst)
    if s == BOOL:
        return {TEXT: lambda v: "true" if v else "false", INT4: int}.get(d)
    if s == TSTZ:
        return {TEXT: V.timestamptz_text}.get(d)
    return None


@register(exp.Cast, "cast", "CAST(x AS t), x::t",
          "types: smallint, integer, bigint, numeric[(p,s)], double precision, text, boolean, timestamptz; "
          "interval from a literal only")
class _Cast:
    @staticmethod
    def typer(chk, node):
        from ..typecheck import cast_type, check_literal, unparen

        dst = cast_type(node.to, node.to)
        src = chk.type(node.this)
        if src == UNKNOWN:
            inner = unparen(node.this)
            if isinstance(inner, exp.Literal) and inner.is_string:
                check_literal(inner, dst, "fix the literal")
            return chk.set(node, dst)
        if cast_fn(src, dst) is None:
            raise TypeErr(f"cannot cast type {src} to {dst}", "see docs/sql-surface.md for the supported casts", node)
        return chk.set(node, dst)

    @staticmethod
    def build(cmp, node):
        from ..typecheck import parse_literal, unparen

        dst, src = cmp.type(node), cmp.type(node.this)
        if src == UNKNOWN:
            inner = unparen(node.this)
            value = parse_literal(inner.this, dst) if isinstance(inner, exp.Literal) else None
            return lambda r: value
        a, fn = cmp.compile(node.this), cast_fn(src, dst)
        return lambda r: None if (v := a(r)) is None else fn(v)
