"""SGD steps: the O(b + d) streaming sampler has the law of literal SGD; batching and sampling."""

import logging

import numpy as np
import pytest
import torch

from sgdrepro.core import RunContext, RunRandom
from sgdrepro.heavy_tail.dynamics import (batch_sums, batch_sums_chi2, batch_weights, chi_square,
                                         floyd_sequential, sample_without_replacement, sgd_step,
                                         sgd_step_streaming)
from sgdrepro.heavy_tail.experiments import run_linreg, run_linreg_finite


def _ctx(experiment):
    return RunContext(paper="heavy_tail", experiment=experiment, device=torch.device("cpu"), dtype=torch.float64,
                      log=logging.getLogger("test"))


def test_streaming_sampler_has_the_law_of_literal_sgd():
    """From a fixed e, compare mean and covariance of one step under the literal sampler and both
    reduced forms (600k draws; the covariance tolerance is ~4 standard errors of the estimate)."""
    n, d, b_max = 600_000, 3, 3
    e0 = torch.tensor([0.7, -1.2, 0.4], dtype=torch.float64).expand(n, d)
    lr = torch.full((n,), 0.3, dtype=torch.float64)
    sigma = torch.full((n,), 1.3, dtype=torch.float64)
    bs = torch.tensor([1, 2, 3], dtype=torch.int64).repeat(n // 3 + 1)[:n]
    w = batch_weights(bs, b_max, torch.float64)
    gen = torch.Generator().manual_seed(0)
    noise = 0.5 * torch.randn(n, b_max, generator=gen, dtype=torch.float64)
    a = 1.3 * torch.randn(n, b_max, d, generator=gen, dtype=torch.float64)
    literal = sgd_step(e0, lr, a, noise, w)  # x* = 0: y = noise
    g = torch.randn(n, b_max, generator=gen, dtype=torch.float64)
    zeta = torch.randn(n, d, generator=gen, dtype=torch.float64)
    pairs = sgd_step_streaming(e0, lr, sigma, zeta, lambda c: batch_sums(w, g, noise, c))
    # the two-number form: chi^2_b from b // 2 words and a normal, then xi
    rr = RunRandom(np.arange(2 * n, dtype=np.int64).reshape(n, 2))
    b_col = bs.unsqueeze(1)
    z = rr.normal("z", 0, (2 + d,))
    chi2 = chi_square(rr.bits("w", 0, b_max // 2), z[:, 1:2], b_col)
    two = sgd_step_streaming(e0, lr, sigma, z[:, 2:], lambda c: batch_sums_chi2(chi2, z[:, :1], c, 0.5, b_col))
    for reduced in (pairs, two):
        for b in (1, 2, 3):
            rows = (bs == b).numpy()
            x, y = literal.numpy()[rows], reduced.numpy()[rows]
            se = x.std(axis=0) / np.sqrt(rows.sum())
            assert np.all(np.abs(x.mean(0) - y.mean(0)) < 5 * np.sqrt(2) * se)
            np.testing.assert_allclose(np.cov(x.T), np.cov(y.T), atol=0.04 * np.abs(np.cov(x.T)).max())


def test_chi_square_has_the_moments_and_cdf_of_chi2_b():
    """Mean b, variance 2b, and the CDF against scipy's within a KS bound, b = 1..6 and 20."""
    from scipy import stats

    n = 100_000
    rr = RunRandom(np.arange(2 * n, dtype=np.int64).reshape(n, 2))
    for b in (1, 2, 3, 4, 5, 6, 20):
        bcol = torch.full((n, 1), b)
        x = chi_square(rr.bits(f"w{b}", 0, max(1, b // 2)), rr.normal(f"z{b}", 0, (1,)), bcol).numpy().ravel()
        assert x.mean() == pytest.approx(b, abs=5 * np.sqrt(2 * b / n))
        assert x.var() == pytest.approx(2 * b, rel=0.05)
        assert stats.kstest(x, stats.chi2(b).cdf).statistic < 1.63 / np.sqrt(n)  # KS at the 1% level


def test_expected_second_moment_matches_theory():
    """E||e'||^2 from e with ||e|| = 1 and no noise equals h(2) = 1 - 2 eta s^2 + eta^2 s^4 (d+b+1)/b."""
    n, d, b = 400_000, 4, 2
    e0 = torch.nn.functional.normalize(torch.ones(n, d, dtype=torch.float64), dim=1)
    gen = torch.Generator().manual_seed(1)
    lr, s = 0.2, 1.1
    w, g = batch_weights(torch.full((n,), b), b, torch.float64), torch.randn(n, b, generator=gen, dtype=torch.float64)
    step = sgd_step_streaming(e0, torch.full((n,), lr, dtype=torch.float64), torch.full((n,), s, dtype=torch.float64),
                              torch.randn(n, d, generator=gen, dtype=torch.float64),
                              lambda c: batch_sums(w, g, torch.zeros(n, b, dtype=torch.float64), c))
    h2 = 1 - 2 * lr * s**2 + lr**2 * s**4 * (d + b + 1) / b
    assert (step**2).sum(1).mean().item() == pytest.approx(h2, rel=5e-3)


def test_floyd_sampling_gives_distinct_uniform_indices():
    runs, n, b_max = 20_000, 7, 4
    rr = RunRandom(np.arange(2 * runs, dtype=np.uint32).reshape(runs, 2))
    bs = torch.tensor([1, 4], dtype=torch.int64).repeat(runs // 2)
    idx = sample_without_replacement(rr.uniform("batch", 0, (b_max,)), n, bs)
    full = idx[bs == 4]
    assert all(len(set(row.tolist())) == 4 for row in full[:2000])
    counts = np.bincount(full.reshape(-1).numpy(), minlength=n) / full.numel()
    np.testing.assert_allclose(counts, 1 / n, atol=0.01)
    assert (idx >= 0).all() and (idx < n).all()


@pytest.mark.parametrize("n, b_max", [(10_000, 20), (25, 20), (20, 20), (7, 4), (3, 2), (5, 1)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_all_rows_floyd_gives_the_sequential_integers(n, b_max, dtype):
    """The fixed-point sampler against Floyd's row loop: the same indices on every run, including
    runs full of collisions (n close to b) and rows beyond a run's b."""
    gen = torch.Generator().manual_seed(n * 100 + b_max)
    uniforms = torch.rand(4000, b_max, generator=gen, dtype=dtype)
    batch_size = torch.randint(1, b_max + 1, (4000,), generator=gen)
    fast, reference = sample_without_replacement(uniforms, n, batch_size), floyd_sequential(uniforms, n, batch_size)
    assert torch.equal(fast, reference)
    if n < 2 * b_max:  # the collision branch ran: some run took a j instead of its t
        t = torch.minimum((uniforms * (n - batch_size.reshape(-1, 1) + torch.arange(b_max)).clamp_max(n - 1).add(1)
                           .to(dtype)).floor().long(), torch.tensor(n - 1))
        assert (fast != t).any()


def _tiny_cfg(**grid):
    return {"grid": {"lr": [0.5], "batch_size": [1, 3], "dim": [2], "sigma": [1.0], **grid}, "n_chains": 4,
            "n_steps": 40, "burn_in": 10, "thin": 10, "noise_sd": 1.0, "init_scale": 1.0}


def test_runs_do_not_depend_on_which_runs_share_the_batch():
    both = run_linreg(_tiny_cfg(), _ctx("linreg"))
    alone = run_linreg(_tiny_cfg(batch_size=[3]), _ctx("linreg"))
    np.testing.assert_array_equal(both.error.sel(batch_size=[3]).values, alone.error.values)


def test_padded_dimensions_stay_zero_and_are_stored_as_nan():
    ds = run_linreg(_tiny_cfg(dim=[1, 3]), _ctx("linreg_dim"))
    low = ds.error.sel(dim=1).values
    assert np.isnan(low[..., 1:]).all() and np.isfinite(low[..., 0]).all()
    assert np.isfinite(ds.error.sel(dim=3).values).all()


def test_divergent_runs_are_marked_not_crashed():
    # eta = 30: |1 - eta a^2| ~ 30 per step, past 1e100 within 100 steps
    ds = run_linreg({**_tiny_cfg(lr=[0.3, 30.0]), "n_steps": 100}, _ctx("linreg"))
    assert (ds.diverged_step.sel(lr=30.0).values > 0).all()
    assert (ds.diverged_step.sel(lr=0.3).values == -1).all()
    assert np.isnan(ds.error.sel(lr=30.0).values[..., -1, :]).all()


def test_finite_data_error_is_relative_to_least_squares():
    cfg = {**_tiny_cfg(), "n_data": 50, "true_scale": 3.0, "noise_sd": 0.0, "init_scale": 5.0, "n_steps": 150,
           "burn_in": 140}
    ds = run_linreg_finite(cfg, _ctx("linreg_finite"))
    # noiseless data: x_LS = x_true is a fixed point of every mini-batch step, so SGD converges to it
    assert np.abs(ds.error.values[..., -1, :]).max() < 1e-6
