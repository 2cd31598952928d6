"""Postgres value semantics in pure Python: the stream's arithmetic, casts and text output.

Python values by type: integers ``int``, ``numeric`` ``Decimal`` (its exponent is Postgres's display
scale), ``double precision`` ``float`` (NaN/±Infinity are values), ``text`` ``str``, ``boolean``
``bool``, ``timestamptz`` an aware UTC ``datetime``, ``interval`` ``timedelta``.

Where Postgres raises an error (overflow, division by zero, bad input syntax) these functions raise
`SqlError` with Postgres's message; the stream turns it into a dead letter for that event.
"""

from __future__ import annotations

import decimal
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

from .pgtypes import FLOAT8, INT2, INT4, INT8, INT_RANGE, INTEGERS, NUMERIC, base, numeric_typmod

# Exact decimal arithmetic: Postgres numerics carry up to 131072 digits before the point and 16383
# after; 1100 significant digits is more than any value a view can build from its inputs.
CONTEXT = decimal.Context(prec=1100, rounding=ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])
decimal.DefaultContext = CONTEXT
decimal.setcontext(CONTEXT)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)
NAN = float("nan")
DEC_NAN = Decimal("NaN")


class SqlError(ValueError):
    """An error Postgres raises while evaluating (the event becomes a dead letter with this reason)."""


# -- integers ----------------------------------------------------------------------------------

def check_int(v: int, t: str) -> int:
    lo, hi = INT_RANGE[t]
    if not lo <= v <= hi:
        raise SqlError(f"{t} out of range")
    return v


def int_div(a: int, b: int, t: str) -> int:
    if b == 0:
        raise SqlError("division by zero")
    q = abs(a) // abs(b)
    return check_int(q if (a >= 0) == (b >= 0) else -q, t)


def int_mod(a: int, b: int) -> int:
    if b == 0:
        raise SqlError("division by zero")
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


# -- double precision --------------------------------------------------------------------------

def check_float(r: float, a: float, b: float | None = None, zero_ok: bool = True) -> float:
    """Postgres's check_float8_val: an infinite result from finite inputs overflows; a zero result
    from non-zero inputs underflows (where ``zero_ok`` is False)."""
    if math.isinf(r) and not math.isinf(a) and not (b is not None and math.isinf(b)):
        raise SqlError("value out of range: overflow")
    if not zero_ok and r == 0.0 and a != 0.0 and (b is None or b != 0.0):
        raise SqlError("value out of range: underflow")
    return r


def f_add(a: float, b: float) -> float:
    return check_float(a + b, a, b)


def f_sub(a: float, b: float) -> float:
    return check_float(a - b, a, b)


def f_mul(a: float, b: float) -> float:
    return check_float(a * b, a, b, zero_ok=False)


def f_div(a: float, b: float) -> float:
    if b == 0.0:
        if math.isnan(a):
            return NAN
        raise SqlError("division by zero")
    r = a / b
    check_float(r, a, b)
    if r == 0.0 and a != 0.0 and not math.isinf(b):
        raise SqlError("value out of range: underflow")
    return r


def f_pow(a: float, b: float) -> float:
    if a == 0.0 and b < 0.0:
        raise SqlError("zero raised to a negative power is undefined")
    if a < 0.0 and not math.isinf(b) and not math.isnan(b) and b != math.floor(b):
        raise SqlError("a negative number raised to a non-integer power yields a complex result")
    if math.isnan(a) or math.isnan(b):
        return 1.0 if (b == 0.0 or a == 1.0) else NAN
    try:
        r = math.pow(a, b)
    except OverflowError:
        raise SqlError("value out of range: overflow") from None
    except ValueError:
        raise SqlError("a negative number raised to a non-integer power yields a complex result") from None
    if r == 0.0 and a != 0.0 and not math.isinf(a) and not math.isinf(b):
        raise SqlError("value out of range: underflow")
    return r


def f_sqrt(a: float) -> float:
    if a < 0.0:
        raise SqlError("cannot take square root of a negative number")
    return math.sqrt(a) if not math.isinf(a) else a


def f_ln(a: float, log10: bool = False) -> float:
    if a == 0.0:
        raise SqlError("cannot take logarithm of zero")
    if a < 0.0:
        raise SqlError("cannot take logarithm of a negative number")
    if math.isnan(a) or math.isinf(a):
        return a
    return math.log10(a) if log10 else math.log(a)


def f_exp(a: float) -> float:
    if math.isnan(a):
        return a
    try:
        r = math.exp(a)
    except OverflowError:
        raise SqlError("value out of range: overflow") from None
    if r == 0.0 and not math.isinf(a):
        raise SqlError("value out of range: underflow")
    return r


def f_round(a: float) -> float:
    """round(double precision): rint(), half to even."""
    if math.isnan(a) or math.isinf(a):
        return a
    return float(round(a))


def f_ceil(a: float) -> float:
    return a if math.isnan(a) or math.isinf(a) else float(math.ceil(a))


def f_floor(a: float) -> float:
    return a if math.isnan(a) or math.isinf(a) else float(math.floor(a))


def f_sign(a: float) -> float:
    return 1.0 if a > 0 else -1.0 if a < 0 else 0.0  # sign(NaN) is 0 in Postgres (C comparisons)


# -- numeric -----------------------------------------------------------------------------------

def dscale(d: Decimal) -> int:
    if not d.is_finite():
        return 0
    e = d.as_tuple().exponent
    return -e if e < 0 else 0


def _weight_first(d: Decimal) -> tuple[int, int]:
    """Postgres's NBASE (10^4) weight and first digit of ``d``."""
    if d.is_zero():
        return 0, 0
    weight = abs(d).adjusted() // 4
    return weight, int(abs(d).scaleb(-4 * weight))


def n_quantize(d: Decimal, scale: int) -> Decimal:
    """Round half away from zero to ``scale`` digits after the point (Postgres's round_var)."""
    if not d.is_finite():
        return d
    r = d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP)
    return r.copy_abs() if r.is_zero() else r  # numeric has no negative zero


def n_div(a: Decimal, b: Decimal) -> Decimal:
    """numeric / numeric with Postgres's result scale (select_div_scale) and rounding."""
    if b.is_nan() or a.is_nan():
        return DEC_NAN
    if b.is_zero():
        raise SqlError("division by zero")
    if a.is_infinite() or b.is_infinite():
        if a.is_infinite() and b.is_infinite():
            return DEC_NAN
        if a.is_infinite():
            return a if b > 0 else -a
        return Decimal(0)
    w1, f1 = _weight_first(a)
    w2, f2 = _weight_first(b)
    qweight = w1 - w2 - (1 if f1 <= f2 else 0)
    rscale = max(16 - qweight * 4, dscale(a), dscale(b), 0)
    rscale = min(rscale, 1000)
    return n_quantize(a / b, rscale)


def n_mod(a: Decimal, b: Decimal) -> Decimal:
    if a.is_nan() or b.is_nan():
        return DEC_NAN
    if b.is_zero():
        raise SqlError("division by zero")
    if a.is_infinite():
        return DEC_NAN
    if b.is_infinite():
        return a
    return a % b  # truncated remainder: the sign of the dividend, as Postgres


def n_round(a: Decimal, places: int = 0) -> Decimal:
    if not a.is_finite():
        return a
    places = max(min(places, 1000), -1000)
    r = n_quantize(a, places)
    return r if places >= 0 else Decimal(int(r))


def n_ceil(a: Decimal) -> Decimal:
    return a if not a.is_finite() else Decimal(math.ceil(a))


def n_floor(a: Decimal) -> Decimal:
    return a if not a.is_finite() else Decimal(math.floor(a))


def n_sign(a: Decimal) -> Decimal:
    if a.is_nan():
        return a
    return Decimal(1) if a > 0 else Decimal(-1) if a < 0 else Decimal(0)


def n_typmod(d: Decimal, t: str) -> Decimal:
    """Apply numeric(p,s): round to s places, error if more than p-s integer digits."""
    tm = numeric_typmod(t)
    if tm is None or not d.is_finite():
        if tm is not None and d.is_infinite():
            raise SqlError("numeric field overflow")
        return d
    p, s = tm
    r = n_quantize(d, s)
    if not r.is_zero() and r.adjusted() >= p - s:
        raise SqlError("numeric field overflow")
    return r


# -- comparison and ordering -------------------------------------------------------------------

def is_nan(v) -> bool:
    return (isinstance(v, float) and v != v) or (isinstance(v, Decimal) and v.is_nan())


def sort_key(v):
    """A key that orders values as Postgres does: NaN above every number (and equal to itself)."""
    if isinstance(v, float):
        return (1, 0.0) if v != v else (0, v)
    if isinstance(v, Decimal):
        return (1, 0) if v.is_nan() else (0, v)
    return v


def compare(a, b) -> int:
    """-1/0/1 for two non-NULL values already converted to one comparable type."""
    if isinstance(a, (float, Decimal)) and (is_nan(a) or is_nan(b)):
        na, nb = is_nan(a), is_nan(b)
        return 0 if na and nb else (1 if na else -1)
    return -1 if a < b else (1 if a > b else 0)


# -- casts -------------------------------------------------------------------------------------

_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_NUM_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_SPECIAL_FLOAT = {"nan": NAN, "infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf,
                  "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}
_SPECIAL_NUMERIC = {"nan": DEC_NAN, "infinity": Decimal("Infinity"), "+infinity": Decimal("Infinity"),
                    "-infinity": Decimal("-Infinity"), "inf": Decimal("Infinity"), "+inf": Decimal("Infinity"),
                    "-inf": Decimal("-Infinity")}
_TYPE_WORD = {INT2: "smallint", INT4: "integer", INT8: "bigint", NUMERIC: "numeric", FLOAT8: "double precision"}


def text_to_int(s: str, t: str) -> int:
    if not _INT_TEXT.fullmatch(s):
        raise SqlError(f'invalid input syntax for type {_TYPE_WORD[t]}: "{s}"')
    v = int(s)
    lo, hi = INT_RANGE[t]
    if not lo <= v <= hi:
        raise SqlError(f'value "{s}" is out of range for type {_TYPE_WORD[t]}')
    return v


def text_to_numeric(s: str) -> Decimal:
    special = _SPECIAL_NUMERIC.get(s.strip().lower())
    if special is not None:
        return special
    if not _NUM_TEXT.fullmatch(s):
        raise SqlError(f'invalid input syntax for type numeric: "{s}"')
    d = Decimal(s.strip())
    return d if d.as_tuple().exponent <= 0 else d.quantize(Decimal(1))


def text_to_float(s: str) -> float:
    special = _SPECIAL_FLOAT.get(s.strip().lower())
    if special is not None:
        return special
    if not _NUM_TEXT.fullmatch(s):
        raise SqlError(f'invalid input syntax for type double precision: "{s}"')
    v = float(s)
    if math.isinf(v) or (v == 0.0 and Decimal(s.strip()) != 0):
        raise SqlError(f'"{s.strip()}" is out of range for type double precision')
    return v


def text_to_bool(s: str) -> bool:
    """boolin: any prefix of true/false/yes/no, on/off (at least two letters), 1/0; case-insensitive."""
    v = s.strip().lower()
    if v:
        for word, value in (("true", True), ("false", False), ("yes", True), ("no", False)):
            if word.startswith(v):
                return value
        if v in ("on", "1"):
            return True
        if v in ("of", "off", "0"):
            return False
    raise SqlError(f'invalid input syntax for type boolean: "{s}"')


_TS_TEXT = re.compile(r"\s*(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?))?"
                      r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?\s*", re.IGNORECASE)


def text_to_timestamptz(s: str) -> datetime:
    """ISO 8601 / Postgres's ISO output (``2026-03-01 10:00:00.5+00``); no zone means UTC."""
    m = _TS_TEXT.fullmatch(s)
    if not m:
        raise SqlError(f'invalid input syntax for type timestamp with time zone: "{s}"')
    date, time, zone = m.groups()
    text = date + "T" + (time or "00:00")
    if zone and zone.upper() != "Z":
        zone = zone if ":" in zone or len(zone) == 3 else zone[:3] + ":" + zone[3:]
        text += zone + (":00" if len(zone) == 3 else "")
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise SqlError(f'date/time field value out of range: "{s}"') from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def float_to_numeric(v: float) -> Decimal:
    """float8 -> numeric goes through 15 significant digits (DBL_DIG), as Postgres does."""
    if math.isnan(v):
        return DEC_NAN
    if math.isinf(v):
        return Decimal("Infinity") if v > 0 else Decimal("-Infinity")
    return text_to_numeric("%.15g" % v)


def float_to_int(v: float, t: str) -> int:
    if math.isnan(v) or math.isinf(v):
        raise SqlError(f"{t} out of range")
    return check_int(int(round(v)), t)


def numeric_to_int(d: Decimal, t: str) -> int:
    if d.is_nan():
        raise SqlError(f"cannot convert NaN to {t}")
    if d.is_infinite():
        raise SqlError(f"cannot convert infinity to {t}")
    return check_int(int(n_quantize(d, 0)), t)


def numeric_to_float(d: Decimal) -> float:
    v = float(d)
    if math.isinf(v) and d.is_finite():
        raise SqlError('value out of range: overflow')
    return v


def float_text(v: float) -> str:
    """double precision output: the shortest exact digits, %g-style (exponent below 1e-4 or from 1e15)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0.0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    sign = "-" if v < 0 else ""
    digits, exp = _shortest(abs(v))
    point = exp + 1  # position of the decimal point after the first digit
    if exp < -4 or exp >= 15:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return sign + "0." + "0" * (-point) + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def _shortest(v: float) -> tuple[str, int]:
    """The shortest round-tripping digits of ``v`` > 0 and the decimal exponent of the first one."""
    d = Decimal(repr(v))
    digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
    return digits, d.adjusted()


def numeric_text(d: Decimal) -> str:
    if d.is_nan():
        return "NaN"
    if d.is_infinite():
        return "Infinity" if d > 0 else "-Infinity"
    return format(d.copy_abs() if d.is_zero() else d, "f")


def timestamptz_text(t: datetime) -> str:
    t = t.astimezone(timezone.utc)
    text = t.strftime("%Y-%m-%d %H:%M:%S")
    if t.microsecond:
        text += ("." + f"{t.microsecond:06d}").rstrip("0")
    return text + "+00"


def to_text(v, t: str, for_concat: bool = False) -> str:
    """A value's text: a cast to text, or (``for_concat``) the type's output function, which
    CONCAT() uses (booleans there are ``t``/``f``)."""
    if isinstance(v, bool):
        return ("t" if v else "f") if for_concat else ("true" if v else "false")
    b = base(t)
    if b in INTEGERS:
        return str(v)
    if b == NUMERIC:
        return numeric_text(v)
    if b == FLOAT8:
        return float_text(v)
    if isinstance(v, datetime):
        return timestamptz_text(v)
    return v


# -- text --------------------------------------------------------------------------------------

def t_upper(s: str) -> str:
    """upper() under the C.UTF-8 ctype: simple one-to-one case mapping ('ß' stays 'ß')."""
    return "".join(u if len(u := c.upper()) == 1 else c for c in s) if not s.isascii() else s.upper()


def t_lower(s: str) -> str:
    if s.isascii():
        return s.lower()
    return "".join(low if len(low := c.lower()) == 1 else low[0] for c in s)


def t_substring(s: str, start: int, length: int | None = None) -> str:
    if length is None:
        return s[max(start, 1) - 1:]
    if length < 0:
        raise SqlError("negative substring length not allowed")
    end = start + length  # exclusive, 1-based
    lo = max(start, 1)
    return s[lo - 1:end - 1] if end > lo else ""


def t_left(s: str, n: int) -> str:
    return s[:n] if n >= 0 else s[:max(len(s) + n, 0)]


def t_right(s: str, n: int) -> str:
    if n >= 0:
        return s[max(len(s) - n, 0):] if n else ""
    return s[min(-n, len(s)):]


def t_replace(s: str, old: str, new: str) -> str:
    return s if old == "" else s.replace(old, new)


def t_position(sub: str, s: str) -> int:
    return s.find(sub) + 1


def t_trim(s: str, chars: str = " ", where: str = "both") -> str:
    if where == "leading":
        return s.lstrip(chars)
    if where == "trailing":
        return s.rstrip(chars)
    return s.strip(chars)


def like_regex(pattern: str, case_insensitive: bool = False) -> re.Pattern:
    """LIKE pattern -> regex: ``%`` any run, ``_`` one character, backslash escapes the next."""
    out, i = [], 0
    if case_insensitive:
        pattern = t_lower(pattern)
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= len(pattern):
                raise SqlError("LIKE pattern must not end with escape character")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


# -- time --------------------------------------------------------------------------------------

def ts_add(t: datetime, d: timedelta) -> datetime:
    try:
        return t + d
    except OverflowError:
        raise SqlError("timestamp out of range") from None


def epoch_us(t: datetime) -> int:
    return (t - EPOCH) // ONE_US


_EXTRACT = {"year", "quarter", "month", "week", "day", "dow", "isodow", "doy", "hour", "minute", "second",
            "millisecond", "milliseconds", "microsecond", "microseconds", "epoch", "isoyear", "decade", "century",
            "millennium"}
EXTRACT_FIELDS = frozenset(_EXTRACT)
TRUNC_UNITS = ("microseconds", "milliseconds", "second", "minute", "hour", "day", "week", "month", "quarter", "year")


def extract(field: str, t: datetime) -> Decimal:
    """EXTRACT(field FROM timestamptz) in UTC: numeric, with Postgres's scales."""
    f = field.lower()
    us = t.microsecond
    if f == "epoch":
        return Decimal(epoch_us(t)).scaleb(-6)
    if f == "second":
        return Decimal(t.second * 1_000_000 + us).scaleb(-6)
    if f in ("millisecond", "milliseconds"):
        return Decimal(t.second * 1_000_000 + us).scaleb(-3)
    if f in ("microsecond", "microseconds"):
        return Decimal(t.second * 1_000_000 + us)
    iso = t.isocalendar()
    value = {"year": t.year, "quarter": (t.month - 1) // 3 + 1, "month": t.month, "week": iso[1], "day": t.day,
             "dow": (t.weekday() + 1) % 7, "isodow": t.isoweekday(), "doy": t.timetuple().tm_yday, "hour": t.hour,
             "minute": t.minute, "isoyear": iso[0], "decade": t.year // 10,
             "century": (t.year + 99) // 100, "millennium": (t.year + 999) // 1000}[f]
    return Decimal(value)


def extract_interval_epoch(d: timedelta) -> Decimal:
    return Decimal(d // ONE_US).scaleb(-6)


def date_trunc(unit: str, t: datetime) -> datetime:
    u = unit.lower()
    if u == "microseconds":
        return t
    if u == "milliseconds":
        return t.replace(microsecond=t.microsecond - t.microsecond % 1000)
    t0 = t.replace(microsecond=0)
    if u == "second":
        return t0
    if u == "minute":
        return t0.replace(second=0)
    if u == "hour":
        return t0.replace(second=0, minute=0)
    day = t0.replace(second=0, minute=0, hour=0)
    if u == "day":
        return day
    if u == "week":
        return day - timedelta(days=day.weekday())
    if u == "month":
        return day.replace(day=1)
    if u == "quarter":
        return day.replace(day=1, month=(day.month - 1) // 3 * 3 + 1)
    if u == "year":
        return day.replace(day=1, month=1)
    raise SqlError(f'unit "{unit}" not recognized for type timestamp with time zone')
