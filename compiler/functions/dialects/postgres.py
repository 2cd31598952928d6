"""Postgres: the canonical dialect. Only the collation is pinned: text is compared and ordered
under COLLATE "C" (code point order), so a database created with another locale agrees. A text
MIN/MAX/GREATEST/LEAST computed under "C" hands its result back in the database's default
collation: UPPER/LOWER of a "C" value map ASCII letters only ('été' would stay 'éTé')."""

from __future__ import annotations

from sqlglot import exp

from . import Ctx, is_text

ORDERING = (exp.LT, exp.LTE, exp.GT, exp.GTE)


def _collation(name: str) -> exp.Expression:
    return exp.Column(this=exp.Identifier(this=name, quoted=True))


def collate(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Collate):  # (x COLLATE "default") compared: under "C" instead
        return exp.Collate(this=node.this.copy(), expression=_collation("C"))
    return exp.Collate(this=node.copy(), expression=_collation("C"))


def _default(node: exp.Expression) -> exp.Expression:
    return exp.Collate(this=node.copy(), expression=_collation("default"))


def rewrite(node: exp.Expression, ctx: Ctx):
    if isinstance(node, ORDERING) and (is_text(ctx, node.this) or is_text(ctx, node.expression)):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, exp.Between) and is_text(ctx, node.this):
        node.set("this", collate(node.this))
        return None
    if isinstance(node, (exp.Greatest, exp.Least)) and is_text(ctx, node):
        node.set("this", collate(node.this))
        return _default(node)
    if isinstance(node, (exp.Min, exp.Max)) and is_text(ctx, node.this):
        node.set("this", collate(node.this))
        return None if isinstance(node.parent, exp.Window) else _default(node)
    if isinstance(node, exp.Window):
        order = node.args.get("order")
        for o in (order.expressions if order else []):
            if is_text(ctx, o.this):
                o.set("this", collate(o.this))
        if isinstance(node.this, (exp.Min, exp.Max)) and isinstance(node.this.this, exp.Collate):
            return _default(node)
    return None
