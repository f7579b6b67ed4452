"""Tail-index estimators.

- :func:`tail_index_block_sum` (scalar) and :func:`tail_index_block_sum_rows` (vectors): the
  estimator of Mohammadi, Mohammadpour & Ogata (2015, Corollary 2.4) used by the paper. For
  K = K1 * K2 centred samples split into K2 blocks of K1 with block sums Y_j,
  1/alpha_hat = (mean_j log|Y_j| - mean_i log|X_i|) / log K1. For symmetric alpha-stable X,
  Y = K1^(1/alpha) X in law, so the estimator is consistent for every K1; for laws in the
  domain of attraction of a stable law it estimates min(alpha, 2) as the blocks grow (finite
  variance: block sums become Gaussian and 1/alpha_hat -> 1/2), with a bias at finite K1. The paper takes the median over several K1.
  The vector form uses Euclidean norms of d-dimensional samples (Simsekli et al. 2019).
- :func:`tail_index_hill`: Hill's estimator on |X| from the k largest order statistics,
  1/alpha_hat = mean_{i<=k} log(X_(i) / X_(k+1)); it also resolves alpha > 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BLOCK_SIZES",
    "tail_index_block_sum",
    "tail_index_block_sum_rows",
    "tail_index_hill",
    "symmetric_stable",
    "symmetric_pareto",
]

BLOCK_SIZES = (2, 5, 10, 20, 40, 50, 100)  # the authors' code (synthetic experiment)
_TINY = np.finfo(float).tiny


def _block_sum_one(x: np.ndarray, block: int, log_abs) -> float:
    n_blocks = x.shape[0] // block
    if n_blocks < 1:
        return math.nan
    x = x[: n_blocks * block]
    sums = x.reshape(n_blocks, block, *x.shape[1:]).sum(axis=1)
    diff = (np.mean(log_abs(sums)) - np.mean(log_abs(x))) / math.log(block)
    return 1.0 / diff if diff > 0 else math.inf


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    keep = np.isfinite(x).all(axis=tuple(range(1, x.ndim))) if x.ndim > 1 else np.isfinite(x)
    return x[keep]


def tail_index_block_sum(x, block_sizes: Sequence[int] = BLOCK_SIZES) -> float:
    """Median over ``block_sizes`` of the block-sum estimate from centred scalar samples ``x``.

    Blocks are consecutive samples: order ``x`` so that a block holds independent draws
    (e.g. different chains at the same step). Non-finite samples are dropped; nan if fewer
    than two blocks of the smallest size remain.
    """
    x = _finite(np.ravel(x))
    log_abs = lambda v: np.log(np.abs(v) + _TINY)  # noqa: E731
    estimates = [_block_sum_one(x, int(m), log_abs) for m in block_sizes if x.size // int(m) >= 2]
    return float(np.median(estimates)) if estimates else math.nan


def tail_index_block_sum_rows(x, block_sizes: Sequence[int] = BLOCK_SIZES) -> float:
    """Vector version: ``x`` is [n_samples, d]; norms of block sums against norms of samples."""
    x = _finite(np.asarray(x, dtype=float).reshape(len(x), -1))
    log_abs = lambda v: np.log(np.linalg.norm(v, axis=-1) + _TINY)  # noqa: E731
    estimates = [_block_sum_one(x, int(m), log_abs) for m in block_sizes if x.shape[0] // int(m) >= 2]
    return float(np.median(estimates)) if estimates else math.nan


def tail_index_hill(x, k_fraction: float = 0.01, k: int | None = None) -> float:
    """Hill's estimator of alpha from |x| (centred samples) and its top ``k`` order statistics.

    ``k`` defaults to ``ceil(k_fraction * n)``. nan if fewer than 2 finite nonzero samples.
    """
    x = np.abs(_finite(np.ravel(x)))
    x = x[x > 0]
    n = x.size
    if n < 3:
        return math.nan
    k = int(k) if k is not None else max(2, int(math.ceil(k_fraction * n)))
    k = min(k, n - 1)
    top = -np.partition(-x, k)[: k + 1]  # the k + 1 largest, unordered except top[k] is the (k+1)-th
    threshold = top[k]
    logs = np.log(top[:k]) - math.log(threshold)
    mean = float(np.mean(logs))
    return 1.0 / mean if mean > 0 else math.inf


def symmetric_stable(alpha: float, size, seed: int) -> np.ndarray:
    """Standard symmetric alpha-stable draws (Chambers-Mallows-Stuck), fixed seed.

    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / W)^((1 - alpha) / alpha),
    V ~ U(-pi/2, pi/2), W ~ Exp(1); alpha = 1 is the Cauchy law tan(V).
    """
    rng = np.random.default_rng(seed)
    v = rng.uniform(-math.pi / 2, math.pi / 2, size)
    w = rng.exponential(1.0, size)
    if abs(alpha - 1.0) < 1e-12:
        return np.tan(v)
    return (
        np.sin(alpha * v) / np.cos(v) ** (1.0 / alpha) * (np.cos((1.0 - alpha) * v) / w) ** ((1.0 - alpha) / alpha)
    )


def symmetric_pareto(alpha: float, size, seed: int) -> np.ndarray:
    """Symmetric Pareto draws: P(|X| > t) = t^(-alpha) for t >= 1, random sign; fixed seed."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.0, 1.0, size) ** (-1.0 / alpha)
    return np.where(rng.uniform(0.0, 1.0, size) < 0.5, -magnitude, magnitude)
