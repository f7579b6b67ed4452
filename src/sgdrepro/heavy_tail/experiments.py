"""Experiments of heavy_tail: each ``run_<name>(cfg, ctx) -> xarray.Dataset``.

- ``linreg`` / ``linreg_dim`` / ``linreg_sigma``: online SGD on Gaussian linear regression
  over a grid of (lr, batch_size, dim, sigma) with ``n_chains`` independent chains per point,
  all runs one batched program; the error e = x - x* is recorded after ``burn_in`` every
  ``thin`` steps (x* = 0 without loss of generality: the law of e does not depend on x*).
- ``linreg_finite``: the authors' finite-data setting: one fixed data set (n points), SGD with
  mini-batches drawn without replacement, x - x_LS recorded like above, and per run the running
  average of x_k - x_LS over the steps after ``burn_in`` (the authors' analysed sample).
- ``mlp``: bias-free ReLU networks trained by SGD over a grid of (lr, batch_size), stacked as
  [runs, in, out] weight tensors; the iterates of the last steps are averaged per layer.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from sgdrepro.core import Grid, RunContext, numpy_rng, run_keys, strided_steps, train_batched
from sgdrepro.core.seeding import box_muller

from .dynamics import (batch_sums_chi2, batch_weights, chi_square, sample_without_replacement, sgd_step,
                       sgd_step_streaming)

__all__ = ["train_linreg_streaming", "run_linreg", "run_linreg_dim", "run_linreg_sigma", "run_linreg_finite", "run_mlp"]

_LINREG_DIMS = ("lr", "batch_size", "dim", "sigma")


def _linreg_grid(cfg: dict) -> Grid:
    grid = dict(cfg["grid"])
    grid["seed"] = list(range(int(cfg["n_chains"])))  # the chains: independent runs per point
    return Grid.from_config(grid, order=(*_LINREG_DIMS, "seed"))


def _record_at(cfg: dict) -> np.ndarray:
    return strided_steps(int(cfg["burn_in"]), int(cfg["n_steps"]), int(cfg["thin"]))


def _iterate_dataset(grid: Grid, traj, d_max: int, cfg: dict, attrs: dict, extra: dict | None = None) -> xr.Dataset:
    records = traj.records["error"]  # [runs, records, d_max]
    dims = grid.flat()["dim"].astype(int)
    padded = np.arange(d_max)[None, None, :] >= dims[:, None, None]
    records = np.where(padded, np.nan, records)
    return grid.dataset(
        {
            "error": (("step", "coord"), records, {
                "units": "1",
                "long_name": "SGD iterate minus the minimiser, x_k - x* (NaN beyond the run's dimension or after divergence)",
            }),
            "diverged_step": ((), traj.diverged_step, {
                "units": "steps", "long_name": "step at which the run left the finite range (-1: never)",
            }),
            **(extra or {}),
        },
        coords={"step": traj.steps, "coord": np.arange(d_max)},
        attrs={**attrs, "burn_in": int(cfg["burn_in"]), "thin": int(cfg["thin"]), "n_steps": int(cfg["n_steps"])},
    )


def train_linreg_streaming(flat: dict, keys: np.ndarray, n_steps: int, record_at: np.ndarray, *, noise_sd: float,
                           init_scale: float, device="cpu", dtype=torch.float64, chunk_size: int | None = None):
    """Online SGD on fresh Gaussian data for every run of a flattened (lr, batch_size, dim,
    sigma) grid, as one batched program per batch size; records the error x - x*.

    A step draws, in one call, b // 2 random words (the chi^2_b of
    :func:`dynamics.batch_sums_chi2`) then the words of d_max + 2 normals (xi, the odd-b
    normal, zeta): O(d) numbers whatever b. Runs are chunked by batch size, so every run draws
    its own b // 2 words; a run's numbers depend on its key, the step, its b and the grid's
    d_max, not on the runs that share its chunk.
    """
    d_max = int(np.max(flat["dim"]))
    padded = bool(np.any(flat["dim"] != d_max))
    normal_words = 2 * -(-(d_max + 2) // 2)

    def init(chunk):
        mask = (torch.arange(d_max, device=chunk.device).unsqueeze(0) < chunk.params["dim"].unsqueeze(1)).to(chunk.dtype)
        e = init_scale * chunk.random.normal("init", 0, (d_max,), chunk.dtype) * mask
        return {"error": e, "mask": mask if padded else None}

    def step(state, k, chunk):
        b = chunk.params["batch_size"].unsqueeze(1)
        m = int(chunk.group) // 2  # the chunk's one batch size, halved
        words = chunk.random.bits("data", k, m + normal_words)
        z = box_muller(words[:, m:]).to(chunk.dtype)
        chi2 = chi_square(words[:, :m], z[:, 1:2], b)
        e = sgd_step_streaming(state["error"], chunk.params["lr"], chunk.params["sigma"], z[:, 2 : 2 + d_max],
                               lambda c: batch_sums_chi2(chi2, z[:, :1], c, noise_sd, b), state["mask"])
        return {**state, "error": e}

    return train_batched(
        init, step, lambda state, k, chunk: {"error": state["error"]}, n_steps, record_at,
        {"lr": flat["lr"].astype(float), "batch_size": flat["batch_size"].astype(np.int64),
         "dim": flat["dim"].astype(np.int64), "sigma": flat["sigma"].astype(float)},
        keys, device=device, dtype=dtype, is_diverged=_diverged, chunk_size=chunk_size,
        group_by=flat["batch_size"],
    )


def run_linreg(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Online SGD, fresh N(0, sigma^2 I_d) rows and noise N(0, noise_sd^2) every step."""
    grid = _linreg_grid(cfg)
    flat = grid.flat()
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed)
    noise_sd = float(cfg["noise_sd"])
    traj = train_linreg_streaming(flat, keys, int(cfg["n_steps"]), _record_at(cfg), noise_sd=noise_sd,
                                  init_scale=float(cfg["init_scale"]), device=ctx.device, dtype=ctx.dtype)
    ctx.log.info("linreg: %d of %d runs diverged", int(traj.diverged.sum()), grid.size)
    return _iterate_dataset(grid, traj, int(np.max(flat["dim"])), cfg, {"setting": "streaming", "noise_sd": noise_sd})


run_linreg_dim = run_linreg
run_linreg_sigma = run_linreg


def _diverged(state) -> torch.Tensor:
    # one reduction pass: NaN compares False, and |e_i| <= ||e|| < 1e100 bounds every coordinate
    return ~(torch.linalg.vector_norm(state["error"], dim=1) < 1e100)


def run_linreg_finite(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Multi-pass SGD on one fixed data set of ``n_data`` points (the authors' code's setting).

    Rows a ~ N(0, sigma^2 I_d), x_true ~ N(0, true_scale^2 I_d), y = a^T x_true + noise; each
    step a mini-batch of b distinct points; the error is x - x_LS (least-squares solution).
    Also stored per run: the average of x_k - x_LS over k = burn_in + 1, ..., n_steps (the
    authors' ergodic average after burn-in, their analysed sample), accumulated in the step.
    """
    grid = _linreg_grid(cfg)
    flat = grid.flat()
    dims, sigmas = np.unique(flat["dim"]), np.unique(flat["sigma"])
    if dims.size != 1 or sigmas.size != 1:
        raise ValueError("linreg_finite uses one data set: grid.dim and grid.sigma must be single values")
    d, sigma = int(dims[0]), float(sigmas[0])
    n, b_max = int(cfg["n_data"]), int(np.max(flat["batch_size"]))
    rng = numpy_rng(ctx.experiment, {"data": True}, 0, ctx.root_seed)
    a_np = sigma * rng.standard_normal((n, d))
    x_true = float(cfg["true_scale"]) * rng.standard_normal(d)
    y_np = a_np @ x_true + float(cfg["noise_sd"]) * rng.standard_normal(n)
    x_ls = np.linalg.lstsq(a_np, y_np, rcond=None)[0]
    a = torch.as_tensor(a_np, dtype=ctx.dtype, device=ctx.device)
    y = torch.as_tensor(y_np, dtype=ctx.dtype, device=ctx.device)
    x_star = torch.as_tensor(x_ls, dtype=ctx.dtype, device=ctx.device)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed)
    init_scale = float(cfg["init_scale"])
    burn_in = int(cfg["burn_in"])
    n_average = int(cfg["n_steps"]) - burn_in

    def init(chunk):
        x = x_star + init_scale * chunk.random.normal("init", 0, (d,), chunk.dtype)
        return {"x": x, "weights": batch_weights(chunk.params["batch_size"], b_max, chunk.dtype),
                "error_avg": torch.zeros_like(x)}

    def step(state, k, chunk):
        index = sample_without_replacement(chunk.random.uniform("batch", k, (b_max,), chunk.dtype), n,
                                           chunk.params["batch_size"])
        x = sgd_step(state["x"], chunk.params["lr"], a[index], y[index], state["weights"])
        if k + 1 <= burn_in:  # step k makes iterate k + 1
            return {**state, "x": x}
        return {**state, "x": x, "error_avg": state["error_avg"] + (x - x_star) / n_average}

    traj = train_batched(
        init, step, lambda state, k, chunk: {"error": state["x"] - x_star}, int(cfg["n_steps"]), _record_at(cfg),
        {"lr": flat["lr"].astype(float), "batch_size": flat["batch_size"].astype(np.int64)},
        keys, device=ctx.device, dtype=ctx.dtype,
        is_diverged=lambda state: ~(state["x"].abs() < 1e100).all(dim=1),
    )
    ctx.log.info("linreg_finite: %d of %d runs diverged", int(traj.diverged.sum()), grid.size)
    average = np.where(traj.diverged[:, None] | (n_average < 1), np.nan, traj.final["error_avg"])
    extra = {"error_avg": (("coord",), average, {
        "units": "1",
        "long_name": f"average of x_k - x* over the {n_average} iterates after burn-in (NaN if the run diverged)",
    })}
    return _iterate_dataset(grid, traj, d, cfg, {"setting": "finite data, mini-batches without replacement",
                                                 "n_data": n, "noise_sd": float(cfg["noise_sd"])}, extra)


# ---------------------------------------------------------------- networks


def _load_classification(cfg: dict, ctx: RunContext) -> dict[str, np.ndarray]:
    from sgdrepro.core.datasets import load_dataset

    data = load_dataset(cfg["dataset"], ctx.datasets_dir)
    if data["x_train"].ndim > 2:  # CIFAR-10 images -> flat vectors (a fully connected network)
        data = {k: (v.reshape(len(v), -1) if k.startswith("x") else v) for k, v in data.items()}
    if cfg.get("n_train"):
        data["x_train"], data["y_train"] = data["x_train"][: cfg["n_train"]], data["y_train"][: cfg["n_train"]]
    return data


def mlp_forward(weights: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of bias-free ReLU networks, one per run: x [runs, n, in], weights[l] [runs, in_l, out_l]."""
    h = x
    for layer, w in enumerate(weights):
        h = torch.bmm(h, w)
        if layer < len(weights) - 1:
            h = torch.relu(h)
    return h


_EVAL_BLOCK = 4096  # images per evaluation block: [runs, 4096, width] activations, not [runs, 60000, width]


def _blocks(mean_of, x: torch.Tensor, y: torch.Tensor, n_runs: int, block: int = _EVAL_BLOCK) -> torch.Tensor:
    """Per run, the mean over the images of ``mean_of(x_block, y_block)`` (a per-run mean over a
    block), block by block so that memory does not grow with the data set (MNIST's 60,000 images
    at once held 7 GB for 48 runs); a set of at most ``block`` images is one block, as before."""
    n = x.shape[0]
    if n <= block:
        return mean_of(x.expand(n_runs, -1, -1), y.expand(n_runs, -1))
    parts = [mean_of(x[s:s + block].expand(n_runs, -1, -1), y[s:s + block].expand(n_runs, -1)) * min(block, n - s)
             for s in range(0, n, block)]
    return torch.stack(parts).sum(dim=0) / n


def run_mlp(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """SGD on cross-entropy for fully connected bias-free ReLU networks over a (lr, batch_size) grid.

    Init as torch.nn.Linear (U(-1/sqrt(fan_in), 1/sqrt(fan_in))); each step a mini-batch of b
    training points drawn uniformly (with replacement). Stored: per layer the average of the last ``n_average``
    iterates (the authors' analysed sample), the final test accuracy and training loss.
    """
    data = _load_classification(cfg, ctx)
    grid = Grid.from_config({"lr": cfg["grid"]["lr"], "batch_size": cfg["grid"]["batch_size"],
                             "seed": list(range(int(cfg["n_seeds"])))})
    flat = grid.flat()
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed)
    x_train = torch.as_tensor(data["x_train"], dtype=ctx.dtype, device=ctx.device)
    y_train = torch.as_tensor(data["y_train"], device=ctx.device)
    x_test = torch.as_tensor(data["x_test"], dtype=ctx.dtype, device=ctx.device)
    y_test = torch.as_tensor(data["y_test"], device=ctx.device)
    n_classes = int(max(data["y_train"].max(), data["y_test"].max())) + 1
    sizes = [x_train.shape[1], *[int(cfg["width"])] * (int(cfg["depth"]) - 1), n_classes]
    n, b_max, n_steps, n_average = x_train.shape[0], int(np.max(flat["batch_size"])), int(cfg["n_steps"]), int(cfg["n_average"])
    names = [f"w{layer}" for layer in range(len(sizes) - 1)]

    def init(chunk):
        state = {"weights": batch_weights(chunk.params["batch_size"], b_max, chunk.dtype)}
        for name, fan_in, fan_out in zip(names, sizes[:-1], sizes[1:]):
            u = chunk.random.uniform(f"init_{name}", 0, (fan_in, fan_out), chunk.dtype)
            state[name] = (2.0 * u - 1.0) / math.sqrt(fan_in)
            state[f"avg_{name}"] = torch.zeros_like(state[name])
        return state

    def step(state, k, chunk):
        # with replacement (one call; at b <= 10 of n >= 1000 points a repeat has probability < 5%)
        index = chunk.random.randint("batch", k, (b_max,), n)
        params = [state[name].detach().requires_grad_(True) for name in names]
        logits = mlp_forward(params, x_train[index])
        losses = torch.nn.functional.cross_entropy(logits.reshape(-1, n_classes), y_train[index].reshape(-1),
                                                   reduction="none").reshape(index.shape)
        # runs are independent, so the gradient of the sum is each run's own gradient
        grads = torch.autograd.grad((state["weights"] * losses).sum(), params)
        lr = chunk.params["lr"].reshape(-1, 1, 1)
        new = dict(state)
        in_window = k + 1 > n_steps - n_average
        for name, p, g in zip(names, params, grads):
            new[name] = (p - lr * g).detach()
            if in_window:
                new[f"avg_{name}"] = state[f"avg_{name}"] + new[name] / n_average
        return new

    def observe(state, k, chunk):
        weights = [state[name] for name in names]
        with torch.no_grad():
            accuracy = _blocks(lambda x, y: (mlp_forward(weights, x).argmax(dim=2) == y).to(chunk.dtype).mean(dim=1),
                               x_test, y_test, chunk.n_runs)
            loss = _blocks(lambda x, y: torch.nn.functional.cross_entropy(
                mlp_forward(weights, x).transpose(1, 2), y, reduction="none").mean(dim=1), x_train, y_train, chunk.n_runs)
        return {"test_accuracy": accuracy, "train_loss": loss}

    traj = train_batched(
        init, step, observe, n_steps, np.array([n_steps]),
        {"lr": flat["lr"].astype(float), "batch_size": flat["batch_size"].astype(np.int64)},
        keys, device=ctx.device, dtype=ctx.dtype,
        # one reduction per layer: a non-finite entry makes the sum non-finite
        is_diverged=lambda state: ~torch.stack([torch.isfinite(state[name].sum(dim=(1, 2))) for name in names]).all(0),
    )
    ctx.log.info("mlp: %d of %d runs diverged", int(traj.diverged.sum()), grid.size)
    variables = {
        "test_accuracy": ((), traj.records["test_accuracy"][:, -1], {"units": "1", "long_name": "test accuracy at the last step"}),
        "train_loss": ((), traj.records["train_loss"][:, -1], {"units": "nats", "long_name": "training cross-entropy at the last step"}),
        "diverged_step": ((), traj.diverged_step, {"units": "steps", "long_name": "step at which the run left the finite range (-1: never)"}),
    }
    coords = {}
    for layer, (name, fan_in, fan_out) in enumerate(zip(names, sizes[:-1], sizes[1:])):
        avg = traj.final[f"avg_{name}"].reshape(grid.size, -1)
        avg = np.where(traj.diverged[:, None], np.nan, avg)
        variables[f"weight_avg_layer{layer + 1}"] = ((f"entry_layer{layer + 1}",), avg, {
            "units": "1",
            "long_name": f"layer {layer + 1} weights ({fan_in} x {fan_out}, row-major) averaged over the last {n_average} iterates",
        })
        coords[f"entry_layer{layer + 1}"] = np.arange(fan_in * fan_out)
    return grid.dataset(variables, coords=coords, attrs={
        "dataset": cfg["dataset"], "layer_sizes": ",".join(map(str, sizes)), "n_steps": n_steps, "n_average": n_average,
    })
