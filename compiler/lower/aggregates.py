"""Window function calls -> IR `Aggregate`s: function family, argument, FILTER, type rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..errors import ViewError
from .positions import Locator
from .types import annotate, kind

FAMILIES: dict[type[exp.Expression], str] = {
    exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
    exp.Stddev: "stddev_samp", exp.StddevSamp: "stddev_samp", exp.StddevPop: "stddev_pop",
    exp.Variance: "var_samp", exp.VariancePop: "var_pop",
    exp.LogicalOr: "bool_or", exp.LogicalAnd: "bool_and",
    exp.FirstValue: "first_value", exp.LastValue: "last_value", exp.Lag: "lag",
}
NEEDS_NUMERIC = {"sum", "avg", "var_samp", "var_pop", "stddev_samp", "stddev_pop"}
NEEDS_ORDERABLE = {"min", "max"}
NEEDS_BOOLEAN = {"bool_or", "bool_and"}
RANKING = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.NthValue, exp.PercentRank, exp.CumeDist, exp.Ntile)


@dataclass(frozen=True)
class Call:
    func: str
    arg: exp.Expression | None
    filter: exp.Expression | None
    offset: int
    default: exp.Expression | None
    node: exp.Expression


def split_call(window: exp.Window, loc: Locator) -> Call:
    """Identify the function under OVER (unwrapping FILTER)."""
    fn = window.this
    filt = None
    if isinstance(fn, exp.Filter):
        filt = fn.expression.this if isinstance(fn.expression, exp.Where) else fn.expression
        fn = fn.this
    if isinstance(fn, (exp.IgnoreNulls, exp.RespectNulls)):
        raise ViewError("IGNORE NULLS / RESPECT NULLS are not supported", "filter NULLs with FILTER (WHERE x IS NOT NULL)",
                        loc.keyword_in(fn, "IGNORE|RESPECT"))
    if isinstance(fn, exp.Lead):
        raise ViewError("LEAD() reads a later event: it needs the future",
                        "online features can only look back: use LAG()", loc.offset(fn))
    if isinstance(fn, RANKING):
        raise ViewError(f"{fn.sql_name()}() is not supported",
                        "for a running count use COUNT(*) OVER (... ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
                        loc.offset(fn))
    if isinstance(fn, exp.Count):
        inner = fn.this
        if isinstance(inner, exp.Star) or inner is None:
            return Call("count_star", None, filt, 1, None, fn)
        if isinstance(inner, exp.Distinct):
            if len(inner.expressions) != 1:
                raise ViewError("COUNT(DISTINCT ...) takes one expression", "count distinct values of one column or expression",
                                loc.offset(fn))
            return Call("count_distinct", inner.expressions[0], filt, 1, None, fn)
        return Call("count", inner, filt, 1, None, fn)
    family = FAMILIES.get(type(fn))
    if family is None:
        name = fn.name if isinstance(fn, exp.Anonymous) else fn.sql_name() if isinstance(fn, exp.Func) else fn.sql()
        raise ViewError(f"{name}() is not a supported window function",
                        "supported: COUNT, SUM, AVG, MIN, MAX, STDDEV/VARIANCE, BOOL_OR/AND, COUNT(DISTINCT), "
                        "FIRST_VALUE, LAST_VALUE, LAG", loc.offset(fn))
    if filt is not None and family in ("first_value", "last_value", "lag"):
        raise ViewError(f"FILTER is not allowed on {family.upper()}()", "FILTER applies to aggregate functions only; "
                        "filter rows with WHERE or use CASE inside the argument", loc.keyword_in(window, "FILTER"))
    arg = fn.this
    if isinstance(arg, exp.Distinct):
        raise ViewError(f"{family.upper()}(DISTINCT ...) is not supported", "only COUNT(DISTINCT x) is", loc.offset(fn))
    offset, default = 1, None
    if family == "lag":
        off = fn.args.get("offset")
        if off is not None:
            if not (isinstance(off, exp.Literal) and not off.is_string and off.this.isdigit()):
                raise ViewError("LAG offset must be a non-negative integer constant", "e.g. LAG(amount, 2)", loc.offset(off))
            offset = int(off.this)
        default = fn.args.get("default")
    return Call(family, arg, filt, offset, default, fn)


def check_types(call: Call, columns: dict[str, str], loc: Locator) -> tuple[str | None, str]:
    """Return (argument type, result type) or raise on a type error."""
    if call.filter is not None:
        ftype = annotate(call.filter, columns)
        if kind(ftype) not in ("boolean", "unknown"):
            raise ViewError(f"FILTER (WHERE ...) must be boolean, got {ftype}", "write a predicate such as status = 'ok'",
                            loc.offset(call.filter))
    if call.arg is None:
        return None, "bigint"
    atype = annotate(call.arg, columns)
    family = kind(atype)
    name = call.func.upper()
    if call.func in NEEDS_NUMERIC and family not in ("numeric", "unknown"):
        raise ViewError(f"{name}() of {atype} expression {call.arg.sql('postgres')}", f"{name} needs a numeric argument",
                        loc.offset(call.arg))
    if call.func in NEEDS_ORDERABLE and family not in ("numeric", "text", "temporal", "interval", "unknown"):
        raise ViewError(f"{name}() of {atype} expression {call.arg.sql('postgres')}",
                        f"{name} needs a number, text or timestamp", loc.offset(call.arg))
    if call.func in NEEDS_BOOLEAN and family not in ("boolean", "unknown"):
        raise ViewError(f"{name}() of {atype} expression {call.arg.sql('postgres')}",
                        f"{name} needs a boolean argument (e.g. {name}(amount > 100))", loc.offset(call.arg))
    if call.func in ("count", "count_distinct"):
        return atype, "bigint"
    if call.func == "sum":
        return atype, "bigint" if atype in ("integer", "bigint", "smallint") else atype
    if call.func in ("avg", "var_samp", "var_pop", "stddev_samp", "stddev_pop"):
        return atype, "numeric" if atype == "numeric" else "double precision"
    if call.func in NEEDS_BOOLEAN:
        return atype, "boolean"
    return atype, atype
