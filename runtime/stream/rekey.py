"""Views over another view's rows keyed by other columns (re-keyed ``ref()`` views) in the stream.

A view over ``ref('u')`` reads u's per-event rows. With u's entity key it runs inside u's keyed
state (`KeyLogic` feeds it u's rows as they become final). With another key, u's rows must be
regrouped — and a downstream peer group at time t is final only once *every* u row before t,
from every u key on every worker, has arrived. Keys of u finalize lazily (on their next event or
wake-up), so the downstream cannot trust its own arrival order. The event-time frontier is owned
here instead of left to Bytewax:

* the source's watermark step counts the events it lets through and, whenever the watermark W
  moves, sends `Frontier(W, events before W)`;
* each u key, after emitting the rows of the groups before a watermark, reports how many input
  events it had per event time (`Count`) — rows and counts leave it in one batch, rows first;
* one sequencer per re-keyed view u (`SequencerLogic`, one Bytewax key) collects u's rows and the
  counts; once the counts before some frontier W add up to its count, every row before W is there:
  it releases them in time order, tagged with W, to the downstream stage(s), keyed by their
  entity. Downstream keys treat those rows as events with watermark W (exactly as a source's
  events) — so their groups before W are final, and their own re-keyed readers chain the same
  way (the sequencer sends `Frontier(W, rows released)` on).

Exact by construction: a downstream group is computed only from complete input. What it costs: the
rows pass through one sequencer per re-keyed view (one worker), and a re-keyed row is final one
watermark step (plus the upstream key's wake-up) after its upstream row.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from bytewax.operators import StatefulBatchLogic

from skewless.compiler.contract import FeatureView

from ..sources.control import stopping
from ..sources.decode import DeadLetter
from . import codec
from .codec import StateFormatError
from .watermark import Frontier, Tagged

SEQUENCER = "skewless-sequencer"
FORMAT = 1


@dataclass(frozen=True)
class Joined:
    """An event with the joined view's columns for it (`JoinOut`), for feed ``feed``."""
    feed: str
    row: dict


@dataclass(frozen=True)
class JoinOut:
    """What a view's keys emit for a view joining it (`ViewJoin`): per event, the event's own
    columns (``event_cols``) plus the joined view's row for it as ``<alias>__<column>`` (``pairs``:
    (its column, the name in the joined row)); NULLs when it has no row for the event."""
    feed: str
    event_cols: tuple[str, ...]
    pairs: tuple[tuple[str, str], ...]

    def row(self, event: dict, out: dict | None) -> dict:
        joined = {c: event.get(c) for c in self.event_cols}
        for col, name in self.pairs:
            joined[name] = None if out is None else out.get(col)
        return joined


@dataclass(frozen=True)
class Feed:
    """The input of a re-keyed stage: view ``upstream``'s rows, or (``join``) the events joined to
    them for the view joining it; ordered by ``ts_col``."""
    id: str
    upstream: str
    ts_col: str
    join: JoinOut | None = None


@dataclass(frozen=True)
class Count:
    """A key of the stage holding view ``view`` finalized ``pairs`` = ((event time, events), ...)."""
    view: str
    pairs: tuple


@dataclass
class Stage:
    """Views run by one keyed Bytewax step: over the source's events (``feed`` None) or over a
    `Feed` (another view's rows, or the events joined to them), all keyed by ``entity``; views with
    the same key over views of the stage join it. ``roots``: the views reading the stage's input.
    ``reports``: the feeds this stage's views give other stages; ``joins_out``: per view of this
    stage, what it emits for views joining it."""
    name: str
    feed: Feed | None
    entity: tuple[str, ...]
    views: list[FeatureView] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    joins_out: dict[str, list[JoinOut]] = field(default_factory=dict)


def plan_stages(source: str, views: list[FeatureView]) -> list[Stage]:
    """The stages of one source's views (``views`` upstream first, a joined view before the view
    joining it), upstream stages first. Stage names are the Bytewax step names (kept stable:
    recovery snapshots are keyed by them)."""
    stages: dict[tuple, Stage] = {}
    home: dict[str, Stage] = {}
    by_name = {v.name: v for v in views}
    for v in views:
        entity = tuple(v.entity)
        feed: Feed | None = None
        root = True
        if v.view_joins:  # its events joined to the other view's rows: a feed of its own
            vj = v.view_joins[0]
            joined = {c.name for j in [*v.joins, *v.view_joins] for c in j.columns}
            out = JoinOut(f"{vj.view}@{v.name}", tuple(c.name for c in v.input_columns if c.name not in joined),
                          tuple(vj.read()))
            feed = Feed(out.feed, vj.view, v.timestamp, out)
            home[vj.view].joins_out.setdefault(vj.view, []).append(out)
        elif v.input.kind == "view":
            up = home[v.input.name]
            if up.entity == entity:
                feed, root = up.feed, False
            else:
                feed = Feed(v.input.name, v.input.name, row_time_column(by_name[v.input.name]))
        key: tuple = (None if feed is None else feed.id, entity)
        stage = stages.get(key)
        if stage is None:
            f = key[0]
            name = f"{source}__{'_'.join(entity)}" if f is None else f"{source}__{f.replace('@', '_for_')}__by__{'_'.join(entity)}"
            stage = stages[key] = Stage(name, feed, entity)
            if feed is not None:
                owner = home[feed.upstream]
                if feed.id not in owner.reports:
                    owner.reports.append(feed.id)
        stage.views.append(v)
        if root and (v.input.kind == "source" or feed is not None):
            stage.roots.append(v.name)
        home[v.name] = stage
    return list(stages.values())


def row_time_column(view: FeatureView) -> str:
    """The column of ``view``'s rows that passes its timestamp through (a ref() reader's ORDER BY)."""
    if view.timestamp_output is not None:
        return view.timestamp_output
    raise ValueError(f"view {view.name!r} does not output its timestamp column {view.timestamp!r}")


class SequencerLogic(StatefulBatchLogic):
    """The frontier of one re-keyed view's rows (module docstring). Inputs: the view's rows,
    `Count`s from its keys and `Frontier`s from the step before it. Outputs ``(target, item)``:
    (("stage", name), Tagged(row, W)) for each downstream stage, and (("seq", view), Frontier) for
    the sequencers of views those stages feed on."""

    def __init__(self, feed: Feed, stages: list[tuple[str, tuple[str, ...]]], resume: bytes | None):
        self.feed, self.stages = feed, stages  # stages: (name, the feeds its views give further stages)
        self.ts_col = feed.ts_col
        self.rows: dict = {}        # row time -> rows waiting
        self.counts: dict = {}      # event time -> events finalized by the upstream keys, not released
        self.frontiers: list = []   # (W, events before W), W ascending
        self.released = 0           # upstream events released
        self.sent = 0               # rows released
        if resume is not None:
            self._load(resume)

    def on_batch(self, values: list):
        rows, counts, ts_col = self.rows, self.counts, self.ts_col
        for v in values:
            cls = v.__class__
            if cls is Count:
                for t, n in v.pairs:
                    counts[t] = counts.get(t, 0) + n
            elif cls is Frontier:
                if not self.frontiers or v.watermark > self.frontiers[-1][0]:
                    self.frontiers.append((v.watermark, v.count))
            else:
                rows.setdefault(v[ts_col], []).append(v)
        return self._release(), False

    def _release(self) -> list:
        frontiers = self.frontiers
        if not frontiers or not self.counts:
            if frontiers and not self.counts and frontiers[-1][1] == self.released:
                return self._out([], len(frontiers) - 1)  # nothing new before it: pass the frontier on
            return []
        times = sorted(self.counts)
        prefix = [0]
        for t in times:
            prefix.append(prefix[-1] + self.counts[t])
        for k in range(len(frontiers) - 1, -1, -1):
            wm, expected = frontiers[k]
            have = self.released + prefix[bisect.bisect_left(times, wm)]
            if have == expected:
                return self._out(times[:bisect.bisect_left(times, wm)], k)
            if have > expected:
                raise RuntimeError(f"sequencer of view {self.feed.id!r}: {have} events reported before "
                                   f"{wm.isoformat()}, the watermark step let {expected} through")
        return []

    def _out(self, due: list, k: int, final: bool = False) -> list:
        """Release the rows of times ``due`` (ascending) tagged with frontier ``k``'s watermark."""
        wm = None if final else self.frontiers[k][0]
        out: list = []
        rows, counts = self.rows, self.counts
        for t in due:
            self.released += counts.pop(t, 0)
            for row in rows.pop(t, ()):
                self.sent += 1
                tagged = Tagged(row, wm)
                out.extend((("stage", name), tagged) for name, _ in self.stages)
        if not final:
            del self.frontiers[:k + 1]
            f = Frontier(wm, self.sent)
            out.extend((("seq", u), f) for _, reports in self.stages for u in reports)
        return out

    def on_eof(self):
        if stopping():  # not the end of the input: the rows wait for the next start
            return [], False
        due = sorted(set(self.rows) | set(self.counts))
        self.frontiers.clear()
        return self._out(due, 0, final=True), False

    def snapshot(self):
        return codec.pack((SEQUENCER, FORMAT, tuple((t, tuple(rs)) for t, rs in self.rows.items()),
                           tuple(self.counts.items()), tuple(self.frontiers), self.released, self.sent))

    def _load(self, blob: bytes) -> None:
        if not isinstance(blob, bytes):
            raise StateFormatError(f"the recovery snapshot of the sequencer of {self.feed.id!r} is not in the "
                                   "state format: start with a new recovery directory")
        magic, version, rows, counts, frontiers, self.released, self.sent = codec.unpack(blob)
        if magic != SEQUENCER or version != FORMAT:
            raise StateFormatError(f"the recovery snapshot of the sequencer of {self.feed.id!r} is in format "
                                   f"{magic!r} {version}, this skewless reads {SEQUENCER!r} {FORMAT}")
        self.rows = {t: list(rs) for t, rs in rows}
        self.counts = {t: n for t, n in counts}
        self.frontiers = [(w, n) for w, n in frontiers]


def sequencer_inputs(feed: str, batch: list) -> list:
    """From a stage's output ((key, (view name | None, row | Count | Joined))): what feed ``feed``'s
    sequencer reads, under its one key."""
    out = []
    for _, (name, item) in batch:
        if name is None:
            cls = item.__class__
            if cls is Count:
                if item.view == feed:
                    out.append((feed, item))
            elif item.feed == feed:  # Joined
                out.append((feed, item.row))
        elif name == feed and item.__class__ is not DeadLetter:
            out.append((feed, item))
    return out
