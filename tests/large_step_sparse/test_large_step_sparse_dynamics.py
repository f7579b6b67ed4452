"""Unit and scientific tests of the large_step_sparse dynamics (diagonal, ReLU, ResNet)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from sgdrepro.core import RunContext, RunRandom, run_keys
from sgdrepro.large_step_sparse import deep, diagonal, experiments, relu
from sgdrepro.large_step_sparse.measures import feature_sparsity, feature_sparsity_dedup, support_overlap
from sgdrepro.large_step_sparse.schedules import exponential_warmup_lr, piecewise_lr


def ctx_for(experiment: str) -> RunContext:
    return RunContext(paper="large_step_sparse", experiment=experiment, device=torch.device("cpu"),
                      dtype=torch.float64, log=logging.getLogger("test"))


DIAG_CFG = dict(n=12, d=30, sparsity=3, n_test=50, init_u=0.1, init_v=0.0, n_steps=400, batch_size=1,
                lr=[0.05, 0.2], decay_at=[1.0, 0.5], decay_factor=[1.0, 2.0], n_seeds=2, record_points=5,
                nnz_threshold=1e-8)


def test_grid_run_equals_the_same_run_trained_alone():
    """A run of the batched grid gives the same beta as diagonal.train on its data and seed."""
    ds = experiments.run_diagonal_sgd(DIAG_CFG, ctx_for("diagonal_sgd"))
    for seed in (0, 1):
        keys = run_keys(experiments.DIAGONAL_DATA, [{"seed": seed}], key_dims=("seed",))
        data = diagonal.make_data(RunRandom(keys), DIAG_CFG["n"], DIAG_CFG["d"], DIAG_CFG["sparsity"], DIAG_CFG["n_test"])
        beta = diagonal.train(data["X"][0].numpy(), data["y"][0].numpy(), lr=0.2, steps=DIAG_CFG["n_steps"],
                              batch_size=1, seed=seed, decay_at=0.5, decay_factor=2.0)
        stored = ds["beta"].sel(lr=0.2, decay_at=0.5, seed=seed).values
        np.testing.assert_allclose(beta, stored, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(data["beta_star"][0].numpy(), ds["beta_star"].sel(seed=seed).values)
    for name, var in {**ds.data_vars, **ds.coords}.items():
        assert {"units", "long_name"} <= set(var.attrs), name
    # different seeds are different problems
    assert not np.allclose(ds["beta"].sel(lr=0.2, decay_at=0.5, seed=0), ds["beta"].sel(lr=0.2, decay_at=0.5, seed=1))


def test_diagonal_gradient_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    u, v = torch.randn(3, 7, generator=gen, dtype=torch.float64), torch.randn(3, 7, generator=gen, dtype=torch.float64)
    x, y = torch.randn(3, 4, 7, generator=gen, dtype=torch.float64), torch.randn(3, 4, generator=gen, dtype=torch.float64)
    uu, vv = u.clone().requires_grad_(), v.clone().requires_grad_()
    loss = 0.5 * ((torch.einsum("rbd,rd->rb", x, uu * vv) - y) ** 2).mean(dim=1).sum()
    loss.backward()
    gu, gv = diagonal.gradient(u, v, x, y)
    np.testing.assert_allclose(gu, uu.grad, rtol=1e-12)
    np.testing.assert_allclose(gv, vv.grad, rtol=1e-12)


def test_small_step_gd_interpolates_and_dense():
    """Overparameterized (n < d) noiseless regression: GD with a small step fits the data exactly."""
    keys = run_keys("t", [{"seed": 0}], key_dims=("seed",))
    data = diagonal.make_data(RunRandom(keys), 20, 40, 4, 100)
    beta = diagonal.train(data["X"][0].numpy(), data["y"][0].numpy(), lr=1.0, steps=3000, batch_size=20, seed=0)
    residual = data["X"][0].numpy() @ beta - data["y"][0].numpy()
    assert np.sqrt(np.mean(residual**2)) < 1e-6 * np.sqrt(np.mean(data["y"][0].numpy() ** 2))
    assert np.count_nonzero(np.abs(beta) > 1e-8) > 4  # not the sparse ground truth


def test_sgd_batch_one_differs_from_gd_and_is_seed_dependent():
    keys = run_keys("t", [{"seed": 0}], key_dims=("seed",))
    data = diagonal.make_data(RunRandom(keys), 10, 20, 2, 10)
    X, y = data["X"][0].numpy(), data["y"][0].numpy()
    a = diagonal.train(X, y, 0.05, 50, batch_size=1, seed=0)
    b = diagonal.train(X, y, 0.05, 50, batch_size=1, seed=1)
    c = diagonal.train(X, y, 0.05, 50, batch_size=10, seed=0)
    assert not np.allclose(a, b) and not np.allclose(a, c)


def test_piecewise_schedule_values():
    lr = torch.tensor([0.2, 0.2, 0.01], dtype=torch.float64)
    decay_at = torch.tensor([1.0, 0.5, 0.5], dtype=torch.float64)
    factor = torch.tensor([1.0, 4.0, 3.0], dtype=torch.float64)
    warm = torch.tensor([1.0, 1.0, 201.0], dtype=torch.float64)
    assert piecewise_lr(49, 100, lr, decay_at, factor, warm).tolist() == pytest.approx([0.2, 0.2, 0.01 * (1 + 200 * 49 / 100)])
    assert piecewise_lr(50, 100, lr, decay_at, factor, warm).tolist() == pytest.approx([0.2, 0.05, 0.01 * 101 / 3])
    assert piecewise_lr(99, 100, lr, decay_at, factor, warm).tolist() == pytest.approx([0.2, 0.05, 0.01 * 101 / 3])


def test_exponential_warmup_schedule_values():
    lr, q = torch.tensor([0.01, 0.75], dtype=torch.float64), torch.tensor([1.05, 1.05], dtype=torch.float64)
    phase = torch.tensor([0.0, 0.3], dtype=torch.float64)
    assert exponential_warmup_lr(0.1, lr, phase, q).tolist() == pytest.approx([0.01, 0.75 * 1.05**10])
    assert exponential_warmup_lr(0.5, lr, phase, q).tolist() == pytest.approx([0.01, 0.75 * 1.05**30 / 10])
    assert exponential_warmup_lr(0.95, lr, phase, q).tolist() == pytest.approx([0.01, 0.75 * 1.05**30 / 100])


def test_feature_sparsity_and_deduplication_known_answer():
    # 4 samples x 4 neurons: neuron 1 duplicates neuron 0 (scaled), neuron 3 is dead
    h = torch.tensor([[[1.0, 2.0, -1.0, -1.0], [2.0, 4.0, 1.0, -2.0], [-1.0, -1.0, 3.0, -1.0], [0.5, 1.0, -2.0, -1.0]]],
                     dtype=torch.float64)
    assert feature_sparsity(h).item() == pytest.approx(8 / 16)
    # the scan drops neuron 0 (it has a duplicate left), keeps neuron 1 (its duplicate is gone) and neuron 2
    assert feature_sparsity_dedup(h, 0.95).item() == pytest.approx(5 / 16)
    assert feature_sparsity_dedup(h, 1.0).item() == pytest.approx(8 / 16)


def test_support_overlap_known_answer():
    star = torch.tensor([[1.0, 1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    assert support_overlap(torch.tensor([[0.9, 0.8, 0.1, 0.0, 0.0]]), star).item() == 1.0
    assert support_overlap(torch.tensor([[0.9, 0.0, 0.5, 0.0, 0.0]]), star).item() == 0.5


def test_relu_gradients_match_autograd():
    gen = torch.Generator().manual_seed(1)
    W, b, a = (torch.randn(*s, generator=gen, dtype=torch.float64) for s in ((2, 6, 3), (2, 6), (2, 6)))
    x, y = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64), torch.randn(2, 5, generator=gen, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in (W, b, a)]
    _, f = relu.forward(*leaves, x)
    ((f - y) ** 2).mean(dim=1).sum().backward()
    for mine, leaf in zip(relu.gradients(W, b, a, x, y), leaves):
        np.testing.assert_allclose(mine, leaf.grad, rtol=1e-12, atol=1e-14)


def test_teacher_student_labels_come_from_the_teacher():
    rr = RunRandom(run_keys("t", [{"seed": 0}, {"seed": 1}], key_dims=("seed",)))
    data = relu.teacher_student_data(rr, 15, 2, 3, 20)
    assert torch.allclose(data["X"].norm(dim=2), torch.ones(2, 15, dtype=torch.float64))
    assert data["y"].shape == (2, 15) and not torch.allclose(data["y"][0], data["y"][1])


def test_resnet18_has_the_known_parameter_count():
    """ResNet-18 for CIFAR-10 (He et al. 2016; 3x3 stem): 11,173,962 trainable parameters."""
    arch = deep.Architecture(3, [64, 128, 256, 512], [2, 2, 2, 2], 10)
    conv_and_bn = sum(cout * cin * k * k + 2 * cout for cout, cin, k, _ in arch.convs.values())
    assert conv_and_bn + arch.feature_dim * 10 + 10 == 11_173_962
    small = deep.Architecture(3, [4, 8], [1, 1], 10)
    state = deep.init_params(small, RunRandom(np.zeros((1, 2), dtype=np.uint32)), torch.float32)
    expected = sum(cout * cin * k * k + 2 * cout for cout, cin, k, _ in small.convs.values()) + 8 * 10 + 10
    assert sum(v[0].numel() for v in state["params"].values()) == expected


DEEP_CFG = dict(dataset="synthetic_cifar", widths=[2, 4], blocks=[1, 1], batch_size=8, epochs=1, lr=[0.05, 0.5],
                large_phase=[0.0, 0.5], warmup_exp=1.05, n_seeds=1, n_eval_train=8, n_eval_test=8, n_sparsity=8,
                n_relu_max=20, corr_threshold=0.95, eval_batch=8, synthetic_n_train=16, synthetic_n_test=8)


def test_paper_scale_path_on_synthetic_cifar():
    ds = experiments.run_deep(DEEP_CFG, ctx_for("deep"))
    assert ds["test_error"].dims == ("large_phase", "seed", "epoch")
    assert ds["feature_sparsity"].shape == (2, 1, 2, 2)  # (large_phase, seed, epoch 0..1, stage)
    assert np.isfinite(ds["train_loss"].values).all() and (ds["diverged_step"].values == -1).all()
    assert ((ds["feature_sparsity"] >= 0) & (ds["feature_sparsity"] <= 1)).all()
    assert ds.attrs["steps_per_epoch"] == 2
    # same init for both phases (common random numbers per seed), different steps afterwards
    loss = ds["test_loss"].isel(seed=0)
    assert float(loss.isel(epoch=0, large_phase=0)) == float(loss.isel(epoch=0, large_phase=1))
    assert float(loss.isel(epoch=1, large_phase=0)) != float(loss.isel(epoch=1, large_phase=1))
