"""Text functions and operators, by character (UTF-8), with Postgres's edge rules
(SUBSTRING before position 1, negative LEFT/RIGHT, empty REPLACE pattern, LIKE escapes)."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import BOOL, INT4, INTEGERS, INTERVAL, TEXT, UNKNOWN
from ..registry import TypeErr, register


def _text(chk, node, fn):
    t = chk.type(node)
    if t == UNKNOWN:
        t = chk.coerce(node, TEXT)
    if t != TEXT:
        raise TypeErr(f"function {fn}({t}) does not exist", f"{fn} takes text: cast with ::text", node)
    return t


def _int(chk, node, fn):
    t = chk.type(node)
    if t == UNKNOWN:
        t = chk.coerce(node, INT4)
    if t not in INTEGERS:
        raise TypeErr(f"{fn} needs an integer here, got {t}", "cast to integer", node)
    return t


@register(exp.DPipe, "text", "a || b", "one side text, the other any type but interval (cast to text: booleans "
          "read true/false)")
class _Pipe:
    @staticmethod
    def typer(chk, node):
        ta, tb = chk.type(node.this), chk.type(node.expression)
        if ta == UNKNOWN:
            ta = chk.coerce(node.this, TEXT)
        if tb == UNKNOWN:
            tb = chk.coerce(node.expression, TEXT)
        if TEXT not in (ta, tb):
            raise TypeErr(f"operator does not exist: {ta} || {tb}", "cast one side to text", node)
        if INTERVAL in (ta, tb):
            raise TypeErr("interval || text is not supported", "format the interval as a number first "
                          "(EXTRACT(EPOCH FROM x))", node)
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        parts = [(cmp.compile(n), cmp.type(n)) for n in (node.this, node.expression)]
        (a, ta), (b, tb) = parts

        def f(r):
            x, y = a(r), b(r)
            if x is None or y is None:
                return None
            return V.to_text(x, ta) + V.to_text(y, tb)
        return f


@register(exp.Concat, "text", "CONCAT(a, ...)", "NULLs are skipped; values by their output format (booleans t/f)")
class _Concat:
    @staticmethod
    def typer(chk, node):
        for e in node.expressions:
            t = chk.type(e)
            if t == UNKNOWN:
                chk.coerce(e, TEXT)
            elif t == INTERVAL:
                raise TypeErr("CONCAT of an interval is not supported", "use EXTRACT(EPOCH FROM x)", e)
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        parts = [(cmp.compile(e), cmp.type(e)) for e in node.expressions]
        return lambda r: "".join(V.to_text(v, t, True) for p, t in parts if (v := p(r)) is not None)


UNARY = {exp.Lower: ("lower", V.t_lower, TEXT), exp.Upper: ("upper", V.t_upper, TEXT), exp.Length: ("length", len, INT4)}


@register(tuple(UNARY), "text", "LOWER(s), UPPER(s), LENGTH(s)", "case mapping of the C.UTF-8 ctype "
          "(one character to one: upper('ß') = 'ß'); length in characters")
class _Unary:
    @staticmethod
    def typer(chk, node):
        name, _, out = UNARY[type(node)]
        _text(chk, node.this, name)
        return chk.set(node, out)

    @staticmethod
    def build(cmp, node):
        fn = UNARY[type(node)][1]
        a = cmp.compile(node.this)
        return lambda r: None if (v := a(r)) is None else fn(v)


@register(exp.Substring, "text", "SUBSTRING(s FROM i [FOR n]), SUBSTRING(s, i[, n])",
          "positions before 1 shorten the result; a negative length is an error")
class _Substring:
    @staticmethod
    def typer(chk, node):
        _text(chk, node.this, "substring")
        _int(chk, node.args["start"], "SUBSTRING")
        if node.args.get("length") is not None:
            _int(chk, node.args["length"], "SUBSTRING")
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        s, i = cmp.compile(node.this), cmp.compile(node.args["start"])
        if node.args.get("length") is None:
            return lambda r: None if (v := s(r)) is None or (k := i(r)) is None else V.t_substring(v, k)
        n = cmp.compile(node.args["length"])

        def f(r):
            v, k, m = s(r), i(r), n(r)
            return None if v is None or k is None or m is None else V.t_substring(v, k, m)
        return f


@register((exp.Left, exp.Right), "text", "LEFT(s, n), RIGHT(s, n)", "negative n drops characters from the other end")
class _LeftRight:
    @staticmethod
    def typer(chk, node):
        _text(chk, node.this, "left")
        _int(chk, node.expression, "LEFT/RIGHT")
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        fn = V.t_left if isinstance(node, exp.Left) else V.t_right
        s, n = cmp.compile(node.this), cmp.compile(node.expression)
        return lambda r: None if (v := s(r)) is None or (k := n(r)) is None else fn(v, k)


@register(exp.Replace, "text", "REPLACE(s, from, to)")
class _Replace:
    @staticmethod
    def typer(chk, node):
        for n in (node.this, node.expression, node.args["replacement"]):
            _text(chk, n, "replace")
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        s, a, b = (cmp.compile(n) for n in (node.this, node.expression, node.args["replacement"]))

        def f(r):
            v, x, y = s(r), a(r), b(r)
            return None if v is None or x is None or y is None else V.t_replace(v, x, y)
        return f


@register(exp.StrPosition, "text", "POSITION(sub IN s), STRPOS(s, sub)", "1-based; 0 when absent")
class _Position:
    @staticmethod
    def typer(chk, node):
        if node.args.get("position") is not None or node.args.get("occurrence") is not None:
            raise TypeErr("POSITION takes two arguments", "write POSITION(sub IN s)", node)
        _text(chk, node.this, "position")
        _text(chk, node.args["substr"], "position")
        return chk.set(node, INT4)

    @staticmethod
    def build(cmp, node):
        s, sub = cmp.compile(node.this), cmp.compile(node.args["substr"])
        return lambda r: None if (v := s(r)) is None or (x := sub(r)) is None else V.t_position(x, v)


@register(exp.Trim, "text", "TRIM([BOTH|LEADING|TRAILING] [chars] FROM s)")
class _Trim:
    @staticmethod
    def typer(chk, node):
        _text(chk, node.this, "trim")
        if node.args.get("expression") is not None:
            _text(chk, node.expression, "trim")
        if node.args.get("collation") is not None:
            raise TypeErr("TRIM ... COLLATE is not supported", "remove COLLATE", node)
        return chk.set(node, TEXT)

    @staticmethod
    def build(cmp, node):
        s = cmp.compile(node.this)
        chars = cmp.compile(node.expression) if node.args.get("expression") is not None else (lambda r: " ")
        where = str(node.args.get("position") or "both").lower()
        return lambda r: None if (v := s(r)) is None or (c := chars(r)) is None else V.t_trim(v, c, where)


@register((exp.Like, exp.ILike), "text", "s [NOT] LIKE 'pattern', s [NOT] ILIKE 'pattern'",
          "constant patterns; backslash escapes % and _; ILIKE lower-cases both sides")
class _Like:
    @staticmethod
    def typer(chk, node):
        _text(chk, node.this, "like")
        pat = node.expression
        if not (isinstance(pat, exp.Literal) and pat.is_string):
            raise TypeErr("LIKE needs a constant string pattern", "write s LIKE 'abc%'", pat)
        try:
            V.like_regex(pat.this)
        except V.SqlError as exc:
            raise TypeErr(str(exc), "escape a trailing backslash as \\\\", pat) from None
        return chk.set(node, BOOL)

    @staticmethod
    def build(cmp, node):
        ci = isinstance(node, exp.ILike)
        regex = V.like_regex(node.expression.this, ci)
        a = cmp.compile(node.this)
        match = regex.fullmatch
        neg = bool(node.args.get("negate"))
        if ci:
            return lambda r: None if (v := a(r)) is None else (match(V.t_lower(v)) is not None) != neg
        return lambda r: None if (v := a(r)) is None else (match(v) is not None) != neg
