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

import sqlglot
from sqlglot import exp

from skewless.compiler.contract import Aggregate, FeatureView, may_fail, sort_key

from .accumulators import dump as acc_dump
from .accumulators import load as acc_load
from .accumulators import Failed, make
from .expr import SqlError, compile_expr, input_types, output_types
from .windows import NeedTail, SharedWindow  # noqa: F401 - NeedTail: raised through here

HORIZON = 32  # a window's record head serves reads up to reach / HORIZON past the latest event
HEAD_ROWS = 256  # windows up to this many rows are all in the head (no tail)
NO_CUT = 2 ** 62

Row = dict[str, Any]
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
ONE_US = timedelta(microseconds=1)


def _order_key(cols: list[str]) -> Callable[[Row], tuple]:
    # ASC with NULLS LAST, the Postgres default; NaN after every number; text by code point (C collation)
    return lambda r: tuple((r.get(c) is None, sort_key(r.get(c))) for c in cols)


# Compiled expressions by (view fingerprint, aggregate id), shared by every key's state
_COMPILED: dict[tuple[str, str], tuple] = {}  # (aggregate, arg, filter, default, order key)
_COLUMNS: dict[str, dict[str, str]] = {}  # view ref -> input column types (to compile expressions)
_LAYOUTS: dict[str, tuple] = {}  # view ref -> `_layout`


def _register(view: FeatureView) -> str:
    ref = view.fingerprint or view.name
    if ref not in _COLUMNS:
        _COLUMNS[ref] = input_types(view)
    return ref


class _Dynamic(Exception):
    """An as-of value that depends on the read's own row (LAG(x, 0), LAG's default): no quick value."""


class _AggState:
    def __init__(self, agg: Aggregate, view_ref: str = ""):
        self.agg = agg
        self._ref = (view_ref, agg.id)
        self._compile()

    def _compile(self) -> None:
        compiled = _COMPILED.get(self._ref)
        if compiled is None or compiled[0] is not self.agg:
            agg, cols = self.agg, _COLUMNS[self._ref[0]]
            to = agg.type if agg.func == "lag" else None  # LAG's value and default take their common type
            # an argument or FILTER that is more than a column may fail for a row (cast overflow,
            # division by zero): that row's value is then Failed, an error only where a frame uses it
            compiled = _COMPILED[self._ref] = (
                agg, compile_expr(agg.arg, cols, to) if agg.arg else None,
                compile_expr(agg.filter, cols) if agg.filter else None,
                compile_expr(agg.default, cols, to) if agg.default else None, _order_key(agg.order),
                _can_fail(agg), value_signature(agg))
        _, self.arg, self.pred, self.default, self.key, self.can_fail, self.sig = compiled

    def _value(self, row: Row):
        if self.pred is not None and self.pred(row) is not True:
            return None
        if self.agg.func == "count_star":
            return 1
        return self.arg(row) if self.arg else None

    def values(self, rows: list[Row], cache: dict) -> list:
        """Each row's contribution (`value_of`), computed once per group for every aggregate sharing
        this argument and FILTER (``cache``: value signature -> values)."""
        vals = cache.get(self.sig)
        if vals is None:
            vals = cache[self.sig] = [self.value_of(r) for r in rows]
        return vals

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
        self.window = window
        self.exclude = agg.frame.exclude
        # an unbounded frame read after each group enters never removes a value (as-of reads at a
        # group's own time remove it only for EXCLUDE GROUP / TIES): MIN/MAX keep the extreme alone
        self.acc = make(agg.func, agg.arg_type, agg.type, self.can_fail,
                        grows_only=window is None and self.exclude == "no_others")
        if window is not None:
            window.subs[window.sigs.index(self.sig)].append(self.acc)
        self.last_ts = None           # the latest group's time and values (as-of reads exclude it at t)
        self.last_values: list = []

    def process(self, rows: list[Row], out: list[dict], cache: dict) -> None:
        vals = self.values(rows, cache)
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

    def peek(self):
        """`as_of` for any ``t`` after the latest event that evicts nothing; no mutation."""
        return self.acc.value()

    def dump(self) -> tuple:
        last = None if self.last_ts is None else (self.last_ts - EPOCH) // ONE_US
        return (acc_dump(self.acc), last, self.last_values)

    def load(self, data: tuple) -> None:
        acc, last, last_values = data
        self.last_values = list(last_values)
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


class _Delayed(_AggState):
    """A RANGE frame ending before the current time: ``BETWEEN <a> PRECEDING AND <b> PRECEDING``
    (b > 0; a may be UNBOUNDED) — the accumulator over the rows with ``T - a <= ts <= T - b`` for
    a group at T. A row waits (``waiting``) until ``T - b`` reaches it, then is in the frame
    (``held``) until ``T - a`` passes it. Neither the current row nor its peers are ever in the
    frame, so EXCLUDE has nothing to do (lowered to NO OTHERS). Its value changes while no event
    arrives (a waiting row enters), so reads use the full state (no quick values)."""

    def __init__(self, agg: Aggregate, view_ref: str = ""):
        super().__init__(agg, view_ref)
        frame = agg.frame
        self.a = None if frame.start.kind == "unbounded_preceding" else (frame.start.offset or 0)
        self.b = frame.end.offset or 0
        self.acc = make(agg.func, agg.arg_type, agg.type, self.can_fail, grows_only=self.a is None)
        self.waiting: deque = deque()  # (µs, value) not in the frame yet
        self.held: deque = deque()     # (µs, value) in the frame (bounded frames only)

    def _advance(self, tus: int) -> None:
        waiting, held, acc = self.waiting, self.held, self.acc
        while waiting and waiting[0][0] <= tus - self.b:
            row = waiting.popleft()
            acc.add(row[1])
            if self.a is not None:
                held.append(row)
        if self.a is not None:
            while held and held[0][0] < tus - self.a:
                acc.remove(held.popleft()[1])

    def process(self, rows: list[Row], out: list[dict], cache: dict) -> None:
        vals = self.values(rows, cache)
        tus = (rows[0][self.agg.order[0]] - EPOCH) // ONE_US
        self._advance(tus)
        value, agg_id = self.acc.value(), self.agg.id
        for o in out:
            o[agg_id] = value
        self.waiting.extend((tus, v) for v in vals if v is not None)  # NULLs never count

    def as_of(self, t: datetime, row: Row):
        self._advance((t - EPOCH) // ONE_US)
        return self.acc.value()

    def peek(self):
        raise _Dynamic  # the value moves as waiting rows enter: reads take the full state

    def dump(self) -> tuple:
        return (acc_dump(self.acc), tuple(t for t, _ in self.waiting), tuple(v for _, v in self.waiting),
                tuple(t for t, _ in self.held), tuple(v for _, v in self.held))

    def load(self, data: tuple) -> None:
        acc, wts, wvals, hts, hvals = data
        acc_load(self.acc, acc)
        self.waiting, self.held = deque(zip(wts, wvals)), deque(zip(hts, hvals))

    def state_size(self) -> int:
        return len(self.waiting) + len(self.held)


def delayed(agg: Aggregate) -> bool:
    """A RANGE frame that ends before the current time (`_Delayed`)."""
    return agg.frame is not None and agg.frame.mode == "range" and agg.frame.end.kind == "preceding"


def state_for(agg: Aggregate, ref: str, kind, windows: dict) -> _AggState:
    """The state of one aggregate of a view's layout (`_layout`'s kind)."""
    if kind is None:
        return _Delayed(agg, ref) if delayed(agg) else _Rows(agg, ref)
    return _Range(agg, ref, None if kind == -1 else windows[kind])


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
        # the values reads reach back to: n + 1 rows (the one leaving the frame), or for UNBOUNDED
        # PRECEDING only the frame's end (m rows back; FIRST_VALUE keeps `first`, the rest is in acc)
        keep = (self.n if self.n is not None else max(self.m, 1)) + 1
        self.history: deque = deque(maxlen=min(keep, sys.maxsize))  # values, newest last (9223372036854775807 PRECEDING)
        self.count = 0       # rows seen (position of the next row)
        self.first = None    # for unbounded FIRST_VALUE
        self.has_first = False

    def _at(self, back: int):
        """Value of the row ``back`` positions before the current one (1 = previous)."""
        return self.history[-back]

    def process(self, rows: list[Row], out: list[dict], cache: dict) -> None:
        for i in (0,) if len(rows) == 1 else sorted(range(len(rows)), key=lambda i: self.key(rows[i])):
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
        contributes nothing)."""
        try:
            return self.peek()
        except _Dynamic:
            pass
        if self.n == 0:  # LAG(x, 0): the extra row's own value (its columns: the key, ts = t, the rest NULL)
            return _safe(self.arg, row) if self.arg else None
        return _safe(self.default, row)  # LAG before k rows: its default

    def peek(self):
        """The as-of value, the same for every read time after the latest event; raises `_Dynamic`
        where it depends on the read's row. The state is left as it was."""
        func, pos = self.agg.func, self.count
        if func == "lag":
            k = self.n
            if k == 0:
                raise _Dynamic
            if pos >= k:
                return self._at(k)
            if self.default:
                raise _Dynamic
            return None
        m = max(self.m, 1)  # the extra row itself contributes nothing
        lo = 0 if self.n is None else max(pos - self.n, 0)
        hi = pos - m
        if hi < lo:
            return _empty(func)
        if func == "first_value":
            return self.first if self.n is None else self._at(pos - lo)
        if func == "last_value":
            return self._at(pos - hi)
        # the accumulator holds the last row's frame [max(pos-1-n, 0), pos-1-m]: move it to the
        # extra row's [lo, hi], read, and move it back (the accumulators are exactly invertible)
        acc = self.acc
        cur_lo, cur_hi = (0 if self.n is None else max(pos - 1 - self.n, 0)), pos - 1 - self.m
        adds = [self._at(pos - p) for p in range(max(cur_hi + 1, lo), hi + 1)]
        removes = [self._at(pos - p) for p in range(cur_lo, min(lo, cur_hi + 1))]
        for v in adds:
            acc.add(v)
        for v in removes:
            acc.remove(v)
        value = acc.value()
        for v in removes:
            acc.add(v)
        for v in adds:
            acc.remove(v)
        return value

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


def _safe(fn, row: Row):
    """LAG's default is evaluated only where it is used (as Postgres does); a failure is a value
    that fails the output row, never the window state."""
    try:
        return fn(row)
    except SqlError as exc:
        return Failed(str(exc))


def _empty(func: str):
    return 0 if func in ("count_star", "count", "count_distinct") else None


def quick_values(view: FeatureView, quick: tuple, t_us: int, last_us: int | None, full=None) -> dict | None:
    """The aggregate values at ``t_us`` from `ViewKeyState.quick` output. Where a window is
    part-way through expiring its rows at ``t_us``: None, or with ``full`` (a callable giving the
    decoded head of `ViewKeyState.dump`) only that window's aggregates are restored and its
    leaving rows taken out (`NeedTail` past the horizon). None also before the latest event."""
    inclusive, values, windows = quick
    if last_us is not None and (t_us < last_us or (t_us == last_us and not inclusive)):
        return None
    emptied = partial = ()
    for reach, first, empty in windows:
        if t_us > first:
            if t_us <= empty:
                partial = (*partial, reach)
            else:
                emptied = (*emptied, reach)
    ids, reaches, empties = _read_layout(view)
    if not emptied and not partial:
        return dict(zip(ids, values))
    out = {i: (e if r in emptied else v) for i, v, r, e in zip(ids, values, reaches, empties)}
    if partial:
        if full is None:
            return None
        aggs_data, window_heads = full()
        sigs, plans = _partial_plans(view)
        for reach, head in window_heads:
            if reach not in partial:
                continue
            # t > oldest row + reach >= the latest event: no EXCLUDE adjustment, only expiry, so
            # the window's accumulators alone are restored (not its aggregates' whole state)
            window = SharedWindow(reach, sigs[reach])
            accs = []
            for i, agg_id, func, arg_type, out_type, can_fail, column in plans[reach]:
                acc = acc_load(make(func, arg_type, out_type, can_fail), aggs_data[i][0])
                window.subs[column].append(acc)
                accs.append((agg_id, acc))
            window.expire(head, t_us - reach)  # NeedTail past the horizon
            for agg_id, acc in accs:
                out[agg_id] = acc.value()
    return out


_PLANS: dict[str, tuple] = {}  # view ref -> `_partial_plans`


def _partial_plans(view: FeatureView) -> tuple[dict, dict]:
    """(value signatures of each window by reach, per reach the accumulators a read restores to
    expire that window's rows: (aggregate index, id, func, argument type, type, may fail, column))."""
    ref = _register(view)
    plans = _PLANS.get(ref)
    if plans is None or plans[0] is not view.aggregates:
        sigs = _layout(ref, view.aggregates)[1]
        by_reach: dict[int, list] = {}
        for i, (agg, reach) in enumerate(zip(view.aggregates, _read_layout(view)[1])):
            if reach is not None:
                by_reach.setdefault(reach, []).append(
                    (i, agg.id, agg.func, agg.arg_type, agg.type, _can_fail(agg),
                     sigs[reach].index(value_signature(agg))))
        plans = _PLANS[ref] = (view.aggregates, sigs, by_reach)
    return plans[1], plans[2]


def _layout(ref: str, aggregates: list[Aggregate]) -> tuple:
    """A view's state layout, computed once per view: (aggregates, value signatures of each window
    by reach, (aggregate, kind) pairs — kind None: positional, -1: RANGE UNBOUNDED, else the window's
    reach —, ORDER BY column, aggregate ids, each one's window reach or None, each one's value over
    an empty frame)."""
    layout = _LAYOUTS.get(ref)
    if layout is None or layout[0] is not aggregates:
        sigs: dict[int, list] = {}
        kinds = []
        for agg in aggregates:
            if agg.positional or delayed(agg):  # a state of its own: its rows or `_Delayed`'s
                kinds.append(None)
            elif agg.frame.start.kind == "unbounded_preceding":
                kinds.append(-1)
            else:
                reach = agg.frame.start.offset or 0  # CURRENT ROW: reach 0
                kinds.append(reach)
                reach_sigs = sigs.setdefault(reach, [])
                if value_signature(agg) not in reach_sigs:
                    reach_sigs.append(value_signature(agg))
        ts_col = next((a.order[0] for a in aggregates if a.order), None)
        reaches = tuple(None if k is None or k == -1 else k for k in kinds)
        empties = tuple(None if r is None else make(a.func, a.arg_type, a.type).value()
                        for a, r in zip(aggregates, reaches))
        layout = _LAYOUTS[ref] = (aggregates, sigs, list(zip(aggregates, kinds)), ts_col,
                                  tuple(a.id for a in aggregates), reaches, empties)
    return layout


def _read_layout(view: FeatureView) -> tuple:
    """(aggregate ids, each one's window reach or None, each one's value over an empty frame)."""
    return _layout(_register(view), view.aggregates)[4:]


_REACHES: dict[str, tuple] = {}  # view ref -> (its aggregates, `window_reaches`)


def window_reaches(view: FeatureView) -> tuple:
    """The reaches of the view's RANGE windows, in `ViewKeyState.windows` order (each read of a
    record asks: kept per view)."""
    kept = _REACHES.get(view.fingerprint or view.name)
    if kept is None or kept[0] is not view.aggregates:
        kept = _REACHES[view.fingerprint or view.name] = (
            view.aggregates, tuple(_layout(_register(view), view.aggregates)[1]))
    return kept[1]


def window_cut(rows: int, reach: int, last_us: int | None) -> int:
    """Where a window's stored rows split into head and tail (`SharedWindow.dump`)."""
    if rows <= HEAD_ROWS:  # small: all in the head (an idle key's reads need no second fetch)
        return NO_CUT
    return (last_us if last_us is not None else 0) + reach // HORIZON - reach


class ViewKeyState:
    """All of one view's aggregates for one entity key: RANGE aggregates over `SharedWindow`s (one
    per distinct reach), ROWS-like aggregates over their own positions.

    `dump` gives its data as plain values (per aggregate in the view's order, per window: the
    timestamps and value columns), `load` restores it: the state format of docs/state-format.md."""

    def __init__(self, view: FeatureView):
        self._build(_register(view), view.aggregates)

    def _build(self, ref: str, aggregates: list[Aggregate]) -> None:
        _, sigs, kinds, self.ts_col = _layout(ref, aggregates)[:4]
        self.windows = {reach: SharedWindow(reach, s) for reach, s in sigs.items()}
        self.aggs = [state_for(agg, ref, kind, self.windows) for agg, kind in kinds]

    def dump(self, last_us: int | None) -> tuple[tuple, tuple | None]:
        """(head, tail) — head: per aggregate its plain data, per window (reach, its head); tail:
        per window with rows past its head (reach, its tail), or None. A window's head holds the
        rows reads up to ``last_us`` + reach / HORIZON may expire (`SharedWindow.dump`), so a
        read fetches and decodes the head alone unless it is that far past the latest event."""
        heads, tails = [], []
        for reach, w in self.windows.items():
            head, tail = w.dump(window_cut(len(w), reach, last_us))
            heads.append((reach, head))
            if tail is not None:
                tails.append((reach, tail))
        return (tuple(s.dump() for s in self.aggs), tuple(heads)), (tuple(tails) if tails else None)

    def load(self, head: tuple, tail: tuple | None = None) -> "ViewKeyState":
        """Restore `dump` output. Without ``tail`` the windows hold their heads only (enough for
        reads up to the horizon; further, an eviction raises `NeedTail`)."""
        aggs, windows = head
        if len(aggs) != len(self.aggs) or {w[0] for w in windows} != set(self.windows):
            raise ValueError("the stored state does not match the view's aggregates")
        for state, d in zip(self.aggs, aggs):
            state.load(d)
        tails = dict(tail or ())
        for reach, w_head in windows:
            self.windows[reach].load(w_head, tails.get(reach))
        return self

    def quick(self) -> tuple[bool, tuple, tuple] | None:
        """The as-of values of every aggregate for reads after the latest event, precomputed for
        the store: (whether they also hold at the latest event's own time, the values in aggregate
        order, per window with rows (reach, µs of its oldest row + reach, µs of its newest row +
        reach)). Until the first of those times the values hold as they are; after the second a
        window is empty and its aggregates take their empty values (`quick_values`); in between
        rows are leaving it and only the full state answers. None when a value depends on the
        read's row."""
        try:
            values = tuple(s.peek() for s in self.aggs)
        except _Dynamic:
            return None
        windows = tuple((w.reach, w.ts[0] + w.reach, w.ts[-1] + w.reach) for w in self.windows.values() if w.ts)
        inclusive = not any(isinstance(s, _Range) and s.exclude in ("group", "ties") for s in self.aggs)
        return inclusive, values, windows

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

    def __init__(self, view: FeatureView, enrich=None):
        self.view = view
        # a view with dimension joins: event -> the event with the joined columns (`Enricher`)
        self.enrich = enrich
        cols = input_types(view)
        self.where = compile_expr(view.where, cols) if view.where else None
        types = output_types(view)
        self.outputs = [(c.name, compile_expr(c.expr, types)) for c in view.columns]
        # per output column: (name, 0, column) a passthrough, (name, 1, aggregate id) an aggregate
        # as it is, (name, 2, fn) an expression over the row and the aggregates
        ids = {f"__{a.id}": a.id for a in view.aggregates}
        self.plan = []
        for (name, fn), c in zip(self.outputs, view.columns):
            column = bare_column(c.expr)
            if column is None:
                self.plan.append((name, 2, fn))
            else:
                self.plan.append((name, 1, ids[column]) if column in ids else (name, 0, column))
        self.output = _row_builder(self.plan, [a.id for a in view.aggregates],
                                   {a.id for c in view.columns if bare_column(c.expr) is None
                                    for a in view.aggregates if f"__{a.id}" in _names(c.expr)})

    def admit(self, row: Row) -> bool:
        """WHERE (Postgres evaluates it for every row: an error there is this event's dead letter).
        Aggregate arguments are evaluated where frames take them (`_AggState.value_of`)."""
        return self.where is None or self.where(row) is True


def _names(sql: str) -> set[str]:
    return {c.name for c in sqlglot.parse_one(sql, read="postgres").find_all(exp.Column)}


def _failed(aggs: dict) -> None:
    for v in aggs.values():
        if v.__class__ is Failed:
            raise SqlError(v.reason)


def _row_builder(plan: list[tuple], ids: list[str], env_ids: set[str]) -> Callable:
    """``output(row, aggregate values) -> the view's output row``, generated once per view as one
    function (no loop per column): it raises `SqlError` when an aggregate failed, builds the
    expressions' environment (the row and the aggregates they read) only if there are any, and
    returns the row as one dict display — passthrough columns from the row, aggregates as they are,
    expressions over the environment. Names are written as Python literals (`repr`), expressions
    are closures passed in; only identifiers the generator makes up are code."""
    fns, items = [], []
    local = {agg_id: f"a{i}" for i, agg_id in enumerate(ids)}
    for name, kind, src in plan:
        if kind == 0:
            items.append(f"{name!r}: row.get({src!r})")
        elif kind == 1:
            items.append(f"{name!r}: {local[src]}")
        else:
            items.append(f"{name!r}: fns[{len(fns)}](env)")
            fns.append(src)
    lines = ["def output(row, aggs):", "    get = aggs.get"]
    lines += [f"    {local[agg_id]} = get({agg_id!r})" for agg_id in ids]
    if ids:
        lines.append(f"    if {' or '.join(f'{local[i]}.__class__ is Failed' for i in ids)}:")
        lines.append("        failed(aggs)")
    if fns:
        lines.append("    env = dict(row)")
        lines += [f"    env[{'__' + agg_id!r}] = {local[agg_id]}" for agg_id in ids if agg_id in env_ids]
    lines.append(f"    return {{{', '.join(items)}}}")
    namespace = {"fns": fns, "Failed": Failed, "failed": _failed}
    exec("\n".join(lines) + "\n", namespace)  # noqa: S102 - literals and generated identifiers only
    return namespace["output"]


def bare_column(sql: str) -> str | None:
    """The column's name when ``sql`` is a bare, unqualified column (compiled, it is ``row.get``)."""
    node = sqlglot.parse_one(sql, read="postgres")
    return node.name if isinstance(node, exp.Column) and not node.table else None


def _can_fail(agg: Aggregate) -> bool:
    """Whether a row's contribution to ``agg`` may be `Failed` (its argument or FILTER may raise)."""
    return may_fail(agg.arg) or may_fail(agg.filter)


def group_by_ts(rows: list[Row], ts: str) -> list[list[Row]]:
    groups: dict[datetime, list[Row]] = {}
    for r in rows:
        groups.setdefault(r[ts], []).append(r)
    return [groups[t] for t in sorted(groups)]
