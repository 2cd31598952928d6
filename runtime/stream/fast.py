"""A key's window state with its time windows and LAGs in compiled code (`_kernel.Core`).

`FastViewKeyState` is the stream's `ViewKeyState`: the same values, the same stored records. The
kernel holds the RANGE windows over time ordered by the event time alone whose aggregates it
computes — COUNT(*), COUNT, SUM/AVG/VAR/STDDEV of doubles, MIN/MAX of numbers (not with EXCLUDE
CURRENT ROW), BOOL_OR/AND, COUNT(DISTINCT), any EXCLUDE — and every LAG; the rest of the view
(ROWS frames, FIRST/LAST_VALUE, UNBOUNDED frames, numeric sums, a window with any aggregate the
kernel does not compute) stays in Python objects beside it. `dump` and `quick` write the stored
format (docs/state-format.md) straight from the kernel and those objects; `from_state` continues
from a loaded Python state, refilling the kernel from its window rows (which recomputes their
aggregates). Reads (`online`) always use the Python state: the two implementations check each
other in the tests (and the fuzzer compares both with Postgres).

Without the compiled module (a source checkout that was not built), `new_state` gives the Python
state and nothing else changes.
"""

from __future__ import annotations

import functools
from operator import itemgetter

from skewless.compiler.contract import Aggregate, base_type as base, FeatureView, FLOAT8, INT2, INT4, INT8, NUMERIC

from . import codec
from .accumulators import BoolAgg, Count, Distinct, Guarded, MinMax, Variance, _slots, _Sum
from .frames import (EPOCH, ONE_US, ViewKeyState, _AggState, _Dynamic, _layout, _register, _safe, bare_column,
                     state_for, value_signature, window_cut)
from .rolling import LARGE_KERNEL, rolling_for
from .windows import SharedWindow

try:
    from . import _kernel
except ImportError:  # not built: the Python state throughout
    _kernel = None

_CODES = {"count_star": 0, "count": 0, "sum": 1, "avg": 2, "min": 3, "max": 4, "count_distinct": 5,
          "bool_or": 6, "bool_and": 7, "var_samp": 8, "var_pop": 9, "stddev_samp": 10, "stddev_pop": 11}
_VARIANCE = ("var_samp", "var_pop", "stddev_samp", "stddev_pop")
_EXCLUDES = {"no_others": 0, "group": 1, "ties": 2, "current_row": 3}
_NUMBERS = {FLOAT8: 1, INT2: 2, INT4: 2, INT8: 2}


def _eligible(agg: Aggregate, kind) -> bool:
    """Whether the kernel computes ``agg`` exactly as `frames._Range` does."""
    if kind is None or kind == -1 or agg.total_order:
        return False
    func, arg = agg.func, base(agg.arg_type) if agg.arg_type else None
    if func in ("min", "max"):  # a monotonic deque cannot give the extreme without the current row
        return arg in _NUMBERS and agg.frame.exclude != "current_row"
    if func in ("count_star", "count", "bool_or", "bool_and"):
        return True
    if func == "count_distinct":
        return arg != NUMERIC  # a numeric NaN is not the float NaN the kernel recognises
    if func in ("sum", "avg", *_VARIANCE):
        return arg == FLOAT8 and base(agg.type) == FLOAT8
    return False


class Plan:
    """Which of a view's windows the kernel holds, computed once per view."""

    def __init__(self, view: FeatureView):
        ref = _register(view)
        aggregates, sigs, kinds = _layout(ref, view.aggregates)[:3]
        self.ref = ref
        by_reach: dict[int, list[int]] = {}
        for i, (_, kind) in enumerate(kinds):
            if kind is not None and kind != -1:
                by_reach.setdefault(kind, []).append(i)
        self.reaches = [r for r, members in by_reach.items() if all(_eligible(kinds[i][0], r) for i in members)]
        self.windows, self.aggs, self.agg_index, self.getters = [], [], [], []
        getter_of: dict[tuple, int] = {}  # value signature -> index in getters
        for reach in self.reaches:
            specs = []
            for sig in sigs[reach]:
                members = [kinds[i][0] for i in by_reach[reach] if value_signature(kinds[i][0]) == sig]
                if sig not in getter_of:
                    getter_of[sig] = len(self.getters)
                    self.getters.append(_getter(members[0], ref))
                funcs = {a.func for a in members}
                numeric = [_NUMBERS.get(base(a.arg_type)) for a in members if a.func in ("min", "max", "sum", "avg")]
                specs.append((getter_of[sig], numeric[0] if numeric else 0, bool(funcs & {"sum", "avg"}),
                              "min" in funcs, "max" in funcs, "count_distinct" in funcs,
                              bool(funcs & {"bool_or", "bool_and"}), bool(funcs & set(_VARIANCE)),
                              any(a.frame.exclude in ("group", "ties") for a in members)))
            self.windows.append((reach, specs))
        for wi, reach in enumerate(self.reaches):
            for i in by_reach[reach]:
                agg = kinds[i][0]
                self.aggs.append((wi, sigs[reach].index(value_signature(agg)), _CODES[agg.func],
                                  _EXCLUDES[agg.frame.exclude]))
                self.agg_index.append(i)
        self.ids = [aggregates[i].id for i in self.agg_index]
        self.layout_reaches = list(sigs)  # `ViewKeyState.windows` order
        self.window_of = {reach: wi for wi, reach in enumerate(self.reaches)}
        self.agg_of = {i: (wi, ci, mode) for (wi, ci, _, mode), i in zip(self.aggs, self.agg_index)}
        self.aggregates = aggregates
        self.sigs_of = sigs
        scratch = ViewKeyState(view)  # the kernel aggregates' accumulator kinds and constant fields
        self.accs = {i: scratch.aggs[i].acc for i in self.agg_index}
        self.dumpers = {i: _dumper(acc) for i, acc in self.accs.items()}
        # an aggregate whose dump is an earlier one's by construction (SUM and AVG of one column over
        # one frame: the same column's sum fields) -> that one (`dump` gives both one object)
        first: dict = {}
        self.shares = {i: j for i, j in ((i, first.setdefault((self.agg_of[i], _dump_kind(acc)), i))
                                         for i, acc in self.accs.items()) if j != i}
        # LAGs: in the kernel too (their value and default as `_Rows` computes them)
        self.lag_index = [i for i, (agg, kind) in enumerate(kinds) if kind is None and agg.func == "lag"]
        self.lags = [(aggregates[i].id, scratch.aggs[i].n, scratch.aggs[i].value_of,
                      None if scratch.aggs[i].default is None else functools.partial(_safe, scratch.aggs[i].default),
                      scratch.aggs[i].key) for i in self.lag_index]
        self.inclusive = not any(kind is not None and agg.frame.exclude in ("group", "ties") for agg, kind in kinds)
        self.ts_col = next((a.order[0] for a in aggregates if a.order), None)
        mine = set(self.agg_index) | set(self.lag_index)
        self.py_aggs = [i for i in range(len(aggregates)) if i not in mine]
        self.py_reaches = [r for r in sigs if r not in self.reaches]
        self.py_kinds = [(i, kinds[i][1]) for i in self.py_aggs]
        self.lag_pos = {i: j for j, i in enumerate(self.lag_index)}
        # each kernel aggregate's place in `Core.peek`: the windows' aggregates, then the LAGs
        self.kernel_pos = {i: j for j, i in enumerate(self.agg_index + self.lag_index)}

    def __bool__(self) -> bool:
        return bool(self.reaches or self.lag_index)


def _getter(agg: Aggregate, ref: str):
    """How the kernel takes ``agg``'s value from a row: None for COUNT(*) (1), the column's name
    for a bare column without FILTER, else the compiled argument and FILTER (`_AggState.value_of`)."""
    if agg.func == "count_star" and not agg.filter:
        return None
    column = bare_column(agg.arg) if agg.arg and not agg.filter else None
    return column if column is not None else _AggState(agg, ref).value_of


_PLANS: dict[str, tuple] = {}


def plan_for(view: FeatureView) -> Plan:
    ref = _register(view)
    cached = _PLANS.get(ref)
    if cached is None or cached[0] is not view.aggregates:
        cached = _PLANS[ref] = (view.aggregates, Plan(view))
    return cached[1]


def _dumper(acc):
    """``fn(win, ci, col) -> accumulators.dump`` of ``acc``'s kind from the kernel's column ``ci``
    of ``win`` (``col``), built once per view (each upsert dumps every aggregate: no per-call
    type dispatch or field dictionaries)."""
    if isinstance(acc, Guarded):
        inner = _dumper(acc.inner)
        return lambda win, ci, col: (inner(win, ci, col), col.failed, col.reason)
    if isinstance(acc, MinMax):
        return lambda win, ci, col: win.minmax(ci)
    if isinstance(acc, Distinct):
        return lambda win, ci, col: (dict(col.counts),)
    order = _slots(type(acc))
    if isinstance(acc, Count):
        assert order == ("n",)
        return lambda win, ci, col: (col.nn,)
    if isinstance(acc, _Sum):
        pick = itemgetter(*[_SUM_FIELDS.index(name) for name in order])
        return lambda win, ci, col: pick((*col.sum_fields(), None))
    if isinstance(acc, Variance):
        pick = itemgetter(*[("n", "s1", "s2", "bad", "e").index(name) for name in order])
        return lambda win, ci, col: pick((col.nn, col.s1, col.s2, col.bad, col.ve))
    if isinstance(acc, BoolAgg):
        pick = itemgetter(*[("t", "f").index(name) for name in order])
        return lambda win, ci, col: pick((col.t, col.f))
    raise TypeError(type(acc).__name__)  # pragma: no cover - `_eligible` admits no other accumulator


def _dump_kind(acc) -> tuple:
    """What ``_dumper(acc)`` reads besides its column: equal kinds over one column dump equal data."""
    if isinstance(acc, Guarded):
        return ("guarded", _dump_kind(acc.inner))
    if isinstance(acc, (MinMax, Distinct, Count)):
        return (type(acc).__name__,)
    for family in (_Sum, Variance, BoolAgg):
        if isinstance(acc, family):
            return (family.__name__, _slots(type(acc)))
    return ("own", id(acc))  # pragma: no cover - `_dumper` admits no other accumulator


_SUM_FIELDS = ("n", "isum", "fsum", "fexp", "floats", "nan", "pinf", "ninf", "scales")  # sum_fields() + scales


def new_state(view: FeatureView):
    """The stream's state for one key of ``view``: the kernel's where it applies."""
    if _kernel is not None and plan_for(view):
        return FastViewKeyState(view)
    return ViewKeyState(view)


def from_state(view: FeatureView, state: ViewKeyState):
    """The stream's state continuing from a loaded (complete) Python state."""
    if _kernel is None or not plan_for(view):
        return state
    return FastViewKeyState(view, state)


class FastViewKeyState:
    """One key's state of a view: the kernel's windows in `core`, the rest of the view's
    aggregates and windows as Python objects beside it (`frames._Range` / `_Rows`,
    `SharedWindow`) — only those: a key costs no Python objects for what the kernel holds."""

    __slots__ = ("plan", "core", "py", "py_windows")

    def __init__(self, view: FeatureView, state: ViewKeyState | None = None):
        plan = self.plan = plan_for(view)
        self.core = _kernel.Core(plan.getters, plan.windows, plan.aggs, plan.ids, plan.lags)
        if state is None:  # the Python-owned parts, built as `ViewKeyState._build` builds them
            self.py_windows = {r: SharedWindow(r, plan.sigs_of[r]) for r in plan.py_reaches}
            self.py = {i: state_for(plan.aggregates[i], plan.ref, kind, self.py_windows) for i, kind in plan.py_kinds}
            return
        # continuing from a loaded state: its Python-owned objects move over, its kernel windows'
        # rows refill the kernel (which recomputes their aggregates)
        self.py_windows = {r: state.windows[r] for r in plan.py_reaches}
        self.py = {i: state.aggs[i] for i, _ in plan.py_kinds}
        for wi, reach in enumerate(plan.reaches):
            w = state.windows[reach]
            self.core.load(wi, list(w.ts), [list(c) for c in w.cols])
        for lag, i in zip(self.core.lags, plan.lag_index):
            rows_state = state.aggs[i]
            lag.load(list(rows_state.history), rows_state.count, rows_state.first, rows_state.has_first)
        for (wi, ci, _, mode), i in zip(plan.aggs, plan.agg_index):
            agg_state = state.aggs[i]
            if mode in (1, 2) and agg_state.last_ts is not None:  # the latest group (EXCLUDE GROUP / TIES)
                col = self.core.wins[wi].col(ci)
                col.last_tus = (agg_state.last_ts - EPOCH) // ONE_US
                col.last_vals = list(agg_state.last_values)

    def process_group(self, rows: list[dict]) -> list[dict]:
        """`ViewKeyState.process_group`: the kernel's windows in one call, the rest in Python."""
        tus = (rows[0][self.plan.ts_col] - EPOCH) // ONE_US
        out = self.core.step(tus, rows)
        if not self.py:
            return out
        if len(out) > 1 and out[0] is out[1]:  # one dict for every row: each row gets its own
            out = [dict(o) for o in out]
        cache: dict = {}
        windows = self.py_windows.values()
        for w in windows:
            w.evict(tus - w.reach)
        for state in self.py.values():
            state.process(rows, out, cache)
        for w in windows:
            w.append(tus, cache, len(rows))
        return out

    def dump(self, last_us: int | None) -> tuple[tuple, tuple | None]:
        """`ViewKeyState.dump`, the kernel's windows and aggregates written straight from it."""
        plan, core, py, dumpers = self.plan, self.core, self.py, self.plan.dumpers
        heads, tails = [], []
        for reach in plan.layout_reaches:
            wi = plan.window_of.get(reach)
            if wi is None:
                w = self.py_windows[reach]
                head, tail = w.dump(window_cut(len(w), reach, last_us))
            else:
                win = core.wins[wi]
                cut = window_cut(win.n, reach, last_us)
                enc = rolling_for(win, win.n, LARGE_KERNEL)
                head, tail = enc.dump(win, cut) if enc is not None else win.dump(cut, codec.pack)
            heads.append((reach, head))
            if tail is not None:
                tails.append((reach, tail))
        aggs: list = []
        shares = plan.shares
        for i in range(len(plan.aggregates)):
            if i in shares:
                aggs.append(aggs[shares[i]])
                continue
            where = plan.agg_of.get(i)
            if where is None:
                aggs.append(py[i].dump() if i in py else core.lags[plan.lag_pos[i]].dump())
                continue
            wi, ci, mode = where
            win = core.wins[wi]
            col = win.col(ci)
            last, values = col.last_group() if mode in (1, 2) else (None, [])  # EXCLUDE GROUP / TIES
            aggs.append((dumpers[i](win, ci, col), last, values))
        return (tuple(aggs), tuple(heads)), (tuple(tails) if tails else None)

    def quick(self) -> tuple[bool, tuple, tuple] | None:
        """`ViewKeyState.quick` from the kernel's values and windows."""
        plan, py = self.plan, self.py
        try:
            kernel = self.core.peek()
            values = [py[i].peek() if i in py else kernel[plan.kernel_pos[i]] for i in range(len(plan.aggregates))]
        except _Dynamic:
            return None
        windows = []
        for reach in plan.layout_reaches:
            wi = plan.window_of.get(reach)
            if wi is None:
                w = self.py_windows[reach]
                if w.ts:
                    windows.append((reach, w.ts[0] + reach, w.ts[-1] + reach))
            else:
                b = self.core.wins[wi].bounds()
                if b is not None:
                    windows.append((reach, b[0] + reach, b[1] + reach))
        return plan.inclusive, tuple(values), tuple(windows)

    def retained(self) -> int:
        return self.core.retained() + sum(len(w) for w in self.py_windows.values()) + \
            sum(s.state_size() for s in self.py.values()) + sum(len(lag.hist) for lag in self.core.lags)
