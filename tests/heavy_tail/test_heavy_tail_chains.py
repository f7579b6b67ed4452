"""The bootstrap over chains: resampled estimates equal the plain estimators on the resampled sample."""

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from sgdrepro.heavy_tail.analysis import linreg_estimates, spearman
from sgdrepro.heavy_tail.chains import alpha_block, alpha_hill, chain_points
from sgdrepro.heavy_tail.claims import crossing
from sgdrepro.heavy_tail.measures import (
    hill_table,
    symmetric_pareto,
    tail_index_block_sum,
    tail_index_hill,
    tail_index_hill_weighted,
)

ANALYSIS = {"hill_k_fraction": 0.01, "block_sizes": [2, 5, 10, 20, 40, 50, 100], "growth_tolerance": 0.005}
TOL = ANALYSIS["growth_tolerance"]


def _dataset(n_chains=40, n_records=60, dead=(3, 7)):
    """linreg-shaped data: 2 step sizes x 2 dims (d = 1 padded), Pareto(1.5) errors, two chains diverged."""
    error = symmetric_pareto(1.5, (2, 1, 2, 1, n_chains, n_records, 2), seed=1)
    error[:, :, 0, :, :, :, 1] = np.nan  # d = 1: the second coordinate is padding
    diverged = np.full((2, 1, 2, 1, n_chains), -1)
    for chain in dead:  # diverged at step 30: finite records before, NaN after (as the trainer stores them)
        diverged[..., chain] = 30
        error[..., chain, 30:, :] = np.nan
    dims = ("lr", "batch_size", "dim", "sigma")
    return xr.Dataset({"error": ((*dims, "seed", "step", "coord"), error), "diverged_step": ((*dims, "seed"), diverged)},
                      coords={"lr": [0.4, 0.6], "batch_size": [2], "dim": [1, 2], "sigma": [1.0], "seed": np.arange(n_chains),
                              "step": np.arange(n_records), "coord": [0, 1]})


def test_every_chain_once_gives_linreg_estimates():
    ds = _dataset()
    est = linreg_estimates(ds, ANALYSIS)
    for p in chain_points(ds, TOL):
        point = est.sel(lr=p.lr, batch_size=p.batch_size, dim=p.dim, sigma=p.sigma)
        whole = np.arange(p.n_chains)
        assert alpha_hill(p, whole, 0.01) == pytest.approx(float(point.alpha_hill), rel=1e-12)
        assert alpha_block(p, whole, ANALYSIS["block_sizes"]) == pytest.approx(float(point.alpha_block), rel=1e-12)
        assert p.alpha_theory == pytest.approx(float(point.alpha_theory), rel=1e-12)


def test_resampled_estimates_are_the_estimators_on_the_resampled_chains():
    ds = _dataset()
    p = chain_points(ds, TOL)[1]
    alive = ~np.isin(np.arange(p.n_chains), (3, 7))
    rng = np.random.default_rng(2)
    for _ in range(5):
        idx = rng.integers(0, p.n_chains, p.n_chains)
        kept = idx[alive[idx]]
        samples = np.transpose(p.errors[kept], (1, 2, 0))
        assert alpha_hill(p, idx, 0.01) == pytest.approx(tail_index_hill(samples, 0.01), rel=1e-12)
        assert alpha_block(p, idx, ANALYSIS["block_sizes"]) == pytest.approx(
            tail_index_block_sum(samples, ANALYSIS["block_sizes"]), rel=1e-12)


def test_too_many_dead_chains_in_a_resample_give_no_estimate():
    p = chain_points(_dataset(), TOL)[0]
    assert np.isnan(alpha_hill(p, np.array([3, 7, 7, 1]), 0.01))
    assert np.isnan(alpha_block(p, np.array([3, 7, 7, 1]), ANALYSIS["block_sizes"]))


@pytest.mark.parametrize("k_fraction", [0.01, 0.05, 0.3])
def test_weighted_hill_equals_hill_on_the_repeated_sample(k_fraction):
    x = symmetric_pareto(2.5, (30, 50), seed=4)
    x[2, :5] = 0.0  # zeros are dropped
    x[4, 7] = x[4, 8]  # a tie
    table = hill_table(x)
    counts = np.random.default_rng(5).integers(0, 4, 30)
    assert tail_index_hill_weighted(table, counts, k_fraction) == pytest.approx(
        tail_index_hill(np.repeat(x, counts, axis=0), k_fraction), rel=1e-12)


def test_spearman_equals_scipy_with_ties_and_nan():
    rng = np.random.default_rng(6)
    for _ in range(50):
        x, y = rng.integers(0, 4, 10).astype(float), rng.normal(size=10)
        y[2] = np.nan
        keep = np.isfinite(y)
        assert spearman(x, y) == pytest.approx(stats.spearmanr(x[keep], y[keep]).statistic, abs=1e-12)


def test_crossing_interpolates_log_alpha_in_log_eta():
    lrs = [0.2, 0.4, 0.8]
    alphas = [8.0, 4.0, 1.0]  # log-linear in log eta between 0.4 and 0.8: 2 at eta = 0.4 * 2^(1/2)
    assert crossing(lrs, alphas) == pytest.approx(0.4 * 2**0.5)
    assert np.isnan(crossing(lrs, [8.0, 4.0, 3.0]))


def test_block_bootstrap_thins_records_beyond_its_sample_cap(monkeypatch):
    from sgdrepro.heavy_tail import claims

    p = chain_points(_dataset(), TOL)[1]  # 40 chains x 60 records x 2 coordinates
    assert claims._block_stride(p) == 1  # 4,800 samples: quick and tiny scales are not thinned
    monkeypatch.setattr(claims, "BLOCK_BOOTSTRAP_SAMPLES", 1000)
    stride = claims._block_stride(p)
    thin = claims._thinned(p, stride)
    assert stride == 5 and thin.errors.shape == (40, 12, 2) and thin.lr == p.lr and thin.alpha_theory == p.alpha_theory
    whole = np.arange(p.n_chains)
    samples = np.transpose(p.errors[p.alive][:, ::5], (1, 2, 0))
    assert alpha_block(thin, whole, ANALYSIS["block_sizes"]) == pytest.approx(
        tail_index_block_sum(samples, ANALYSIS["block_sizes"]), rel=1e-12)


def test_a_growing_point_has_no_stationary_law_and_no_tail_index():
    """Finite data (no theory): the point whose chains grow like e^(0.02 k) is classified
    non-stationary, by linreg_estimates and by chain_points alike, and gets no tail index
    anywhere; the others keep theirs. Streaming data: the theory's sign decides."""
    ds = _dataset(dead=())
    grow = np.exp(0.02 * ds.step.values)[:, None]
    ds["error"][dict(lr=1)] = ds["error"][dict(lr=1)] * grow
    est = linreg_estimates(ds, ANALYSIS)
    assert est.stationary.values[:, 0, :, 0].tolist() == [[True, True], [False, False]]
    assert np.isnan(est.alpha_hill.values[1]).all() and np.isfinite(est.alpha_hill.values[0]).all()
    assert est.growth_rate.values[1].ravel() == pytest.approx(0.02, abs=0.003)
    for p in chain_points(ds, TOL):
        assert p.stationary == (p.lr == 0.4)
        assert np.isnan(alpha_block(p, np.arange(p.n_chains), ANALYSIS["block_sizes"])) == (p.lr != 0.4)
    ds.attrs["setting"] = "streaming"  # eta = 0.4, 0.6 with b = 2, d <= 2: E log||M e_1|| < 0, stationary
    assert linreg_estimates(ds, ANALYSIS).stationary.values.all()


def test_averaged_estimate_is_the_vector_block_sum_of_the_distinct_chains():
    from sgdrepro.heavy_tail.chains import alpha_averaged
    from sgdrepro.heavy_tail.measures import symmetric_stable, tail_index_block_sum_rows

    ds = _dataset()
    ds["error_avg"] = (("lr", "batch_size", "dim", "sigma", "seed", "coord"), symmetric_stable(1.2, (2, 1, 2, 1, 40, 2), 9))
    p = chain_points(ds, TOL)[3]  # d = 2; chains 3 and 7 diverged
    whole = np.arange(p.n_chains)
    alive = np.setdiff1d(whole, (3, 7))
    assert alpha_averaged(p, whole, ANALYSIS["block_sizes"]) == pytest.approx(
        tail_index_block_sum_rows(p.averages[alive], ANALYSIS["block_sizes"]), rel=1e-12)
    assert float(linreg_estimates(ds, ANALYSIS).alpha_block_avg.values[1, 0, 1, 0]) == pytest.approx(
        alpha_averaged(p, whole, ANALYSIS["block_sizes"]), rel=1e-12)
    idx = np.array([5, 5, 9, 3, 0, 9, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22])  # repeats and a dead chain
    assert alpha_averaged(p, idx, ANALYSIS["block_sizes"]) == pytest.approx(
        tail_index_block_sum_rows(p.averages[[5, 9, 0, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22]], ANALYSIS["block_sizes"]))
