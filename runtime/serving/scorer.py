"""`Scorer`: features as of a time from the online store → the model's vector → a score.

Used by ``skewless serve`` (HTTP) and in process. It refuses to start when the online store holds
state built from views whose fingerprints differ from the ones the model was trained on:
train-serve skew is caught at deploy time, naming the view."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from skewless.compiler.contract import (
    as_of_rule_text, CompiledProject, FeatureView, format_duration, needed_columns as read_columns,
)

from ..stores.base import OnlineStore
from ..stream.online import StaleRead, as_of_record, encode_key, with_event
from ..training.features import FeatureSpec
from ..training.on_demand import compiled_expressions


def _predictor(booster: lgb.Booster):
    """One-row prediction through LightGBM's single-row fast path (a prepared predictor per
    thread, one C call per row, no OpenMP team) — `Booster.predict` re-creates its predictor and
    validates its input on every call, ~3x the cost of the tree walk. Falls back to the public API
    where the C entry points are missing."""
    import ctypes
    import threading

    try:
        from lightgbm.basic import _LIB, _safe_call

        init, fast = _LIB.LGBM_BoosterPredictForMatSingleRowFastInit, _LIB.LGBM_BoosterPredictForMatSingleRowFast
    except (ImportError, AttributeError):
        return lambda x: booster.predict(x, num_threads=1)
    ncol, iterations = booster.num_feature(), booster.best_iteration  # Booster.predict's default
    local = threading.local()
    out_len = ctypes.c_int64()

    def predict(x: np.ndarray) -> np.ndarray:
        handle = getattr(local, "fast", None)
        if handle is None:
            handle = local.fast = ctypes.c_void_p()
            _safe_call(init(booster._handle, ctypes.c_int(0), ctypes.c_int(0), ctypes.c_int(iterations),
                            ctypes.c_int(1), ctypes.c_int32(ncol), ctypes.c_char_p(b"num_threads=1"),
                            ctypes.byref(handle)))
        row = np.ascontiguousarray(x[0], dtype=np.float64)
        out = np.empty(1, dtype=np.float64)
        _safe_call(fast(handle, ctypes.c_void_p(row.ctypes.data), ctypes.byref(out_len),
                        ctypes.c_void_p(out.ctypes.data)))
        return out
    return predict


class SkewError(RuntimeError):
    pass


class RequestError(ValueError):
    """A malformed request (the HTTP layer answers 4xx with this message)."""


class Scorer:
    def __init__(self, compiled: CompiledProject, artifact: Path, store: OnlineStore, check_skew: bool = True):
        self.meta = json.loads((artifact / "model.json").read_text())
        self.spec = FeatureSpec.from_json(json.loads((artifact / "features.json").read_text()))
        self.booster = lgb.Booster(model_file=str(artifact / "model.txt"))
        self._predict = _predictor(self.booster)
        self.model = compiled.project.models[self.meta["model"]]
        self.compiled, self.store = compiled, store
        self.views = {ref.view: compiled.views[ref.view] for ref in self.model.features}
        from ..sources.dimension import evaluator_for

        # views joining dimensions look the rows up as the stream does (request events, read probes)
        self.evaluators = {name: evaluator_for(compiled.project, v) for name, v in self.views.items()}
        self.feature_columns = {name: [c.name for c in v.columns if c.kind == "feature"] for name, v in self.views.items()}
        label_types = compiled.project.sources[self.model.label.source].column_types()
        self.key_columns = sorted({label for ref in self.model.features if ref.at == "as_of"
                                   for label in (ref.join or {k: k for k in self.views[ref.view].entity}).values()})
        self.key_types = {c: label_types[c] for c in self.key_columns}
        # features `at: request_event` (semantics §1.3): the request carries the event — every
        # column those views read, typed as their sources declare
        self.event_types: dict[str, str] = {}
        for ref in self.model.features:
            if ref.at == "request_event":
                view = self.views[ref.view]
                types = {c.name: c.type for c in view.input_columns}
                joined = {c.name for j in view.joins for c in j.columns}  # looked up, not sent
                self.event_types.update({c.name: c.type for c in read_columns(view) if c.name not in joined})
                self.event_types.update({k.input_column: types[k.input_column] for j in view.joins for k in j.on})
                self.event_types.update({k: types[k] for k in view.unique_key})  # the event's own id
        # on-demand features: SQL expressions over the request features and the view features
        self.request_types = {c: label_types[c] for c in self.model.request_features}
        self.on_demand = [(name, fn) for name, fn, _ in compiled_expressions(compiled, self.model)]
        self.request_fields = list(dict.fromkeys([*self.key_columns, *self.event_types, *self.model.request_features]))
        # what identifies the requester (A/B stickiness by default): the label keys, else the event views' entities
        self.entity_fields = self.key_columns or sorted({k for ref in self.model.features for k in self.views[ref.view].entity})
        for view, fp in self.meta["view_fingerprints"].items():
            if compiled.views[view].fingerprint != fp:
                raise SkewError(f"view {view!r} changed since model {self.meta['model']} {self.meta['version']} "
                                f"was trained (fingerprint {fp} → {compiled.views[view].fingerprint}): retrain")
        # features are read as of request time minus the offset the model was trained with (model
        # versions from before the rule existed read at the request time itself)
        self.as_of_us = int(self.meta.get("features_as_of_us", 0))
        if self.as_of_us != self.model.features_as_of:
            raise SkewError(f"model {self.meta['model']} {self.meta['version']} was trained with features as of "
                            f"{as_of_rule_text(self.as_of_us)}, its definition now says "
                            f"{as_of_rule_text(self.model.features_as_of)}: retrain")
        self._offset = timedelta(microseconds=self.as_of_us)
        if check_skew:
            stored = store.fingerprints()
            for view, fp in self.meta["view_fingerprints"].items():
                other = stored.get(view, set()) - {fp}
                if other:
                    raise SkewError(f"online store holds view {view!r} built from fingerprint(s) {sorted(other)}, "
                                    f"model {self.meta['model']} was trained on {fp}: replay the view first")

    def _lookups(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[tuple], dict[str, Any]]:
        """The request's own feature values and its store lookups (ref, view, key, store key)."""
        from ..sources.decode import JsonNumber, _coerce

        if not isinstance(request, dict):
            raise RequestError("a request row must be a JSON object")
        missing = [c for c in self.request_fields if c not in request]
        if missing:
            raise RequestError(f"missing field(s): {', '.join(missing)}")
        try:
            keys = {c: _coerce(request[c], self.key_types[c]) for c in self.key_columns}
        except Exception as exc:  # noqa: BLE001 - any value that cannot be the key's type is the caller's error
            raise RequestError(f"bad key value: {exc}") from None
        event = None
        if self.event_types:
            try:
                event = {c: _coerce(request[c], t) for c, t in self.event_types.items()}
            except Exception as exc:  # noqa: BLE001 - the same: a value the source could not hold
                raise RequestError(f"bad event value: {exc}") from None
        values: dict[str, Any] = {c: float(v) if isinstance(v, JsonNumber) else v
                                  for c, v in ((c, request[c]) for c in self.model.request_features)}
        typed: dict[str, Any] = {}  # the request features as their columns' types, for on-demand features
        if self.on_demand:
            try:
                typed = {c: _coerce(request[c], t) for c, t in self.request_types.items()}
            except Exception as exc:  # noqa: BLE001 - a value the label source could not hold
                raise RequestError(f"bad request feature value: {exc}") from None
        lookups: list[tuple[Any, FeatureView, list[Any], tuple[str, str], dict[str, Any] | None]] = []
        for ref in self.model.features:
            view = self.views[ref.view]
            if ref.at == "request_event":
                assert event is not None
                if event.get(view.timestamp) is None:  # as the stream's decoder refuses an event without one
                    raise RequestError(f"the event has no time: {view.timestamp!r} is null")
                row = {c.name: event.get(c.name) for c in view.input_columns}
                key = [row[k] for k in view.entity]
                lookups.append((ref, view, key, (view.name, encode_key(key)), row))
                continue
            join = ref.join or {k: k for k in view.entity}
            key = [keys[join[k]] for k in view.entity]
            lookups.append((ref, view, key, (view.name, encode_key(key)), None))
        return values, lookups, typed

    def _complete(self, values: dict[str, Any], lookups: list[tuple], typed: dict[str, Any], records: dict,
                  t: datetime) -> dict[str, Any]:
        from ..stream.expr import SqlError

        for ref, view, key, store_key, event in lookups:
            try:
                if event is not None:  # the view's row for the request's event (None: its WHERE leaves it out)
                    row = with_event(records.get(store_key), view, event, self.evaluators[ref.view], self.store) or {}
                else:
                    row = as_of_record(records.get(store_key), view, key, t, self.evaluators[ref.view], self.store)
            except SqlError as exc:  # Postgres would refuse to compute this row (overflow, division by zero)
                raise RequestError(f"view {view.name}: {exc}") from None
            except StaleRead as exc:
                if not self.as_of_us:
                    raise
                raise StaleRead(f"{exc} (model {self.meta['model']} reads features as of "
                                f"{as_of_rule_text(self.as_of_us)}: the request's time minus "
                                f"{format_duration(self.as_of_us)})") from None
            for col in ref.columns or self.feature_columns[ref.view]:
                values[f"{ref.view}__{col}"] = row.get(col)
        if self.on_demand:
            env = {**values, **typed}
            for name, fn in self.on_demand:
                try:
                    values[name] = fn(env)
                except SqlError as exc:  # Postgres would refuse the expression on these values
                    raise RequestError(f"on-demand feature {name}: {exc}") from None
        return values

    def _time(self, at: datetime | None) -> datetime:
        """The time the features are read as of: the request's time (default now) minus the
        model's ``features_as_of`` offset, as in its training set."""
        t = at or datetime.now(timezone.utc)
        return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)) - self._offset

    def features(self, request: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        values, lookups, typed = self._lookups(request)
        records = self.store.read_many([lk[3] for lk in lookups])  # one round trip to the store
        return self._complete(values, lookups, typed, records, self._time(at))

    def score(self, request: dict[str, Any], at: datetime | None = None) -> tuple[float, dict[str, Any]]:
        prepared = self.prepare(request)
        return self.finish(prepared, self.store.read_many(self.store_keys(prepared)), at)

    # the three steps of a score, for callers that do the store read themselves (serving: async)
    def prepare(self, request: dict[str, Any]) -> tuple[dict[str, Any], list[tuple], dict[str, Any]]:
        return self._lookups(request)

    @staticmethod
    def store_keys(prepared: tuple) -> list[tuple[str, str]]:
        return [lk[3] for lk in prepared[1]]

    def finish(self, prepared: tuple[dict[str, Any], list[tuple], dict[str, Any]], records: dict,
               at: datetime | None = None) -> tuple[float, dict[str, Any]]:
        values = self._complete(*prepared, records, self._time(at))
        return float(self._predict(self._vector(values))[0]), values

    def score_many(self, rows: list[dict[str, Any]], at: datetime | None = None) -> tuple[list[float], list[dict]]:
        """Many requests: one store round trip for all their lookups, one LightGBM call."""
        parsed = self.prepare_many(rows)
        return self.finish_many(parsed, self.store.read_many(self.store_keys_many(parsed)), at)

    def prepare_many(self, rows: list[dict[str, Any]]) -> list[tuple]:
        parsed = []
        for i, row in enumerate(rows):
            try:
                parsed.append(self._lookups(row))
            except RequestError as exc:
                raise RequestError(f"row {i}: {exc}") from None
        return parsed

    @staticmethod
    def store_keys_many(parsed: list[tuple]) -> list[tuple[str, str]]:
        return list(dict.fromkeys(lk[3] for _, lookups, _ in parsed for lk in lookups))

    def finish_many(self, parsed: list[tuple], records: dict, at: datetime | None = None) -> tuple[list[float], list[dict]]:
        t = self._time(at)
        features = []
        for i, (values, lookups, typed) in enumerate(parsed):
            try:
                features.append(self._complete(values, lookups, typed, records, t))
            except RequestError as exc:
                raise RequestError(f"row {i}: {exc}") from None
        matrix = np.vstack([self._vector(v) for v in features])
        return [float(x) for x in self.booster.predict(matrix, num_threads=1)], features

    def _vector(self, values: dict[str, Any]) -> np.ndarray:
        try:
            return self.spec.vector(values)
        except (TypeError, ValueError) as exc:
            raise RequestError(f"bad feature value: {exc}") from None
