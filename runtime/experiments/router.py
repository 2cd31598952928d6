"""Serving's side of an experiment: every arm's `Scorer`, the policy, the decision log.

A request is routed before its features are read: the policy picks the arm from the sticky key
(A/B) or the posteriors (bandit); shadow experiments score every arm. Every arm validates the
request (a request one arm could not answer is a 400 whatever the draw), only the scored arms'
features are read. The decision — request id, arm, version, propensity, the returned score and
each shadow's — is committed to the experiment store before the response leaves, so feedback can
never arrive for a decision the store does not know yet."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from skewless.compiler.contract import ExperimentDef

from ..serving.scorer import RequestError, Scorer
from ..stream.online import encode_key
from .policy import Choice, Policy, make_policy
from .store import Decision, ExperimentStore, now_us

REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


def experiment_id(model: str, exp: ExperimentDef, versions: dict[str, tuple[str, str]]) -> str:
    """``model@digest`` of the experiment's definition and the concrete versions of its arms: a new
    arm version (a retrain behind ``latest``) or a new split is a new experiment, never mixed."""
    body = json.dumps({"def": exp.model_dump(mode="json", exclude={"refresh", "draws"}), "versions": versions},
                      sort_keys=True)
    return f"{model}@{hashlib.sha256(body.encode()).hexdigest()[:12]}"


@dataclass
class Routed:
    request_id: str
    arm: str
    version: str
    score: float
    features: dict[str, Any]
    propensity: float


class ServedExperiment:
    def __init__(self, model: str, exp: ExperimentDef, arms: dict[str, Scorer], store: ExperimentStore,
                 key_columns: list[str]):
        self.model, self.exp, self.arms, self.store = model, exp, arms, store
        self.versions = {a: (s.meta["model"], s.meta["version"]) for a, s in arms.items()}
        self.id = experiment_id(model, exp, self.versions)
        self.sticky = list(exp.sticky_by or key_columns)
        store.register(self.id, model, exp.mode, exp.reward, exp.feedback_window,
                       {"definition": exp.model_dump(mode="json"), "versions": self.versions}, list(arms))
        self.policy: Policy = make_policy(exp)
        self.primary = exp.primary_arm()
        self.meta = {"version": self.id, "model": model}
        self._lock = threading.Lock()
        self._loaded = 0.0
        self.refresh(force=True)

    # -- posteriors shared through the store --------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reload the arms' statistics (every ``refresh``), after applying expired decisions'
        zero rewards when the experiment says so."""
        now = time.monotonic()
        if not force and now - self._loaded < self.exp.refresh / 1e6:
            return
        with self._lock:
            self._loaded = now
            if self.exp.missing_feedback == "zero":
                self.store.expire(self.id, self.exp.feedback_window)
            self.policy.update(self.store.stats(self.id))

    # -- a request -----------------------------------------------------------------------------
    @staticmethod
    def request_id(payload: dict) -> str:
        rid = payload.pop("request_id", None)
        if rid is None:
            return uuid.uuid4().hex
        if not isinstance(rid, str) or not REQUEST_ID.match(rid):
            raise RequestError("request_id must be 1-128 characters of letters, digits, '_', '-', '.', ':'")
        return rid

    def prepare(self, payload: dict) -> tuple[str, str, Choice, dict[str, tuple]]:
        """(request id, sticky key, the policy's choice, prepared request of every arm to score)."""
        rid = self.request_id(payload)
        prepared = {a: s.prepare(payload) for a, s in self.arms.items()}  # every arm validates the request
        try:
            key = encode_key([payload[c] for c in self.sticky])
        except KeyError as exc:
            raise RequestError(f"missing field: {exc.args[0]} (the experiment's sticky key)") from None
        self.refresh()
        choice = self.policy.choose(key)
        scored = prepared if self.exp.mode == "shadow" else {choice.arm: prepared[choice.arm]}
        return rid, key, choice, scored

    def store_keys(self, prepared: tuple) -> list[tuple[str, str]]:
        return list(dict.fromkeys(k for a, p in prepared[3].items() for k in self.arms[a].store_keys(p)))

    def finish(self, prepared: tuple, records: dict, at: datetime | None = None) -> tuple[Decision, Routed]:
        rid, key, choice, scored = prepared
        scores, features = {}, None
        for arm, p in scored.items():
            value, feats = self.arms[arm].finish(p, records, at)
            scores[arm] = value
            if arm == choice.arm:
                features = feats
        model, version = self.versions[choice.arm]
        decision = Decision(rid, self.id, choice.arm, model, version, choice.propensity, scores[choice.arm], scores,
                            key, now_us())
        return decision, Routed(rid, choice.arm, version, scores[choice.arm], features or {}, choice.propensity)

    def log(self, decisions: list[Decision]) -> None:
        self.store.log(decisions)

    def summary(self) -> dict:
        from .report import summarize

        self.refresh(force=True)
        return summarize(self.store, next(e for e in self.store.experiments(self.model) if e["id"] == self.id))


def build_experiments(compiled, store_path: Path | str, scorer_for, models: list[str]) -> dict[str, ServedExperiment]:
    """The experiments of the served ``models``: their arms' scorers (``scorer_for(model,
    version)``), one store for all."""
    out = {}
    store = None
    for name in models:
        model = compiled.project.models[name]
        if model.experiment is None:
            continue
        store = store or ExperimentStore(store_path)
        arms = {a.name: scorer_for(a.model or name, a.version) for a in model.experiment.arms}
        keys = sorted({c for s in arms.values() for c in s.entity_fields})
        out[name] = ServedExperiment(name, model.experiment, arms, store, keys)
    return out
