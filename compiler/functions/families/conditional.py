"""CASE, COALESCE, NULLIF, GREATEST, LEAST: branches resolved to one type (select_common_type)."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import UNKNOWN
from ..registry import common_type, register
from .compare import unify
from .logic import boolean


def _resolve(chk, node, branches, what):
    t = common_type([chk.type(b) for b in branches], node, what)
    for b in branches:
        chk.coerce(b, t)
    return t


@register(exp.Case, "conditional", "CASE [x] WHEN ... THEN ... [ELSE ...] END")
class _Case:
    @staticmethod
    def typer(chk, node):
        ifs = node.args.get("ifs") or []
        if node.this is not None:
            unify(chk, [node.this, *[w.this for w in ifs]], node, "CASE")
        else:
            for w in ifs:
                boolean(chk, w.this, "CASE/WHEN")
        branches = [w.args["true"] for w in ifs]
        if node.args.get("default") is not None:
            branches.append(node.args["default"])
        return chk.set(node, _resolve(chk, node, branches, "CASE"))

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        ifs = node.args.get("ifs") or []
        whens = [(cmp.compile(w.this), cmp.convert(w.args["true"], t)) for w in ifs]
        default = cmp.convert(node.args["default"], t) if node.args.get("default") is not None else (lambda r: None)
        if node.this is None:
            def f_case(r):
                for cond, val in whens:
                    if cond(r) is True:
                        return val(r)
                return default(r)
            return f_case
        st = cmp.operand_type(node.this, *[w.this for w in ifs])
        subject = cmp.convert(node.this, st)
        keys = [cmp.convert(w.this, st) for w in ifs]
        vals = [v for _, v in whens]

        def f_simple(r):
            s = subject(r)
            if s is not None:
                for key, val in zip(keys, vals):
                    k = key(r)
                    if k is not None and V.compare(s, k) == 0:
                        return val(r)
            return default(r)
        return f_simple


@register(exp.Coalesce, "conditional", "COALESCE(a, b, ...)")
class _Coalesce:
    @staticmethod
    def typer(chk, node):
        return chk.set(node, _resolve(chk, node, [node.this, *node.expressions], "COALESCE"))

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        parts = [cmp.convert(e, t) for e in (node.this, *node.expressions)]

        def f(r):
            for p in parts:
                v = p(r)
                if v is not None:
                    return v
            return None
        return f


@register(exp.Nullif, "conditional", "NULLIF(a, b)")
class _Nullif:
    @staticmethod
    def typer(chk, node):
        unify(chk, [node.this, node.expression], node, "NULLIF")
        t = chk.type(node.this)
        return chk.set(node, t if t != UNKNOWN else "text")

    @staticmethod
    def build(cmp, node):
        st = cmp.operand_type(node.this, node.expression)
        a_raw = cmp.compile(node.this)
        a, b = cmp.convert(node.this, st), cmp.convert(node.expression, st)

        def f(r):
            x = a(r)
            if x is None:
                return None
            y = b(r)
            return None if y is not None and V.compare(x, y) == 0 else a_raw(r)
        return f


@register((exp.Greatest, exp.Least), "conditional", "GREATEST(a, ...), LEAST(a, ...)", "NULLs are skipped")
class _Pick:
    @staticmethod
    def typer(chk, node):
        args = [node.this, *node.expressions]
        return chk.set(node, _resolve(chk, node, args, node.sql_name()))

    @staticmethod
    def build(cmp, node):
        t = cmp.type(node)
        parts = [cmp.convert(e, t) for e in (node.this, *node.expressions)]
        sign = 1 if isinstance(node, exp.Greatest) else -1

        def f(r):
            best = None
            for p in parts:
                v = p(r)
                if v is not None and (best is None or sign * V.compare(v, best) > 0):
                    best = v
            return best
        return f
