"""``skewless parity``: the same events through every engine and the original SQL; every differing
row is reported. The oracle is the view's own SQL on Postgres (DuckDB where Postgres cannot run it:
COUNT(DISTINCT) OVER), as the contract says."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from skewless.compiler.contract import BatchUnsupported, CompiledProject, input_for, per_event_sql

from .batch_jobs import register_table, tables
from .engines import BatchEngine, fetch
from .values import norm, same


@dataclass
class EngineResult:
    engine: str
    rows: int = 0
    mismatches: list[dict] = field(default_factory=list)  # the first 1,000 differing cells (report)
    error: str | None = None
    differing_rows: int = 0      # exact counts, however many there are
    differing_cells: int = 0

    def record(self, comparison: "Comparison") -> None:
        self.mismatches = comparison.sample
        self.differing_rows, self.differing_cells = comparison.rows, comparison.cells


@dataclass
class Comparison:
    sample: list[dict]
    rows: int
    cells: int


@dataclass
class ViewParity:
    view: str
    oracle: str
    oracle_rows: int
    results: list[EngineResult]

    @property
    def ok(self) -> bool:
        return all(r.error is None and not r.differing_rows for r in self.results)


def _key_columns(compiled: CompiledProject, view: str) -> list[str]:
    v = compiled.views[view]
    passthrough = v.passthrough()
    if v.unique_key and all(k in passthrough for k in v.unique_key):
        return [passthrough[k] for k in v.unique_key]
    return [c.name for c in v.columns if c.kind in ("passthrough", "scalar")]


def compare(expected: pa.Table, actual: pa.Table, keys: list[str], limit: int = 1000) -> list[dict]:
    """Rows that differ: matched on ``keys`` (multiset-matched when keys repeat); at most ``limit``."""
    return compare_all(expected, actual, keys, limit).sample


def compare_all(expected: pa.Table, actual: pa.Table, keys: list[str], limit: int = 1000) -> Comparison:
    """`compare`, counting every differing row and cell (the sample keeps the first ``limit``).
    Columnwise (runtime/table_compare.py) where keys identify rows, row by row otherwise."""
    from .table_compare import compare_tables

    fast = compare_tables(expected, actual, keys, limit)
    if fast is not None:
        return Comparison(*fast)
    return compare_rows(expected, actual, keys, limit)


def compare_rows(expected: pa.Table, actual: pa.Table, keys: list[str], limit: int = 1000) -> Comparison:
    """Row by row with values.same: rows sharing a key are paired by their values."""
    def index(table: pa.Table) -> dict:
        out: dict = {}
        for row in table.to_pylist():
            out.setdefault(tuple(_hashable(row[k]) for k in keys), []).append(row)
        return out

    exp_rows, act_rows = index(expected), index(actual)
    columns = expected.column_names
    for rows in (*exp_rows.values(), *act_rows.values()):
        if len(rows) > 1:  # rows sharing a key are paired by their values, not by arrival order
            rows.sort(key=lambda r: tuple(_sort_key(r.get(c)) for c in columns))
    problems: list[dict] = []
    rows = cells = 0
    for key in exp_rows.keys() | act_rows.keys():
        a_list, b_list = exp_rows.get(key, []), act_rows.get(key, [])
        for i in range(max(len(a_list), len(b_list))):
            a = a_list[i] if i < len(a_list) else None
            b = b_list[i] if i < len(b_list) else None
            if a is None or b is None:
                rows, cells = rows + 1, cells + 1
                if len(problems) < limit:
                    problems.append({"key": key, "column": "<row>", "expected": a, "actual": b, "row": a or b})
                continue
            differ = [col for col in expected.column_names if not same(a[col], b.get(col))]
            if differ:
                rows, cells = rows + 1, cells + len(differ)
                problems.extend({"key": key, "column": col, "expected": a[col], "actual": b.get(col), "row": a}
                                for col in differ[:max(limit - len(problems), 0)])
    return Comparison(problems, rows, cells)


def _sort_key(value) -> tuple:
    v = norm(value)
    if v is None:
        return (0, "")
    if isinstance(v, float):
        return (1, f"{v:.9e}")
    if isinstance(v, (int, bool)):
        return (1, f"{float(v):.9e}")
    return (2, repr(v))


def _hashable(v):
    return tuple(v) if isinstance(v, list) else v


def register_original_views(engine: BatchEngine, compiled: CompiledProject, view: str) -> None:
    """Make the views ``view`` reads (``ref()`` in FROM or a LEFT JOIN) queryable by name for the
    original SQL, upstream first."""
    v = compiled.views[view]
    for name in ([v.input.name] if v.input.kind == "view" else []) + [j.view for j in v.view_joins]:
        register_original_views(engine, compiled, name)
        up = compiled.views[name]
        engine.execute(f'CREATE OR REPLACE TEMP VIEW "{up.name}" AS {compiled.views[up.name].sql}')


def register_inputs(engine: BatchEngine, compiled: CompiledProject, sources: dict[str, pa.Table]) -> None:
    """Load (sampled) source tables into ``engine`` under the names the SQL reads them by."""
    for name, table in sources.items():
        register_table(engine, compiled.project.sources[name], table)


def oracle_for(compiled: CompiledProject, view: str, postgres: BatchEngine | None, duckdb: BatchEngine) -> BatchEngine:
    """Postgres runs the view's own SQL; DuckDB where Postgres cannot (COUNT(DISTINCT) OVER, in the
    view or in a view it reads or joins through ref())."""
    def distinct(name: str) -> bool:
        v = compiled.views[name]
        return (any(a.func == "count_distinct" for a in v.aggregates)
                or (v.input.kind == "view" and distinct(v.input.name)) or any(distinct(j.view) for j in v.view_joins))

    return postgres if postgres is not None and not distinct(view) else duckdb


def run_parity(compiled: CompiledProject, views: list[str], engines: list[BatchEngine],
               postgres: BatchEngine | None, duckdb: BatchEngine,
               inputs: dict[str, dict[str, pa.Table]] | None = None, progress=None) -> list[ViewParity]:
    """Each view's compiled SQL on every engine against its own SQL on the oracle. ``inputs``: per
    view, the (sampled) source tables to load first; ``progress(path, view)`` after each path."""
    results = []
    for name in views:
        view = compiled.views[name]
        if inputs is not None:
            for engine in engines:
                register_inputs(engine, compiled, inputs[name])
        oracle = oracle_for(compiled, name, postgres, duckdb)
        register_original_views(oracle, compiled, name)
        expected = fetch(oracle, compiled.views[name].sql)
        if progress:
            progress("oracle", name)
        keys = _key_columns(compiled, name)
        per_engine = []
        for engine in engines:
            result = EngineResult(engine.dialect)
            try:
                sql = per_event_sql(view, engine.dialect, input_for(view, compiled.views, engine.dialect, tables(compiled)))
                actual = fetch(engine, sql)
                result.rows = actual.num_rows
                result.record(compare_all(expected, actual, keys))
            except BatchUnsupported as exc:
                result.error = str(exc)
            per_engine.append(result)
            if progress:
                progress(engine.dialect, name)
        results.append(ViewParity(name, f"original SQL on {oracle.dialect}", expected.num_rows, per_engine))
    return results


def _svg_histogram(times: list[datetime], width: int = 480, height: int = 120) -> str:
    if not times:
        return ""
    lo, hi = min(times), max(times)
    span = max((hi - lo).total_seconds(), 1.0)
    bins = [0] * 24
    for t in times:
        bins[min(int((t - lo).total_seconds() / span * 24), 23)] += 1
    top = max(bins)
    bar = width / 24
    rects = "".join(
        f'<rect x="{i * bar:.1f}" y="{height - 20 - (c / top) * (height - 30):.1f}" width="{bar - 2:.1f}" '
        f'height="{(c / top) * (height - 30):.1f}" fill="#c0392b"><title>{c}</title></rect>' for i, c in enumerate(bins))
    return (f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">{rects}'
            f'<text x="0" y="{height - 4}" font-size="10">{html.escape(str(lo))}</text>'
            f'<text x="{width}" y="{height - 4}" font-size="10" text-anchor="end">{html.escape(str(hi))}</text></svg>')


def write_report(results: list[ViewParity], path: Path, timestamp_col: dict[str, str]) -> None:
    rows = []
    for r in results:
        for e in r.results:
            status = "error" if e.error else ("ok" if not e.differing_rows else
                                              f"{e.differing_rows:,} rows differ ({e.differing_cells:,} cells)")
            rows.append(f"<tr><td>{html.escape(r.view)}</td><td>{html.escape(e.engine)}</td><td>{r.oracle_rows}</td>"
                        f"<td>{e.rows}</td><td class='{'ok' if status == 'ok' else 'bad'}'>{html.escape(status)}</td>"
                        f"<td>{html.escape(e.error or '')}</td></tr>")
    details = []
    for r in results:
        for e in r.results:
            if not e.mismatches:
                continue
            ts = timestamp_col.get(r.view)
            times = [m["row"][ts] for m in e.mismatches if ts and isinstance(m["row"].get(ts), datetime)]
            sample = "".join(f"<tr><td>{html.escape(str(m['key']))}</td><td>{html.escape(m['column'])}</td>"
                             f"<td>{html.escape(repr(m['expected']))}</td><td>{html.escape(repr(m['actual']))}</td></tr>"
                             for m in e.mismatches[:50])
            details.append(f"<h3>{html.escape(r.view)} on {html.escape(e.engine)}</h3>"
                           f"<p>Where the differing rows fall in time:</p>{_svg_histogram(times)}"
                           f"<table><tr><th>key</th><th>column</th><th>expected</th><th>actual</th></tr>{sample}</table>")
    body = (f"<h1>skewless parity</h1><p>Oracle: each view's own SQL (Postgres; DuckDB where Postgres cannot run it)."
            f"</p><table><tr><th>view</th><th>engine</th><th>oracle rows</th><th>rows</th><th>result</th><th></th></tr>"
            f"{''.join(rows)}</table>{''.join(details) or '<p>No differing rows.</p>'}")
    style = ("<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
             ".ok{color:#1e8449}.bad{color:#c0392b;font-weight:bold}</style>")
    from .artifacts import atomic_output

    with atomic_output(path) as tmp:
        tmp.write_text(f"<!doctype html><meta charset='utf-8'><title>skewless parity</title>{style}{body}")


__all__ = ["compare", "run_parity", "write_report"]
