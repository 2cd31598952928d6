"""Window clauses -> (PARTITION BY columns, ORDER BY columns, Frame).

Resolves named windows (``WINDOW w AS (...)``, ``OVER w``, ``OVER (w ROWS ...)``) and rejects every
frame that needs the future or is not a total order where one is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..config.duration import format_duration, parse_interval_text
from ..errors import ViewError
from ..ir import Bound, Frame
from .positions import Locator

DEFAULT_FRAME = Frame(mode="range", start=Bound(kind="unbounded_preceding"), end=Bound(kind="current_row"))


@dataclass(frozen=True)
class WindowParts:
    partition: list[exp.Expression]
    order: list[exp.Ordered]
    spec: exp.WindowSpec | None
    node: exp.Expression  # for error positions


def resolve_window(window: exp.Window, named: dict[str, exp.Window], loc: Locator) -> WindowParts:
    """Merge ``OVER name`` / ``OVER (name ...)`` with the named window definition."""
    partition = list(window.args.get("partition_by") or [])
    order_node = window.args.get("order")
    order = list(order_node.expressions) if order_node else []
    spec = window.args.get("spec")
    ref = window.args.get("alias")
    if ref is not None:
        name = ref.name
        if name not in named:
            known = ", ".join(sorted(named)) or "none defined"
            raise ViewError(f"window {name!r} is not defined", f"WINDOW clauses in this view: {known}", loc.offset(ref))
        base = resolve_window(named[name], named, loc)
        if partition:
            raise ViewError(f"cannot override PARTITION BY of window {name!r}",
                            "put PARTITION BY in the WINDOW definition only", loc.offset(partition[0]))
        if order and base.order:
            raise ViewError(f"cannot override ORDER BY of window {name!r}", "window {name!r} already has ORDER BY",
                            loc.offset(order[0]))
        if spec is not None and base.spec is not None:
            raise ViewError(f"cannot copy window {name!r} because it has a frame clause",
                            "write OVER w (without parentheses) or move the frame out of the WINDOW definition",
                            loc.offset(ref))
        return WindowParts(base.partition, order or base.order, spec or base.spec, window)
    return WindowParts(partition, order, spec, window)


def interval_us(node: exp.Expression, loc: Locator) -> int:
    """Exact microseconds of an INTERVAL literal; calendar units are rejected."""
    text = None
    if isinstance(node, exp.Interval):
        value = node.this
        unit = node.args.get("unit")
        if isinstance(value, exp.Literal):
            text = value.this if unit is None else f"{value.this} {unit.name}"
    elif isinstance(node, exp.Cast) and node.to.this == exp.DataType.Type.INTERVAL and isinstance(node.this, exp.Literal):
        text = node.this.this
    if text is None:
        raise ViewError("RANGE offset must be a constant INTERVAL",
                        "write RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW", loc.offset(node))
    try:
        return parse_interval_text(text)
    except ValueError as exc:
        hint = ("use an exact duration: days or weeks (e.g. INTERVAL '30 days')" if "calendar" in str(exc)
                else "write <number> <unit> pairs with second, minute, hour, day or week units")
        raise ViewError(str(exc), hint, loc.offset(node)) from None


def _rows(node: exp.Expression, loc: Locator) -> int:
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        if int(node.this) > 2 ** 63 - 1:
            raise ViewError("bigint out of range: a ROWS offset is at most 9223372036854775807",
                            "e.g. ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW", loc.offset(node))
        return int(node.this)
    raise ViewError("ROWS offset must be a non-negative integer constant", "e.g. ROWS BETWEEN 10 PRECEDING AND CURRENT ROW",
                    loc.offset(node))


def _bound(value, side: str | None, mode: str, spec: exp.WindowSpec, loc: Locator, which: str) -> Bound:
    if side == "FOLLOWING":
        anchor = value if isinstance(value, exp.Expression) else spec
        raise ViewError(f"frame {which} is FOLLOWING: it needs events from the future",
                        "online features can only look back: use ... PRECEDING AND CURRENT ROW",
                        loc.keyword_in(anchor, "FOLLOWING"))
    if value is None or (isinstance(value, str) and value.upper() == "CURRENT ROW"):
        return Bound(kind="current_row")
    if isinstance(value, str) and value.upper() == "UNBOUNDED":
        return Bound(kind="unbounded_preceding")
    if mode == "rows":
        return Bound(kind="preceding", offset=_rows(value, loc))
    if isinstance(value, exp.Literal):
        raise ViewError("RANGE offset on a timestamp must be an INTERVAL",
                        f"write RANGE BETWEEN INTERVAL '{value.this} seconds' PRECEDING (or use ROWS for a count of rows)",
                        loc.offset(value))
    return Bound(kind="preceding", offset=interval_us(value, loc))


def lower_frame(spec: exp.WindowSpec | None, loc: Locator, at: exp.Expression) -> Frame:
    if spec is None:
        return DEFAULT_FRAME
    mode = str(spec.args.get("kind") or "").lower()
    if mode not in ("rows", "range"):
        raise ViewError(f"{mode.upper()} frames are not supported", "use ROWS or RANGE frames", loc.keyword_in(at, mode or "OVER"))
    start = _bound(spec.args.get("start"), spec.args.get("start_side"), mode, spec, loc, "start")
    end = _bound(spec.args.get("end"), spec.args.get("end_side"), mode, spec, loc, "end")
    exclude_node = spec.args.get("exclude")
    exclude = "no_others"
    if exclude_node is not None:
        exclude = (exclude_node.name if isinstance(exclude_node, exp.Expression) else str(exclude_node)).lower().replace(" ", "_")
    if exclude not in ("no_others", "current_row", "group", "ties"):
        raise ViewError(f"unknown EXCLUDE {exclude}", "use EXCLUDE CURRENT ROW, GROUP, TIES or NO OTHERS", loc.keyword_in(at, "EXCLUDE"))
    if end.kind == "unbounded_preceding":
        raise ViewError("frame cannot end at UNBOUNDED PRECEDING", "end the frame at CURRENT ROW", loc.keyword_in(at, "UNBOUNDED"))
    if start.kind == "current_row" and end.kind == "preceding":
        raise ViewError("frame starts after it ends", "the start bound must come before the end bound", loc.keyword_in(at, "CURRENT"))
    if start.kind == "preceding" and end.kind == "preceding" and (start.offset or 0) < (end.offset or 0):
        if mode == "range":
            raise ViewError(f"frame starts {format_duration(start.offset or 0)} back, after its end "
                            f"{format_duration(end.offset or 0)} back: it holds nothing",
                            "write the longer interval first: RANGE BETWEEN INTERVAL '7 days' PRECEDING AND "
                            "INTERVAL '1 day' PRECEDING", loc.offset(spec.args.get("start")))
        raise ViewError(f"frame starts at {start.offset} PRECEDING, after its end at {end.offset} PRECEDING",
                        "write the larger offset first: ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING", loc.offset(spec.args.get("start")))
    if mode == "range" and end.kind == "preceding":
        if not end.offset:  # INTERVAL '0' PRECEDING: the current row's peers included, as CURRENT ROW
            end = Bound(kind="current_row")
        else:  # a frame ending before the current time holds neither the row nor its peers
            exclude = "no_others"
    return Frame(mode=mode, start=start, end=end, exclude=exclude)
