"""Closed forms for the single-neuron tied autoencoder on orthonormal data.

Notation: n orthonormal samples x_1..x_n in R^d (d >= n), ``c_i = w^T x_i``,
``w = sum_i c_i x_i + w_perp``, ``||w||^2 = ||c||^2 + ||w_perp||^2``, ``r_i = sigma(c_i)``.

**Global minimum (linear).** ``l_i = 1 - 2 c_i^2 + c_i^2 ||w||^2``, so with
``s = ||w||^2 >= ||c||^2``,

    L(w) = (1/n) sum_i l_i = 1 - ||c||^2 (2 - s) / n >= 1 - s (2 - s) / n >= 1 - 1/n,

(the first inequality when s < 2, the only region where L < 1), with equality iff
``w_perp = 0`` and ``||w|| = 1``: ``L* = 1 - 1/n``, attained on the whole unit sphere of
the data span.

**Global minimum (ReLU).** ``r_i c_i = r_i^2``, so ``l_i = 1 - 2 r_i^2 + r_i^2 ||w||^2`` and
with ``P = sum_i r_i^2 <= ||w||^2 = s``: ``L = 1 - P (2 - s) / n >= 1 - s (2 - s)/n >= 1 - 1/n``,
with equality iff ``||w|| = 1`` and ``P = s``, i.e. w in the data span with every
``c_i >= 0``: the same value ``L* = 1 - 1/n``, on the unit sphere's nonnegative orthant.
(For orthogonal samples of unequal norms the same argument gives
``L* = (sum_i ||x_i||^2 - max_i ||x_i||^2) / n``.) ``w = 0`` and any w with every ``c_i <= 0``
are critical points with ``L = 1``: a ReLU run whose initialization fires on no sample
never learns (probability ``2^-n``; the paper's results assume it fires on one).

**Gradient descent keeps the direction of c.** The full gradient's component on x_i is
``(2 r_i / n)(||w||^2 + P - 2)`` (zero for inactive ReLU coordinates, which with
``w_perp`` only shrink by the factor ``1 - 2 lr P / n``): every active coordinate is
multiplied by the same factor at each step, so GD converges to
``c_inf = sigma(c_0) / ||sigma(c_0)||`` (dense: all n coordinates for linear, the
initially active ones for ReLU) and ``cos(w_inf, P_sigma w_0) = 1``.

**Trace of the Hessian at a global minimum.** For an active sample
``tr nabla^2 l_i = -4 + 2 ||w||^2 + (8 + 2 d) c_i^2`` and an inactive ReLU sample contributes 0;
at a global minimum (``||w|| = 1``, ``sum_active c_i^2 = 1``) with k active coordinates

    tr nabla^2 L = (2 d + 8 - 2 k) / n,

k = n for the linear model (every global minimum has the same trace, ``(2d + 8)/n - 2``);
for ReLU the sparse minimum (k = 1) is sharper than GD's dense one (k = number of
coordinates active at initialization) by ``2 (k - 1) / n``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "global_min_loss",
    "trace_hessian_global_min",
    "gd_limit_coordinates",
    "sparse_alignment_bound",
    "stable_lr",
]


def global_min_loss(n: int) -> float:
    """``L* = 1 - 1/n`` for n orthonormal samples (linear and ReLU)."""
    return 1.0 - 1.0 / n


def trace_hessian_global_min(n: int, d: int, n_active, relu):
    """``(2d + 8 - 2k)/n`` with k = n_active for ReLU and k = n for linear (broadcasts)."""
    k = np.where(np.asarray(relu, dtype=bool), np.asarray(n_active, dtype=np.float64), float(n))
    return (2.0 * d + 8.0 - 2.0 * k) / n


def gd_limit_coordinates(c0: np.ndarray, relu: bool) -> np.ndarray:
    """GD's limit in the data basis: ``sigma(c_0) / ||sigma(c_0)||`` (last axis = coordinates)."""
    c = np.maximum(c0, 0.0) if relu else np.asarray(c0, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return c / np.linalg.norm(c, axis=-1, keepdims=True)


def sparse_alignment_bound(n: int) -> float:
    """``sqrt(2 ln(2n) / n)``: bound on ``max_i |z_i| / ||z||`` for a Gaussian z in R^n.

    A one-coordinate solution ``w = +-x_k`` has ``|cos(w, P w_0)| = |c_k(0)| / ||c(0)||``,
    at most ``max_i |c_i(0)| / ||c(0)||`` ~ ``sqrt(2 ln(2n)/n)`` (``max |z_i| ~ sqrt(2 ln 2n)``,
    ``||z|| ~ sqrt(n)``): "nearly orthogonal", of order 1/sqrt(n) up to the log factor.
    """
    return float(np.sqrt(2.0 * np.log(2.0 * n) / n))


def stable_lr(batch_size) -> np.ndarray:
    """Largest step size for which a one-coordinate minimum is linearly stable: ``b / 4``.

    Near ``w = x_k`` with x_k in a batch of size b the coordinate follows
    ``c <- c + (4 lr / b) c (1 - c^2)``, whose fixed point c = 1 is stable iff
    ``|1 - 8 lr / b| < 1``.
    """
    return np.asarray(batch_size, dtype=np.float64) / 4.0
