"""Experiments: batched one-pass SGD of the committee machine, and the ODEs it is compared with.

Runs of different width p or dimension d have differently shaped weights, so each grid is split
into (p, d) groups; inside a group every learning rate and seed is one batched tensor program
(core.train_batched), with common random numbers across learning rates (the same inputs,
label noise and initial frame for every learning rate of a seed). Every run starts from the
same order parameters (Q0, M0, P) whatever d and seed (model.weights_from_overlaps), so one ODE
solution per (p, gamma/p) is the reference of all of them.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from sgdrepro.core import RunContext, run_keys, train_batched

from . import theory
from .model import labels, order_parameters, risk_erf_torch, sgd_step, weights_from_overlaps

__all__ = ["run_collapse", "run_floor", "run_phase", "initial_condition", "train_group"]

_BLOCK = 64  # SGD steps whose fresh samples are drawn in one call of the counter-based generator
_RISK = {"units": "1", "long_name": "excess population risk E[(f - f*)^2]/2 (closed form)"}


def initial_condition(init: dict, p: int, k: int):
    """(Q0, M0, P) from the ``init`` config block.

    ``random``: M0 = overlap_scale * N(0, 1) entries, Q0 = M0 M0^T + I (a random start with an
    O(overlap_scale) alignment; learning goes through the Saad-Solla plateau).
    ``aligned``: student j starts near teacher (j mod k): M0 = alignment * E + overlap_scale * N(0, 1),
    Q0 = M0 M0^T + q_orth I, used to reach the stationary noise floor within the time budget.
    """
    rng = np.random.default_rng(int(init["seed"]))
    noise = float(init["overlap_scale"]) * rng.standard_normal((p, k))
    if init["kind"] == "random":
        M0 = noise
        Q0 = M0 @ M0.T + np.eye(p)
    else:
        M0 = float(init["alignment"]) * np.eye(k)[np.arange(p) % k] + noise
        Q0 = M0 @ M0.T + float(init["q_orth"]) * np.eye(p)
    return Q0, M0, np.eye(k)


def train_group(experiment: str, ctx: RunContext, p: int, d: int, k: int, lr: np.ndarray, seeds: np.ndarray,
                overlaps, noise: float, n_steps: int, record_at: np.ndarray, tags: dict | None = None,
                activation: str = "erf"):
    """One (p, d) group: runs = len(lr) (learning rates gamma, flat, already paired with seeds).

    Returns the core Trajectory with records ``risk`` [runs, n_records], ``Q``, ``M``.
    The per-run key depends on (p, d, seed) and ``tags`` only, not on gamma: common random numbers.
    """
    Q0, M0, P = overlaps
    tags = tags or {}
    points = [{"p": int(p), "d": int(d), **tags, "seed": int(s)} for s in seeds]
    keys = run_keys(experiment, points, root_seed=ctx.root_seed, key_dims=("p", "d", *tags, "seed"))
    P_t = torch.as_tensor(P, dtype=ctx.dtype, device=ctx.device)

    def init(chunk):
        gauss = chunk.random.normal("init", 0, (d, p + k), dtype=chunk.dtype)
        W_teacher, W = weights_from_overlaps(gauss, Q0, M0, P)
        return {"W": W, "W_teacher": W_teacher, "samples": _samples(W_teacher, chunk, 0)}

    def _samples(W_teacher, chunk, block):
        # fresh samples of _BLOCK consecutive steps drawn at once, [runs, _BLOCK, d + 1] (x, then y):
        # the counter-based stream makes them a pure function of (run key, block)
        draw = chunk.random.normal("samples", block, (_BLOCK, d + 1), dtype=chunk.dtype)
        x = draw[..., :d]
        y = labels(W_teacher, x, draw[..., d], chunk.params["noise"], activation)
        return torch.cat([x, y[..., None]], dim=-1)

    def step(state, it, chunk):
        samples = state["samples"] if it % _BLOCK else _samples(state["W_teacher"], chunk, it // _BLOCK)
        sample = samples[:, it % _BLOCK]
        W = sgd_step(state["W"], sample[:, :d], sample[:, d], chunk.params["lr"], activation)
        return {"W": W, "W_teacher": state["W_teacher"], "samples": samples}

    def observe(state, it, chunk):
        Q, M = order_parameters(state["W"], state["W_teacher"])
        return {"risk": risk_erf_torch(Q, M, P_t), "Q": Q, "M": M}

    params = {"lr": np.asarray(lr, float), "noise": np.full(len(lr), float(noise))}
    ctx.log.info("group p=%d d=%d: %d runs x %d steps", p, d, len(lr), n_steps)
    return train_batched(init, step, observe, n_steps, record_at, params, keys, device=ctx.device,
                         dtype=ctx.dtype, is_diverged=_blown_up, bytes_per_run=8 * (p + k + 2 * _BLOCK) * d * 8)


def _blown_up(state) -> torch.Tensor:
    """Per run: student weights not finite or beyond 1e8 (the failure region grows them without bound)."""
    W = state["W"]
    return ~(W.abs() < 1e8).flatten(1).all(dim=1)


def _record_steps(t_record: np.ndarray, d: int, lr_over_p_min: float) -> np.ndarray:
    """Steps at which a group records: the times ``t_record`` of its smallest gamma/p, plus step 0."""
    steps = np.unique(np.round(np.asarray(t_record) * d / lr_over_p_min).astype(np.int64))
    return np.concatenate([[0], steps[steps > 0]])


def _pad(array: np.ndarray, axis: int, size: int, fill=np.nan) -> np.ndarray:
    width = [(0, 0)] * array.ndim
    width[axis] = (0, size - array.shape[axis])
    return np.pad(array.astype(float) if fill is np.nan else array, width, constant_values=fill)


def _sgd_grid(cfg: dict, ctx: RunContext, init_block: dict) -> xr.Dataset:
    """SGD over p x d x gamma/p x seed, grouped by (p, d); plus the ODE of every (p, gamma/p)."""
    k, noise = int(cfg["k"]), float(cfg["noise"])
    ps, ds = [int(v) for v in cfg["p"]], [int(v) for v in cfg["d"]]
    ratios = np.asarray(cfg["lr_over_p"], float)
    seeds = np.arange(int(cfg["n_seeds"]))
    t_max, n_rec = float(cfg["t_max"]), int(cfg["n_records"])
    t_record = np.geomspace(t_max / 10 ** float(cfg["decades"]), t_max, n_rec)
    p_max, n_r = max(ps), n_rec + 1
    shape = (len(ps), len(ds), len(ratios), len(seeds), n_r)
    risk = np.full(shape, np.nan)
    Q = np.full(shape + (p_max, p_max), np.nan)
    M = np.full(shape + (p_max, k), np.nan)
    steps = np.full((len(ps), len(ds), n_r), -1, dtype=np.int64)
    diverged = np.full(shape[:4], -1, dtype=np.int64)
    for i, p in enumerate(ps):
        overlaps = initial_condition(init_block, p, k)
        for j, d in enumerate(ds):
            lr_grid, seed_grid = np.meshgrid(ratios * p, seeds, indexing="ij")
            record_at = _record_steps(t_record, d, ratios.min())
            n_steps = int(record_at[-1])
            traj = train_group(ctx.experiment, ctx, p, d, k, lr_grid.ravel(), seed_grid.ravel(), overlaps,
                               noise, n_steps, record_at)
            r = len(record_at)
            steps[i, j, :r] = record_at
            risk[i, j, :, :, :r] = traj.records["risk"].reshape(len(ratios), len(seeds), r)
            Q[i, j, :, :, :r, :p, :p] = traj.records["Q"].reshape(len(ratios), len(seeds), r, p, p)
            M[i, j, :, :, :r, :p, :] = traj.records["M"].reshape(len(ratios), len(seeds), r, p, k)
            diverged[i, j] = traj.diverged_step.reshape(len(ratios), len(seeds))
    time = steps[:, :, None, :] * ratios[None, None, :, None] / np.asarray(ds)[None, :, None, None]
    time = np.where(steps[:, :, None, :] >= 0, time, np.nan)
    # the ODE of every (p, gamma/p): the d -> infinity limit of all the SGD curves of that (p, gamma/p)
    t_ode = np.concatenate([[0.0], np.geomspace(t_record[0] / 2, np.nanmax(time), int(cfg["ode_points"]))])
    risk_ode = np.full((len(ps), len(ratios), len(t_ode)), np.nan)
    for i, p in enumerate(ps):
        Q0, M0, P = initial_condition(init_block, p, k)
        for a, g in enumerate(ratios):
            risk_ode[i, a] = theory.solve_ode(Q0, M0, P, g, noise, t_ode, rtol=float(cfg["ode_rtol"])).risk
    gradient_flow = np.full((len(ps), len(t_ode)), np.nan)
    for i, p in enumerate(ps):
        Q0, M0, P = initial_condition(init_block, p, k)
        gradient_flow[i] = theory.solve_ode(Q0, M0, P, 0.0, noise, t_ode, rtol=float(cfg["ode_rtol"])).risk
    dims = ("p", "d", "lr_over_p", "seed", "record")
    ds_out = xr.Dataset(
        {
            "risk": (dims, risk, _RISK),
            "Q": (dims + ("student", "student_b"), Q, {"units": "1", "long_name": "Q = W W^T / d"}),
            "M": (dims + ("student", "teacher"), M, {"units": "1", "long_name": "M = W W*^T / d"}),
            "step": (("p", "d", "record"), steps, {"units": "SGD steps", "long_name": "recorded step (-1: padding)"}),
            "time": (("p", "d", "lr_over_p", "record"), time,
                     {"units": "1", "long_name": "dimensionless time t = step * gamma / (p d)"}),
            "diverged_step": (dims[:4], diverged, {"units": "SGD steps", "long_name": "step of divergence (-1: none)"}),
            "risk_ode": (("p", "lr_over_p", "ode_time"), risk_ode,
                         {"units": "1", "long_name": "excess risk from the ODEs (d -> infinity)"}),
            "risk_gradient_flow": (("p", "ode_time"), gradient_flow,
                                   {"units": "1", "long_name": "excess risk of the gamma/p -> 0 ODE (gradient flow)"}),
        },
        coords={"p": ps, "d": ds, "lr_over_p": ratios, "seed": seeds, "record": np.arange(n_r),
                "ode_time": ("ode_time", t_ode, {"units": "1", "long_name": "dimensionless time t"}),
                "student": np.arange(p_max), "student_b": np.arange(p_max), "teacher": np.arange(k)},
        attrs={"k": k, "noise": noise, "activation": "erf", "init": str(init_block)},
    )
    ds_out["lr"] = (("p", "lr_over_p"), np.asarray(ps)[:, None] * ratios[None, :],
                    {"units": "1", "long_name": "learning rate gamma"})
    return ds_out


def run_collapse(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """SGD at growing d (and several p) at fixed gamma/p, against the ODE, in t = steps gamma/(p d)."""
    return _sgd_grid(cfg, ctx, cfg["init"])


def run_floor(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Late-time excess risk against the learning rate (and width): SGD over gamma/p and p, with
    the ODE; plus ODE-only floors on a fine gamma/p grid for more widths."""
    out = _sgd_grid(cfg, ctx, cfg["init"])
    k, noise = int(cfg["k"]), float(cfg["noise"])
    ode_ratios = np.geomspace(float(cfg["ode_lr_over_p"]["min"]), float(cfg["ode_lr_over_p"]["max"]),
                              int(cfg["ode_lr_over_p"]["n"]))
    ode_ps = [int(v) for v in cfg["ode_p"]]
    t_late = float(cfg["t_late"])
    t_eval = np.array([0.0, t_late])
    late = np.full((len(ode_ps), len(ode_ratios)), np.nan)
    late_flow = np.full(len(ode_ps), np.nan)
    for i, p in enumerate(ode_ps):
        Q0, M0, P = initial_condition(cfg["init"], p, k)
        late_flow[i] = theory.solve_ode(Q0, M0, P, 0.0, noise, t_eval).risk[-1]
        for a, g in enumerate(ode_ratios):
            late[i, a] = theory.solve_ode(Q0, M0, P, g, noise, t_eval, rtol=float(cfg["ode_rtol"])).risk[-1]
    out = out.assign_coords(ode_p=ode_ps, ode_lr_over_p=ode_ratios)
    out["late_risk_ode"] = (("ode_p", "ode_lr_over_p"), late,
                            {"units": "1", "long_name": f"ODE excess risk at t = {t_late:g}"})
    out["late_risk_gradient_flow"] = (("ode_p",), late_flow,
                                      {"units": "1", "long_name": f"gradient-flow excess risk at t = {t_late:g}"})
    out.attrs["t_late"] = t_late
    return out


def run_phase(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Phase diagram over (kappa, delta) for p = p0 d^kappa, gamma = gamma0 d^-delta, from the ODEs,
    with SGD spot checks at a few (kappa, delta) and growing d."""
    k, noise, p0, gamma0 = int(cfg["k"]), float(cfg["noise"]), int(cfg["p0"]), float(cfg["gamma0"])
    t_late = float(cfg["t_late"])
    kappas, deltas = np.asarray(cfg["kappa"], float), np.asarray(cfg["delta"], float)
    ladder = np.asarray(cfg["d_ladder"], float)
    Q0, M0, P = initial_condition(cfg["init"], p0, k)
    # the late-time risk depends on the exponents only through gamma/p: tabulate it once on a grid
    grid = cfg["lr_over_p_grid"]
    g_grid = np.geomspace(float(grid["min"]), float(grid["max"]), int(grid["n"]))
    t_eval = np.array([0.0, t_late])
    flow = theory.solve_ode(Q0, M0, P, 0.0, noise, t_eval).risk[-1]
    late = np.array([theory.solve_ode(Q0, M0, P, g, noise, t_eval, rtol=float(cfg["ode_rtol"])).risk[-1]
                     for g in g_grid])
    excess = late - flow  # the noise-driven part of the late-time risk
    fail_level = float(cfg["fail_fraction"]) * theory.uninformed_risk(k)
    kk, dd = np.meshgrid(kappas, deltas, indexing="ij")
    ratio = theory.lr_over_p(gamma0, ladder[None, None, :], kk[..., None], dd[..., None], p0)
    log_g = np.log(g_grid)
    with np.errstate(invalid="ignore"):
        floors = np.exp(np.interp(np.log(ratio), log_g, np.log(np.where(excess > 0, excess, np.nan)),
                                  left=np.nan, right=np.nan))
    # beyond the tabulated range: below it the noise floor is linear in gamma/p, above it failure
    below = ratio < g_grid[0]
    floors = np.where(below, excess[0] * ratio / g_grid[0], floors)
    floors = np.where(ratio > g_grid[-1], np.inf, floors)
    regions = np.array([[theory.classify_floor(floors[a, b], ladder, float(cfg["slope_tol"]), fail_level)
                         for b in range(len(deltas))] for a in range(len(kappas))])
    # SGD spot checks and the example ODE curves
    spot = cfg["spot"]
    points = np.asarray(spot["points"], float)
    d_spot = [int(v) for v in spot["d"]]
    seeds = np.arange(int(spot["n_seeds"]))
    t_record = np.geomspace(float(spot["t_max"]) / 10 ** float(spot["decades"]), float(spot["t_max"]),
                            int(spot["n_records"]))
    n_r = len(t_record) + 1
    risk = np.full((len(points), len(d_spot), len(seeds), n_r), np.nan)
    time = np.full((len(points), len(d_spot), n_r), np.nan)
    widths = np.zeros((len(points), len(d_spot)), dtype=np.int64)
    diverged = np.full((len(points), len(d_spot), len(seeds)), -1, dtype=np.int64)
    for j, d in enumerate(d_spot):
        p_of = np.maximum(1, np.round(p0 * d ** points[:, 0])).astype(int)
        widths[:, j] = p_of
        for p in np.unique(p_of):  # one batched group per (p, d)
            idx = np.flatnonzero(p_of == p)
            lr = gamma0 * d ** (-points[idx, 1])
            ratios = lr / p
            record_at = _record_steps(t_record, d, ratios.min())
            lr_grid, seed_grid = np.meshgrid(lr, seeds, indexing="ij")
            traj = train_group(ctx.experiment, ctx, int(p), d, k, lr_grid.ravel(), seed_grid.ravel(),
                               initial_condition(cfg["init"], int(p), k), noise, int(record_at[-1]), record_at)
            # each point keeps the records at its own times closest to t_record (log-interpolated)
            rec = traj.records["risk"].reshape(len(idx), len(seeds), len(record_at))
            for a, point in enumerate(idx):
                t_run = record_at * ratios[a] / d
                keep = np.searchsorted(t_run, t_record)
                keep = np.clip(keep, 0, len(t_run) - 1)
                risk[point, j, :, 0] = rec[a, :, 0]
                risk[point, j, :, 1:] = rec[a][:, keep]
                time[point, j, 0] = 0.0
                time[point, j, 1:] = t_run[keep]
            diverged[idx, j] = traj.diverged_step.reshape(len(idx), len(seeds))
    t_ode = np.concatenate([[0.0], np.geomspace(t_record[0] / 2, float(spot["t_max"]), int(cfg["ode_points"]))])
    risk_ode = np.full((len(points), len(d_spot), len(t_ode)), np.nan)
    for a, (kappa, delta) in enumerate(points):
        for j, d in enumerate(d_spot):
            p = int(widths[a, j])
            Q0p, M0p, Pp = initial_condition(cfg["init"], p, k)
            g = float(theory.lr_over_p(gamma0, d, kappa, delta, p0))
            risk_ode[a, j] = theory.solve_ode(Q0p, M0p, Pp, g, noise, t_ode, rtol=float(cfg["ode_rtol"])).risk
    flow_curve = theory.solve_ode(Q0, M0, P, 0.0, noise, t_ode).risk
    return xr.Dataset(
        {
            "region": (("kappa", "delta"), regions,
                       {"units": "1", "long_name": "ODE region: 0 perfect learning, 1 plateau, 2 failure"}),
            "floor": (("kappa", "delta", "d_ladder"), floors,
                      {"units": "1", "long_name": f"noise-driven excess risk at t = {t_late:g} (ODE)"}),
            "late_excess_ode": (("lr_over_p_grid",), excess,
                                {"units": "1", "long_name": f"ODE excess risk at t = {t_late:g} minus gradient flow"}),
            "spot_risk": (("spot", "spot_d", "seed", "record"), risk, _RISK),
            "spot_time": (("spot", "spot_d", "record"), time, {"units": "1", "long_name": "dimensionless time t"}),
            "spot_p": (("spot", "spot_d"), widths, {"units": "hidden units", "long_name": "student width p"}),
            "spot_diverged_step": (("spot", "spot_d", "seed"), diverged,
                                   {"units": "SGD steps", "long_name": "step of divergence (-1: none)"}),
            "spot_risk_ode": (("spot", "spot_d", "ode_time"), risk_ode,
                              {"units": "1", "long_name": "excess risk from the ODEs"}),
            "risk_gradient_flow": (("ode_time",), flow_curve,
                                   {"units": "1", "long_name": "excess risk of the gradient-flow ODE (p = p0)"}),
        },
        coords={
            "kappa": ("kappa", kappas, {"units": "1", "long_name": "width exponent, p = p0 d^kappa"}),
            "delta": ("delta", deltas, {"units": "1", "long_name": "learning-rate exponent, gamma = gamma0 d^-delta"}),
            "d_ladder": ("d_ladder", ladder, {"units": "1", "long_name": "input dimension d"}),
            "lr_over_p_grid": ("lr_over_p_grid", g_grid, {"units": "1", "long_name": "gamma/p"}),
            "spot": np.arange(len(points)),
            "spot_kappa": ("spot", points[:, 0], {"units": "1", "long_name": "kappa"}),
            "spot_delta": ("spot", points[:, 1], {"units": "1", "long_name": "delta"}),
            "spot_d": d_spot, "seed": seeds, "record": np.arange(n_r),
            "ode_time": ("ode_time", t_ode, {"units": "1", "long_name": "dimensionless time t"}),
        },
        attrs={"k": k, "noise": noise, "p0": p0, "gamma0": gamma0, "t_late": t_late, "fail_level": fail_level,
               "risk_gradient_flow_late": float(flow)},
    )
