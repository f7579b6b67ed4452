"""The single-neuron tied autoencoder and its (mini-batch) SGD step, batched over runs.

Model (Ghosh, Frei, Ha & Yu, JMLR 2025, Section 2): ``x -> w sigma(w^T x)`` with ``w`` in R^d
and ``sigma`` the identity (linear) or ReLU. With ``c_i = w^T x_i`` and ``r_i = sigma(c_i)``,
the reconstruction error of one sample is

    l_i(w) = ||x_i - w r_i||^2 = ||x_i||^2 - 2 r_i c_i + r_i^2 ||w||^2,

and its gradient, using ``sigma'(c) c = sigma(c)`` and ``sigma(c) sigma'(c) = sigma(c)`` (true
for both activations, with ReLU'(0) = 0),

    grad l_i(w) = (2 ||w||^2 - 4) r_i x_i + 2 r_i^2 w.

The loss of a batch B is the *mean* ``L_B = (1/|B|) sum_{i in B} l_i`` (the full loss is the mean
over the n samples), and one SGD step is ``w <- w - lr grad L_B(w)``. A batch is given as a
weight vector ``a`` over the n samples (``a_i = 1/|B|`` in the batch, 0 outside), so runs with
different batch sizes advance together as one tensor program; with ``a_i = 1/n`` for every i
the step is exactly full-batch gradient descent.

Every function takes a leading run axis: ``w [R, d]``, ``relu [R]`` (bool: ReLU or linear per
run), ``a [R, n]``, ``lr [R]``; the data ``X [n, d]`` (rows are samples) is shared by all runs
(the problem is rotation invariant and w_0 is isotropic, so one Haar-random orthonormal set
with a fresh w_0 per seed has the law of a fresh data set per seed), which makes ``X w`` one
matrix product for the whole grid.
"""

from __future__ import annotations

import torch

__all__ = [
    "ACTIVATIONS",
    "activation",
    "per_sample_loss",
    "loss",
    "batch_gradient",
    "sgd_step",
    "orthonormal_data",
    "gaussian_init",
    "batch_assignment",
    "batch_weights",
    "n_batches",
]

ACTIVATIONS = ("linear", "relu")


def activation(c: torch.Tensor, relu: torch.Tensor) -> torch.Tensor:
    """``sigma(c)`` per run: ReLU where ``relu`` is True, identity elsewhere (``c [R, n]``)."""
    return torch.where(relu.reshape(-1, *([1] * (c.ndim - 1))), torch.clamp(c, min=0.0), c)


def per_sample_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor) -> torch.Tensor:
    """``l_i(w) = ||x_i - w sigma(w^T x_i)||^2`` for every run and sample, ``[R, n]``."""
    c = w @ X.T
    r = activation(c, relu)
    return (X * X).sum(-1) - 2.0 * r * c + r * r * (w * w).sum(-1, keepdim=True)


def loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, a: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted loss ``sum_i a_i l_i(w)`` per run (``a=None``: the full mean over the n samples)."""
    losses = per_sample_loss(w, X, relu)
    return losses.mean(-1) if a is None else (a * losses).sum(-1)


def batch_gradient(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """``grad sum_i a_i l_i(w) = (2||w||^2 - 4) X^T (a * r) + 2 (sum_i a_i r_i^2) w``, ``[R, d]``."""
    r = activation(w @ X.T, relu)
    norm2 = (w * w).sum(-1, keepdim=True)
    return (2.0 * norm2 - 4.0) * ((a * r) @ X) + 2.0 * (a * r * r).sum(-1, keepdim=True) * w


def sgd_step(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, a: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
    """One step ``w - lr grad L_B(w)`` with the batch given by its weights ``a``."""
    return w - lr.reshape(-1, 1) * batch_gradient(w, X, relu, a)


def orthonormal_data(gaussian: torch.Tensor, n: int) -> torch.Tensor:
    """n orthonormal samples in R^d, Haar-distributed, from a Gaussian ``[..., d, n]``.

    QR of a Gaussian matrix with the signs of R's diagonal moved into Q gives the first n
    columns of a Haar-random orthogonal matrix (Mezzadri 2007); the rows of the result are
    the samples, ``[..., n, d]``.
    """
    q, r = torch.linalg.qr(gaussian)
    signs = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return (q[..., :n] * signs.unsqueeze(-2)).transpose(-1, -2).contiguous()


def gaussian_init(gaussian: torch.Tensor, scale: float) -> torch.Tensor:
    """``w_0 ~ N(0, scale^2 / d I_d)``: ``||w_0|| ~ scale``, from a standard Gaussian ``[R, d]``."""
    return gaussian * (scale / gaussian.shape[-1] ** 0.5)


def n_batches(n: int, batch_size: torch.Tensor, last_batch: str) -> torch.Tensor:
    """Batches per epoch: ``ceil(n / b)`` keeping the last partial batch, ``floor(n / b)`` dropping it."""
    if last_batch == "keep":
        return -torch.div(-n, batch_size, rounding_mode="floor")
    return torch.div(n, batch_size, rounding_mode="floor")


def batch_assignment(
    rank: torch.Tensor, batch_size: torch.Tensor, last_batch: str, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which batch of the epoch each sample falls in, and its weight in that batch's mean.

    ``rank[r, i]`` is where sample i sits in run r's order for the epoch; batch j holds the
    samples of rank in ``[j b, min((j+1) b, n))``. Returns ``batch_of [R, n]`` (int; -1 for a
    dropped partial batch) and ``weight [R, n]`` (one over the actual size of the batch).
    """
    n = rank.shape[-1]
    b = batch_size.unsqueeze(-1)
    batch_of = torch.div(rank, b, rounding_mode="floor")
    size = torch.clamp(n - batch_of * b, max=b)
    if last_batch == "drop":
        batch_of = torch.where(size < b, torch.full_like(batch_of, -1), batch_of)
    return batch_of, 1.0 / size.to(dtype)


def batch_weights(batch_of: torch.Tensor, weight: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Weights ``a [R, n]`` of batch number ``position [R]`` of the epoch (mean over the batch)."""
    return torch.where(batch_of == position.unsqueeze(-1), weight, torch.zeros_like(weight))
