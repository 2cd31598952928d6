"""Comparisons: = <> < <= > >=, IS [NOT] DISTINCT FROM, BETWEEN, IN.

Operands are brought to one type first, as Postgres does (``bigint = double precision`` compares
doubles). NaN equals NaN and sorts above every number. Text compares by code point (the C
collation, docs/semantics.md)."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import BOOL, NUMBERS, UNKNOWN, base, category, promote
from ..registry import TypeErr, common_type, register
from .logic import and3

CMP = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
TEST = {"=": lambda c: c == 0, "<>": lambda c: c != 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0,
        ">": lambda c: c > 0, ">=": lambda c: c >= 0}


def comparison_type(types: list[str]) -> str:
    """The type operands of these types are compared in: numbers promote (integer < numeric <
    double precision), untyped literals take the others' type, only untyped ones read as text."""
    known = [t for t in types if t != UNKNOWN]
    if not known:
        return "text"
    target = known[0]
    for t in known[1:]:
        if base(t) in NUMBERS and base(target) in NUMBERS:
            target = promote(target, t)
    return base(target) if base(target) in NUMBERS else target


def unify(chk, nodes: list[exp.Expression], node: exp.Expression, what: str) -> str:
    """`comparison_type` of the operands, after checking they are of one category; untyped
    literals are resolved to it."""
    types = [chk.type(n) for n in nodes]
    if len({category(t) for t in types if t != UNKNOWN}) > 1:
        raise TypeErr(f"operator does not exist: {' {} '.format(what).join(types)}",
                      "compare values of one type (cast one side)", node)
    target = comparison_type(types)
    for n, t in zip(list(nodes), types):
        if t == UNKNOWN:
            chk.coerce(n, target)
    return target


def comparator(cmp, a_node, b_node, t):
    a, b = cmp.convert(a_node, t), cmp.convert(b_node, t)
    return a, b


class _Cmp:
    @staticmethod
    def typer(chk, node):
        unify(chk, [node.this, node.expression], node, CMP[type(node)])
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        t = cmp.operand_type(node.this, node.expression)
        a, b = comparator(cmp, node.this, node.expression, t)
        test = TEST[CMP[type(node)]]
        compare = V.compare
        return lambda r: None if (x := a(r)) is None or (y := b(r)) is None else test(compare(x, y))


for _node, _op in CMP.items():
    register(_node, "comparison", f"a {_op} b", "NaN = NaN and NaN sorts above all numbers; text by code point"
             if _op == "=" else "")(_Cmp)


class _Distinct:
    @staticmethod
    def typer(chk, node):
        unify(chk, [node.this, node.expression], node, "IS DISTINCT FROM")
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        t = cmp.operand_type(node.this, node.expression)
        a, b = comparator(cmp, node.this, node.expression, t)
        same = isinstance(node, exp.NullSafeEQ)

        def f(r):
            x, y = a(r), b(r)
            if x is None or y is None:
                eq = x is None and y is None
            else:
                eq = V.compare(x, y) == 0
            return eq == same
        return f


register(exp.NullSafeEQ, "comparison", "a IS NOT DISTINCT FROM b")(_Distinct)
register(exp.NullSafeNEQ, "comparison", "a IS DISTINCT FROM b")(_Distinct)


@register(exp.Between, "comparison", "a BETWEEN lo AND hi")
class _Between:
    @staticmethod
    def typer(chk, node):
        unify(chk, [node.this, node.args["low"], node.args["high"]], node, "BETWEEN")
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        t = cmp.operand_type(node.this, node.args["low"], node.args["high"])
        a, lo, hi = (cmp.convert(n, t) for n in (node.this, node.args["low"], node.args["high"]))

        def f(r):
            x = a(r)
            if x is None:
                return None
            low, high = lo(r), hi(r)
            return and3(None if low is None else V.compare(x, low) >= 0,
                        None if high is None else V.compare(x, high) <= 0)
        return f


@register(exp.In, "comparison", "a IN (x, y, ...)")
class _In:
    @staticmethod
    def typer(chk, node):
        if node.args.get("query") is not None or not node.expressions:
            raise TypeErr("IN takes a list of values here", "write a IN (1, 2, 3)", node)
        unify(chk, [node.this, *node.expressions], node, "IN")
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        t = cmp.operand_type(node.this, *node.expressions)
        a = cmp.convert(node.this, t)
        items = [cmp.convert(e, t) for e in node.expressions]

        def f(r):
            x = a(r)
            if x is None:
                return None
            unknown = False
            for item in items:
                y = item(r)
                if y is None:
                    unknown = True
                elif V.compare(x, y) == 0:
                    return True
            return None if unknown else False
        return f


__all__ = ["unify", "common_type"]
