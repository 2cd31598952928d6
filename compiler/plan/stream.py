"""The stream plan: how the stream engine groups window state.

Aggregates over the same input, entity key and order share one state store per key. For each
group the plan lists the input columns the state must keep and how long rows must be retained
(the longest RANGE reach, the most rows a ROWS frame or LAG needs, or lifetime).
"""

from __future__ import annotations

import re

from ..ir import FeatureView

_IDENT = re.compile(r'"?([A-Za-z_][A-Za-z0-9_]*)"?')


def _columns(expr: str | None, known: set[str]) -> set[str]:
    if not expr:
        return set()
    return {m.group(1) for m in _IDENT.finditer(expr) if m.group(1) in known}


def stream_plan(views: dict[str, FeatureView]) -> dict:
    groups: dict[tuple, dict] = {}
    for view in views.values():
        known = {c.name for c in view.input_columns}
        for agg in view.aggregates:
            order_key = tuple(agg.order) if (agg.frame is None or agg.frame.mode == "rows" or agg.func in
                                               ("first_value", "last_value")) else (agg.order[0],)
            key = (view.input.kind, view.input.name, tuple(view.entity), order_key)
            group = groups.setdefault(key, {
                "input": {"kind": view.input.kind, "name": view.input.name},
                "entity": list(view.entity), "order": list(order_key), "timestamp": view.timestamp,
                "allowed_lateness_us": view.allowed_lateness_us, "columns": set(order_key) | set(view.entity),
                "retention": {"range_us": 0, "rows": 0, "lifetime": False}, "aggregates": [],
            })
            group["columns"] |= _columns(agg.arg, known) | _columns(agg.filter, known) | _columns(agg.default, known)
            retention = group["retention"]
            if agg.frame is None:
                retention["rows"] = max(retention["rows"], agg.offset)
            elif agg.frame.start.kind == "unbounded_preceding":
                retention["lifetime"] = True
            elif agg.frame.mode == "range":
                retention["range_us"] = max(retention["range_us"], agg.frame.start.offset or 0)
            else:
                retention["rows"] = max(retention["rows"], agg.frame.start.offset or 0)
            group["aggregates"].append(f"{view.name}.{agg.id}")
    out = []
    for group in groups.values():
        group["columns"] = sorted(group["columns"])
        out.append(group)
    return {"state_groups": out}
