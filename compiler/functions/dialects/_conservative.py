"""Shared rule for dialects this project cannot run in its tests (Snowflake, BigQuery): only the
constructs whose semantics are the same by those dialects' specifications are rendered."""

from __future__ import annotations

from sqlglot import exp

from ..pgtypes import INTEGERS, NUMERIC, base
from ..registry import REGISTRY
from . import Ctx, NotExact

SAFE = (exp.Column, exp.Identifier, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Neg, exp.Not, exp.And, exp.Or,
        exp.Add, exp.Sub, exp.Mul, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.In, exp.Between,
        exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Abs, exp.Greatest, exp.Least, exp.Tuple, exp.Interval, exp.Var,
        exp.DataType, exp.DataTypeParam, exp.Star, exp.Window, exp.WindowSpec, exp.Ordered, exp.Order,
        exp.PartitionedByProperty)


def rewrite(node: exp.Expression, ctx: Ctx, dialect: str):
    if isinstance(node, exp.Div):
        if ctx.type(node.this) in INTEGERS and ctx.type(node.expression) in INTEGERS:
            return exp.IntDiv(this=node.this.copy(), expression=node.expression.copy())
        if base(ctx.type(node)) == NUMERIC:
            raise NotExact("numeric division", f"{dialect}'s decimal division scale differs from Postgres")
        return None
    if isinstance(node, exp.Cast):
        src, dst = base(ctx.type(node.this)), base(ctx.type(node))
        if src != "unknown" and src != dst and not (src in INTEGERS and dst in (*INTEGERS, "double precision")):
            raise NotExact(f"CAST({node.sql('postgres')[:60]}) from {src} to {dst}", f"not verified on {dialect}")
    if type(node) in REGISTRY and not isinstance(node, (*SAFE, exp.Cast)):
        what = f"{node.sql_name()}()" if isinstance(node, exp.Func) else node.sql("postgres")[:60]
        raise NotExact(what, f"not verified on {dialect}")
    return None
