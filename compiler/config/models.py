"""Model definitions (``models/*.yml``): LightGBM models over feature views."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from .base import Frozen, Identifier
from .duration import format_duration, parse_duration
from .experiments import Duration, ExperimentDef

_AS_OF = re.compile(r"^\s*label_time\s*(?:-\s*(.+?))?\s*$")


def parse_as_of_rule(value: Any) -> int:
    """``features_as_of``: ``label_time`` (0) or ``label_time - <duration>`` → the duration in µs."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value  # already parsed (a model copied with its rule)
    m = _AS_OF.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"features_as_of {value!r}: write `label_time - 1us` (the default: strictly before the "
                         f"label's time), `label_time - 5 minutes`, or `label_time` (the label's own events included)")
    return parse_duration(m.group(1)) if m.group(1) else 0


def as_of_rule_text(us: int) -> str:
    return "label_time" if us == 0 else f"label_time - {format_duration(us)}"


AsOfRule = Annotated[int, BeforeValidator(parse_as_of_rule)]


class LabelDef(Frozen):
    source: Identifier
    column: Identifier
    timestamp: Identifier | None = None  # defaults to the source's timestamp column


class FeatureRef(Frozen):
    view: Identifier
    columns: list[Identifier] | None = None  # default: every non-key column of the view
    join: dict[Identifier, Identifier] | None = None  # view entity column -> label column
    # as_of: the view as of the label's time (semantics §1.2); request_event: the view's row for the
    # scored event itself, with it appended to the source (§1.3) — training joins each label to the
    # per-event row of its event (the view source's unique key, in the label source), serving computes
    # it from the store with the request's event (nothing recorded)
    at: Literal["as_of", "request_event"] = "as_of"


class FeatureLogDef(Frozen):
    """Log-and-wait: every scored request's exact feature vector, written by ``serve`` to Parquet
    under target/feature_log/<model>/<version>/ (runtime/serving/feature_log.py)."""
    enabled: bool = True
    rotate_rows: int = Field(10_000, ge=1)        # a file per this many rows ...
    rotate_seconds: float = Field(60.0, gt=0)     # ... or this many seconds (checked on each request)
    keep_files: int = Field(1000, ge=1)           # the oldest files of the model's log beyond this are deleted
    kafka_topic: str | None = None                # also send each row (JSON) to this topic ...
    kafka_brokers: list[str] | None = None        # ... on these brokers (default: the target's stream brokers)


class RetrainDef(Frozen):
    """When ``skewless retrain`` refits the model (runtime/training/triggers.py)."""
    every: Duration | None = None                  # (a) schedule: the champion is older than this
    psi: float | None = Field(0.2, gt=0)          # (b) drift: a feature's PSI over this ...
    ks: float | None = Field(None, gt=0, le=1)    # ... or its Kolmogorov-Smirnov statistic over this
    window: Duration = 86_400 * 1_000_000         # drift and performance: the logged requests of this long
    min_rows: int = Field(200, ge=1)              # fewer logged requests than this: no drift verdict
    auc_drop: float | None = Field(0.05, gt=0)    # (c) logged-label AUC below the champion's by this
    method: Literal["continue", "refit", "full"] = "continue"
    promote: bool = False                         # the new version becomes champion (else challenger)


class ModelDef(Frozen):
    name: Identifier
    description: str = ""
    label: LabelDef
    features: list[FeatureRef] = Field(min_length=1)
    request_features: list[Identifier] = []  # label-source columns known at request time
    # features computed at request time: name -> a SQL expression over the request features and the
    # model's view features (`<view>__<column>`), evaluated by the registry's evaluator (Postgres's
    # semantics) at serving and over each training-set row
    on_demand: dict[Identifier, str] = {}
    categorical: list[Identifier] = []
    baseline_features: list[Identifier] | None = None
    objective: Literal["binary", "regression"] = "binary"
    params: dict[str, Any] = {}
    num_boost_round: int = Field(500, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    validation_fraction: float = Field(0.2, gt=0, lt=1)
    # features are read as of (label time - this many µs), in training sets and serving alike. The
    # default, 1 µs, reads strictly before the label's time: an event at the label's own time (the
    # event being labelled) never reaches its own features, whatever the frame (LAG, ROWS, RANGE)
    features_as_of: AsOfRule = 1
    # several versions served at once: shadow, A/B or bandit routing (compiler/config/experiments.py)
    experiment: ExperimentDef | None = None
    feature_log: FeatureLogDef | None = None
    retrain: RetrainDef = RetrainDef()


class ModelsFile(Frozen):
    models: list[ModelDef]
