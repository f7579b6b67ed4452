"""Measures of a solution, per run (leading run axis): sparsity, alignment, loss, sharpness.

With samples ``x_i`` (rows of ``X [n, d]``, shared by the runs) the coordinates of ``w`` in the data basis are
``c_i = w^T x_i / ||x_i||``; for orthonormal data ``w = sum_i c_i x_i + w_perp``.

- Sparsity: ``count_above`` (number of |c_i| above a threshold), ``participation_ratio``
  ``(sum c_i^2)^2 / sum c_i^4`` (a smooth count: 1 for one coordinate, n for equal ones),
  ``l1_l2_ratio`` ``||c||_1 / ||c||_2`` (in [1, sqrt(n)]) and ``max_ratio`` ``max|c_i| / ||c||_2``.
- Alignment with the initialization ``w_0``: ``cos(w_T, w_0)``; with its projection on the data
  span ``P w_0 = sum_i (w_0^T x_i) x_i / ||x_i||^2``; and with its *active* projection
  ``P_sigma w_0 = sum_i sigma(w_0^T x_i) x_i / ||x_i||^2`` (equal to ``P w_0`` for the linear
  model; for ReLU it keeps the samples the neuron fires on at initialization, the only ones
  gradient descent can learn).
- Loss: the full mean loss; its gap to the global minimum (:func:`theory.global_min_loss`).
- Sharpness: the exact trace of the Hessian of the full loss, by autograd
  (``torch.func.hessian`` vmapped over runs). For ReLU the loss is not twice differentiable
  where some ``c_i = 0``: the trace jumps by ``-2/n`` when such a coordinate turns positive
  (see :func:`theory.trace_hessian_global_min`). The coordinates that vanish in the limit
  (SGD's losers, ReLU's initially negative ones) end at the float64 rounding floor of
  ``w^T x_i`` (about 1e-16) with random signs, so the trace at the final *iterate*
  (``trace_hessian``, branch ``c_i > 0``) depends on rounding. The paper's statement is about
  the *limit* point, where they are exactly 0: :func:`limit_point` drops the coordinates below
  the sparsity threshold (and the component off the data span, which decays geometrically)
  and ``trace_hessian_limit`` is evaluated there, on the branch where exactly the remaining
  coordinates are active (ReLU'(0) = 0).
"""

from __future__ import annotations

import torch
from torch.func import hessian, vmap

from .model import activation, loss

__all__ = [
    "coordinates",
    "full_loss",
    "count_above",
    "participation_ratio",
    "l1_l2_ratio",
    "max_ratio",
    "cosine",
    "project_on_data",
    "limit_point",
    "trace_hessian",
    "n_active",
    "solution_measures",
]


def coordinates(w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``c_i = w^T x_i / ||x_i||``, ``[R, n]``."""
    return (w @ X.T) / X.norm(dim=-1)


def full_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor) -> torch.Tensor:
    """Mean reconstruction loss over the n samples, ``[R]``."""
    return loss(w, X, relu)


def count_above(c: torch.Tensor, threshold: float) -> torch.Tensor:
    """Number of coordinates with ``|c_i| > threshold``, ``[R]``."""
    return (c.abs() > threshold).sum(-1)


def participation_ratio(c: torch.Tensor) -> torch.Tensor:
    """``(sum c_i^2)^2 / sum c_i^4``: effective number of coordinates, in [1, n]."""
    c2 = c * c
    return c2.sum(-1) ** 2 / (c2 * c2).sum(-1)


def l1_l2_ratio(c: torch.Tensor) -> torch.Tensor:
    """``||c||_1 / ||c||_2``, in [1, sqrt(n)]."""
    return c.abs().sum(-1) / c.norm(dim=-1)


def max_ratio(c: torch.Tensor) -> torch.Tensor:
    """``max_i |c_i| / ||c||_2``, in [1/sqrt(n), 1]."""
    return c.abs().amax(-1) / c.norm(dim=-1)


def cosine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine of the angle between u and v per run (NaN where one of them is 0)."""
    return (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))


def project_on_data(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_i (w^T x_i) x_i / ||x_i||^2`` (``relu`` given: ``sigma(w^T x_i)`` instead), ``[R, d]``.

    For orthogonal samples this is the orthogonal projection on their span (on the span of
    the active samples with ``relu``).
    """
    c = w @ X.T
    if relu is not None:
        c = activation(c, relu)
    return (c / (X * X).sum(-1)) @ X


def limit_point(w: torch.Tensor, X: torch.Tensor, threshold: float) -> torch.Tensor:
    """The limit the iterate is converging to: coordinates with ``|c_i| <= threshold`` set to 0,
    the component off the data span dropped, ``[R, d]``."""
    c = coordinates(w, X)
    kept = torch.where(c.abs() > threshold, c, torch.zeros_like(c))
    return kept @ (X / X.norm(dim=-1, keepdim=True))


def _single_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    c = X @ w
    r = torch.where(relu & ~active, torch.zeros_like(c), c)  # ReLU on its branch: c if active else 0
    return ((X * X).sum(-1) - 2.0 * r * c + r * r * (w @ w)).mean()


def trace_hessian(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
    """Exact ``tr nabla^2 L(w)`` of the full mean loss per run, by autograd, ``[R]``.

    For ReLU the Hessian is taken on the branch given by ``active [R, n]`` (which samples the
    neuron fires on), default ``w^T x_i > 0`` (ReLU'(0) = 0). :func:`limit_point` sets the
    losing coordinates to 0 only up to rounding (``+-1e-17``), so at the limit the branch is
    passed explicitly: ``c_i > threshold``.
    """
    if active is None:
        active = (w @ X.T) > 0
    hess = vmap(hessian(_single_loss), in_dims=(0, None, 0, 0))(w, X, relu, active)
    return torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)


def n_active(w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Number of samples the ReLU neuron fires on, ``#{i : w^T x_i > 0}``, ``[R]``."""
    return ((w @ X.T) > 0).sum(-1)


def solution_measures(
    w: torch.Tensor, w0: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, threshold: float
) -> dict[str, torch.Tensor]:
    """Every per-run measure of the final point ``w`` (init ``w0``), as ``{name: [R, ...]}``."""
    c = coordinates(w, X)
    w_limit = limit_point(w, X, threshold)
    return {
        "coords_final": c,
        "loss_final": full_loss(w, X, relu),
        "count_above": count_above(c, threshold),
        "participation_ratio": participation_ratio(c),
        "l1_l2_ratio": l1_l2_ratio(c),
        "max_ratio": max_ratio(c),
        "off_span_norm": (w - project_on_data(w, X)).norm(dim=-1),
        "cos_init": cosine(w, w0),
        "cos_init_span": cosine(w, project_on_data(w0, X)),
        "cos_init_active": cosine(w, project_on_data(w0, X, relu)),
        "n_active_init": n_active(w0, X),
        "n_active_limit": (c > threshold).sum(-1),
        "trace_hessian": trace_hessian(w, X, relu),
        "trace_hessian_limit": trace_hessian(w_limit, X, relu, c > threshold),
    }
