"""The paper's experiments: each trains its whole grid as one batched program and returns a Dataset.

- ``diagonal_sgd`` / ``diagonal_gd``: diagonal linear networks on sparse regression, grid
  (lr, decay_at, seed) with the decay factor paired with decay_at (Section 3, Fig. 2 of the
  authors' notebook ``diag_nets.ipynb``); GD is the same program with the full batch.
- ``relu_teacher_student``: two-layer ReLU student of a 3-unit teacher (``fc_nets_two_layer``).
- ``relu_1d``: two-layer ReLU network with biases on the 12-point 1-D regression problem with
  a linear warm-up of the step size (``fc_nets_1d_regression``).
- ``deep``: ResNets with the exponential warm-up schedule and a large-step phase of swept
  length (``deep_nets/train.py``); quick scale: a small ResNet on scikit-learn's digits; paper
  scale: ResNet-18 on CIFAR-10 (or the synthetic stand-in of CIFAR's shape).
"""

from __future__ import annotations

import numpy as np
import torch

from sgdrepro.core import Grid, RunRandom, run_keys, train_batched
from sgdrepro.core.datasets import load_cifar10, load_digits

from . import deep, diagonal, relu
from .measures import feature_sparsity_dedup
from .schedules import exponential_warmup_lr

__all__ = ["run_diagonal_sgd", "run_diagonal_gd", "run_relu_teacher_student", "run_relu_1d", "run_deep"]

DIAGONAL_DATA = "diagonal_data"  # name the diagonal-net data keys derive from (shared by SGD and GD)
_STEP = {"units": "iterations", "long_name": "SGD iteration"}


def linear_record_steps(n_steps: int, n_points: int) -> np.ndarray:
    """About ``n_points`` record steps evenly spaced in [0, n_steps] (the paper's linear x axes)."""
    return np.unique(np.round(np.linspace(0, n_steps, n_points)).astype(np.int64))


def _schedule_grid(cfg: dict, paired: str = "decay_factor") -> tuple[Grid, dict]:
    """Grid (lr, decay_at, seed) and per-run params; ``decay_factor`` is paired with ``decay_at``."""
    grid = Grid.from_config({"lr": cfg["lr"], "decay_at": cfg["decay_at"], "seed": list(range(cfg["n_seeds"]))})
    flat = grid.flat()
    position = {float(v): i for i, v in enumerate(cfg["decay_at"])}
    which = np.array([position[float(v)] for v in flat["decay_at"]])
    params = {"lr": flat["lr"].astype(np.float64), "decay_at": flat["decay_at"].astype(np.float64),
              "decay_factor": np.asarray(cfg[paired], dtype=np.float64)[which]}
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


def _run_diagonal(cfg: dict, ctx) -> "xr.Dataset":  # noqa: F821
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


# ---------------------------------------------------------------- deep networks

def load_deep_data(cfg: dict, datasets_dir: str | None) -> dict:
    """digits (8x8, 1 channel), cifar10 (from datasets_dir) or synthetic_cifar, as float32/int64 arrays."""
    name = cfg["dataset"]
    if name == "digits":
        return load_digits(image=True)
    if name == "cifar10":
        return load_cifar10(datasets_dir)
    return deep.synthetic_cifar(cfg["synthetic_n_train"], cfg["synthetic_n_test"])


def _deep_grid(cfg: dict) -> tuple[Grid, dict]:
    grid = Grid.from_config({"large_phase": cfg["large_phase"], "seed": list(range(cfg["n_seeds"]))})
    flat = grid.flat()
    position = {float(v): i for i, v in enumerate(cfg["large_phase"])}
    which = np.array([position[float(v)] for v in flat["large_phase"]])
    params = {"lr": np.asarray(cfg["lr"], dtype=np.float64)[which], "large_phase": flat["large_phase"].astype(np.float64),
              "warmup_exp": np.full(grid.size, float(cfg["warmup_exp"]))}
    return grid, params


def run_deep(cfg: dict, ctx):
    """Train the grid of ResNets (large_phase x seed) as one batched program; record per epoch."""
    dtype = torch.float32  # real-data networks train in single precision (as the authors')
    device = ctx.device
    arrays = load_deep_data(cfg, ctx.datasets_dir)
    x_train = torch.as_tensor(arrays["x_train"], device=device, dtype=dtype)
    y_train = torch.as_tensor(arrays["y_train"], device=device)
    x_test = torch.as_tensor(arrays["x_test"][: cfg["n_eval_test"]], device=device, dtype=dtype)
    y_test = torch.as_tensor(arrays["y_test"][: cfg["n_eval_test"]], device=device)
    n_train, batch = x_train.shape[0], cfg["batch_size"]
    per_epoch = n_train // batch  # drop_last, as the authors
    n_steps = per_epoch * cfg["epochs"]
    n_classes = 10  # digits, CIFAR-10 and its synthetic stand-in all have ten classes
    arch = deep.Architecture(x_train.shape[1], cfg["widths"], cfg["blocks"], n_classes)
    grid, params = _deep_grid(cfg)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    # fixed evaluation subsets, the same for every run: the first training images
    x_sparse = x_train[: cfg["n_sparsity"]]
    x_eval_train, y_eval_train = x_train[: cfg["n_eval_train"]], y_train[: cfg["n_eval_train"]]
    column_rng = np.random.default_rng(0)
    columns: dict[int, torch.Tensor] = {}

    def init(chunk):
        state = deep.init_params(arch, chunk.random, dtype)
        out = {"p." + k: v for k, v in state["params"].items()}
        out.update({"buf." + k: v for k, v in state["buffers"].items()})
        out["perm"] = chunk.random.permutation("epoch", 0, n_train)
        return out

    def split(state):
        return ({k[2:]: v for k, v in state.items() if k.startswith("p.")},
                {k[4:]: v for k, v in state.items() if k.startswith("buf.")})

    def step(state, k, chunk):
        epoch, j = divmod(k, per_epoch)
        perm = state["perm"] if j else chunk.random.permutation("epoch", epoch, n_train)
        idx = perm[:, j * batch:(j + 1) * batch]
        params_now, buffers = split(state)
        buffers = {name: value.clone() for name, value in buffers.items()}
        with torch.enable_grad():
            leaves = {name: value.detach().requires_grad_(True) for name, value in params_now.items()}
            logits = deep.forward(arch, leaves, buffers, x_train[idx], training=True)
            loss = deep.cross_entropy_runs(logits, y_train[idx]).sum()  # runs are independent
            grads = torch.autograd.grad(loss, list(leaves.values()))
        p = chunk.params
        lr = exponential_warmup_lr((k + 1) / n_steps, p["lr"], p["large_phase"], p["warmup_exp"]).to(dtype)
        new = {"p." + name: (value - lr.view(-1, *([1] * (value.ndim - 1))) * g).detach()
               for (name, value), g in zip(leaves.items(), grads)}
        new.update({"buf." + name: value for name, value in buffers.items()})
        new["perm"] = perm
        return new

    def evaluate(params_now, buffers, x, y, runs):
        losses, errors = [], []
        for start in range(0, x.shape[0], cfg["eval_batch"]):
            xb = x[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1, -1, -1, -1)
            yb = y[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1)
            logits = deep.forward(arch, params_now, buffers, xb, training=False)
            losses.append(deep.cross_entropy_runs(logits, yb) * yb.shape[1])
            errors.append((logits.argmax(dim=2) != yb).sum(dim=1).to(dtype))
        return torch.stack(losses).sum(0) / x.shape[0], torch.stack(errors).sum(0) / x.shape[0]

    def observe(state, k, chunk):
        params_now, buffers = split(state)
        runs = chunk.n_runs
        train_loss, train_err = evaluate(params_now, buffers, x_eval_train, y_eval_train, runs)
        test_loss, test_err = evaluate(params_now, buffers, x_test, y_test, runs)
        positives = torch.zeros(runs, arch.n_stages, dtype=torch.float64, device=device)
        totals = [0] * arch.n_stages
        kept = [[] for _ in range(arch.n_stages)]
        for start in range(0, x_sparse.shape[0], cfg["eval_batch"]):
            xb = x_sparse[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1, -1, -1, -1)
            _, features = deep.forward(arch, params_now, buffers, xb, training=False, return_features=True)
            for s, phi in enumerate(features):  # phi [runs, B, units]
                positives[:, s] += (phi > 0).sum(dim=(1, 2)).to(torch.float64)
                totals[s] += phi.shape[1] * phi.shape[2]
                if s not in columns:  # a fixed random subset of at most n_relu_max units (authors: 1000)
                    chosen = column_rng.choice(phi.shape[2], min(phi.shape[2], cfg["n_relu_max"]), replace=False)
                    columns[s] = torch.as_tensor(np.sort(chosen), device=device)
                kept[s].append(phi.index_select(2, columns[s]).to(torch.float64))
        sparsity = [positives[:, s] / totals[s] for s in range(arch.n_stages)]
        sparsity_dedup = [feature_sparsity_dedup(torch.cat(kept[s], dim=1), cfg["corr_threshold"])
                          for s in range(arch.n_stages)]
        p = chunk.params
        return {"train_loss": train_loss, "train_error": train_err, "test_loss": test_loss, "test_error": test_err,
                "feature_sparsity": torch.stack(sparsity, dim=1).to(dtype),
                "feature_sparsity_dedup": torch.stack(sparsity_dedup, dim=1).to(dtype),
                "lr_now": exponential_warmup_lr(min(k + 1, n_steps) / n_steps, p["lr"], p["large_phase"], p["warmup_exp"]).to(dtype)}

    record_at = np.arange(0, cfg["epochs"] + 1) * per_epoch
    ctx.log.info("deep: %s on %s, %d runs, %d epochs of %d steps", cfg["widths"], cfg["dataset"], grid.size,
                 cfg["epochs"], per_epoch)
    with torch.no_grad():
        traj = train_batched(init, step, observe, n_steps, record_at, params, keys, device=device, dtype=dtype,
                             chunk_size=cfg.get("chunk_size"))
    spec = {
        "train_loss": (("epoch",), {"units": "nats", "long_name": "training cross-entropy (eval subset)"}),
        "train_error": (("epoch",), {"units": "1", "long_name": "training error (eval subset)"}),
        "test_loss": (("epoch",), {"units": "nats", "long_name": "test cross-entropy"}),
        "test_error": (("epoch",), {"units": "1", "long_name": "test error"}),
        "feature_sparsity": (("epoch", "stage"), {"units": "1", "long_name": "fraction of positive activations of the stage output (training images)"}),
        "feature_sparsity_dedup": (("epoch", "stage"), {"units": "1", "long_name": "feature sparsity after dropping dead and highly correlated units"}),
        "lr_now": (("epoch",), {"units": "1", "long_name": "step size at the end of the epoch"}),
    }
    variables = {name: (dims, traj.records[name].astype(np.float64), attrs) for name, (dims, attrs) in spec.items()}
    variables["diverged_step"] = _diverged(traj)
    ds = grid.dataset(variables, coords={"epoch": ("epoch", np.arange(cfg["epochs"] + 1), {"units": "epochs", "long_name": "epoch"}),
                                         "stage": ("stage", np.arange(1, arch.n_stages + 1), {"units": "1", "long_name": "ResNet stage"})},
                      attrs={"dataset": cfg["dataset"], "widths": list(cfg["widths"]), "blocks": list(cfg["blocks"]),
                             "batch_size": batch, "epochs": cfg["epochs"], "steps_per_epoch": per_epoch})
    ds = ds.assign_coords(lr=("large_phase", np.asarray(cfg["lr"], dtype=np.float64), {"units": "1", "long_name": "initial step size"}))
    ds["large_phase"].attrs.update(units="1", long_name="fraction of training with the large (warming-up) step size; 0: small constant step")
    return _label(ds)
