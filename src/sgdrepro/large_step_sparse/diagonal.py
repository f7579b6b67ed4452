"""Diagonal linear networks on sparse regression (Section 3 of the paper).

Model: predictor beta = u * v (elementwise), loss over n samples

    L(u, v) = ||X (u * v) - y||^2 / (2 n).

(S)GD with a sampler: at step k a mini-batch B_k of ``batch_size`` indices drawn uniformly
with replacement (the authors draw one index per step; ``batch_size >= n`` is full-batch GD)
and, with g = X_B^T (X_B beta - y_B) / |B|,

    u <- u - eta_k * g * v,    v <- v - eta_k * g * u,

with eta_k from :func:`sgdrepro.large_step_sparse.schedules.piecewise_lr` (a large step for a
fraction ``decay_at`` of training, then divided by ``decay_factor``). GD and SGD share this one
program; they differ by the sampler only.
"""

from __future__ import annotations

import numpy as np
import torch

from sgdrepro.core import RunRandom, run_keys, train_batched
from sgdrepro.core.trainer import Trajectory

from .batches import chunk_rows, per_chunk, sample_block, step_indices
from .measures import support_overlap
from .schedules import decay_step, piecewise_lr

__all__ = ["make_data", "sgd_step", "gradient", "train_runs", "train", "sample_block"]

def make_data(random: RunRandom, n: int, d: int, r: int, n_test: int, dtype=torch.float64) -> dict:
    """Per-run sparse regression data (authors' setting): X, X_test ~ N(0, I_d), noiseless
    labels of beta* with r non-zero entries |N(0, 1)| on the first r coordinates, ||beta*||_2 = 1.
    Returns tensors ``[runs, ...]``: X, y, X_test, y_test, beta_star."""
    X = random.normal("data_x", 0, (n, d), dtype)
    X_test = random.normal("data_x_test", 0, (n_test, d), dtype)
    head = random.normal("data_beta", 0, (r,), dtype).abs()
    beta = torch.zeros(random.n_runs, d, dtype=dtype, device=X.device)
    beta[:, :r] = head / head.norm(dim=1, keepdim=True)
    return {"X": X, "y": torch.einsum("rnd,rd->rn", X, beta), "X_test": X_test,
            "y_test": torch.einsum("rnd,rd->rn", X_test, beta), "beta_star": beta}


def gradient(u: torch.Tensor, v: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor):
    """Gradient of ||x_B (u*v) - y_B||^2 / (2|B|) in (u, v); shapes [runs, d], [runs, b, d], [runs, b]."""
    residual = torch.einsum("rbd,rd->rb", xb, u * v) - yb
    g = torch.einsum("rbd,rb->rd", xb, residual) / xb.shape[1]
    return g * v, g * u


def sgd_step(u, v, xb, yb, lr):
    """One (S)GD step with per-run step sizes ``lr`` [runs]; returns the new (u, v)."""
    grad_u, grad_v = gradient(u, v, xb, yb)
    lr = lr.unsqueeze(1)
    return u - lr * grad_u, v - lr * grad_v


def loss(X: torch.Tensor, y: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """||X beta - y||^2 / (2 n) per run."""
    return 0.5 * (torch.einsum("rnd,rd->rn", X, beta) - y).pow(2).mean(dim=1)


def train_runs(data: dict, params: dict, keys: np.ndarray, n_steps: int, batch_size: int,
               record_at: np.ndarray, *, init_u: float = 0.1, init_v: float = 0.0,
               nnz_threshold: float = 1e-8, device="cpu", dtype=torch.float64,
               chunk_size: int | None = None) -> Trajectory:
    """Train every run of a grid together.

    ``data``: per-run tensors from :func:`make_data` (``beta_star`` optional); ``params``:
    per-run arrays ``lr``, ``decay_at``, ``decay_factor``; ``keys``: per-run Philox keys (the
    sample indices are drawn from the stream "sample"). Records train/test loss, ||beta||_1,
    the number of coordinates with |beta_i| > ``nnz_threshold`` and, with ``beta_star``, the
    number of coordinates where that support differs from the ground truth's.
    """
    device = torch.device(device)
    data = {k: torch.as_tensor(v, dtype=dtype, device=device) for k, v in data.items()}
    n, d = data["X"].shape[1:]
    full_batch = batch_size >= n

    @per_chunk
    def chunk_data(chunk):
        local = chunk_rows(data, chunk, device)
        # the step size before and after the decay, and the decay step, per run (see schedules)
        local["decay_step"] = decay_step(chunk.params["decay_at"], n_steps)
        local["lr_before"] = chunk.params["lr"]
        local["lr_after"] = chunk.params["lr"] / chunk.params["decay_factor"]
        return local

    def init(chunk):
        state = {"u": torch.full((chunk.n_runs, d), init_u, dtype=dtype, device=device),
                 "v": torch.full((chunk.n_runs, d), init_v, dtype=dtype, device=device)}
        if not full_batch:
            state["sample"] = sample_block(chunk.random, 0, batch_size, n)
        return state

    def step(state, k, chunk):
        local = chunk_data(chunk)
        lr = torch.where(k >= local["decay_step"], local["lr_after"], local["lr_before"]).unsqueeze(1)
        beta = state["u"] * state["v"]
        if full_batch:
            residual = torch.einsum("rnd,rd->rn", local["X"], beta) - local["y"]
            g = torch.einsum("rnd,rn->rd", local["X"], residual) * (lr / n)
            sample = None
        else:
            sample, idx = step_indices(state["sample"], k, chunk.random, batch_size, n)  # idx [runs, b]
            xb = local["X"][local["rows"], idx]  # [runs, b, d]
            residual = (xb * beta.unsqueeze(1)).sum(2) - local["y"].gather(1, idx)
            g = (xb * residual.unsqueeze(2)).mean(1) * lr
        new = {"u": state["u"] - g * state["v"], "v": state["v"] - g * state["u"]}
        if sample is not None:
            new["sample"] = sample
        return new

    def observe(state, k, chunk):
        local = chunk_data(chunk)
        beta = state["u"] * state["v"]
        support = beta.abs() > nnz_threshold
        out = {
            "train_loss": loss(local["X"], local["y"], beta),
            "test_loss": loss(local["X_test"], local["y_test"], beta) if "X_test" in local else beta[:, 0] * np.nan,
            "l1_norm": beta.abs().sum(dim=1),
            "nnz": support.sum(dim=1).to(dtype),
            "lr_now": piecewise_lr(min(k, n_steps - 1), n_steps, chunk.params["lr"],
                                   chunk.params["decay_at"], chunk.params["decay_factor"]),
        }
        if "beta_star" in local:
            out["support_errors"] = (support != (local["beta_star"] != 0)).sum(dim=1).to(dtype)
            out["support_overlap"] = support_overlap(beta, local["beta_star"])
        return out

    with torch.no_grad():
        return train_batched(init, step, observe, n_steps, record_at, params, keys, device=device, dtype=dtype,
                             chunk_size=chunk_size)


def train(X, y, lr: float, steps: int, batch_size: int = 1, seed: int = 0, *, decay_at: float = 1.0,
          decay_factor: float = 1.0, init_u: float = 0.1, init_v: float = 0.0,
          experiment: str = "diagonal_sgd", root_seed: int = 0, device="cpu") -> np.ndarray:
    """Final predictor beta = u * v (numpy) of the diagonal network trained on (X, y).

    The sample indices come from the run key of (experiment, seed, root_seed) with the same
    key derivation as the batched grid (``key_dims=("seed",)``), so the run equals the grid's
    run of the same seed, step size and schedule on the same data. A run that diverges returns
    its last finite predictor (the trainer freezes it).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keys = run_keys(experiment, [{"seed": int(seed)}], root_seed=root_seed, key_dims=("seed",))
    params = {"lr": np.array([lr], dtype=np.float64), "decay_at": np.array([decay_at], dtype=np.float64),
              "decay_factor": np.array([decay_factor], dtype=np.float64)}
    traj = train_runs({"X": X[None], "y": y[None]}, params, keys, int(steps), int(batch_size),
                      np.array([steps]), init_u=init_u, init_v=init_v, device=device)
    return (traj.final["u"] * traj.final["v"])[0]
