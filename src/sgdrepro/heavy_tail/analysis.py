"""From stored trajectories to tail-index estimates per grid point (shared by figures and claims)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .measures import growth_rates, tail_index_block_sum, tail_index_block_sum_rows, tail_index_hill
from .theory import lyapunov_exponent, tail_index

__all__ = ["linreg_estimates", "mlp_estimates", "MLP_BLOCK_SIZES", "is_streaming", "point_growth_rate", "stationary_law"]

MLP_BLOCK_SIZES = (2, 5, 10, 20, 50, 100, 500, 1000)  # the authors' network analysis


def _point_samples(error: np.ndarray, dim: int) -> np.ndarray:
    """[chain, step, coord] -> [step, coord, chain] restricted to the run's own coordinates.

    Chains vary fastest, so a block of the block-sum estimator holds independent chains.
    """
    return np.transpose(error[:, :, :dim], (1, 2, 0))


def is_streaming(ds: xr.Dataset) -> bool:
    """Whether ``ds`` holds online SGD on fresh Gaussian data, where the theory's E log||M e_1|| applies exactly."""
    return ds.attrs.get("setting") == "streaming"


def point_growth_rate(rates) -> float:
    """A grid point's growth rate of log||x_k - x*|| (per step): the median over its chains of
    :func:`measures.growth_rates` (a chain that left the finite range counts as +inf, so a point
    with most chains diverged grows at +inf; the median ignores a few heavy-tailed outliers)."""
    rates = np.asarray(rates, dtype=float)
    rates = rates[~np.isnan(rates)]
    return float(np.median(rates)) if rates.size else math.nan


def stationary_law(streaming: bool, lyapunov: float, growth_rate: float, tolerance: float) -> bool:
    """Whether a grid point's SGD has a stationary law (the top Lyapunov exponent is negative).

    Streaming Gaussian data: the theory's sign, E log||M e_1|| < 0 (paper, Theorem 2: a
    stationary law exists iff the recursion contracts on average in log). Otherwise (one finite
    data set, where M is drawn from the data set's rows): the measured growth rate of
    log||x_k - x*|| over the recorded window is at most ``tolerance`` per step. Above 0 the
    measured rate estimates the exponent itself; below 0 it is 0 up to the transient of chains
    still climbing to their stationary level, which the tolerance absorbs (config
    ``analysis.growth_tolerance``).
    """
    if streaming:
        return bool(lyapunov < 0.0)
    return bool(growth_rate <= tolerance)


def linreg_estimates(ds: xr.Dataset, analysis: dict) -> xr.Dataset:
    """alpha (Hill, block-sum), theory, stationarity and divergence fraction for every (lr, batch_size, dim, sigma).

    Chains that diverged are dropped (their records are NaN); an estimate needs at least
    half of the chains alive, else it is NaN and the point counts as divergent. A point without
    a stationary law (:func:`stationary_law`) gets no tail index: its iterates grow, and a
    tail estimator would read the growth as heavy tails. With ``error_avg`` stored (the running
    average of the iterates after burn-in, one vector per chain), ``alpha_block_avg`` is the
    authors' estimate: the vector block-sum estimator on the norms of the averaged errors.
    """
    dims = ("lr", "batch_size", "dim", "sigma")
    shape = tuple(ds.sizes[d] for d in dims)
    names = ["alpha_hill", "alpha_block", "alpha_theory", "diverged_fraction", "lyapunov_theory", "growth_rate"]
    averaged = "error_avg" in ds
    if averaged:
        names.append("alpha_block_avg")
    out = {name: np.full(shape, np.nan) for name in names}
    out["stationary"] = np.zeros(shape, dtype=bool)
    error = ds["error"].transpose(*dims, "seed", "step", "coord").values
    error_avg = ds["error_avg"].transpose(*dims, "seed", "coord").values if averaged else None
    diverged = ds["diverged_step"].transpose(*dims, "seed").values >= 0
    k_fraction = float(analysis["hill_k_fraction"])
    block_sizes = tuple(analysis["block_sizes"])
    tolerance = float(analysis["growth_tolerance"])
    streaming, steps = is_streaming(ds), ds["step"].values
    for index in np.ndindex(*shape):
        lr, b, d, sigma = (ds[name].values[i] for name, i in zip(dims, index))
        alive = ~diverged[index]
        out["diverged_fraction"][index] = 1.0 - alive.mean()
        out["alpha_theory"][index] = tail_index(float(lr), int(b), int(d), float(sigma))
        out["lyapunov_theory"][index] = lyapunov = lyapunov_exponent(float(lr), int(b), int(d), float(sigma))
        rates = np.where(alive, growth_rates(error[index][:, :, : int(d)], steps), math.inf)
        out["growth_rate"][index] = growth = point_growth_rate(rates)
        out["stationary"][index] = stationary = stationary_law(streaming, lyapunov, growth, tolerance)
        if alive.mean() < 0.5 or not stationary:
            continue
        samples = _point_samples(error[index][alive], int(d))
        out["alpha_hill"][index] = tail_index_hill(samples, k_fraction)
        out["alpha_block"][index] = tail_index_block_sum(samples, block_sizes)
        if averaged:
            out["alpha_block_avg"][index] = tail_index_block_sum_rows(error_avg[index][alive][:, : int(d)], block_sizes)
    rule = "theory: E log||M e_1|| < 0" if streaming else f"measured growth rate of log||x - x*|| at most {tolerance:g} per step"
    attrs = {
        "alpha_hill": {"units": "1", "long_name": f"Hill estimate of alpha (top {100 * k_fraction:g}% of |coordinates|)"},
        "alpha_block": {"units": "1", "long_name": "block-sum estimate of alpha (Mohammadi et al. 2015), median over block sizes"},
        "alpha_block_avg": {
            "units": "1",
            "long_name": "block-sum estimate of alpha from the norms of the averaged iterates "
            "after burn-in (one vector per chain; the authors' estimate)",
        },
        "alpha_theory": {"units": "1", "long_name": "theoretical alpha, root of h(alpha) = 1"},
        "diverged_fraction": {"units": "1", "long_name": "fraction of chains that diverged"},
        "lyapunov_theory": {"units": "1/step", "long_name": "top Lyapunov exponent E log||M e_1|| of streaming Gaussian data (theory)"},
        "growth_rate": {"units": "1/step", "long_name": "median over chains of the least-squares slope of log||x_k - x*|| on k"},
        "stationary": {"units": "1", "long_name": f"SGD has a stationary law ({rule})"},
    }
    coords = {name: ds[name].values for name in dims}
    return xr.Dataset({k: (dims, v, attrs[k]) for k, v in out.items()}, coords=coords)


def mlp_estimates(ds: xr.Dataset, analysis: dict) -> xr.Dataset:
    """Per run and layer: block-sum and Hill alpha of the centred averaged weights (the authors' recipe)."""
    layers = sorted(int(name.removeprefix("weight_avg_layer")) for name in ds.data_vars if name.startswith("weight_avg_layer"))
    grid_dims = ("lr", "batch_size", "seed")
    shape = tuple(ds.sizes[d] for d in grid_dims)
    block = np.full(shape + (len(layers),), np.nan)
    hill = np.full_like(block, np.nan)
    k_fraction = float(analysis["mlp_hill_k_fraction"])
    for j, layer in enumerate(layers):
        weights = ds[f"weight_avg_layer{layer}"].transpose(*grid_dims, ...).values
        for index in np.ndindex(*shape):
            w = weights[index]
            if not np.all(np.isfinite(w)):
                continue
            w = w - w.mean()  # centred by the layer's mean entry, as in the authors' analysis
            block[index + (j,)] = tail_index_block_sum(w, MLP_BLOCK_SIZES)
            hill[index + (j,)] = tail_index_hill(w, k_fraction)
    dims = grid_dims + ("layer",)
    coords = {name: ds[name].values for name in grid_dims} | {"layer": np.asarray(layers)}
    lr_over_b = ds["lr"] / ds["batch_size"]
    return xr.Dataset(
        {
            "alpha_block": (dims, block, {"units": "1", "long_name": "block-sum alpha of the averaged, centred layer weights"}),
            "alpha_hill": (dims, hill, {"units": "1", "long_name": f"Hill alpha (top {100 * k_fraction:g}%) of the same"}),
            "test_accuracy": (grid_dims, ds["test_accuracy"].transpose(*grid_dims).values, {"units": "1", "long_name": "test accuracy"}),
            "lr_over_b": (("lr", "batch_size"), lr_over_b.transpose("lr", "batch_size").values, {"units": "1", "long_name": "eta / b"}),
            "diverged": (grid_dims, ds["diverged_step"].transpose(*grid_dims).values >= 0, {"units": "1", "long_name": "run diverged"}),
        },
        coords=coords,
    )


def _average_ranks(values: list[float]) -> list[float]:
    """Ranks 1..n of ``values``, tied values sharing the mean of their ranks (plain Python: the
    lines ranked here are a few grid points, where numpy's per-call cost dominates)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and values[order[stop]] == values[order[start]]:
            stop += 1
        for i in order[start:stop]:
            ranks[i] = (start + stop + 1) / 2.0
        start = stop
    return ranks


def spearman(x, y) -> float:
    """Spearman rank correlation of the finite pairs: the Pearson correlation of their ranks
    (ties get their average rank); nan if fewer than 3 pairs or a constant side."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return math.nan
    rx, ry = _average_ranks(x[keep].tolist()), _average_ranks(y[keep].tolist())
    mean = (len(rx) + 1) / 2.0  # the mean of ranks 1..n, ties included
    dx, dy = [r - mean for r in rx], [r - mean for r in ry]
    sxx, syy = sum(v * v for v in dx), sum(v * v for v in dy)
    if sxx == 0 or syy == 0:
        return math.nan
    return sum(a * b for a, b in zip(dx, dy)) / math.sqrt(sxx * syy)
