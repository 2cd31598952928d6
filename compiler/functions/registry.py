"""The function registry: every operator, function and cast a view may use, in one place.

An `Entry` says, for one sqlglot node type: its Postgres type rule (``typer``), its exact stream
implementation (``build``: a closure over the row, pure Python with `pgvalues` semantics) and where
it stands in the docs' surface table. How each batch dialect spells it (or why it cannot compute it
exactly) lives in ``dialects/<name>.py``. Nothing outside the registry decides what a view may use:
`validate` type-checks with it, the stream evaluates with it, the batch SQL is rendered with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sqlglot import exp

from . import pgvalues as V
from .pgtypes import FLOAT8, INT4, INT8, INTEGERS, NUMERIC, TEXT, UNKNOWN, base, category, promote

Row = dict[str, Any]
Fn = Callable[[Row], Any]


class TypeErr(Exception):
    """A type error at ``node`` (becomes a ViewError with path:line:col)."""

    def __init__(self, message: str, hint: str, node: exp.Expression | None):
        super().__init__(message)
        self.message, self.hint, self.node = message, hint, node


@dataclass(frozen=True)
class Entry:
    node: type[exp.Expression]
    family: str
    spelling: str                 # how the docs show it
    typer: Callable               # (checker, node) -> type name
    build: Callable               # (compiler, node) -> Fn
    notes: str = ""


REGISTRY: dict[type[exp.Expression], Entry] = {}
FAMILIES: list[str] = []


def register(node: type[exp.Expression] | tuple, family: str, spelling: str, notes: str = ""):
    """Decorator for a class with static ``typer`` and ``build``."""
    nodes = node if isinstance(node, tuple) else (node,)

    def wrap(cls):
        for n in nodes:
            REGISTRY[n] = Entry(n, family, spelling, cls.typer, cls.build, notes)
        if family not in FAMILIES:
            FAMILIES.append(family)
        return cls
    return wrap


# -- type helpers shared by the families --------------------------------------------------------

def common_type(types: list[str], node: exp.Expression, what: str) -> str:
    """Postgres's select_common_type for CASE/COALESCE/GREATEST/... branches."""
    known = [t for t in types if t != UNKNOWN]
    if not known:
        return TEXT
    cats = {category(t) for t in known}
    if len(cats) > 1:
        raise TypeErr(f"{what} types {' and '.join(sorted(set(known)))} cannot be matched",
                      "cast the branches to one type", node)
    if cats == {"number"} and len(set(known)) > 1:
        result = base(known[0])
        for t in known[1:]:
            result = promote(result, t)
        return result
    return known[0]


def converter(src: str, dst: str) -> Callable[[Any], Any] | None:
    """The implicit conversion of a non-NULL value from ``src`` to ``dst`` (None: nothing to do)."""
    s, d = base(src), base(dst)
    if s == d or s == UNKNOWN:
        return None
    if s in INTEGERS and d in INTEGERS:
        return lambda v: V.check_int(v, d)
    if s in INTEGERS and d == NUMERIC:
        return V.Decimal
    if s in INTEGERS and d == FLOAT8:
        return float
    if s == NUMERIC and d == FLOAT8:
        return V.numeric_to_float
    return None


def literal_type(node: exp.Literal) -> str:
    if node.is_string:
        return UNKNOWN
    text = node.this
    if text.lstrip("-").isdigit():
        v = int(text)
        if -(2**31) <= v < 2**31:
            return INT4
        if -(2**63) <= v < 2**63:
            return INT8
    return NUMERIC


def literal_value(node: exp.Literal, t: str):
    if node.is_string:
        return node.this
    text = node.this
    if t in INTEGERS:
        return int(text)
    return V.text_to_numeric(text)


@dataclass
class Typed:
    """Per-node types of one expression tree (by node identity)."""

    types: dict[int, str] = field(default_factory=dict)

    def __getitem__(self, node: exp.Expression) -> str:
        return self.types.get(id(node), UNKNOWN)
