"""Training of the deep-network grids (ResNet or DenseNet) as one batched program.

One trainer serves the three deep experiments (``deep``, ``deep_sota``, ``deep_densenet``): they
differ by config only (architecture, data set, schedule, momentum, weight decay, augmentation).

The SGD step (per run r, after the authors' ``train.py``, which adds ``l2_reg / 2 * ||theta||^2``
over all parameters, BN scales/shifts and biases included, to the loss and steps
``torch.optim.SGD(momentum=m)`` without dampening or Nesterov):

    g    = grad L_batch(theta) + wd_r * theta
    buf  = m_r * buf + g             (buf = 0 at the start, so the first buf is g, as torch's)
    theta = theta - eta_r(t) * buf

with ``m = wd = 0`` the plain SGD of the paper's main setting. Data augmentation (the authors'
``RandomCrop(32, padding=4)`` + ``RandomHorizontalFlip()``) is drawn per run, per step and per
image from the run's counter-based stream, so a run alone equals the same run in a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from sgdrepro.core import Grid, RunRandom, run_keys, train_batched
from sgdrepro.core.datasets import load_dataset

from . import deep, densenet
from .measures import feature_sparsity_dedup
from .schedules import exponential_warmup_lr

if TYPE_CHECKING:  # the experiments return datasets; xarray loads with the store
    import xarray as xr

__all__ = ["load_deep_data", "n_classes_of", "build_architecture", "sgd_momentum_step", "augment_batch", "run"]

N_CLASSES = {"digits": 10, "cifar10": 10, "cifar100": 100, "tiny_imagenet": 200}


def load_deep_data(cfg: dict, datasets_dir: str | None) -> dict:
    """digits (8x8, 1 channel), cifar10 / cifar100 / tiny_imagenet (from datasets_dir) or
    synthetic_cifar, as float32 images in [0, 1] and int64 labels."""
    if cfg["dataset"] == "synthetic_cifar":
        return deep.synthetic_cifar(cfg["synthetic_n_train"], cfg["synthetic_n_test"], n_classes=n_classes_of(cfg))
    return load_dataset(cfg["dataset"], datasets_dir, image=True)  # image: digits as [n, 1, 8, 8]


def n_classes_of(cfg: dict) -> int:
    return N_CLASSES.get(cfg["dataset"]) or int(cfg.get("synthetic_n_classes", 10))


def build_architecture(cfg: dict, in_channels: int, n_classes: int):
    """(module with init_params/forward, architecture) for ``cfg['architecture']`` (default resnet)."""
    if cfg.get("architecture", "resnet") == "densenet":
        d = cfg["densenet"]
        return densenet, densenet.DenseNetArchitecture(in_channels, d["depth"], d["growth"], n_classes,
                                                       bottleneck=d["bottleneck"], compression=d["compression"])
    return deep, deep.Architecture(in_channels, cfg["widths"], cfg["blocks"], n_classes)


def _per_run(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return value.view(-1, *([1] * (like.ndim - 1)))


def sgd_momentum_step(params: dict, grads: dict, buffers: dict | None, lr: torch.Tensor,
                      momentum: torch.Tensor | None = None, weight_decay: torch.Tensor | None = None):
    """One heavy-ball SGD step per run (module docstring); ``lr``, ``momentum``, ``weight_decay``
    are ``[runs]``. ``buffers`` None: no momentum. Returns (new params, new momentum buffers)."""
    new_params, new_buffers = {}, {}
    for name, value in params.items():
        g = grads[name]
        if weight_decay is not None:
            g = g + _per_run(weight_decay, value) * value
        if buffers is not None:
            g = _per_run(momentum, value) * buffers[name] + g
            new_buffers[name] = g
        new_params[name] = value - _per_run(lr, value) * g
    return new_params, (new_buffers if buffers is not None else None)


def augment_batch(x: torch.Tensor, random: RunRandom, step: int, padding: int, flip: bool,
                  enabled: torch.Tensor | None = None) -> torch.Tensor:
    """Random crops of the zero-padded images and random horizontal flips, x [runs, B, C, H, W].

    Image (r, b) is cropped at offsets (i, j) uniform on {0..2p}^2 of its padding-p copy and
    mirrored with probability 1/2 (the authors' ``RandomCrop(H, padding=p)``,
    ``RandomHorizontalFlip()``), drawn from run r's streams at ``step``; runs with
    ``enabled[r] == 0`` keep their images."""
    runs, batch, channels, height, width = x.shape
    offsets = random.randint("augment.crop", step, (batch, 2), 2 * padding + 1)  # [runs, B, 2]
    cols = torch.arange(width, device=x.device)
    if flip:
        mirror = random.uniform("augment.flip", step, (batch,)) < 0.5  # [runs, B]
        cols = torch.where(mirror.unsqueeze(-1), width - 1 - cols, cols)  # [runs, B, W]
    else:
        cols = cols.expand(runs, batch, width)
    rows = offsets[..., 0:1] + torch.arange(height, device=x.device)  # [runs, B, H]
    cols = offsets[..., 1:2] + cols
    padded = torch.nn.functional.pad(x, (padding, padding, padding, padding))
    r = torch.arange(runs, device=x.device).view(runs, 1, 1, 1)
    b = torch.arange(batch, device=x.device).view(1, batch, 1, 1)
    out = padded[r, b, :, rows.unsqueeze(-1), cols.unsqueeze(-2)]  # [runs, B, H, W, C]
    out = out.permute(0, 1, 4, 2, 3)
    if enabled is not None:
        out = torch.where(_per_run(enabled > 0, out), out, x)
    return out


def _grid(cfg: dict) -> tuple[Grid, dict]:
    grid = Grid.from_config({"large_phase": cfg["large_phase"], "seed": list(range(cfg["n_seeds"]))})
    full = lambda value: np.full(grid.size, float(value))
    params = {"lr": grid.paired("large_phase", cfg["lr"]).astype(np.float64),
              "large_phase": grid.flat()["large_phase"].astype(np.float64),
              "warmup_exp": full(cfg["warmup_exp"]), "momentum": full(cfg.get("momentum", 0.0)),
              "weight_decay": full(cfg.get("weight_decay", 0.0)), "augment": full(bool(cfg.get("augment", False)))}
    return grid, params


def run(cfg: dict, ctx, label) -> xr.Dataset:
    """Train the grid (large_phase x seed) as one batched program; record per epoch. ``label``
    adds units and long names to coordinates (experiments._label)."""
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
    n_classes = n_classes_of(cfg)
    net, arch = build_architecture(cfg, x_train.shape[1], n_classes)
    grid, params = _grid(cfg)
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    use_momentum = float(cfg.get("momentum", 0.0)) > 0
    use_decay = float(cfg.get("weight_decay", 0.0)) > 0
    augment = bool(cfg.get("augment", False))
    # fixed evaluation subsets, the same for every run: the first training images (never augmented)
    x_sparse = x_train[: cfg["n_sparsity"]]
    x_eval_train, y_eval_train = x_train[: cfg["n_eval_train"]], y_train[: cfg["n_eval_train"]]
    column_rng = np.random.default_rng(0)
    columns: dict[int, torch.Tensor] = {}

    def init(chunk):
        state = net.init_params(arch, chunk.random, dtype)
        out = {"p." + k: v for k, v in state["params"].items()}
        out.update({"buf." + k: v for k, v in state["buffers"].items()})
        if use_momentum:
            out.update({"mom." + k: torch.zeros_like(v) for k, v in state["params"].items()})
        out["perm"] = chunk.random.permutation("epoch", 0, n_train)
        return out

    def split(state, prefix):
        return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}

    def step(state, k, chunk):
        epoch, j = divmod(k, per_epoch)
        perm = state["perm"] if j else chunk.random.permutation("epoch", epoch, n_train)
        idx = perm[:, j * batch:(j + 1) * batch]
        p = chunk.params
        x = x_train[idx]
        if augment:
            x = augment_batch(x, chunk.random, k, cfg["crop_padding"], cfg["hflip"], p["augment"])
        buffers = {name: value.clone() for name, value in split(state, "buf.").items()}
        with torch.enable_grad():
            leaves = {name: value.detach().requires_grad_(True) for name, value in split(state, "p.").items()}
            logits = net.forward(arch, leaves, buffers, x, training=True)
            loss = deep.cross_entropy_runs(logits, y_train[idx]).sum()  # runs are independent
            grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
        lr = exponential_warmup_lr((k + 1) / n_steps, p["lr"], p["large_phase"], p["warmup_exp"]).to(dtype)
        params_new, moms = sgd_momentum_step(
            {name: value.detach() for name, value in leaves.items()}, grads,
            split(state, "mom.") if use_momentum else None, lr,
            p["momentum"].to(dtype), p["weight_decay"].to(dtype) if use_decay else None)
        new = {"p." + name: value for name, value in params_new.items()}
        new.update({"buf." + name: value for name, value in buffers.items()})
        if use_momentum:
            new.update({"mom." + name: value for name, value in moms.items()})
        new["perm"] = perm
        return new

    def evaluate(params_now, buffers, x, y, runs):
        losses, errors = [], []
        for start in range(0, x.shape[0], cfg["eval_batch"]):
            xb = x[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1, -1, -1, -1)
            yb = y[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1)
            logits = net.forward(arch, params_now, buffers, xb, training=False)
            losses.append(deep.cross_entropy_runs(logits, yb) * yb.shape[1])
            errors.append((logits.argmax(dim=2) != yb).sum(dim=1).to(dtype))
        return torch.stack(losses).sum(0) / x.shape[0], torch.stack(errors).sum(0) / x.shape[0]

    def observe(state, k, chunk):
        params_now, buffers = split(state, "p."), split(state, "buf.")
        runs = chunk.n_runs
        train_loss, train_err = evaluate(params_now, buffers, x_eval_train, y_eval_train, runs)
        test_loss, test_err = evaluate(params_now, buffers, x_test, y_test, runs)
        positives = torch.zeros(runs, arch.n_stages, dtype=torch.float64, device=device)
        totals = [0] * arch.n_stages
        kept = [[] for _ in range(arch.n_stages)]
        for start in range(0, x_sparse.shape[0], cfg["eval_batch"]):
            xb = x_sparse[start:start + cfg["eval_batch"]].unsqueeze(0).expand(runs, -1, -1, -1, -1)
            _, features = net.forward(arch, params_now, buffers, xb, training=False, return_features=True)
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
    architecture = cfg.get("architecture", "resnet")
    ctx.log.info("%s: %s on %s, %d runs, %d epochs of %d steps", ctx.experiment, architecture, cfg["dataset"],
                 grid.size, cfg["epochs"], per_epoch)
    with torch.no_grad():
        traj = train_batched(init, step, observe, n_steps, record_at, params, keys, device=device, dtype=dtype,
                             chunk_size=cfg.get("chunk_size"))
    unit = "dense block" if architecture == "densenet" else "stage"
    spec = {
        "train_loss": (("epoch",), {"units": "nats", "long_name": "training cross-entropy (eval subset, no augmentation)"}),
        "train_error": (("epoch",), {"units": "1", "long_name": "training error (eval subset, no augmentation)"}),
        "test_loss": (("epoch",), {"units": "nats", "long_name": "test cross-entropy"}),
        "test_error": (("epoch",), {"units": "1", "long_name": "test error"}),
        "feature_sparsity": (("epoch", "stage"), {"units": "1", "long_name":
                                                  f"fraction of positive activations of the {unit} output (training images)"}),
        "feature_sparsity_dedup": (("epoch", "stage"), {"units": "1", "long_name":
                                                        "feature sparsity after dropping dead and highly correlated units"}),
        "lr_now": (("epoch",), {"units": "1", "long_name": "step size at the end of the epoch"}),
    }
    variables = {name: (dims, traj.records[name].astype(np.float64), attrs) for name, (dims, attrs) in spec.items()}
    variables["diverged_step"] = ((), traj.diverged_step, {"units": "iterations",
                                                           "long_name": "iteration at which the run diverged (-1: never)"})
    attrs = {"dataset": cfg["dataset"], "architecture": architecture, "n_classes": n_classes, "batch_size": batch,
             "epochs": cfg["epochs"], "steps_per_epoch": per_epoch, "momentum": float(cfg.get("momentum", 0.0)),
             "weight_decay": float(cfg.get("weight_decay", 0.0)), "augment": int(augment),
             "warmup_exp": float(cfg["warmup_exp"])}
    if augment:
        attrs.update(crop_padding=int(cfg["crop_padding"]), hflip=int(bool(cfg["hflip"])))
    if architecture == "densenet":
        d = cfg["densenet"]
        attrs.update(depth=d["depth"], growth=d["growth"], bottleneck=int(bool(d["bottleneck"])),
                     compression=float(d["compression"]), n_parameters=arch.n_parameters())
    else:
        attrs.update(widths=list(cfg["widths"]), blocks=list(cfg["blocks"]))
    ds = grid.dataset(variables, coords={"epoch": ("epoch", np.arange(cfg["epochs"] + 1), {"units": "epochs", "long_name": "epoch"}),
                                         "stage": ("stage", np.arange(1, arch.n_stages + 1),
                                                   {"units": "1", "long_name": "dense block" if architecture == "densenet" else "ResNet stage"})},
                      attrs=attrs)
    ds = ds.assign_coords(lr=("large_phase", np.asarray(cfg["lr"], dtype=np.float64), {"units": "1", "long_name": "initial step size"}))
    ds["large_phase"].attrs.update(units="1", long_name="fraction of training with the large (warming-up) step size; 0: small constant step")
    return label(ds)
