"""Window function calls -> IR `Aggregate`s: function family, argument, FILTER, type rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..errors import ViewError
from .positions import Locator
from ..functions.pgtypes import BOOL, FLOAT8, INT2, INT4, INT8, NUMERIC, UNKNOWN, base, category

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
            if offset > 2 ** 31 - 1:  # lag(anyelement, integer): a bigint literal matches no function
                raise ViewError(f"function lag(..., bigint) does not exist: the LAG offset is an integer (at most "
                                f"2147483647), got {off.this}", "e.g. LAG(amount, 2)", loc.offset(off))
        default = fn.args.get("default")
    return Call(family, arg, filt, offset, default, fn)


def result_type(call: Call, atype: str | None, arg_node: exp.Expression | None, loc: Locator) -> str:
    """Postgres's result type of the window function over an argument of type ``atype``."""
    if call.func in ("count_star", "count", "count_distinct"):
        return INT8
    name = call.func.upper()
    if atype == UNKNOWN:
        raise ViewError(f"{name}() of an untyped literal", f"cast it: {name}(CAST(... AS <type>))", loc.offset(arg_node))
    cat, b = category(atype), base(atype)
    if call.func in NEEDS_NUMERIC:
        if cat != "number":
            raise ViewError(f"{name}() of {atype} expression {arg_node.sql('postgres')}", f"{name} needs a numeric argument",
                            loc.offset(arg_node))
        if call.func == "sum":
            return INT8 if b in (INT2, INT4) else NUMERIC if b in (INT8, NUMERIC) else FLOAT8
        return FLOAT8 if b == FLOAT8 else NUMERIC
    if call.func in NEEDS_ORDERABLE:
        if cat not in ("number", "text", "timestamp", "interval"):
            raise ViewError(f"{name}() of {atype} expression {arg_node.sql('postgres')}",
                            f"{name} needs a number, text or timestamp", loc.offset(arg_node))
        return b
    if call.func in NEEDS_BOOLEAN:
        if atype != BOOL:
            raise ViewError(f"{name}() of {atype} expression {arg_node.sql('postgres')}",
                            f"{name} needs a boolean argument (e.g. {name}(amount > 100))", loc.offset(arg_node))
        return BOOL
    return atype
