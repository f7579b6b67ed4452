r"""Quadratic models and full-batch GD, batched over runs (leading axis = run).

Model: :math:`f_W(x) = \frac1m \sum_{j=1}^m (w_j^\top x)^2` with :math:`W = [w_1, ..., w_m] \in R^{d \times m}`
(phase retrieval is :math:`m = 1`; the two-layer network has a fixed outer layer :math:`1/m`).
Loss on the training set (rows of ``X``, ``mask`` selects the rows in use):

.. math:: L(W) = \tfrac14 \sum_i \mathrm{mask}_i\,(f_W(x_i) - y_i)^2, \qquad
          \nabla_{w_j} L = \tfrac1m \sum_i \mathrm{mask}_i\,(f_W(x_i) - y_i)(w_j^\top x_i)\,x_i .

GD: :math:`W \leftarrow W - \eta \nabla L(W)` (:func:`gd_step`). :func:`hvp` is the exact
Hessian-vector product used to propagate tangent vectors (Lyapunov exponents); :func:`sharpness_at`
the top Hessian eigenvalue at a zero-loss point, through the Gauss-Newton Gram matrix
:math:`K_{ik} = \frac{2}{m^2} (x_i^\top x_k)(x_i^\top W W^\top x_k)` (same non-zero spectrum).
Shapes: ``W [R, d, m]``, ``X [R, n, d]``, ``y, mask [R, n]``, ``lr [R]``.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "predictions",
    "loss",
    "gradient",
    "gd_step",
    "hvp",
    "sharpness_at",
    "orthonormal_data",
    "gaussian_data",
]


def predictions(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """:math:`f_W(x_i)` for every row of ``X``: ``[R, n]``."""
    return (X @ W).square().mean(dim=-1)


def loss(W, X, y, mask) -> torch.Tensor:
    """:math:`\\frac14 \\sum_i \\mathrm{mask}_i (f_W(x_i) - y_i)^2`: ``[R]``."""
    return 0.25 * (mask * (predictions(W, X) - y).square()).sum(dim=-1)


def gradient(W, X, y, mask) -> torch.Tensor:
    """:math:`\\nabla_W L`: ``[R, d, m]``."""
    C = X @ W  # [R, n, m]
    r = mask * (C.square().mean(dim=-1) - y)
    return X.transpose(1, 2) @ (r.unsqueeze(-1) * C) / W.shape[-1]


def gd_step(W, X, y, mask, lr) -> torch.Tensor:
    """One full-batch GD step with a per-run step size ``lr [R]``."""
    return W - lr.reshape(-1, 1, 1) * gradient(W, X, y, mask)


def hvp(W, V, X, y, mask) -> torch.Tensor:
    """Hessian of :math:`L` at ``W`` applied to ``V`` (both ``[R, d, m]``)."""
    m = W.shape[-1]
    C, D = X @ W, X @ V
    r = mask * (C.square().mean(dim=-1) - y)
    dr = mask * (2.0 / m) * (C * D).sum(dim=-1)
    return X.transpose(1, 2) @ (dr.unsqueeze(-1) * C + r.unsqueeze(-1) * D) / m


def sharpness_at(W, X, mask, block_bytes: int = 1 << 28) -> torch.Tensor:
    """Top eigenvalue of :math:`\nabla^2 L` at a zero-loss ``W``: ``[R]`` (Gauss-Newton Gram).

    The ``[n, n]`` Gram of each run is formed for a block of runs at a time (about
    ``block_bytes`` for the Gram and its two factors), so memory does not grow with the chunk;
    each run's eigenvalue is computed alone either way, so the blocks do not change it."""
    n, m = X.shape[-2], W.shape[-1]
    block = max(1, int(block_bytes // (3 * 8 * n * n)))
    top = []
    for start in range(0, X.shape[0], block):
        Xm = X[start:start + block] * mask[start:start + block].unsqueeze(-1)
        P = Xm @ W[start:start + block]
        K = (2.0 / m**2) * (Xm @ Xm.transpose(1, 2)) * (P @ P.transpose(1, 2))
        top.append(torch.linalg.eigvalsh(K)[:, -1])
    return torch.cat(top)


def orthonormal_data(gaussian: torch.Tensor, n: int) -> torch.Tensor:
    """First ``n`` rows of the orthogonal factor of a Gaussian ``[R, d, d]``: ``X [R, n, d]``.

    The sign fix (``diag(R) > 0``) makes the factor Haar-distributed and unique.
    """
    q, r = torch.linalg.qr(gaussian)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q.transpose(1, 2)[:, :n, :].contiguous()


def gaussian_data(gaussian: torch.Tensor) -> torch.Tensor:
    """Rows :math:`x_i \\sim N(0, I_d / d)` (unit norm on average) from standard normals ``[R, n, d]``."""
    return gaussian / math.sqrt(gaussian.shape[-1])
