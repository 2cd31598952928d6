"""DuckDB. Binary text order, half-even float->integer casts and truncating ``//`` match Postgres;
ROUND(double), CONCAT of booleans, LIKE's escape and unconstrained NUMERIC are spelled out.
DuckDB computes numeric division, averages and EXTRACT(EPOCH) in double precision: such values
are exact enough as results, but rounding, casting or comparing them is refused."""

from __future__ import annotations

from sqlglot import exp

from ..pgtypes import BOOL, FLOAT8, INTEGERS, NUMERIC, TEXT, TSTZ, UNKNOWN, base, numeric_typmod
from ..typecheck import unparen
from . import Ctx, NotExact, int_literal, is_float, is_int

POP_VARIANCES = (exp.VariancePop, exp.StddevPop)
APPROX_SOURCES = (exp.Avg, exp.Variance, exp.VariancePop, exp.Stddev, exp.StddevPop, exp.StddevSamp)
DISCONTINUOUS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.Between, exp.In, exp.Round, exp.Floor,
                 exp.Ceil, exp.Sign, exp.Mod, exp.Cast, exp.DPipe, exp.Concat, exp.NullSafeEQ, exp.NullSafeNEQ,
                 exp.Nullif)
EXACT_EXTRACT = {"year", "quarter", "month", "week", "day", "dow", "isodow", "doy", "hour", "minute",
                 "microsecond", "microseconds", "isoyear", "decade", "century", "millennium"}


def _escape(node: exp.Expression) -> exp.Expression:
    return exp.Escape(this=node.copy(), expression=exp.Literal.string("\\"))


def _substring(node: exp.Substring) -> exp.Expression:
    """Postgres's SUBSTRING(s FROM a FOR b): the characters at positions a .. a+b-1 that exist (a
    start before 1 shortens the result); DuckDB counts a negative start from the end."""
    start, length = node.args.get("start"), node.args.get("length")
    if start is None or int_literal(start, 1):
        return node
    if length is not None and not int_literal(length):
        raise NotExact("SUBSTRING() from a computed or non-positive start with a computed length",
                       "Postgres raises an error for a negative length")
    lo = exp.Greatest(this=start.copy(), expressions=[exp.Literal.number(1)])
    out = exp.Substring(this=node.this.copy(), start=lo)
    if length is not None:
        out.set("length", exp.Greatest(this=exp.Sub(this=exp.Paren(this=exp.Add(this=start.copy(), expression=length.copy())),
                                                    expression=lo.copy()), expressions=[exp.Literal.number(0)]))
    return out


def rewrite(node: exp.Expression, ctx: Ctx, max_decimal: int = 38):
    t = ctx.type(node)
    if isinstance(node, exp.Substring):
        return _substring(node)
    if isinstance(node, DISCONTINUOUS):
        for child in node.iter_expressions():
            if ctx.is_approx(child):
                raise NotExact(node.sql("postgres")[:80], f"{ctx.dialect} computes this numeric value in double "
                               "precision, and the result here depends on its exact digits")
    if isinstance(node, exp.Window) and base(t) == NUMERIC:
        ctx.approx.add(id(node))
    if isinstance(node, exp.Div):
        if is_int(ctx, node.this) and is_int(ctx, node.expression):
            return exp.IntDiv(this=node.this.copy(), expression=node.expression.copy())
        if base(t) == NUMERIC:
            ctx.approx.add(id(node))
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Neg, exp.Abs, exp.Coalesce, exp.Case, exp.Greatest,
                         exp.Least, exp.Paren)):
        if any(ctx.is_approx(c) for c in node.iter_expressions()) or (
                isinstance(node, exp.Case) and any(ctx.is_approx(i.args.get("true")) for i in node.args.get("ifs") or [])):
            ctx.approx.add(id(node))
    if isinstance(node, exp.Extract) and t == NUMERIC:
        field = node.this.name.lower()
        if field == "epoch":
            ctx.approx.add(id(node))
        elif field not in EXACT_EXTRACT:
            raise NotExact(f"EXTRACT({field.upper()})", f"{ctx.dialect} drops the fraction of a second")
    if isinstance(node, exp.Window) and isinstance(node.this, POP_VARIANCES) and is_float(ctx, node.this.this) \
            and not node.meta.get("nan_guarded"):
        # Postgres: the population variance of one NaN or ±Infinity is NaN; DuckDB gives 0.
        # + 0 * SUM(x) over the same frame adds NaN exactly then (0 * ±Infinity, NaN + 0) and
        # nothing otherwise (0 * a finite sum is zero; a sum that overflows errors in Postgres).
        variance, total = node.copy(), node.copy()
        variance.meta["nan_guarded"] = True
        total.set("this", exp.Sum(this=node.this.this.copy()))
        return exp.Paren(this=exp.Add(this=variance, expression=exp.Mul(this=exp.Literal.number(0), expression=total)))
    if isinstance(node, exp.Round) and is_float(ctx, node.this):
        return exp.Anonymous(this="ROUND_EVEN", expressions=[node.this.copy(), exp.Literal.number(0)])
    if isinstance(node, exp.Upper):
        raise NotExact("UPPER()", "DuckDB maps 'ß' to 'ẞ' (Postgres keeps it)")
    if isinstance(node, (exp.Like, exp.ILike)) and not isinstance(node.parent, exp.Escape):
        return _escape(node)
    if isinstance(node, exp.Column) and t == NUMERIC:
        ctx.approx.add(id(node))  # unconstrained numeric columns are doubles in DuckDB
    if isinstance(node, exp.Concat):
        parts = []
        for e in node.expressions:
            te = ctx.type(e)
            if te == BOOL:
                e = exp.Case(ifs=[exp.If(this=e.copy(), true=exp.Literal.string("t")),
                                  exp.If(this=exp.Not(this=e.copy()), true=exp.Literal.string("f"))])
            elif te not in (TEXT, UNKNOWN) and te not in INTEGERS:
                raise NotExact(f"CONCAT of {te}", f"{ctx.dialect} formats {te} values differently from Postgres")
            parts.append(e.copy() if not isinstance(e, exp.Case) else e)
        return exp.Concat(expressions=parts, safe=True, coalesce=True)
    if isinstance(node, exp.DPipe):
        for e in (node.this, node.expression):
            te = ctx.type(e)
            if te not in (TEXT, UNKNOWN, BOOL) and te not in INTEGERS:
                raise NotExact(f"|| with {te}", f"{ctx.dialect} formats {te} values differently from Postgres")
    if isinstance(node, exp.Cast):
        return _cast(node, ctx, max_decimal)
    return None


def _cast(node: exp.Cast, ctx: Ctx, max_decimal: int):
    src, dst = ctx.type(node.this), ctx.type(node)
    s, d = base(src), base(dst)
    inner = unparen(node.this)
    if src == UNKNOWN and isinstance(inner, exp.Literal) and inner.is_string:
        if d == TSTZ:
            from ..pgvalues import text_to_timestamptz, timestamptz_text

            lit = timestamptz_text(text_to_timestamptz(inner.this))
            return exp.Cast(this=exp.Literal.string(lit), to=exp.DataType.build("TIMESTAMPTZ"))
        if d in (FLOAT8, *INTEGERS, TEXT):
            return None
        if d == BOOL:
            from ..pgvalues import text_to_bool

            return exp.Boolean(this=text_to_bool(inner.this))
        if d == NUMERIC and dst == NUMERIC:
            from ..pgvalues import dscale, text_to_numeric

            v = text_to_numeric(inner.this)
            if not v.is_finite():
                raise NotExact("numeric NaN/Infinity", f"{ctx.dialect} has no such decimal")
            digits = len(v.as_tuple().digits)
            return exp.Cast(this=inner.copy(), to=exp.DataType.build(
                f"DECIMAL({max(min(max(digits, dscale(v) + 1), max_decimal), 1)}, {dscale(v)})"))
    if src == UNKNOWN:
        return None
    if d == NUMERIC:
        tm = numeric_typmod(dst)
        if s == FLOAT8:
            if tm is not None:
                raise NotExact(f"CAST(double precision AS {dst})", "Postgres rounds through 15 significant digits")
            ctx.approx.add(id(node))
            return node.this.copy()  # stays double: the value is approximate here
        if s == TEXT:
            raise NotExact("CAST(text AS numeric)", f"{ctx.dialect} reads numeric text differently")
        if tm is None:
            if s in INTEGERS:
                return exp.Cast(this=node.this.copy(), to=exp.DataType.build(f"DECIMAL({max_decimal}, 0)"))
            return node.this.copy()  # numeric -> numeric: nothing to do
        if tm[0] > max_decimal:
            raise NotExact(f"NUMERIC({tm[0]},{tm[1]})", f"{ctx.dialect} decimals hold at most {max_decimal} digits")
        return exp.Cast(this=node.this.copy(), to=exp.DataType.build(f"DECIMAL({tm[0]}, {tm[1]})"))
    if d == TEXT and s not in INTEGERS and s not in (TEXT, BOOL):
        raise NotExact(f"CAST({src} AS text)", f"{ctx.dialect} formats {src} values differently from Postgres")
    if s == TEXT and d != TEXT:
        raise NotExact(f"CAST(text AS {dst})", f"{ctx.dialect} reads {dst} text differently from Postgres")
    return None
