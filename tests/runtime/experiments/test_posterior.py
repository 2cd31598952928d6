"""Posteriors against closed forms computed another way: the Beta by its definition, the
Normal-Inverse-Gamma by one-observation-at-a-time conjugate updates (not the batch formula the
product uses), its Student-t interval against Monte Carlo draws, P(best) against numerical
integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as sps

from skewless.compiler.config.experiments import PriorDef
from skewless.runtime.experiments.posterior import ArmStats, beta_posterior, normal_posterior, p_best


def stats_of(rewards) -> ArmStats:
    return ArmStats(len(rewards), float(sum(rewards)), float(sum(r * r for r in rewards)))


@given(st.lists(st.sampled_from([0, 1]), max_size=300), st.floats(0.1, 10), st.floats(0.1, 10))
def test_beta_posterior_is_the_prior_plus_successes_and_failures(rewards, a0, b0):
    post = beta_posterior(PriorDef(alpha=a0, beta=b0), stats_of(rewards))
    assert post.alpha == pytest.approx(a0 + rewards.count(1))
    assert post.beta == pytest.approx(b0 + rewards.count(0))
    lo, hi = post.interval(0.95)
    assert lo == pytest.approx(sps.beta(a0 + rewards.count(1), b0 + rewards.count(0)).ppf(0.025))
    assert hi == pytest.approx(sps.beta(a0 + rewards.count(1), b0 + rewards.count(0)).ppf(0.975))


def sequential_nig(prior: PriorDef, xs):
    """Conjugate updates one observation at a time (Murphy 2007, eqs. 85-89 with n = 1)."""
    mu, kappa, alpha, beta = prior.mean, prior.kappa, prior.alpha, prior.beta
    for x in xs:
        mu_new = (kappa * mu + x) / (kappa + 1)
        beta = beta + kappa * (x - mu) ** 2 / (2 * (kappa + 1))
        mu, kappa, alpha = mu_new, kappa + 1, alpha + 0.5
    return mu, kappa, alpha, beta


@settings(max_examples=200)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False), max_size=100), st.floats(-5, 5), st.floats(0.1, 5),
       st.floats(0.5, 5), st.floats(0.1, 5))
def test_normal_inverse_gamma_batch_equals_sequential_updates(xs, m0, k0, a0, b0):
    prior = PriorDef(mean=m0, kappa=k0, alpha=a0, beta=b0)
    post = normal_posterior(prior, stats_of(xs))
    mu, kappa, alpha, beta = sequential_nig(prior, xs)
    assert post.mu == pytest.approx(mu, rel=1e-9, abs=1e-9)
    assert post.kappa == pytest.approx(kappa)
    assert post.alpha == pytest.approx(alpha)
    assert post.beta == pytest.approx(beta, rel=1e-6, abs=1e-6)


def test_normal_interval_and_samples_agree():
    post = normal_posterior(PriorDef(mean=0, kappa=1, alpha=2, beta=2), stats_of([1.0, 2.5, 0.5, 3.0, 2.0, 1.5]))
    draws = post.sample(np.random.default_rng(1), 400_000)
    lo, hi = post.interval(0.95)
    assert np.quantile(draws, 0.025) == pytest.approx(lo, abs=0.02)
    assert np.quantile(draws, 0.975) == pytest.approx(hi, abs=0.02)
    assert draws.mean() == pytest.approx(post.mean, abs=0.01)


def test_p_best_of_two_betas_equals_the_integral():
    a, b = beta_posterior(PriorDef(), ArmStats(40, 12, 12)), beta_posterior(PriorDef(), ArmStats(30, 12, 12))
    # P(B > A) = ∫ f_B(x) F_A(x) dx
    exact, _ = integrate.quad(lambda x: sps.beta.pdf(x, b.alpha, b.beta) * sps.beta.cdf(x, a.alpha, a.beta), 0, 1)
    est = p_best([a, b], np.random.default_rng(5), 200_000)
    assert est[1] == pytest.approx(exact, abs=0.005)
    assert est.sum() == pytest.approx(1.0)
    assert math.isclose(est[0], 1 - exact, abs_tol=0.005)
