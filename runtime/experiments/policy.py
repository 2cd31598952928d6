"""Choosing the arm that answers a request, and the probability of that choice (its propensity:
what offline policy evaluation — IPS — divides by).

* shadow: always the primary (propensity 1); the other arms are scored beside it.
* ab: a fixed split, sticky and seeded: the arm is a pure function of (seed, the request's sticky
  key), so a key meets the same arm in every worker and after every restart; propensity = its weight.
* bandit: Thompson sampling — one draw from every arm's posterior, the largest wins; propensity =
  P(arm is best) under the posteriors the choice was drawn from (Monte Carlo, ``draws`` samples)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from skewless.compiler.contract import ExperimentDef

from .posterior import ArmStats, Posterior, p_best, posterior


@dataclass(frozen=True)
class Choice:
    arm: str
    propensity: float


def unit_hash(seed: int, key: str) -> float:
    """A uniform number in [0, 1) from (seed, key): stable across processes and versions."""
    digest = hashlib.blake2b(f"{seed}\x1f{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0 ** 64


class Policy:
    def __init__(self, exp: ExperimentDef):
        self.exp = exp
        self.arms = [a.name for a in exp.arms]

    def update(self, stats: dict[str, ArmStats]) -> None:
        """The arms' feedback so far (bandits learn from it; fixed splits ignore it)."""

    def choose(self, key: str) -> Choice:
        raise NotImplementedError

    def propensities(self) -> dict[str, float]:
        raise NotImplementedError


class ShadowPolicy(Policy):
    def choose(self, key: str) -> Choice:
        return Choice(self.exp.primary_arm(), 1.0)

    def propensities(self) -> dict[str, float]:
        return {a: 1.0 if a == self.exp.primary_arm() else 0.0 for a in self.arms}


class ABPolicy(Policy):
    def __init__(self, exp: ExperimentDef):
        super().__init__(exp)
        self.weights = exp.arm_weights()
        self.cuts = np.cumsum(self.weights)

    def choose(self, key: str) -> Choice:
        i = int(np.searchsorted(self.cuts, unit_hash(self.exp.seed, key), side="right"))
        i = min(i, len(self.arms) - 1)
        while self.weights[i] == 0:  # rounding at a cut next to a zero weight
            i -= 1
        return Choice(self.arms[i], self.weights[i])

    def propensities(self) -> dict[str, float]:
        return dict(zip(self.arms, self.weights))


class ThompsonPolicy(Policy):
    def __init__(self, exp: ExperimentDef, rng: np.random.Generator | None = None):
        super().__init__(exp)
        self.rng = rng or np.random.default_rng(int.from_bytes(os.urandom(8), "big"))
        self.update({})

    def update(self, stats: dict[str, ArmStats]) -> None:
        self.posteriors: list[Posterior] = [posterior(self.exp, stats.get(a, ArmStats())) for a in self.arms]
        self._p = p_best(self.posteriors, self.rng, self.exp.draws)

    def choose(self, key: str) -> Choice:
        draws = [p.sample(self.rng) for p in self.posteriors]
        i = int(np.argmax(draws))
        # a draw can pick an arm the Monte Carlo estimate never saw win: floor at one draw's worth
        return Choice(self.arms[i], max(float(self._p[i]), 1.0 / self.exp.draws))

    def propensities(self) -> dict[str, float]:
        return {a: float(p) for a, p in zip(self.arms, self._p)}


class TopTwoThompsonPolicy(ThompsonPolicy):
    """Top-two Thompson sampling (Russo 2016) for best-arm identification: draw from the
    posteriors; with probability ``top_two`` (β) play the leader, else draw again until another arm
    leads and play that one. Thompson sampling stops exploring the runners-up once it is fairly sure;
    this keeps measuring the closest challenger, so P(best) rises faster. Re-drawing stops after
    K = 100 draws (the leader is then kept), so given each arm's P(best) p the probability of
    choosing arm i is β p_i + (1 − β) [p_i^(K+1) + Σ_{j≠i} p_j p_i (1 − p_j^K) / (1 − p_j)]
    (re-drawing until the leader is not j picks i with p_i / (1 − p_j), if it happens within K)."""

    MAX_REDRAWS = 100

    def choose(self, key: str) -> Choice:
        first = int(np.argmax([p.sample(self.rng) for p in self.posteriors]))
        i = first
        if self.rng.random() >= self.exp.top_two:
            for _ in range(self.MAX_REDRAWS):  # a leader this sure: keep it (the propensity floors it)
                i = int(np.argmax([p.sample(self.rng) for p in self.posteriors]))
                if i != first:
                    break
            else:
                i = first
        return Choice(self.arms[i], max(float(self._q[i]), 1.0 / self.exp.draws))

    def update(self, stats: dict[str, ArmStats]) -> None:
        super().update(stats)
        self._q = top_two_propensities(self._p, self.exp.top_two, self.MAX_REDRAWS)

    def propensities(self) -> dict[str, float]:
        return {a: float(q) for a, q in zip(self.arms, self._q)}


def top_two_propensities(p: np.ndarray, beta: float, redraws: int = 100) -> np.ndarray:
    """P(top-two Thompson sampling chooses each arm) from each arm's P(best), re-drawing at most
    ``redraws`` times (`TopTwoThompsonPolicy`)."""
    p = np.asarray(p, dtype=float)
    geometric = np.array([sum(x ** k for k in range(redraws)) for x in p])  # (1 - p^K) / (1 - p), stable at p = 1
    moved = p * geometric  # Σ_j p_j (1 - p_j^K) / (1 - p_j), per j
    q = beta * p + (1 - beta) * (p ** (redraws + 1) + p * (moved.sum() - moved))
    return q / q.sum() if q.sum() > 0 else np.full(len(p), 1 / len(p))


def make_policy(exp: ExperimentDef, rng: np.random.Generator | None = None) -> Policy:
    if exp.mode == "shadow":
        return ShadowPolicy(exp)
    if exp.mode == "ab":
        return ABPolicy(exp)
    if exp.goal == "identify":
        return TopTwoThompsonPolicy(exp, rng)
    return ThompsonPolicy(exp, rng)
