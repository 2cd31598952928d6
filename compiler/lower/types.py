"""Typing of view expressions through the function registry (Postgres's rules)."""

from __future__ import annotations

from sqlglot import exp

from ..errors import ViewError
from ..functions import pgtypes
from ..functions.registry import TypeErr
from ..functions.typecheck import check
from .positions import Locator


def normalize(type_str: str) -> str:
    return pgtypes.normalize(type_str)


def kind(type_str: str) -> str:
    """Coarse family of a postgres type name: numeric, text, boolean, temporal, interval, unknown."""
    try:
        cat = pgtypes.category(pgtypes.normalize(type_str))
    except ValueError:
        return "other"
    return {"number": "numeric", "timestamp": "temporal"}.get(cat, cat)


def typed(node: exp.Expression, columns: dict[str, str], loc: Locator) -> tuple[exp.Expression, str]:
    """Type-check ``node`` (a bare expression; mutated) and return (the tree with untyped literals
    made explicit casts, its type). Type errors become ViewErrors at the offending node."""
    try:
        root, checker = check(node, columns)
    except TypeErr as err:
        raise ViewError(err.message, err.hint or "see docs/sql-surface.md", _offset(err.node, loc)) from None
    _fold_constants(root, checker, loc)
    return root, checker.typed[root]


_LEAVES = (exp.Literal, exp.Null, exp.Boolean, exp.DataType, exp.Var, exp.Identifier)
_NOT_CONSTANT = (exp.Column, exp.Window, exp.AggFunc, exp.Star, exp.Placeholder, exp.Parameter)


def _fold_constants(root: exp.Expression, checker, loc: Locator) -> None:
    """Postgres evaluates constant subexpressions while planning (``1 / 0``, ``9223372036854775807 + 1``,
    ``CAST(2147483648 AS INTEGER)``, ``SQRT(-1)``), so it refuses the query even on an empty table:
    evaluate every maximal constant subtree once, with Postgres's semantics, and refuse the same."""
    from ..functions.evaluate import Compiler
    from ..functions.pgvalues import SqlError

    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, _LEAVES):
            continue
        if node.find(*_NOT_CONSTANT) is None and id(node) in checker.typed.types:
            try:
                Compiler(checker).compile(node)({})
            except SqlError as err:
                raise ViewError(f"{err} (Postgres evaluates this constant expression when planning the query)",
                                "fix the constant expression", _offset(node, loc)) from None
            except Exception:  # noqa: BLE001 - not evaluable without a row: Postgres would not fold it either
                pass
            continue
        stack.extend(node.iter_expressions())


def _offset(node: exp.Expression | None, loc: Locator) -> int:
    while node is not None:
        try:
            off = loc.offset(node)
        except Exception:  # noqa: BLE001 - a node built by the checker has no position
            off = None
        if off is not None:
            return off
        node = node.parent
    return 0
