"""Per-entity window state for one view: exact SQL frames, evaluated incrementally.

Rows reach a key's state in *finalized peer groups*: all of the key's events with one timestamp,
once the watermark has passed it (so no later event can join the group). Each aggregate keeps its
own sliding accumulator; nothing rescans a window per event:

* RANGE frames over time evict rows older than ``T - w`` from a `SharedWindow` (one per reach, shared
  by the view's aggregates) and add the new group.
  EXCLUDE GROUP reads the accumulator before the group is added, TIES adds the current row to that
  for one read, CURRENT ROW removes it for one read.
* RANGE UNBOUNDED frames never evict; their peers are rows with equal ORDER BY values.
* ROWS frames, LAG and FIRST/LAST_VALUE walk rows in their total order and slide over positions.
"""

from __future__ import annotations

import sys
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from skewless.compiler.ir import Aggregate, FeatureView

from .accumulators import dump as acc_dump
from .accumulators import load as acc_load
from .accumulators import Failed, make
from skewless.compiler.functions.pgvalues import sort_key
from .expr import SqlError, compile_expr, input_types, output_types
from .windows import SharedWindow

Row = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)


def _order_key(cols: list[str]) -> Callable[[Row], tuple]:
    # ASC with NULLS LAST, the Postgres default; NaN after every number; text by code point (C collation)
    return lambda r: tuple((r.get(c) is None, sort_key(r.get(c))) for c in cols)


# Aggregates by (view fingerprint, aggregate id): stored states refer to their aggregate by id, so a
# snapshot or an online-store record carries only data, and loading one needs no IR parsing.
_AGGREGATES: dict[tuple[str, str], Aggregate] = {}
_COMPILED: dict[tuple[str, str], tuple] = {}  # the same key: (aggregate, arg, filter, default, order key)
_COLUMNS: dict[str, dict[str, str]] = {}  # view ref -> input column types (to compile expressions)


def register_view(view: FeatureView) -> str:
    ref = view.fingerprint or view.name
    for agg in view.aggregates:
        _AGGREGATES.setdefault((ref, agg.id), agg)
    _COLUMNS.setdefault(ref, input_types(view))
    return ref


class _AggState:
    def __init__(self, agg: Aggregate, view_ref: str = ""):
        self.agg = agg
        self._ref = (view_ref, agg.id)
        _AGGREGATES.setdefault(self._ref, agg)
        self._compile()

    def _compile(self) -> None:
        compiled = _COMPILED.get(self._ref)
        if compiled is None or compiled[0] is not self.agg:
            agg, cols = self.agg, _COLUMNS[self._ref[0]]
            to = agg.type if agg.func == "lag" else None  # LAG's value and default take their common type
            compiled = _COMPILED[self._ref] = (
                agg, compile_expr(agg.arg, cols, to) if agg.arg else None,
                compile_expr(agg.filter, cols) if agg.filter else None,
                compile_expr(agg.default, cols, to) if agg.default else None, _order_key(agg.order))
        _, self.arg, self.pred, self.default, self.key = compiled
        # an argument or FILTER that is more than a column may fail for a row (cast overflow,
        # division by zero): that row's value is then Failed, an error only where a frame uses it
        self.can_fail = _may_fail(self.agg.arg) or _may_fail(self.agg.filter)

    def _value(self, row: Row):
        if self.pred is not None and self.pred(row) is not True:
            return None
        if self.agg.func == "count_star":
            return 1
        return self.arg(row) if self.arg else None

    def value_of(self, row: Row):
        """The row's contribution (LAG / FIRST_VALUE / LAST_VALUE: their argument): None when
        FILTER rejects it or the argument is NULL; `Failed` when Postgres would refuse to compute it."""
        if not self.can_fail:
            return self._value(row)
        try:
            return self._value(row)
        except SqlError as exc:
            return Failed(str(exc))


class _Range(_AggState):
    """A RANGE aggregate: its accumulator over the rows of its `SharedWindow` (or every row so far,
    for UNBOUNDED PRECEDING). The view's state evicts and appends window rows around `process`."""

    def __init__(self, agg: Aggregate, view_ref: str = "", window: SharedWindow | None = None):
        super().__init__(agg, view_ref)
        self.sig = value_signature(agg)
        self.window = window
        self.exclude = agg.frame.exclude
        self.acc = make(agg.func, agg.arg_type, agg.type, self.can_fail)
        if window is not None:
            window.subs[window.sigs.index(self.sig)].append(self.acc)
        self.last_ts = None           # the latest group's time and values (as-of reads exclude it at t)
        self.last_values: list = []

    def process(self, rows: list[Row], out: list[dict], cache: dict) -> None:
        vals = cache.get(self.sig)
        if vals is None:
            vals = cache[self.sig] = [self.value_of(r) for r in rows]
        acc, agg_id, exclude = self.acc, self.agg.id, self.exclude
        if exclude == "no_others" and len(rows) == 1:  # the common case, fast
            v = vals[0]
            if v is not None:
                acc.add(v)
            out[0][agg_id] = acc.value()
            return
        if exclude in ("group", "ties") and not self.agg.total_order:
            # as-of reads at the group's own time exclude it (with a tie-break in ORDER BY, the
            # read's row is a peer group of its own: nothing is excluded)
            ts = rows[0][self.agg.order[0]]
            if ts != self.last_ts:
                self.last_ts, self.last_values = ts, []
            self.last_values.extend(v for v in vals if v is not None)
        if len(rows) == 1 or not self.agg.total_order:
            groups = [range(len(rows))]  # one peer group: every row shares the timestamp
        else:
            keys = [self.key(r) for r in rows]
            order = sorted(range(len(rows)), key=keys.__getitem__)
            groups, start = [], 0
            while start < len(order):  # peer groups: equal values of every ORDER BY column
                end = start
                while end < len(order) and keys[order[end]] == keys[order[start]]:
                    end += 1
                groups.append(order[start:end])
                start = end
        for peers in groups:
            if exclude == "group":  # read before the group enters
                _read(peers, vals, out, agg_id, acc, None, None)
            elif exclude == "ties":  # ... plus the row itself
                _read(peers, vals, out, agg_id, acc, acc.add, acc.remove)
            for i in peers:
                if vals[i] is not None:  # NULLs never count
                    acc.add(vals[i])
            if exclude == "no_others":  # read after the group entered
                _read(peers, vals, out, agg_id, acc, None, None)
            elif exclude == "current_row":  # ... minus the row itself
                _read(peers, vals, out, agg_id, acc, acc.remove, acc.add)

    def as_of(self, t: datetime, row: Row):
        """The frame's value for an extra row at ``t`` (>= every event seen) that contributes
        nothing, once the view's state has evicted up to ``t``. Mutates this (loaded) state."""
        if self.exclude in ("group", "ties") and self.last_ts == t:
            for v in self.last_values:
                self.acc.remove(v)
        return self.acc.value()

    def dump(self) -> tuple:
        last = None if self.last_ts is None else (self.last_ts - EPOCH) // ONE_US
        return (acc_dump(self.acc), last, self.last_values)

    def load(self, data: tuple) -> None:
        acc, last, self.last_values = data
        acc_load(self.acc, acc)
        self.last_ts = None if last is None else EPOCH + timedelta(microseconds=last)

    def state_size(self) -> int:
        return 0  # the rows live in the shared window


def _read(peers, vals: list, out: list[dict], agg_id: str, acc, before, after) -> None:
    """Each peer's value: the accumulator as is, or with ``before(value)`` applied for the read."""
    if before is None:
        v = acc.value()
        for i in peers:
            out[i][agg_id] = v
        return
    for i in peers:
        before(vals[i])
        out[i][agg_id] = acc.value()
        after(vals[i])


def value_signature(agg: Aggregate) -> tuple:
    """Aggregates with equal signatures take the same value from every row."""
    return ("*" if agg.func == "count_star" else agg.arg, agg.filter)


class _Rows(_AggState):
    """ROWS frames, LAG, FIRST/LAST_VALUE: positions in the aggregate's total order."""

    def __init__(self, agg: Aggregate, view_ref: str = ""):
        super().__init__(agg, view_ref)
        frame = agg.frame
        func = agg.func
        if func == "lag":
            self.n, self.m = agg.offset, agg.offset
        else:
            self.n = None if frame.start.kind == "unbounded_preceding" else (
                0 if frame.start.kind == "current_row" else frame.start.offset)
            self.m = 0 if frame.end.kind == "current_row" else frame.end.offset
            if frame.exclude in ("current_row", "group") and self.m == 0:
                self.m = 1  # the order is total: the current row is its whole peer group
        self.acc = make(func, agg.arg_type, agg.type, self.can_fail) if func not in ("lag", "first_value", "last_value") else None
        keep = min((self.n if self.n is not None else 0) + 1, sys.maxsize)  # 9223372036854775807 PRECEDING
        self.history: deque = deque(maxlen=keep if self.n is not None else None)  # values, newest last
        self.count = 0       # rows seen (position of the next row)
        self.first = None    # for unbounded FIRST_VALUE
        self.has_first = False

    def _at(self, back: int):
        """Value of the row ``back`` positions before the current one (1 = previous)."""
        return self.history[-back]

    def process(self, rows: list[Row], out: list[dict], cache: dict) -> None:
        for i in sorted(range(len(rows)), key=lambda i: self.key(rows[i])):
            row = rows[i]
            val = self.value_of(row)
            pos = self.count
            func = self.agg.func
            if func == "lag":
                k = self.n
                if k == 0:
                    out[i][self.agg.id] = val
                elif pos >= k:
                    out[i][self.agg.id] = self._at(k)
                else:
                    out[i][self.agg.id] = _safe(self.default, row) if self.default else None
            else:
                lo = 0 if self.n is None else max(pos - self.n, 0)
                hi = pos - self.m  # inclusive; the current row is position pos
                if self.acc is not None:
                    # slide from [pos-1-n, pos-1-m] to [pos-n, pos-m]: one row enters, one leaves
                    if hi >= 0:
                        self.acc.add(val if self.m == 0 else self._at(self.m))
                    if self.n is not None and pos - self.n - 1 >= 0:
                        self.acc.remove(self._at(self.n + 1))
                    out[i][self.agg.id] = self.acc.value() if hi >= lo else _empty(func)
                elif hi < lo:
                    out[i][self.agg.id] = None
                elif func == "first_value":
                    if self.n is None:
                        out[i][self.agg.id] = self.first if self.has_first else val
                    else:
                        back = pos - lo
                        out[i][self.agg.id] = val if back == 0 else self._at(back)
                else:  # last_value
                    back = pos - hi
                    out[i][self.agg.id] = val if back == 0 else self._at(back)
            if not self.has_first:
                self.first, self.has_first = val, True
            self.history.append(val)
            self.count += 1

    def as_of(self, t: datetime, row: Row):
        """The value for an extra row after every event seen (it takes the next position and
        contributes nothing). Mutates this (freshly loaded) state."""
        func, pos = self.agg.func, self.count
        if func == "lag":
            k = self.n
            if k == 0:  # the extra row's own value: its columns are the key and ts = t, the rest NULL
                return _safe(self.arg, row) if self.arg else None
            if pos >= k:
                return self._at(k)
            return _safe(self.default, row) if self.default else None
        m = max(self.m, 1)  # the extra row itself contributes nothing
        lo = 0 if self.n is None else max(pos - self.n, 0)
        hi = pos - m
        if hi < lo:
            return _empty(func)
        if func == "first_value":
            return self.first if self.n is None else self._at(pos - lo)
        if func == "last_value":
            return self._at(pos - hi)
        if self.n is None:
            # acc holds [0, pos-1-self.m]; the extra row's frame is [0, pos-m]
            if self.m == 0:
                return self.acc.value()
            self.acc.add(self._at(self.m))
            return self.acc.value()
        acc = make(func, self.agg.arg_type, self.agg.type, self.can_fail)
        for back in range(pos - hi, pos - lo + 1):
            acc.add(self._at(back))
        return acc.value()

    def dump(self) -> tuple:
        return (list(self.history), self.count, self.first, self.has_first,
                None if self.acc is None else acc_dump(self.acc))

    def load(self, data: tuple) -> None:
        history, self.count, self.first, self.has_first, acc = data
        self.history = deque(history, maxlen=self.history.maxlen)
        if acc is not None:
            acc_load(self.acc, acc)

    def state_size(self) -> int:
        return len(self.history)


def _restore(ref: str, aggs: list, windows: list) -> "ViewKeyState":
    state = ViewKeyState(None)
    state._build(ref, [_AGGREGATES[(ref, agg_id)] for agg_id, _ in aggs])
    for agg_state, (_, data) in zip(state.aggs, aggs):
        agg_state.load(data)
    for reach, data in windows:
        state.windows[reach].load(data)
    return state


def _safe(fn, row: Row):
    """LAG's default is evaluated only where it is used (as Postgres does); a failure is a value
    that fails the output row, never the window state."""
    try:
        return fn(row)
    except SqlError as exc:
        return Failed(str(exc))


def _empty(func: str):
    return 0 if func in ("count_star", "count", "count_distinct") else None


class ViewKeyState:
    """All of one view's aggregates for one entity key: RANGE aggregates over `SharedWindow`s (one
    per distinct reach), ROWS-like aggregates over their own positions.

    Pickles as (view fingerprint, per aggregate: id and plain data, per window: columns) — no
    classes, closures or IR — so snapshots and online-store records are small and quick."""

    def __init__(self, view: FeatureView | None):
        if view is not None:
            self._build(register_view(view), view.aggregates)

    def _build(self, ref: str, aggregates: list[Aggregate]) -> None:
        sigs: dict[int, list] = {}
        for agg in aggregates:
            if not agg.positional and agg.frame.start.kind != "unbounded_preceding":
                reach_sigs = sigs.setdefault(agg.frame.start.offset or 0, [])  # CURRENT ROW: reach 0
                if value_signature(agg) not in reach_sigs:
                    reach_sigs.append(value_signature(agg))
        self.windows = {reach: SharedWindow(reach, s) for reach, s in sigs.items()}
        self.aggs = []
        for agg in aggregates:
            if agg.positional:
                self.aggs.append(_Rows(agg, ref))
            else:
                start = agg.frame.start
                window = None if start.kind == "unbounded_preceding" else self.windows[start.offset or 0]
                self.aggs.append(_Range(agg, ref, window))
        self.ts_col = next((a.order[0] for a in aggregates if a.order), None)

    def __reduce__(self):
        ref = self.aggs[0]._ref[0] if self.aggs else ""
        return (_restore, (ref, [(s.agg.id, s.dump()) for s in self.aggs],
                           [(reach, w.dump()) for reach, w in self.windows.items()]))

    def process_group(self, rows: list[Row]) -> list[dict]:
        """Aggregate values (by aggregate id) for each row of one finalized peer group (same ts)."""
        out: list[dict] = [{} for _ in rows]
        if self.windows:
            tus = (rows[0][self.ts_col] - EPOCH) // ONE_US
            for w in self.windows.values():
                w.evict(tus - w.reach)
        cache: dict = {}
        for state in self.aggs:
            state.process(rows, out, cache)
        if self.windows:
            for w in self.windows.values():
                w.append(tus, cache, len(rows))
        return out

    def as_of(self, t: datetime, row: Row) -> dict:
        """Aggregate values for the extra row ``row`` at ``t`` (semantics §1.2); ``t`` must not be
        before the latest event in the state. Mutates the state: use it on a loaded copy."""
        tus = (t - EPOCH) // ONE_US
        for w in self.windows.values():
            w.evict(tus - w.reach)
        return {state.agg.id: state.as_of(t, row) for state in self.aggs}

    def retained(self) -> int:
        return sum(len(w) for w in self.windows.values()) + sum(s.state_size() for s in self.aggs)


class ViewEvaluator:
    """Compiled WHERE and output expressions of a view.

    `admit` decides whether an event enters the view's windows and raises `SqlError` where
    Postgres would fail on its WHERE (the event becomes a dead letter and enters no window);
    `output` raises `SqlError` when an output expression or an aggregate it reads fails (an
    aggregate fails while its frame holds a row whose argument Postgres would refuse)."""

    def __init__(self, view: FeatureView):
        self.view = view
        cols = input_types(view)
        self.where = compile_expr(view.where, cols) if view.where else None
        types = output_types(view)
        self.outputs = [(c.name, compile_expr(c.expr, types)) for c in view.columns]

    def admit(self, row: Row) -> bool:
        """WHERE (Postgres evaluates it for every row: an error there is this event's dead letter).
        Aggregate arguments are evaluated where frames take them (`_AggState.value_of`)."""
        return self.where is None or self.where(row) is True

    def output(self, row: Row, agg_values: dict) -> Row:
        env = dict(row)
        for k, v in agg_values.items():
            if isinstance(v, Failed):
                raise SqlError(v.reason)
            env[f"__{k}"] = v
        return {name: fn(env) for name, fn in self.outputs}


def _may_fail(sql: str | None) -> bool:
    """Whether an expression can raise for some row: anything but a bare column or constant."""
    if not sql:
        return False
    text = sql.strip().strip('"')
    return not (text.isidentifier() or text.replace(".", "", 1).isdigit())


def group_by_ts(rows: list[Row], ts: str) -> list[list[Row]]:
    groups: dict[datetime, list[Row]] = {}
    for r in rows:
        groups.setdefault(r[ts], []).append(r)
    return [groups[t] for t in sorted(groups)]
