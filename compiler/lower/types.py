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
    return root, checker.typed[root]


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
