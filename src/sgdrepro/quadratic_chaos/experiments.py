"""Experiments: full-batch GD on quadratic models over a grid of normalised step sizes.

Every grid point is a run of :func:`train_gd`, one batched tensor program (``core.train_batched``).
Runs share their data and initialisation across step sizes, widths and sample sizes
(``run_keys(..., key_dims=("seed",))``), so a bifurcation diagram shows one initial point
followed through every step size.

The grid is over the *normalised step* ``a``; each run's step size is
``lr = 2 a / lambda_max(Hessian at the global minimiser)`` (for orthonormal data with targets
``y`` and width ``m`` this is ``lr = a m / y``, the cubic map's parameter; see ``theory``).

Data:

- ``orthogonal``: the first ``n`` rows of a Haar-random orthogonal ``d x d`` matrix, targets all
  equal to ``target`` (every direction follows the same cubic map);
- ``gaussian``: rows ``x ~ N(0, I_d / d)``, targets of a teacher with ``teacher_width`` Gaussian
  neurons, ``y = (1/m*) sum_j (u_j . x)^2`` (+ ``noise`` * N(0, 1)), the paper's label model.

Recorded per run (at every step of the first ``record_early`` steps and of the last ``window``):
the training loss, a random linear probe of the residuals, the cumulative number of turn-backs
of the GD step, the cumulative log growth of a tangent vector propagated by the exact Jacobian
``I - lr * Hessian`` (its slope is the top Lyapunov exponent), the normalised coordinate of the first
data direction (orthogonal data) and the test error of the last iterate, of the ergodic (Cesaro)
average of the predictor from step 0, and of its average after a burn-in, over the steps
``(late_start, k]`` of the late window only (``test_error_avg_late``; NaN before; when ``n_test > 0``).
Over a late window of ``W`` steps the Cesaro mean from step 0 moves by at most ``(max - min) W / k``
for *any* bounded sequence; the burn-in average settles only if the iterates themselves do.

The tangent vector is kept in the span of the data when ``n < d`` (directions orthogonal to the data
never move and would add a spurious zero exponent). For the two-layer net the rotation symmetry
``W -> W Q`` is a neutral direction, so its top exponent is 0 rather than negative on cycles; its
sign still separates chaos (> 0) from the rest.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from sgdrepro.core import Grid, RunContext, run_keys, train_batched

from . import model

__all__ = [
    "a_grid",
    "train_gd",
    "run_orthogonal",
    "run_bifurcation",
    "run_gaussian_losses",
    "run_gaussian_phase_map",
    "run_generalization",
]

MODELS = {"phase_retrieval": "phase retrieval (one quadratic neuron, m = 1)",
          "two_layer": "two-layer network, quadratic activation, fixed outer layer 1/m"}


def a_grid(spec) -> list[float]:
    """Normalised steps from config: a list, or ``{min, max, num}`` (evenly spaced, ends included)."""
    if isinstance(spec, dict):
        return np.linspace(float(spec["min"]), float(spec["max"]), int(spec["num"])).tolist()
    return [float(v) for v in (spec if isinstance(spec, (list, tuple)) else [spec])]


def record_schedule(n_steps: int, early: int, window: int) -> np.ndarray:
    return np.unique(np.concatenate([np.arange(0, min(early, n_steps) + 1),
                                     np.arange(max(0, n_steps - window), n_steps + 1)])).astype(np.int64)


class _Problem:
    """Per-chunk data (kept out of the trainer state: it never changes)."""

    def __init__(self, chunk, data: str, width: int, d: int, n_max: int, target: float,
                 teacher_width: int, noise: float, n_test: int):
        rnd, dev, dt = chunk.random, chunk.device, chunk.dtype
        R = chunk.n_runs
        if data == "orthogonal":
            self.X = model.orthonormal_data(rnd.normal("data", 0, (d, d), dt), n_max)
            # a global minimiser: every neuron = sqrt(target) * sum_i x_i (then f(x_i) = target)
            w = math.sqrt(target) * self.X.sum(dim=1)
            self.W_star = w.unsqueeze(-1).expand(R, d, width).contiguous()
            self.y = torch.full((R, n_max), float(target), dtype=dt, device=dev)
            self.basis = self.X if n_max < d else None  # dynamics live in the data span
            self.X_test = None
        else:
            self.X = model.gaussian_data(rnd.normal("data", 0, (n_max, d), dt))
            U = rnd.normal("teacher", 0, (d, teacher_width), dt)
            self.W_star = torch.zeros(R, d, width, dtype=dt, device=dev)
            self.W_star[:, :, :teacher_width] = U * math.sqrt(width / teacher_width)
            self.y = model.predictions(self.W_star, self.X) + noise * rnd.normal("noise", 0, (n_max,), dt)
            self.basis = None
            self.X_test = model.gaussian_data(rnd.normal("test", 0, (n_test, d), dt)) if n_test else None
            if self.X_test is not None:
                self.y_test = model.predictions(self.W_star, self.X_test)
                self.y_test_scale = self.y_test.square().mean(dim=1)
        n_run = chunk.params["n"] if "n" in chunk.params else torch.full((R,), n_max, device=dev)
        self.mask = (torch.arange(n_max, device=dev).unsqueeze(0) < n_run.reshape(-1, 1)).to(dt)
        self.sharpness = model.sharpness_at(self.W_star, self.X, self.mask)
        self.probe = rnd.normal("probe", 0, (n_max,), dt)
        self.lr = 2.0 * chunk.params["a"] / self.sharpness

    def project(self, V):
        return V if self.basis is None else self.basis.transpose(1, 2) @ (self.basis @ V)


def train_gd(cfg: dict, ctx: RunContext, grid: Grid, width: int, data: str, keys=None):
    """Train every run of ``grid`` (dims among ``a``, ``n``, ``seed``) with GD; returns (Trajectory, meta)."""
    d = int(cfg["d"])
    n_cfg = cfg.get("n", d)
    n_max = int(max(n_cfg) if isinstance(n_cfg, list) else n_cfg)
    n_steps, window = int(cfg["n_steps"]), int(cfg["window"])
    early = int(cfg.get("record_early", 0))
    n_test = int(cfg.get("n_test", 0))
    record_at = record_schedule(n_steps, early, window)
    late_start = n_steps - window
    flat = grid.flat()
    params = {"a": flat["a"].astype(float)}
    if "n" in flat:
        params["n"] = flat["n"].astype(np.int64)
    if keys is None:
        keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    problems: dict[int, _Problem] = {}  # the chunk in training only: chunks run one after another
    # phase retrieval learns a single-neuron teacher; the two-layer net a teacher of teacher_width neurons
    teacher_width = 1 if width == 1 else int(cfg.get("teacher_width", 1))

    def init(chunk):
        prob = _Problem(chunk, data, width, d, n_max, float(cfg.get("target", 1.0)),
                        teacher_width, float(cfg.get("noise", 0.0)), n_test)
        problems.clear()  # the previous chunk's data are no longer needed
        problems[id(chunk)] = prob
        W = float(cfg["init_scale"]) * chunk.random.normal("init", 0, (d, width), chunk.dtype)
        q = prob.project(chunk.random.normal("tangent", 0, (d, width), chunk.dtype))
        q = q / q.flatten(1).norm(dim=1).reshape(-1, 1, 1)
        zeros = torch.zeros(chunk.n_runs, dtype=chunk.dtype, device=chunk.device)
        state = {"W": W, "q": q, "delta": torch.zeros_like(W), "log_growth": zeros, "turn_backs": zeros.clone(),
                 "lr": prob.lr, "sharpness": prob.sharpness}  # constants, passed through to the final state
        if prob.X_test is not None:
            state["f_test_sum"] = torch.zeros(chunk.n_runs, n_test, dtype=chunk.dtype, device=chunk.device)
            state["f_test_late_sum"] = torch.zeros_like(state["f_test_sum"])
        return state

    def step(state, k, chunk):
        prob = problems[id(chunk)]
        W, lr = state["W"], prob.lr
        new_W = model.gd_step(W, prob.X, prob.y, prob.mask, lr)
        # tangent vector: J q = q - lr H(W) q, renormalised; its log growth sums to the exponent
        Jq = prob.project(state["q"] - lr.reshape(-1, 1, 1) * model.hvp(W, state["q"], prob.X, prob.y, prob.mask))
        growth = Jq.flatten(1).norm(dim=1).clamp_min(1e-250)
        delta = new_W - W
        size, prev = delta.flatten(1).norm(dim=1), state["delta"].flatten(1).norm(dim=1)
        floor = 1e-9 * W.flatten(1).norm(dim=1)
        turned = ((delta * state["delta"]).flatten(1).sum(dim=1) < 0) & (size > floor) & (prev > floor)
        new = dict(state)
        new.update(W=new_W, q=Jq / growth.reshape(-1, 1, 1), delta=delta,
                   log_growth=state["log_growth"] + growth.log(), turn_backs=state["turn_backs"] + turned.to(W.dtype))
        if prob.X_test is not None:
            f_test = model.predictions(new_W, prob.X_test)
            new["f_test_sum"] = state["f_test_sum"] + f_test
            if k + 1 > late_start:  # new_W is iterate k + 1
                new["f_test_late_sum"] = state["f_test_late_sum"] + f_test
        return new

    def observe(state, k, chunk):
        prob = problems[id(chunk)]
        W = state["W"]
        residual = prob.mask * (model.predictions(W, prob.X) - prob.y)
        out = {"loss": 0.25 * residual.square().sum(dim=1), "probe": (prob.probe * residual).sum(dim=1),
               "turn_backs": state["turn_backs"],
               "log_growth": state["log_growth"]}
        if data == "orthogonal":
            c = prob.X[:, 0, :].unsqueeze(1) @ W  # [R, 1, m]: coordinates of direction 0
            y0 = prob.y[:, 0]
            out["v"] = c[:, 0, 0] / y0.sqrt() if width == 1 else (c.square().mean(dim=-1)[:, 0] / y0).sqrt()
        if prob.X_test is not None:
            err = lambda f: (f - prob.y_test).square().mean(dim=1) / prob.y_test_scale
            out["test_error"] = err(model.predictions(W, prob.X_test))
            avg = state["f_test_sum"] / max(k, 1) if k > 0 else model.predictions(W, prob.X_test)
            out["test_error_avg"] = err(avg)
            n_late = k - late_start
            out["test_error_avg_late"] = (err(state["f_test_late_sum"] / n_late) if n_late > 0
                                          else torch.full_like(out["test_error"], float("nan")))
        return out

    traj = train_batched(init, step, observe, n_steps, record_at, params, keys,
                         device=ctx.device, dtype=ctx.dtype, chunk_size=cfg.get("chunk_size"),
                         bytes_per_run=_bytes_per_run(d, n_max, width, n_test, len(record_at)))
    meta = {"late_start": int(late_start), "n_steps": n_steps, "d": d, "n": n_max,
            "init_scale": float(cfg["init_scale"])}
    return traj, meta


def _bytes_per_run(d: int, n: int, width: int, n_test: int, n_records: int) -> int:
    """Memory of one run in a chunk: its data, the step's [n, m] temporaries, the state and
    eight recorded values per record (float64), with a factor 2 for the allocator's slack.
    The sharpness's [n, n] Gram is computed in blocks of its own (model.sharpness_at)."""
    floats = 3 * n * d + 3 * n + 8 * n * width + 10 * d * width + 4 * n_test * (d + 2) + 8 * n_records
    return 2 * 8 * floats


_ATTRS = {
    "loss": {"units": "squared target units", "long_name": "training loss (1/4) sum_i (f(x_i) - y_i)^2"},
    "probe": {"units": "target units", "long_name": "random linear probe of the residuals, sum_i g_i (f(x_i) - y_i)"},
    "turn_backs": {"units": "steps", "long_name": "cumulative number of GD steps that turned back"},
    "log_growth": {"units": "nats", "long_name": "cumulative log growth of the tangent vector"},
    "v": {"units": "1", "long_name": "normalised coordinate of data direction 0: (w . x_0) / sqrt(y_0) (phase "
                                     "retrieval), sqrt(f(x_0) / y_0) = |v| of the same cubic map (two-layer net)"},
    "test_error": {"units": "1", "long_name": "relative test error of the last iterate"},
    "test_error_avg": {"units": "1", "long_name": "relative test error of the ergodic (Cesaro) average predictor"},
    "test_error_avg_late": {"units": "1", "long_name": "relative test error of the predictor averaged over the "
                                                       "late window only (steps late_start + 1 .. k; burn-in before)"},
}


def _dataset(grid: Grid, trajs: list, meta: dict, attrs: dict):
    """Concatenate trajectories of consecutive run blocks and build the Dataset."""
    steps = trajs[0].steps
    variables = {}
    for name in trajs[0].records:
        variables[name] = (("step",), np.concatenate([t.records[name] for t in trajs]), _ATTRS[name])
    final = lambda k: np.concatenate([t.final[k] for t in trajs])
    variables["lr"] = ((), final("lr"), {"units": "1", "long_name": "step size eta"})
    variables["sharpness"] = ((), final("sharpness"), {"units": "1", "long_name": "top Hessian eigenvalue at the global minimiser"})
    variables["diverged_step"] = ((), np.concatenate([t.diverged_step for t in trajs]),
                                  {"units": "steps", "long_name": "step of divergence (-1: never)"})
    ds = grid.dataset(variables, coords={"step": steps}, attrs={**meta, **attrs})
    ds["a"].attrs.update(units="1", long_name="normalised step a = eta lambda_max / 2")
    return ds


def _models_grid(cfg, values, extra: dict):
    return Grid.from_config({"model": list(cfg["models"]), "a": values, **extra})


def _run_models(cfg, ctx, data):
    grid = _models_grid(cfg, a_grid(cfg["a"]), {"seed": list(range(int(cfg.get("n_seeds", 1))))})
    keys = run_keys(ctx.experiment, grid.points(), root_seed=ctx.root_seed, key_dims=("seed",))
    flat_model = grid.flat()["model"]
    trajs, meta = [], {}
    for name in cfg["models"]:
        rows = np.flatnonzero(flat_model == name)
        sub = Grid.from_config({"a": grid.coords["a"].tolist(), "seed": grid.coords["seed"].tolist()})
        width = 1 if name == "phase_retrieval" else int(cfg["width"])
        traj, meta = train_gd(cfg, ctx, sub, width, data, keys=keys[rows])
        trajs.append(traj)
    return _dataset(grid, trajs, meta, {"data": data, "width": int(cfg.get("width", 1))})


def run_orthogonal(cfg: dict, ctx: RunContext):
    """Phase retrieval and the two-layer network on orthonormal data, one step size per phase."""
    return _run_models(cfg, ctx, "orthogonal")


def run_gaussian_losses(cfg: dict, ctx: RunContext):
    """Phase retrieval and the two-layer network on Gaussian data, one step size per phase."""
    return _run_models(cfg, ctx, "gaussian")


def run_bifurcation(cfg: dict, ctx: RunContext):
    """Phase retrieval and the two-layer network on orthonormal data over a fine grid of normalised
    steps (bifurcation diagrams). Each model's step is its own ``a``: ``lr = a / y`` for phase
    retrieval, ``lr = a m / y`` for the two-layer net (its coordinates ``t_i`` follow ``|f_a|``,
    see :mod:`.theory`), so both should show the cubic map's boundaries at the same ``a``."""
    return _run_models(cfg, ctx, "orthogonal")


def run_gaussian_phase_map(cfg: dict, ctx: RunContext):
    """Phase retrieval on Gaussian data over (normalised step, sample size); nested data sets."""
    grid = Grid.from_config({"a": a_grid(cfg["a"]), "n": [int(v) for v in cfg["n"]],
                             "seed": list(range(int(cfg.get("n_seeds", 1))))})
    traj, meta = train_gd(cfg, ctx, grid, 1, "gaussian")
    ds = _dataset(grid, [traj], meta, {"data": "gaussian", "width": 1})
    ds["n"].attrs.update(units="samples", long_name="training set size n")
    return ds


def run_generalization(cfg: dict, ctx: RunContext):
    """Two-layer network on Gaussian data: test error of the last iterate and of the ergodic average."""
    grid = Grid.from_config({"a": a_grid(cfg["a"]), "seed": list(range(int(cfg.get("n_seeds", 1))))})
    traj, meta = train_gd(cfg, ctx, grid, int(cfg["width"]), "gaussian")
    return _dataset(grid, [traj], meta, {"data": "gaussian", "width": int(cfg["width"])})
