"""Exact COUNT(DISTINCT x) over sliding frames for dialects without distinct window aggregates.

An interval-stabbing count, O(n log n) and without self-joins. Deduplicate occurrences of each value
per (key, position); an occurrence r of value x is *the latest occurrence of x in the frame* of a
query at position q exactly when ``pos_r <= q < next_r`` and ``pos_r >= q - length``. So r counts for
q in ``[pos_r, min(next_r, pos_r + length + 1))``: a +1 event at the start and a -1 event at the end;
the distinct count at q is the running sum of events at positions <= q. Positions are timestamps
(RANGE frames; 1 µs resolution) or row numbers (ROWS frames).
"""

from __future__ import annotations

from ..ir import Aggregate, FeatureView
from .windows import interval_sql, masked_value, quote, range_end_back


def stabbing_ctes(view: FeatureView, agg: Aggregate, prefix: str, events: str, queries: str,
                  query_pos: str, id_col: str, pos_col: str, length_us_or_rows: int | None,
                  rows_mode: bool) -> tuple[list[tuple[str, str]], str]:
    """CTEs computing, for every row of ``queries`` (its id in ``id_col``), the number of distinct
    values among ``events`` with ``query_pos - length <= pos <= query_pos``. ``length`` None means
    unbounded. Returns (ctes, name of the CTE with columns ``__qid, __c``)."""
    keys = [quote(k) for k in view.entity]
    k = ", ".join(keys)
    value, pred = masked_value(agg.model_copy(update={"filter": agg.filter}), spine=False)
    where = f"({pred}) AND ({agg.arg}) IS NOT NULL" if pred else f"({agg.arg}) IS NOT NULL"
    occ = f"SELECT DISTINCT {k}, ({agg.arg}) AS __v, {pos_col} AS __pos FROM {events} WHERE {where}"
    nxt = (f"SELECT {k}, __v, __pos, LEAD(__pos) OVER (PARTITION BY {k}, __v ORDER BY __pos) AS __nxt "
           f"FROM {prefix}_occ")
    if length_us_or_rows is None:
        end = "__nxt"
    else:
        # min(next occurrence, end of reach); spelled out because LEAST propagates NULL in some dialects
        reach = f"__pos + {length_us_or_rows + 1}" if rows_mode else f"__pos + {interval_sql(length_us_or_rows + 1)}"
        end = f"CASE WHEN __nxt IS NOT NULL AND __nxt < {reach} THEN __nxt ELSE {reach} END"
    null_id = "CAST(NULL AS BIGINT)"
    ev = (f"SELECT {k}, __pos AS __time, 0 AS __kind, 1 AS __delta, {null_id} AS __qid FROM {prefix}_n "
          f"UNION ALL SELECT {k}, {end} AS __time, 0 AS __kind, -1 AS __delta, {null_id} AS __qid "
          f"FROM {prefix}_n WHERE {end} IS NOT NULL "
          f"UNION ALL SELECT {k}, {query_pos} AS __time, 1 AS __kind, 0 AS __delta, {id_col} AS __qid FROM {queries}")
    run = (f"SELECT __qid, __kind, SUM(__delta) OVER (PARTITION BY {k} ORDER BY __time, __kind "
           f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __c FROM {prefix}_e")
    res = f"SELECT __qid, __c FROM {prefix}_r WHERE __kind = 1"
    return [(f"{prefix}_occ", occ), (f"{prefix}_n", nxt), (f"{prefix}_e", ev), (f"{prefix}_r", run), (prefix, res)], prefix


def per_event_count_distinct(view: FeatureView, agg: Aggregate, prefix: str, src: str) -> tuple[list[tuple[str, str]], str]:
    """CTEs + the SQL expression (over ``src`` rows joined to ``prefix`` on __rid) for one
    COUNT(DISTINCT) aggregate evaluated per event. ``src`` has ``__rid`` and ``__rn``."""
    frame = agg.frame
    assert frame is not None
    ts = quote(view.timestamp)
    if frame.mode == "rows" or agg.total_order:
        # RANGE over a total order (ts, unique key) is a ROWS frame: every peer group is one row
        # (its starts are UNBOUNDED or CURRENT ROW: offsets need a single ORDER BY column)
        n = None if frame.start.kind == "unbounded_preceding" else (frame.start.offset or 0)
        m = 0 if frame.end.kind == "current_row" else (frame.end.offset or 0)
        if frame.exclude in ("current_row", "group") and m == 0:
            m = 1  # total order: the current row is its own peer group
        # an offset beyond any row count is UNBOUNDED (and __pos + 2^63-1 would overflow bigint)
        length = None if n is None or n >= 2 ** 62 else n - m
        ctes, name = stabbing_ctes(view, agg, prefix, src, src, f"__rn - {m}", "__rid", "__rn", length, rows_mode=True)
        return ctes, f"COALESCE({name}.__c, 0)"
    w = None if frame.start.kind == "unbounded_preceding" else (frame.start.offset or 0)
    shift = range_end_back(frame)
    length = None if w is None else w - shift
    qpos = ts if not shift else f"{ts} - {interval_sql(shift)}"
    ctes, name = stabbing_ctes(view, agg, prefix, src, src, qpos, "__rid", ts, length, rows_mode=False)
    base = f"COALESCE({name}.__c, 0)"
    value, pred = masked_value(agg, spine=False)
    has_value = f"({pred}) AND ({agg.arg}) IS NOT NULL" if pred else f"({agg.arg}) IS NOT NULL"
    k = ", ".join(quote(c) for c in view.entity)
    if frame.exclude == "ties":
        # GROUP frame plus the current row's own value when no earlier event in the frame has it
        prv = (f"MAX(CASE WHEN {has_value} THEN {ts} END) OVER (PARTITION BY {k}, ({agg.arg}) ORDER BY {ts} "
               f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP)")
        seen = "FALSE" if w is None else f"{prv} >= {ts} - {interval_sql(w)}"
        if w is None:
            seen = f"{prv} IS NOT NULL"
        return ctes, f"{base} + CASE WHEN {has_value} AND NOT COALESCE({seen}, FALSE) THEN 1 ELSE 0 END"
    if frame.exclude == "current_row":
        rng = "UNBOUNDED PRECEDING" if w is None else f"{interval_sql(w)} PRECEDING"
        same = (f"COUNT(CASE WHEN {has_value} THEN 1 END) OVER (PARTITION BY {k}, ({agg.arg}) ORDER BY {ts} "
                f"RANGE BETWEEN {rng} AND CURRENT ROW)")
        return ctes, f"{base} - CASE WHEN {has_value} AND {same} = 1 THEN 1 ELSE 0 END"
    return ctes, base
