"""Experiment ``orthogonal``: every batch size b = 1..n, both activations, reshuffled and cyclic
order, many seeds, on n orthonormal samples in R^d, trained as one batched program.

All runs share one Haar-random orthonormal data set (``data_seed``); the rest of the
randomness is keyed by the seed only (common random numbers): for a given seed every batch
size, activation and order starts from the same w_0 and reads the same permutation stream,
so differences between batch sizes are paired comparisons.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from ..core import Grid, RunRandom, record_steps, run_keys
from . import measures
from .training import data_key, draw_data, draw_init, train_runs

__all__ = ["run_orthogonal", "simulate", "measure_end_points", "GRID_DIMS"]

GRID_DIMS = ("activation", "order", "batch_size", "seed")

_FINAL_ATTRS = {
    "loss_final": ("1", "full mean reconstruction loss at the last step"),
    "excess_loss": ("1", "L(w_T) - L*, computed without cancellation ((1 - P)^2 + P m) / n"),
    "count_above": ("1", "number of coordinates |c_i| above the sparsity threshold"),
    "participation_ratio": ("1", "effective number of coordinates (sum c_i^2)^2 / sum c_i^4"),
    "l1_l2_ratio": ("1", "||c||_1 / ||c||_2 of the final coordinates"),
    "max_ratio": ("1", "max_i |c_i| / ||c||_2 of the final coordinates"),
    "second_ratio": ("1", "second-largest over largest |c_i| of the final coordinates"),
    "off_span_norm": ("1", "norm of the component of w_T off the data span"),
    "cos_init": ("1", "cos(w_T, w_0)"),
    "cos_init_span": ("1", "cos(w_T, P w_0), P the projection on the data span"),
    "cos_init_active": ("1", "cos(w_T, P_sigma w_0), projection on the samples active at init"),
    "sin_init_active": ("1", "sine of the angle between w_T and P_sigma w_0"),
    "n_active_init": ("1", "number of samples with w_0^T x_i > 0"),
    "n_active_final": ("1", "samples on the active branch at w_T (c_i > ZERO_TOL ||w||; n for linear)"),
    "trace_hessian": ("1", "trace of the Hessian of the full loss at the end point w_T (autograd)"),
}


def simulate(
    grid: Grid,
    *,
    experiment: str,
    n: int,
    d: int,
    lr: float,
    n_steps: int,
    init_scale: float,
    last_batch: str,
    sparsity_threshold: float,
    record_at: np.ndarray,
    root_seed: int = 0,
    data_seed: int = 0,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
) -> xr.Dataset:
    """Train the runs of ``grid`` (dims :data:`GRID_DIMS`) and measure every final point."""
    flat = grid.flat()
    keys = run_keys(experiment, grid.points(), root_seed=root_seed, key_dims=("seed",))
    params = {
        "batch_size": flat["batch_size"].astype(np.int64),
        "lr": np.full(grid.size, float(lr)),
        "relu": flat["activation"] == "relu",
        "cyclic": flat["order"] == "cyclic",
    }
    device = torch.device(device)
    X = draw_data(data_key(experiment, root_seed, data_seed), n, d, device, dtype)
    traj = train_runs(
        params, keys, X, n=n, d=d, n_steps=n_steps, init_scale=init_scale, last_batch=last_batch,
        record_at=record_at, device=device, dtype=dtype, chunk_size=chunk_size,
    )
    w0 = draw_init(RunRandom(keys, device), d, init_scale, dtype)
    coords_init = measures.coordinates(w0, X).cpu().numpy()
    variables = {
        "loss": (("step",), traj.records["loss"], {"units": "1", "long_name": "full mean reconstruction loss"}),
        "coords": (("step", "sample"), traj.records["coords"],
                   {"units": "1", "long_name": "coordinate c_i = w^T x_i / ||x_i|| in the data basis"}),
        "coords_init": (("sample",), coords_init, {"units": "1", "long_name": "initial coordinate c_i(0)"}),
        "w_final": (("feature",), traj.final["w"], {"units": "1", "long_name": "final weight vector w_T"}),
        "diverged_step": ((), traj.diverged_step, {"units": "step", "long_name": "step of divergence (-1: none)"}),
    }
    ds = grid.dataset(
        variables,
        coords={"step": traj.steps, "sample": np.arange(n), "feature": np.arange(d)},
        attrs={
            "n": n, "d": d, "lr": float(lr), "n_steps": n_steps, "init_scale": init_scale,
            "last_batch": last_batch, "sparsity_threshold": sparsity_threshold,
            "zero_tol": measures.ZERO_TOL, "data_seed": data_seed,
            "data": "n orthonormal samples in R^d (Haar-random), shared by all runs",
            "loss": "mean over the batch of ||x_i - w sigma(w^T x_i)||^2",
        },
    )
    # w_0 depends on the seed only: store it once per seed
    first = {s: i for i, s in reversed(list(enumerate(flat["seed"].tolist())))}
    index = [first[s] for s in grid.coords["seed"].tolist()]
    ds["data"] = (("sample", "feature"), X.cpu().numpy(), {"units": "1", "long_name": "sample x_i (rows), orthonormal"})
    ds["w_init"] = (("seed", "feature"), w0[index].cpu().numpy(), {"units": "1", "long_name": "initialization w_0"})
    return measure_end_points(ds, device=device)


MEASURE_CHUNK = 4096  # runs per autograd Hessian batch: bounds the memory of the vmapped Hessians


def measure_end_points(ds: xr.Dataset, device: torch.device | str = "cpu") -> xr.Dataset:
    """``ds`` with every measure of its end points (``w_final``, from ``w_init`` on ``data``)
    computed afresh in float64 (:func:`measures.solution_measures`); NaN for diverged runs.

    Training calls it once; a test that moves the end points calls it again, so every stored
    measure describes the points stored beside it.
    """
    w = ds["w_final"].transpose(*GRID_DIMS, "feature")
    shape = w.shape[:-1]
    flat = w.values.reshape(-1, w.shape[-1])
    w0 = ds["w_init"].broadcast_like(w).transpose(*GRID_DIMS, "feature").values.reshape(flat.shape)
    relu = (ds["activation"] == "relu").broadcast_like(w.isel(feature=0)).transpose(*GRID_DIMS).values.ravel()

    def on_device(array):
        return torch.as_tensor(np.ascontiguousarray(array), device=device, dtype=None if array.dtype == bool else torch.float64)

    X = on_device(ds["data"].values)
    parts = []
    with torch.no_grad():
        for start in range(0, flat.shape[0], MEASURE_CHUNK):
            part = slice(start, start + MEASURE_CHUNK)
            measured = measures.solution_measures(on_device(flat[part]), on_device(w0[part]), X, on_device(relu[part]),
                                                  float(ds.attrs["sparsity_threshold"]))
            parts.append({k: v.cpu().numpy() for k, v in measured.items()})
    diverged = ds["diverged_step"].transpose(*GRID_DIMS).values.ravel() >= 0
    out = ds.copy()
    for name in parts[0]:
        value = np.concatenate([p[name] for p in parts])
        if value.dtype.kind == "f":  # a diverged run has no solution to measure
            value[diverged] = np.nan
        if name == "coords_final":
            out[name] = (GRID_DIMS + ("sample",), value.reshape(*shape, -1),
                         {"units": "1", "long_name": "final coordinate c_i in the data basis"})
        else:
            units, long_name = _FINAL_ATTRS[name]
            out[name] = (GRID_DIMS, value.reshape(shape), {"units": units, "long_name": long_name})
    return out


def grid_of(cfg: dict) -> Grid:
    """The run grid of an experiment section (seeds 0..seeds-1)."""
    return Grid.from_config(
        {
            "activation": cfg["activation"],
            "order": cfg["order"],
            "batch_size": cfg["batch_size"],
            "seed": list(range(int(cfg["seeds"]))),
        },
        order=GRID_DIMS,
    )


def run_orthogonal(cfg: dict, ctx) -> xr.Dataset:
    """SGD for every batch size of the grid on orthonormal data (the paper's setting)."""
    grid = grid_of(cfg)
    ctx.log.info("autoencoder_batch: %d runs x %d steps", grid.size, cfg["n_steps"])
    return simulate(
        grid,
        experiment=ctx.experiment,
        n=int(cfg["n"]),
        d=int(cfg["d"]),
        lr=float(cfg["lr"]),
        n_steps=int(cfg["n_steps"]),
        init_scale=float(cfg["init_scale"]),
        last_batch=cfg["last_batch"],
        sparsity_threshold=float(cfg["sparsity_threshold"]),
        record_at=record_steps(cfg["record"], int(cfg["n_steps"])),
        root_seed=ctx.root_seed,
        data_seed=int(cfg["data_seed"]),
        device=ctx.device,
        dtype=ctx.dtype,
    )
