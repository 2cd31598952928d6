"""The as-of oracle for the fuzzer, from the view's own SQL: Postgres runs the view over the events
plus one *probe* row per (key, t) — the key's values, ``ts = t``, every other column NULL, sorting
after every event at t — with each window's frame excluding the current row (EXCLUDE CURRENT ROW;
GROUP where the view excludes GROUP or TIES: the events at exactly t then leave too) and the WHERE
letting probes through. The probe's output row is the view as of t (semantics §1.2): the frames
Postgres computes for it are the ones a read at t sees, and it contributes nothing to them."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

PROBE = "__probe"


def probe_sql(view_sql: str, table: str, entity: list[str]) -> str:
    """The view's SQL over ``table`` (events + probes), with ``__probe`` and the key columns
    ``__k0``, ``__k1``... appended to its output."""
    tree = sqlglot.parse_one(view_sql, read="postgres")
    for tbl in tree.find_all(exp.Table):
        if tbl.name == "tx":
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
    tree.select(exp.column(PROBE), *[exp.column(k).as_(f"__k{i}") for i, k in enumerate(entity)], copy=False)
    return tree.sql("postgres")
