"""What a view reads in batch: its source's table, or its upstream view's per-event query — with
its dimension joins (`DimJoin`) applied."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from ..ir import DimJoin, FeatureView
from .per_event import per_event_query
from .windows import quote

EVENT = "__e"


def input_for(view: FeatureView, views: dict[str, FeatureView], dialect: str,
              tables: dict[str, str] | None = None) -> str | exp.Expression:
    """``tables`` maps source and dimension names to table references (default: the quoted name)."""
    if view.input.kind == "source":
        events: str | exp.Expression = (tables or {}).get(view.input.name) or quote(view.input.name)
    else:
        upstream = views[view.input.name]
        events = per_event_query(upstream, dialect, input_for(upstream, views, dialect, tables))
    if not view.joins and not view.view_joins:
        return events
    return joined(view, events, tables or {}, views, dialect)


def _table(ref: str, alias: str) -> exp.Expression:
    table = sqlglot.parse_one(ref, into=exp.Table, read="postgres")
    return table.as_(alias, quoted=True, copy=False)


def joined(view: FeatureView, events: str | exp.Expression, tables: dict[str, str],
           views: dict[str, FeatureView] | None = None, dialect: str = "postgres") -> exp.Select:
    """``SELECT e.*, d.c AS d__c, ... FROM events e LEFT JOIN dim d ON <key> [AND <valid at ts>]`` —
    the input relation with the columns the view reads from its dimensions, and from the per-event
    rows of a view it joins (`ViewJoin`: ``LEFT JOIN (<its per-event query>) v ON v.k = e.k``)."""
    source = (exp.Subquery(this=events.copy(), alias=exp.TableAlias(this=exp.to_identifier(EVENT, quoted=True)))
              if isinstance(events, exp.Expression) else _table(events, EVENT))
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(EVENT, quoted=True))).from_(source, copy=False)
    for j in view.joins:
        select = select.select(*(exp.column(col, table=j.alias, quoted=True).as_(name, quoted=True)
                                 for col, name in j.read()), copy=False)
        select = select.join(_table(tables.get(j.dimension) or quote(j.dimension), j.alias), on=on_condition(view, j),
                             join_type="LEFT", copy=False)
    for vj in view.view_joins:
        other = (views or {})[vj.view]
        rows = per_event_query(other, dialect, input_for(other, views or {}, dialect, tables))
        rows = rows if isinstance(rows, exp.Expression) else sqlglot.parse_one(rows, read="postgres")
        select = select.select(*(exp.column(col, table=vj.alias, quoted=True).as_(name, quoted=True)
                                 for col, name in vj.read()), copy=False)
        on = exp.and_(*(exp.EQ(this=exp.column(k.dimension_column, table=vj.alias, quoted=True),
                               expression=exp.column(k.input_column, table=EVENT, quoted=True)) for k in vj.on))
        select = select.join(exp.Subquery(this=rows, alias=exp.TableAlias(this=exp.to_identifier(vj.alias, quoted=True))),
                             on=on, join_type="LEFT", copy=False)
    return select


def dimension_tables(view: FeatureView, input_sql: str | exp.Expression) -> dict[str, exp.Expression]:
    """The joined dimensions' table references (with their aliases) in an input built by `joined`."""
    if not view.joins or not isinstance(input_sql, exp.Select):
        return {}
    source = input_sql.args.get("from_")
    if source is None or source.this.alias != EVENT:
        return {}
    aliases = {j.alias for j in view.joins}
    return {j.this.alias: j.this for j in input_sql.args.get("joins") or []
            if isinstance(j.this, exp.Table) and j.this.alias in aliases}


def on_condition(view: FeatureView, j: DimJoin, rows: str = EVENT, ts: str | None = None) -> exp.Expression:
    """The join's ON over the relation aliased ``rows`` (whose time column is ``ts``, default the view's)."""
    def dim(c: str) -> exp.Column:
        return exp.column(c, table=j.alias, quoted=True)

    def event(c: str) -> exp.Column:
        return exp.column(c, table=rows, quoted=True)

    conds: list[exp.Expression] = [exp.EQ(this=dim(k.dimension_column), expression=event(k.input_column)) for k in j.on]
    if j.valid_from is not None and j.valid_to is not None:
        ts = ts or view.timestamp
        conds.append(exp.GTE(this=event(ts), expression=dim(j.valid_from)))
        conds.append(exp.paren(exp.or_(exp.LT(this=event(ts), expression=dim(j.valid_to)),
                                       exp.Is(this=dim(j.valid_to), expression=exp.Null()))))
    return exp.and_(*conds)
