"""Rendering typed expressions into each batch dialect: one module per dialect.

Each module has ``rewrite(node, ctx) -> node | None`` (None: the canonical spelling is exact as
sqlglot writes it) and raises `NotExact` where the dialect cannot compute the construct exactly.
`render` applies it bottom-up over a tree of generated SQL (lenient: nodes outside the scalar
surface, such as window calls and joins, are left to sqlglot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module

from sqlglot import exp

from ..pgtypes import FLOAT8, INTEGERS, NUMERIC, TEXT, UNKNOWN, base
from ..typecheck import Checker, unparen


class NotExact(Exception):
    """The dialect cannot compute this construct exactly (the view gets no SQL for it)."""

    def __init__(self, construct: str, why: str):
        super().__init__(f"{construct}: {why}")
        self.construct, self.why = construct, why


DIALECTS = ("postgres", "duckdb", "spark", "snowflake", "bigquery")


@dataclass
class Ctx:
    checker: Checker
    dialect: str
    approx: set[int] = field(default_factory=set)  # nodes whose numeric value is approximate here

    def type(self, node: exp.Expression | None) -> str:
        node = unparen(node)
        if node is None:
            return UNKNOWN
        return self.checker.type(node)

    def is_approx(self, node: exp.Expression) -> bool:
        return id(unparen(node)) in self.approx


def render(tree: exp.Expression, dialect: str, columns: dict[str, str]) -> exp.Expression:
    """``tree`` (canonical Postgres SQL, mutated) made exact for ``dialect`` (raises `NotExact`)."""
    module = import_module(f"{__name__}.{dialect}")
    checker = Checker(columns, lenient=True)
    holder = exp.Paren(this=tree)
    checker.type(tree)
    ctx = Ctx(checker, dialect)
    _apply(holder.this, module.rewrite, ctx)
    return holder.this


def _apply(node: exp.Expression, rewrite, ctx: Ctx) -> None:
    for child in list(node.iter_expressions()):
        _apply(child, rewrite, ctx)
    new = rewrite(node, ctx)
    if new is not None and new is not node:
        t = ctx.checker.typed.types.get(id(node))
        if t is not None:
            ctx.checker.typed.types[id(new)] = t
        if id(node) in ctx.approx:
            ctx.approx.add(id(new))
        node.replace(new)


def is_text(ctx: Ctx, node) -> bool:
    return ctx.type(node) == TEXT


def int_literal(node, minimum: int = 0) -> bool:
    """An integer literal of at least ``minimum`` (a constant the dialect can be checked against)."""
    return (isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit()
            and int(node.this) >= minimum)


def is_int(ctx: Ctx, node) -> bool:
    return ctx.type(node) in INTEGERS


def is_float(ctx: Ctx, node) -> bool:
    return ctx.type(node) == FLOAT8


def is_numeric(ctx: Ctx, node) -> bool:
    return base(ctx.type(node)) == NUMERIC


def known(ctx: Ctx, node) -> bool:
    return ctx.type(node) != UNKNOWN


__all__ = ["render", "NotExact", "DIALECTS", "Ctx"]
