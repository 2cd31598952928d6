"""The typed function registry: Postgres's types, values and functions, for validate, the stream
and every batch dialect (see registry.py)."""

from .evaluate import compile_scalar, scalar_type
from .pgvalues import SqlError
from .registry import REGISTRY, TypeErr
from .typecheck import check, parse_literal

__all__ = ["compile_scalar", "scalar_type", "SqlError", "REGISTRY", "TypeErr", "check", "parse_literal"]
