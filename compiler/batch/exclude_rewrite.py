"""EXCLUDE TIES / EXCLUDE CURRENT ROW on RANGE frames for dialects without an EXCLUDE clause.

TIES is the GROUP frame (which ends 1 µs before the current timestamp) plus the current row;
CURRENT ROW is the full frame minus the current row. Both are computed from a window over the
rewritten frame and the current row's own (masked) value, with SQL NULL rules kept explicitly.
Only exact combinations are generated; the rest raise `BatchUnsupported`.
"""

from __future__ import annotations

from sqlglot import exp

from ..ir import Aggregate, FeatureView, Frame
from .capabilities import BatchUnsupported
from .windows import P, masked_value, window_expr

_INTEGER = {"integer", "bigint", "smallint"}


def _with_exclude(agg: Aggregate, exclude: str) -> Aggregate:
    assert agg.frame is not None
    return agg.model_copy(update={"frame": Frame(mode=agg.frame.mode, start=agg.frame.start, end=agg.frame.end,
                                                 exclude=exclude)})


def needs_rewrite(agg: Aggregate) -> bool:
    return agg.frame is not None and agg.frame.mode == "range" and agg.frame.exclude in ("ties", "current_row")


def _sql(node: exp.Expression) -> str:
    return node.sql("postgres")


def rewrite(view: FeatureView, agg: Aggregate, dialect: str) -> exp.Expression:
    """A composite expression equal to ``agg`` with its EXCLUDE clause, without using EXCLUDE."""
    assert agg.frame is not None
    mode = agg.frame.exclude
    value, pred = masked_value(agg, spine=False)
    cur = value if agg.func != "count_star" else None
    has = f"({pred})" if agg.func == "count_star" and pred else ("TRUE" if agg.func == "count_star" else f"({cur}) IS NOT NULL")
    one = f"CASE WHEN {has} THEN 1 ELSE 0 END"
    if mode == "ties":
        g = _sql(window_expr(view, _with_exclude(agg, "group"), dialect))
        if agg.func in ("count_star", "count"):
            return P(f"{g} + {one}")
        if agg.func in ("sum", "min", "max", "bool_or", "bool_and"):
            op = {"sum": "__g + __c", "min": "LEAST(__g, __c)", "max": "GREATEST(__g, __c)",
                  "bool_or": "__g OR __c", "bool_and": "__g AND __c"}[agg.func]
            both = op.replace("__g", f"({g})").replace("__c", f"({cur})")
            return P(f"CASE WHEN ({cur}) IS NULL THEN {g} WHEN {g} IS NULL THEN ({cur}) ELSE {both} END")
        if agg.func == "avg":
            s = _sql(window_expr(view, _with_exclude(agg.model_copy(update={"func": "sum"}), "group"), dialect))
            n = _sql(window_expr(view, _with_exclude(agg.model_copy(update={"func": "count"}), "group"), dialect))
            return P(f"(COALESCE({s}, 0) + COALESCE(CAST(({cur}) AS DOUBLE PRECISION), 0)) / "
                     f"NULLIF({n} + {one}, 0)")
    if mode == "current_row":
        full = _sql(window_expr(view, _with_exclude(agg, "no_others"), dialect))
        if agg.func in ("count_star", "count"):
            return P(f"{full} - {one}")
        if agg.func in ("sum", "avg") and agg.arg_type in _INTEGER:
            s = _sql(window_expr(view, _with_exclude(agg.model_copy(update={"func": "sum"}), "no_others"), dialect))
            n = _sql(window_expr(view, _with_exclude(agg.model_copy(update={"func": "count"}), "no_others"), dialect))
            rest_n = f"({n} - {one})"
            rest_s = f"({s} - COALESCE(({cur}), 0))"
            if agg.func == "sum":
                return P(f"CASE WHEN {rest_n} = 0 THEN NULL ELSE {rest_s} END")
            return P(f"CASE WHEN {rest_n} = 0 THEN NULL ELSE CAST({rest_s} AS DOUBLE PRECISION) / {rest_n} END")
    raise BatchUnsupported(view.name, f"{agg.func.upper()} over a RANGE frame with EXCLUDE "
                           f"{mode.upper().replace('_', ' ')}", dialect, "no EXCLUDE clause and no exact rewrite")
