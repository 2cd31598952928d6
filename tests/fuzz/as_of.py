"""The as-of oracle for the fuzzer, from the view's own SQL: Postgres runs the view over the events
plus one *probe* row per (key, t) — the key's values, ``ts = t``, every other column NULL, sorting
after every event at t — with each window's frame excluding the current row (EXCLUDE CURRENT ROW;
GROUP where the view excludes GROUP or TIES: the events at exactly t then leave too) and the WHERE
letting probes through. The probe's output row is the view as of t (semantics §1.2): the frames
Postgres computes for it are the ones a read at t sees, and it contributes nothing to them."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import psycopg
import sqlglot
from sqlglot import exp

from .views import COLUMNS

PROBE = "__probe"


def probe_sql(view_sql: str, table: str, entity: list[str], reads: str = "tx", qualify: str | None = None) -> str:
    """The view's SQL over ``table`` (its input ``reads`` + probes), with ``__probe`` and the key
    columns ``__k0``, ``__k1``... appended to its output (qualified by ``qualify``, the input's
    alias, when the view joins tables with columns of the same names)."""
    tree = sqlglot.parse_one(view_sql, read="postgres")
    for tbl in tree.find_all(exp.Table):
        if tbl.name == reads:
            tbl.set("this", exp.to_identifier(table, quoted=True))
    where = tree.args.get("where")
    if where is not None:
        where.set("this", exp.Or(this=exp.Paren(this=where.this.copy()), expression=exp.column(PROBE)))
    for win in list(tree.find_all(exp.Window)):
        if isinstance(win.this, (exp.Lag,)) or (isinstance(win.this, exp.Anonymous) and win.this.name.lower() == "lag"):
            continue
        spec = win.args.get("spec")
        if spec is None:
            spec = exp.WindowSpec(kind="RANGE", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW")
            win.set("spec", spec)
        old = spec.args.get("exclude")
        old_name = (old.name if isinstance(old, exp.Expression) else str(old or "")).upper()
        spec.set("exclude", exp.var("GROUP" if old_name in ("GROUP", "TIES") else "CURRENT ROW"))
    tree.select(exp.column(PROBE), *[exp.column(k, table=qualify).as_(f"__k{i}") for i, k in enumerate(entity)],
                copy=False)
    return tree.sql("postgres")


def over_table(view_sql: str, table: str, reads: str = "tx") -> str:
    """The view's SQL reading ``table`` instead of its input ``reads``."""
    tree = sqlglot.parse_one(view_sql, read="postgres")
    for tbl in tree.find_all(exp.Table):
        if tbl.name == reads:
            tbl.set("this", exp.to_identifier(table, quoted=True))
    return tree.sql("postgres")


AS_OF_AFTER = [timedelta(0), timedelta(microseconds=1), timedelta(minutes=30), timedelta(hours=1, microseconds=1),
               timedelta(days=1)]


def table(conn, name: str, columns_sql: str, rows: list[list]) -> None:
    """(Re)create the fuzzer's scratch table ``name`` (its own cluster / in-memory DuckDB) with ``rows``."""
    conn.execute(f"DROP TABLE IF EXISTS {name}")
    conn.execute(f"CREATE TABLE {name} ({columns_sql})")
    if not rows:
        return
    if isinstance(conn, duckdb.DuckDBPyConnection):
        conn.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' for _ in rows[0])})", rows)
        return
    with conn.cursor() as cur, cur.copy(f"COPY {name} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def expected_as_of(compiled, name: str, pg, duck, rows: list[dict]):
    """(spine, expected): the spine rows ``(key, t, spine_id)`` — every key of the view at each time
    of AS_OF_AFTER after the last event — and, by spine id, the view's output row as of t computed
    by Postgres (DuckDB for COUNT(DISTINCT) OVER) from the view's SQL with probe rows. None when
    the database raises an error on these events."""
    view = compiled.views[name]
    last = max(r["ts"] for r in rows)
    times = [last + d for d in AS_OF_AFTER]
    use_duck = any(a.func == "count_distinct" for a in view.aggregates)
    conn = duck if use_duck else pg
    reads = "tx"
    if view.input.kind == "view":  # the probes join the upstream's rows (the upstream's outputs are the source's columns)
        reads = view.input.name
        try:
            rows = [dict(zip(COLUMNS, r)) for r in conn.execute(f'SELECT * FROM "{reads}"').fetchall()]
        except (psycopg.Error, duckdb.Error):
            return None
    keys = sorted({tuple(r[k] for k in view.entity) for r in rows}, key=repr)
    cols = ", ".join(f'"{c}" {_duck_type(t) if use_duck else t}' for c, t in COLUMNS.items())
    names = [c.name for c in view.columns]
    spine, expected = [], {}
    for t in times:
        probes = [dict({c: None for c in COLUMNS}, **dict(zip(view.entity, key)), ts=t) for key in keys]
        table(conn, "probe_tx", f"{cols}, {PROBE} boolean",
              [[r[c] for c in COLUMNS] + [False] for r in rows] + [[p[c] for c in COLUMNS] + [True] for p in probes])
        try:
            out = conn.execute(probe_sql(compiled.views[name].sql, "probe_tx", view.entity, reads=reads)).fetchall()
        except (psycopg.Error, duckdb.Error):
            return None
        by_key = {tuple(r[len(names) + 1:]): dict(zip(names, r)) for r in out if r[len(names)]}
        for key in keys:
            spine.append((key, t, len(spine)))
            expected[len(spine) - 1] = by_key[tuple(key)]
    return spine, expected


def _duck_type(t: str) -> str:
    return t.replace("double precision", "DOUBLE").replace("numeric", "DECIMAL")
