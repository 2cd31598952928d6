"""Numeric functions. Integer arguments resolve to the double precision versions, as in Postgres
(double precision is the preferred numeric type); ROUND(x, n) exists for numeric only."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import FLOAT8, INTEGERS, INT4, NUMBERS, NUMERIC, UNKNOWN, base
from ..registry import TypeErr, register


def _number(chk, node, fn):
    t = chk.type(node)
    if t == UNKNOWN:
        t = chk.coerce(node, FLOAT8)
    if base(t) not in NUMBERS:
        raise TypeErr(f"function {fn}({t}) does not exist", f"{fn} takes a number", node)
    return t


FLOAT_ONLY = {exp.Ln: ("ln", lambda v: V.f_ln(v)), exp.Log: ("log", lambda v: V.f_ln(v, log10=True)),
              exp.Exp: ("exp", V.f_exp), exp.Sqrt: ("sqrt", V.f_sqrt)}
BOTH = {exp.Floor: ("floor", V.f_floor, V.n_floor), exp.Ceil: ("ceil", V.f_ceil, V.n_ceil),
        exp.Sign: ("sign", V.f_sign, V.n_sign)}


@register(tuple(FLOAT_ONLY), "math", "LN(x), LOG(x) (base 10), EXP(x), SQRT(x)",
          "double precision (integers convert); numeric arguments are refused: cast to double precision")
class _FloatFn:
    @staticmethod
    def typer(chk, node):
        name = FLOAT_ONLY[type(node)][0]
        if isinstance(node, exp.Log) and node.args.get("expression") is not None:
            raise TypeErr("LOG(b, x) is not supported", "use LN(x) / LN(b) or LOG(x) for base 10", node)
        t = _number(chk, node.this, name)
        if base(t) == NUMERIC:
            raise TypeErr(f"{name.upper()}(numeric) is not supported: its result scale cannot be matched exactly",
                          f"cast the argument to double precision: {name.upper()}(x::float8)", node)
        return chk.set(node, FLOAT8)

    @staticmethod
    def build(cmp, node):
        fn = FLOAT_ONLY[type(node)][1]
        a = cmp.convert(node.this, FLOAT8)
        return lambda r: None if (v := a(r)) is None else fn(v)


@register(tuple(BOTH), "math", "FLOOR(x), CEIL(x), SIGN(x)", "numeric stays numeric; integers become double precision")
class _Both:
    @staticmethod
    def typer(chk, node):
        t = base(_number(chk, node.this, BOTH[type(node)][0]))
        return chk.set(node, NUMERIC if t == NUMERIC else FLOAT8)

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        _, f_fn, n_fn = BOTH[type(node)]
        fn = n_fn if t == NUMERIC else f_fn
        a = cmp.convert(node.this, t)
        return lambda r: None if (v := a(r)) is None else fn(v)


@register(exp.Abs, "math", "ABS(x)", "keeps the argument's type")
class _Abs:
    @staticmethod
    def typer(chk, node):
        t = _number(chk, node.this, "abs")
        return chk.set(node, base(t))

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        a = cmp.compile(node.this)
        if t in INTEGERS:
            return lambda r: None if (v := a(r)) is None else V.check_int(abs(v), t)
        return lambda r: None if (v := a(r)) is None else abs(v)


@register(exp.Round, "math", "ROUND(x), ROUND(x, n)",
          "ROUND(double precision) rounds half to even; ROUND(numeric[, n]) half away from zero; "
          "ROUND(double precision, n) does not exist in Postgres: cast to numeric")
class _Round:
    @staticmethod
    def typer(chk, node):
        t = base(_number(chk, node.this, "round"))
        places = node.args.get("decimals")
        if places is None:
            return chk.set(node, NUMERIC if t == NUMERIC else FLOAT8)
        pt = chk.type(places)
        if pt == UNKNOWN:
            pt = chk.coerce(places, INT4)
        if pt not in INTEGERS:
            raise TypeErr(f"ROUND(x, n) needs an integer n, got {pt}", "e.g. ROUND(x, 2)", places)
        if t == FLOAT8:
            raise TypeErr("function round(double precision, integer) does not exist",
                          "cast to numeric first: ROUND(CAST(x AS NUMERIC), 2)", node)
        return chk.set(node, NUMERIC)

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        places = node.args.get("decimals")
        a = cmp.convert(node.this, t)
        if t == FLOAT8:
            return lambda r: None if (v := a(r)) is None else V.f_round(v)
        if places is None:
            return lambda r: None if (v := a(r)) is None else V.n_round(v, 0)
        p = cmp.compile(places)
        return lambda r: None if (v := a(r)) is None or (n := p(r)) is None else V.n_round(v, n)


@register(exp.Pow, "math", "x ^ y, POWER(x, y)", "double precision only (numeric refused: cast)")
class _Pow:
    @staticmethod
    def typer(chk, node):
        for side in (node.this, node.expression):
            t = base(_number(chk, side, "power"))
            if t == NUMERIC:
                raise TypeErr("POWER/^ of numeric is not supported: its result scale cannot be matched exactly",
                              "cast to double precision: x::float8 ^ y", side)
        return chk.set(node, FLOAT8)

    @staticmethod
    def build(cmp, node):
        a, b = cmp.convert(node.this, FLOAT8), cmp.convert(node.expression, FLOAT8)
        return lambda r: None if (x := a(r)) is None or (y := b(r)) is None else V.f_pow(x, y)
