"""Spark SQL. Spark's CAST(double AS INT) truncates and ROUND rounds half up, so both are spelled
with BROUND; integer division is DIV. Functions whose Spark behaviour differs from Postgres on
some input (case mapping, SUBSTRING before position 1, CONCAT with NULLs, most EXTRACT fields)
are refused."""

from __future__ import annotations

from sqlglot import exp

from ..pgtypes import FLOAT8, INTEGERS, NUMERIC, base
from ..typecheck import unparen
from . import Ctx, NotExact, duckdb, int_literal

SPARK_EXTRACT = {"year", "month", "day", "hour", "minute", "quarter"}


def rewrite(node: exp.Expression, ctx: Ctx):
    if isinstance(node, (exp.Upper, exp.Lower)):
        raise NotExact(f"{node.sql_name()}()", "Java's case mapping differs from Postgres ('ß', 'İ')")
    if isinstance(node, exp.Concat):
        raise NotExact("CONCAT()", "Spark's CONCAT returns NULL when an argument is NULL")
    if isinstance(node, exp.Substring) and not int_literal(node.args.get("start"), 1):
        raise NotExact("SUBSTRING() from a computed or non-positive start", "Spark reads position 0 as 1")
    if isinstance(node, (exp.Left, exp.Right)) and not int_literal(node.expression, 1):
        raise NotExact(f"{node.sql_name()}() with a computed or negative length", "Spark returns '' for negative n")
    if isinstance(node, exp.Trim) and node.args.get("expression") is not None:
        raise NotExact("TRIM(chars FROM s)", "not verified on Spark")
    if isinstance(node, exp.Extract) and node.this.name.lower() not in SPARK_EXTRACT | {"epoch"}:
        raise NotExact(f"EXTRACT({node.this.name.upper()})", "Spark numbers these fields differently")
    if isinstance(node, exp.Extract) and node.this.name.upper() == "EPOCH":
        return _epoch(node, ctx)
    if isinstance(node, exp.Round) and base(ctx.type(node.this)) == FLOAT8:
        return exp.Anonymous(this="BROUND", expressions=[node.this.copy(), exp.Literal.number(0)])
    if isinstance(node, exp.Cast) and ctx.type(node) in INTEGERS:
        src = base(ctx.type(node.this))
        if src in (FLOAT8, NUMERIC):
            fn = "BROUND" if src == FLOAT8 else "ROUND"
            if ctx.is_approx(node.this):
                raise NotExact("CAST(numeric AS integer)", "the value is computed in double precision here")
            rounded = exp.Anonymous(this=fn, expressions=[node.this.copy(), exp.Literal.number(0)])
            return exp.Cast(this=rounded, to=node.to.copy())
    if isinstance(node, (exp.Like, exp.ILike)):
        return None  # Spark's default escape is the backslash
    if isinstance(node, (exp.Floor, exp.Ceil)) and base(ctx.type(node.this)) == FLOAT8 and not node.args.get("decimals"):
        return _float_floor(node)
    if isinstance(node, exp.Sign) and base(ctx.type(node.this)) == FLOAT8:
        # Postgres's sign(NaN) is 0 (neither > 0 nor < 0); Spark's signum(NaN) is NaN
        nan = exp.Anonymous(this="ISNAN", expressions=[node.this.copy()])
        return exp.Case(ifs=[exp.If(this=nan, true=exp.Literal.number("0.0"))], default=node.copy())
    return duckdb.rewrite(node, ctx)


def _float_floor(node: exp.Expression) -> exp.Expression:
    """Postgres's FLOOR/CEIL of a double is a double; Spark's is a BIGINT (overflowing on NaN,
    ±Infinity, |x| >= 2^63). Doubles of magnitude >= 2^52 (and NaN, ±Infinity) are their own floor."""
    x = node.this
    big = exp.Not(this=exp.Paren(this=exp.LT(this=exp.Abs(this=x.copy()),
                                             expression=exp.Literal.number("4503599627370496.0"))))
    rounded = exp.Cast(this=type(node)(this=x.copy()), to=exp.DataType.build("DOUBLE"))
    return exp.Case(ifs=[exp.If(this=big, true=x.copy())], default=rounded)


def _epoch(node: exp.Extract, ctx: Ctx) -> exp.Expression:
    """EXTRACT(EPOCH FROM ts or ts - ts) in microseconds / 1e6 (Spark has no epoch field)."""
    inner = unparen(node.expression)

    def micros(e):
        return exp.Anonymous(this="UNIX_MICROS", expressions=[e.copy()])

    if isinstance(inner, exp.Sub):
        diff = exp.Sub(this=micros(inner.this), expression=micros(inner.expression))
    else:
        diff = micros(inner)
    ctx.approx.add(id(node))
    return exp.Div(this=exp.Paren(this=diff), expression=exp.Literal.number("1000000.0"))
