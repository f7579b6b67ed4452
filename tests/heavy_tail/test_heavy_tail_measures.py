"""Tail-index estimators on samples with a known index (fixed seeds): accuracy and spread."""

import numpy as np
import pytest
from scipy.stats import levy_stable

from sgdrepro.heavy_tail.measures import (
    symmetric_pareto,
    symmetric_stable,
    tail_index_block_sum,
    tail_index_block_sum_rows,
    tail_index_hill,
)


@pytest.mark.parametrize("alpha", [0.6, 1.0, 1.5, 1.9])
def test_block_sum_on_symmetric_stable(alpha):
    # 20 replicates of 10^4 draws: mean within 5% of alpha, spread (sd) below 8%
    estimates = [tail_index_block_sum(symmetric_stable(alpha, 10_000, seed)) for seed in range(20)]
    assert np.mean(estimates) == pytest.approx(alpha, rel=0.05)
    assert np.std(estimates) < 0.08 * alpha


def test_chambers_mallows_stuck_matches_scipy_levy_stable():
    # same law: compare quantiles of our draws with scipy's distribution function
    x = symmetric_stable(1.3, 200_000, seed=1)
    for q in (0.6, 0.75, 0.9, 0.99):
        assert np.quantile(x, q) == pytest.approx(levy_stable.ppf(q, 1.3, 0.0), rel=0.03)


def test_block_sum_saturates_at_two_for_finite_variance():
    gauss = np.random.default_rng(0).standard_normal(20_000)
    assert tail_index_block_sum(gauss) == pytest.approx(2.0, abs=0.1)


def test_block_sum_rows_on_isotropic_stable_vectors():
    # a product of independent coordinates is not isotropic, but each norm still has tail index alpha
    x = np.stack([symmetric_stable(1.2, 10_000, seed) for seed in range(3)], axis=1)
    assert tail_index_block_sum_rows(x) == pytest.approx(1.2, rel=0.1)


@pytest.mark.parametrize("alpha", [0.8, 1.5, 3.0, 5.0])
def test_hill_on_symmetric_pareto(alpha):
    estimates = [tail_index_hill(symmetric_pareto(alpha, 20_000, seed), k_fraction=0.01) for seed in range(20)]
    # k = 200 order statistics: the Hill estimator is unbiased for exact Pareto with sd alpha / sqrt(k) ~ 7%
    assert np.mean(estimates) == pytest.approx(alpha, rel=0.04)
    assert np.std(estimates) < 0.12 * alpha


@pytest.mark.parametrize("alpha", [0.7, 1.5])
def test_hill_on_symmetric_stable(alpha):
    estimate = tail_index_hill(symmetric_stable(alpha, 50_000, seed=3), k_fraction=0.01)
    assert estimate == pytest.approx(alpha, rel=0.15)


def test_nonfinite_samples_are_dropped_and_too_few_give_nan():
    x = symmetric_pareto(2.0, 5000, seed=0)
    with_nan = np.concatenate([x, [np.nan, np.inf]])
    assert tail_index_hill(with_nan) == tail_index_hill(x)
    assert tail_index_block_sum(with_nan) == tail_index_block_sum(x)
    assert np.isnan(tail_index_block_sum(np.ones(3)))
    assert np.isnan(tail_index_hill(np.array([1.0])))
