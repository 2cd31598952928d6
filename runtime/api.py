"""The Python API: `Project`, for notebooks and programs (the CLI is a shell over the same calls).

    from skewless.runtime.api import Project          # also: from skewless import Project

    project = Project("features")                       # the project directory; target= as in profiles.yml
    project.validate()                                  # [] or the diagnostics (path:line:col)
    spine = pa.table({"user_id": [...], "ts": [...]})   # entity keys and times (Arrow, pandas or Polars)
    features = project.as_of(spine, views=["user_velocity"])   # Arrow: the spine's columns + features
    per_event = project.per_event("user_velocity")      # one row per event
    training = project.training_set("fraud")            # labels joined with features as of their time
    project.replay()                                    # the stream over the files → the online store
    project.online("user_velocity").get(["u000001"], at=...)  # online reads, as of a time

Results are Arrow tables (``.to_pandas()``, ``polars.from_arrow``). Batch work runs on the target's
engine (DuckDB by default) or the one named by ``engine=`` (``"duckdb"``, ``"postgres"`` with
``dsn=``, ``"spark"``); each call opens the engine, loads the sources it reads and closes it.
"""

from __future__ import annotations

import contextlib
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from skewless.compiler.contract import (
    CompiledProject, Diagnostic, SkewlessError, build_artifacts, compile_project, load_compiled,
)

from . import log

SPINE_TIME = "ts"


def _arrow(table: Any) -> pa.Table:
    """An Arrow table from Arrow, pandas or Polars (anything with ``to_arrow`` or the Arrow
    PyCapsule interface)."""
    if isinstance(table, pa.Table):
        return table
    if hasattr(table, "to_arrow"):  # polars
        return table.to_arrow()
    if hasattr(table, "__arrow_c_stream__"):
        return pa.table(table)
    import pandas as pd

    if isinstance(table, pd.DataFrame):
        return pa.Table.from_pandas(table, preserve_index=False)
    raise TypeError(f"a spine must be an Arrow, pandas or Polars table, not {type(table).__name__}")


class Project:
    """A skewless project directory, compiled once per `Project` (``reload()`` after editing)."""

    def __init__(self, path: str | Path = ".", target: str | None = None, vars: dict[str, Any] | None = None):
        self.path, self.target, self.vars = Path(path), target, vars or {}
        self._compiled: CompiledProject | None = None

    # -- the compiler ------------------------------------------------------------------------
    @classmethod
    def of(cls, compiled: CompiledProject) -> "Project":
        """A Project over an already compiled project (the CLI compiles once and reports errors)."""
        project = cls(compiled.project.root, compiled.project.target_name)
        project._compiled = compiled
        return project

    def reload(self) -> "Project":
        self._compiled = None
        return self

    def validate(self) -> list[Diagnostic]:
        """Every problem with the project (`Diagnostic`: path, line, col, message, hint); [] when valid."""
        try:
            compiled = compile_project(self.path, self.vars, self.target)
        except SkewlessError as exc:
            return list(exc.diagnostics)
        if not compiled.diagnostics:
            self._compiled = compiled  # fresh: `compiled` need not load the artifact
        return list(compiled.diagnostics)

    @property
    def compiled(self) -> CompiledProject:
        """The compiled project: loaded from ``target/manifest.json`` when that artifact is fresh,
        else compiled and written there first. Raises `SkewlessError` (with every diagnostic) when
        the project is invalid."""
        if self._compiled is None:
            loaded = load_compiled(self.path, self.vars, self.target)
            if isinstance(loaded, str):
                log.debug("project.compile", project=str(self.path), reason=loaded)
                self._compiled = self._compile(must_write=False)
            else:
                self._compiled = loaded
        return self._compiled

    def _compile(self, must_write: bool = True) -> CompiledProject:
        from .artifacts import write_artifacts

        compiled = compile_project(self.path, self.vars, self.target)
        if compiled.diagnostics:
            raise SkewlessError(list(compiled.diagnostics))
        target = compiled.project.target_dir
        try:
            write_artifacts(target, build_artifacts(compiled))
        except OSError as exc:  # a read-only project still runs: compiled again by the next command
            if must_write:
                raise SkewlessError(Diagnostic(str(target), 1, 1, f"cannot write the compiled artifact: {exc}",
                                               "make target/ writable (or set target_path)")) from None
            log.warning("project.artifact_unwritten", target=str(target), error=str(exc))
        return compiled

    def compile(self) -> Path:
        """Compile the project and write its artifacts to ``target/`` (even when they are fresh);
        returns the path of ``manifest.json``."""
        self._compiled = self._compile()
        return self._compiled.project.target_dir / "manifest.json"

    @property
    def views(self) -> dict[str, Any]:
        """The feature views' IR (`skewless.compiler.ir.FeatureView`), by name."""
        return dict(self.compiled.views)

    @property
    def models(self) -> dict[str, Any]:
        return dict(self.compiled.project.models)

    def _names(self, views: str | Iterable[str] | None) -> list[str]:
        names = [views] if isinstance(views, str) else list(views or sorted(self.compiled.views))
        unknown = [n for n in names if n not in self.compiled.views]
        if unknown:
            raise KeyError(f"unknown view(s) {unknown}; views: {sorted(self.compiled.views)}")
        return names

    # -- batch -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _engine(self, sources: set[str], engine: str | None, dsn: str | None):
        from .batch_jobs import open_engine, register_sources

        eng = open_engine(self.compiled, engine, dsn)
        try:
            register_sources(eng, self.compiled, sources)
            yield eng
        finally:
            eng.close()

    def per_event(self, view: str, engine: str | None = None, dsn: str | None = None) -> pa.Table:
        """The view's per-event relation (one row per event, what ``backfill`` writes)."""
        from skewless.compiler.contract import per_event_sql
        from skewless.compiler.contract import input_for

        from .batch_jobs import needed_sources, tables
        from .engines import fetch

        (name,) = self._names(view)
        v = self.compiled.views[name]
        with self._engine(needed_sources(self.compiled, [name]), engine, dsn) as eng:
            return fetch(eng, per_event_sql(v, eng.dialect,
                                                  input_for(v, self.compiled.views, eng.dialect, tables(self.compiled))))

    def as_of(self, spine: Any, views: str | Iterable[str] | None = None, *, time_column: str = SPINE_TIME,
              engine: str | None = None, dsn: str | None = None) -> pa.Table:
        """Each view's values for every spine row as of its time (semantics §1.2): the spine's
        columns, then each view's feature columns (named ``<view>__<column>`` when several views
        are asked for). The spine holds every asked view's entity columns and ``time_column``
        (timestamps; naive ones are UTC)."""
        from skewless.compiler.contract import SPINE_ID, SPINE_T, as_of_sql
        from skewless.compiler.contract import input_for

        from .batch_jobs import needed_sources, tables
        from .engines import fetch

        table = _arrow(spine)
        names = self._names(views)
        missing = sorted({c for n in names for c in [*self.compiled.views[n].entity, time_column]}
                         - set(table.column_names))
        if missing:
            raise ValueError(f"the spine lacks column(s) {missing} (views {names} are keyed by their entity "
                             f"columns; the time is {time_column!r})")
        t = table[time_column]
        if not pa.types.is_timestamp(t.type):
            raise ValueError(f"spine column {time_column!r} must hold timestamps, not {t.type}")
        t = t.cast(pa.timestamp("us", tz=t.type.tz or "UTC"))
        out = table
        with self._engine(needed_sources(self.compiled, names), engine, dsn) as eng:
            for name in names:
                v = self.compiled.views[name]
                types = {c.name: c.type for c in v.input_columns}
                spine_rows = pa.table({**{k: table[k] for k in v.entity}, SPINE_T: t,
                                       SPINE_ID: pa.array(range(table.num_rows), pa.int64())})
                eng.register("__skewless_spine", spine_rows, {**{k: types[k] for k in v.entity},
                                                               SPINE_T: "timestamptz", SPINE_ID: "bigint"})
                sql = as_of_sql(v, eng.dialect, input_for(v, self.compiled.views, eng.dialect, tables(self.compiled)),
                                '"__skewless_spine"')
                got = fetch(eng, sql).sort_by(SPINE_ID)
                if got.num_rows != table.num_rows:
                    raise AssertionError(f"as-of {name}: {got.num_rows} rows for {table.num_rows} spine rows")
                for col in (c for c in v.columns if c.kind == "feature"):
                    label = col.name if len(names) == 1 else f"{name}__{col.name}"
                    out = out.append_column(label if label not in out.column_names else f"{name}__{col.name}",
                                            got[col.name])
        return out

    def training_set(self, model: str, engine: str | None = None, dsn: str | None = None,
                     out: str | Path | None = None) -> pa.Table:
        """The model's point-in-time training set (written to ``out`` too when given)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(out) if out is not None else Path(tmp) / "training_set.parquet"
            self.write_training_set(model, path, engine, dsn)
            return pq.read_table(path)

    def write_training_set(self, model: str, out: str | Path, engine: str | None = None,
                           dsn: str | None = None) -> int:
        """`training_set` written to the Parquet file ``out`` only; returns its row count."""
        from .batch_jobs import needed_sources, training_set

        self._model(model)
        with self._engine(needed_sources(self.compiled, [], [model]), engine, dsn) as eng:
            return training_set(self.compiled, eng, model, Path(out))

    def cached_training_set(self, model: str, rebuild: bool = False) -> tuple[Path, bool]:
        """The model's training set under target/training/<model>.parquet, built on the target's
        engine unless the one there was built from the same model definition, view fingerprints,
        dialect and source files (size, mtime) — and ``rebuild`` is False. Returns (path, reused)."""
        from .batch_jobs import needed_sources, open_engine, register_sources, training_set, training_set_key

        self._model(model)
        path = self.compiled.project.target_dir / "training" / f"{model}.parquet"
        key_file = path.with_suffix(".key")
        eng = open_engine(self.compiled)
        try:
            key = training_set_key(self.compiled, model, eng)
            if not rebuild and key is not None and path.exists() and key_file.exists() and key_file.read_text() == key:
                return path, True
            key_file.unlink(missing_ok=True)
            register_sources(eng, self.compiled, needed_sources(self.compiled, [], [model]))
            training_set(self.compiled, eng, model, path)
            if key is not None:
                key_file.write_text(key)
            return path, False
        finally:
            eng.close()

    def _model(self, model: str) -> None:
        if model not in self.compiled.project.models:
            raise KeyError(f"unknown model {model!r}; models: {sorted(self.compiled.project.models)}")

    def parity(self, views: str | Iterable[str] | None = None, postgres: str | None = None, spark: bool = False,
               stream: bool = True, sample_keys: int | None = None):
        """Every path (the stream replay, the compiled SQL on DuckDB, Postgres when ``postgres`` — a
        DSN or 'local' — and Spark) against each view's own SQL on the oracle, on the same events.
        Returns `ParityRun` (``.ok``, per view ``.results``: rows and differing rows per path)."""
        from .parity_run import run

        return run(self.compiled, self._names(views), postgres, spark, stream, sample_keys, self.vars, self.target)

    # -- stream, online store, models ----------------------------------------------------------
    def replay(self, views: str | Iterable[str] | None = None, to_online: bool = True,
               out_dir: str | Path | None = None):
        """The stream dataflow over the views' source files (bounded): the online store updated,
        per-event rows as Parquet in ``out_dir`` when given. Returns `ReplayResult`."""
        from .stream.jobs import replay

        return replay(self.compiled, self._names(views), Path(out_dir) if out_dir is not None else None, to_online=to_online)

    def run(self, views: str | Iterable[str] | None = None, *, source: str | None = None,
            brokers: Sequence[str] | None = None, until_end: bool = False, recovery: bool = True,
            recovery_dir: str | Path | None = None, snapshot_every: float = 1.0, workers: int | None = None,
            addresses: Sequence[str] | None = None, process_id: int | None = None, from_latest: bool = False,
            flush_ms: float = 50.0, warm: bool = True, out_dir: str | Path | None = None, stats=None):
        """The stream, continuously (``skewless run``): Kafka topics or followed files → window state
        → online store, until the input ends (``until_end``), Ctrl-C or SIGTERM. Defaults come from
        the target (stream kind, brokers, workers, recovery_dir — else target/recovery). Returns the
        `StreamStats` (``stats``, when given, is filled while it runs); `SkewlessError` for options
        that do not fit together."""
        from .stream.dataflow import StreamStats
        from .stream.jobs import RunOptions, run_stream

        target = self.compiled.project.target
        kind = source or target.stream.kind
        problems = []
        if kind not in ("file", "kafka"):
            problems.append(Diagnostic("--source", 1, 1, f"unknown source kind {kind!r}", "file or kafka"))
        broker_list = [b for b in (brokers if brokers is not None else getattr(target.stream, "brokers", [])) if b]
        if kind == "kafka" and not broker_list:
            problems.append(Diagnostic("--brokers", 1, 1, "no Kafka brokers",
                                       "set --brokers or stream.brokers in profiles.yml"))
        if (addresses is None) != (process_id is None):
            problems.append(Diagnostic("--addresses", 1, 1, "--addresses and --process-id go together", ""))
        elif addresses is not None and process_id is not None and process_id >= len(addresses):
            problems.append(Diagnostic("--process-id", 1, 1, f"process id {process_id} but {len(addresses)} "
                                       "address(es)", ""))
        if problems:
            raise SkewlessError(problems)
        rec = None
        if recovery:
            rec = Path(recovery_dir or target.recovery_dir or self.compiled.project.target_dir / "recovery")
            rec = rec if rec.is_absolute() else self.compiled.project.root / rec
        opts = RunOptions(views=self._names(views), kind=kind, brokers=broker_list,
                          add_config=dict(getattr(target.stream, "add_config", {}) or {}), from_beginning=not from_latest,
                          until_end=until_end or (kind == "file" and not getattr(target.stream, "follow", True)),
                          recovery_dir=rec, snapshot_every=snapshot_every, workers=workers or target.workers,
                          addresses=list(addresses) if addresses is not None else None, process_id=process_id,
                          flush_interval=flush_ms / 1000, dead_letter_topic=getattr(target.stream, "dead_letter_topic", None),
                          rows_dir=Path(out_dir) if out_dir is not None else None, warm=warm)
        stats = stats if stats is not None else StreamStats()
        stats.recovery_dir = rec
        run_stream(self.compiled, opts, stats)
        return stats

    def seed_online(self, views: str | Iterable[str] | None = None, as_of: datetime | None = None, progress=None):
        """Each view's state from its source's batch files (events up to ``as_of``) into the online
        store — what `backfill --to-online` does; a stream started later continues from it (warm
        start). A view over ``ref()`` is seeded from its upstream's rows over the same events,
        computed as the stream computes them. Yields (view, input rows) as each finishes."""
        from .stores import open_store
        from .stream.replay import join_rows, replay_rows

        store = open_store(self.compiled.project.target.online, self.compiled.project.root)
        inputs: dict[str, list] = {}
        outputs: dict[str, list] = {}  # per-event rows of the views computed so far (each computed once)

        def rows_of(name: str) -> list:
            if name not in outputs:
                outputs[name], _ = replay_rows(self.compiled.views[name], input_of(name))
            return outputs[name]

        def input_of(name: str) -> list:
            """The view's input rows (events, or its upstream's per-event rows) in time order,
            with its dimension rows."""
            if name not in inputs:
                view = self.compiled.views[name]
                if view.input.kind == "view":
                    rows = sorted(rows_of(view.input.name), key=lambda r: r[view.timestamp])
                else:
                    rows = self._source_rows(view, as_of)
                for vj in view.view_joins:  # each event with the joined view's row for it
                    rows = join_rows(rows, rows_of(vj.view), vj)
                if view.joins:  # each row with its dimension rows, as the stream looks them up
                    from .sources.dimension import Enricher, load_indexes

                    enrich = Enricher(view, load_indexes(self.compiled.project, [view]))
                    rows = [enrich(r) for r in rows]
                inputs[name] = rows
            return inputs[name]

        try:
            for name in self._names(views):
                view = self.compiled.views[name]
                with progress(name) if progress is not None else contextlib.nullcontext():
                    rows = input_of(name)
                    outputs[name], _ = replay_rows(view, rows, store, flush_every=50_000)
                yield name, len(rows)
        finally:
            store.close()

    def _source_rows(self, view, as_of: datetime | None) -> list[dict]:
        import pyarrow.compute as pc

        from .sources.files import read_batch_source

        events = read_batch_source(self.compiled.project.sources[view.root_source], self.compiled.project.root)
        if as_of is not None:
            events = events.filter(pc.less_equal(events[view.timestamp], as_of))
        return events.sort_by(view.timestamp).to_pylist()

    def online(self, view: str) -> "OnlineView":
        (name,) = self._names(view)
        return OnlineView(self, name)

    def train(self, model: str, training_set: str | Path | None = None, allow_leakage: bool = False):
        """Train the model (building its training set on the target's engine unless one is given);
        returns `TrainResult` (the version's directory and metrics)."""
        from .training.trainer import train_model

        if training_set is not None:
            return train_model(self.compiled, model, Path(training_set), allow_leakage=allow_leakage)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "training_set.parquet"
            self.training_set(model, out=path)
            return train_model(self.compiled, model, path, allow_leakage=allow_leakage)

    def score(self, model: str, rows: Any, engine: str | None = None, dsn: str | None = None) -> pa.Table:
        """Batch scoring through the training-set path: ``rows`` (the label source's columns; Arrow,
        pandas or Polars) with each feature as of the row's time and the champion's ``score``."""
        from skewless.compiler.contract import training_set_sql

        from .batch_jobs import tables
        from .engines import fetch
        from .serving.scorer import Scorer
        from .stores.sqlite_store import SQLiteStore
        from .training.trainer import served_artifact

        m = self.compiled.project.models[model]
        label = self.compiled.project.sources[m.label.source]
        table = _arrow(rows)
        scorer = Scorer(self.compiled, served_artifact(self.compiled, model), SQLiteStore(":memory:"), check_skew=False)
        with self._engine({self.compiled.views[r.view].root_source for r in m.features}, engine, dsn) as eng:
            eng.register("__score_input", table, label.column_types())
            sql = training_set_sql(m, label, self.compiled.views, eng.dialect,
                                   {**tables(self.compiled), label.name: '"__score_input"'})
            feats = fetch(eng, sql).sort_by("__spine_id")
        scores = scorer.booster.predict(scorer.spec.matrix(feats)) if feats.num_rows else []
        return feats.append_column("score", pa.array(scores, pa.float64()))

    def train_continued(self, model: str, parent: str = "champion", since: datetime | None = None,
                        method: str = "continue", compare: bool = True):
        """Fine-tune ``parent`` on the labels after ``since`` (default: the end of its training
        data) — `skewless train --continue`; registered as challenger. Returns `ContinueResult`
        (version, parent, and each candidate's seconds, rows read and metrics on the newest labels)."""
        from .batch_jobs import build_training_set
        from .training.continual import continue_training

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "training_set.parquet"
            build_training_set(self.compiled, model, path)
            return continue_training(self.compiled, model, path, parent, since, method, compare)

    def _registry(self):
        from .registry.store import Registry

        return Registry.of(self.compiled.project.target_dir, self.compiled.project.target.registry_dsn)

    def versions(self, model: str) -> pa.Table:
        """The model's registered versions (lineage, rows, metrics as JSON text, aliases)."""
        registry = self._registry()
        try:
            aliases = registry.aliases(model)
            rows = [{**{k: v for k, v in r.items() if k not in ("view_fingerprints", "params", "metrics")},
                     "validation_auc": r["metrics"].get("validation", {}).get("auc"),
                     "aliases": sorted(a for (_, a), ver in aliases.items() if ver == r["version"])}
                    for r in registry.versions(model)]
        finally:
            registry.close()
        return pa.Table.from_pylist(rows)

    def promote(self, model: str, version: str, alias: str = "champion") -> str | None:
        """Point ``alias`` at ``version`` (serving follows the champion without a restart); returns
        the version it named before."""
        registry = self._registry()
        try:
            return registry.promote(model, version, alias)
        finally:
            registry.close()

    def rollback(self, model: str, alias: str = "champion") -> str:
        """Point ``alias`` back at the version it named before its last promotion; returns it."""
        registry = self._registry()
        try:
            return registry.rollback(model, alias)[1]
        finally:
            registry.close()

    def feature_log(self, model: str, version: str = "champion") -> pa.Table:
        """The vectors ``serve`` logged for a version (`feature_log:` on the model)."""
        from .serving.feature_log import read_log
        from .training.trainer import model_artifact

        target = self.compiled.project.target
        artifact = model_artifact(self.compiled.project.target_dir, model, version, target.registry_dsn)
        return read_log(self.compiled.project.target_dir, model, artifact.name)

    def experiment(self, model: str) -> dict:
        """The latest experiment of ``model``: each arm's traffic, feedback, posterior, 95%
        interval, P(best), IPS (shadow: metrics vs labels), and over time."""
        from .experiments.report import summarize
        from .experiments.store import ExperimentStore

        target = self.compiled.project.target
        store = ExperimentStore(ExperimentStore.location(self.compiled.project.target_dir, target.registry_dsn))
        try:
            records = store.experiments(model)
            if not records:
                raise ValueError(f"model {model!r} has no recorded experiment")
            return summarize(store, records[-1])
        finally:
            store.close()

    def scorer(self, model: str, version: str | None = None):
        """A `Scorer` for the model's champion (or given) version over the target's online store."""
        from .serving.scorer import Scorer
        from .stores import open_store
        from .training.trainer import served_artifact

        models = self.compiled.project.target_dir / "models" / model
        artifact = models / version if version else served_artifact(self.compiled, model)
        return Scorer(self.compiled, artifact, open_store(self.compiled.project.target.online, self.compiled.project.root))


class OnlineView:
    """Reads of one view from the target's online store."""

    def __init__(self, project: Project, name: str):
        self.project, self.name = project, name

    def get(self, keys: Sequence[Any], at: datetime | None = None) -> pa.Table:
        """The view's columns for each entity key as of ``at`` (default now, UTC). A key is a value
        (a one-column entity) or a tuple in PARTITION BY order; a key with no events reads as an
        empty frame (COUNT 0, other aggregates NULL) — ``known`` says which keys the store holds."""
        read = self.rows(keys, at)
        view = self.project.compiled.views[self.name]
        rows = [row for row, _ in read]
        table = pa.Table.from_pylist(rows) if rows else pa.table({c.name: pa.array([]) for c in view.columns})
        return table.append_column("known", pa.array([known for _, known in read], pa.bool_()))

    def rows(self, keys: Sequence[Any], at: datetime | None = None) -> list[tuple[dict[str, Any], bool]]:
        """`get` as Python values: (the view's row as of ``at``, whether the store holds the key) per key."""
        from .sources.decode import _coerce
        from .sources.dimension import evaluator_for
        from .stores import open_store
        from .stream.online import lookups, rows_as_of

        compiled = self.project.compiled
        view = compiled.views[self.name]
        types = {c.name: c.type for c in view.input_columns}
        parsed = []
        for key in keys:
            values = list(key) if isinstance(key, (tuple, list)) else [key]
            if len(values) != len(view.entity):
                raise ValueError(f"{self.name} is keyed by ({', '.join(view.entity)}): {key!r}")
            parsed.append([v if not isinstance(v, str) else _coerce(v, types[c]) for v, c in zip(values, view.entity)])
        t = at or datetime.now(timezone.utc)
        t = t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        store = open_store(compiled.project.target.online, compiled.project.root)
        try:
            wanted = lookups(view, parsed)
            found = store.read_many(wanted)
            rows = rows_as_of(view, parsed, found, t, store, evaluator_for(compiled.project, view))
        finally:
            store.close()
        return [(row, lk in found) for row, lk in zip(rows, wanted)]


__all__ = ["OnlineView", "Project"]
