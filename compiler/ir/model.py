"""The feature IR: the one contract between compiler/ and runtime/.

A `FeatureView` is the lowered form of one ``features/*.sql`` file. It is small, frozen, typed and
JSON-serializable (``model_dump(mode="json")``). Scalar expressions are kept as SQL text in the
canonical dialect (`CANONICAL_DIALECT`) over the input's column names; inside output expressions
an aggregate is referenced as the column ``__<aggregate id>`` (for example ``__a0``). Engines parse
that text with sqlglot; the set of functions that can appear is fixed by `lower.scalars`.

Frame offsets are exact integers: microseconds for RANGE frames over the timestamp, row counts
for ROWS frames. See docs/ir.md for the full description.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

IR_VERSION = 2
CANONICAL_DIALECT = "postgres"

AggFunc = Literal[
    "count_star", "count", "count_distinct", "sum", "avg", "min", "max",
    "var_samp", "var_pop", "stddev_samp", "stddev_pop", "bool_or", "bool_and",
    "first_value", "last_value", "lag",
]
ORDER_INDEPENDENT: frozenset[str] = frozenset(
    {"count_star", "count", "count_distinct", "sum", "avg", "min", "max", "var_samp", "var_pop",
     "stddev_samp", "stddev_pop", "bool_or", "bool_and"}
)


class IRModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Bound(IRModel):
    """A frame bound. ``offset`` is µs (RANGE) or rows (ROWS); None with ``unbounded``/``current``."""

    kind: Literal["unbounded_preceding", "preceding", "current_row"]
    offset: int | None = None


class Frame(IRModel):
    mode: Literal["range", "rows"]
    start: Bound
    end: Bound
    exclude: Literal["no_others", "current_row", "group", "ties"] = "no_others"

    @property
    def reach(self) -> int | None:
        """How far back the frame reaches (µs or rows); None when unbounded (lifetime)."""
        return None if self.start.kind == "unbounded_preceding" else (self.start.offset or 0)


class Aggregate(IRModel):
    """One window function call.

    ``arg`` is None for COUNT(*). ``filter`` is the FILTER (WHERE ...) predicate. ``order`` is the
    ORDER BY column list: the timestamp first, then tie-break columns. LAG has no frame and carries
    ``offset``/``default``; every other function has a frame.
    """

    id: str
    func: AggFunc
    arg: str | None = None
    arg_type: str | None = None
    filter: str | None = None
    frame: Frame | None = None
    order: list[str]
    offset: int = 1
    default: str | None = None
    type: str
    sql: str

    @property
    def total_order(self) -> bool:
        """ORDER BY has tie-break columns after the timestamp (the source's unique key): every peer
        group is one row, so a RANGE frame without offsets is the same frame in ROWS."""
        return len(self.order) > 1

    @property
    def positional(self) -> bool:
        """Computed over positions in the order rather than over a time range: ROWS frames, LAG,
        FIRST/LAST_VALUE (over RANGE UNBOUNDED with a total order) and RANGE CURRENT ROW over a
        total order (the row itself). The stream keeps these as row histories; the as-of SQL
        shifts them to the latest event."""
        if self.frame is None or self.frame.mode == "rows":
            return True
        if self.frame.start.kind == "current_row" and self.total_order:
            return True
        return self.func in ("first_value", "last_value")


class OutputColumn(IRModel):
    """One select-list item. ``kind`` says whether it reads aggregates (``feature``) or only the
    current event (``passthrough`` for a bare column, ``scalar`` for an expression of columns).
    ``column`` is the input column a ``passthrough`` copies (None for the other kinds)."""

    name: str
    type: str
    expr: str
    kind: Literal["passthrough", "scalar", "feature"]
    aggregates: list[str] = []
    column: str | None = None


class Input(IRModel):
    kind: Literal["source", "view"]
    name: str


class ColumnType(IRModel):
    name: str
    type: str


class JoinKey(IRModel):
    dimension_column: str
    input_column: str


class _JoinedColumns:
    """What a join's view reads, named ``<alias>__<column>`` in its input (`DimJoin`, `ViewJoin`)."""

    if TYPE_CHECKING:  # the models' own fields (annotated here, pydantic would take them as fields of its own)
        alias: str
        columns: list[ColumnType]

    def column_name(self, column: str) -> str:
        return f"{self.alias}__{column}"

    def read(self) -> list[tuple[str, str]]:
        """(the joined table's column, its name in the view's input) for each column the view reads."""
        return [(c.name[len(self.alias) + 2:], c.name) for c in self.columns]


class DimJoin(IRModel, _JoinedColumns):
    """``LEFT JOIN {{ source(dimension) }} AS alias ON ...``: each input row gets the dimension
    row whose key columns equal ``on``'s input columns — for a versioned dimension, the version
    with ``valid_from <= ts < valid_to`` (valid_to NULL: open), ts the view's timestamp — or NULLs
    when there is none. ``columns`` are the dimension columns the view reads; in the view's
    expressions (and ``input_columns``) they are named ``<alias>__<column>``."""

    dimension: str
    alias: str
    on: list[JoinKey]
    valid_from: str | None = None
    valid_to: str | None = None
    columns: list[ColumnType]


class ViewJoin(IRModel, _JoinedColumns):
    """``LEFT JOIN {{ ref(view) }} AS alias ON alias.<k> = e.<k>`` over every unique-key column of
    the source both views read: each event gets ``view``'s per-event row *for that same event* —
    another entity's features as of the event (e.g. the merchant's, in a view keyed by user) — or
    NULLs when ``view`` has no row for it (its WHERE left the event out). ``on`` pairs the joined
    view's columns (``dimension_column``) with the input's; ``columns`` as in `DimJoin`."""

    view: str
    alias: str
    on: list[JoinKey]
    columns: list[ColumnType]


class FeatureView(IRModel):
    name: str
    path: str
    description: str = ""
    tags: list[str] = []
    online: bool = True
    input: Input
    root_source: str
    input_columns: list[ColumnType]
    timestamp: str
    unique_key: list[str] = []
    entity: list[str]
    joins: list[DimJoin] = []
    view_joins: list[ViewJoin] = []
    where: str | None = None
    columns: list[OutputColumn]
    aggregates: list[Aggregate]
    depends_on: list[str] = []
    allowed_lateness_us: int
    sql: str
    fingerprint: str = ""

    def passthrough(self) -> dict[str, str]:
        """Input column -> the output column passing it through (the last, when several do)."""
        return {c.column: c.name for c in self.columns if c.kind == "passthrough" and c.column is not None}

    @property
    def timestamp_output(self) -> str | None:
        """The (first) output column passing the event time through; None when the view drops it."""
        return next((c.name for c in self.columns if c.kind == "passthrough" and c.column == self.timestamp), None)

    def column(self, name: str) -> OutputColumn:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def aggregate(self, agg_id: str) -> Aggregate:
        for a in self.aggregates:
            if a.id == agg_id:
                return a
        raise KeyError(agg_id)
