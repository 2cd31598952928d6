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

from ..ir import Aggregate, Bound, ColumnType, FeatureView
from .capabilities import caps
from .windows import interval_sql, quote, range_end_back, spine_end_back



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
    if not caps(dialect).eager_arguments:
        return None
    keys = ", ".join(quote(k) for k in view.entity)
    if agg.func == "lag":
        if agg.offset < 1 or not can_raise(agg.arg):
            return None
        order = ", ".join(quote(c) for c in agg.order)
        return (f"COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} "
                f"ROWS BETWEEN {agg.offset} FOLLOWING AND {agg.offset} FOLLOWING)")
    frame = agg.frame
    if agg.func in ("first_value", "last_value"):
        return _positional_reach(view, agg) if can_raise(agg.arg) else None
    if frame is None or not (can_raise(agg.arg) or can_raise(agg.filter)):
        return None
    if frame.exclude not in ("current_row", "group") and frame.end.kind == "current_row":
        return None  # the current row is in its own frame (TIES keeps it)
    rows_like = frame.mode == "rows" or (agg.total_order and frame.start.kind != "preceding")
    order_cols = agg.order if rows_like else agg.order[:1]
    order = ", ".join(quote(c) for c in order_cols)
    if not caps(dialect).exclude:
        return _reach_without_exclude(agg, keys, order, rows_like)
    spec = f"{frame.mode.upper()} BETWEEN {_reversed(frame.end, frame.mode)} AND {_reversed(frame.start, frame.mode)}"
    if frame.exclude in ("current_row", "group"):
        spec += " EXCLUDE " + {"current_row": "CURRENT ROW", "group": "GROUP"}[frame.exclude]
    return f"COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} {spec})"


def _reach_without_exclude(agg: Aggregate, keys: str, order: str, rows_like: bool) -> str:
    """The reversed frame's count for dialects without EXCLUDE (Spark): over a total order the
    excluded peer group is the row itself, and its reversed frame starts one row later; over time
    EXCLUDE GROUP starts it 1 µs later, EXCLUDE CURRENT ROW counts the row itself and takes it
    off. RANGE offsets in one unit (seconds), as Spark wants them."""
    frame = agg.frame
    assert frame is not None
    far = "UNBOUNDED FOLLOWING" if frame.start.kind == "unbounded_preceding" else None
    if rows_like:
        n = frame.start.offset or 0
        far = far or ("CURRENT ROW" if frame.start.kind == "current_row" else f"{n} FOLLOWING")
        e = (frame.end.offset or 0) if frame.end.kind == "preceding" else 0
        e = max(e, 1 if frame.exclude in ("current_row", "group") else 0)
        near = "CURRENT ROW" if e == 0 else f"{e} FOLLOWING"
        if frame.start.kind == "current_row" and e:
            return "0"  # an empty frame
        return f"COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} ROWS BETWEEN {near} AND {far})"
    e = range_end_back(frame)  # (EXCLUDE TIES keeps the row in its own frame: no mask is asked for)
    minus = " - 1" if e == 0 and frame.exclude == "current_row" else ""
    far = far or ("CURRENT ROW" if frame.start.kind == "current_row" else
                  f"{interval_sql(frame.start.offset or 0, seconds=True)} FOLLOWING")
    if far == "CURRENT ROW" and e:
        return "0"
    near = "CURRENT ROW" if e == 0 else f"{interval_sql(e, seconds=True)} FOLLOWING"
    return f"(COUNT(*) OVER (PARTITION BY {keys} ORDER BY {order} RANGE BETWEEN {near} AND {far}){minus})"


def _positional_reach(view: FeatureView, agg: Aggregate) -> str | None:
    """FIRST_VALUE/LAST_VALUE read one row of each non-empty frame: its first (last). Exactly the
    rows that are (a row left out is never read; one too many could fail where Postgres does
    not). Frames here are over a total order: the current row is its own peer group, and a frame
    is ``[q - n, q - e]`` in positions (``n`` None: unbounded; ``e`` 1 when the current row is
    excluded). None: every row is read."""
    frame = agg.frame
    if frame is None or (frame.mode == "range" and not (agg.total_order and frame.start.kind != "preceding")):
        return None
    keys = ", ".join(quote(k) for k in view.entity)
    order = ", ".join(quote(c) for c in agg.order)
    over = f"OVER (PARTITION BY {keys} ORDER BY {order}"

    def after(k: int) -> str:  # the row k positions later exists
        return f"COUNT(*) {over} ROWS BETWEEN {k} FOLLOWING AND {k} FOLLOWING) > 0"

    e = (frame.end.offset or 0) if frame.end.kind == "preceding" else 0
    if e == 0 and frame.exclude in ("current_row", "group"):  # TIES keeps the current row
        e = 1
    if frame.start.kind == "current_row":
        return None if e == 0 else "0"  # the row itself, or an empty frame
    n = None if frame.start.kind == "unbounded_preceding" else (frame.start.offset or 0)
    if agg.func == "last_value":  # the last row is q - e whenever the frame is not empty
        return None if e == 0 else f"CASE WHEN {after(e)} THEN 1 ELSE 0 END"
    # FIRST_VALUE: q - n for q >= n, and the partition's first row for the frames cut off at it
    first = f"ROW_NUMBER() {over}) = 1" + (f" AND {after(e)}" if e else "")
    if n is None:
        return f"CASE WHEN {first} THEN 1 ELSE 0 END"
    return f"CASE WHEN {after(n)} OR ({first}) THEN 1 ELSE 0 END"


def mask_view(view: FeatureView, counts: dict[int, str], prefix: str) -> FeatureView:
    """``view`` with aggregate i's argument and FILTER masked by the column ``<prefix><i>`` (a
    reach count; ``counts``: i -> its window), typed bigint for the dialect rendering."""
    return view.model_copy(update={
        "aggregates": [masked(a, f"{prefix}{i}") if i in counts else a for i, a in enumerate(view.aggregates)],
        "input_columns": [*view.input_columns, *(ColumnType(name=f"{prefix}{i}", type="bigint") for i in counts)]})


def masked(agg: Aggregate, column: str) -> Aggregate:
    """``agg`` with its argument and FILTER evaluated only where ``column`` (a reach count) > 0."""
    update = {"arg": f"CASE WHEN {column} > 0 THEN ({agg.arg}) END"} if agg.arg else {}
    if agg.filter:
        update["filter"] = f"CASE WHEN {column} > 0 THEN ({agg.filter}) END"
    return agg.model_copy(update=update)


def spine_reach_window(view: FeatureView, agg: Aggregate, dialect: str) -> str | None:
    """For the as-of union of events and spine rows (``__is_spine``): how many spine rows' frames
    hold each row — an event's argument is needed only then. None when the argument and FILTER
    cannot fail (or the aggregate is not a RANGE window over time; those read shifted rows)."""
    frame = agg.frame
    target = caps(dialect)
    if not target.spine_reach_masks:
        return None
    seconds = target.single_unit_intervals
    if frame is None or frame.mode != "range" or agg.positional or agg.func == "count_distinct" \
            or not (can_raise(agg.arg) or can_raise(agg.filter)):
        return None
    keys = ", ".join(quote(k) for k in view.entity)
    # a spine row at t reads [t - a, t - b] (b: the frame's end offset; 1 µs under EXCLUDE
    # GROUP/TIES: its peers at t leave)
    end_back = spine_end_back(agg)
    near = "CURRENT ROW" if not end_back else f"{interval_sql(end_back, seconds)} FOLLOWING"
    far = "UNBOUNDED FOLLOWING" if frame.start.kind == "unbounded_preceding" else (
        "CURRENT ROW" if frame.start.kind == "current_row" else
        f"{interval_sql(frame.start.offset or 0, seconds)} FOLLOWING")
    if far == "CURRENT ROW" and end_back:
        return None  # an empty frame: nothing is read, nothing evaluated (the window is NULL/0 anyway)
    return (f"COUNT(CASE WHEN __is_spine = 1 THEN 1 END) OVER (PARTITION BY {keys} ORDER BY {quote(agg.order[0])} "
            f"RANGE BETWEEN {near} AND {far})")
