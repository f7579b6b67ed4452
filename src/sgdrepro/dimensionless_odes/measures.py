"""Measurements on stored trajectories shared by the figures and the claims (pure numpy/xarray)."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from .theory import classify_floor

__all__ = ["nanmean", "noise_driven_ode_window", "noise_driven_ode", "noise_driven_sgd", "ode_at", "seed_mean_curve", "tracking_gap", "late_value", "loglog_slope", "spot_regions"]


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


def seed_mean_curve(ds: xr.Dataset, p, d, lr_over_p) -> tuple[np.ndarray, np.ndarray]:
    """(t, seed-mean SGD risk) of one (p, d, gamma/p) of a collapse/floor dataset, padding dropped.

    Diverged runs have NaN records after their divergence and are left out of the mean there.
    """
    t = ds["time"].sel(p=p, d=d, lr_over_p=lr_over_p).values
    risk = nanmean(ds["risk"].sel(p=p, d=d, lr_over_p=lr_over_p).values, axis=0)
    keep = np.isfinite(t)
    return t[keep], risk[keep]


def tracking_gap(ds: xr.Dataset, p, d, lr_over_p, t_min: float) -> float:
    """max over t >= t_min of |seed-mean SGD risk - ODE risk|, relative to the initial risk."""
    t, risk = seed_mean_curve(ds, p, d, lr_over_p)
    ode = ode_at(t, ds["ode_time"].values, ds["risk_ode"].sel(p=p, lr_over_p=lr_over_p).values)
    r0 = float(ds["risk_ode"].sel(p=p, lr_over_p=lr_over_p).values[0])
    mask = t >= t_min
    return float(np.nanmax(np.abs(risk[mask] - ode[mask])) / r0)


def late_value(t: np.ndarray, risk: np.ndarray, t_late: float, window: float = 0.5) -> float:
    """Mean of the risk over the records with t in [window * t_late, t_late] (NaN if none)."""
    t, risk = np.asarray(t, float), np.asarray(risk, float)
    mask = (t >= window * t_late) & (t <= t_late * (1 + 1e-9))
    return float(nanmean(risk[mask])) if mask.any() else float("nan")


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x over the finite positive points."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[keep]), np.log(y[keep]), 1)[0])


def spot_regions(phase: xr.Dataset, slope_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Region of every SGD spot check from its late-time noise-driven risk at growing d.

    Late-time risk: mean over t in [t_late/2, t_late] of the seed-mean SGD risk, minus the
    gradient-flow ODE at t_late (so that only the noise-driven part is compared across d).
    Returns (regions [spot], floors [spot, spot_d]).
    """
    t_late = float(phase.attrs["t_late"])
    flow = float(phase.attrs["risk_gradient_flow_late"])
    d = phase["spot_d"].values.astype(float)
    floors = np.full((phase.sizes["spot"], len(d)), np.nan)
    for a in range(phase.sizes["spot"]):
        for j in range(len(d)):
            diverged = np.any(phase["spot_diverged_step"].values[a, j] >= 0)
            mean = nanmean(phase["spot_risk"].values[a, j], axis=0)
            late = late_value(phase["spot_time"].values[a, j], mean, t_late)
            floors[a, j] = np.inf if diverged else max(late - flow, 1e-12)
    regions = np.array([classify_floor(floors[a], d, slope_tol, float(phase.attrs["fail_level"]))
                        for a in range(len(floors))])
    return regions, floors


def noise_driven_ode(floor: xr.Dataset, p) -> np.ndarray:
    """ODE late-time excess risk minus the gradient-flow value at the same t, over ``ode_lr_over_p``."""
    return floor["late_risk_ode"].sel(ode_p=p).values - float(floor["late_risk_gradient_flow"].sel(ode_p=p))


def noise_driven_sgd(floor: xr.Dataset, p) -> np.ndarray:
    """SGD late-time excess risk (largest d) minus the gradient-flow ODE, over ``lr_over_p``.

    The gradient-flow reference is the ``risk_gradient_flow`` curve of width p averaged over the
    same window of t as the SGD records.
    """
    t_late = float(floor.attrs["t_late"])
    d = floor["d"].values[-1]
    out = []
    for g in floor["lr_over_p"].values:
        t, risk = seed_mean_curve(floor, p, d, g)
        flow = ode_at(t, floor["ode_time"].values, floor["risk_gradient_flow"].sel(p=p).values)
        out.append(late_value(t, risk, t_late) - late_value(t, flow, t_late))
    return np.asarray(out)


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
