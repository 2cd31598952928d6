"""The as-of relation: a view's values for (entity, t) spine rows — one training-set row each.

Contract (semantics §1.2): the values the SQL returns for an extra row of entity k at time t placed
after every event with ``ts <= t``, the extra row contributing nothing. Compiled as one
union-and-window pass, O(n log n), with no correlated subqueries:

* RANGE aggregates run over events ∪ spine rows; spine rows are peers of the events at t and their
  arguments are masked to NULL, so RANGE frames see exactly the events in ``[t - w, t]``
  (``[t - w, t)`` under EXCLUDE GROUP/TIES).
* ROWS frames, LAG and FIRST/LAST_VALUE are order-dependent: the spine row's n-th preceding event
  is the (n-1)-th preceding of e*, the latest event with ``ts <= t`` in that order. They are the
  per-event values of a frame shifted by one row, read at e* through an equi-join on its sequence
  number.

Only events with ``ts <= max(t)`` are read, and ``ts >= min(t) - reach`` when every frame has a
finite time reach.
"""

from __future__ import annotations

from sqlglot import exp

from ..ir import Aggregate, Bound, ColumnType, FeatureView, Frame, OutputColumn
from .capabilities import BatchUnsupported, caps
from . import row_positions, sliding_extreme
from .count_distinct import stabbing_ctes
from .reach import mask_view, spine_reach_window
from .per_event import bind_input, per_event_query, substitute
from .windows import CANON, P, interval_sql, quote, range_end_back, render_dialect, window_expr

SPINE_ID = "__spine_id"
SPINE_T = "__t"
_EMPTY_ZERO = {"count_star", "count", "count_distinct"}


def _shifted(agg: Aggregate) -> Aggregate | None:
    """The per-event aggregate whose value at e* equals ``agg`` at the spine row (None: empty)."""
    if agg.func == "lag":
        return agg.model_copy(update={"offset": agg.offset - 1}) if agg.offset >= 1 else None
    frame = agg.frame
    assert frame is not None
    if frame.mode == "range" and frame.start.kind == "current_row":
        return None  # RANGE CURRENT ROW over a total order: the spine row alone, which contributes nothing
    if frame.mode == "range":  # FIRST/LAST_VALUE over RANGE UNBOUNDED with a total order
        return agg.model_copy(update={"frame": Frame(mode="rows", start=frame.start, end=Bound(kind="current_row"))})
    m = 0 if frame.end.kind == "current_row" else (frame.end.offset or 0)
    if frame.start.kind == "current_row" or (frame.start.kind == "preceding" and (frame.start.offset or 0) <= max(m - 1, 0)):
        return None  # the spine row alone (0 PRECEDING), or nothing: empty
    start = frame.start if frame.start.kind == "unbounded_preceding" else Bound(kind="preceding", offset=(frame.start.offset or 0) - 1)
    if start.kind == "preceding" and start.offset == 0:
        start = Bound(kind="current_row")
    end = Bound(kind="current_row") if m <= 1 else Bound(kind="preceding", offset=m - 1)
    return agg.model_copy(update={"frame": Frame(mode="rows", start=start, end=end)})


def _empty(agg: Aggregate) -> str:
    if agg.func in _EMPTY_ZERO:
        return "0"
    if agg.func == "lag" and agg.default is not None:
        return f"({agg.default})"
    return "NULL"


def needed_columns(view: FeatureView) -> list[ColumnType]:
    """The input columns the as-of pass reads: keys, order, and what expressions mention."""
    names = set(view.entity) | {view.timestamp}
    texts = [view.where, *(c.expr for c in view.columns)]
    for agg in view.aggregates:
        names |= set(agg.order)
        texts += [agg.arg, agg.filter, agg.default]
    for text in filter(None, texts):
        names |= {c.name for c in P(text).find_all(exp.Column)}
    return [c for c in view.input_columns if c.name in names]


def as_of_query(view: FeatureView, dialect: str, input_sql: str | exp.Expression, spine_sql: str) -> exp.Select:
    """``spine_sql`` has the view's entity columns, ``__t`` (timestamptz) and ``__spine_id``;
    ``input_sql`` is a table name or an upstream view's query tree."""
    raw_input = input_sql
    if not isinstance(input_sql, str):
        input_sql = "__input"
    c = caps(dialect)
    K = [quote(k) for k in view.entity]
    ts = quote(view.timestamp)
    cols = needed_columns(view)
    names = [quote(col.name) for col in cols]
    ordered = [a for a in view.aggregates if a.positional]
    groups: dict[tuple[str, ...], list[Aggregate]] = {}
    for a in ordered:
        groups.setdefault(tuple(a.order), []).append(a)

    conds = [f"{ts} <= (SELECT MAX({SPINE_T}) FROM __spine)"]
    reaches = [a.frame.reach for a in view.aggregates if a.frame is not None and a.frame.mode == "range"]
    if not ordered and reaches and all(r is not None for r in reaches):
        conds.append(f"{ts} >= (SELECT MIN({SPINE_T}) FROM __spine) - {interval_sql(max(reaches))}")
    if view.where:
        conds.append(f"({view.where})")
    # each event's position in its key's order. On Postgres one numbering over all keys (still
    # increasing within each key): the shifted rows are then found by that number alone — a hash
    # join — where the key's IS NOT DISTINCT FROM cannot be hashed and a per-key number matches one
    # row of every key (300k labels: minutes). Elsewhere per key (Spark: no single-partition sort)
    if c.global_event_numbers:
        seqs = [f"ROW_NUMBER() OVER (ORDER BY {', '.join([*K, *map(quote, order)])}) AS __seq{g}"
                for g, order in enumerate(groups)]
    else:
        seqs = [f"ROW_NUMBER() OVER (PARTITION BY {', '.join(K)} ORDER BY {', '.join(map(quote, order))}) AS __seq{g}"
                for g, order in enumerate(groups)]
    ctes = [("__spine", f"SELECT * FROM {spine_sql} AS __sp"),
            ("__ev", f"SELECT {', '.join(names)}{''.join(', ' + s for s in seqs)} FROM {input_sql} AS __src "
                     f"WHERE {' AND '.join(conds)}")]
    # a spine row is a probe row (semantics §1.2): it joins the dimensions a key of the view selects
    probe_dims, probe_joins = _probe_joins(view, raw_input)
    spine_cols = []
    for col in cols:
        if col.name in view.entity:
            spine_cols.append(f"__spine.{quote(col.name)}")
        elif col.name == view.timestamp:
            spine_cols.append(f"__spine.{SPINE_T} AS {ts}")
        elif col.name in probe_dims:
            spine_cols.append(f"{probe_dims[col.name]} AS {quote(col.name)}")
        else:
            spine_cols.append(f"CAST(NULL AS {col.type}) AS {quote(col.name)}")
    seq_null = "".join(f", CAST(NULL AS BIGINT) AS __seq{g}" for g in range(len(groups)))
    seq_ev = "".join(f", __seq{g}" for g in range(len(groups)))
    ctes.append(("__u", f"SELECT {', '.join(names)}{seq_ev}, 0 AS __is_spine, CAST(NULL AS BIGINT) AS {SPINE_ID} "
                        f"FROM __ev UNION ALL SELECT {', '.join(spine_cols)}{seq_null}, 1 AS __is_spine, "
                        f"__spine.{SPINE_ID} FROM __spine{probe_joins}"))

    # an event's argument is evaluated only where a spine row's frame holds it (reach.py): Postgres
    # evaluates no other, and a row no read reaches must not fail the training set
    spine_reach = {i: r for i, a in enumerate(view.aggregates) if (r := spine_reach_window(view, a, dialect))}
    if spine_reach:
        view = mask_view(view, spine_reach, "__r")
        ctes.append(("__ur", f"SELECT __u.*{''.join(f', {r} AS __r{i}' for i, r in spine_reach.items())} FROM __u"))
    union = "__ur" if spine_reach else "__u"
    extreme = {i for i, a in enumerate(view.aggregates) if i not in spine_reach and sliding_extreme.applies(a, dialect)}
    # DuckDB: sliding frames as ROWS frames over positions found once per frame (row_positions.py)
    grouped = row_positions.groups(view, dialect, extreme)
    positioned = row_positions.group_of(grouped)
    if grouped:
        pos_ctes, union = row_positions.position_ctes(view, union, ts, grouped)
        ctes.extend(pos_ctes)
    replacements: dict[str, exp.Expression] = {}
    w_cols: list[str] = []
    joins: list[str] = []
    for i, agg in enumerate(view.aggregates):
        if agg.positional:
            continue
        if agg.func == "count_distinct" and c.count_distinct_stabbing:
            if agg.frame is None:
                raise BatchUnsupported(view.name, "COUNT(DISTINCT) without a frame", dialect)
            w = agg.frame.reach
            shift = range_end_back(agg.frame)
            qpos = SPINE_T if not shift else f"{SPINE_T} - {interval_sql(shift)}"
            agg_ctes, name = stabbing_ctes(view, agg, f"__cd{i}", "__ev", "__spine", qpos, SPINE_ID, ts,
                                           None if w is None else w - shift, rows_mode=False)
            ctes.extend(agg_ctes)
            joins.append(f"LEFT JOIN {name} ON {name}.__qid = __w.{SPINE_ID}")
            replacements[f"__{agg.id}"] = P(f"COALESCE({name}.__c, 0)")
            continue
        if i in extreme:  # Postgres: linear instead of a restart per row
            agg_ctes, name = sliding_extreme.spine_extreme_ctes(view, agg, f"__mm{i}", "__ev", "__spine", SPINE_T,
                                                                 SPINE_ID)
            ctes.extend(agg_ctes)
            joins.append(f"LEFT JOIN {name} ON {name}.__qid = __w.{SPINE_ID}")
            replacements[f"__{agg.id}"] = exp.column(f"__{agg.id}", table=name)
            continue
        if i in positioned:
            w_cols.append(row_positions.window(view, agg, positioned[i]).as_(f"__{agg.id}", copy=False))
        else:
            w_cols.append(window_expr(view, agg, dialect, spine=True).as_(f"__{agg.id}", copy=False))
        replacements[f"__{agg.id}"] = exp.column(f"__{agg.id}", table="__w")
    estar = [f"MAX(__seq{g}) OVER (PARTITION BY {', '.join(K)} ORDER BY {ts}, __is_spine "
             f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __estar{g}" for g in range(len(groups))]
    w_body = ", ".join([f"{union}.*", *estar])
    for g, aggs in enumerate(groups.values()):
        shifted_cols: list[OutputColumn] = [OutputColumn(name=f"__k{j}", type="text", expr=q, kind="passthrough")
                                            for j, q in enumerate(K)]
        shifted_cols.append(OutputColumn(name="__seq", type="bigint", expr=f"__seq{g}", kind="passthrough"))
        shifted_aggs = []
        for agg in aggs:
            sh = _shifted(agg)
            if sh is None:
                replacements[f"__{agg.id}"] = P(agg.arg) if agg.func == "lag" and agg.arg else P(_empty(agg))
                continue
            shifted_aggs.append(sh)
            shifted_cols.append(OutputColumn(name=f"__s_{agg.id}", type=agg.type, expr=f"__{agg.id}", kind="feature",
                                             aggregates=[agg.id]))
            replacements[f"__{agg.id}"] = P(f"CASE WHEN __w.__estar{g} IS NULL THEN {_empty(agg)} "
                                            f"ELSE __sh{g}.__s_{agg.id} END")
        if not shifted_aggs:
            continue
        seq_cols = [ColumnType(name=f"__seq{gg}", type="bigint") for gg in range(len(groups))]
        sub = view.model_copy(update={"where": None, "columns": shifted_cols, "aggregates": shifted_aggs,
                                      "input_columns": [*view.input_columns, *seq_cols]})
        ctes.append((f"__sh{g}", per_event_query(sub, dialect, "__ev")))
        on = " AND ".join([f"__sh{g}.__seq = __w.__estar{g}"]
                          + ([] if c.global_event_numbers else  # the number is the row's alone
                             [f"__sh{g}.__k{j} IS NOT DISTINCT FROM __w.{q}" for j, q in enumerate(K)]))
        joins.append(f"LEFT JOIN __sh{g} ON {on}")
    w_select = P(f"SELECT {w_body} FROM {union}")
    w_select.set("expressions", [*w_select.expressions, *w_cols])
    ctes.append(("__w", w_select))

    outputs = [exp.column(SPINE_ID, table="__w").as_(SPINE_ID)]
    used: set[str] = set()
    for col in view.columns:
        expr = substitute(col.expr, replacements, used)
        for column in expr.find_all(exp.Column):
            if not column.table and column.name in {c.name for c in cols}:
                column.set("table", exp.to_identifier("__w"))
        outputs.append(expr.as_(col.name, quoted=True, copy=False))
    tree = P(f"SELECT 1 FROM __w {' '.join(joins)} WHERE __w.__is_spine = 1")
    tree.set("expressions", outputs)
    tree.set("with_", with_clause(ctes, c.materialized_cte))
    extra = [col for i in sorted(extreme) for col in sliding_extreme.typed_columns(view.aggregates[i])]
    if extra:
        view = view.model_copy(update={"input_columns": [*view.input_columns, *extra]})
    return bind_input(render_dialect(tree, view, dialect), raw_input)


def _probe_joins(view: FeatureView, input_sql: str | exp.Expression) -> tuple[dict[str, str], str]:
    """The dimension columns a spine row gets ({column: SQL}) and the LEFT JOINs giving them: the
    joins on the view's entity key (a probe row holds the key and t, nothing else)."""
    from .inputs import dimension_tables, on_condition

    tables = dimension_tables(view, input_sql)
    columns: dict[str, str] = {}
    joins = ""
    for j in view.joins:
        if j.alias not in tables or not all(k.input_column in view.entity for k in j.on):
            continue
        cond = on_condition(view, j, "__spine", SPINE_T).sql(CANON)
        joins += f" LEFT JOIN {tables[j.alias].sql(CANON)} ON {cond}"
        columns.update({name: f"{quote(j.alias)}.{quote(col)}" for col, name in j.read()})
    return columns, joins


def with_clause(ctes: list[tuple[str, str | exp.Expression]], materialized: bool) -> exp.With:
    return exp.With(expressions=[
        exp.CTE(this=body if isinstance(body, exp.Expression) else P(body),
                alias=exp.TableAlias(this=exp.to_identifier(name)), materialized=True if materialized else None)
        for name, body in ctes])


def as_of_sql(view: FeatureView, dialect: str, input_sql: str | exp.Expression, spine_sql: str,
              pretty: bool = False) -> str:
    return as_of_query(view, dialect, input_sql, spine_sql).sql(dialect=dialect, pretty=pretty, copy=False)
