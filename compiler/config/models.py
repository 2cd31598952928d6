"""Model definitions (``models/*.yml``): LightGBM models over feature views."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Frozen, Identifier


class LabelDef(Frozen):
    source: Identifier
    column: Identifier
    timestamp: Identifier | None = None  # defaults to the source's timestamp column


class FeatureRef(Frozen):
    view: Identifier
    columns: list[Identifier] | None = None  # default: every non-key column of the view
    join: dict[Identifier, Identifier] | None = None  # view entity column -> label column


class ModelDef(Frozen):
    name: Identifier
    description: str = ""
    label: LabelDef
    features: list[FeatureRef] = Field(min_length=1)
    request_features: list[Identifier] = []  # label-source columns known at request time
    categorical: list[Identifier] = []
    baseline_features: list[Identifier] | None = None
    objective: Literal["binary", "regression"] = "binary"
    params: dict[str, Any] = {}
    num_boost_round: int = Field(500, ge=1)
    early_stopping_rounds: int = Field(50, ge=1)
    validation_fraction: float = Field(0.2, gt=0, lt=1)


class ModelsFile(Frozen):
    models: list[ModelDef]
