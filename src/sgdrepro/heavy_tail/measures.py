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
  :func:`tail_index_hill_weighted` gives the same number for a sample in which independent
  units (chains) appear with multiplicities (a bootstrap resample), from a :func:`hill_table`
  sorted once, in O(k) per resample instead of a partition of the whole sample.
- :func:`growth_rates`: per chain, the least-squares slope of log||x_k - x*|| against k over
  the recorded window, the measured counterpart of the top Lyapunov exponent E log||M e_1||
  when that is positive (the iterates grow like e^(lambda k)); 0 up to a transient when it is
  negative (log||x_k - x*|| is then stationary).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BLOCK_SIZES",
    "tail_index_block_sum",
    "tail_index_block_sum_rows",
    "block_sum_median",
    "log_abs_scalar",
    "tail_index_hill",
    "HillTable",
    "hill_table",
    "tail_index_hill_weighted",
    "symmetric_stable",
    "symmetric_pareto",
    "growth_rates",
]

BLOCK_SIZES = (2, 5, 10, 20, 40, 50, 100)  # the authors' code (synthetic experiment)
_TINY = np.finfo(float).tiny


def _block_sum_one(x: np.ndarray, log_x: np.ndarray, log_total: float, block: int, log_abs) -> float:
    """One block size; ``log_x = log_abs(x)`` and its sum ``log_total`` are shared by every block size."""
    n_blocks = x.shape[0] // block
    if n_blocks < 1:
        return math.nan
    n = n_blocks * block
    blocks = x[:n].reshape(n_blocks, block, *x.shape[1:])
    if block <= 10:  # numpy reduces short rows slowly: add the block's columns instead
        sums = blocks[:, 0].copy()
        for j in range(1, block):
            sums += blocks[:, j]
    else:
        sums = blocks.sum(axis=1)
    mean_log_x = (log_total - float(np.sum(log_x[n:]))) / n  # the first n samples: all but the last few
    diff = (np.mean(log_abs(sums)) - mean_log_x) / math.log(block)
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
    return block_sum_median(x, log_abs_scalar(x), block_sizes)


def log_abs_scalar(x):
    """log|x| as the block-sum estimator takes it (a tiny offset keeps exact zeros finite)."""
    return np.log(np.abs(x) + _TINY)


def block_sum_median(x: np.ndarray, log_x: np.ndarray, block_sizes: Sequence[int] = BLOCK_SIZES) -> float:
    """:func:`tail_index_block_sum` of finite scalar samples ``x`` (1-d) whose ``log_x =
    log_abs_scalar(x)`` is known (a bootstrap gathers it instead of taking logs again)."""
    total = float(np.sum(log_x))
    estimates = [_block_sum_one(x, log_x, total, int(m), log_abs_scalar) for m in block_sizes if x.size // int(m) >= 2]
    return float(np.median(estimates)) if estimates else math.nan


def tail_index_block_sum_rows(x, block_sizes: Sequence[int] = BLOCK_SIZES) -> float:
    """Vector version: ``x`` is [n_samples, d]; norms of block sums against norms of samples
    (consecutive rows form a block). Non-finite rows are dropped; nan if fewer than two blocks
    of the smallest size remain."""
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    keep = np.isfinite(x).all(axis=1)
    if not keep.all():
        x = x[keep]
    log_x = _log_norms(x)
    # prefix sums: the mean log-norm of the first n rows for every block size at once
    prefix = np.cumsum(log_x).tolist()
    estimates = []
    for m in (int(m) for m in block_sizes):
        n_blocks = x.shape[0] // m
        if n_blocks < 2:
            continue
        n = n_blocks * m
        sums = x[:n].reshape(n_blocks, m, -1).sum(axis=1)
        diff = (float(_log_norms(sums).sum()) / n_blocks - prefix[n - 1] / n) / math.log(m)
        estimates.append(1.0 / diff if diff > 0 else math.inf)
    # the median of a few numbers: plain Python (numpy's per-call cost dominates in a bootstrap)
    estimates.sort()
    k = len(estimates)
    if not k:
        return math.nan
    return estimates[k // 2] if k % 2 else 0.5 * (estimates[k // 2 - 1] + estimates[k // 2])


def _log_norms(v: np.ndarray) -> np.ndarray:
    """log of the Euclidean norm of each row (a tiny offset keeps a zero row finite)."""
    return np.log(np.sqrt(np.einsum("ij,ij->i", v, v)) + _TINY)


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


@dataclass(frozen=True)
class HillTable:
    """The finite nonzero |x| of a sample made of units (chains), sorted once for resampling."""

    log_desc: np.ndarray  # log|x|, largest first
    unit: np.ndarray  # the unit each value belongs to
    per_unit: np.ndarray  # finite nonzero values per unit


def hill_table(x_by_unit) -> HillTable:
    """Table of ``x_by_unit`` [units, ...] (every value of a unit is resampled with it)."""
    x = np.abs(np.asarray(x_by_unit, dtype=float).reshape(len(x_by_unit), -1))
    keep = np.isfinite(x) & (x > 0)
    unit = np.broadcast_to(np.arange(x.shape[0], dtype=np.int32)[:, None], x.shape)[keep]
    logs = np.log(x[keep])
    order = np.argsort(-logs, kind="stable")
    return HillTable(logs[order], unit[order], keep.sum(axis=1))


def tail_index_hill_weighted(table: HillTable, counts, k_fraction: float = 0.01) -> float:
    """:func:`tail_index_hill` of the sample in which unit u appears ``counts[u]`` times.

    With the values v_1 >= v_2 >= ... weighted by their unit's count w_i and C_j = w_1 + ... + w_j,
    the (k+1)-th largest value is v_J, J the first index with C_J >= k + 1, and
    1/alpha_hat = sum_{i<J} w_i log(v_i / v_J) / k (copies of v_J among the top k add nothing).
    """
    counts = np.asarray(counts, dtype=np.int64)
    n = int(counts @ table.per_unit)
    if n < 3:
        return math.nan
    k = min(max(2, int(math.ceil(k_fraction * n))), n - 1)
    size = table.log_desc.size
    length = min(size, 4 * (k + 1))  # the resample's top k + 1 lies far above this almost always
    while True:
        w = counts[table.unit[:length]]
        cum = np.cumsum(w)
        if cum[-1] >= k + 1 or length == size:
            break
        length = min(size, 2 * length)
    j = int(np.searchsorted(cum, k + 1))
    total = float(w[:j] @ (table.log_desc[:j] - table.log_desc[j]))
    mean = total / k
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


def growth_rates(errors, steps) -> np.ndarray:
    """[chain] least-squares slopes of log||x_k - x*|| on the step k, per step, from errors
    [chain, step, coord] (the run's own coordinates) recorded at ``steps``. A chain with a
    non-finite record (it left the finite range: the trainer stores NaN after that) grew
    without bound: +inf. nan with fewer than two records."""
    errors = np.asarray(errors, dtype=float)
    t = np.asarray(steps, dtype=float)
    if t.size < 2:
        return np.full(errors.shape[0], math.nan)
    t = t - t.mean()
    with np.errstate(invalid="ignore", over="ignore"):
        log_norm = np.log(np.linalg.norm(errors, axis=2) + _TINY)
    finite = np.isfinite(log_norm).all(axis=1)
    log_norm = np.where(finite[:, None], log_norm, 0.0)
    slopes = (log_norm - log_norm.mean(axis=1, keepdims=True)) @ t / float(t @ t)
    return np.where(finite, slopes, math.inf)
