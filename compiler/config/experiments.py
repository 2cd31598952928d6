"""Online experiments of a model (``experiment:`` in ``models/*.yml``): which model versions serve
its requests at once and how a request is routed among them.

* ``shadow``: the primary arm answers; every other arm is scored on the same request and logged,
  never returned.
* ``ab``: a fixed traffic split, sticky by entity key (a key always meets the same arm) and
  seeded (another seed reshuffles the keys).
* ``bandit``: Thompson sampling over each arm's posterior reward — Beta for binary rewards,
  Normal-Inverse-Gamma (Student-t mean) for continuous ones — learned from the feedback.

Rewards arrive later (``POST /feedback`` or a Kafka topic) and join the logged decision by request
id; ``feedback_window`` bounds how late. docs/experiments.md has the whole story."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, model_validator

from .base import Frozen, Identifier
from .duration import format_duration, parse_duration

LATEST = "latest"

# a duration in µs, written back as text ("7d") so a dumped definition validates again
Duration = Annotated[int, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)]


class ArmDef(Frozen):
    name: Identifier
    model: Identifier | None = None  # default: the model the experiment belongs to
    version: str = LATEST            # a version of target/models/<model>/ (e.g. v20261130T020152) or latest


class PriorDef(Frozen):
    """Binary rewards: Beta(alpha, beta). Continuous rewards: Normal-Inverse-Gamma(mean, kappa,
    alpha, beta) — the mean's prior is centred on ``mean`` worth ``kappa`` observations, the
    variance's is Inverse-Gamma(alpha, beta)."""
    alpha: float = Field(1.0, gt=0)
    beta: float = Field(1.0, gt=0)
    mean: float = 0.0
    kappa: float = Field(1.0, gt=0)


class ExperimentDef(Frozen):
    mode: Literal["shadow", "ab", "bandit"]
    arms: list[ArmDef] = Field(min_length=2)
    primary: Identifier | None = None          # shadow: the arm whose score is returned (default: the first)
    weights: list[float] | None = None         # ab: traffic share per arm, in arm order (default: equal)
    seed: int = 0                              # ab: salt of the sticky assignment
    sticky_by: list[Identifier] | None = None  # ab: request fields (default: the model's entity key columns)
    reward: Literal["binary", "continuous"] = "binary"
    prior: PriorDef = PriorDef()
    feedback_window: Duration = 7 * 86_400 * 1_000_000   # feedback later than this after the decision is refused
    missing_feedback: Literal["ignore", "zero"] = "ignore"  # a decision without feedback after the window
    refresh: Duration = 1_000_000            # how often a serving worker reloads the shared posteriors
    draws: int = Field(4000, ge=100, le=1_000_000)  # Monte Carlo draws for propensities and P(best)
    # bandit: "reward" — Thompson sampling (earn while learning); "identify" — top-two Thompson sampling
    # (find the best arm in fewer samples: the leader with probability top_two, else the runner-up)
    goal: Literal["reward", "identify"] = "reward"
    top_two: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> "ExperimentDef":
        names = [a.name for a in self.arms]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"arm names must be unique: {', '.join(dup)}")
        if self.primary is not None and self.primary not in names:
            raise ValueError(f"primary {self.primary!r} is not an arm ({', '.join(names)})")
        if self.weights is not None:
            if self.mode != "ab":
                raise ValueError("weights are for mode: ab")
            if len(self.weights) != len(self.arms):
                raise ValueError(f"{len(self.weights)} weights for {len(self.arms)} arms")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        if self.goal != "reward" and self.mode != "bandit":
            raise ValueError("goal is for mode: bandit")
        if self.reward == "binary" and self.prior.mean != 0.0:
            raise ValueError("prior.mean is for continuous rewards (binary rewards: prior alpha and beta)")
        return self

    def arm_weights(self) -> list[float]:
        w = self.weights or [1.0] * len(self.arms)
        total = sum(w)
        return [x / total for x in w]

    def primary_arm(self) -> str:
        return self.primary or self.arms[0].name
