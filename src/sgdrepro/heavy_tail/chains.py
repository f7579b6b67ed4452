"""Tail-index estimates from resampled chains: the bootstrap behind the claims' intervals.

Every grid point of a linear-regression experiment stores ``n_chains`` independent chains,
and the chains of different grid points and experiments are independent too (each run has
its own random stream). So the bootstrap unit is a seed index s (chain s of every grid
point): resampling seed indices with replacement and re-estimating every grid point from its
resampled chains gives the sampling distribution of any statistic of the estimates (a
crossing step size, a rank correlation, a quantile of relative errors), the whole
estimate-then-reduce pipeline included. Within a chain the records are correlated; resampling
whole chains keeps that correlation, so the interval accounts for it.

A seed index beyond an experiment's own ``n_chains`` (experiments pooled with different chain
counts) simply has no chain there; chains that diverged have no value, and a point whose
resample has fewer than half of its chains alive has no estimate (as :func:`analysis.linreg_estimates`).
A point without a stationary law (:func:`analysis.stationary_law`, decided once from all its
chains) has no tail-index estimate in any resample. With every chain once, each estimate equals
:func:`analysis.linreg_estimates`'s (tested).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from sgdrepro.core.claims import Estimate, bootstrap_ci

from .analysis import is_streaming, point_growth_rate, stationary_law
from .measures import (
    HillTable,
    block_sum_median,
    growth_rates,
    hill_table,
    log_abs_scalar,
    tail_index_block_sum_rows,
    tail_index_hill_weighted,
)
from .theory import lyapunov_exponent, tail_index

__all__ = [
    "LINREG_DIMS",
    "ChainPoint",
    "alpha_averaged",
    "alpha_block",
    "alpha_hill",
    "bootstrap_over_chains",
    "chain_points",
    "resample_counts",
]

LINREG_DIMS = ("lr", "batch_size", "dim", "sigma")
_MIN_ALIVE = 0.5  # a point needs half of its (resampled) chains alive, as linreg_estimates


@dataclass(frozen=True)
class ChainPoint:
    """One grid point: its coordinates, the theory alpha and its chains' errors [chain, step, coord]."""

    lr: float
    batch_size: int
    dim: int
    sigma: float
    alpha_theory: float
    errors: np.ndarray  # [chain, step, coord], the run's own d coordinates; NaN rows for diverged chains
    alive: np.ndarray  # [chain] bool
    table: HillTable  # Hill table of the alive chains (units = chains)
    lyapunov: float = math.nan  # theory E log||M e_1|| (streaming Gaussian data)
    growth: np.ndarray | None = None  # [chain] growth rates of log||x_k - x*|| per step (+inf: diverged)
    stationary: bool = True  # analysis.stationary_law, from all chains
    averages: np.ndarray | None = None  # [chain, coord] running average of the errors after burn-in, if stored
    # Hill estimates per (k_fraction, resample), several claims reducing the same resamples, and
    # log_abs_scalar(errors) once a block-sum bootstrap gathers it
    memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def log_abs(self) -> np.ndarray:
        if "log_abs" not in self.memo:
            with np.errstate(invalid="ignore"):
                self.memo["log_abs"] = log_abs_scalar(self.errors)
        return self.memo["log_abs"]

    @property
    def n_chains(self) -> int:
        return int(self.alive.size)


def chain_points(ds: xr.Dataset, growth_tolerance: float) -> list[ChainPoint]:
    """Every (lr, batch_size, dim, sigma) point of a linreg-structured dataset, lr varying slowest,
    classified stationary or not by :func:`analysis.stationary_law` with ``growth_tolerance``
    (config ``analysis.growth_tolerance``)."""
    error = ds["error"].transpose(*LINREG_DIMS, "seed", "step", "coord").values
    alive = ds["diverged_step"].transpose(*LINREG_DIMS, "seed").values < 0
    average = ds["error_avg"].transpose(*LINREG_DIMS, "seed", "coord").values if "error_avg" in ds else None
    streaming, steps = is_streaming(ds), ds["step"].values
    points = []
    for index in np.ndindex(*error.shape[:4]):
        lr, b, d, sigma = (ds[name].values[i] for name, i in zip(LINREG_DIMS, index))
        lr, b, d, sigma = float(lr), int(b), int(d), float(sigma)
        errors = error[index][:, :, :d]
        keep = alive[index]
        table = hill_table(np.where(keep[:, None, None], errors, np.nan))
        lyapunov = lyapunov_exponent(lr, b, d, sigma)
        growth = np.where(keep, growth_rates(errors, steps), math.inf)
        stationary = stationary_law(streaming, lyapunov, point_growth_rate(growth), growth_tolerance)
        points.append(ChainPoint(lr, b, d, sigma, tail_index(lr, b, d, sigma), errors, keep, table, lyapunov, growth,
                                 stationary, None if average is None else average[index][:, :d]))
    return points


def resample_counts(idx: np.ndarray, n_chains: int) -> np.ndarray:
    """How often each of a point's ``n_chains`` chains appears among the resampled seed indices."""
    idx = np.asarray(idx, dtype=np.int64)
    return np.bincount(idx[idx < n_chains], minlength=n_chains)


def _enough_alive(point: ChainPoint, counts: np.ndarray) -> bool:
    total = counts.sum()
    return total > 0 and counts[point.alive].sum() >= _MIN_ALIVE * total


def alpha_hill(point: ChainPoint, idx: np.ndarray, k_fraction: float) -> float:
    """Hill estimate of alpha at ``point`` from the chains of the resampled seed indices ``idx``."""
    if not point.stationary:
        return math.nan
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    key = (k_fraction, hashlib.blake2b(idx.tobytes(), digest_size=16).digest())
    if key not in point.memo:
        counts = resample_counts(idx, point.n_chains)
        ok = _enough_alive(point, counts)
        point.memo[key] = tail_index_hill_weighted(point.table, counts, k_fraction) if ok else math.nan
    return point.memo[key]


def alpha_block(point: ChainPoint, idx: np.ndarray, block_sizes) -> float:
    """Block-sum estimate at ``point`` from the resampled chains, in resample order (a block holds
    consecutive chains at one step; a chain drawn twice may fall twice in one block)."""
    if not point.stationary:
        return math.nan
    idx = np.asarray(idx, dtype=np.int64)
    idx = idx[idx < point.n_chains]
    if not _enough_alive(point, resample_counts(idx, point.n_chains)):
        return math.nan
    idx = idx[point.alive[idx]]
    # [step, coord, chain] flattened: a block holds consecutive chains at one (step, coord)
    x = np.transpose(point.errors[idx], (1, 2, 0)).ravel()
    return block_sum_median(x, np.transpose(point.log_abs[idx], (1, 2, 0)).ravel(), block_sizes)


def alpha_averaged(point: ChainPoint, idx: np.ndarray, block_sizes) -> float:
    """The authors' estimate at ``point``: the vector block-sum estimator on the averaged errors
    (one vector per chain) of the distinct chains among ``idx``, in order of first appearance.
    Distinct: a block of averaged vectors summing one chain twice reads its norm as heavier (one
    sample per chain, unlike the records, so duplicates are frequent: a resample holds about 63%
    of the chains once); a replicate then has fewer samples than the full estimate, which widens
    the interval (conservative)."""
    if not point.stationary or point.averages is None:
        return math.nan
    idx = np.asarray(idx, dtype=np.int64)
    idx = idx[idx < point.n_chains]
    every_alive = bool(point.alive.all())
    if not every_alive and not _enough_alive(point, resample_counts(idx, point.n_chains)):
        return math.nan
    _, first = np.unique(idx, return_index=True)
    chains = idx[np.sort(first)]
    if not every_alive:
        chains = chains[point.alive[chains]]
    return tail_index_block_sum_rows(point.averages[chains], block_sizes)


def bootstrap_over_chains(n_units: int, statistic: Callable[[np.ndarray], float], *, evidence, what: str) -> Estimate:
    """``statistic(idx)`` of the seed indices ``idx`` (all of them once: the measured value) with
    its percentile-bootstrap interval over resampled seed indices (core ``bootstrap_ci``)."""
    units = np.arange(n_units, dtype=np.float64)[:, None]
    return bootstrap_ci(units, lambda u: statistic(u[:, 0].astype(np.int64)), evidence=evidence,
                        what=f"{what}, re-estimated on resampled chains")
