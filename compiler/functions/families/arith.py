"""Arithmetic: + - * / % and unary minus, with Postgres's operand types and overflow rules."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import FLOAT8, INTEGERS, INTERVAL, NUMBERS, TSTZ, UNKNOWN, base, promote
from ..registry import TypeErr, register

OPS = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}


def _operands(chk, node):
    a, b = node.this, node.expression
    ta, tb = chk.type(a), chk.type(b)
    if ta == UNKNOWN and tb != UNKNOWN:
        ta = chk.coerce(a, tb if base(tb) in NUMBERS or tb == INTERVAL else tb)
    elif tb == UNKNOWN and ta != UNKNOWN:
        other = INTERVAL if ta == TSTZ and isinstance(node, (exp.Add, exp.Sub)) else ta
        tb = chk.coerce(node.expression, other)
    return ta, tb


def _number_result(node, ta, tb, op):
    if ta == UNKNOWN and tb == UNKNOWN:
        raise TypeErr(f"operator is not unique: unknown {op} unknown", "cast one operand", node)
    if base(ta) in NUMBERS and base(tb) in NUMBERS:
        return promote(ta, tb)
    raise TypeErr(f"operator does not exist: {ta} {op} {tb}", "arithmetic needs numbers (or timestamp +/- interval)", node)


class _Arith:
    @staticmethod
    def typer(chk, node):
        op = OPS[type(node)]
        ta, tb = _operands(chk, node)
        if isinstance(node, exp.Add):
            if {ta, tb} == {TSTZ, INTERVAL}:
                return chk.set(node, TSTZ)
            if ta == tb == INTERVAL:
                return chk.set(node, INTERVAL)
        if isinstance(node, exp.Sub):
            if (ta, tb) == (TSTZ, INTERVAL):
                return chk.set(node, TSTZ)
            if ta == tb == TSTZ or ta == tb == INTERVAL:
                return chk.set(node, INTERVAL)
        if isinstance(node, exp.Mod) and FLOAT8 in (base(ta), base(tb)):
            raise TypeErr(f"operator does not exist: {ta} % {tb}", "% takes integers or numerics: "
                          "cast to numeric", node)
        return chk.set(node, _number_result(node, ta, tb, op))

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        ta, tb = cmp.type(node.this), cmp.type(node.expression)
        if t in (TSTZ, INTERVAL):
            a, b = cmp.compile(node.this), cmp.compile(node.expression)
            fn = _temporal(type(node), ta, tb)
            return lambda r: None if (x := a(r)) is None or (y := b(r)) is None else fn(x, y)
        a, b = cmp.convert(node.this, t), cmp.convert(node.expression, t)
        fn = _numeric(type(node), base(t))
        return lambda r: None if (x := a(r)) is None or (y := b(r)) is None else fn(x, y)


def _temporal(kind, ta, tb):
    if kind is exp.Add:
        return V.ts_add if ta == TSTZ else (lambda x, y: V.ts_add(y, x)) if tb == TSTZ else (lambda x, y: x + y)
    if ta == TSTZ and tb == INTERVAL:
        return lambda x, y: V.ts_add(x, -y)
    return lambda x, y: x - y


def _numeric(kind, t):
    if t in INTEGERS:
        return {exp.Add: lambda x, y: V.check_int(x + y, t), exp.Sub: lambda x, y: V.check_int(x - y, t),
                exp.Mul: lambda x, y: V.check_int(x * y, t), exp.Div: lambda x, y: V.int_div(x, y, t),
                exp.Mod: V.int_mod}[kind]
    if t == FLOAT8:
        return {exp.Add: V.f_add, exp.Sub: V.f_sub, exp.Mul: V.f_mul, exp.Div: V.f_div}[kind]
    return {exp.Add: _n(lambda x, y: x + y), exp.Sub: _n(lambda x, y: x - y), exp.Mul: _n(lambda x, y: x * y),
            exp.Div: V.n_div, exp.Mod: V.n_mod}[kind]


def _n(fn):
    def op(x, y):
        try:
            return fn(x, y)
        except V.decimal.InvalidOperation:
            return V.DEC_NAN  # Infinity - Infinity, 0 * Infinity: NaN in Postgres
    return op


register(exp.Add, "arithmetic", "a + b", "numbers (integer overflow is an error); timestamptz + interval")(_Arith)
register(exp.Sub, "arithmetic", "a - b", "numbers; timestamptz - interval; timestamptz - timestamptz = interval")(_Arith)
register(exp.Mul, "arithmetic", "a * b", "numbers")(_Arith)
register(exp.Div, "arithmetic", "a / b",
         "integer / integer truncates toward zero; numeric division uses Postgres's result scale; "
         "division by zero is an error (a dead letter in the stream)")(_Arith)
register(exp.Mod, "arithmetic", "a % b", "integers and numerics (sign of the dividend); not double precision")(_Arith)


@register(exp.Neg, "arithmetic", "-a")
class _Neg:
    @staticmethod
    def typer(chk, node):
        t = chk.type(node.this)
        if t == UNKNOWN:
            t = chk.coerce(node.this, FLOAT8)
        if base(t) not in NUMBERS and t != INTERVAL:
            raise TypeErr(f"operator does not exist: - {t}", "negate a number or an interval", node)
        return chk.set(node, t)

    @staticmethod
    def build(cmp, node):
        a, t = cmp.compile(node.this), cmp.type(node)
        if t in INTEGERS:
            return lambda r: None if (v := a(r)) is None else V.check_int(-v, t)
        return lambda r: None if (v := a(r)) is None else -v

