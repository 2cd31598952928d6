"""Time: INTERVAL literals (exact units only), EXTRACT, date_trunc — all in UTC."""

from __future__ import annotations

from sqlglot import exp

from .. import pgvalues as V
from ..pgtypes import INTERVAL, NUMERIC, TSTZ, UNKNOWN
from ..registry import TypeErr, register


@register(exp.Interval, "time", "INTERVAL '90 minutes'",
          "units microsecond to week; months and years are refused (their length varies)")
class _Interval:
    @staticmethod
    def typer(chk, node):
        from ..typecheck import parse_interval

        try:
            parse_interval(_interval_text(node))
        except (V.SqlError, ValueError) as exc:
            raise TypeErr(str(exc), "write e.g. INTERVAL '90 minutes'", node) from None
        return chk.set(node, INTERVAL)

    @staticmethod
    def build(cmp, node):
        from ..typecheck import parse_interval

        value = parse_interval(_interval_text(node))
        return lambda r: value


def _interval_text(node: exp.Interval) -> str:
    value, unit = node.this, node.args.get("unit")
    if not isinstance(value, exp.Literal):
        raise V.SqlError("INTERVAL takes a constant")
    return value.this if unit is None else f"{value.this} {unit.name}"


@register(exp.Extract, "time", "EXTRACT(field FROM ts)",
          "numeric, in UTC: epoch, year, quarter, month, week, day, dow, isodow, doy, hour, minute, second, "
          "milliseconds, microseconds, isoyear, decade, century, millennium; EXTRACT(EPOCH FROM interval)")
class _Extract:
    @staticmethod
    def typer(chk, node):
        field = node.this.name.lower()
        t = chk.type(node.expression)
        if t == UNKNOWN:
            t = chk.coerce(node.expression, TSTZ)
        if t == INTERVAL:
            if field != "epoch":
                raise TypeErr(f"EXTRACT({field.upper()} FROM interval) is not supported", "use EXTRACT(EPOCH FROM x)",
                              node)
        elif t != TSTZ:
            raise TypeErr(f"EXTRACT from {t}", "EXTRACT reads a timestamptz or an interval", node.expression)
        elif field not in V.EXTRACT_FIELDS:
            raise TypeErr(f"EXTRACT field {field.upper()} is not supported", "see docs/sql-surface.md", node.this)
        return chk.set(node, NUMERIC)

    @staticmethod
    def build(cmp, node):
        field = node.this.name.lower()
        a = cmp.compile(node.expression)
        if cmp.type(node.expression) == INTERVAL:
            return lambda r: None if (v := a(r)) is None else V.extract_interval_epoch(v)
        return lambda r: None if (v := a(r)) is None else V.extract(field, v)


@register((exp.TimestampTrunc, exp.DateTrunc), "time", "DATE_TRUNC('unit', ts)",
          "units microseconds, milliseconds, second, minute, hour, day, week, month, quarter, year (UTC)")
class _Trunc:
    @staticmethod
    def typer(chk, node):
        unit = _unit(node)
        if unit not in V.TRUNC_UNITS:
            raise TypeErr(f"date_trunc unit {unit!r} is not supported", f"one of {', '.join(V.TRUNC_UNITS)}", node)
        t = chk.type(node.this)
        if t == UNKNOWN:
            t = chk.coerce(node.this, TSTZ)
        if t != TSTZ:
            raise TypeErr(f"date_trunc of {t}", "date_trunc takes a timestamptz", node.this)
        return chk.set(node, TSTZ)

    @staticmethod
    def build(cmp, node):
        unit = _unit(node)
        a = cmp.compile(node.this)
        return lambda r: None if (v := a(r)) is None else V.date_trunc(unit, v)


def _unit(node) -> str:
    unit = node.args.get("unit")
    name = (unit.name if unit is not None else "").lower()
    return {"microsecond": "microseconds", "millisecond": "milliseconds", "seconds": "second", "minutes": "minute",
            "hours": "hour", "days": "day", "weeks": "week", "months": "month", "quarters": "quarter",
            "years": "year"}.get(name, name)
