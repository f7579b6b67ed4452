"""Tail-index estimators on samples with a known index (fixed seeds): accuracy and spread."""

import numpy as np
import pytest
from scipy.stats import levy_stable

from sgdrepro.heavy_tail.measures import (
    growth_rates,
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


def test_growth_rate_reads_the_exponent_of_growing_chains():
    """x_k = e^(lambda k) z_k with z stationary: the least-squares slope of log||x_k|| is lambda;
    stationary chains read 0; a chain with a non-finite record grew without bound (+inf)."""
    steps = 500 + 15 * np.arange(100)
    z = symmetric_pareto(1.5, (64, 100, 2), seed=7)
    grown = z * np.exp(0.03 * steps)[None, :, None]
    assert np.median(growth_rates(grown, steps)) == pytest.approx(0.03, abs=0.002)
    assert abs(np.median(growth_rates(z, steps))) < 0.002
    z[3, 40:] = np.nan  # diverged at record 40: NaN afterwards, as the trainer stores it
    assert growth_rates(z, steps)[3] == np.inf and np.isfinite(growth_rates(z, steps)[[0, 1, 2, 4]]).all()


def test_vector_block_sum_is_the_block_sum_of_norms_definition():
    """The prefix-sum form against the definition: mean log-norm of block sums minus that of the
    samples (both over the same first n rows), over log K1, median over the block sizes."""
    x = symmetric_stable(1.3, (230, 3), seed=8)
    estimates = []
    for m in (2, 5, 10, 20, 40, 50, 100):
        n = len(x) // m * m
        sums = x[:n].reshape(-1, m, 3).sum(axis=1)
        diff = (np.log(np.linalg.norm(sums, axis=1)).mean() - np.log(np.linalg.norm(x[:n], axis=1)).mean()) / np.log(m)
        estimates.append(1 / diff)
    assert tail_index_block_sum_rows(x) == pytest.approx(np.median(estimates), rel=1e-10)
