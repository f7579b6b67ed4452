"""Two-layer ReLU networks trained by SGD, every run of a grid as one batched program.

Network (stacked over runs: W [runs, m, d], b [runs, m], a [runs, m])

    f(x) = sum_j a_j relu(w_j . x + b_j),

loss ``mean_i (f(x_i) - y_i)^2`` over a mini-batch (the authors' ``train_fc_net``: mean
squared error without the factor 1/2). SGD draws ``batch_size`` indices per step uniformly
with replacement (batch 1 in every experiment of the paper) and uses the step size of
:func:`sgdrepro.large_step_sparse.schedules.piecewise_lr` (optional linear warm-up, then a
decay). The gradients are written out by hand (batched matrix products), so no autograd graph
is built per step.

Teacher-student scale conventions, checked against the authors' ``fc_nets_two_layer.ipynb``
(``get_data_two_layer_relu_net``, ``FCNet2Layers``, ``train_fc_net``): inputs are standard
Gaussians normalized to the unit sphere; the teacher's rows are Gaussians normalized to unit
norm with output weights sign(N(0, 1)); the student's output is the plain sum over units (no
1/m or 1/sqrt(m)), W ~ 0.5 N(0, I), a = 0, both layers trained, no biases; the loss is the mean
squared error without 1/2. With these conventions the authors' large step 0.455 is at the
edge of stability: one sample's loss has curvature 2 ||relu(W x)||^2 along a, so a step on it
contracts only if eta < 1 / ||relu(W x)||^2; at the authors' seed-0 init ||relu(W x)||^2 is
1.5 on average and 3.7 at most over the training set, i.e. 0.455 exceeds the limit (0.27 to
0.67) on the samples with the largest features. Whether SGD at 0.455 survives its first ~30
steps thus depends on the draw and on the sample order (it does on the authors' seed 0 and on
about a third of draws, in their code as in ours).
"""

from __future__ import annotations

import numpy as np
import torch

from sgdrepro.core import RunRandom, train_batched
from sgdrepro.core.trainer import Trajectory

from .batches import chunk_rows, initial_state, per_chunk, step_indices
from .measures import feature_sparsity, feature_sparsity_dedup
from .schedules import piecewise_lr

__all__ = ["forward", "gradients", "teacher_student_data", "regression_1d_data", "train_runs"]

def forward(W, b, a, x):
    """Pre-activations h [runs, B, m] and outputs f [runs, B] for inputs x [runs, B, d]."""
    h = torch.bmm(x, W.transpose(1, 2)) + b.unsqueeze(1)
    return h, torch.bmm(torch.relu(h), a.unsqueeze(2)).squeeze(2)


def gradients(W, b, a, x, y):
    """Gradients of mean_B (f(x) - y)^2 in (W, b, a), batched over runs."""
    h, f = forward(W, b, a, x)
    dout = 2.0 * (f - y) / x.shape[1]  # [runs, B]
    z = torch.relu(h)
    grad_a = torch.bmm(z.transpose(1, 2), dout.unsqueeze(2)).squeeze(2)
    dh = dout.unsqueeze(2) * a.unsqueeze(1) * (h > 0)
    grad_W = torch.bmm(dh.transpose(1, 2), x)
    grad_b = dh.sum(dim=1)
    return grad_W, grad_b, grad_a


def _sphere(random: RunRandom, stream: str, n: int, d: int, dtype) -> torch.Tensor:
    x = random.normal(stream, 0, (n, d), dtype)
    return x / x.norm(dim=2, keepdim=True)


def teacher_student_data(random: RunRandom, n: int, d: int, m_teacher: int, n_test: int, dtype=torch.float64) -> dict:
    """The authors' teacher-student task: inputs uniform on the unit sphere of R^d; teacher
    ``m_teacher`` ReLU units without biases, unit-norm weights w*_j, output weights sign(N(0,1))."""
    W = _sphere(random, "teacher_w", m_teacher, d, dtype)
    a = torch.sign(random.normal("teacher_a", 0, (m_teacher,), dtype))
    b = torch.zeros(random.n_runs, m_teacher, dtype=dtype, device=W.device)
    X, X_test = _sphere(random, "data_x", n, d, dtype), _sphere(random, "data_x_test", n_test, d, dtype)
    return {"X": X, "y": forward(W, b, a, X)[1], "X_test": X_test, "y_test": forward(W, b, a, X_test)[1]}


# The authors' 1-D regression points (fc_nets_1d_regression.ipynb): x on a grid, y fixed values.
_X_1D = (np.arange(-5.5, 6.0, 1.0) / 4 + 0.07)
_Y_1D = 0.345 + np.array([-2, 1.5, 0, 0, 2, 1, 0, -1, 0, 1, 2, -1], dtype=np.float64)


def regression_1d_data(n_runs: int, dtype=torch.float64, device="cpu") -> dict:
    """The 12-point 1-D regression problem (train set = test set, as in the authors' notebook)."""
    X = torch.as_tensor(_X_1D, dtype=dtype, device=device).reshape(1, -1, 1).expand(n_runs, -1, -1).contiguous()
    y = torch.as_tensor(_Y_1D, dtype=dtype, device=device).reshape(1, -1).expand(n_runs, -1).contiguous()
    return {"X": X, "y": y, "X_test": X, "y_test": y}


def init_gaussian(random: RunRandom, m: int, d: int, scale_w: float, scale_a: float, dtype) -> dict:
    """W ~ scale_w N(0, 1), a ~ scale_a N(0, 1), no biases (teacher-student student)."""
    W = scale_w * random.normal("init_w", 0, (m, d), dtype)
    return {"W": W, "b": torch.zeros(W.shape[:2], dtype=dtype, device=W.device),
            "a": scale_a * random.normal("init_a", 0, (m,), dtype)}


def init_blanc(random: RunRandom, m: int, dtype) -> dict:
    """1-D regression init of the authors (after Blanc et al.): w = +-2.5, b ~ 2.5 N(0,1), a ~ 4 N(0,1)."""
    sign = torch.where(random.uniform("init_w", 0, (m, 1), dtype) < 0.5, -1.0, 1.0).to(dtype)
    return {"W": 2.5 * sign, "b": 2.5 * random.normal("init_b", 0, (m,), dtype),
            "a": 4.0 * random.normal("init_a", 0, (m,), dtype)}


def train_runs(data: dict, init: dict, params: dict, keys: np.ndarray, n_steps: int, batch_size: int,
               record_at: np.ndarray, *, train_bias: bool, corr_threshold: float = 0.99,
               device="cpu", dtype=torch.float64) -> Trajectory:
    """SGD on every run together. ``data``/``init``: per-run tensors; ``params``: per-run
    ``lr``, ``decay_at``, ``decay_factor``, ``warmup_factor``. Records train/test loss, the
    feature sparsity coefficient (fraction of positive ReLUs over samples x neurons on the
    training set), the same after dropping duplicated neurons (correlation > ``corr_threshold``),
    and the step size."""
    device = torch.device(device)
    data = {k: v.to(device=device, dtype=dtype) for k, v in data.items()}
    init = {k: v.to(device=device, dtype=dtype) for k, v in init.items()}
    n = data["X"].shape[1]

    chunk_data = per_chunk(lambda chunk: chunk_rows(data, chunk, device))

    def lr_at(k, chunk):
        p = chunk.params
        return piecewise_lr(k, n_steps, p["lr"], p["decay_at"], p["decay_factor"], p["warmup_factor"])

    def init_fn(chunk):
        return initial_state(init, chunk, device, batch_size, n)

    def step(state, k, chunk):
        loc = chunk_data(chunk)
        sample, idx = step_indices(state["sample"], k, chunk.random, batch_size, n)
        xb, yb = loc["X"][loc["rows"], idx], loc["y"].gather(1, idx)
        grad_W, grad_b, grad_a = gradients(state["W"], state["b"], state["a"], xb, yb)
        lr = lr_at(k, chunk)
        new = {"W": state["W"] - lr.view(-1, 1, 1) * grad_W, "a": state["a"] - lr.view(-1, 1) * grad_a,
               "b": state["b"] - lr.view(-1, 1) * grad_b if train_bias else state["b"], "sample": sample}
        return new

    def observe(state, k, chunk):
        loc = chunk_data(chunk)
        h, f = forward(state["W"], state["b"], state["a"], loc["X"])
        _, f_test = forward(state["W"], state["b"], state["a"], loc["X_test"])
        return {
            "train_loss": (f - loc["y"]).pow(2).mean(dim=1),
            "test_loss": (f_test - loc["y_test"]).pow(2).mean(dim=1),
            "feature_sparsity": feature_sparsity(h),
            "feature_sparsity_dedup": feature_sparsity_dedup(h, corr_threshold),
            "lr_now": lr_at(min(k, n_steps - 1), chunk),
        }

    with torch.no_grad():
        return train_batched(init_fn, step, observe, n_steps, record_at, params, keys, device=device, dtype=dtype)
