"""Postgres's type rules over an expression tree, driven by the registry.

`check` types every node, resolves untyped string literals and NULLs from their context (as
Postgres does: ``ts > '2026-01-01'`` compares timestamps) by rewriting them into explicit casts,
and raises `TypeErr` where Postgres would refuse the expression.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from sqlglot import errors as sqlglot_errors
from sqlglot import exp

from . import pgvalues as V
from .families import load as _load_families
from .pgtypes import BOOL, FLOAT8, INTEGERS, INTERVAL, NUMERIC, TEXT, TSTZ, UNKNOWN, UnsupportedType, base, \
    datatype_sql, normalize
from .registry import REGISTRY, TypeErr, Typed, literal_type

_load_families()


class Checker:
    def __init__(self, columns: dict[str, str], lenient: bool = False):
        self.columns = {k: (normalize(v) if v != UNKNOWN else v) for k, v in columns.items()}
        self.typed = Typed()
        self.lenient = lenient  # rendering generated SQL: tolerate nodes outside the surface

    def type(self, node: exp.Expression) -> str:
        t = self.typed.types.get(id(node))
        if t is None:
            t = self.typed.types[id(node)] = self._type(node)
        return t

    def set(self, node: exp.Expression, t: str) -> str:
        self.typed.types[id(node)] = t
        return t

    def _type(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Paren):
            return self.type(node.this)
        if isinstance(node, exp.Column):
            t = self.columns.get(node.name)
            if t is None:
                if self.lenient:
                    return UNKNOWN
                raise TypeErr(f"unknown column {node.name!r}", "", node)
            return t
        if isinstance(node, exp.Literal):
            return literal_type(node)
        if isinstance(node, exp.Boolean):
            return BOOL
        if isinstance(node, exp.Null):
            return UNKNOWN
        if self.lenient and isinstance(node, exp.Window):
            for child in node.this.iter_expressions():
                self._walk(child)
            return (node.meta or {}).get("pgtype", UNKNOWN) if node._meta is not None else UNKNOWN
        entry = REGISTRY.get(type(node))
        if entry is None:
            if self.lenient:
                for child in node.iter_expressions():
                    self._walk(child)
                return UNKNOWN
            raise TypeErr(f"{type(node).__name__.upper()} is not supported", "see docs/sql-surface.md", node)
        if self.lenient:
            try:
                return entry.typer(self, node)
            except TypeErr:
                return UNKNOWN  # generated SQL around the view's expressions (already checked)
        return entry.typer(self, node)

    def _walk(self, node: exp.Expression) -> None:
        if isinstance(node, (exp.Expression,)):
            self.type(node)

    def coerce(self, node: exp.Expression, to: str) -> str:
        """Resolve an untyped literal or NULL to ``to`` (Postgres reads the literal as that type)."""
        t = self.type(node)
        if t != UNKNOWN or to == UNKNOWN:
            return t
        inner = unparen(node)
        if isinstance(inner, exp.Literal) and inner.is_string:
            check_literal(inner, to, f"the literal is read as {to} here")
            if to == TEXT:
                self.set(inner, TEXT)  # a string literal is text in every dialect: nothing to spell out
                return self.set(node, TEXT)
        elif not isinstance(inner, exp.Null):
            return t
        cast = exp.Cast(this=inner.copy(), to=exp.DataType.build(datatype_sql(to), dialect="postgres"))
        node.replace(cast)
        self.set(cast.this, UNKNOWN)
        return self.set(cast, to)

    def require(self, node: exp.Expression, category_ok: Callable[[str], bool], what: str, hint: str) -> str:
        t = self.type(node)
        if t != UNKNOWN and not category_ok(t):
            raise TypeErr(f"{what}, got {t}", hint, node)
        return t


def unparen(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def check_literal(literal: exp.Literal, to: str, hint: str):
    """The value of a string literal read as ``to``; a TypeErr at the literal if Postgres refuses it."""
    try:
        return parse_literal(literal.this, to)
    except (V.SqlError, ValueError) as exc:
        raise TypeErr(f"invalid {to} literal '{literal.this}': {exc}", hint, literal) from None


def parse_literal(text: str, t: str):
    """The value of a string literal read as type ``t`` (raises SqlError like Postgres's input functions)."""
    b = base(t)
    if b in INTEGERS:
        return V.text_to_int(text, b)
    if b == NUMERIC:
        return V.n_typmod(V.text_to_numeric(text), t)
    if b == FLOAT8:
        return V.text_to_float(text)
    if b == BOOL:
        return V.text_to_bool(text)
    if b == TSTZ:
        return V.text_to_timestamptz(text)
    if b == INTERVAL:
        return parse_interval(text)
    return text


def parse_interval(text: str) -> timedelta:
    from ..config.duration import parse_interval_text

    try:
        return timedelta(microseconds=parse_interval_text(text))
    except ValueError as exc:
        raise V.SqlError(str(exc)) from None


def check(tree: exp.Expression, columns: dict[str, str], lenient: bool = False) -> tuple[exp.Expression, Checker]:
    """Type ``tree`` (possibly rewriting untyped literals in it); returns the new root and the checker
    (``checker.typed[node]`` is each node's type)."""
    holder = exp.Paren(this=tree)
    checker = Checker(columns, lenient)
    checker.type(holder.this)
    return holder.this, checker


def result_type(sql_or_tree, columns: dict[str, str]) -> str:
    import sqlglot

    tree = sqlglot.parse_one(sql_or_tree, read="postgres") if isinstance(sql_or_tree, str) else sql_or_tree
    root, checker = check(tree, columns)
    return checker.typed[root]


def cast_type(dt: exp.DataType, node: exp.Expression) -> str:
    try:
        return normalize(dt.sql("postgres"))
    except (UnsupportedType, ValueError, sqlglot_errors.SqlglotError) as exc:
        raise TypeErr(str(exc).splitlines()[0] if isinstance(exc, UnsupportedType) else f"type {dt.sql('postgres')} is not supported", "supported types: smallint, integer, bigint, numeric(p,s), double precision, text, "
                      "boolean, timestamptz, interval", node) from None


__all__ = ["Checker", "check", "parse_literal", "parse_interval", "result_type", "cast_type", "TypeErr", "TEXT"]
