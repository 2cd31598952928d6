"""Routing: A/B assignment is a sticky, seeded function of the key with the configured shares;
Thompson sampling chooses each arm with the probability it logs as its propensity; shadow always
answers with the primary."""

from __future__ import annotations

import numpy as np
import pytest

from skewless.compiler.config.experiments import ExperimentDef
from skewless.runtime.experiments.policy import make_policy
from skewless.runtime.experiments.posterior import ArmStats

ARMS = [{"name": "a"}, {"name": "b"}, {"name": "c"}]


def ab(weights, seed=0):
    return make_policy(ExperimentDef(mode="ab", arms=ARMS, weights=weights, seed=seed))


def test_ab_is_sticky_seeded_and_splits_by_the_weights():
    keys = [f"user{i}" for i in range(30_000)]
    first = [ab([0.5, 0.3, 0.2]).choose(k) for k in keys]
    again = [ab([0.5, 0.3, 0.2]).choose(k) for k in keys]  # another process: the same assignment
    assert first == again
    counts = {a: sum(c.arm == a for c in first) for a in "abc"}
    for arm, w in zip("abc", [0.5, 0.3, 0.2]):
        sd = (len(keys) * w * (1 - w)) ** 0.5
        assert abs(counts[arm] - len(keys) * w) < 4 * sd, counts
    assert {c.propensity for c in first if c.arm == "b"} == {0.3}
    reseeded = [ab([0.5, 0.3, 0.2], seed=1).choose(k).arm for k in keys]
    assert 0.4 < np.mean([x.arm != y for x, y in zip(first, reseeded)]) < 0.8  # a new seed reshuffles
    assert all(ab([0.5, 0, 0.5]).choose(k).arm != "b" for k in keys[:5000])  # a zero weight gets nothing


def test_thompson_chooses_each_arm_with_its_logged_propensity():
    exp = ExperimentDef(mode="bandit", arms=ARMS[:2], draws=50_000)
    policy = make_policy(exp, np.random.default_rng(11))
    policy.update({"a": ArmStats(50, 20, 20), "b": ArmStats(40, 19, 19)})
    choices = [policy.choose("k") for _ in range(40_000)]
    share_b = np.mean([c.arm == "b" for c in choices])
    logged_b = next(c.propensity for c in choices if c.arm == "b")
    assert share_b == pytest.approx(logged_b, abs=0.015)
    assert sum(policy.propensities().values()) == pytest.approx(1.0)


def test_top_two_thompson_chooses_each_arm_with_its_logged_propensity():
    from skewless.runtime.experiments.policy import top_two_propensities

    exp = ExperimentDef(mode="bandit", arms=ARMS, goal="identify", draws=60_000)
    policy = make_policy(exp, np.random.default_rng(3))
    policy.update({"a": ArmStats(100, 30, 30), "b": ArmStats(100, 33, 33), "c": ArmStats(100, 24, 24)})
    choices = [policy.choose("k") for _ in range(30_000)]
    for arm, logged in policy.propensities().items():
        assert np.mean([c.arm == arm for c in choices]) == pytest.approx(logged, abs=0.015)
    # the closed form by its definition, unbounded re-draws: beta p_i + (1 - beta) sum_j p_j p_i / (1 - p_j)
    p = np.array([0.6, 0.3, 0.1])
    want = [0.5 * p[i] + 0.5 * sum(p[j] * p[i] / (1 - p[j]) for j in range(3) if j != i) for i in range(3)]
    assert top_two_propensities(p, 0.5, redraws=10_000) == pytest.approx(want)
    # it keeps measuring the runner-up where Thompson sampling stops
    plain = make_policy(ExperimentDef(mode="bandit", arms=ARMS[:2], draws=200_000), np.random.default_rng(3))
    top2 = make_policy(ExperimentDef(mode="bandit", arms=ARMS[:2], goal="identify", draws=200_000),
                       np.random.default_rng(3))
    for pol in (plain, top2):
        pol.update({"a": ArmStats(600, 180, 180), "b": ArmStats(600, 150, 150)})
    assert plain.propensities()["b"] < 0.05 and top2.propensities()["b"] > 0.45


def test_thompson_starts_uniform_and_learns():
    policy = make_policy(ExperimentDef(mode="bandit", arms=ARMS[:2]), np.random.default_rng(2))
    assert policy.propensities()["a"] == pytest.approx(0.5, abs=0.03)
    policy.update({"a": ArmStats(200, 20, 20), "b": ArmStats(200, 60, 60)})
    assert policy.propensities()["b"] > 0.99


def test_shadow_always_answers_with_the_primary():
    policy = make_policy(ExperimentDef(mode="shadow", arms=ARMS, primary="b"))
    assert {policy.choose(f"k{i}").arm for i in range(100)} == {"b"}
    assert policy.choose("k").propensity == 1.0


@pytest.mark.parametrize("bad, why", [
    ({"mode": "ab", "arms": ARMS, "weights": [1, 2]}, "3 arms"),
    ({"mode": "bandit", "arms": ARMS, "weights": [1, 1, 1]}, "weights are for mode: ab"),
    ({"mode": "shadow", "arms": ARMS, "primary": "z"}, "not an arm"),
    ({"mode": "ab", "arms": [{"name": "a"}, {"name": "a"}]}, "unique"),
    ({"mode": "ab", "arms": [{"name": "a"}]}, "at least 2"),
    ({"mode": "ab", "arms": ARMS, "feedback_window": "3 months"}, "months"),
    ({"mode": "ab", "arms": ARMS, "goal": "identify"}, "goal is for mode: bandit"),
])
def test_bad_definitions_are_refused(bad, why):
    with pytest.raises(ValueError, match=why):
        ExperimentDef.model_validate(bad)
