"""Boolean logic with SQL's three values: AND, OR, NOT, IS [NOT] NULL/TRUE/FALSE."""

from __future__ import annotations

from sqlglot import exp

from ..pgtypes import BOOL, UNKNOWN
from ..registry import TypeErr, register


def boolean(chk, node, what):
    t = chk.coerce(node, BOOL) if chk.type(node) == UNKNOWN else chk.type(node)
    if t != BOOL:
        raise TypeErr(f"argument of {what} must be type boolean, not type {t}", "write a predicate such as x > 0", node)


def and3(x: bool | None, y: bool | None) -> bool | None:
    """SQL's three-valued AND."""
    if x is False or y is False:
        return False
    return None if x is None or y is None else True


def or3(x: bool | None, y: bool | None) -> bool | None:
    """SQL's three-valued OR."""
    if x is True or y is True:
        return True
    return None if x is None or y is None else False


@register((exp.And, exp.Or), "logic", "a AND b, a OR b")
class _AndOr:
    @staticmethod
    def typer(chk, node):
        what = "AND" if isinstance(node, exp.And) else "OR"
        boolean(chk, node.this, what)
        boolean(chk, node.expression, what)
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        a, b = cmp.compile(node.this), cmp.compile(node.expression)
        op = and3 if isinstance(node, exp.And) else or3
        return lambda r: op(a(r), b(r))


@register(exp.Not, "logic", "NOT a")
class _Not:
    @staticmethod
    def typer(chk, node):
        boolean(chk, node.this, "NOT")
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        a = cmp.compile(node.this)
        return lambda r: None if (v := a(r)) is None else not v


@register(exp.Is, "logic", "a IS [NOT] NULL, a IS [NOT] TRUE/FALSE")
class _Is:
    @staticmethod
    def typer(chk, node):
        target = node.expression
        chk.type(node.this)
        if isinstance(target, exp.Boolean):
            boolean(chk, node.this, "IS TRUE/FALSE")
        elif not isinstance(target, exp.Null):
            raise TypeErr("IS takes NULL, TRUE or FALSE", "compare values with = or IS DISTINCT FROM", node)
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        a = cmp.compile(node.this)
        target = node.expression
        neg = bool(node.args.get("negate"))
        if isinstance(target, exp.Null):
            return (lambda r: a(r) is not None) if neg else (lambda r: a(r) is None)
        want = bool(target.this)
        return (lambda r: a(r) is not want) if neg else (lambda r: a(r) is want)
