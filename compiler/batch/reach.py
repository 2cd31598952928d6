"""Arguments Postgres never evaluates.

Postgres evaluates an aggregate's FILTER and argument for a row only when the row enters a frame
(and LAG's argument only for the row it returns). A row that is in no row's frame — excluded from
its own (EXCLUDE CURRENT ROW / GROUP, a ROWS frame ending before the current row) and out of reach
of every other row — is never evaluated there, so an argument that would raise for it (a cast
overflow, a division by zero) does not fail the query. Engines that compute arguments for every
input row before windowing (DuckDB) would raise. For them each such argument is masked: evaluated
only where the row lies in at least one frame, counted by a window over the *reversed* frame (row
r is in the frame of q exactly when q is in r's reversed frame, with the same EXCLUDE mode). A
masked row is in no frame, so what it would contribute is never read: the values are unchanged.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from ..ir import Aggregate, Bound, FeatureView
from .windows import interval_sql, quote

EAGER_ARGUMENTS = {"duckdb"}  # dialects that evaluate a window function's argument for every row


def may_fail(sql: str | None) -> bool:
    """Whether an expression may raise for some row, as the stream's stored state is laid out for
    it (Guarded accumulators): anything but a bare column or constant. Part of the state format —
    `can_raise` is the finer question the batch SQL asks."""
    if not sql:
        return False
    text = sql.strip().strip('"')
    return not (text.isidentifier() or text.replace(".", "", 1).isdigit())


_SAFE = (exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Case, exp.If, exp.And,
         exp.Or, exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.Coalesce, exp.NullSafeEQ,
         exp.NullSafeNEQ, exp.In, exp.Tuple, exp.Between)


def can_raise(sql: str | None) -> bool:
    """Whether evaluating the expression may raise for some row: anything beyond columns,
    literals, comparisons, boolean logic, CASE and COALESCE (which only choose among values). The
    comparisons are of like types (the type checker made them so)."""
    if not sql:
        return False
    try:
        tree = sqlglot.parse_one(sql, read="postgres")
    except sqlglot.errors.ParseError:
        return True
    return any(not isinstance(node, _SAFE) for node in tree.walk())


def _reversed(bound: Bound, mode: str) -> str:
    if bound.kind == "current_row":
        return "CURRENT ROW"
    if bound.kind == "unbounded_preceding":
        return "UNBOUNDED FOLLOWING"
    return f"{bound.offset} FOLLOWING" if mode == "rows" else f"{interval_sql(bound.offset or 0)} FOLLOWING"


def reach_window(view: FeatureView, agg: Aggregate, dialect: str) -> str | None:
    """``COUNT(*) OVER (...)``: in how many rows' frames (or LAG reads) each row lies; None when
    the dialect evaluates arguments lazily, the argument and FILTER cannot fail, or every row is in
    its own frame."""
    if dialect not in EAGER_ARGUMENTS:
        return None
    keys = ", ".join(quote(k) for k in view.entity)
    if agg.func == "lag":
        if agg.offset < 1 or not can_raise(agg.arg):
            return None
        order = ", ".join(quote(c) for c in agg.order)
        return (f"COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} "
                f"ROWS BETWEEN {agg.offset} FOLLOWING AND {agg.offset} FOLLOWING)")
    frame = agg.frame
    if frame is None or agg.func in ("first_value", "last_value") or not (can_raise(agg.arg) or can_raise(agg.filter)):
        return None
    if frame.exclude not in ("current_row", "group") and frame.end.kind == "current_row":
        return None  # the current row is in its own frame (TIES keeps it)
    rows_like = frame.mode == "rows" or (agg.total_order and frame.start.kind != "preceding")
    order_cols = agg.order if rows_like else agg.order[:1]
    order = ", ".join(quote(c) for c in order_cols)
    spec = f"{frame.mode.upper()} BETWEEN {_reversed(frame.end, frame.mode)} AND {_reversed(frame.start, frame.mode)}"
    if frame.exclude in ("current_row", "group"):
        spec += " EXCLUDE " + {"current_row": "CURRENT ROW", "group": "GROUP"}[frame.exclude]
    return f"COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} {spec})"


def masked(agg: Aggregate, column: str) -> Aggregate:
    """``agg`` with its argument and FILTER evaluated only where ``column`` (a reach count) > 0."""
    update = {"arg": f"CASE WHEN {column} > 0 THEN ({agg.arg}) END"} if agg.arg else {}
    if agg.filter:
        update["filter"] = f"CASE WHEN {column} > 0 THEN ({agg.filter}) END"
    return agg.model_copy(update=update)
