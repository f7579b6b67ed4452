"""Experiments: batched one-pass SGD of the committee machine, and the ODEs it is compared with.

Runs of different width p or dimension d have differently shaped weights, so each grid is split
into (p, d) groups; inside a group every learning rate and seed is one batched tensor program
(core.train_batched), with common random numbers across learning rates (the same inputs,
label noise and initial frame for every learning rate of a seed). Every run starts from the
same order parameters (Q0, M0, P) whatever d and seed (model.weights_from_overlaps), so one ODE
solution per (p, gamma/p) is the reference of all of them.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import xarray as xr

from sgdrepro.core import RunContext, run_keys, train_batched
from sgdrepro.core.trainer import any_beyond, with_progress

from . import theory
from .model import labels, order_parameters, risk_erf_torch, sgd_step, weights_from_overlaps

__all__ = ["run_collapse", "run_floor", "run_phase", "run_width", "phase_ode_grid", "phase_spots",
           "initial_condition", "train_group"]

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
                activation: str = "erf", record_overlaps: bool = True):
    """One (p, d) group: runs = len(lr) (learning rates gamma, flat, already paired with seeds).

    Returns the core Trajectory with records ``risk`` [runs, n_records], and ``Q``, ``M`` unless
    ``record_overlaps`` is False (p x p numbers per record: 1.3 GB at p = 512, 10 seeds, 60 records).
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
        return {"risk": risk_erf_torch(Q, M, P_t), **({"Q": Q, "M": M} if record_overlaps else {})}

    params = {"lr": np.asarray(lr, float), "noise": np.full(len(lr), float(noise))}
    ctx.log.info("group p=%d d=%d: %d runs x %d steps", p, d, len(lr), n_steps)
    return train_batched(init, step, observe, n_steps, record_at, params, keys, device=ctx.device,
                         dtype=ctx.dtype, is_diverged=_blown_up, bytes_per_run=8 * (p + k + 2 * _BLOCK) * d * 8)


def _blown_up(state) -> torch.Tensor:
    """Per run: student weights not finite or beyond 1e8 (the failure region grows them without bound)."""
    return any_beyond(state["W"], 1e8)


def _record_steps(t_record: np.ndarray, d: int, lr_over_p_min: float) -> np.ndarray:
    """Steps at which a group records: the times ``t_record`` of its smallest gamma/p, plus step 0."""
    steps = np.unique(np.round(np.asarray(t_record) * d / lr_over_p_min).astype(np.int64))
    return np.concatenate([[0], steps[steps > 0]])


def _pad(array: np.ndarray, axis: int, size: int, fill=np.nan) -> np.ndarray:
    width = [(0, 0)] * array.ndim
    width[axis] = (0, size - array.shape[axis])
    return np.pad(array.astype(float) if fill is np.nan else array, width, constant_values=fill)


def _sgd_grid(cfg: dict, ctx: RunContext, init_block: dict, store_overlaps: bool = True) -> xr.Dataset:
    """SGD over p x d x gamma/p x seed, grouped by (p, d) (no ODE). ``store_overlaps``: keep the
    recorded Q and M (off for wide students, whose p x p records would dominate the file)."""
    k, noise = int(cfg["k"]), float(cfg["noise"])
    ps, ds = [int(v) for v in cfg["p"]], [int(v) for v in cfg["d"]]
    ratios = np.asarray(cfg["lr_over_p"], float)
    seeds = np.arange(int(cfg["n_seeds"]))
    t_max, n_rec = float(cfg["t_max"]), int(cfg["n_records"])
    t_record = np.geomspace(t_max / 10 ** float(cfg["decades"]), t_max, n_rec)
    p_max, n_r = max(ps), n_rec + 1
    shape = (len(ps), len(ds), len(ratios), len(seeds), n_r)
    risk = np.full(shape, np.nan)
    Q = np.full(shape + (p_max, p_max), np.nan) if store_overlaps else None
    M = np.full(shape + (p_max, k), np.nan) if store_overlaps else None
    steps = np.full((len(ps), len(ds), n_r), -1, dtype=np.int64)
    diverged = np.full(shape[:4], -1, dtype=np.int64)
    for i, p in enumerate(ps):
        overlaps = initial_condition(init_block, p, k)
        for j, d in enumerate(ds):
            lr_grid, seed_grid = np.meshgrid(ratios * p, seeds, indexing="ij")
            record_at = _record_steps(t_record, d, ratios.min())
            n_steps = int(record_at[-1])
            traj = train_group(ctx.experiment, ctx, p, d, k, lr_grid.ravel(), seed_grid.ravel(), overlaps,
                               noise, n_steps, record_at, record_overlaps=store_overlaps)
            r = len(record_at)
            steps[i, j, :r] = record_at
            risk[i, j, :, :, :r] = traj.records["risk"].reshape(len(ratios), len(seeds), r)
            if store_overlaps:
                Q[i, j, :, :, :r, :p, :p] = traj.records["Q"].reshape(len(ratios), len(seeds), r, p, p)
                M[i, j, :, :, :r, :p, :] = traj.records["M"].reshape(len(ratios), len(seeds), r, p, k)
            diverged[i, j] = traj.diverged_step.reshape(len(ratios), len(seeds))
    time = steps[:, :, None, :] * ratios[None, None, :, None] / np.asarray(ds)[None, :, None, None]
    time = np.where(steps[:, :, None, :] >= 0, time, np.nan)
    dims = ("p", "d", "lr_over_p", "seed", "record")
    data = {
        "risk": (dims, risk, _RISK),
        "step": (("p", "d", "record"), steps, {"units": "SGD steps", "long_name": "recorded step (-1: padding)"}),
        "time": (("p", "d", "lr_over_p", "record"), time,
                 {"units": "1", "long_name": "dimensionless time t = step * gamma / (p d)"}),
        "diverged_step": (dims[:4], diverged, {"units": "SGD steps", "long_name": "step of divergence (-1: none)"}),
    }
    coords = {"p": ps, "d": ds, "lr_over_p": ratios, "seed": seeds, "record": np.arange(n_r)}
    if store_overlaps:
        data["Q"] = (dims + ("student", "student_b"), Q, {"units": "1", "long_name": "Q = W W^T / d"})
        data["M"] = (dims + ("student", "teacher"), M, {"units": "1", "long_name": "M = W W*^T / d"})
        coords.update(student=np.arange(p_max), student_b=np.arange(p_max), teacher=np.arange(k))
    out = xr.Dataset(data, coords=coords, attrs={"k": k, "noise": noise, "activation": "erf", "init": str(init_block)})
    out["lr"] = (("p", "lr_over_p"), np.asarray(ps)[:, None] * ratios[None, :],
                 {"units": "1", "long_name": "learning rate gamma"})
    return out


def _ode_reference(cfg: dict, init_block: dict, widths, t_ode: np.ndarray, dim: str = "p") -> xr.Dataset:
    """The ODE (d -> infinity) of every (width, gamma/p) of ``cfg``, and the gradient-flow ODE
    (gamma/p -> 0) of every width, on the times ``t_ode``; width dimension named ``dim``."""
    k, noise, rtol = int(cfg["k"]), float(cfg["noise"]), float(cfg["ode_rtol"])
    ratios = np.asarray(cfg["lr_over_p"], float)
    risk_ode = np.full((len(widths), len(ratios), len(t_ode)), np.nan)
    gradient_flow = np.full((len(widths), len(t_ode)), np.nan)
    for i, p in with_progress(enumerate(widths), len(widths), "ODE widths"):
        Q0, M0, P = initial_condition(init_block, int(p), k)
        for a, g in enumerate(ratios):
            risk_ode[i, a] = theory.solve_ode(Q0, M0, P, g, noise, t_ode, rtol=rtol).risk
        gradient_flow[i] = theory.solve_ode(Q0, M0, P, 0.0, noise, t_ode, rtol=rtol).risk
    return xr.Dataset(
        {
            "risk_ode": ((dim, "lr_over_p", "ode_time"), risk_ode,
                         {"units": "1", "long_name": "excess risk from the ODEs (d -> infinity)"}),
            "risk_gradient_flow": ((dim, "ode_time"), gradient_flow,
                                   {"units": "1", "long_name": "excess risk of the gamma/p -> 0 ODE (gradient flow)"}),
        },
        coords={dim: [int(p) for p in widths], "lr_over_p": ratios,
                "ode_time": ("ode_time", t_ode, {"units": "1", "long_name": "dimensionless time t"})},
    )


def _ode_times(cfg: dict, sgd: xr.Dataset) -> np.ndarray:
    """ODE output times: 0, then log-spaced from half the first record to the last recorded t."""
    t_max = float(cfg["t_max"])
    first = t_max / 10 ** float(cfg["decades"])
    last = float(np.nanmax(sgd["time"].values))
    return np.concatenate([[0.0], np.geomspace(first / 2, last, int(cfg["ode_points"]))])


def _sgd_and_ode(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """SGD over p x d x gamma/p x seed, plus the ODE of every (p, gamma/p): the d -> infinity limit
    of all the SGD curves of that (p, gamma/p)."""
    sgd = _sgd_grid(cfg, ctx, cfg["init"])
    ode = _ode_reference(cfg, cfg["init"], sgd["p"].values, _ode_times(cfg, sgd))
    return xr.merge([sgd, ode], combine_attrs="override")


def run_collapse(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """SGD at growing d (and several p) at fixed gamma/p, against the ODE, in t = steps gamma/(p d)."""
    return _sgd_and_ode(cfg, ctx)


def run_floor(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Late-time excess risk against the learning rate (and width): SGD over gamma/p and p, with
    the ODE; plus ODE-only floors on a fine gamma/p grid for more widths."""
    out = _sgd_and_ode(cfg, ctx)
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


def _lr_over_p(gamma, p):
    """The factor of the ODEs' noise term (the paper's convention): gamma / p."""
    return gamma / p


def phase_ode_grid(cfg: dict, noise_factor=_lr_over_p) -> xr.Dataset:
    """The ODE side of the phase diagram: every (kappa, delta) cell solved at its own width and
    learning rate at every d of the ladder,

        p = round(p0 d^kappa),   gamma = gamma0 d^-delta,   noise factor of the ODEs gamma / p,

    (the convention of Veiga et al. 2022, which Arnaboldi et al. extend: perfect learning where
    kappa + delta > 0, a plateau on kappa + delta = 0, failure where kappa + delta < 0). The
    late-time noise-driven excess risk of a cell at d is R(t_late) - R_gf(t_late), both ODEs of
    width p(d) (R_gf: gamma/p = 0). Its behaviour as d grows classifies the cell (in
    :func:`measures.phase_regions`, with the claims' thresholds): falling (perfect learning), flat
    (plateau), growing or above a fraction of the zero-output risk (failure). Nothing here uses
    kappa + delta: the regions come out of the solutions. ``noise_factor(gamma, p)``: the ODEs'
    noise factor (the falsifying tests pass a wrong convention).
    """
    k, noise, p0, gamma0 = int(cfg["k"]), float(cfg["noise"]), int(cfg["p0"]), float(cfg["gamma0"])
    t_late, rtol = float(cfg["t_late"]), float(cfg["ode_rtol"])
    kappas, deltas = np.asarray(cfg["kappa"], float), np.asarray(cfg["delta"], float)
    ladder = np.asarray(cfg["d_ladder"], float)
    widths = np.stack([theory.phase_width(p0, ladder, kappa) for kappa in kappas])  # [kappa, d]
    lrs = np.stack([theory.phase_lr(gamma0, ladder, delta) for delta in deltas])  # [delta, d]
    t_eval = np.array([0.0, t_late])
    overlaps = {int(p): initial_condition(cfg["init"], int(p), k) for p in np.unique(widths)}
    flow = {p: theory.solve_ode(*ov, 0.0, noise, t_eval, rtol=rtol).risk[-1] for p, ov in overlaps.items()}
    late = np.full((len(kappas), len(deltas), len(ladder)), np.nan)
    cells = list(itertools.product(range(len(kappas)), range(len(deltas)), range(len(ladder))))
    for a, b, j in with_progress(cells, len(cells), "phase-diagram ODE solves"):
        p = int(widths[a, j])
        factor = float(noise_factor(lrs[b, j], p))
        late[a, b, j] = theory.solve_ode(*overlaps[p], factor, noise, t_eval, rtol=rtol).risk[-1]
    floors = late - np.array([[flow[int(p)] for p in row] for row in widths])[:, None, :]
    slopes = np.array([[theory.floor_slope(floors[a, b], ladder) for b in range(len(deltas))]
                       for a in range(len(kappas))])
    return xr.Dataset(
        {
            "floor": (("kappa", "delta", "d_ladder"), floors,
                      {"units": "1", "long_name": f"ODE noise-driven excess risk at t = {t_late:g}, width p(d)"}),
            "floor_slope": (("kappa", "delta"), slopes,
                            {"units": "1", "long_name": "log-log slope of the ODE noise-driven excess risk against d"}),
            "cell_p": (("kappa", "d_ladder"), widths,
                       {"units": "hidden units", "long_name": "width p = round(p0 d^kappa)"}),
            "cell_lr": (("delta", "d_ladder"), lrs,
                        {"units": "1", "long_name": "learning rate gamma = gamma0 d^-delta"}),
        },
        coords={
            "kappa": ("kappa", kappas, {"units": "1", "long_name": "width exponent, p = p0 d^kappa"}),
            "delta": ("delta", deltas, {"units": "1", "long_name": "learning-rate exponent, gamma = gamma0 d^-delta"}),
            "d_ladder": ("d_ladder", ladder, {"units": "1", "long_name": "input dimension d"}),
        },
        attrs={"k": k, "noise": noise, "p0": p0, "gamma0": gamma0, "t_late": t_late},
    )


def phase_spots(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """SGD spot checks of the phase diagram: at each (kappa, delta) of ``spot.points`` and each
    d of ``spot.d``, ``n_seeds`` runs with p = round(p0 d^kappa) and gamma = gamma0 d^-delta,
    recorded at the same times t = steps gamma/(p d); with the ODE and the gradient-flow ODE of
    the same width and gamma/p (the references of the curves and of the noise-driven part)."""
    k, noise, p0, gamma0 = int(cfg["k"]), float(cfg["noise"]), int(cfg["p0"]), float(cfg["gamma0"])
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
    lrs = np.zeros((len(points), len(d_spot)))
    diverged = np.full((len(points), len(d_spot), len(seeds)), -1, dtype=np.int64)
    for j, d in enumerate(d_spot):
        p_of = np.array([int(theory.phase_width(p0, d, kappa)) for kappa in points[:, 0]])
        widths[:, j] = p_of
        lrs[:, j] = [float(theory.phase_lr(gamma0, d, delta)) for delta in points[:, 1]]
        for a in range(len(points)):
            # one batched group (its seeds) per point: a group shares its steps and record steps, and a
            # point of larger gamma/p reaches t_max in fewer steps (x 1/(gamma/p)): grouped by p alone,
            # it ran up to d^(3/2) times too long, with its early records missing
            record_at = _record_steps(t_record, d, lrs[a, j] / p_of[a])
            traj = train_group(ctx.experiment, ctx, int(p_of[a]), d, k, np.full(len(seeds), lrs[a, j]), seeds,
                               initial_condition(cfg["init"], int(p_of[a]), k), noise, int(record_at[-1]), record_at,
                               record_overlaps=False)
            rec = traj.records["risk"]  # [seed, record]
            t_run = record_at * (lrs[a, j] / p_of[a]) / d
            keep = np.clip(np.searchsorted(t_run, t_record), 0, len(t_run) - 1)
            risk[a, j, :, 0] = rec[:, 0]
            risk[a, j, :, 1:] = rec[:, keep]
            time[a, j, 0] = 0.0
            time[a, j, 1:] = t_run[keep]
            diverged[a, j] = traj.diverged_step
    t_ode = np.concatenate([[0.0], np.geomspace(t_record[0] / 2, float(spot["t_max"]), int(cfg["ode_points"]))])
    risk_ode = np.full((len(points), len(d_spot), len(t_ode)), np.nan)
    flow = np.full((len(points), len(d_spot), len(t_ode)), np.nan)
    rtol = float(cfg["ode_rtol"])
    flows = {}
    for a in range(len(points)):
        for j in range(len(d_spot)):
            p = int(widths[a, j])
            overlaps = initial_condition(cfg["init"], p, k)
            risk_ode[a, j] = theory.solve_ode(*overlaps, lrs[a, j] / p, noise, t_ode, rtol=rtol).risk
            if p not in flows:
                flows[p] = theory.solve_ode(*overlaps, 0.0, noise, t_ode, rtol=rtol).risk
            flow[a, j] = flows[p]
    return xr.Dataset(
        {
            "spot_risk": (("spot", "spot_d", "seed", "record"), risk, _RISK),
            "spot_time": (("spot", "spot_d", "record"), time, {"units": "1", "long_name": "dimensionless time t"}),
            "spot_p": (("spot", "spot_d"), widths, {"units": "hidden units", "long_name": "student width p"}),
            "spot_lr": (("spot", "spot_d"), lrs, {"units": "1", "long_name": "learning rate gamma"}),
            "spot_diverged_step": (("spot", "spot_d", "seed"), diverged,
                                   {"units": "SGD steps", "long_name": "step of divergence (-1: none)"}),
            "spot_risk_ode": (("spot", "spot_d", "ode_time"), risk_ode,
                              {"units": "1", "long_name": "excess risk from the ODEs, same p and gamma/p"}),
            "spot_risk_gradient_flow": (("spot", "spot_d", "ode_time"), flow,
                                        {"units": "1", "long_name": "excess risk of the gradient-flow ODE, same p"}),
        },
        coords={
            "spot": np.arange(len(points)),
            "spot_kappa": ("spot", points[:, 0], {"units": "1", "long_name": "kappa"}),
            "spot_delta": ("spot", points[:, 1], {"units": "1", "long_name": "delta"}),
            "spot_d": d_spot, "seed": seeds, "record": np.arange(n_r),
            "ode_time": ("ode_time", t_ode, {"units": "1", "long_name": "dimensionless time t"}),
        },
    )


def run_phase(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Phase diagram over (kappa, delta) for p = p0 d^kappa, gamma = gamma0 d^-delta: the ODE of
    every cell at its own p and gamma over the d ladder (:func:`phase_ode_grid`), and SGD spot
    checks (:func:`phase_spots`)."""
    return xr.merge([phase_ode_grid(cfg), phase_spots(cfg, ctx)], combine_attrs="override")


def run_width(cfg: dict, ctx: RunContext) -> xr.Dataset:
    """Collapse across widths: SGD at several p at fixed d and gamma/p, in t = steps gamma/(p d),
    from a start whose order parameters have a large-p limit (every student near one teacher unit,
    the same alignment, orthogonal parts q_orth I); the ODE at the widths ``ode_p`` (p^4 cost: the
    small ones). Q, M are not stored (p x p per record)."""
    sgd = _sgd_grid(cfg, ctx, cfg["init"], store_overlaps=False)
    ode = _ode_reference(cfg, cfg["init"], [int(p) for p in cfg["ode_p"]], _ode_times(cfg, sgd), dim="ode_p")
    return xr.merge([sgd, ode], combine_attrs="override")
