"""Fully connected ReLU networks of any depth, with biases, trained by SGD; every run of a grid
as one batched program.

Network with widths ``(d, m_1, ..., m_L, 1)``, stacked over runs (``W_l`` [runs, m_l, m_{l-1}],
``b_l`` [runs, m_l]):

    h_1 = W_1 x + b_1,   h_l = W_l relu(h_{l-1}) + b_l,   f(x) = W_{L+1} relu(h_L) + b_{L+1},

ReLU on the hidden layers, a linear output (the authors' ``FCNet``). Loss ``mean_i (f(x_i) - y_i)^2``
over a mini-batch (their ``train_fc_net``, no factor 1/2); SGD draws ``batch_size`` indices per
step uniformly with replacement (batch 1 in the paper) with the step size of
:func:`sgdrepro.large_step_sparse.schedules.piecewise_lr` (warm-up ``(k / n_steps)**p``, then a
decay). Backpropagation is written out by hand (batched matrix products).

Teacher-student conventions, checked against the authors' ``fc_nets_multi_layer.ipynb``
(``get_data_multi_layer_relu_net``, ``FCNet.init_gaussian``): inputs N(0, I_d) normalized to
the unit sphere; weights ``scale * N(0, 1)`` per layer; biases keep ``torch.nn.Linear``'s default
``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (``init_gaussian`` only redraws the weights), for the
teacher and the student alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sgdrepro.core import RunRandom, train_batched
from sgdrepro.core.trainer import Trajectory

from .batches import chunk_rows, initial_state, per_chunk, step_indices
from .measures import feature_sparsity, feature_sparsity_dedup
from .schedules import piecewise_lr

__all__ = ["forward", "gradients", "jacobian", "jacobian_rank", "init_params", "teacher_student_data",
           "train_runs", "n_params"]

def forward(weights, biases, x):
    """Hidden pre-activations ``[h_1, ..., h_L]`` (each [runs, B, m_l]) and outputs f [runs, B]
    for inputs x [runs, B, d]."""
    pre, z = [], x
    for W, b in zip(weights[:-1], biases[:-1]):
        h = torch.baddbmm(b.unsqueeze(1), z, W.transpose(1, 2))
        pre.append(h)
        z = torch.relu(h)
    f = torch.baddbmm(biases[-1].unsqueeze(1), z, weights[-1].transpose(1, 2)).squeeze(2)
    return pre, f


def _deltas(weights, pre, delta_out):
    """Backpropagated errors dL/dh_l of every layer (output last), from dL/df = ``delta_out`` [runs, B]."""
    delta = delta_out.unsqueeze(2)  # [runs, B, 1]
    deltas = [delta]
    for l in range(len(pre) - 1, -1, -1):
        delta = torch.bmm(delta, weights[l + 1]) * (pre[l] > 0)
        deltas.append(delta)
    return deltas[::-1]


def _inputs(x, pre):
    """Input of every layer: x, relu(h_1), ..., relu(h_L)."""
    return [x] + [torch.relu(h) for h in pre]


def gradients(weights, biases, x, y):
    """Gradients of mean_B (f(x) - y)^2 in every W_l and b_l, batched over runs."""
    pre, f = forward(weights, biases, x)
    deltas = _deltas(weights, pre, 2.0 * (f - y) / x.shape[1])
    grad_W = [torch.bmm(delta.transpose(1, 2), z) for delta, z in zip(deltas, _inputs(x, pre))]
    grad_b = [delta.sum(dim=1) for delta in deltas]
    return grad_W, grad_b


def jacobian(weights, biases, x):
    """Per-sample gradients of f(x_i) in all parameters (the authors' order: W_1, b_1, W_2, ...),
    [runs, B, n_params]."""
    pre, f = forward(weights, biases, x)
    deltas = _deltas(weights, pre, torch.ones_like(f))
    parts = []
    for delta, z in zip(deltas, _inputs(x, pre)):
        parts.append((delta.unsqueeze(3) * z.unsqueeze(2)).flatten(2))  # [runs, B, out * in]
        parts.append(delta)
    return torch.cat(parts, dim=2)


def jacobian_rank(weights, biases, x, rel_threshold: float):
    """Number of singular values of the per-sample gradient matrix above ``rel_threshold`` times
    the largest (the authors' ``compute_grad_matrix_ranks``), per run."""
    s = torch.linalg.svdvals(jacobian(weights, biases, x))
    return (s > rel_threshold * s[:, :1]).sum(dim=1).to(x.dtype)


def n_params(widths) -> int:
    return sum(o * i + o for i, o in zip(widths[:-1], widths[1:]))


def init_params(random: RunRandom, widths, scale: float, dtype=torch.float64, prefix: str = "init") -> dict:
    """Weights ``scale * N(0, 1)``, biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (torch's
    default, kept by the authors); ``widths = (d, m_1, ..., m_L, 1)``. Keys ``W0, b0, W1, ...``."""
    params = {}
    for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        params[f"W{l}"] = scale * random.normal(f"{prefix}_w{l}", 0, (fan_out, fan_in), dtype)
        bound = 1.0 / math.sqrt(fan_in)
        params[f"b{l}"] = bound * (2.0 * random.uniform(f"{prefix}_b{l}", 0, (fan_out,), dtype) - 1.0)
    return params


def split(params: dict, n_layers: int) -> tuple[list, list]:
    return [params[f"W{l}"] for l in range(n_layers)], [params[f"b{l}"] for l in range(n_layers)]


def _sphere(random: RunRandom, stream: str, n: int, d: int, dtype) -> torch.Tensor:
    x = random.normal(stream, 0, (n, d), dtype)
    return x / x.norm(dim=2, keepdim=True)


def teacher_student_data(random: RunRandom, n: int, d: int, widths_teacher, n_test: int, scale_teacher: float,
                         dtype=torch.float64) -> dict:
    """Inputs uniform on the unit sphere of R^d, labels of a ReLU teacher with hidden widths
    ``widths_teacher`` (weights ``scale_teacher * N(0, 1)``, torch-default biases); one draw per run."""
    widths = [d, *widths_teacher, 1]
    teacher = init_params(random, widths, scale_teacher, dtype, prefix="teacher")
    W, b = split(teacher, len(widths) - 1)
    X, X_test = _sphere(random, "data_x", n, d, dtype), _sphere(random, "data_x_test", n_test, d, dtype)
    return {"X": X, "y": forward(W, b, X)[1], "X_test": X_test, "y_test": forward(W, b, X_test)[1]}


def train_runs(data: dict, init: dict, params: dict, keys: np.ndarray, n_steps: int, batch_size: int,
               record_at: np.ndarray, *, corr_threshold: float = 0.99, rank_points: int = 0,
               rank_threshold: float = 1e-4, device="cpu", dtype=torch.float64) -> Trajectory:
    """SGD on every layer of every run together. ``data``/``init``: per-run tensors (``init``
    as :func:`init_params`); ``params``: per-run ``lr``, ``decay_at``, ``decay_factor``,
    ``warmup_factor``, ``warmup_exponent``. Records train/test loss, per hidden layer the feature
    sparsity coefficient (fraction of positive ReLUs over samples x neurons, training set) and
    the same after dropping dead and duplicated (|corr| > ``corr_threshold``) neurons, the step
    size and, if ``rank_points`` > 0, the rank of the per-sample gradient matrix on the first
    ``rank_points`` test inputs (singular values above ``rank_threshold`` times the largest)."""
    device = torch.device(device)
    data = {k: v.to(device=device, dtype=dtype) for k, v in data.items()}
    init = {k: v.to(device=device, dtype=dtype) for k, v in init.items()}
    n_layers = len([k for k in init if k.startswith("W")])
    n = data["X"].shape[1]
    chunk_data = per_chunk(lambda chunk: chunk_rows(data, chunk, device))

    def lr_at(k, chunk):
        p = chunk.params
        return piecewise_lr(k, n_steps, p["lr"], p["decay_at"], p["decay_factor"], p["warmup_factor"],
                            p["warmup_exponent"])

    def init_fn(chunk):
        return initial_state(init, chunk, device, batch_size, n)

    def step(state, k, chunk):
        loc = chunk_data(chunk)
        sample, idx = step_indices(state["sample"], k, chunk.random, batch_size, n)
        xb, yb = loc["X"][loc["rows"], idx], loc["y"].gather(1, idx)
        weights, biases = split(state, n_layers)
        grad_W, grad_b = gradients(weights, biases, xb, yb)
        lr = lr_at(k, chunk)
        new = {"sample": sample}
        for l in range(n_layers):
            new[f"W{l}"] = weights[l] - lr.view(-1, 1, 1) * grad_W[l]
            new[f"b{l}"] = biases[l] - lr.view(-1, 1) * grad_b[l]
        return new

    def observe(state, k, chunk):
        loc = chunk_data(chunk)
        weights, biases = split(state, n_layers)
        pre, f = forward(weights, biases, loc["X"])
        _, f_test = forward(weights, biases, loc["X_test"])
        out = {
            "train_loss": (f - loc["y"]).pow(2).mean(dim=1),
            "test_loss": (f_test - loc["y_test"]).pow(2).mean(dim=1),
            "feature_sparsity": torch.stack([feature_sparsity(h) for h in pre], dim=1),
            "feature_sparsity_dedup": torch.stack([feature_sparsity_dedup(h, corr_threshold) for h in pre], dim=1),
            "lr_now": lr_at(min(k, n_steps - 1), chunk),
        }
        if rank_points:
            out["grad_rank"] = jacobian_rank(weights, biases, loc["X_test"][:, :rank_points], rank_threshold)
        return out

    with torch.no_grad():
        return train_batched(init_fn, step, observe, n_steps, record_at, params, keys, device=device, dtype=dtype)
