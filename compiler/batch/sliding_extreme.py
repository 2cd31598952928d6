"""MIN/MAX over sliding RANGE frames read at spine times, for Postgres, in linear time.

Postgres has no inverse transition for MIN/MAX: a frame whose start moves is aggregated afresh for
every row, so a dense key (thousands of events a day) costs rows x frame rows — 73 s for 300k
labels on 10 keys where DuckDB (segment trees) takes 3 s. Exact alternative (the van Herk /
Gil-Werman decomposition): cut time into blocks as long as the frame, ``[b·s, (b+1)·s)`` with
``s = hi - lo``. A frame ``[lo, hi]`` then spans exactly two blocks: the end's block ``B`` from its
start to ``hi``, and block ``B - 1`` from ``lo`` to its end. Both are running extremes within one
block — a prefix (ascending order) and a suffix (descending order) — read by two probe rows per
read (at ``hi`` in block ``B``, at ``lo`` in block ``B - 1``) placed after the events at their own
time; the read's value is the extreme of the two. Each window runs once over events + 2 probes per
read, without a frame that moves its start.
"""

from __future__ import annotations

from ..ir import Aggregate, ColumnType, FeatureView
from .capabilities import caps
from .windows import interval_sql, masked_value, quote, range_end_back, spine_end_back

_NUMERIC = {"double precision", "real", "integer", "bigint", "smallint", "numeric"}
_BASE_US = -300_000_000_000_000_000  # below every timestamp (4713 BC): block numbers are never negative


def applies(agg: Aggregate, dialect: str) -> bool:
    """Postgres, MIN/MAX of a number, a RANGE frame over time with a finite start that moves."""
    f = agg.frame
    return (caps(dialect).sliding_extreme_blocks and agg.func in ("min", "max") and (agg.arg_type or "").split("(")[0] in _NUMERIC
            and f is not None and f.mode == "range" and f.start.kind == "preceding" and f.end.kind == "current_row"
            and (f.start.offset or 0) - spine_end_back(agg) >= 1)


def _block(ts_sql: str, span: int) -> str:
    return f"DIV(EXTRACT(EPOCH FROM {ts_sql}) * 1000000 - ({_BASE_US}), {span})"


def typed_columns(agg: Aggregate) -> list[ColumnType]:
    """The intermediate columns' names and types, for the dialect rendering (collations, casts)."""
    return [ColumnType(name=f"{n}_{agg.id}", type=agg.arg_type or agg.type) for n in ("__v", "__pre", "__suf")]


def applies_per_event(agg: Aggregate, dialect: str) -> bool:
    """`applies`, for the per-event relation: the frame of an event is ``[t - w, t]`` (peers
    included) or, under EXCLUDE GROUP, ``[t - w, t)`` — both contiguous in time. (EXCLUDE CURRENT
    ROW / TIES and total orders keep or drop single rows of the peer group: left to the window.)"""
    f = agg.frame
    return (applies(agg, dialect) and f is not None and not agg.total_order and f.exclude in ("no_others", "group")
            and (f.start.offset or 0) - range_end_back(f) >= 1)


def spine_extreme_ctes(view: FeatureView, agg: Aggregate, prefix: str, events: str, spine: str, time_col: str,
                       id_col: str, end_back: int | None = None) -> tuple[list[tuple[str, str]], str]:
    """CTEs giving ``__qid`` (the spine id) and ``__<agg id>`` (the aggregate as of the spine
    time; the name the dialect rendering knows its type by) for every spine row; returns (ctes,
    the name of the last). The frame read is ``[t - w, t - end_back µs]`` (default: a spine
    row's, `windows.spine_end_back`); the per-event relation passes its events as the spine."""
    assert agg.frame is not None
    keys = [quote(k) for k in view.entity]
    k = ", ".join(keys)
    ts = quote(view.timestamp)
    c = spine_end_back(agg) if end_back is None else end_back
    span = (agg.frame.start.offset or 0) - c
    hi = f"{time_col} - {interval_sql(c)}" if c else time_col
    lo = f"{time_col} - {interval_sql(agg.frame.start.offset or 0)}"
    value, _ = masked_value(agg, spine=False)
    null_id = "CAST(NULL AS BIGINT)"
    union = (f"SELECT {k}, {_block(ts, span)} AS __b, {ts} AS __ts, 0 AS __k, {value} AS __v_{agg.id}, "
             f"{null_id} AS __qid FROM {events} "
             f"UNION ALL SELECT {k}, {_block(hi, span)}, {hi}, 1, NULL, {id_col} FROM {spine} "
             f"UNION ALL SELECT {k}, {_block(hi, span)} - 1, {lo}, 2, NULL, {id_col} FROM {spine}")
    fn = agg.func.upper()
    runs = (f"SELECT __qid, __k, {fn}(__v_{agg.id}) OVER (PARTITION BY {k}, __b ORDER BY __ts, __k "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __pre_{agg.id}, "
            f"{fn}(__v_{agg.id}) OVER (PARTITION BY {k}, __b ORDER BY __ts DESC, __k "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __suf_{agg.id} FROM {prefix}_u")
    pick = "GREATEST" if agg.func == "max" else "LEAST"  # both skip NULLs on Postgres
    # the read's two probe rows side by side (a join, not an aggregate: the columns keep their types)
    result = (f"SELECT p.__qid, {pick}(p.__pre_{agg.id}, s.__suf_{agg.id}) AS __{agg.id} "
              f"FROM {prefix}_r AS p JOIN {prefix}_r AS s ON s.__qid = p.__qid AND s.__k = 2 WHERE p.__k = 1")
    return [(f"{prefix}_u", union), (f"{prefix}_r", runs), (prefix, result)], prefix
