"""The per-event relation of a view (what ``backfill`` writes): one row per input event."""

from __future__ import annotations

from sqlglot import exp

from ..ir import FeatureView
from .capabilities import caps
from . import sliding_extreme
from .count_distinct import per_event_count_distinct
from .exclude_rewrite import needs_rewrite, rewrite as exclude_rewrite
from .reach import mask_view, reach_window
from .windows import P, quote, range_end_back, render_dialect, window_expr




def substitute(expr_sql: str, replacements: dict[str, exp.Expression], used: set[str]) -> exp.Expression:
    """Parse an IR expression and put aggregate expressions in place of their ``__aN`` columns.
    ``used`` (shared by every call over one ``replacements``) records which trees are already placed."""
    tree = P(expr_sql)

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in replacements:
            # each replacement tree is built for this call; copy only when it is used twice
            first = node.name not in used
            used.add(node.name)
            tree_ = replacements[node.name] if first else replacements[node.name].copy()
            # an operator expression (an EXCLUDE or COUNT(DISTINCT) rewrite: ``a - b``) keeps its
            # precedence inside the output expression around it
            if isinstance(tree_, (exp.Binary, exp.Unary)) and not isinstance(tree_, exp.Paren):
                return exp.Paren(this=tree_)
            return tree_
        return node

    return tree.transform(swap, copy=False)


def bind_input(tree: exp.Expression, input_sql: str | exp.Expression) -> exp.Expression:
    """Put the input (a table name or a query tree) where the placeholder table ``__input`` is."""
    if isinstance(input_sql, str):
        return tree
    for table in list(tree.find_all(exp.Table)):
        if table.name == "__input":
            table.replace(exp.Subquery(this=input_sql.copy(), alias=table.args.get("alias")))
    return tree


def per_event_query(view: FeatureView, dialect: str, input_sql: str | exp.Expression,
                    carry: list[str] | None = None) -> exp.Select:
    """The per-event query tree (with ``dialect``'s window rewrites) over ``input_sql``, a table
    reference in the canonical dialect, or the query tree of an upstream view. ``carry``: input
    columns also returned, as ``__event_<column>`` (to join rows to their events)."""
    raw_input = input_sql
    if not isinstance(input_sql, str):
        input_sql = "__input"
    target = caps(dialect)
    reach = {i: r for i, a in enumerate(view.aggregates) if (r := reach_window(view, a, dialect))}
    if reach:  # arguments evaluated only where Postgres evaluates them (reach.py)
        view = mask_view(view, reach, "__reach")
    # Postgres MIN/MAX over a sliding time frame: linear block decomposition (sliding_extreme.py)
    extreme = {i for i, a in enumerate(view.aggregates) if sliding_extreme.applies_per_event(a, dialect)}
    use_cte = bool(reach) or bool(extreme) or any(a.func == "count_distinct" and target.count_distinct_stabbing
                                                   for a in view.aggregates)
    where = f" WHERE {view.where}" if view.where else ""
    replacements: dict[str, exp.Expression] = {}
    ctes: list[tuple[str, str]] = []
    joins = []
    if use_cte:
        order = {a.order[0]: a.order for a in view.aggregates if a.func == "count_distinct" and a.frame is not None
                 and (a.frame.mode == "rows" or a.total_order)}
        rn = ""
        if order:
            k = ", ".join(quote(c) for c in view.entity)
            cols = next(iter(order.values()))
            types = {c.name: c.type for c in view.input_columns}
            # the stream orders text by bytes: Postgres needs the C collation for the same order
            by = ", ".join(quote(c) + (target.text_collation if types.get(c) == "text" else "")
                           for c in cols)
            rn = f", ROW_NUMBER() OVER (PARTITION BY {k} ORDER BY {by}) AS __rn"
        counts = "".join(f", {r} AS __reach{i}" for i, r in reach.items())
        rid = target.row_id
        ctes.append(("__in", f"SELECT *, {rid} AS __rid{rn}{counts} FROM {input_sql} AS __src{where}"))
    for i, agg in enumerate(view.aggregates):
        if use_cte and agg.func == "count_distinct" and target.count_distinct_stabbing:
            agg_ctes, expr_sql = per_event_count_distinct(view, agg, f"__cd{i}", "__in")
            ctes.extend(agg_ctes)
            joins.append(f"LEFT JOIN __cd{i} ON __cd{i}.__qid = __in.__rid")
            replacements[f"__{agg.id}"] = P(expr_sql)
        elif i in extreme:
            agg_ctes, name = sliding_extreme.spine_extreme_ctes(
                view, agg, f"__mm{i}", "__in", "__in", quote(view.timestamp), "__rid",
                end_back=range_end_back(agg.frame))
            ctes.extend(agg_ctes)
            joins.append(f"LEFT JOIN {name} ON {name}.__qid = __in.__rid")
            replacements[f"__{agg.id}"] = exp.column(f"__{agg.id}", table=name)
        elif not target.exclude and needs_rewrite(agg):
            replacements[f"__{agg.id}"] = exclude_rewrite(view, agg, dialect)
        else:
            replacements[f"__{agg.id}"] = window_expr(view, agg, dialect)
    used: set[str] = set()
    select = [substitute(c.expr, replacements, used).as_(c.name, quoted=True, copy=False)
              for c in view.columns]
    select += [exp.column(c, table="__in", quoted=True).as_(f"__event_{c}", quoted=True) for c in carry or []]
    if use_cte:
        body = f"SELECT 1 FROM __in {' '.join(joins)}"
    else:
        body = f"SELECT 1 FROM {input_sql} AS __in{where}"
    tree = P(body)
    tree.set("expressions", select)
    if ctes:  # the input (an upstream view's rendered query) is bound after rendering, below
        ctes = [(n, P(b) if isinstance(b, str) else b) for n, b in ctes]
        from .as_of import with_clause

        tree.set("with_", with_clause(ctes, target.materialized_cte))
    extra = [col for i in sorted(extreme) for col in sliding_extreme.typed_columns(view.aggregates[i])]
    if extra:
        view = view.model_copy(update={"input_columns": [*view.input_columns, *extra]})
    return bind_input(render_dialect(tree, view, dialect), raw_input)


def per_event_sql(view: FeatureView, dialect: str, input_sql: str | exp.Expression, pretty: bool = False) -> str:
    """The per-event relation rendered in ``dialect`` (raises `BatchUnsupported`)."""
    return per_event_query(view, dialect, input_sql).sql(dialect=dialect, pretty=pretty, copy=False)
