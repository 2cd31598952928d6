"""Lower one rendered view (a SELECT) into a `FeatureView` IR node."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from ..errors import ViewError
from ..ir import CANONICAL_DIALECT, ORDER_INDEPENDENT, Aggregate, ColumnType, FeatureView, Frame, Input, OutputColumn
from ..functions.registry import common_type
from ..functions.registry import TypeErr
from .aggregates import result_type, split_call
from .frames import lower_frame, resolve_window
from .joins import DimSchema, lower_joins
from .positions import Locator
from .scalars import check_scalar
from .types import typed


@dataclass(frozen=True)
class InputSchema:
    """What a view reads: a source, or another view's per-event output."""

    kind: str  # "source" | "view"
    name: str
    root_source: str
    columns: dict[str, str]
    timestamp: str
    unique_key: list[str]
    allowed_lateness_us: int


@dataclass(frozen=True)
class ViewMeta:
    name: str
    path: str
    description: str
    tags: list[str]
    online: bool
    dialect: str


MAX_DEPTH = 100      # nested parentheses; Postgres's own parser stack gives out not far beyond
MAX_COLUMNS = 1664   # Postgres: "target lists can have at most 1664 entries"


def _check_tokens(sql: str, dialect: str) -> None:
    """Checks on the raw tokens, before the (recursive) parser sees them: absurd nesting, and
    interval literals as written (the parser reads ISO 8601 ``'P1M'`` as one *minute*, Postgres
    as one month)."""
    from sqlglot.tokens import TokenType

    from ..config.duration import parse_interval_text

    depth = 0
    tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    for i, tok in enumerate(tokens):
        if tok.token_type == TokenType.INTERVAL and i + 1 < len(tokens) and tokens[i + 1].token_type == TokenType.STRING:
            text = tokens[i + 1].text
            unit = tokens[i + 2] if i + 2 < len(tokens) else None
            if unit is not None and unit.token_type == TokenType.VAR and re.fullmatch(r"[A-Za-z]+", unit.text) \
                    and not re.search(r"[A-Za-z]", text):
                text = f"{text} {unit.text}"
            try:
                parse_interval_text(text)
            except ValueError as exc:
                raise ViewError(str(exc), "write e.g. INTERVAL '90 minutes' or INTERVAL '30 days'", tok.start) from None
        elif tok.token_type == TokenType.COMMA and i + 1 < len(tokens) and tokens[i + 1].token_type in (
                TokenType.FROM, TokenType.R_PAREN, TokenType.WHERE, TokenType.WINDOW):
            # sqlglot forgives a trailing comma; Postgres does not
            raise ViewError(f"SQL syntax error: trailing comma before {tokens[i + 1].text.upper()}",
                            "remove the comma", tok.start)
        elif tok.token_type == TokenType.L_PAREN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ViewError(f"expression nested more than {MAX_DEPTH} parentheses deep", "simplify the expression",
                                tok.start)
        elif tok.token_type == TokenType.R_PAREN:
            depth -= 1


def parse_single_select(sql: str, dialect: str, loc: Locator) -> exp.Select:
    try:
        _check_tokens(sql, dialect)
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except ParseError as exc:
        err = exc.errors[0] if exc.errors else {}
        offset = _offset_of(sql, err.get("line"), err.get("col"), err.get("highlight") or "")
        desc = (err.get("description") or str(exc)).split("\n")[0]
        raise ViewError(f"SQL syntax error: {desc}", "check the SQL near this point", offset) from None
    except TokenError as exc:
        m = re.search(r"Line (\d+), Col: (\d+)", str(exc))
        offset = _offset_of(sql, int(m.group(1)), int(m.group(2)), "") if m else 0
        raise ViewError(f"SQL syntax error: {str(exc).splitlines()[0]}", "check quotes and brackets", offset) from None
    if not statements:
        raise ViewError("the view is empty", "write one SELECT ... FROM {{ source('name') }}", 0)
    if len(statements) > 1:
        raise ViewError("a view file must contain exactly one statement", "put each view in its own .sql file",
                        loc.keyword_before(statements[1], statements[1].key.upper()))
    stmt = statements[0]
    if isinstance(stmt, exp.SetOperation):
        word = type(stmt).__name__.upper()
        raise ViewError(f"{word} (set operation) is not supported", "a feature view is one SELECT over one source",
                        loc.search(word, loc.offset(stmt.left) or 0))
    if not isinstance(stmt, exp.Select):
        raise ViewError(f"a view must be a SELECT, not {stmt.key.upper()}", "write SELECT ... FROM {{ source('name') }}",
                        loc.keyword_before(stmt, stmt.key.upper()))
    return stmt


def _offset_of(sql: str, line: int | None, col: int | None, highlight: str) -> int:
    if not line:
        return 0
    lines = sql.split("\n")
    start = sum(len(text) + 1 for text in lines[: line - 1])
    return max(start + (col or 1) - len(highlight), start)


def _check_shape(select: exp.Select, loc: Locator) -> None:
    checks = [
        ("with", "WITH (common table expressions)", "write one SELECT over {{ source() }} or {{ ref() }}", "WITH"),
        ("distinct", "SELECT DISTINCT", "every input event yields one output row; drop DISTINCT", "DISTINCT"),
        ("group", "GROUP BY", "use window functions: SUM(x) OVER (PARTITION BY key ORDER BY ts ...)", "GROUP"),
        ("having", "HAVING", "filter inputs with WHERE or aggregates with FILTER (WHERE ...)", "HAVING"),
        ("qualify", "QUALIFY", "filter inputs with WHERE", "QUALIFY"),
        ("order", "ORDER BY on the view", "row order is not part of a view's result; remove it", "ORDER"),
        ("limit", "LIMIT", "a view returns one row per event; remove LIMIT", "LIMIT"),
        ("offset", "OFFSET", "a view returns one row per event; remove OFFSET", "OFFSET"),
    ]
    for key, what, hint, word in checks:
        node = select.args.get(key)
        if node:
            at = node[0] if isinstance(node, list) else node
            found = loc.search(word, 0) if key in ("with", "distinct") else loc.keyword_before(at, word)
            raise ViewError(f"{what} is not supported in a feature view", hint, found)


def lower_view(sql: str, meta: ViewMeta, inputs: dict[str, InputSchema], declared: frozenset[str] = frozenset(),
               dims: dict[str, DimSchema] | None = None, joinable: dict[str, DimSchema] | None = None) -> FeatureView:
    """``inputs`` maps the rendered table names (from source()/ref()) to their schemas; ``dims``
    the declared dimensions (LEFT JOIN); ``declared`` names every source and view of the project
    (for better errors)."""
    loc = Locator(sql)
    select = parse_single_select(sql, meta.dialect, loc)
    _check_shape(select, loc)
    source = _resolve_from(select, inputs, declared, loc, dims or {})
    table = select.args["from_"].this
    from_alias = table.alias or source.name
    aliases = {from_alias}
    event_columns = set(source.columns)
    others = {n: d for n, d in (joinable or {}).items() if n != source.name}  # views it may LEFT JOIN
    source, joins, view_joins = lower_joins(select, source, {**(dims or {}), **others}, from_alias, loc)
    _resolve_columns(select, source, aliases, loc)

    where_sql = None
    where = select.args.get("where")
    if where is not None:
        if where.find(exp.Window):
            raise ViewError("window functions are not allowed in WHERE", "WHERE filters input events before windows run",
                            loc.offset(where.find(exp.Window)))
        check_scalar(where.this, loc, "WHERE")
        where_tree, wtype = typed(_bare(where.this), source.columns, loc)
        if wtype != "boolean":
            raise ViewError(f"WHERE must be a boolean condition, got {wtype}", "e.g. WHERE status = 'approved'",
                            loc.offset(where.this))
        where_sql = where_tree.sql(CANONICAL_DIALECT, copy=False)

    named = {w.this.name: w for w in select.args.get("windows") or []}
    lowering = _Aggregates(source, named, loc)
    columns: list[OutputColumn] = []
    seen: dict[str, exp.Expression] = {}
    if len(select.expressions) > MAX_COLUMNS:
        raise ViewError(f"{len(select.expressions):,} output columns; Postgres allows at most {MAX_COLUMNS}",
                        "split the view", loc.offset(select.expressions[MAX_COLUMNS]))
    for item in select.expressions:
        if isinstance(item, exp.Star) or (isinstance(item, exp.Column) and isinstance(item.this, exp.Star)):
            raise ViewError("SELECT * is not supported", "list the columns the view outputs", loc.offset(item))
        if isinstance(item, exp.Alias):
            name, body = item.alias, item.this
        elif isinstance(item, exp.Column):
            name, body = item.name, item
        else:
            raise ViewError("every computed column needs a name", "add AS <name>", loc.offset(item))
        if name in seen:
            raise ViewError(f"duplicate output column {name!r}", "give each column a distinct name",
                            loc.offset(item.args.get("alias") or item))
        seen[name] = item
        columns.append(lowering.output(name, body))

    entity = lowering.entity or []
    for name in [*entity, *(c for a in lowering.aggregates for c in a.order)]:
        if name not in event_columns:
            raise ViewError(f"{name.replace('__', '.', 1)} is a column of a joined dimension",
                            "PARTITION BY and ORDER BY read the events' own columns", loc.offset(lowering.entity_node))
    if not lowering.aggregates:
        raise ViewError("the view has no window function", "a feature view computes at least one aggregate OVER (...)",
                        loc.offset(select.expressions[0]))
    depends = ([source.name] if source.kind == "view" else []) + [j.view for j in view_joins]
    return FeatureView(
        name=meta.name, path=meta.path, description=meta.description, tags=meta.tags, online=meta.online,
        input=Input(kind=source.kind, name=source.name), root_source=source.root_source,
        input_columns=[ColumnType(name=k, type=v) for k, v in source.columns.items()],
        timestamp=source.timestamp, unique_key=source.unique_key, entity=entity, joins=joins, view_joins=view_joins,
        where=where_sql,
        columns=columns, aggregates=lowering.aggregates, depends_on=depends,
        allowed_lateness_us=source.allowed_lateness_us, sql=sql,
    )


def _resolve_from(select: exp.Select, inputs: dict[str, InputSchema], declared: frozenset[str],
                  loc: Locator, dims: dict[str, DimSchema]) -> InputSchema:
    from_ = select.args.get("from_")
    if from_ is None:
        raise ViewError("the view has no FROM", "read one source: FROM {{ source('name') }}", loc.offset(select))
    target = from_.this
    if isinstance(target, exp.Subquery):
        raise ViewError("subquery in FROM", "read a source or view directly: FROM {{ source('name') }} or {{ ref('view') }}",
                        loc.keyword_before(target.find(exp.Select) or target, "SELECT"))
    if isinstance(target, exp.Table) and not target.this.quoted and target.name in declared:
        raise ViewError(f"FROM {target.name} must be written with source() or ref()",
                        f"write FROM {{{{ source('{target.name}') }}}} (or ref() for a view)", loc.offset(target))
    if isinstance(target, exp.Table) and target.name in dims:
        raise ViewError(f"FROM {target.name}: a dimension table has no events to compute windows over",
                        "read events FROM {{ source('events') }} and LEFT JOIN the dimension", loc.offset(target))
    if not isinstance(target, exp.Table) or target.args.get("db") or target.name not in inputs:
        raise ViewError(f"FROM {target.sql()} is not a declared source",
                        "read inputs through Jinja: FROM {{ source('name') }} or {{ ref('view') }}", loc.offset(target))
    if not target.this.quoted:
        raise ViewError(f"FROM {target.name} must be written with source() or ref()",
                        f"write FROM {{{{ source('{target.name}') }}}} (or ref() for a view)", loc.offset(target))
    return inputs[target.name]


def _resolve_columns(select: exp.Select, source: InputSchema, aliases: set[str], loc: Locator) -> None:
    window_names = {w.this.name for w in select.args.get("windows") or []}
    for col in select.find_all(exp.Column):
        if isinstance(col.this, exp.Star):
            continue
        if col.table and col.table not in aliases:
            raise ViewError(f"unknown table {col.table!r} in {col.sql()}", f"the view reads {', '.join(sorted(aliases))}",
                            loc.offset(col))
        if col.name not in source.columns:
            if not col.table and col.name in window_names and isinstance(col.parent, exp.Window):
                continue
            close = difflib.get_close_matches(col.name, list(source.columns), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ViewError(f"unknown column {col.name!r} in {source.kind} {source.name!r}",
                            f"{hint}columns: {', '.join(source.columns)}", loc.offset(col))


def _bare(node: exp.Expression) -> exp.Expression:
    """A copy with table qualifiers removed (IR expressions name input columns only)."""
    def strip(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and n.table:
            return exp.column(n.name, quoted=n.this.quoted)
        return n
    return node.copy().transform(strip, copy=False)


class _Aggregates:
    def __init__(self, source: InputSchema, named: dict[str, exp.Window], loc: Locator):
        self.source = source
        self.named = named
        self.loc = loc
        self.aggregates: list[Aggregate] = []
        self.by_sql: dict[str, str] = {}
        self.entity: list[str] | None = None
        self.entity_node: exp.Expression | None = None

    def output(self, name: str, body: exp.Expression) -> OutputColumn:
        for w in body.find_all(exp.Window):
            inner = w.this.find(exp.Window)
            if inner is not None:
                raise ViewError("window function nested inside a window function",
                                "compute the inner window in an upstream view and ref() it", self.loc.offset(inner))
        ids: list[str] = []

        def swap(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Window):
                ids.append(self.lower(node))
                return exp.column(f"__{ids[-1]}")
            return node

        replaced = body.copy().transform(swap, copy=False)
        check_scalar(replaced, self.loc, "the select list")
        types = dict(self.source.columns)
        types.update({f"__{a.id}": a.type for a in self.aggregates})
        bare, out_type = typed(_bare(replaced), types, self.loc)
        if out_type == "unknown":
            bare, out_type = exp.Cast(this=bare, to=exp.DataType.build("TEXT")), "text"  # Postgres: unknown -> text
        kind = "feature" if ids else ("passthrough" if isinstance(body, exp.Column) else "scalar")
        column = bare.name if kind == "passthrough" and isinstance(bare, exp.Column) else None
        return OutputColumn(name=name, type=out_type, expr=bare.sql(CANONICAL_DIALECT, copy=False), kind=kind,
                            aggregates=ids, column=column)

    def lower(self, window: exp.Window) -> str:
        loc = self.loc
        call = split_call(window, loc)
        parts = resolve_window(window, self.named, loc)
        self._check_entity(parts.partition, window)
        order = self._check_order(parts.order, window)
        frame: Frame | None = None
        if call.func != "lag":
            frame = lower_frame(parts.spec, loc, window)
        if call.func in ("first_value", "last_value") and frame is not None and frame.mode == "range" \
                and frame.start.kind == "preceding":
            raise ViewError(f"{call.func.upper()}() over a RANGE INTERVAL frame has no total order",
                            "SQL allows one ORDER BY column with an INTERVAL frame, so ties are ambiguous: "
                            "use a ROWS frame with ORDER BY ts, <unique key>, or MIN()/MAX()", loc.offset(call.node))
        needs_total = call.func not in ORDER_INDEPENDENT or (frame is not None and frame.mode == "rows")
        if frame is not None and frame.mode == "range" and frame.start.kind == "preceding" and len(order) > 1:
            raise ViewError("RANGE with an INTERVAL offset needs exactly one ORDER BY column (the timestamp)",
                            "peers at the same timestamp are included together; drop the tie-break columns",
                            loc.offset(parts.order[1]))
        if needs_total:
            self._check_total(order, call.func, frame, window)
        for sub, what in ((call.arg, "the argument"), (call.filter, "FILTER"), (call.default, "the LAG default")):
            if sub is not None:
                check_scalar(sub, loc, what)
        cols = self.source.columns
        arg_sql = filter_sql = default_sql = None
        arg_type = None
        if call.filter is not None:
            ftree, ftype = typed(_bare(call.filter), cols, loc)
            if ftype != "boolean":
                raise ViewError(f"FILTER (WHERE ...) must be boolean, got {ftype}", "write a predicate such as status = 'ok'",
                                loc.offset(call.filter))
            filter_sql = ftree.sql(CANONICAL_DIALECT, copy=False)
        if call.arg is not None:
            atree, arg_type = typed(_bare(call.arg), cols, loc)
            arg_sql = atree.sql(CANONICAL_DIALECT, copy=False)
        out_type = result_type(call, arg_type, call.arg, loc)
        if call.func == "lag" and call.default is not None:
            dtree, dtype = typed(_bare(call.default), cols, loc)
            try:
                out_type = common_type([arg_type, dtype], call.default, "LAG value and default")
            except TypeErr as err:
                raise ViewError(err.message, "give LAG a default of the argument's type", loc.offset(call.default)) from None
            if dtype == "unknown":
                dtree, _ = typed(exp.Cast(this=dtree, to=exp.DataType.build(out_type, dialect="postgres")), cols, loc)
            default_sql = dtree.sql(CANONICAL_DIALECT, copy=False)
        by_name = {p.name: p for p in parts.partition}
        partition = [by_name[name] for name in self.entity or []]  # one canonical key order per view
        resolved = exp.Window(this=window.this.copy(), partition_by=[p.copy() for p in partition],
                              order=exp.Order(expressions=[o.copy() for o in parts.order]),
                              spec=parts.spec.copy() if parts.spec is not None and call.func != "lag" else None)
        canonical = _bare(resolved).sql(CANONICAL_DIALECT, copy=False)
        if canonical in self.by_sql:
            return self.by_sql[canonical]
        agg = Aggregate(
            id=f"a{len(self.aggregates)}", func=call.func,
            arg=arg_sql, arg_type=arg_type, filter=filter_sql,
            frame=frame, order=order, offset=call.offset,
            default=default_sql, type=out_type, sql=canonical,
        )
        self.aggregates.append(agg)
        self.by_sql[canonical] = agg.id
        return agg.id

    def _check_entity(self, partition: list[exp.Expression], window: exp.Window) -> None:
        loc = self.loc
        if not partition:
            raise ViewError("window without PARTITION BY", "features are per entity: PARTITION BY the entity key (e.g. user_id)",
                            loc.keyword_in(window, "OVER"))
        names = []
        for p in partition:
            if not isinstance(p, exp.Column):
                raise ViewError("PARTITION BY must list plain columns", "compute the key in an upstream view if needed",
                                loc.offset(p))
            names.append(p.name)
        if self.entity is None:
            self.entity, self.entity_node = names, partition[0]
        elif sorted(names) != sorted(self.entity):
            raise ViewError(f"PARTITION BY ({', '.join(names)}) differs from ({', '.join(self.entity)}) used earlier in the view",
                            "a view has one entity key: put features of other entities in their own view",
                            loc.offset(partition[0]))

    def _check_order(self, order: list[exp.Ordered], window: exp.Window) -> list[str]:
        loc, ts = self.loc, self.source.timestamp
        if not order:
            raise ViewError("window without ORDER BY covers the whole partition, including future events",
                            f"add ORDER BY {ts}", loc.keyword_in(window, "OVER"))
        names = []
        for i, o in enumerate(order):
            col = o.this
            if not isinstance(col, exp.Column):
                raise ViewError("ORDER BY must list plain columns", f"order by {ts}, then unique tie-break columns", loc.offset(col))
            if i == 0 and col.name != ts:
                raise ViewError(f"ORDER BY {col.name} is not the timestamp column {ts!r}",
                                f"windows are over event time: ORDER BY {ts}", loc.offset(col))
            if o.args.get("desc"):
                raise ViewError(f"ORDER BY {col.name} DESC", "windows look back in time: order ascending",
                                loc.offset(col))
            names.append(col.name)
        return names

    def _check_total(self, order: list[str], func: str, frame: Frame | None, window: exp.Window) -> None:
        key = self.source.unique_key
        what = f"{func.upper()}()" if frame is None or func not in ORDER_INDEPENDENT else "a ROWS frame"
        if not key:
            raise ViewError(f"{what} needs a total order, but {self.source.kind} {self.source.name!r} declares no unique key",
                            "declare unique_key for the source and ORDER BY ts, <unique key>",
                            self.loc.keyword_in(window, "ORDER\\s+BY"))
        covered = set(order[1:]) | set(self.entity or [])
        if not set(key) <= covered:
            raise ViewError(f"{what} needs a total order: ORDER BY {', '.join(order)} has ties",
                            f"add the unique key as tie-break: ORDER BY {', '.join([order[0], *key])}",
                            self.loc.keyword_in(window, "ORDER\\s+BY"))
