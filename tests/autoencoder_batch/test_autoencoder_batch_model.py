"""The model, the batch sampler and the batched trainer against autograd and direct loops."""

import numpy as np
import pytest
import torch

from sgdrepro.autoencoder_batch import train
from sgdrepro.autoencoder_batch.experiments import simulate
from sgdrepro.autoencoder_batch.model import (
    batch_assignment,
    batch_gradient,
    batch_weights,
    loss,
    n_batches,
    orthonormal_data,
)
from sgdrepro.core import Grid, log_spaced_steps

DT = torch.float64


def _problem(R=6, n=5, d=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = orthonormal_data(torch.randn(d, n, generator=g, dtype=DT), n)
    w = torch.randn(R, d, generator=g, dtype=DT) * 0.7
    a = torch.rand(R, n, generator=g, dtype=DT)
    relu = torch.tensor([True, False] * (R // 2))
    return X, w, a / a.sum(-1, keepdim=True), relu


def test_orthonormal_data_is_orthonormal():
    X, *_ = _problem(n=5, d=9)
    assert torch.allclose(X @ X.T, torch.eye(5, dtype=DT), atol=1e-13)


def test_gradient_matches_autograd():
    X, w, a, relu = _problem()
    w = w.requires_grad_(True)
    (auto,) = torch.autograd.grad(loss(w, X, relu, a).sum(), w)
    assert torch.allclose(batch_gradient(w.detach(), X, relu, a), auto, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("n,last", [(7, "keep"), (7, "drop"), (6, "keep")])
def test_batches_partition_each_epoch(n, last):
    b = torch.arange(1, n + 1)
    rank = torch.argsort(torch.rand(n, n), dim=1)  # a random order per run
    batch_of, weight = batch_assignment(rank, b, last)
    nb = n_batches(n, b, last)
    used = torch.zeros(n, n, dtype=DT)
    for j in range(int(nb.max())):
        a = batch_weights(batch_of, weight, torch.full((n,), j))
        active = j < nb
        # every batch of the epoch is a mean: weights sum to one
        assert torch.allclose(a.sum(-1)[active], torch.ones(int(active.sum()), dtype=DT))
        used += (a > 0) * active.unsqueeze(1)
    full = n // b
    for r in range(n):
        expected = n if last == "keep" else int(full[r] * b[r])
        assert int(used[r].sum()) == expected  # each sample at most once, all of them when kept
        assert used[r].max() <= 1


def test_full_batch_run_is_exact_gradient_descent():
    n, d, lr, steps = 5, 8, 0.2, 300
    run = train(n, d, n, lr, steps, seed=3, activation="relu")
    X = torch.as_tensor(run.X)
    w = torch.as_tensor(run.w0).unsqueeze(0).clone()
    relu = torch.tensor([True])
    for _ in range(steps):
        w = w.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(loss(w, X, relu).sum(), w)
        w = w - lr * g
    np.testing.assert_allclose(run.w, w.detach()[0].numpy(), rtol=0, atol=1e-12)


def test_single_run_equals_the_same_run_in_the_batched_grid():
    n, d, lr, steps = 6, 9, 0.2, 300
    grid = Grid.from_config({"activation": ["linear", "relu"], "order": ["reshuffle", "cyclic"],
                             "batch_size": [1, 2, 4, 6], "seed": [0, 1, 2]})
    ds = simulate(grid, experiment="orthogonal", n=n, d=d, lr=lr, n_steps=steps, init_scale=0.1,
                  last_batch="keep", sparsity_threshold=1e-4, record_at=log_spaced_steps(steps, 10))
    for act, order, b, seed in [("relu", "reshuffle", 4, 2), ("linear", "cyclic", 1, 1), ("linear", "reshuffle", 2, 0)]:
        run = train(n, d, b, lr, steps, seed, act, order=order)
        sel = ds.sel(activation=act, order=order, batch_size=b, seed=seed)
        np.testing.assert_allclose(run["X"], ds["data"].values, rtol=0, atol=0)
        np.testing.assert_allclose(run["w"], sel["w_final"].values, rtol=0, atol=1e-12)
    # common random numbers: every b, activation and order of a seed starts from the same w_0
    start = ds["coords"].isel(step=0).sel(seed=1).values.reshape(-1, n)
    assert np.allclose(start, start[0], rtol=0, atol=1e-15)


def test_reshuffled_and_cyclic_differ_but_coincide_at_full_batch():
    n, d = 5, 7
    a = train(n, d, 2, 0.2, 200, seed=0, order="reshuffle")
    b = train(n, d, 2, 0.2, 200, seed=0, order="cyclic")
    assert not np.allclose(a.w, b.w)
    a = train(n, d, n, 0.2, 200, seed=0, order="reshuffle")
    b = train(n, d, n, 0.2, 200, seed=0, order="cyclic")
    np.testing.assert_array_equal(a.w, b.w)


def test_divergent_step_size_is_recorded_not_raised():
    run = train(4, 6, 1, 50.0, 200, seed=0, init_scale=1.0)
    assert run.diverged_step > 0
    assert np.isnan(run.loss[-1])
