"""The paper's experiments: each trains its whole grid as one batched program and returns a Dataset.

- ``diagonal_sgd`` / ``diagonal_gd``: diagonal linear networks on sparse regression, grid
  (lr, decay_at, seed) with the decay factor paired with decay_at (Section 3, Fig. 2 of the
  authors' notebook ``diag_nets.ipynb``); GD is the same program with the full batch.
- ``relu_teacher_student``: two-layer ReLU student of a 3-unit teacher (``fc_nets_two_layer``).
- ``relu_1d``: two-layer ReLU network with biases on the 12-point 1-D regression problem with
  a linear warm-up of the step size (``fc_nets_1d_regression``).
- ``relu_three_layer``: three-layer ReLU student (with biases) of a three-layer ReLU teacher, the
  step warmed up as sqrt(k / n_steps) during the large-step phase (``fc_nets_multi_layer``).
- ``deep``: ResNets with the exponential warm-up schedule and a large-step phase of swept
  length (``deep_nets/train.py``); quick scale: a small ResNet on scikit-learn's digits; paper
  scale: ResNet-18 on CIFAR-10 (or the synthetic stand-in of CIFAR's shape).
- ``deep_sota``: the same trainer in the authors' state-of-the-art setting (momentum 0.9, weight
  decay, random crops and flips, warm-up-free piecewise-constant schedule), :mod:`.deep_runs`.
- ``deep_densenet``: DenseNets (:mod:`.densenet`; DenseNet-BC-100-12 at paper scale) with the
  ResNet runs' schedules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from sgdrepro.core import Grid, RunRandom, run_keys

from . import deep_runs, diagonal, mlp, relu

if TYPE_CHECKING:  # the experiments return datasets; xarray loads with the store
    import xarray as xr

__all__ = ["run_diagonal_sgd", "run_diagonal_gd", "run_relu_teacher_student", "run_relu_1d", "run_relu_three_layer", "run_deep",
           "run_deep_sota", "run_deep_densenet"]

DIAGONAL_DATA = "diagonal_data"  # name the diagonal-net data keys derive from (shared by SGD and GD)
_STEP = {"units": "iterations", "long_name": "SGD iteration"}


def linear_record_steps(n_steps: int, n_points: int) -> np.ndarray:
    """About ``n_points`` record steps evenly spaced in [0, n_steps] (the paper's linear x axes)."""
    return np.unique(np.round(np.linspace(0, n_steps, n_points)).astype(np.int64))


def _schedule_grid(cfg: dict, paired: str = "decay_factor") -> tuple[Grid, dict]:
    """Grid (lr, decay_at, seed) and per-run params; ``decay_factor`` is paired with ``decay_at``."""
    grid = Grid.from_config({"lr": cfg["lr"], "decay_at": cfg["decay_at"], "seed": list(range(cfg["n_seeds"]))})
    flat = grid.flat()
    params = {"lr": flat["lr"].astype(np.float64), "decay_at": flat["decay_at"].astype(np.float64),
              "decay_factor": grid.paired("decay_at", cfg[paired]).astype(np.float64)}
    return grid, params


def _records(grid: Grid, traj, spec: dict) -> dict:
    return {name: (("step",), traj.records[name], attrs) for name, attrs in spec.items()}


_COORD_ATTRS = {
    "seed": {"units": "1", "long_name": "seed index (problem draw, init and sample order)"},
    "feature": {"units": "1", "long_name": "coordinate of beta"},
    "sample": {"units": "1", "long_name": "training point"},
}


def _label(ds):
    """Units and long names on the coordinates that carry none yet."""
    for name, attrs in _COORD_ATTRS.items():
        if name in ds.coords and not ds[name].attrs:
            ds[name].attrs.update(attrs)
    return ds


def _diverged(traj) -> tuple:
    return ((), traj.diverged_step, {"units": "iterations",
                                     "long_name": "iteration at which the run diverged (-1: never)"})


# ---------------------------------------------------------------- diagonal linear networks

_DIAGONAL_VARS = {
    "train_loss": {"units": "1", "long_name": "training loss ||X beta - y||^2 / (2n)"},
    "test_loss": {"units": "1", "long_name": "test loss on fresh samples ||X' beta - y'||^2 / (2n')"},
    "l1_norm": {"units": "1", "long_name": "l1 norm of the predictor ||u * v||_1"},
    "nnz": {"units": "coordinates", "long_name": "number of coordinates with |beta_i| > nnz_threshold"},
    "support_errors": {"units": "coordinates", "long_name": "coordinates where {|beta_i| > threshold} differs from supp(beta*)"},
    "support_overlap": {"units": "1", "long_name": "fraction of supp(beta*) among the r largest |beta_i|"},
    "lr_now": {"units": "1", "long_name": "step size at this iteration"},
}


def _run_diagonal(cfg: dict, ctx) -> xr.Dataset:
    grid, params = _schedule_grid(cfg)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    # the data depend on the seed only, so SGD and GD runs of one seed see the same problem
    data_keys = run_keys(DIAGONAL_DATA, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    data = diagonal.make_data(RunRandom(data_keys, ctx.device), cfg["n"], cfg["d"], cfg["sparsity"], cfg["n_test"], ctx.dtype)
    steps = linear_record_steps(cfg["n_steps"], cfg["record_points"])
    ctx.log.info("diagonal nets: %d runs, %d iterations, batch %d", grid.size, cfg["n_steps"], cfg["batch_size"])
    traj = diagonal.train_runs(data, params, keys, cfg["n_steps"], cfg["batch_size"], steps,
                               init_u=cfg["init_u"], init_v=cfg["init_v"], nnz_threshold=cfg["nnz_threshold"],
                               device=ctx.device, dtype=ctx.dtype)
    beta = traj.final["u"] * traj.final["v"]
    variables = _records(grid, traj, _DIAGONAL_VARS)
    variables["beta"] = (("feature",), beta, {"units": "1", "long_name": "final predictor beta = u * v"})
    variables["diverged_step"] = _diverged(traj)
    ds = grid.dataset(variables, coords={"step": ("step", traj.steps, _STEP), "feature": np.arange(cfg["d"])},
                      attrs={"batch_size": cfg["batch_size"], "n_steps": cfg["n_steps"], "n": cfg["n"], "d": cfg["d"],
                             "nnz_threshold": cfg["nnz_threshold"], "method": "GD" if cfg["batch_size"] >= cfg["n"] else "SGD"})
    ds = ds.assign_coords(decay_factor=("decay_at", np.asarray(cfg["decay_factor"], dtype=np.float64),
                                        {"units": "1", "long_name": "factor the step size is divided by at decay_at"}))
    seed_rows = np.array([next(i for i, p in enumerate(grid.points()) if p["seed"] == s) for s in range(cfg["n_seeds"])])
    ds["beta_star"] = (("seed", "feature"), data["beta_star"][seed_rows].cpu().numpy(),
                       {"units": "1", "long_name": "ground-truth sparse predictor beta*"})
    ds["lr"].attrs.update(units="1", long_name="initial (large) step size")
    ds["decay_at"].attrs.update(units="1", long_name="fraction of training after which the step size is decayed (1: never)")
    return _label(ds)


def run_diagonal_sgd(cfg: dict, ctx):
    return _run_diagonal(cfg, ctx)


def run_diagonal_gd(cfg: dict, ctx):
    return _run_diagonal(cfg, ctx)


# ---------------------------------------------------------------- two-layer ReLU networks

_RELU_VARS = {
    "train_loss": {"units": "1", "long_name": "training loss mean (f(x) - y)^2"},
    "test_loss": {"units": "1", "long_name": "test loss mean (f(x') - y')^2"},
    "feature_sparsity": {"units": "1", "long_name": "fraction of positive ReLU activations (samples x neurons, training set)"},
    "feature_sparsity_dedup": {"units": "1", "long_name": "feature sparsity coefficient after dropping dead and highly correlated neurons"},
    "lr_now": {"units": "1", "long_name": "step size at this iteration"},
}


def _relu_dataset(grid, traj, cfg, attrs):
    variables = _records(grid, traj, _RELU_VARS)
    variables["diverged_step"] = _diverged(traj)
    ds = grid.dataset(variables, coords={"step": ("step", traj.steps, _STEP)}, attrs=attrs)
    ds = ds.assign_coords(decay_factor=("decay_at", np.asarray(cfg["decay_factor"], dtype=np.float64),
                                        {"units": "1", "long_name": "factor the step size is divided by at decay_at"}))
    ds["lr"].attrs.update(units="1", long_name="initial step size")
    ds["decay_at"].attrs.update(units="1", long_name="fraction of training after which the step size is decayed (1: never)")
    return _label(ds)


def run_relu_teacher_student(cfg: dict, ctx):
    grid, params = _schedule_grid(cfg)
    params["warmup_factor"] = np.ones(grid.size)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    random = RunRandom(keys, ctx.device)
    data = relu.teacher_student_data(random, cfg["n"], cfg["d"], cfg["m_teacher"], cfg["n_test"], ctx.dtype)
    init = relu.init_gaussian(random, cfg["m_student"], cfg["d"], cfg["init_scale_w"], cfg["init_scale_a"], ctx.dtype)
    steps = linear_record_steps(cfg["n_steps"], cfg["record_points"])
    traj = relu.train_runs(data, init, params, keys, cfg["n_steps"], cfg["batch_size"], steps, train_bias=False,
                           corr_threshold=cfg["corr_threshold"], device=ctx.device, dtype=ctx.dtype)
    return _relu_dataset(grid, traj, cfg, {"n": cfg["n"], "d": cfg["d"], "m_student": cfg["m_student"],
                                           "batch_size": cfg["batch_size"], "n_steps": cfg["n_steps"]})


def run_relu_1d(cfg: dict, ctx):
    grid, params = _schedule_grid(cfg)
    # the authors' warm-up: the step grows linearly to lr * (1 + (w - 1) * L) with w = warmup_mult * L
    params["warmup_factor"] = cfg["warmup_mult"] * params["decay_at"]
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    random = RunRandom(keys, ctx.device)
    data = relu.regression_1d_data(grid.size, ctx.dtype, ctx.device)
    init = relu.init_blanc(random, cfg["m"], ctx.dtype)
    steps = linear_record_steps(cfg["n_steps"], cfg["record_points"])
    traj = relu.train_runs(data, init, params, keys, cfg["n_steps"], cfg["batch_size"], steps, train_bias=True,
                           corr_threshold=cfg["corr_threshold"], device=ctx.device, dtype=ctx.dtype)
    ds = _relu_dataset(grid, traj, cfg, {"m": cfg["m"], "batch_size": cfg["batch_size"], "n_steps": cfg["n_steps"],
                                         "warmup_mult": cfg["warmup_mult"]})
    # the learned functions on a grid of inputs, for the figure
    x_grid = np.linspace(-1.6, 1.6, 161)
    W, b, a = (torch.as_tensor(traj.final[k]) for k in ("W", "b", "a"))
    xs = torch.as_tensor(x_grid, dtype=W.dtype).reshape(1, -1, 1).expand(W.shape[0], -1, -1)
    _, f = relu.forward(W, b, a, xs)
    ds["function"] = (grid.dims + ("x",), grid.unflatten(f.numpy()), {"units": "1", "long_name": "network output f(x) after training"})
    ds = ds.assign_coords(x=("x", x_grid, {"units": "1", "long_name": "input x"}))
    ds["x_train"] = (("sample",), relu._X_1D.copy(), {"units": "1", "long_name": "training inputs"})
    ds["y_train"] = (("sample",), relu._Y_1D.copy(), {"units": "1", "long_name": "training targets"})
    return _label(ds)


# ---------------------------------------------------------------- three-layer ReLU networks

_THREE_LAYER_VARS = {
    "train_loss": (("step",), {"units": "1", "long_name": "training loss mean (f(x) - y)^2"}),
    "test_loss": (("step",), {"units": "1", "long_name": "test loss mean (f(x') - y')^2"}),
    "feature_sparsity": (("step", "layer"), {"units": "1", "long_name":
                                             "fraction of positive ReLU activations of the layer (samples x neurons, training set)"}),
    "feature_sparsity_dedup": (("step", "layer"), {"units": "1", "long_name": "feature sparsity coefficient of the layer "
                                                   "after dropping dead and highly correlated neurons"}),
    "grad_rank": (("step",), {"units": "1", "long_name": "rank of the per-sample gradient matrix "
                              "(singular values above rank_threshold times the largest)"}),
    "lr_now": (("step",), {"units": "1", "long_name": "step size at this iteration"}),
}


def _phase_grid(cfg: dict) -> tuple[Grid, dict]:
    """Grid (large_phase, seed); ``lr`` and ``decay_factor`` are paired with ``large_phase``."""
    grid = Grid.from_config({"large_phase": cfg["large_phase"], "seed": list(range(cfg["n_seeds"]))})
    params = {"lr": grid.paired("large_phase", cfg["lr"]).astype(np.float64),
              "decay_at": grid.flat()["large_phase"].astype(np.float64),
              "decay_factor": grid.paired("large_phase", cfg["decay_factor"]).astype(np.float64),
              "warmup_factor": np.full(grid.size, float(cfg["warmup_factor"])),
              "warmup_exponent": np.full(grid.size, float(cfg["warmup_exponent"]))}
    return grid, params


def run_relu_three_layer(cfg: dict, ctx):
    """Three-layer ReLU teacher-student (the authors' ``fc_nets_multi_layer``): grid large_phase x
    seed; teacher, data, init and sample order depend on the seed only, as in the authors' notebook
    (one seed for every schedule)."""
    grid, params = _phase_grid(cfg)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    random = RunRandom(keys, ctx.device)
    data = mlp.teacher_student_data(random, cfg["n"], cfg["d"], cfg["widths_teacher"], cfg["n_test"],
                                    cfg["init_scale_teacher"], ctx.dtype)
    widths = [cfg["d"], *cfg["widths_student"], 1]
    init = mlp.init_params(random, widths, cfg["init_scale_student"], ctx.dtype)
    # the authors evaluate the rank on the first n_params test inputs
    rank_points = min(mlp.n_params(widths), cfg["n_test"]) if cfg["grad_rank"] else 0
    steps = linear_record_steps(cfg["n_steps"], cfg["record_points"])
    ctx.log.info("three-layer ReLU: %d runs, %d iterations, widths %s", grid.size, cfg["n_steps"], widths)
    traj = mlp.train_runs(data, init, params, keys, cfg["n_steps"], cfg["batch_size"], steps,
                          corr_threshold=cfg["corr_threshold"], rank_points=rank_points,
                          rank_threshold=cfg["rank_threshold"], device=ctx.device, dtype=ctx.dtype)
    variables = {name: (dims, traj.records[name], attrs) for name, (dims, attrs) in _THREE_LAYER_VARS.items()
                 if name in traj.records}
    variables["diverged_step"] = _diverged(traj)
    n_hidden = len(cfg["widths_student"])
    ds = grid.dataset(variables, coords={"step": ("step", traj.steps, _STEP),
                                         "layer": ("layer", np.arange(1, n_hidden + 1), {"units": "1", "long_name": "hidden layer"})},
                      attrs={"n": cfg["n"], "d": cfg["d"], "widths_teacher": list(cfg["widths_teacher"]),
                             "widths_student": list(cfg["widths_student"]), "batch_size": cfg["batch_size"],
                             "n_steps": cfg["n_steps"], "warmup_factor": cfg["warmup_factor"],
                             "warmup_exponent": cfg["warmup_exponent"], "corr_threshold": cfg["corr_threshold"],
                             "rank_points": rank_points, "rank_threshold": cfg["rank_threshold"]})
    ds = ds.assign_coords(lr=("large_phase", np.asarray(cfg["lr"], dtype=np.float64), {"units": "1", "long_name": "initial step size"}),
                          decay_factor=("large_phase", np.asarray(cfg["decay_factor"], dtype=np.float64),
                                        {"units": "1", "long_name": "factor the step size is divided by at the end of the large-step phase"}))
    ds["large_phase"].attrs.update(units="1", long_name="fraction of training with the large (warming-up) step, then decayed; 0: small constant step")
    return _label(ds)


# ---------------------------------------------------------------- deep networks
# One trainer (deep_runs.run) for the three deep experiments; they differ by config only.

def run_deep(cfg: dict, ctx):
    """ResNets (or DenseNets) over the (large_phase, seed) grid with plain SGD."""
    return deep_runs.run(cfg, ctx, _label)


def run_deep_sota(cfg: dict, ctx):
    """The state-of-the-art setting: SGD with momentum, weight decay and data augmentation."""
    return deep_runs.run(cfg, ctx, _label)


def run_deep_densenet(cfg: dict, ctx):
    """DenseNets (DenseNet-100-12 at paper scale) with the ResNet runs' schedules."""
    return deep_runs.run(cfg, ctx, _label)
