"""Measures of a solution, per run (leading run axis): sparsity, alignment, loss, sharpness.

With samples ``x_i`` (rows of ``X [n, d]``, shared by the runs) the coordinates of ``w`` in the data basis are
``c_i = w^T x_i / ||x_i||``; for orthonormal data ``w = sum_i c_i x_i + w_perp``.

- Sparsity: ``count_above`` (number of |c_i| above a threshold), ``participation_ratio``
  ``(sum c_i^2)^2 / sum c_i^4`` (a smooth count: 1 for one coordinate, n for equal ones),
  ``l1_l2_ratio`` ``||c||_1 / ||c||_2`` (in [1, sqrt(n)]), ``max_ratio`` ``max|c_i| / ||c||_2``
  and ``second_ratio`` ``|c|_(2) / |c|_(1)`` (second-largest over largest: 0 for one coordinate).
- Alignment with the initialization ``w_0``: ``cos(w_T, w_0)``; with its projection on the data
  span ``P w_0 = sum_i (w_0^T x_i) x_i / ||x_i||^2``; and with its *active* projection
  ``P_sigma w_0 = sum_i sigma(w_0^T x_i) x_i / ||x_i||^2`` (equal to ``P w_0`` for the linear
  model; for ReLU it keeps the samples the neuron fires on at initialization, the only ones
  gradient descent can learn), also as the sine of that angle (:func:`sine`, accurate near 0
  where ``1 - cos`` is lost to rounding).
- Loss: the full mean loss, and its excess over the global minimum computed without cancellation
  (:func:`excess_loss`).
- Sharpness: the exact trace of the Hessian of the full loss at the end point ``w_T`` itself, by
  autograd (``torch.func.hessian`` vmapped over runs). For ReLU the loss is not twice
  differentiable where some ``c_i = 0``, and a coordinate that vanishes (SGD's losers, ReLU's
  initially negative ones) ends at the float64 rounding floor of ``w^T x_i`` (``|c_i| ~ 1e-16..3e-14``)
  with a random sign; the Hessian is taken on the branch :func:`active_branch`: sample i is active
  iff ``c_i > ZERO_TOL ||w|| ||x_i||``, i.e. a coordinate indistinguishable from 0 in float64 takes
  ReLU'(0) = 0, the convention of the gradient. Nothing else about ``w_T`` is changed (its norm,
  its off-span part and every resolvable coordinate enter as they are). A losing coordinate that has
  not yet reached the floor (say 1e-6 > 0) is resolved and active: the trace there is that of the
  dense side of the kink, lower by 2/n per such coordinate, as the loss itself has it.
"""

from __future__ import annotations

import torch
from torch.func import hessian, vmap

from .model import activation, loss

__all__ = [
    "ZERO_TOL",
    "coordinates",
    "full_loss",
    "excess_loss",
    "count_above",
    "participation_ratio",
    "l1_l2_ratio",
    "max_ratio",
    "second_ratio",
    "cosine",
    "sine",
    "project_on_data",
    "active_branch",
    "trace_hessian",
    "n_active",
    "solution_measures",
]

# Below 1e-12 ||w|| ||x_i|| a coordinate has no resolvable sign: the float64 rounding of w^T x_i
# (d eps ~ 1e-14 for d <= 40), accumulated by the iteration, stays below it (quick runs: up to 3e-14).
ZERO_TOL = 1e-12


def coordinates(w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """``c_i = w^T x_i / ||x_i||``, ``[R, n]``."""
    return (w @ X.T) / X.norm(dim=-1)


def full_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor) -> torch.Tensor:
    """Mean reconstruction loss over the n samples, ``[R]``."""
    return loss(w, X, relu)


def excess_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor) -> torch.Tensor:
    """``L(w) - L*`` for orthonormal samples, without cancellation, ``[R]``.

    With ``r_i = sigma(c_i)``, ``P = sum_i r_i^2`` and ``m = ||w||^2 - P = ||w_perp||^2 + sum_i (c_i - r_i)^2``
    (the mass of w that the loss does not reconstruct with), ``L = 1 - (2 - P - m) P / n`` and
    ``L* = 1 - 1/n``, so ``L - L* = ((1 - P)^2 + P m) / n >= 0``: a sum of nonnegative terms with no
    cancellation between L and L*, resolved down to about eps^2 where ``L - L*`` computed directly
    stops at the float64 resolution of L (eps ~ 1e-16).
    """
    c = w @ X.T
    r = activation(c, relu)
    p = (r * r).sum(-1)
    off_span = w - c @ X
    m = (off_span * off_span).sum(-1) + ((c - r) ** 2).sum(-1)
    return ((1.0 - p) ** 2 + p * m) / X.shape[0]


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


def second_ratio(c: torch.Tensor) -> torch.Tensor:
    """``|c|_(2) / |c|_(1)``: second-largest over largest |c_i|, in [0, 1] (0: one coordinate)."""
    top = torch.topk(c.abs(), 2, dim=-1).values
    return top[..., 1] / top[..., 0]


def cosine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Cosine of the angle between u and v per run (NaN where one of them is 0)."""
    return (u * v).sum(-1) / (u.norm(dim=-1) * v.norm(dim=-1))


def sine(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Sine of the angle between u and v, ``||u - (u^T v) v / ||v||^2|| / ||u||``: accurate near 0,
    where ``1 - cos`` is lost to rounding."""
    v_unit = v / v.norm(dim=-1, keepdim=True)
    rejected = u - (u * v_unit).sum(-1, keepdim=True) * v_unit
    return rejected.norm(dim=-1) / u.norm(dim=-1)


def project_on_data(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor | None = None) -> torch.Tensor:
    """``sum_i (w^T x_i) x_i / ||x_i||^2`` (``relu`` given: ``sigma(w^T x_i)`` instead), ``[R, d]``.

    For orthogonal samples this is the orthogonal projection on their span (on the span of
    the active samples with ``relu``).
    """
    c = w @ X.T
    if relu is not None:
        c = activation(c, relu)
    return (c / (X * X).sum(-1)) @ X


def active_branch(w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Samples the ReLU neuron fires on at w, ``c_i > ZERO_TOL ||w|| ||x_i||`` (``[R, n]``): a
    coordinate at the rounding floor counts as 0, where ReLU'(0) = 0."""
    scale = w.norm(dim=-1, keepdim=True) * X.norm(dim=-1)
    return (w @ X.T) > ZERO_TOL * scale


def _single_loss(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    c = X @ w
    r = torch.where(relu & ~active, torch.zeros_like(c), c)  # ReLU on its branch: c if active else 0
    return ((X * X).sum(-1) - 2.0 * r * c + r * r * (w @ w)).mean()


def trace_hessian(w: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, active: torch.Tensor | None = None) -> torch.Tensor:
    """Exact ``tr nabla^2 L(w)`` of the full mean loss at w per run, by autograd, ``[R]``.

    For ReLU the Hessian is taken on the branch given by ``active [R, n]`` (which samples the
    neuron fires on), default :func:`active_branch`. Per active sample
    ``tr nabla^2 l_i = -4 + 2 ||w||^2 + (8 + 2d) c_i^2`` (unit ``x_i``), per inactive one 0.
    """
    if active is None:
        active = active_branch(w, X)
    hess = vmap(hessian(_single_loss), in_dims=(0, None, 0, 0))(w, X, relu, active)
    return torch.diagonal(hess, dim1=-2, dim2=-1).sum(-1)


def n_active(w: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Number of samples the ReLU neuron fires on, ``#{i : w^T x_i > 0}``, ``[R]``."""
    return ((w @ X.T) > 0).sum(-1)


def solution_measures(
    w: torch.Tensor, w0: torch.Tensor, X: torch.Tensor, relu: torch.Tensor, threshold: float
) -> dict[str, torch.Tensor]:
    """Every per-run measure of the end point ``w`` (init ``w0``), as ``{name: [R, ...]}``."""
    c = coordinates(w, X)
    branch = active_branch(w, X)
    w0_active = project_on_data(w0, X, relu)
    return {
        "coords_final": c,
        "loss_final": full_loss(w, X, relu),
        "excess_loss": excess_loss(w, X, relu),
        "count_above": count_above(c, threshold),
        "participation_ratio": participation_ratio(c),
        "l1_l2_ratio": l1_l2_ratio(c),
        "max_ratio": max_ratio(c),
        "second_ratio": second_ratio(c),
        "off_span_norm": (w - project_on_data(w, X)).norm(dim=-1),
        "cos_init": cosine(w, w0),
        "cos_init_span": cosine(w, project_on_data(w0, X)),
        "cos_init_active": cosine(w, w0_active),
        "sin_init_active": sine(w, w0_active),
        "n_active_init": n_active(w0, X),
        "n_active_final": torch.where(relu, branch.sum(-1), torch.full_like(branch.sum(-1), X.shape[0])),
        "trace_hessian": trace_hessian(w, X, relu, branch),
    }
