"""Reward posteriors of an arm, in closed form (conjugate priors).

Binary rewards: Beta(α0 + Σr, β0 + n − Σr). Continuous rewards, unknown mean and variance:
Normal-Inverse-Gamma(μ0, κ0, α0, β0) updated with n observations of mean x̄ and squared
deviation S = Σ(x − x̄)²:  κn = κ0 + n, μn = (κ0 μ0 + n x̄) / κn, αn = α0 + n/2,
βn = β0 + S/2 + κ0 n (x̄ − μ0)² / (2 κn); the mean's marginal is Student-t with 2αn degrees
of freedom, location μn and scale √(βn / (αn κn)).

An arm's sufficient statistics are (n, Σr, Σr²) — what the store keeps per arm."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from skewless.compiler.contract import ExperimentDef, PriorDef


@dataclass(frozen=True)
class ArmStats:
    n: int = 0             # decisions with feedback
    total: float = 0.0     # Σ reward
    total_sq: float = 0.0  # Σ reward²


@dataclass(frozen=True)
class BetaPosterior:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        lo = (1 - level) / 2
        return float(sps.beta.ppf(lo, self.alpha, self.beta)), float(sps.beta.ppf(1 - lo, self.alpha, self.beta))

    def sample(self, rng: np.random.Generator, size: int | None = None):
        return rng.beta(self.alpha, self.beta, size)

    def params(self) -> dict:
        return {"family": "beta", "alpha": self.alpha, "beta": self.beta}


@dataclass(frozen=True)
class NormalPosterior:
    """Normal-Inverse-Gamma over (mean, variance) of a continuous reward."""
    mu: float
    kappa: float
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.mu

    def _t(self):
        return sps.t(2 * self.alpha, loc=self.mu, scale=math.sqrt(self.beta / (self.alpha * self.kappa)))

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        lo, hi = self._t().interval(level)
        return float(lo), float(hi)

    def sample(self, rng: np.random.Generator, size: int | None = None):
        """The mean: variance from Inverse-Gamma(α, β), then the mean from N(μ, variance / κ)."""
        variance = self.beta / rng.gamma(self.alpha, 1.0, size)
        return rng.normal(self.mu, np.sqrt(variance / self.kappa))

    def params(self) -> dict:
        return {"family": "normal-inverse-gamma", "mu": self.mu, "kappa": self.kappa, "alpha": self.alpha,
                "beta": self.beta}


Posterior = BetaPosterior | NormalPosterior


def beta_posterior(prior: PriorDef, s: ArmStats) -> BetaPosterior:
    return BetaPosterior(prior.alpha + s.total, prior.beta + s.n - s.total)


def normal_posterior(prior: PriorDef, s: ArmStats) -> NormalPosterior:
    if s.n == 0:
        return NormalPosterior(prior.mean, prior.kappa, prior.alpha, prior.beta)
    xbar = s.total / s.n
    ss = max(s.total_sq - s.n * xbar * xbar, 0.0)  # Σ(x - x̄)²
    kappa = prior.kappa + s.n
    return NormalPosterior((prior.kappa * prior.mean + s.n * xbar) / kappa, kappa, prior.alpha + s.n / 2,
                           prior.beta + ss / 2 + prior.kappa * s.n * (xbar - prior.mean) ** 2 / (2 * kappa))


def posterior(exp: ExperimentDef, s: ArmStats) -> Posterior:
    return beta_posterior(exp.prior, s) if exp.reward == "binary" else normal_posterior(exp.prior, s)


def draw_matrix(posteriors: list[Posterior], rng: np.random.Generator, draws: int) -> np.ndarray:
    """``draws`` joint samples of every arm's mean reward: shape (draws, arms)."""
    return np.column_stack([p.sample(rng, draws) for p in posteriors])


def p_best(posteriors: list[Posterior], rng: np.random.Generator, draws: int) -> np.ndarray:
    """P(arm has the highest mean reward) for each arm — Thompson sampling's probability of
    choosing it, hence the propensity a bandit decision logs. Monte Carlo; ties split evenly."""
    m = draw_matrix(posteriors, rng, draws)
    top = m.max(axis=1, keepdims=True)
    wins = (m == top).astype(float)
    wins /= wins.sum(axis=1, keepdims=True)
    return wins.mean(axis=0)
