"""IR expressions -> Python closures over a row, built from the registry's implementations.

`compile_scalar(sql, columns)` type-checks the expression against the column types (the same
rules `validate` applied) and returns ``fn(row) -> value`` with Postgres's semantics. Errors
Postgres would raise at run time raise `SqlError`.
"""

from __future__ import annotations

from functools import lru_cache
import sqlglot
from sqlglot import exp

from .families.compare import comparison_type
from .registry import REGISTRY, Fn, TypeErr, converter, literal_type, literal_value
from .typecheck import Checker, check


class Compiler:
    def __init__(self, checker: Checker):
        self.checker = checker

    def type(self, node: exp.Expression) -> str:
        return self.checker.typed[node]

    def operand_type(self, *nodes: exp.Expression) -> str:
        """The type the checker compared these operands in."""
        return comparison_type([self.type(n) for n in nodes])

    def convert(self, node: exp.Expression, to: str) -> Fn:
        fn = self.compile(node)
        conv = converter(self.type(node), to)
        if conv is None:
            return fn
        return lambda r: None if (v := fn(r)) is None else conv(v)

    def compile(self, node: exp.Expression) -> Fn:
        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if isinstance(node, exp.Column):
            name = node.name
            return lambda r: r.get(name)
        if isinstance(node, exp.Literal):
            value = node.this if node.is_string else literal_value(node, literal_type(node))
            return lambda r: value
        if isinstance(node, exp.Boolean):
            value = bool(node.this)
            return lambda r: value
        if isinstance(node, exp.Null):
            return lambda r: None
        entry = REGISTRY.get(type(node))
        if entry is None:
            raise TypeErr(f"{type(node).__name__} cannot be evaluated", "", node)
        return entry.build(self, node)


@lru_cache(maxsize=4096)
def _compiled(sql: str, columns: tuple[tuple[str, str], ...]) -> tuple[Fn, str]:
    tree = sqlglot.parse_one(sql, read="postgres")
    root, checker = check(tree, dict(columns))
    return Compiler(checker).compile(root), checker.typed[root]


def compile_scalar(sql: str, columns: dict[str, str]) -> Fn:
    """A closure computing ``sql`` over a row of ``columns`` (name -> Postgres type)."""
    return _compiled(sql, tuple(sorted(columns.items())))[0]


def scalar_type(sql: str, columns: dict[str, str]) -> str:
    return _compiled(sql, tuple(sorted(columns.items())))[1]


__all__ = ["compile_scalar", "scalar_type", "Compiler"]
