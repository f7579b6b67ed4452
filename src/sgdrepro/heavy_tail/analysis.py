"""From stored trajectories to tail-index estimates per grid point (shared by figures and claims)."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from .measures import tail_index_block_sum, tail_index_hill
from .theory import tail_index

__all__ = ["linreg_estimates", "mlp_estimates", "MLP_BLOCK_SIZES"]

MLP_BLOCK_SIZES = (2, 5, 10, 20, 50, 100, 500, 1000)  # the authors' network analysis


def _point_samples(error: np.ndarray, dim: int) -> np.ndarray:
    """[chain, step, coord] -> [step, coord, chain] restricted to the run's own coordinates.

    Chains vary fastest, so a block of the block-sum estimator holds independent chains.
    """
    return np.transpose(error[:, :, :dim], (1, 2, 0))


def linreg_estimates(ds: xr.Dataset, analysis: dict) -> xr.Dataset:
    """alpha (Hill, block-sum), theory and divergence fraction for every (lr, batch_size, dim, sigma).

    Chains that diverged are dropped (their records are NaN); an estimate needs at least
    half of the chains alive, else it is NaN and the point counts as divergent.
    """
    dims = ("lr", "batch_size", "dim", "sigma")
    shape = tuple(ds.sizes[d] for d in dims)
    out = {name: np.full(shape, np.nan) for name in ("alpha_hill", "alpha_block", "alpha_theory", "diverged_fraction")}
    error = ds["error"].transpose(*dims, "seed", "step", "coord").values
    diverged = ds["diverged_step"].transpose(*dims, "seed").values >= 0
    k_fraction = float(analysis["hill_k_fraction"])
    block_sizes = tuple(analysis["block_sizes"])
    for index in np.ndindex(*shape):
        lr, b, d, sigma = (ds[name].values[i] for name, i in zip(dims, index))
        alive = ~diverged[index]
        out["diverged_fraction"][index] = 1.0 - alive.mean()
        out["alpha_theory"][index] = tail_index(float(lr), int(b), int(d), float(sigma))
        if alive.mean() < 0.5:
            continue
        samples = _point_samples(error[index][alive], int(d))
        out["alpha_hill"][index] = tail_index_hill(samples, k_fraction)
        out["alpha_block"][index] = tail_index_block_sum(samples, block_sizes)
    attrs = {
        "alpha_hill": {"units": "1", "long_name": f"Hill estimate of alpha (top {100 * k_fraction:g}% of |coordinates|)"},
        "alpha_block": {"units": "1", "long_name": "block-sum estimate of alpha (Mohammadi et al. 2015), median over block sizes"},
        "alpha_theory": {"units": "1", "long_name": "theoretical alpha, root of h(alpha) = 1"},
        "diverged_fraction": {"units": "1", "long_name": "fraction of chains that diverged"},
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
