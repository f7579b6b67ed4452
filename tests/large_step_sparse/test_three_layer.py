"""The three-layer ReLU teacher-student experiment: network, schedule, data, measures, batching."""

from __future__ import annotations

import copy
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from sgdrepro.core.config import load_config

from sgdrepro.core import ConfigError, RunContext, RunRandom, run_keys
from sgdrepro.large_step_sparse import check_config, experiments, mlp
from sgdrepro.large_step_sparse.schedules import piecewise_lr

REPO = Path(__file__).resolve().parents[2]

CFG = dict(n=12, d=3, n_test=40, widths_teacher=[2, 2], widths_student=[4, 3], init_scale_teacher=1.0,
           init_scale_student=0.8, n_steps=300, batch_size=1, lr=[0.011, 0.04, 0.04],
           large_phase=[0.0, 0.3, 0.5], decay_factor=[1.0, 2.5, 5.0], warmup_factor=6.0, warmup_exponent=0.5,
           n_seeds=2, record_points=7, corr_threshold=0.99, grad_rank=True, rank_threshold=1e-4)


def ctx() -> RunContext:
    return RunContext(paper="large_step_sparse", experiment="relu_three_layer", device=torch.device("cpu"),
                      dtype=torch.float64, log=logging.getLogger("test"))


def random_net(widths, runs=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    W = [torch.randn(runs, o, i, generator=gen, dtype=torch.float64) for i, o in zip(widths[:-1], widths[1:])]
    b = [torch.randn(runs, o, generator=gen, dtype=torch.float64) for o in widths[1:]]
    return W, b


@pytest.mark.parametrize("widths", [[3, 5, 1], [5, 4, 3, 1], [2, 6, 5, 4, 1]])
def test_gradients_and_jacobian_match_autograd(widths):
    W, b = random_net(widths)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(2, 7, widths[0], generator=gen, dtype=torch.float64), torch.randn(2, 7, generator=gen, dtype=torch.float64)
    leaves = [t.clone().requires_grad_() for t in W + b]
    L = len(W)
    _, f = mlp.forward(leaves[:L], leaves[L:], x)
    ((f - y) ** 2).mean(dim=1).sum().backward()
    grad_W, grad_b = mlp.gradients(W, b, x, y)
    for mine, leaf in zip(grad_W + grad_b, leaves):
        assert (leaf.grad != 0).any()
        np.testing.assert_allclose(mine, leaf.grad, rtol=1e-11, atol=1e-13)
    J = mlp.jacobian(W, b, x)
    assert J.shape == (2, 7, mlp.n_params(widths))
    for run, sample in ((0, 3), (1, 6)):
        leaves = [t.clone().requires_grad_() for t in W + b]
        _, f = mlp.forward(leaves[:L], leaves[L:], x)
        f[run, sample].backward()
        # the authors' parameter order: W_1, b_1, W_2, b_2, ...
        expected = torch.cat([torch.cat([leaves[l].grad[run].flatten(), leaves[L + l].grad[run]]) for l in range(L)])
        np.testing.assert_allclose(J[run, sample], expected, rtol=1e-11, atol=1e-13)


def test_jacobian_rank_of_a_hand_case():
    # one hidden unit, identity-like: f = w2 relu(w1 . x + b1) + b2 with all samples active:
    # per-sample gradient (w2 x, w2, relu(h), 1) spans at most d + 1 + ... directions
    W = [torch.tensor([[[1.0, 0.0]]], dtype=torch.float64), torch.tensor([[[2.0]]], dtype=torch.float64)]
    b = [torch.tensor([[5.0]], dtype=torch.float64), torch.tensor([[0.0]], dtype=torch.float64)]
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 3.0], [-1.0, 2.0]]], dtype=torch.float64)
    # rows: (2 x1, 2 x2, 2, 5 + x1, 1): x1, x2 and the constant span them -> rank 3
    assert mlp.jacobian_rank(W, b, x, 1e-8).item() == 3
    assert mlp.jacobian_rank(W, b, x[:, :2], 1e-8).item() == 2


def test_schedule_with_exponent_matches_the_authors_loop():
    """piecewise_lr with p reproduces the step the authors' train_fc_net sets at every iteration."""
    num_iter, w, p = 1001, 6.0, 0.5
    schedules = [(0.011, 0.0, 1.0), (0.04, 0.1, 3.5), (0.04, 0.3, 2.5), (0.04, 0.5, 5.0)]
    lr, L, decay = (torch.tensor(v, dtype=torch.float64) for v in zip(*schedules))
    expected = []
    for gamma, length, factor in schedules:  # the authors' rule, written out
        threshold, eta, row = int(length * num_iter), gamma, []
        for i in range(num_iter):
            if i <= threshold and threshold > 0:
                eta = gamma + (w - 1) * gamma * (i / num_iter) ** p
            if i == threshold:
                eta /= factor
            row.append(eta)
        expected.append(row)
    ours = torch.stack([piecewise_lr(k, num_iter, lr, L, decay, torch.full_like(lr, w), p) for k in range(num_iter)], 1)
    np.testing.assert_allclose(ours.numpy(), np.array(expected), rtol=1e-13)
    assert ours[3, 500].item() == pytest.approx(0.04 * (1 + 5 * math.sqrt(500 / 1001)) / 5.0)
    # per-run exponents; p = 1 is the linear warm-up, and the default (None) is unchanged
    per_run = piecewise_lr(200, num_iter, lr, L, decay, torch.full_like(lr, w), torch.tensor([1.0, 1.0, 0.5, 0.5], dtype=torch.float64))
    linear = piecewise_lr(200, num_iter, lr, L, decay, torch.full_like(lr, w))
    assert per_run[:2].tolist() == pytest.approx(linear[:2].tolist(), rel=1e-15)
    assert per_run[2].item() == pytest.approx(0.04 * (1 + 5 * math.sqrt(200 / 1001)))
    assert linear[2].item() == pytest.approx(0.04 * (1 + 5 * 200 / 1001))


def test_teacher_forward_on_a_hand_case():
    # teacher 2 -> 2 -> 2 -> 1 with hand weights, x = (0.6, 0.8)
    W = [torch.tensor([[[1.0, 0.0], [0.0, -1.0]]]), torch.tensor([[[1.0, 1.0], [-1.0, 2.0]]]), torch.tensor([[[2.0, -3.0]]])]
    b = [torch.tensor([[0.1, 0.2]]), torch.tensor([[0.0, -0.5]]), torch.tensor([[0.25]])]
    x = torch.tensor([[[0.6, 0.8]]])
    pre, f = mlp.forward(W, b, x)
    # h1 = (0.7, -0.6) -> z1 = (0.7, 0); h2 = (0.7, -1.2) -> z2 = (0.7, 0); f = 1.4 + 0.25
    np.testing.assert_allclose(pre[0][0, 0], [0.7, -0.6], rtol=1e-6)
    np.testing.assert_allclose(pre[1][0, 0], [0.7, -1.2], rtol=1e-6)
    assert f.shape == (1, 1) and f.item() == pytest.approx(1.65)


def test_teacher_student_data_and_init():
    keys = run_keys("t", [{"seed": 0}, {"seed": 1}], key_dims=("seed",))
    random = RunRandom(keys)
    data = mlp.teacher_student_data(random, 50, 5, [2, 2], 100, 1.0)
    assert data["X"].shape == (2, 50, 5) and data["y"].shape == (2, 50) and data["y_test"].shape == (2, 100)
    np.testing.assert_allclose(data["X"].norm(dim=2), 1.0, rtol=1e-12)
    # the labels are the teacher's outputs (the teacher drawn by init_params under the "teacher" streams)
    W, b = mlp.split(mlp.init_params(random, [5, 2, 2, 1], 1.0, prefix="teacher"), 3)
    np.testing.assert_allclose(data["y"], mlp.forward(W, b, data["X"])[1], rtol=1e-12)
    assert not torch.allclose(data["y"][0], data["y"][1])
    init = mlp.init_params(random, [5, 10, 10, 1], 0.8)
    for l, fan_in in enumerate((5, 10, 10)):
        assert init[f"b{l}"].abs().max() <= 1 / math.sqrt(fan_in)
    weights = torch.cat([init[f"W{l}"].flatten() for l in range(3)])
    assert weights.std().item() == pytest.approx(0.8, rel=0.15)


def test_feature_sparsity_per_layer_on_a_hand_case():
    # 1-D inputs x = -1, 1, 2, 3; layer 1: relu(x), relu(-x) -> 4 of 8 positive, no duplicates.
    # layer 2: a = relu(x) - 1.5 (x = 2, 3), c = |x| - 0.5 (all), dead unit, 2 a (duplicates a)
    # -> 8 of 16 positive; dropping the duplicated a leaves 6 of 16.
    x = torch.tensor([[[-1.0], [1.0], [2.0], [3.0]]], dtype=torch.float64)
    init = {"W0": torch.tensor([[[1.0], [-1.0]]]), "b0": torch.zeros(1, 2),
            "W1": torch.tensor([[[1.0, 0.0], [1.0, 1.0], [-1.0, 0.0], [2.0, 0.0]]]), "b1": torch.tensor([[-1.5, -0.5, 0.0, -3.0]]),
            "W2": torch.ones(1, 1, 4), "b2": torch.zeros(1, 1)}
    data = {"X": x, "y": torch.zeros(1, 4), "X_test": x, "y_test": torch.zeros(1, 4)}
    params = {k: np.array([v]) for k, v in dict(lr=0.0, decay_at=0.0, decay_factor=1.0, warmup_factor=1.0, warmup_exponent=1.0).items()}
    traj = mlp.train_runs(data, init, params, run_keys("t", [{"seed": 0}]), 1, 1, np.array([0]), corr_threshold=0.99)
    np.testing.assert_allclose(traj.records["feature_sparsity"][0, 0], [4 / 8, 8 / 16])
    np.testing.assert_allclose(traj.records["feature_sparsity_dedup"][0, 0], [4 / 8, 6 / 16])


def test_run_alone_equals_run_in_the_batch():
    ds = experiments.run_relu_three_layer(CFG, ctx())
    assert set(ds["feature_sparsity"].dims) == {"large_phase", "seed", "step", "layer"}
    for name, var in {**ds.data_vars, **ds.coords}.items():
        assert {"units", "long_name"} <= set(var.attrs), name
    phase, seed = 0.5, 1
    keys = run_keys("relu_three_layer", [{"large_phase": phase, "seed": seed}], key_dims=("seed",))
    random = RunRandom(keys)
    data = mlp.teacher_student_data(random, CFG["n"], CFG["d"], CFG["widths_teacher"], CFG["n_test"], 1.0)
    init = mlp.init_params(random, [CFG["d"], *CFG["widths_student"], 1], 0.8)
    params = {k: np.array([v]) for k, v in dict(lr=0.04, decay_at=phase, decay_factor=5.0, warmup_factor=6.0,
                                                 warmup_exponent=0.5).items()}
    steps = ds["step"].values
    traj = mlp.train_runs(data, init, params, keys, CFG["n_steps"], 1, steps, corr_threshold=0.99,
                          rank_points=mlp.n_params([3, 4, 3, 1]), rank_threshold=1e-4)
    run = ds.sel(large_phase=phase, seed=seed)
    for name in ("train_loss", "test_loss", "feature_sparsity", "feature_sparsity_dedup", "grad_rank", "lr_now"):
        np.testing.assert_array_equal(traj.records[name][0], run[name].values, err_msg=name)
    # the runs of one seed share teacher, data, init and sample order: identical until the shorter phase ends
    k = int(np.searchsorted(steps, 0.3 * CFG["n_steps"]))
    same = ds["train_loss"].sel(seed=seed, large_phase=[0.3, 0.5]).isel(step=slice(0, k))
    np.testing.assert_array_equal(same.sel(large_phase=0.3), same.sel(large_phase=0.5))
    assert not np.allclose(ds["train_loss"].sel(seed=0, large_phase=phase), run["train_loss"])


def test_config_checks_the_pairing():
    config = load_config(REPO / "config")
    check_config(config, "large_step_sparse.quick")
    bad = copy.deepcopy(config)
    bad["large_step_sparse"]["quick"]["relu_three_layer"]["lr"] = [0.04]
    with pytest.raises(ConfigError, match="relu_three_layer.lr.*one entry per large_phase"):
        check_config(bad, "large_step_sparse.quick")
