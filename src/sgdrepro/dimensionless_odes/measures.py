"""Measurements on stored trajectories shared by the figures and the claims (pure numpy/xarray).

Conventions: risks are excess risks E[(f - f*)^2]/2; t = steps gamma/(p d); "late" values are
means over the records with t in [t_late/2, t_late]; the noise-driven part of a late risk is the
late risk minus the gradient-flow ODE's (gamma/p = 0, same width) over the same records.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .theory import classify_floor, floor_slope

__all__ = [
    "nanmean", "ode_at", "seed_mean_curve", "seed_curves", "late_value", "loglog_slope", "max_gap",
    "curve_spread", "tracking_gap", "noise_driven_ode", "noise_driven_ode_window", "noise_driven_sgd",
    "noise_driven_sgd_seeds", "phase_regions", "spot_noise_driven", "spot_regions", "spot_floor_slope",
    "cell_of_spot",
]

FLOOR_CLIP = 1e-12  # a seed-mean noise-driven risk at or below 0 counts as vanished (log-log fits)


def nanmean(values, axis=None):
    """np.nanmean without the all-NaN warning (padding and diverged runs are NaN by design)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=axis)


def ode_at(t_query, t_ode, risk_ode) -> np.ndarray:
    """ODE risk at the query times, interpolated linearly in (log t, log R); t = 0 exact."""
    t_query, t_ode, risk_ode = (np.asarray(a, float) for a in (t_query, t_ode, risk_ode))
    out = np.full(t_query.shape, np.nan)
    zero = t_query == 0
    out[zero] = risk_ode[t_ode == 0][0] if np.any(t_ode == 0) else np.nan
    pos = t_ode > 0
    good = np.isfinite(t_query) & (t_query > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[good] = np.exp(np.interp(np.log(t_query[good]), np.log(t_ode[pos]), np.log(risk_ode[pos]),
                                     right=np.nan))
    return out


def seed_curves(ds: xr.Dataset, p, d, lr_over_p) -> tuple[np.ndarray, np.ndarray]:
    """(t [record], risk [seed, record]) of one (p, d, gamma/p) of a collapse/floor/width dataset,
    padding dropped (diverged runs are NaN after their divergence)."""
    t = ds["time"].sel(p=p, d=d, lr_over_p=lr_over_p).values
    risk = ds["risk"].sel(p=p, d=d, lr_over_p=lr_over_p).values
    keep = np.isfinite(t)
    return t[keep], risk[:, keep]


def seed_mean_curve(ds: xr.Dataset, p, d, lr_over_p) -> tuple[np.ndarray, np.ndarray]:
    """(t, seed-mean SGD risk) of one (p, d, gamma/p), padding dropped."""
    t, risk = seed_curves(ds, p, d, lr_over_p)
    return t, nanmean(risk, axis=0)


def late_value(t: np.ndarray, risk: np.ndarray, t_late: float, window: float = 0.5) -> np.ndarray:
    """Mean of the risk over the records with t in [window * t_late, t_late] (last axis; NaN if none)."""
    t, risk = np.asarray(t, float), np.asarray(risk, float)
    mask = (t >= window * t_late) & (t <= t_late * (1 + 1e-9))
    if not mask.any():
        return np.full(risk.shape[:-1], np.nan) if risk.ndim > 1 else float("nan")
    out = nanmean(risk[..., mask], axis=-1)
    return out if risk.ndim > 1 else float(out)


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x over the finite positive points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def max_gap(t, risk_mean, t_ode, risk_ode, t_min: float, r0: float) -> float:
    """max over t >= t_min of |risk_mean(t) - ODE(t)| / r0 (NaN if a compared value is NaN)."""
    mask = np.asarray(t) >= t_min
    gap = np.abs(np.asarray(risk_mean)[mask] - ode_at(np.asarray(t)[mask], t_ode, risk_ode))
    return float(np.max(gap) / r0) if gap.size and np.all(np.isfinite(gap)) else float("nan")


def tracking_gap(ds: xr.Dataset, p, d, lr_over_p, t_min: float) -> float:
    """max over t >= t_min of |seed-mean SGD risk - ODE risk|, relative to the initial risk."""
    t, risk = seed_mean_curve(ds, p, d, lr_over_p)
    ode = ds["risk_ode"].sel(p=p, lr_over_p=lr_over_p).values
    return max_gap(t, risk, ds["ode_time"].values, ode, t_min, float(ode[0]))


def curve_spread(curves: list[tuple[np.ndarray, np.ndarray]], r0: float, n_grid: int = 50) -> float:
    """max over t of (max - min) of the curves (t, risk) on a common log grid of the times all
    cover (log-log interpolation), relative to r0; NaN if a curve is NaN there."""
    t_lo = max(t[t > 0].min() for t, _ in curves)
    t_hi = min(t.max() for t, _ in curves)
    if not t_hi > t_lo:
        return float("nan")
    grid = np.geomspace(t_lo, t_hi, n_grid)
    values = np.array([ode_at(grid, t, r) for t, r in curves])
    if not np.all(np.isfinite(values)):
        return float("nan")
    return float(np.max(values.max(axis=0) - values.min(axis=0)) / r0)


def noise_driven_ode(floor: xr.Dataset, p) -> np.ndarray:
    """ODE late-time excess risk minus the gradient-flow value at the same t, over ``ode_lr_over_p``."""
    return floor["late_risk_ode"].sel(ode_p=p).values - float(floor["late_risk_gradient_flow"].sel(ode_p=p))


def noise_driven_sgd_seeds(floor: xr.Dataset, p) -> np.ndarray:
    """Per seed, the SGD late-time excess risk (largest d) minus the gradient-flow ODE of width p
    over the same records, [seed, lr_over_p]."""
    t_late = float(floor.attrs["t_late"])
    d = floor["d"].values[-1]
    out = []
    for g in floor["lr_over_p"].values:
        t, risk = seed_curves(floor, p, d, g)
        flow = ode_at(t, floor["ode_time"].values, floor["risk_gradient_flow"].sel(p=p).values)
        out.append(late_value(t, risk, t_late) - late_value(t, flow, t_late))
    return np.stack(out, axis=1)


def noise_driven_sgd(floor: xr.Dataset, p) -> np.ndarray:
    """Seed-mean SGD noise-driven late-time excess risk (largest d), over ``lr_over_p``."""
    return nanmean(noise_driven_sgd_seeds(floor, p), axis=0)


def noise_driven_ode_window(floor: xr.Dataset, p) -> np.ndarray:
    """The ODE counterpart of :func:`noise_driven_sgd`: the ODE risk of every SGD gamma/p minus the
    gradient flow, both averaged over the same records' times as the SGD."""
    t_late = float(floor.attrs["t_late"])
    d = floor["d"].values[-1]
    out = []
    for g in floor["lr_over_p"].values:
        t, _ = seed_mean_curve(floor, p, d, g)
        ode = ode_at(t, floor["ode_time"].values, floor["risk_ode"].sel(p=p, lr_over_p=g).values)
        flow = ode_at(t, floor["ode_time"].values, floor["risk_gradient_flow"].sel(p=p).values)
        out.append(late_value(t, ode, t_late) - late_value(t, flow, t_late))
    return np.asarray(out)


def phase_regions(phase: xr.Dataset, slope_tol: float, fail_level: float) -> np.ndarray:
    """Region [kappa, delta] of every cell from its ODE noise-driven late risk over the d ladder."""
    ladder = phase["d_ladder"].values
    floors = phase["floor"].values
    return np.array([[classify_floor(floors[a, b], ladder, slope_tol, fail_level)
                      for b in range(floors.shape[1])] for a in range(floors.shape[0])])


def cell_of_spot(phase: xr.Dataset, a: int) -> tuple[int, int]:
    """(kappa index, delta index) of the grid cell of spot ``a`` (check_config: spots are cells)."""
    kappa, delta = float(phase["spot_kappa"].values[a]), float(phase["spot_delta"].values[a])
    return int(np.argmin(np.abs(phase["kappa"].values - kappa))), int(np.argmin(np.abs(phase["delta"].values - delta)))


def spot_noise_driven(phase: xr.Dataset) -> np.ndarray:
    """Per seed, the SGD late-time noise-driven excess risk of every spot check, [spot, spot_d, seed]:
    late SGD risk minus the gradient-flow ODE of the same width over the same records."""
    t_late = float(phase.attrs["t_late"])
    t_ode = phase["ode_time"].values
    out = np.full(phase["spot_risk"].shape[:3], np.nan)
    for a in range(phase.sizes["spot"]):
        for j in range(phase.sizes["spot_d"]):
            t = phase["spot_time"].values[a, j]
            flow = ode_at(t, t_ode, phase["spot_risk_gradient_flow"].values[a, j])
            out[a, j] = late_value(t, phase["spot_risk"].values[a, j], t_late) - late_value(t, flow, t_late)
    return out


def spot_floor_slope(units: np.ndarray, d) -> float:
    """Log-log slope against d of the seed-mean noise-driven late risk, ``units`` [seed, d]
    (a mean at or below 0 counts as vanished: clipped at FLOOR_CLIP)."""
    mean = nanmean(units, axis=0)
    if not np.all(np.isfinite(mean)):
        return float("nan")
    return floor_slope(np.maximum(mean, FLOOR_CLIP), d)


def spot_regions(phase: xr.Dataset, slope_tol: float, fail_level: float) -> np.ndarray:
    """Region of every SGD spot check from its seed-mean noise-driven late risk at growing d."""
    noise = spot_noise_driven(phase)
    d = phase["spot_d"].values
    return np.array([classify_floor(np.maximum(nanmean(noise[a], axis=-1), FLOOR_CLIP), d, slope_tol, fail_level)
                     for a in range(phase.sizes["spot"])])
