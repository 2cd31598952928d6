"""Bandit vs A/B simulation (issue 16): arms with known reward rates, delayed feedback; the samples
each design needs to identify the better model at 95%, how often it picks the wrong one, and the
regret (reward lost against always serving the best arm).

The designs, each run on the same arms and the same delays:
  * A/B, fixed horizon: the classical test — equal split, sample size from the power analysis
    (two-sided alpha 0.05, power 0.8, the true difference), z-test at the end;
  * A/B, sequential: equal split, stopped as soon as P(an arm is best) >= 0.95 under the Beta
    posteriors (the same stopping rule as the bandit: only the allocation differs);
  * bandit: skewless's Thompson sampling (runtime/experiments: `ThompsonPolicy`'s posteriors and
    draws), posteriors refreshed every `--refresh` requests from the feedback received by then,
    stopped when P(an arm is best) >= 0.95;
  * bandit-identify: top-two Thompson sampling (`goal: identify`, `TopTwoThompsonPolicy`, β 0.5),
    the same stopping rule.
Feedback for a request arrives after a delay drawn uniformly from [0, 2 x --delay] requests.

Usage: python bench/bandit_simulation.py [--runs 20] [--delay 500] [--refresh 100]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats as sps

from skewless.compiler.config.experiments import ExperimentDef
from skewless.runtime.experiments.policy import make_policy
from skewless.runtime.experiments.posterior import ArmStats, draw_matrix, p_best

SCENARIOS = {
    "2 arms, +25% (4.0% vs 5.0%)": [0.04, 0.05],
    "2 arms, +10% (4.0% vs 4.4%)": [0.04, 0.044],
    "2 arms, +5% (4.0% vs 4.2%)": [0.04, 0.042],
    "6 arms, one +20% (5 x 4.0%, 4.8%)": [0.04] * 5 + [0.048],
}
CONFIDENCE = 0.95


def fixed_horizon_n(rates: list[float]) -> int:
    """Per-arm sample size of a two-sided z-test (alpha 0.05, power 0.8) between the best arm and
    the runner-up; Bonferroni over the comparisons with the best when there are more than two arms."""
    ordered = sorted(rates)
    p1, p2 = ordered[-2], ordered[-1]
    alpha = 0.05 / (len(rates) - 1)
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(0.8)
    return math.ceil(z * z * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2)


def run(rates: list[float], design: str, seed: int, delay: int, refresh: int, cap: int,
        min_feedback: int = 0) -> tuple[int, int, float]:
    """(samples until stopped, arm picked, regret) for one run."""
    k = len(rates)
    rng = np.random.default_rng(seed)
    exp = ExperimentDef(mode="bandit", arms=[{"name": f"a{i}"} for i in range(k)], draws=4000)
    policy = make_policy(exp, np.random.default_rng(seed + 1))
    rates_arr = np.array(rates)
    best = rates_arr.max()
    pending_t, pending_arm, pending_r = [], [], []  # feedback not yet arrived
    n = np.zeros(k)
    s = np.zeros(k)
    t, regret = 0, 0.0
    if design == "ab-fixed":
        per_arm = fixed_horizon_n(rates)
        total = per_arm * k
        arms = np.arange(total) % k
        rewards = rng.random(total) < rates_arr[arms]
        counts = np.bincount(arms, minlength=k)
        means = np.bincount(arms, weights=rewards, minlength=k) / counts
        return total, int(np.argmax(means)), float((best - rates_arr[arms]).sum())
    while t < cap:
        block = refresh
        if design == "bandit":
            draws = draw_matrix(policy.posteriors, rng, block)
            arms = draws.argmax(axis=1)
        elif design == "bandit-identify":  # top-two Thompson sampling (TopTwoThompsonPolicy), vectorised
            lead = draw_matrix(policy.posteriors, rng, block).argmax(axis=1)
            arms = lead.copy()
            todo = rng.random(block) >= 0.5
            for _ in range(100):
                if not todo.any():
                    break
                idx = np.flatnonzero(todo)
                again = draw_matrix(policy.posteriors, rng, len(idx)).argmax(axis=1)
                moved = again != lead[idx]
                arms[idx[moved]] = again[moved]
                todo[idx[moved]] = False
        else:  # ab-sequential: equal split
            arms = (np.arange(t, t + block)) % k
        rewards = (rng.random(block) < rates_arr[arms]).astype(float)
        arrive = t + np.arange(block) + rng.integers(0, 2 * delay + 1, block)
        pending_t.append(arrive), pending_arm.append(arms), pending_r.append(rewards)
        regret += float((best - rates_arr[arms]).sum())
        t += block
        # the feedback that has arrived by now
        at, arm_all, r_all = np.concatenate(pending_t), np.concatenate(pending_arm), np.concatenate(pending_r)
        done = at <= t
        n += np.bincount(arm_all[done], minlength=k)
        s += np.bincount(arm_all[done], weights=r_all[done], minlength=k)
        pending_t, pending_arm, pending_r = [at[~done]], [arm_all[~done]], [r_all[~done]]
        stats = {f"a{i}": ArmStats(int(n[i]), float(s[i]), float(s[i])) for i in range(k)}
        policy.update(stats)
        pb = p_best(policy.posteriors, rng, 4000)
        if pb.max() >= CONFIDENCE and n.sum() >= min_feedback:
            return t, int(pb.argmax()), regret
    return t, -1, regret


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay", type=int, default=500, help="mean feedback delay, in requests")
    parser.add_argument("--refresh", type=int, default=100, help="requests between posterior refreshes")
    parser.add_argument("--cap", type=int, default=3_000_000)
    parser.add_argument("--min-feedback", type=int, default=2000,
                        help="sequential designs stop no earlier than this many rewards received (a burn-in: "
                             "stopping at the first crossing of 0.95 picks the wrong arm too often)")
    args = parser.parse_args()
    print(f"{args.runs} runs per design; feedback delay uniform in [0, {2 * args.delay}] requests; posteriors "
          f"refreshed every {args.refresh} requests; sequential designs stop at P(best) >= {CONFIDENCE} once "
          f"{args.min_feedback:,} rewards have arrived")
    for name, rates in SCENARIOS.items():
        started = time.perf_counter()
        best = int(np.argmax(rates))
        print(f"\n{name}: rates {rates}")
        results = {}
        for design in ("ab-fixed", "ab-sequential", "bandit", "bandit-identify"):
            out = [run(rates, design, 1000 * r + 7, args.delay, args.refresh, args.cap, args.min_feedback)
                   for r in range(args.runs)]
            samples = np.array([o[0] for o in out])
            wrong = sum(o[1] != best for o in out)
            regret = np.array([o[2] for o in out])
            results[design] = np.median(samples)
            print(f"  {design:<14} samples median {np.median(samples):>10,.0f}  p90 {np.percentile(samples, 90):>10,.0f}"
                  f"  wrong arm {wrong:>2}/{len(out)}  regret median {np.median(regret):>8,.1f}"
                  f"  (rewards lost per 1k samples {1000 * np.median(regret / samples):.2f})")
        print(f"  A/B fixed / bandit samples: {results['ab-fixed'] / results['bandit']:.1f}x; "
              f"A/B sequential / bandit: {results['ab-sequential'] / results['bandit']:.1f}x; "
              f"A/B sequential / top-two: {results['ab-sequential'] / results['bandit-identify']:.1f}x   "
              f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
