"""The as-of definition (semantics §1.2) written directly as correlated SQL, one aggregate at a
time, for Postgres to evaluate: the independent oracle for training sets and online reads."""

from __future__ import annotations

from skewless.compiler.ir import FeatureView


def _agg_call(agg) -> str:
    func = {"count_star": "COUNT(*)", "count_distinct": f"COUNT(DISTINCT {agg.arg})"}.get(agg.func)
    if func is None:
        func = f"{agg.func.upper()}({agg.arg})"
    return func + (f" FILTER (WHERE {agg.filter})" if agg.filter else "")


def lateral_sql(view: FeatureView, agg) -> str:
    """The as-of definition of one aggregate, as a correlated subquery over ``tx e`` for spine ``s``."""
    key = view.entity[0]
    base = [f'e."{key}" IS NOT DISTINCT FROM s."{key}"', "e.ts <= s.__t"]
    if view.where:
        base.append(f"({view.where})")
    newest = "ORDER BY e.ts DESC, e.txn_id DESC"
    frame = agg.frame
    if agg.func == "lag":
        if agg.offset == 0:
            return "NULL" if agg.arg != "ts" else "s.__t"
        default = agg.default or "NULL"
        return (f"(SELECT CASE WHEN COUNT(*) = 0 THEN {default} ELSE MAX(q.v) END FROM (SELECT {agg.arg} AS v "
                f"FROM tx e WHERE {' AND '.join(base)} {newest} OFFSET {agg.offset - 1} LIMIT 1) q)")
    if frame.mode == "range" and agg.func not in ("first_value", "last_value"):
        if frame.start.kind == "preceding":
            base.append(f"e.ts >= s.__t - INTERVAL '{frame.start.offset} microseconds'")
        if frame.end.kind == "preceding":  # a frame ending before t
            base.append(f"e.ts <= s.__t - INTERVAL '{frame.end.offset} microseconds'")
        elif frame.exclude in ("group", "ties"):
            base.append("e.ts < s.__t")
        return f"(SELECT {_agg_call(agg)} FROM tx e WHERE {' AND '.join(base)})"
    # ROWS frames (and FIRST/LAST_VALUE over the whole history): positions 1 = newest event <= t
    m = 0 if frame.end.kind == "current_row" else frame.end.offset
    lo = max(m, 1)
    limit = "" if frame.start.kind == "unbounded_preceding" else f" LIMIT {max(frame.start.offset - lo + 1, 0)}"
    rows = f"(SELECT e.* FROM tx e WHERE {' AND '.join(base)} {newest} OFFSET {lo - 1}{limit}) e"
    if agg.func == "first_value":
        return f"(SELECT e.{agg.arg} FROM {rows} ORDER BY e.ts ASC, e.txn_id ASC LIMIT 1)"
    if agg.func == "last_value":
        return f"(SELECT e.{agg.arg} FROM {rows} {newest} LIMIT 1)"
    return f"(SELECT {_agg_call(agg)} FROM {rows})"


def lateral_as_of(pg, view: FeatureView, spine: str = "spine"):
    """(the definition's values for every row of the ``spine`` table, evaluated by ``pg``; the
    columns it covers: the features that are one aggregate each)."""
    single = {c.name: view.aggregate(c.aggregates[0]) for c in view.columns
              if c.kind == "feature" and c.expr == f"__{c.aggregates[0]}"}
    table = pg.query("SELECT s.__spine_id, " + ", ".join(
        f'{lateral_sql(view, agg)} AS "{col}"' for col, agg in single.items()) + f" FROM {spine} s")
    return table, list(single)
