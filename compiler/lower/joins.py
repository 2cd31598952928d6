"""``LEFT JOIN`` of dimension tables in a view's FROM: resolve and check the joins, and rename the
dimension columns the view reads to ``<alias>__<column>`` input columns (`DimJoin`).

A view may join dimensions only (never events of another source), only with LEFT JOIN, and only on
conditions that select at most one dimension row per event — so the view keeps one row per event
and the stream can look the row up from the event alone:

- every key column of the dimension equated to an input column (same type), and
- for a versioned dimension, ``ts >= d.valid_from AND (ts < d.valid_to OR d.valid_to IS NULL)``
  with ``ts`` the view's timestamp (the version valid at the event's time).
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

from sqlglot import exp

from ..errors import ViewError
from ..functions.pgtypes import BOOL, INTEGERS, NUMERIC, TEXT, TSTZ, base, normalize
from ..ir import ColumnType, DimJoin, JoinKey, ViewJoin
from .positions import Locator

ON_HINT = ("join on every key column, e.g. ON d.id = e.merchant_id; a versioned dimension also needs "
           "AND e.ts >= d.valid_from AND (e.ts < d.valid_to OR d.valid_to IS NULL)")
KEY_TYPES = (TEXT, BOOL, TSTZ, NUMERIC)


@dataclass(frozen=True)
class DimSchema:
    """What the compiler knows of a declared dimension — or of a view another view may join
    (``view``): its per-event rows keyed by the columns passing its source's unique key through
    (``passes``: its column -> the source column), over source ``root_source``."""

    name: str
    columns: dict[str, str]
    key: list[str]
    valid_from: str | None = None
    valid_to: str | None = None
    view: bool = False
    passes: dict[str, str] = dataclasses.field(default_factory=dict)
    root_source: str | None = None

    @property
    def versioned(self) -> bool:
        return self.valid_from is not None


@dataclass
class _Join:
    dim: DimSchema
    alias: str
    on: list[JoinKey]
    used: dict[str, str]  # dimension column -> type, in the order first read


def lower_joins(select: exp.Select, source, dims: dict[str, DimSchema], from_alias: str,
                loc: Locator):
    """Check ``select``'s joins, take them off the tree and rewrite the dimension columns it reads.
    Returns the input schema with the joined columns added, the `DimJoin` list and the `ViewJoin`
    list."""
    nodes = select.args.get("joins") or []
    if not nodes:
        return source, [], []
    joins: dict[str, _Join] = {}
    for node in nodes:
        join = _join(node, source, dims, from_alias, set(joins), loc)
        joins[join.alias] = join
    select.set("joins", None)
    # ON first (its columns are resolved against the join itself), then the rest of the view
    for node in nodes:
        _on(node, joins[_alias(node.this)], source, from_alias, joins, loc)
    _rewrite(select, source, from_alias, joins, loc)
    columns = dict(source.columns)
    out: list = []
    views: list = []
    for j in joins.values():
        cols = [ColumnType(name=f"{j.alias}__{c}", type=t) for c, t in j.used.items()]
        for c in cols:
            if c.name in source.columns:
                raise ViewError(f"column {c.name!r} of {source.kind} {source.name!r} has the name the view gives "
                                f"{j.alias}.{c.name[len(j.alias) + 2:]}", "give the dimension another alias",
                                loc.offset(nodes[0]))
            columns[c.name] = c.type
        if j.dim.view:
            views.append(ViewJoin(view=j.dim.name, alias=j.alias, on=j.on, columns=cols))
        else:
            out.append(DimJoin(dimension=j.dim.name, alias=j.alias, on=j.on, valid_from=j.dim.valid_from,
                               valid_to=j.dim.valid_to, columns=cols))
    if len(views) > 1:
        raise ViewError("a view joins at most one other view", "join the second view's features in a view over "
                        "this one (ref())", loc.offset(nodes[0]))
    return dataclasses.replace(source, columns=columns), out, views


def _alias(table: exp.Expression) -> str:
    return table.alias or table.name


def _join(node: exp.Join, source, dims: dict[str, DimSchema], from_alias: str, seen: set[str],
          loc: Locator) -> _Join:
    side, kind = (node.args.get("side") or "").upper(), (node.args.get("kind") or "").upper()
    table = node.this
    where = loc.keyword_before(node, "JOIN")
    if side != "LEFT" or kind not in ("", "OUTER"):
        what = " ".join(w for w in (side, kind) if w) or "INNER"
        raise ViewError(f"{what} JOIN is not supported in a feature view",
                        "join a dimension with LEFT JOIN (every event keeps its row; no match: NULLs); "
                        "filter with WHERE d.<key> IS NOT NULL to keep matched events only", where)
    if node.args.get("using"):
        raise ViewError("JOIN ... USING is not supported", ON_HINT, where)
    if not isinstance(table, exp.Table) or table.args.get("db"):
        raise ViewError("a view joins dimension tables only", "declare the table under dimensions: in a sources "
                        "file and write LEFT JOIN {{ source('name') }} AS d ON ...", loc.offset(table))
    if table.this.quoted and table.name == source.name:
        raise ViewError("a view cannot join its own input", "a view reads one event input", loc.offset(table))
    if table.name in dims and dims[table.name].view and (source.kind != "source"
                                                         or dims[table.name].root_source != source.name):
        raise ViewError(f"ref({table.name!r}) is over source {dims[table.name].root_source!r}: a view joins the rows "
                        "of another view over the same events only",
                        f"read FROM {{{{ source('{dims[table.name].root_source}') }}}} and join ref('{table.name}') "
                        "on its unique key", loc.offset(table))
    if table.name in dims and dims[table.name].view and (not source.unique_key
                                                         or set(dims[table.name].passes.values()) != set(source.unique_key)):
        missing = [k for k in source.unique_key if k not in dims[table.name].passes.values()]
        raise ViewError(f"view {table.name!r} does not output the unique key of source {source.name!r}"
                        + (f" ({', '.join(missing)})" if missing else " (it declares none)"),
                        ("a view joins another view's row of the same event by the source's unique_key: add the "
                         f"key column(s) to {table.name!r}'s select list") if missing else
                        f"declare unique_key for source {source.name!r}", loc.offset(table))
    if table.name not in dims:
        raise ViewError(f"JOIN {table.name} is not a declared dimension",
                        "events of another source or view cannot be joined; declare dimension tables under "
                        "dimensions: in a sources file and join them with {{ source('name') }}", loc.offset(table))
    if not table.this.quoted:
        raise ViewError(f"JOIN {table.name} must be written with source()",
                        f"write LEFT JOIN {{{{ source('{table.name}') }}}} AS d", loc.offset(table))
    alias = _alias(table)
    if alias in seen or alias == from_alias:
        raise ViewError(f"table name {alias!r} specified more than once", "give each joined table its own alias",
                        loc.offset(table))
    if not node.args.get("on"):
        raise ViewError("JOIN without ON", ON_HINT, where)
    return _Join(dims[table.name], alias, [], {})


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.And):
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _strip(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _side(col: exp.Expression, join: _Join, source, from_alias: str, loc: Locator) -> tuple[str, str] | None:
    """('dim', column) for a column of ``join``'s dimension, ('input', column) for an input column."""
    if not isinstance(col, exp.Column):
        return None
    if col.table == join.alias or (not col.table and col.name in join.dim.columns and col.name not in source.columns):
        if col.name not in join.dim.columns:
            raise ViewError(f"unknown column {col.name!r} in dimension {join.dim.name!r}",
                            f"columns: {', '.join(join.dim.columns)}", loc.offset(col))
        return "dim", col.name
    if col.table in ("", from_alias) and col.name in source.columns:
        if not col.table and col.name in join.dim.columns:
            raise ViewError(f"column reference {col.name!r} is ambiguous", f"write {from_alias}.{col.name} or "
                            f"{join.alias}.{col.name}", loc.offset(col))
        return "input", col.name
    return None


def _on(node: exp.Join, join: _Join, source, from_alias: str, joins: dict[str, _Join], loc: Locator) -> None:
    dim, ts = join.dim, source.timestamp
    keys: dict[str, str] = {}
    valid_from = valid_to = False
    for cond in _conjuncts(node.args["on"]):
        at = loc.offset(cond)
        if isinstance(cond, exp.EQ):
            sides = [_side(_strip(cond.left), join, source, from_alias, loc),
                     _side(_strip(cond.right), join, source, from_alias, loc)]
            if sorted(s[0] for s in sides if s) == ["dim", "input"]:
                d = next(s[1] for s in sides if s and s[0] == "dim")
                i = next(s[1] for s in sides if s and s[0] == "input")
                if d not in dim.key:
                    if dim.view:
                        raise ViewError(f"{join.alias}.{d} does not pass the unique key of {source.name!r} through",
                                        VIEW_ON_HINT.format(keys=_view_on(dim, join.alias, from_alias)), at)
                    raise ViewError(f"{join.alias}.{d} is not a key column of dimension {dim.name!r}",
                                    f"join on its key: {', '.join(dim.key)}", at)
                if dim.view and dim.passes[d] != i:
                    raise ViewError(f"{join.alias}.{d} is {source.name}.{dim.passes[d]}, joined to {i}: each event "
                                    "joins the other view's row of the same event",
                                    VIEW_ON_HINT.format(keys=_view_on(dim, join.alias, from_alias)), at)
                if d in keys:
                    raise ViewError(f"key column {join.alias}.{d} is joined twice", ON_HINT, at)
                _check_key_types(dim, d, source, i, at)
                keys[d] = i
                continue
        elif dim.valid_from is not None and _is_valid_from(cond, join, source, from_alias, loc):
            valid_from = True
            continue
        elif dim.valid_to is not None and _is_valid_to(cond, join, source, from_alias, loc):
            valid_to = True
            continue
        raise ViewError(f"unsupported join condition {cond.sql('postgres')}", ON_HINT, at)
    missing = [k for k in dim.key if k not in keys]
    if missing and dim.view:
        raise ViewError(f"the join does not bind every unique-key column of {source.name!r} to view {dim.name!r}",
                        VIEW_ON_HINT.format(keys=_view_on(dim, join.alias, from_alias)), loc.keyword_in(node, "ON"))
    if missing:
        raise ViewError(f"the join does not bind key column(s) {', '.join(missing)} of dimension {dim.name!r}",
                        "each event must match at most one dimension row: " + ON_HINT, loc.keyword_in(node, "ON"))
    if dim.versioned and not (valid_from and valid_to):
        raise ViewError(f"dimension {dim.name!r} is versioned: the join must pick the version valid at the event",
                        f"add AND {from_alias}.{ts} >= {join.alias}.{dim.valid_from} AND ({from_alias}.{ts} < "
                        f"{join.alias}.{dim.valid_to} "
                        f"OR {join.alias}.{dim.valid_to} IS NULL)", loc.keyword_in(node, "ON"))
    join.on = [JoinKey(dimension_column=k, input_column=keys[k]) for k in dim.key]


VIEW_ON_HINT = ("join another view's row of the same event on the source's unique key: ON {keys} (the view "
                "must output those columns)")


def _view_on(dim: DimSchema, alias: str, from_alias: str) -> str:
    return " AND ".join(f"{alias}.{d} = {from_alias}.{s}" for d, s in dim.passes.items()) or \
        f"(view {dim.name!r} outputs none of the unique key's columns)"


def _check_key_types(dim: DimSchema, d: str, source, i: str, at: int | None) -> None:
    dt, it = normalize(dim.columns[d]), normalize(source.columns[i])
    if base(dt) in INTEGERS and base(it) in INTEGERS:
        return
    if base(dt) != base(it) or base(dt) not in KEY_TYPES:
        raise ViewError(f"join key types differ or cannot be matched exactly: {dim.name}.{d} is {dim.columns[d]}, "
                        f"{i} is {source.columns[i]}",
                        "join integer, text, boolean, timestamptz or numeric keys of the same type "
                        "(cast in an upstream view)", at)


def _is_ts(node: exp.Expression, source, from_alias: str) -> bool:
    node = _strip(node)
    return isinstance(node, exp.Column) and node.table in ("", from_alias) and node.name == source.timestamp


def _is_dim(node: exp.Expression, join: _Join, column: str | None) -> bool:
    node = _strip(node)
    return isinstance(node, exp.Column) and node.name == column and (
        node.table == join.alias or not node.table)


def _is_valid_from(cond, join: _Join, source, from_alias: str, loc: Locator) -> bool:
    vf = join.dim.valid_from
    if isinstance(cond, exp.GTE):
        return _is_ts(cond.left, source, from_alias) and _is_dim(cond.right, join, vf)
    if isinstance(cond, exp.LTE):
        return _is_dim(cond.left, join, vf) and _is_ts(cond.right, source, from_alias)
    return False


def _is_valid_to(cond, join: _Join, source, from_alias: str, loc: Locator) -> bool:
    vt = join.dim.valid_to
    cond = _strip(cond)
    if not isinstance(cond, exp.Or):
        return False
    parts = [_strip(cond.left), _strip(cond.right)]

    def before(p) -> bool:
        if isinstance(p, exp.LT):
            return _is_ts(p.left, source, from_alias) and _is_dim(p.right, join, vt)
        if isinstance(p, exp.GT):
            return _is_dim(p.left, join, vt) and _is_ts(p.right, source, from_alias)
        return False

    def open_(p) -> bool:
        return isinstance(p, exp.Is) and _is_dim(p.this, join, vt) and isinstance(p.expression, exp.Null)

    return (before(parts[0]) and open_(parts[1])) or (open_(parts[0]) and before(parts[1]))


def _rewrite(select: exp.Select, source, from_alias: str, joins: dict[str, _Join], loc: Locator) -> None:
    """Dimension columns read by the view -> ``<alias>__<column>`` (a bare select item keeps its
    output name)."""
    by_name: dict[str, list[_Join]] = {}
    for j in joins.values():
        for c in j.dim.columns:
            by_name.setdefault(c, []).append(j)
    window_names = {w.this.name for w in select.args.get("windows") or []}

    def target(col: exp.Column) -> tuple[_Join, str] | None:
        if col.table in joins:
            j = joins[col.table]
            if col.name not in j.dim.columns:
                close = difflib.get_close_matches(col.name, list(j.dim.columns), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise ViewError(f"unknown column {col.name!r} in dimension {j.dim.name!r}",
                                f"{hint}columns: {', '.join(j.dim.columns)}", loc.offset(col))
            return j, col.name
        if col.table:
            return None
        owners = by_name.get(col.name, [])
        if not owners or (col.name in window_names and isinstance(col.parent, exp.Window)):
            return None
        if col.name in source.columns or len(owners) > 1:
            names = [from_alias] * (col.name in source.columns) + [j.alias for j in owners]
            raise ViewError(f"column reference {col.name!r} is ambiguous",
                            "qualify it: " + " or ".join(f"{n}.{col.name}" for n in names), loc.offset(col))
        return owners[0], col.name

    def renamed(col: exp.Column, j: _Join, name: str) -> exp.Column:
        j.used.setdefault(name, j.dim.columns[name])
        new = exp.column(f"{j.alias}__{name}")
        starts = [n.meta["start"] for n in col.walk() if n._meta and "start" in n.meta]
        if starts:
            new.this.meta["start"] = min(starts)
        return new

    items = []
    for item in select.expressions:
        if isinstance(item, exp.Column) and (t := target(item)) is not None:
            item = exp.alias_(renamed(item, *t), item.name, quoted=item.this.quoted)
        items.append(item)
    select.set("expressions", items)

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star) and (t := target(node)) is not None:
            return renamed(node, *t)
        return node

    select.transform(swap, copy=False)
