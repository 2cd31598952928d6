"""The scalar part of the SQL surface: which expression nodes a view may use around aggregates."""

from __future__ import annotations

from sqlglot import exp

from ..errors import ViewError
from ..functions import REGISTRY
from .positions import Locator

# Structural nodes; every operator and function comes from the registry (compiler/functions).
STRUCTURAL: tuple[type[exp.Expression], ...] = (
    exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.DataType, exp.DataTypeParam,
    exp.Var, exp.Tuple, exp.If,
)
ALLOWED: tuple[type[exp.Expression], ...] = STRUCTURAL + tuple(REGISTRY)

NON_DETERMINISTIC: tuple[type[exp.Expression], ...] = (
    exp.Rand, exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.Uuid,
)
NON_DETERMINISTIC_NAMES = {"now", "clock_timestamp", "statement_timestamp", "transaction_timestamp", "random",
                           "gen_random_uuid", "uuid_generate_v4", "timeofday", "setseed"}


def check_scalar(node: exp.Expression, loc: Locator, where: str) -> None:
    """Reject anything in ``node`` (windows already replaced) that is outside the scalar surface."""
    for sub in node.walk():
        if isinstance(sub, (exp.Subquery, exp.Select, exp.Exists)):
            inner = sub.find(exp.Select) or sub
            raise ViewError(f"subquery in {where}", "feature views are one SELECT over one source: no subqueries",
                            loc.keyword_before(inner, "SELECT"))
        if isinstance(sub, NON_DETERMINISTIC) or (
            isinstance(sub, exp.Anonymous) and str(sub.this).lower() in NON_DETERMINISTIC_NAMES
        ):
            name = loc.word_at(loc.offset(sub)) or sub.sql_name()
            raise ViewError(f"{name.lower()}() is non-deterministic",
                            "stream and batch must agree row for row: derive times from the event timestamp instead",
                            loc.offset(sub))
        if isinstance(sub, exp.AggFunc) and not isinstance(sub.parent, exp.Window):
            raise ViewError(f"aggregate {sub.sql_name()}() without OVER",
                            "feature views compute per-event window aggregates: add OVER (PARTITION BY ... ORDER BY ...)",
                            loc.offset(sub))
        if isinstance(sub, exp.Anonymous):
            raise ViewError(f"unknown or unsupported function {sub.name}()",
                            "see docs/sql-surface.md for the functions a feature view can use", loc.offset(sub))
        if isinstance(sub, exp.Window):
            continue
        if not isinstance(sub, ALLOWED):
            raise ViewError(f"{_label(sub)} is not supported in a feature view",
                            "see docs/sql-surface.md for the supported SQL surface", loc.offset(sub))


def _label(node: exp.Expression) -> str:
    if isinstance(node, exp.Func):
        return f"function {node.sql_name()}()"
    return f"expression {type(node).__name__.upper()}"
