"""autoencoder_batch: Ghosh, Frei, Ha & Yu, "The Effect of SGD Batch Size on Autoencoder
Learning: Sparsity, Sharpness, and Feature Learning", JMLR 26 (2025), arXiv:2308.03215.

A single-neuron tied autoencoder ``x -> w sigma(w^T x)`` (linear or ReLU) on n orthonormal
samples, trained by SGD with a constant step size and every batch size b = 1..n
(random reshuffling each epoch, and the cyclic fixed-order variant). Reproduced: every run
reaches a global minimum (loss ``1 - 1/n``); full-batch GD (b = n) ends dense and aligned
with the projection of its initialization, every b < n ends sparse (one coordinate) and
nearly orthogonal to it; cyclic SGD too; for ReLU the trace of the Hessian at GD's minimum
is smaller than at every b < n (for the linear model it is the same at every global minimum).

Public surface: :func:`train` (one run, the same numbers as that run inside the batched
grid), ``model`` (loss, gradient, ``sgd_step``), ``measures``, ``theory``, ``experiments``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..core import ConfigError, Grid, log_spaced_steps, scale_config

if TYPE_CHECKING:
    import torch

__all__ = ["train", "AutoencoderRun", "check_config"]


@dataclass
class AutoencoderRun:
    """One trained run: ``w`` (final weights, [d]) and ``X`` (data, rows are samples, [n, d])."""

    w: np.ndarray
    X: np.ndarray
    w0: np.ndarray
    steps: np.ndarray  # recorded steps
    loss: np.ndarray  # full loss at those steps
    coords: np.ndarray  # [n_records, n] coordinates c_i = w^T x_i / ||x_i||
    measures: dict  # final measures (see sgdrepro.autoencoder_batch.measures.solution_measures)
    diverged_step: int

    def __getitem__(self, key):  # dict-style access: run["w"], run["X"]
        return getattr(self, key)


def train(
    n: int,
    d: int,
    batch_size: int,
    lr: float,
    steps: int,
    seed: int,
    activation: str = "linear",
    *,
    order: str = "reshuffle",
    last_batch: str = "keep",
    init_scale: float = 0.1,
    sparsity_threshold: float = 1e-4,
    record_points: int = 50,
    root_seed: int = 0,
    data_seed: int = 0,
    experiment: str = "orthogonal",
    device: str | torch.device = "cpu",
    dtype: torch.dtype | None = None,
) -> AutoencoderRun:
    """Train one run of ``steps`` SGD updates with batch size ``batch_size`` on n orthonormal
    samples in R^d; it draws the same data, initialization and batches as the run with the
    same seed in the experiment's batched grid (same ``root_seed``, ``data_seed``, ``experiment``).
    """
    import torch

    from .experiments import simulate

    dtype = torch.float64 if dtype is None else dtype
    _check_run(n, d, batch_size, lr, steps, activation, order, last_batch)
    grid = Grid.from_config(
        {"activation": [activation], "order": [order], "batch_size": [int(batch_size)], "seed": [int(seed)]}
    )
    ds = simulate(
        grid, experiment=experiment, n=n, d=d, lr=lr, n_steps=steps, init_scale=init_scale,
        last_batch=last_batch, sparsity_threshold=sparsity_threshold,
        record_at=log_spaced_steps(steps, record_points), root_seed=root_seed, data_seed=data_seed, device=device, dtype=dtype,
    )
    one = ds.isel(activation=0, order=0, batch_size=0, seed=0)
    skip = {"loss", "coords", "coords_final", "coords_init", "w_final", "diverged_step", "data", "w_init"}
    return AutoencoderRun(
        w=one["w_final"].values,
        X=one["data"].values,
        w0=one["w_init"].values,
        steps=ds["step"].values,
        loss=one["loss"].values,
        coords=one["coords"].values,
        measures={k: one[k].values.item() for k in one.data_vars if k not in skip},
        diverged_step=int(one["diverged_step"]),
    )


def _check_run(n, d, batch_size, lr, steps, activation, order, last_batch) -> None:
    from .model import ACTIVATIONS
    from .training import LAST_BATCH, ORDERS

    if n < 1:
        raise ConfigError("n", n, "must be >= 1")
    if d < n:
        raise ConfigError("d", d, f"must be >= n ({n}): n orthogonal samples need d >= n")
    if not 1 <= batch_size <= n:
        raise ConfigError("batch_size", batch_size, f"must be in 1..n ({n})")
    if not lr > 0:
        raise ConfigError("lr", lr, "must be > 0")
    if steps < 1:
        raise ConfigError("steps", steps, "must be >= 1")
    for key, value, allowed in (("activation", activation, ACTIVATIONS), ("order", order, ORDERS),
                                ("last_batch", last_batch, LAST_BATCH)):
        if value not in allowed:
            raise ConfigError(key, value, f"must be one of {', '.join(allowed)}")


def check_config(config: dict, key_prefix: str) -> None:
    """Semantic checks of the active scale's section: d >= n, every batch size in 1..n, the
    full batch b = n and some b < n in the grid (the claims compare them)."""
    section = scale_config(config, "autoencoder_batch")
    cfg = section["orthogonal"]
    key = f"{key_prefix}.orthogonal"
    n, d = int(cfg["n"]), int(cfg["d"])
    if d < n:
        raise ConfigError(f"{key}.d", d, f"must be >= n ({n}): n orthogonal samples need d >= n")
    for i, b in enumerate(cfg["batch_size"]):
        if not 1 <= b <= n:
            raise ConfigError(f"{key}.batch_size[{i}]", b, f"must be in 1..n ({n})")
    if n not in cfg["batch_size"]:
        raise ConfigError(f"{key}.batch_size", cfg["batch_size"], f"must include the full batch n ({n})")
    if len(cfg["batch_size"]) < 2:
        raise ConfigError(f"{key}.batch_size", cfg["batch_size"], "must include at least one b < n")
    figures = section["figures"]
    fkey = f"{key_prefix}.figures"
    for i, b in enumerate(figures["trajectory_batch_sizes"]):
        if b not in cfg["batch_size"]:
            raise ConfigError(f"{fkey}.trajectory_batch_sizes[{i}]", b,
                              f"must be one of orthogonal.batch_size {list(cfg['batch_size'])}")
    if not 0 <= figures["trajectory_seed"] < int(cfg["seeds"]):
        raise ConfigError(f"{fkey}.trajectory_seed", figures["trajectory_seed"],
                          f"must be in 0..orthogonal.seeds-1 (0..{int(cfg['seeds']) - 1})")
    record = cfg["record"]
    needed = ("points",) if record["kind"] == "log" else ("stride",)
    for name in needed:
        if name not in record:
            raise ConfigError(f"{key}.record.{name}", None, f"is required for record kind {record['kind']}")
