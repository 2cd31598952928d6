"""Sliding RANGE frames read at spine times, for DuckDB, as ROWS frames over computed positions.

DuckDB finds a RANGE frame's start with a search per row and per window call: ~1.2 µs a row, the
same for every aggregate of a view even when they share the frame (a 1-day COUNT(*) over 2M rows
takes 2.1 s, a ROWS frame 0.4 s; five aggregates over one frame 12 s). The as-of relation instead
finds each frame start once and hands it to every aggregate as a variable ROWS offset:

* the union's rows are ordered by ``__o`` — the event's time, or the spine row's time minus the
  frame's end back ``c`` (1 µs under EXCLUDE GROUP, ``b`` for frames ending ``b`` PRECEDING) —
  then spine rows after events, then spine id: a spine row then directly follows the last event
  its frame holds (``ts <= t - c``), so its frame ends at CURRENT ROW;
* its frame starts at the first row with ``__o >= t - w``: 1 + the number of rows before that
  (``__rn`` of the last such row, found by an ASOF join on per-(key, ``__o``) maxima); the offset
  ``__rn - start`` is the same for every aggregate reading ``w``.

Spine rows contribute nothing (masked arguments) and events' own values are not read, so the
frame holds exactly the events in ``[t - w, t - c]`` — the RANGE frame's rows. Aggregates are
grouped by ``c``; each group costs one sort and one ASOF join per distinct ``w``.
"""

from __future__ import annotations

from sqlglot import exp

from ..ir import Aggregate, FeatureView
from .capabilities import caps
from .windows import _call, interval_sql, quote, spine_end_back

_FUNCS = {"count_star", "count", "sum", "avg", "min", "max", "var_samp", "var_pop", "stddev_samp", "stddev_pop",
          "bool_or", "bool_and"}


def applies(agg: Aggregate, dialect: str) -> bool:
    f = agg.frame
    return (caps(dialect).as_of_row_positions and agg.func in _FUNCS and f is not None and f.mode == "range"
            and f.start.kind == "preceding" and (f.start.offset or 0) >= spine_end_back(agg) and not agg.positional)


def groups(view: FeatureView, dialect: str, skip: set[int]) -> dict[int, list[int]]:
    """End back -> indices of the aggregates computed over positions (groups of two or more: a
    lone aggregate is as fast over its RANGE frame as a search of its own)."""
    by_c: dict[int, list[int]] = {}
    for i, agg in enumerate(view.aggregates):
        if i not in skip and applies(agg, dialect):
            by_c.setdefault(spine_end_back(agg), []).append(i)
    return {c: ids for c, ids in by_c.items() if len(ids) >= 2}


def position_ctes(view: FeatureView, union: str, time_col: str, grouped: dict[int, list[int]],
                  prefix: str = "__pos") -> tuple[list[tuple[str, str]], str]:
    """CTEs over ``union`` (events + spine rows, ``__is_spine``, ``__spine_id``) adding, per group
    ``g``, ``__o{g}`` / ``__rn{g}`` and a ``__back{g}_{w}`` column per frame length; returns (ctes,
    the name of the last)."""
    keys = [quote(k) for k in view.entity]
    k = ", ".join(keys)
    ctes: list[tuple[str, str]] = []
    current = union
    for g, (c, ids) in enumerate(sorted(grouped.items())):
        o = f"{time_col} - {interval_sql(c)}" if c else time_col
        order = f"__o{g}, __is_spine, __spine_id"
        ctes.append((f"{prefix}{g}_r", f"SELECT *, ROW_NUMBER() OVER (PARTITION BY {k} ORDER BY {order}) AS __rn{g} "
                                      f"FROM (SELECT *, CASE WHEN __is_spine = 1 THEN {o} ELSE {time_col} END AS __o{g} "
                                      f"FROM {current}) AS __x"))
        ctes.append((f"{prefix}{g}_b", f"SELECT {k}, __o{g}, MAX(__rn{g}) AS __last FROM {prefix}{g}_r "
                                      f"GROUP BY {k}, __o{g}"))
        current = f"{prefix}{g}_r"
        for w in sorted({view.aggregates[i].frame.start.offset or 0 for i in ids}):  # type: ignore[union-attr]
            match = " AND ".join([*(f"__p.{q} IS NOT DISTINCT FROM __q.{q}" for q in keys),
                                  f"__p.__o{g} < __q.__o{g} + {interval_sql(c)} - {interval_sql(w)}" if c else
                                  f"__p.__o{g} < __q.__o{g} - {interval_sql(w)}"])
            name = f"{prefix}{g}_{w}"
            # a row without a time (a spine row with a NULL time) is its own peer group: the frame
            # holds only rows at no time, which contribute nothing — the row itself, as in RANGE
            ctes.append((name, f"SELECT __q.*, CASE WHEN __q.__o{g} IS NULL THEN 0 ELSE "
                               f"__q.__rn{g} - 1 - COALESCE(__p.__last, 0) END AS __back{g}_{w} "
                               f"FROM {current} AS __q ASOF LEFT JOIN {prefix}{g}_b AS __p ON {match}"))
            current = name
    return ctes, current


def window(view: FeatureView, agg: Aggregate, g: int) -> exp.Expression:
    """``agg`` over its group's positions (spine rows masked, as `windows.window_expr`)."""
    fn, wrapper = _call(agg, "duckdb", True, view)
    w = agg.frame.start.offset or 0  # type: ignore[union-attr]
    node = exp.Window(
        this=fn,
        partition_by=[exp.column(k, quoted=True) for k in view.entity],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column(c)) for c in (f"__o{g}", "__is_spine", "__spine_id")]),
        spec=exp.WindowSpec(kind="ROWS", start=exp.column(f"__back{g}_{w}"), start_side="PRECEDING",
                            end="CURRENT ROW"))
    node.meta["pgtype"] = agg.type
    if wrapper is not None:
        wrapper.set("this", node)
        return wrapper
    return node


def group_of(grouped: dict[int, list[int]]) -> dict[int, int]:
    """Aggregate index -> its group number (the order `position_ctes` numbers them)."""
    return {i: g for g, (_, ids) in enumerate(sorted(grouped.items())) for i in ids}
