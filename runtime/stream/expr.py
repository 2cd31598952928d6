"""IR expressions (canonical SQL text) compiled to Python closures with SQL NULL semantics.

Every function the lowering admits (`compiler/lower/scalars.py`) either compiles here or is
refused at plan time with `StreamUnsupported` — never silently evaluated differently.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import sqlglot
from sqlglot import exp

Row = dict[str, Any]
Fn = Callable[[Row], Any]
_PAIR = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)")
_US = {"microsecond": 1, "millisecond": 1_000, "second": 1_000_000, "minute": 60_000_000, "hour": 3_600_000_000,
       "day": 86_400_000_000, "week": 604_800_000_000}


class StreamUnsupported(Exception):
    pass


@lru_cache(maxsize=4096)
def compile_expr(sql: str) -> Fn:
    """Closures are pure functions of the SQL text, so each text is compiled once per process."""
    return _compile(sqlglot.parse_one(sql, read="postgres"))


def _interval(node: exp.Interval) -> timedelta:
    text = node.this.this if node.args.get("unit") is None else f"{node.this.this} {node.args['unit'].name}"
    total = 0
    for value, unit in _PAIR.findall(text):
        unit = unit.lower().rstrip("s")
        if unit not in _US:
            raise StreamUnsupported(f"interval unit {unit!r}")
        total += float(value) * _US[unit]
    return timedelta(microseconds=total)


def _num(node: exp.Literal):
    text = node.this
    return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


def _truth(v) -> bool | None:
    return None if v is None else bool(v)


def _arith(op: str, a, b):
    if a is None or b is None:
        return None
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        if isinstance(a, timedelta) and isinstance(b, (int, float)):
            return a / b
        if b == 0:
            raise ZeroDivisionError("division by zero")
        if isinstance(a, int) and isinstance(b, int):
            q = abs(a) // abs(b)
            return q if (a >= 0) == (b >= 0) else -q  # SQL integer division truncates toward zero
        return a / b
    if op == "%":
        if isinstance(a, int) and isinstance(b, int):
            return int(math.fmod(a, b))
        return math.fmod(a, b)
    raise StreamUnsupported(op)


def _cmp(op: str, a, b):
    if a is None or b is None:
        return None
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _extract(unit: str, v):
    if v is None:
        return None
    unit = unit.lower()
    if isinstance(v, timedelta):
        if unit == "epoch":
            return v / timedelta(seconds=1)
        raise StreamUnsupported(f"EXTRACT({unit} FROM interval)")
    v = v.astimezone(timezone.utc)
    if unit == "epoch":
        return v.timestamp()
    table = {"year": v.year, "month": v.month, "day": v.day, "hour": v.hour, "minute": v.minute,
             "second": v.second + v.microsecond / 1e6, "dow": (v.weekday() + 1) % 7, "isodow": v.isoweekday(),
             "doy": v.timetuple().tm_yday, "week": v.isocalendar()[1], "quarter": (v.month - 1) // 3 + 1}
    if unit not in table:
        raise StreamUnsupported(f"EXTRACT({unit})")
    return table[unit]


def _cast(v, to: exp.DataType):
    if v is None:
        return None
    t = to.this
    T = exp.DataType.Type
    if t in (T.DOUBLE, T.FLOAT, T.DECIMAL):
        return float(v)
    if t in (T.INT, T.BIGINT, T.SMALLINT, T.TINYINT):
        if isinstance(v, float):
            return int(math.floor(v + 0.5)) if v >= 0 else -int(math.floor(-v + 0.5))  # round half away
        return int(v)
    if t in (T.TEXT, T.VARCHAR, T.CHAR):
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    if t == T.BOOLEAN:
        if isinstance(v, str):
            return v.strip().lower() in ("t", "true", "yes", "on", "1")
        return bool(v)
    if t in (T.TIMESTAMPTZ, T.TIMESTAMP):
        if isinstance(v, str):
            return datetime.fromisoformat(v.replace("Z", "+00:00")).astimezone(timezone.utc)
        return v
    raise StreamUnsupported(f"CAST to {to.sql('postgres')}")


def _compile(node: exp.Expression) -> Fn:  # noqa: C901 - one dispatch table over node types
    if isinstance(node, exp.Paren):
        return _compile(node.this)
    if isinstance(node, exp.Column):
        name = node.name
        return lambda r: r.get(name)
    if isinstance(node, exp.Literal):
        value = node.this if node.is_string else _num(node)
        return lambda r: value
    if isinstance(node, exp.Boolean):
        value = bool(node.this)
        return lambda r: value
    if isinstance(node, exp.Null):
        return lambda r: None
    if isinstance(node, exp.Interval):
        value = _interval(node)
        return lambda r: value
    if isinstance(node, exp.Neg):
        f = _compile(node.this)
        return lambda r: None if (v := f(r)) is None else -v
    if isinstance(node, exp.Not):
        f = _compile(node.this)
        return lambda r: None if (v := f(r)) is None else not v
    if isinstance(node, (exp.And, exp.Or)):
        a, b = _compile(node.this), _compile(node.expression)
        if isinstance(node, exp.And):
            def f_and(r):
                x, y = _truth(a(r)), _truth(b(r))
                if x is False or y is False:
                    return False
                return None if x is None or y is None else True
            return f_and

        def f_or(r):
            x, y = _truth(a(r)), _truth(b(r))
            if x is True or y is True:
                return True
            return None if x is None or y is None else False
        return f_or
    ops = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
    if type(node) in ops:
        op, a, b = ops[type(node)], _compile(node.this), _compile(node.expression)
        return lambda r: _arith(op, a(r), b(r))
    cmps = {exp.EQ: "=", exp.NEQ: "<>", exp.LT: "<", exp.LTE: "<=", exp.GT: ">", exp.GTE: ">="}
    if type(node) in cmps:
        op, a, b = cmps[type(node)], _compile(node.this), _compile(node.expression)
        return lambda r: _cmp(op, a(r), b(r))
    if isinstance(node, (exp.NullSafeEQ, exp.NullSafeNEQ)):
        a, b = _compile(node.this), _compile(node.expression)
        eq = isinstance(node, exp.NullSafeEQ)
        return lambda r: (a(r) == b(r)) == eq if (a(r) is None) == (b(r) is None) else not eq
    if isinstance(node, exp.Is):
        a = _compile(node.this)
        target = node.expression
        neg = bool(node.args.get("negate"))
        if isinstance(target, exp.Null):
            return lambda r: (a(r) is None) != neg
        if isinstance(target, exp.Boolean):
            want = bool(target.this)
            return lambda r: (a(r) is want) != neg
        raise StreamUnsupported(node.sql("postgres"))
    if isinstance(node, exp.In):
        a = _compile(node.this)
        items = [_compile(e) for e in node.expressions]

        def f_in(r):
            v = a(r)
            if v is None:
                return None
            vals = [i(r) for i in items]
            if v in [x for x in vals if x is not None]:
                return True
            return None if any(x is None for x in vals) else False
        return f_in
    if isinstance(node, exp.Between):
        a, lo, hi = _compile(node.this), _compile(node.args["low"]), _compile(node.args["high"])

        def f_between(r):
            x, y = _cmp(">=", a(r), lo(r)), _cmp("<=", a(r), hi(r))
            if x is False or y is False:
                return False
            return None if x is None or y is None else True
        return f_between
    if isinstance(node, (exp.Like, exp.ILike)):
        a, pat = _compile(node.this), node.expression
        if not isinstance(pat, exp.Literal):
            raise StreamUnsupported("LIKE with a non-constant pattern")
        flags = re.IGNORECASE if isinstance(node, exp.ILike) else 0
        regex = re.compile("".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pat.this),
                           flags | re.DOTALL)
        neg = bool(node.args.get("negate"))
        return lambda r: None if (v := a(r)) is None else (regex.fullmatch(v) is not None) != neg
    if isinstance(node, exp.Case):
        whens = [(_compile(w.this), _compile(w.args["true"])) for w in node.args.get("ifs", [])]
        default = _compile(node.args["default"]) if node.args.get("default") is not None else (lambda r: None)
        subject = _compile(node.this) if node.this is not None else None

        def f_case(r):
            s = subject(r) if subject else None
            for cond, val in whens:
                c = cond(r)
                if (subject is None and c is True) or (subject is not None and s is not None and c == s):
                    return val(r)
            return default(r)
        return f_case
    if isinstance(node, exp.Coalesce):
        parts = [_compile(node.this), *[_compile(e) for e in node.expressions]]

        def f_coalesce(r):
            for p in parts:
                v = p(r)
                if v is not None:
                    return v
            return None
        return f_coalesce
    if isinstance(node, exp.Nullif):
        a, b = _compile(node.this), _compile(node.expression)
        return lambda r: None if (v := a(r)) is not None and v == b(r) else v
    if isinstance(node, exp.Cast):
        a, to = _compile(node.this), node.to
        return lambda r: _cast(a(r), to)
    if isinstance(node, exp.Extract):
        unit, a = node.this.name, _compile(node.expression)
        return lambda r: _extract(unit, a(r))
    if isinstance(node, (exp.DPipe, exp.Concat)):
        parts = [_compile(e) for e in (node.expressions if isinstance(node, exp.Concat) else [node.this, node.expression])]
        if isinstance(node, exp.DPipe):
            def f_pipe(r):
                vals = [p(r) for p in parts]
                return None if any(v is None for v in vals) else "".join(str(v) for v in vals)
            return f_pipe
        return lambda r: "".join(str(v) for p in parts if (v := p(r)) is not None)
    unary = {exp.Lower: str.lower, exp.Upper: str.upper, exp.Length: len, exp.Abs: abs, exp.Ln: math.log,
             exp.Exp: math.exp, exp.Sqrt: math.sqrt, exp.Floor: math.floor, exp.Ceil: math.ceil,
             exp.Sign: lambda v: (v > 0) - (v < 0)}
    if type(node) in unary:
        fn, a = unary[type(node)], _compile(node.this)
        return lambda r: None if (v := a(r)) is None else fn(v)
    if isinstance(node, exp.Pow):
        a, b = _compile(node.this), _compile(node.expression)
        return lambda r: None if (x := a(r)) is None or (y := b(r)) is None else float(x) ** float(y)
    if isinstance(node, exp.Round):
        a = _compile(node.this)
        d = _compile(node.args["decimals"]) if node.args.get("decimals") is not None else (lambda r: 0)

        def f_round(r):
            v, n = a(r), d(r)
            if v is None or n is None:
                return None
            q = 10.0 ** n
            return math.floor(abs(v) * q + 0.5) / q * (1 if v >= 0 else -1)
        return f_round
    if isinstance(node, (exp.Greatest, exp.Least)):
        parts = [_compile(node.this), *[_compile(e) for e in node.expressions]]
        pick = max if isinstance(node, exp.Greatest) else min

        def f_pick(r):
            vals = [v for p in parts if (v := p(r)) is not None]
            return pick(vals) if vals else None
        return f_pick
    raise StreamUnsupported(f"{type(node).__name__} ({node.sql('postgres')})")
