"""Postgres: the canonical dialect. Only the collation is pinned: text is compared and ordered
under COLLATE "C" (code point order), so a database created with another locale agrees."""

from __future__ import annotations

from sqlglot import exp

from . import Ctx, is_text

ORDERING = (exp.LT, exp.LTE, exp.GT, exp.GTE)


def collate(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Collate):
        return node
    return exp.Collate(this=node.copy(), expression=exp.Column(this=exp.Identifier(this="C", quoted=True)))


def rewrite(node: exp.Expression, ctx: Ctx):
    if isinstance(node, ORDERING) and (is_text(ctx, node.this) or is_text(ctx, node.expression)):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, exp.Between) and is_text(ctx, node.this):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, (exp.Greatest, exp.Least)) and is_text(ctx, node):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, (exp.Min, exp.Max)) and is_text(ctx, node.this):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, exp.Window):
        order = node.args.get("order")
        for o in (order.expressions if order else []):
            if is_text(ctx, o.this):
                o.set("this", collate(o.this))
    return None
