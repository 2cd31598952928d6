"""Hypothesis strategies for the differential fuzzer: random feature views built from the function
registry's surface (typed expressions in WHERE, FILTER, aggregate arguments and outputs; random
frames, EXCLUDE modes, tie-breaks, one- and two-column entity keys) and adversarial events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

BASE = datetime(2026, 3, 1, tzinfo=timezone.utc)
COLUMNS = {"txn_id": "text", "user_id": "text", "merchant_id": "text", "amount": "double precision",
           "n": "integer", "q": "numeric(12,2)", "status": "text", "flag": "boolean", "ts": "timestamptz"}
STRINGS = ["ok", "OK", "a_b", "a%b", "a\\b", "axb", "Straße", "ÉTÉ", "x", "", " pad ", "bad", "ok_1"]
# doubles whose sums are exact in any order (so Postgres's in-order sums equal exact sums), plus
# the values that break naive code: NaN, ±Infinity, -0.0, 2^50, tiny subnormal-adjacent powers of two
AMOUNTS = [0.0, -0.0, 0.25, 1.5, 2.5, 3.5, -2.5, 10.0, 100.125, 1e6, 2.0 ** 50, 2.0 ** -20, float("nan"),
           float("inf"), float("-inf")]
QS = [Decimal("0.00"), Decimal("1.25"), Decimal("-1.25"), Decimal("2.50"), Decimal("0.05"), Decimal("99999.99"),
      Decimal("-0.01"), Decimal("3.33")]
# two fixed dimension tables the generated views may LEFT JOIN (issue 13): a static one keyed by
# merchant and a versioned one whose version bounds fall on the times events often have
DIMENSIONS = {
    "dm": {"columns": {"id": "text", "grade": "integer", "w": "double precision", "label": "text"}, "key": ["id"],
           "rows": [{"id": "m1", "grade": 3, "w": 1.5, "label": "ok"},
                    {"id": "m2", "grade": None, "w": -2.5, "label": None},
                    {"id": None, "grade": 9, "w": 10.0, "label": "x"}]},
    "dv": {"columns": {"mid": "text", "lvl": "integer", "vf": "timestamptz", "vt": "timestamptz"}, "key": ["mid"],
           "valid": ["vf", "vt"],
           "rows": [{"mid": "m1", "lvl": 1, "vf": BASE, "vt": BASE + timedelta(seconds=1800)},
                    {"mid": "m1", "lvl": 2, "vf": BASE + timedelta(seconds=3600), "vt": None},
                    {"mid": "m2", "lvl": 5, "vf": BASE - timedelta(days=1), "vt": BASE + timedelta(seconds=61)},
                    {"mid": "m2", "lvl": 0, "vf": BASE + timedelta(seconds=900), "vt": BASE + timedelta(seconds=7200)}]},
}
JOINS = {"dm": "LEFT JOIN {{ source('dm') }} AS d ON d.id = e.merchant_id",
         "dv": "LEFT JOIN {{ source('dv') }} AS v ON v.mid = e.merchant_id AND e.ts >= v.vf AND (e.ts < v.vt OR v.vt IS NULL)"}
LIKE_PATTERNS = ["'%a%'", "'a\\_b'", "'a\\%b'", "'a\\\\b'", "'_k'", "'%e'"]
OFFSETS = [0, 0, 0.5, 1, 59, 60, 61, 900, 1800, 3600, 3600, 3600.000001, 5400, 7200]


@st.composite
def events(draw, min_size: int = 5, max_size: int = 45) -> list[dict]:
    """Rows in arrival order: ties, NULLs, out of order by at most 30 s (less than the lateness)."""
    n = draw(st.integers(min_size, max_size))
    t, rows = 0.0, []
    for i in range(n):
        t += draw(st.sampled_from(OFFSETS))
        rows.append({
            "txn_id": f"t{draw(st.integers(0, 9999)):04d}_{i}",
            "user_id": draw(st.sampled_from(["u1", "u2", "U1", None])),
            "merchant_id": draw(st.sampled_from(["m1", "m2", None])),
            "amount": draw(st.one_of(st.none(), st.sampled_from(AMOUNTS))),
            # now and then an integer at the int4 bounds: expressions over it overflow, and Postgres
            # fails only where it evaluates them (aggregate arguments: only for rows in frames)
            "n": draw(st.sampled_from([2147483647, -2147483648])) if draw(st.integers(0, 40)) == 0
            else draw(st.one_of(st.none(), st.integers(-20, 50))),
            "q": draw(st.one_of(st.none(), st.sampled_from(QS))),
            "status": draw(st.one_of(st.none(), st.sampled_from(STRINGS))),
            "flag": draw(st.sampled_from([True, False, None])),
            "ts": BASE + timedelta(seconds=t),
        })
    # arrival order: swap neighbours less than 30 s apart (within the allowed lateness of 1 minute)
    i = 0
    while i < len(rows) - 1:  # each event moves at most one place
        if draw(st.booleans()) and (rows[i + 1]["ts"] - rows[i]["ts"]).total_seconds() < 30:
            rows[i], rows[i + 1] = rows[i + 1], rows[i]
            i += 1
        i += 1
    return rows


def _lit_text(draw) -> str:
    s = draw(st.sampled_from(["ok", "a_b", "x", "", "Straße", "b"]))
    return "'" + s.replace("'", "''") + "'"


def expr(draw, t: str, depth: int = 0) -> str:
    """A random expression of type ``t`` (int | numeric | float | text | bool | ts)."""
    leaf = depth >= 2 or draw(st.integers(0, 2)) == 0
    if t == "int":
        if leaf:
            return draw(st.sampled_from(["n", "n", "3", "-7", "LENGTH(status)", "POSITION('b' IN status)"]))
        a = expr(draw, "int", depth + 1)
        return draw(st.sampled_from([
            f"({a} + {draw(st.integers(-3, 3))})", f"({a} * 2)", f"({a} / {draw(st.sampled_from([2, -3, 7]))})",
            f"({a} % {draw(st.sampled_from([2, -3]))})", f"ABS({a})", f"CAST({expr(draw, 'numeric', depth + 1)} AS INTEGER)",
            f"COALESCE({a}, 0)", f"CASE WHEN {expr(draw, 'bool', depth + 1)} THEN {a} ELSE -1 END",
            f"CAST({expr(draw, 'float_finite', depth + 1)} AS INTEGER)"]))
    if t == "numeric":
        if leaf:
            return draw(st.sampled_from(["q", "q", "1.5", "CAST(n AS NUMERIC)", "EXTRACT(EPOCH FROM ts)",
                                         "EXTRACT(MILLISECONDS FROM ts)"]))
        a = expr(draw, "numeric", depth + 1)
        return draw(st.sampled_from([
            f"({a} / 3)", f"({a} * {expr(draw, 'int', depth + 1)})", f"ROUND({a}, {draw(st.integers(-1, 3))})",
            f"ROUND({a})", f"({a} + q)", f"({a} % 2)", f"FLOOR({a})", f"CEIL({a})", f"ABS({a})",
            f"CAST({a} AS NUMERIC(10,1))", f"({expr(draw, 'int', depth + 1)} / 4.0)", f"COALESCE({a}, 0)",
            "CAST(amount AS NUMERIC)" if False else f"NULLIF({a}, 0)"]))
    if t == "float_finite":  # halves of integers: ties for the half-even rules
        return "(CAST(n AS DOUBLE PRECISION) / 4)"
    if t == "float":
        if leaf:
            return draw(st.sampled_from(["amount", "amount", "2.5::float8", "CAST(n AS DOUBLE PRECISION)"]))
        a = expr(draw, t, depth + 1)
        return draw(st.sampled_from([
            f"({a} * 2)", f"({a} + n)", f"({a} / 4)", f"ABS({a})", f"ROUND({a})", f"FLOOR({a})", f"CEIL({a})",
            f"SIGN({a})", f"GREATEST({a}, n)", f"LEAST({a}, 0)", "CAST(q AS DOUBLE PRECISION)", f"-{a}"]))
    if t == "text":
        if leaf:
            return draw(st.sampled_from(["status", "status", "merchant_id", _lit_text(draw)]))
        a = expr(draw, "text", depth + 1)
        k = draw(st.integers(-2, 3))
        return draw(st.sampled_from([
            f"UPPER({a})", f"LOWER({a})", f"SUBSTRING({a} FROM {k} FOR {abs(k) + 1})", f"LEFT({a}, {k})",
            f"RIGHT({a}, {k})", f"REPLACE({a}, 'a', 'xy')", f"TRIM(BOTH 'x' FROM {a})", f"{a} || CAST(flag AS TEXT)",
            f"CONCAT({a}, flag, n)", f"({a} || n)", "CAST(amount AS TEXT)", "CAST(q AS TEXT)",
            f"COALESCE({a}, 'none')", "CAST(ts AS TEXT)"]))
    if t == "bool":
        if leaf:
            return draw(st.sampled_from(["flag", "status IS NULL", "n > 3", "amount > 1", "q >= 1.25",
                                         "status LIKE " + draw(st.sampled_from(LIKE_PATTERNS)),
                                         "status ILIKE 'OK%'", "status < 'b'", "ts > '2026-03-01 00:30:00'"]))
        a, b = expr(draw, "bool", depth + 1), expr(draw, "bool", depth + 1)
        return draw(st.sampled_from([
            f"({a} AND {b})", f"({a} OR {b})", f"NOT {a}", f"({a}) IS NOT TRUE", f"({a}) IS DISTINCT FROM ({b})",
            f"{expr(draw, 'int', depth + 1)} BETWEEN 0 AND 10", f"{expr(draw, 'text', depth + 1)} IN ('ok', 'a_b', NULL)",
            f"{expr(draw, 'numeric', depth + 1)} > 1", f"{expr(draw, 'float', depth + 1)} = 'NaN'",
            f"{expr(draw, 'text', depth + 1)} >= 'a'"]))
    if t == "ts":
        return draw(st.sampled_from(["ts", "date_trunc('hour', ts)", "ts + INTERVAL '90 minutes'",
                                     "ts - INTERVAL '1 second'", "date_trunc('minute', ts)"]))
    raise ValueError(t)


AGGS = [("COUNT(*)", None), ("COUNT", "any"), ("SUM", "num"), ("AVG", "num"), ("MIN", "ord"), ("MAX", "ord"),
        ("STDDEV_SAMP", "num"), ("VAR_POP", "num"), ("BOOL_OR", "bool"), ("BOOL_AND", "bool"),
        ("COUNT(DISTINCT", "any"), ("FIRST_VALUE", "ord"), ("LAST_VALUE", "ord"), ("LAG", "ord")]


def _arg(draw, kind: str) -> tuple[str, str]:
    if kind == "num":
        t = draw(st.sampled_from(["int", "numeric", "float"]))
    elif kind == "ord":
        t = draw(st.sampled_from(["int", "numeric", "float", "text", "ts"]))
    elif kind == "bool":
        t = "bool"
    else:
        t = draw(st.sampled_from(["int", "text", "numeric"]))
    return expr(draw, t), t


def frame(draw, ordered: bool, two_keys: bool) -> tuple[str, str]:
    """(ORDER BY ..., frame clause)."""
    if ordered:
        order = "ts, txn_id"
        kind = draw(st.sampled_from(["rows", "rows", "range_unbounded", "range_current"]))
    else:
        kind = draw(st.sampled_from(["range", "range", "range_unbounded", "rows", "range_current", "range_delayed"]))
        order = "ts, txn_id" if kind == "rows" or (kind == "range_unbounded" and draw(st.booleans())) else "ts"
    excl = draw(st.sampled_from(["", "", " EXCLUDE CURRENT ROW", " EXCLUDE GROUP", " EXCLUDE TIES"]))
    if kind == "rows":
        start = draw(st.sampled_from(["UNBOUNDED PRECEDING", "3 PRECEDING", "1 PRECEDING", "CURRENT ROW",
                                      "9223372036854775807 PRECEDING", "0 PRECEDING"]))
        end = draw(st.sampled_from(["CURRENT ROW", "CURRENT ROW", "1 PRECEDING"])) if start != "CURRENT ROW" else "CURRENT ROW"
        return order, f"ROWS BETWEEN {start} AND {end}{excl}"
    if kind == "range_current":
        return order, f"RANGE BETWEEN CURRENT ROW AND CURRENT ROW{excl}"
    if kind == "range_unbounded":
        return order, f"RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW{excl}"
    if kind == "range_delayed":  # a frame ending before the current time
        ends = ["0 seconds", "1 second", "1 minute", "30 minutes", "1 hour"]
        end = draw(st.sampled_from(ends))
        starts = ["UNBOUNDED PRECEDING"] + [f"INTERVAL '{s}' PRECEDING" for s in ["1 hour", "2 hours", "1 day"]]
        start = draw(st.sampled_from([s for s in starts if s.startswith("UNBOUNDED") or end != "1 hour"
                                      or "1 hour" not in s] + ([f"INTERVAL '{end}' PRECEDING"])))
        return order, f"RANGE BETWEEN {start} AND INTERVAL '{end}' PRECEDING{excl}"
    w = draw(st.sampled_from(["1 second", "1 minute", "30 minutes", "1 hour", "2 hours"]))
    return order, f"RANGE BETWEEN INTERVAL '{w}' PRECEDING AND CURRENT ROW{excl}"


@st.composite
def view_sql(draw) -> str:
    two = draw(st.booleans())
    distinct = draw(st.integers(0, 5)) == 0  # a COUNT(DISTINCT) view (its oracle is DuckDB)
    part = "user_id, merchant_id" if two else "user_id"
    outputs = ["txn_id", "ts"]
    n_aggs = draw(st.integers(1, 3))
    for i in range(n_aggs):
        func, kind = ("COUNT(DISTINCT", "any") if distinct else draw(st.sampled_from(AGGS[:10] + AGGS[11:]))
        ordered = func in ("FIRST_VALUE", "LAST_VALUE", "LAG")
        order, spec = frame(draw, ordered, two)
        if func == "COUNT(*)":
            call, t = "COUNT(*)", "int"
        elif func == "COUNT(DISTINCT":
            # Postgres cannot run COUNT(DISTINCT) OVER: the oracle is DuckDB, so these views keep
            # to constructs both read alike (a bare column, no WHERE/FILTER/wrappers)
            call, t = f"COUNT(DISTINCT {draw(st.sampled_from(['status', 'n', 'merchant_id']))})", "distinct"
        else:
            a, t = _arg(draw, kind)
            if func == "LAG":
                default = draw(st.sampled_from(["", ", NULL"] + ([", 0"] if t in ("int", "numeric") else [])))
                call = f"LAG({a}, {draw(st.integers(0, 2))}{default})"
            else:
                call = f"{func}({a})"
            if func in ("COUNT",):
                t = "int"
            elif func in ("SUM", "AVG", "STDDEV_SAMP", "VAR_POP"):
                t = "float" if t == "float" else "numeric"
            elif func in ("BOOL_OR", "BOOL_AND"):
                t = "bool"
        filt = ""
        if t == "distinct":
            outputs.append(f"{call} OVER (PARTITION BY {part} ORDER BY {order} {spec}) AS f{i}")
            continue
        if func not in ("FIRST_VALUE", "LAST_VALUE", "LAG") and draw(st.booleans()):
            filt = f" FILTER (WHERE {expr(draw, 'bool', 1)})"
        over = f"OVER (PARTITION BY {part} ORDER BY {order})" if func == "LAG" else \
            f"OVER (PARTITION BY {part} ORDER BY {order} {spec})"
        agg = f"{call}{filt} {over}"
        # consumers of float aggregates stay continuous: Postgres sums doubles in frame order
        if t == "int":
            wrap = draw(st.sampled_from(["{}", "{} / 2", "{} * 1.5", "CAST({} AS TEXT)", "{} > 2"]))
        elif t == "numeric":
            wrap = draw(st.sampled_from(["{}", "ROUND({}, 2)", "CAST({} AS TEXT)", "{} / 7", "CAST({} AS INTEGER)"]))
        elif t == "text":
            wrap = draw(st.sampled_from(["{}", "UPPER({})", "{} || '|'", "LENGTH({})"]))
        else:
            wrap = draw(st.sampled_from(["{}", "{} * 2", "COALESCE({}, -1)"]))
        outputs.append(f"{wrap.format(agg)} AS f{i}")
    if distinct:
        return "SELECT " + ",\n  ".join(outputs) + "\nFROM {{ source('tx') }}"
    if draw(st.booleans()):
        outputs.append(f"{expr(draw, draw(st.sampled_from(['int', 'numeric', 'text', 'bool', 'float', 'ts'])))} AS s0")
    where = f"\nWHERE {expr(draw, 'bool', 1)}" if draw(st.integers(0, 3)) == 0 else ""
    if draw(st.integers(0, 2)) == 0:
        return _joined(draw, outputs, where, part)
    return "SELECT " + ",\n  ".join(outputs) + "\nFROM {{ source('tx') }}" + where


def _joined(draw, outputs: list[str], where: str, part: str) -> str:
    """The view over the events LEFT JOINed to one or both dimensions, with aggregates, FILTERs, a
    WHERE and pass-through columns reading the joined columns."""
    dims = draw(st.sampled_from([["dm"], ["dv"], ["dm", "dv"]]))
    args = {"dm": ["d.grade", "d.w", "d.grade * n", "CASE WHEN d.label = 'ok' THEN amount END", "d.label"],
            "dv": ["v.lvl", "v.lvl + n", "COALESCE(v.lvl, -1)"]}
    for j, dim in enumerate(dims):
        arg = draw(st.sampled_from(args[dim]))
        funcs = ["MIN", "MAX", "COUNT"] if arg == "d.label" else ["SUM", "MAX", "COUNT", "AVG", "MIN"]
        order, spec = frame(draw, False, "merchant_id" in part)
        filt = draw(st.sampled_from(["", " FILTER (WHERE d.label IS NOT NULL)" if dim == "dm" else
                                     " FILTER (WHERE v.lvl >= 1)"]))
        outputs.append(f"{draw(st.sampled_from(funcs))}({arg}){filt} OVER (PARTITION BY {part} ORDER BY {order} "
                       f"{spec}) AS j{j}")
    if draw(st.booleans()):
        outputs.append(("d.label" if "dm" in dims else "v.lvl") + " AS jp")
    if not where and draw(st.booleans()):
        where = "\nWHERE " + ("d.label IS DISTINCT FROM 'x'" if "dm" in dims else "v.lvl IS NULL OR v.lvl < 5")
    joins = "\n".join(JOINS[d] for d in dims)
    return "SELECT " + ",\n  ".join(outputs) + "\nFROM {{ source('tx') }} AS e\n" + joins + where


UPSTREAM = "up"  # the generated view other generated views may read through ref()


@st.composite
def upstream_sql(draw) -> str:
    """A view the other generated views may read through ``ref('up')`` instead of the source: it
    outputs the source's columns under their names and types, some replaced by window aggregates
    over its own partition — so wherever a view over it reads a column it reads another view's
    feature. Partitioned by user_id (its readers keyed by user_id run in its keyed state), or by
    merchant_id / status (its readers re-key its rows)."""
    part = draw(st.sampled_from(["user_id", "user_id", "merchant_id", "status"]))

    def over(ordered: bool = False) -> str:
        order, spec = frame(draw, ordered, False)
        return f"OVER (PARTITION BY {part} ORDER BY {order} {spec})"

    lag = f"OVER (PARTITION BY {part} ORDER BY ts, txn_id)"
    options = {
        "amount": [f"MAX(amount) {over()}", f"MIN(amount) {over()}", f"FIRST_VALUE(amount) {over(True)}"],
        "n": [f"CAST(COUNT(*) {over()} AS INTEGER)", f"MAX(n) {over()}", f"LAG(n) {lag}"],
        "q": [f"CAST(SUM(q) {over()} AS NUMERIC(12,2))", f"MIN(q) {over()}"],
        "status": [f"MAX(status) {over()}", f"LAG(status, 1, 'none') {lag}"],
        "flag": [f"BOOL_OR(flag) {over()}", f"COUNT(*) {over()} > 1"],
    }
    cols = []
    for c in COLUMNS:
        if c in options and draw(st.booleans()):
            cols.append(f"{draw(st.sampled_from(options[c]))} AS {c}")
        else:
            cols.append(c)
    if all(c in COLUMNS for c in cols):  # at least one feature
        cols[list(COLUMNS).index("n")] = f"CAST(COUNT(*) {over()} AS INTEGER) AS n"
    where = f"\nWHERE {expr(draw, 'bool', 1)}" if draw(st.integers(0, 3)) == 0 else ""
    return "SELECT " + ",\n  ".join(cols) + "\nFROM {{ source('tx') }}" + where


def over_upstream(sql: str) -> str:
    """A generated view reading the upstream view's rows instead of the source's events."""
    return sql.replace("{{ source('tx') }}", "{{ ref('" + UPSTREAM + "') }}")


@st.composite
def view_join_sql(draw) -> str:
    """A view over the source's events that LEFT JOINs the upstream view's row of the same event
    (``ON u.txn_id = e.txn_id``): another entity's features at each event, in arguments, FILTERs,
    WHERE and pass-throughs (NULL where the upstream's WHERE left the event out)."""
    part = draw(st.sampled_from(["e.user_id", "e.merchant_id", "e.user_id, e.merchant_id"]))
    args = {"num": ["u.n", "u.q", "e.n + u.n", "CASE WHEN u.flag THEN e.q END", "COALESCE(u.n, -1)"],
            "ord": ["u.status", "u.amount", "u.n"]}
    outputs = ["e.txn_id", "e.ts"]
    for i in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["num", "ord"]))
        func = draw(st.sampled_from(["SUM", "AVG", "COUNT", "MIN", "MAX"] if kind == "num" else ["MIN", "MAX", "COUNT"]))
        order, spec = frame(draw, False, "," in part)
        order = ", ".join(f"e.{c.strip()}" for c in order.split(","))
        filt = draw(st.sampled_from(["", " FILTER (WHERE u.txn_id IS NULL)", " FILTER (WHERE u.n > 3)"]))
        outputs.append(f"{func}({draw(st.sampled_from(args[kind]))}){filt} OVER (PARTITION BY {part} ORDER BY {order} "
                       f"{spec}) AS j{i}")
    if draw(st.booleans()):
        outputs.append(draw(st.sampled_from(["u.n", "u.status", "u.amount"])) + " AS jp")
    where = draw(st.sampled_from(["", "", "\nWHERE u.txn_id IS NOT NULL", "\nWHERE u.n IS NULL OR e.n > u.n"]))
    return ("SELECT " + ",\n  ".join(outputs) + "\nFROM {{ source('tx') }} AS e\nLEFT JOIN {{ ref('" + UPSTREAM
            + "') }} AS u ON u.txn_id = e.txn_id" + where)
