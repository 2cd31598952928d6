"""One IR aggregate -> one window-function expression in a target dialect."""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp

from ..ir import Aggregate, FeatureView, Frame
from .capabilities import BatchUnsupported, caps

CANON = "postgres"
SPINE_FLAG = "__is_spine"
_UNITS = [("week", 604_800_000_000), ("day", 86_400_000_000), ("hour", 3_600_000_000), ("minute", 60_000_000),
          ("second", 1_000_000), ("millisecond", 1_000), ("microsecond", 1)]
_FUNCS = {"sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX", "var_samp": "VAR_SAMP", "var_pop": "VAR_POP",
          "stddev_samp": "STDDEV_SAMP", "stddev_pop": "STDDEV_POP", "bool_or": "BOOL_OR", "bool_and": "BOOL_AND",
          "count": "COUNT", "first_value": "FIRST_VALUE", "last_value": "LAST_VALUE"}


@lru_cache(maxsize=8192)
def _parsed(sql: str) -> exp.Expression:
    tree = sqlglot.parse_one(sql, read=CANON)
    for node in tree.walk():
        node._meta = None  # token positions are not needed here and make every copy slower
    return tree


def P(sql: str) -> exp.Expression:
    """Parse canonical SQL (cached; callers get their own copy to mutate)."""
    return _parsed(sql).copy()


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def interval_sql(us: int, seconds: bool = False) -> str:
    """An exact INTERVAL literal; ``seconds`` spells it in (fractional) seconds, for dialects that
    need both frame bounds in one interval unit (Spark)."""
    if seconds:
        return f"INTERVAL '{us // 1_000_000}.{us % 1_000_000:06d} seconds'"
    for unit, size in _UNITS:
        if us % size == 0:
            n = us // size
            return f"INTERVAL '{n} {unit}{'s' if n != 1 else ''}'"
    raise AssertionError("unreachable")


def range_end_back(frame: Frame) -> int:
    """How far (µs) before the current time a RANGE frame over time ends: its end offset, or 1 µs
    when EXCLUDE GROUP/TIES leave the current time out (TIES adds the row back separately)."""
    if frame.end.kind == "preceding":
        return frame.end.offset or 0
    return 1 if frame.exclude in ("group", "ties") else 0


def spine_end_back(agg: Aggregate) -> int:
    """How far (µs) before a spine row's time ``t`` the RANGE frame it reads ends: the frame's end
    offset, or 1 µs when EXCLUDE GROUP/TIES leave out the events at exactly ``t`` (the spine row's
    peers) — unless the order is total (the spine row sorts after them, alone in its peer group)."""
    assert agg.frame is not None
    if agg.frame.end.kind != "preceding" and agg.total_order:
        return 0
    return range_end_back(agg.frame)


def masked_value(agg: Aggregate, spine: bool) -> tuple[str | None, str | None]:
    """(value SQL, predicate SQL): FILTER and the spine mask folded into CASE WHEN.

    Exact for every aggregate the IR allows FILTER on: they all skip NULLs, and CASE WHEN p THEN x
    END is NULL exactly where FILTER (WHERE p) would drop the row (p false or NULL)."""
    preds = [f"({agg.filter})"] if agg.filter else []
    if spine:
        preds.insert(0, f"{SPINE_FLAG} = 0")
    pred = " AND ".join(preds) if preds else None
    if agg.func == "count_star":
        return ("1" if pred else None), pred
    value = f"({agg.arg})" if agg.arg is not None else None
    if pred and value is not None:
        value = f"CASE WHEN {pred} THEN {value} END"
    return value, pred


def _call(agg: Aggregate, dialect: str, spine: bool, view: FeatureView) -> tuple[exp.Expression, exp.Expression | None]:
    """(the function under OVER, an optional wrapper applied to the window result)."""
    value, pred = masked_value(agg, spine)
    if agg.func == "count_star":
        return P(f"COUNT(CASE WHEN {pred} THEN 1 END)" if pred else "COUNT(*)"), None
    if agg.func == "count_distinct":
        if caps(dialect).count_distinct_window:
            return P(f"COUNT(DISTINCT {value})"), None
        if caps(dialect).count_distinct_collect_set:
            inner = sqlglot.parse_one(f"COLLECT_SET({_spark(value)})", read="spark")
            return inner, exp.ArraySize(this=exp.Placeholder())
        raise BatchUnsupported(view.name, "COUNT(DISTINCT ...) OVER a frame", dialect,
                               "no distinct window aggregate and no exact rewrite yet")
    if agg.func == "lag":
        default = f", {agg.default}" if agg.default is not None else ""
        return P(f"LAG({value}, {agg.offset}{default})"), None
    if caps(dialect).float_sums_in_numeric and agg.func in _INVERTIBLE_IN_NUMERIC and agg.arg_type in ("double precision", "real") \
            and agg.frame is not None and agg.frame.start.kind == "preceding":
        # Postgres has no inverse transition for float sums and variances: a sliding frame is
        # re-aggregated from scratch for every row (quadratic on dense keys: 11 s of a 30 s
        # training set). In numeric it slides incrementally; the float -> numeric cast keeps 15
        # significant digits, an error within the parity bound (1e-12 x the sum of magnitudes)
        return P(f"{_FUNCS[agg.func]}(CAST({value} AS NUMERIC))"), exp.Cast(
            this=exp.Placeholder(), to=exp.DataType.build(agg.type, dialect=CANON))
    return P(f"{_FUNCS[agg.func]}({value})"), None


_INVERTIBLE_IN_NUMERIC = {"sum", "avg", "var_samp", "var_pop", "stddev_samp", "stddev_pop"}


def _spark(sql: str) -> str:
    return P(sql).sql("spark")


def frame_spec(view: FeatureView, agg: Aggregate, frame: Frame, dialect: str, spine: bool) -> str:
    c = caps(dialect)
    exclude = frame.exclude
    end_back = 0 if frame.end.kind == "current_row" else (frame.end.offset or 0)
    # RANGE over a total order (ts, unique key): every peer group is one row, as in ROWS
    total = frame.mode == "range" and agg.total_order
    if spine:
        # The spine row contributes nothing, so excluding it changes nothing; its peers are the
        # events at exactly t, which GROUP and TIES leave out — unless the order is total (the
        # spine row sorts after them, alone in its peer group).
        exclude = "group" if exclude in ("group", "ties") and not total else "no_others"
    # EXCLUDE is written as a frame that ends before the excluded rows wherever that is the same
    # frame, unless the dialect evaluates EXCLUDE as fast (Caps.exclude_fast)
    emit_exclude = None
    if exclude != "no_others":
        if c.exclude and c.exclude_fast:
            emit_exclude = exclude
        elif frame.mode == "rows" or total:
            # a total order (ROWS frames require one): the peer group is the current row itself
            if exclude in ("current_row", "group") and end_back == 0:
                end_back = 1
        elif (exclude == "group" or spine) and frame.start.kind != "current_row":
            end_back = 1  # 1 µs before the current timestamp: timestamps have µs resolution
        elif c.exclude:
            emit_exclude = exclude
        elif exclude != "group" and not spine:
            raise BatchUnsupported(view.name, f"RANGE frame with EXCLUDE {exclude.upper().replace('_', ' ')}",
                                   dialect, "no EXCLUDE clause")
        else:
            end_back = 1  # RANGE CURRENT ROW EXCLUDE GROUP: refused below as an empty frame
    if frame.mode == "rows" or (total and end_back):
        # Spark takes INT offsets: beyond 2^31 - 1 rows back is everything a partition can hold
        unbounded = frame.start.kind == "unbounded_preceding" or (
            c.int_row_offsets and frame.start.kind == "preceding" and (frame.start.offset or 0) > 2 ** 31 - 1)
        start = "UNBOUNDED PRECEDING" if unbounded else (
            "CURRENT ROW" if frame.start.kind == "current_row" else f"{frame.start.offset} PRECEDING")
        end = "CURRENT ROW" if end_back == 0 else f"{end_back} PRECEDING"
        start_back = None if unbounded else (0 if frame.start.kind == "current_row" else frame.start.offset or 0)
        if start_back is not None and start_back < end_back:  # e.g. 0 PRECEDING AND 1 PRECEDING
            raise BatchUnsupported(view.name, "an empty ROWS frame", dialect)
        spec = f"ROWS BETWEEN {start} AND {end}"
    elif frame.start.kind == "current_row" and end_back:
        raise BatchUnsupported(view.name, "RANGE BETWEEN CURRENT ROW AND CURRENT ROW without the current peer group",
                               dialect, "no EXCLUDE clause")
    elif not c.range_timestamp:
        start = "UNBOUNDED PRECEDING" if frame.start.kind == "unbounded_preceding" else (
            "CURRENT ROW" if frame.start.kind == "current_row" else f"{frame.start.offset} PRECEDING")
        spec = f"RANGE BETWEEN {start} AND {'CURRENT ROW' if end_back == 0 else f'{end_back} PRECEDING'}"
    else:
        one_unit = end_back != 0 and c.single_unit_intervals
        start = "UNBOUNDED PRECEDING" if frame.start.kind == "unbounded_preceding" else (
            "CURRENT ROW" if frame.start.kind == "current_row" else
            f"{interval_sql(frame.start.offset or 0, one_unit)} PRECEDING")
        end = "CURRENT ROW" if end_back == 0 else f"{interval_sql(end_back, one_unit)} PRECEDING"
        spec = f"RANGE BETWEEN {start} AND {end}"
    if emit_exclude:
        spec += " EXCLUDE " + {"current_row": "CURRENT ROW", "group": "GROUP", "ties": "TIES"}[emit_exclude]
    return spec


def window_expr(view: FeatureView, agg: Aggregate, dialect: str, *, spine: bool = False,
                order_extra: list[str] | None = None) -> exp.Expression:
    """The window call for ``agg`` in ``dialect``. With ``spine`` the call runs over events
    unioned with spine rows (``__is_spine = 1``) which must contribute nothing."""
    fn, wrapper = _call(agg, dialect, spine, view)
    partition = ", ".join(quote(k) for k in view.entity)
    order_cols = list(agg.order) if agg.frame is None or agg.frame.mode == "rows" or agg.total_order else [agg.order[0]]
    if agg.frame is not None and agg.frame.mode == "range" and agg.frame.start.kind == "preceding":
        order_cols = [agg.order[0]]
    order_cols += order_extra or []
    frame = "" if agg.frame is None else " " + frame_spec(view, agg, agg.frame, dialect, spine)
    if not caps(dialect).range_timestamp and agg.frame is not None and agg.frame.mode == "range":
        order = ", ".join([f"UNIX_MICROS({quote(order_cols[0])})", *map(quote, order_cols[1:])])
        tmpl = P(f"SELECT __f() OVER (PARTITION BY {partition} ORDER BY {order}{frame})")
    else:
        order = ", ".join(quote(c) for c in order_cols)
        tmpl = P(f"SELECT __f() OVER (PARTITION BY {partition} ORDER BY {order}{frame})")
    window = tmpl.expressions[0]
    window.set("this", fn)
    window.meta["pgtype"] = agg.type
    if wrapper is not None:
        wrapper.set("this", window)
        return wrapper
    return window


def render_dialect(tree: exp.Expression, view: FeatureView, dialect: str) -> exp.Expression:
    """The generated query made exact for ``dialect`` by the function registry's rules (typed
    integer division, rounding, text formatting, collation); raises `BatchUnsupported` where the
    dialect cannot compute a construct of the view exactly."""
    from ..functions.dialects import NotExact, render

    columns = {c.name: c.type for c in view.input_columns}
    for a in view.aggregates:
        columns[f"__{a.id}"] = columns[f"__s_{a.id}"] = a.type
    try:
        return render(tree, dialect, columns)
    except NotExact as exc:
        raise BatchUnsupported(view.name, exc.construct, dialect, exc.why) from None
