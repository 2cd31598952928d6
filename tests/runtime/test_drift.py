"""Drift statistics: PSI by its definition on a hand-computed case, no drift for a sample of the
training distribution, drift on exactly the shifted feature; KS matches scipy's on the raw values
when the reference holds them all."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from skewless.runtime.training.drift import _psi, drift, reference
from skewless.runtime.training.features import FeatureSpec


def test_psi_by_its_definition():
    e, a = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    want = (0.2 - 0.5) * math.log(0.2 / 0.5) + 0 + (0.5 - 0.2) * math.log(0.5 / 0.2)
    assert _psi(e, a) == pytest.approx(want)
    assert _psi(e, e) == 0.0


def spec() -> FeatureSpec:
    return FeatureSpec(["amount", "count", "country"], {"amount": "double", "count": "double", "country": "string"},
                       {"country": ["DE", "FR", "US"]})


def sample(rng, n, shift=0.0, us_share=0.3):
    amount = rng.lognormal(3.3 + shift, 1.0, n)
    amount[rng.random(n) < 0.05] = np.nan  # some missing
    count = rng.poisson(5, n).astype(float)
    country = rng.choice([0.0, 1.0, 2.0], size=n, p=[(1 - us_share) / 2, (1 - us_share) / 2, us_share])
    return np.column_stack([amount, count, country])


def test_same_distribution_is_no_drift_and_a_shift_is_found_where_it_is():
    rng = np.random.default_rng(3)
    ref = reference(spec(), sample(rng, 20_000))
    same = drift(ref, spec(), sample(rng, 3000))
    assert all(d["psi"] < 0.02 for d in same.values()), same
    moved = drift(ref, spec(), sample(rng, 3000, shift=0.6, us_share=0.6))
    assert moved["amount"]["psi"] > 0.25 and moved["amount"]["ks"] > 0.15
    assert moved["country"]["psi"] > 0.25
    assert moved["count"]["psi"] < 0.02  # untouched


def test_ks_equals_scipy_when_the_reference_sample_is_every_value():
    rng = np.random.default_rng(5)
    train, recent = sample(rng, 1500), sample(rng, 400, shift=0.3)
    got = drift(reference(spec(), train), spec(), recent)["amount"]
    a, b = train[:, 0], recent[:, 0]
    want = sps.ks_2samp(a[~np.isnan(a)], b[~np.isnan(b)])
    assert got["ks"] == pytest.approx(want.statistic) and got["ks_p"] == pytest.approx(want.pvalue)


def test_a_category_the_reference_never_saw_counts_as_drift():
    rng = np.random.default_rng(9)
    ref = reference(spec(), sample(rng, 5000))
    recent = sample(rng, 1000)
    recent[:, 2] = np.nan  # every request's category unknown to the version: encoded as missing
    assert drift(ref, spec(), recent)["country"]["psi"] > 1
