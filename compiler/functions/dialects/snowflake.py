"""Snowflake: rendered only where its semantics match Postgres by specification (not runnable here)."""

from __future__ import annotations

from sqlglot import exp

from . import Ctx
from ._conservative import rewrite as _rewrite


def rewrite(node: exp.Expression, ctx: Ctx):
    return _rewrite(node, ctx, "snowflake")
