"""What a view reads in batch: its source's table, or its upstream view's per-event query."""

from __future__ import annotations

from sqlglot import exp

from ..ir import FeatureView
from .per_event import per_event_query
from .windows import quote


def input_for(view: FeatureView, views: dict[str, FeatureView], dialect: str,
              tables: dict[str, str] | None = None) -> str | exp.Expression:
    """``tables`` maps source names to table references (default: the quoted source name)."""
    if view.input.kind == "source":
        return (tables or {}).get(view.input.name) or quote(view.input.name)
    upstream = views[view.input.name]
    return per_event_query(upstream, dialect, input_for(upstream, views, dialect, tables))
