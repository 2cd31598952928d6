"""Dimension tables: read, checked, indexed for the stream's lookups (`Enricher`).

A view's ``LEFT JOIN`` of a dimension gives each event at most one row when the table keeps its
declared key: unique per row, or — versioned — per key, versions whose ranges [valid_from,
valid_to) do not overlap. Postgres would return one output row per matching dimension row; the
stream returns one per event. So a table breaking its key is refused, with the key and rows named,
by every path that reads it (the stream at start, batch jobs when they load it) — never joined.
Rows that can match no event (a NULL key column or valid_from, an empty range) are ignored, as
the join's conditions ignore them.
"""

from __future__ import annotations

import bisect
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from skewless.compiler.contract import Diagnostic, DimensionDef, FeatureView, SkewlessError

from .decode import _coerce
from .files import batch_file, conform, detect_format, read_file, schema_of


def read_dimension(dim: DimensionDef, project, where: Where) -> pa.Table:
    """The dimension as an Arrow table of its declared columns: its file (``batch.path``), else its
    ``batch.table`` in the target's Postgres (read only)."""
    path = batch_file(dim, project.root)
    if path is None:
        batch = project.target.batch
        if dim.batch.table and batch.engine == "postgres":
            return _read_table(dim, batch, where)
        raise SkewlessError(Diagnostic(*_at(where), f"dimension {dim.name!r} has no batch.path",
                                       "the stream reads a dimension from its file, or from batch.table when the "
                                       "target's batch engine is Postgres"))
    if not path.exists():
        raise SkewlessError(Diagnostic(*_at(where), f"dimension {dim.name!r}: file {path} does not exist",
                                       "create it or fix batch.path"))
    fmt = detect_format(path, dim.batch.format)
    try:
        if fmt == "csv":  # an empty field is NULL, as in event files (`sources.decode`)
            options = pacsv.ConvertOptions(column_types=schema_of(dim), strings_can_be_null=True)
            return conform(pacsv.read_csv(path, convert_options=options), schema_of(dim))
        return read_file(path, fmt, schema_of(dim))
    except (pa.ArrowInvalid, ValueError) as exc:
        raise SkewlessError(Diagnostic(*_at(where), f"dimension {dim.name!r}: cannot read {path}: "
                                       f"{str(exc).splitlines()[0]}", "check the file against the declared columns")) from None


def _read_table(dim: DimensionDef, batch, where: Where) -> pa.Table:
    from ..engines import PostgresEngine

    assert dim.batch.table is not None  # a dimension read from a table names it

    engine = PostgresEngine(batch.dsn, schema=batch.schema_)
    try:
        if not engine.has_table(dim.batch.table):
            raise SkewlessError(Diagnostic(*_at(where), f"dimension {dim.name!r}: table {dim.batch.table!r} does not "
                                           f"exist in the target's Postgres (schema {batch.schema_})",
                                           "create it or give the dimension a batch.path"))
        return conform(table_rows(dim, engine), schema_of(dim))
    finally:
        engine.close()


def table_rows(dim: DimensionDef, engine) -> pa.Table:
    """The declared columns of the dimension's ``batch.table`` in ``engine`` (read only)."""
    from skewless.compiler.contract import quote

    cols = ", ".join(quote(c.name) for c in dim.columns)
    assert dim.batch.table is not None
    return engine.query(f"SELECT {cols} FROM {quote(dim.batch.table)}")


Where = str | tuple[str, int, int]  # a file, or a file with the dimension's line and column


def where_of(project, name: str) -> tuple[str, int, int]:
    """The sources file declaring ``name`` and the position of its name there (for diagnostics)."""
    line, col = project.source_positions.get(name, (1, 1))
    return project.source_files.get(name, "sources"), line, col


def _at(where: Where) -> tuple[str, int, int]:
    return where if isinstance(where, tuple) else (where, 1, 1)


def _key(values: tuple) -> tuple | None:
    """A join key as the stream matches it (None: matches nothing, as NULL = x is never true).
    numeric NaN equals itself in Postgres, not in Python."""
    if any(v is None for v in values):
        return None
    return tuple("NaN::numeric" if isinstance(v, Decimal) and v.is_nan() else v for v in values)


class DimensionIndex:
    """A dimension's rows by key (and, versioned, by valid_from) as the stream's values."""

    def __init__(self, dim: DimensionDef, table: pa.Table, where: Where):
        self.dim = dim
        types = dim.column_types()
        names = [c.name for c in dim.columns]
        rows = [{n: _coerce(v, types[n]) for n, v in r.items()} for r in table.select(names).to_pylist()]
        self.rows: dict[tuple, Any] = {}
        if not dim.versioned:
            for r in rows:
                k = _key(tuple(r[c] for c in dim.key))
                if k is None:
                    continue
                if k in self.rows:
                    raise _broken(dim, where, k, "appears in more than one row", [self.rows[k], r])
                self.rows[k] = r
            return
        vf, vt = dim.valid_from, dim.valid_to
        versions: dict[tuple, list] = {}
        for r in rows:
            k = _key(tuple(r[c] for c in dim.key))
            if k is None or r[vf] is None or (r[vt] is not None and r[vt] <= r[vf]):
                continue
            versions.setdefault(k, []).append(r)
        for k, vs in versions.items():
            vs.sort(key=lambda r: r[vf])
            for a, b in zip(vs, vs[1:]):
                if a[vt] is None or b[vf] < a[vt]:
                    raise _broken(dim, where, k, "has versions whose [valid_from, valid_to) ranges overlap", [a, b])
            self.rows[k] = ([r[vf] for r in vs], vs)

    def copy(self) -> "DimensionIndex":
        """An index of the same rows that `apply` may change without touching this one (cached)."""
        other = object.__new__(DimensionIndex)
        other.dim, other.rows = self.dim, dict(self.rows)
        return other

    def apply(self, row: dict) -> str | None:
        """A changed row (a message of the dimension's topic): upserted by key — versioned, by key
        and valid_from (the same valid_from replaces that version: how a version is closed). The
        lookups of other threads see the old rows or the new ones, never a half-made index. Returns
        why it was refused (the index unchanged), or None."""
        dim = self.dim
        k = _key(tuple(row[c] for c in dim.key))
        if k is None:
            return "a key column is NULL: no event can join it"
        if not dim.versioned:
            self.rows[k] = row
            return None
        vf, vt = dim.valid_from, dim.valid_to
        if row[vf] is None:
            return f"{vf} is NULL: no event can join it"
        if row[vt] is not None and row[vt] <= row[vf]:
            return f"{vt} is not after {vf}: an empty range"
        starts, versions = self.rows.get(k, ([], []))
        kept = [r for r in versions if r[vf] != row[vf]]
        vs = sorted([*kept, row], key=lambda r: r[vf])
        for a, b in zip(vs, vs[1:]):
            if a[vt] is None or b[vf] < a[vt]:
                shown = lambda r: f"[{r[vf]}, {r[vt]})"  # noqa: E731
                return f"its range {shown(row)} overlaps the version {shown(b if a is row else a)}"
        self.rows[k] = ([r[vf] for r in vs], vs)
        return None

    def lookup(self, key: tuple, ts: datetime | None) -> dict | None:
        k = _key(key)
        if k is None:
            return None
        found = self.rows.get(k)
        if found is None or not self.dim.versioned:
            return found
        if ts is None:
            return None
        starts, versions = found
        i = bisect.bisect_right(starts, ts) - 1
        if i < 0:
            return None
        row = versions[i]
        end = row[self.dim.valid_to]
        return row if end is None or ts < end else None


def _broken(dim: DimensionDef, where: Where, key: tuple, what: str, rows: list[dict]) -> SkewlessError:
    shown = "; ".join(", ".join(f"{k}={v}" for k, v in r.items()) for r in rows)
    key_text = ", ".join(f"{c}={v!r}" for c, v in zip(dim.key, key))
    return SkewlessError(Diagnostic(
        *_at(where), f"dimension {dim.name!r}: key ({key_text}) {what} ({shown})",
        "a join must give each event at most one row (Postgres would repeat the event): fix the table"))


class Enricher:
    """One view's joins for the stream: an event -> a copy with the view's ``<alias>__<column>``
    values of the dimension row the join picks (NULLs when none).

    With ``project``, a changed dimension file is read again (checked every ``every`` seconds):
    events looked up afterwards see its new rows. A changed file that cannot be read or breaks
    its key is logged and the rows read before are kept — a dimension never stops the stream."""

    def __init__(self, view: FeatureView, indexes: dict[str, DimensionIndex], project=None, every: float = 5.0):
        self.view, self.project, self.every = view, project, every
        self.next_check = time.monotonic() + every
        self._bind(indexes)

    def _bind(self, indexes: dict[str, DimensionIndex]) -> None:
        self.parts = []
        for j in self.view.joins:
            keys = [k.input_column for k in j.on]
            cols = [(name, col) for col, name in j.read()]
            ts = self.view.timestamp if j.valid_from is not None else None
            self.parts.append((indexes[j.dimension], keys, ts, cols))

    def refresh(self) -> None:
        """Read the dimensions again if their files changed (the cache keeps unchanged ones)."""
        from .. import log

        self.next_check = time.monotonic() + self.every
        try:
            self._bind(load_indexes(self.project, [self.view]))
        except SkewlessError as exc:
            log.error("dimension.reload_failed", view=self.view.name, error=str(exc).splitlines()[0],
                      hint="the rows read before are kept")
            self.next_check = time.monotonic() + max(self.every, 30.0)

    def __call__(self, event: dict) -> dict:
        if self.project is not None and time.monotonic() >= self.next_check:
            self.refresh()
        out = dict(event)
        for index, keys, ts, cols in self.parts:
            row = index.lookup(tuple(event.get(k) for k in keys), None if ts is None else event.get(ts))
            for name, col in cols:
                out[name] = None if row is None else row[col]
        return out


_CACHE: dict[tuple, DimensionIndex] = {}


def load_indexes(project, views: list[FeatureView]) -> dict[str, DimensionIndex]:
    """The dimensions ``views`` join, read and checked (a broken table stops the job before it
    starts). Kept per process: a file while it is unchanged (size and modification time), a
    Postgres table (``batch.table`` without a file) for the life of the process."""
    out: dict[str, DimensionIndex] = {}
    for v in views:
        for j in v.joins:
            if j.dimension in out:
                continue
            from .dimension_feed import fed

            feed = fed(j.dimension)
            if feed is not None:  # followed from its topic: the feed's index, not the table's
                out[j.dimension] = feed.index
                continue
            dim = project.dimensions[j.dimension]
            where = where_of(project, dim.name)
            path = batch_file(dim, project.root)
            if path is None:
                key: tuple = (dim.model_dump_json(), f"table {dim.batch.table}", project.target.batch.model_dump_json())
            else:
                stat = path.stat() if path.exists() else None  # a missing file: read_dimension says so
                key = (dim.model_dump_json(), str(path), None if stat is None else (stat.st_size, stat.st_mtime_ns))
            index = _CACHE.get(key)
            if index is None:
                index = DimensionIndex(dim, read_dimension(dim, project, where), where)
                if len(_CACHE) >= 64:
                    _CACHE.clear()
                _CACHE[key] = index
            out[j.dimension] = index
    return out


def evaluator_for(project, view: FeatureView):
    """The view's `ViewEvaluator`, looking its dimension rows up (reads, request events)."""
    from ..stream.frames import ViewEvaluator

    return ViewEvaluator(view, Enricher(view, load_indexes(project, [view]), project) if view.joins else None)
