"""Every claim id of dimensionless_odes against an input where the paper's effect is absent.

Each falsifier builds a small input (a direct run of the experiment functions, seconds), removes
the effect the claim is about (SGD that does not approach the ODE as d grows, time rescaled
without its 1/d or 1/p, a noise floor with the wrong learning-rate dependence, an ODE whose noise
term carries gamma instead of gamma/p, spot checks swapped between regions) and measures the
claim with the thresholds of the quick scale. The unmodified inputs pass: the contrast is real.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from sgdrepro.core.config import load_config

from conftest import assert_falsified
from sgdrepro.core import RunContext
from sgdrepro.dimensionless_odes import claims as dc
from sgdrepro.dimensionless_odes import experiments, theory

REPO = Path(__file__).resolve().parents[2]
# the thresholds a user's quick run is judged by (never loosened for a test)
THRESHOLDS = load_config(REPO / "config")["dimensionless_odes"]["quick"]["claims"]
ALIGNED = {"kind": "aligned", "alignment": 0.8, "overlap_scale": 0.05, "q_orth": 0.1, "seed": 0}


def _ctx(experiment: str) -> RunContext:
    return RunContext(paper="dimensionless_odes", experiment=experiment, device=torch.device("cpu"),
                      dtype=torch.float64)


# ---------------------------------------------------------------- small direct runs (cached)


@functools.cache
def collapse_run() -> xr.Dataset:
    cfg = dict(k=2, noise=0.01, p=[2], d=[32, 64, 128], lr_over_p=[1.0], n_seeds=6, t_max=10, decades=3,
               n_records=20, ode_points=60, ode_rtol=1e-7, init={"kind": "random", "overlap_scale": 1.0, "seed": 0})
    return experiments.run_collapse(cfg, _ctx("collapse"))


@functools.cache
def width_run() -> xr.Dataset:
    cfg = dict(k=2, noise=0.01, p=[8, 16], d=[32], lr_over_p=[0.5], n_seeds=6, t_max=5, decades=3, n_records=15,
               ode_points=30, ode_rtol=1e-6, ode_p=[4],
               init={"kind": "aligned", "alignment": 0.5, "overlap_scale": 0.0, "q_orth": 0.05, "seed": 0})
    return experiments.run_width(cfg, _ctx("width"))


FLOOR_CFG = dict(k=2, noise=0.01, p=[2], d=[32], lr_over_p=[0.5, 1.0, 2.0], n_seeds=6, t_max=10, decades=3,
                 n_records=20, ode_points=40, ode_rtol=1e-7, t_late=10, ode_p=[2, 4],
                 ode_lr_over_p={"min": 0.05, "max": 1.0, "n": 8}, init=ALIGNED)


@functools.cache
def floor_run() -> xr.Dataset:
    return experiments.run_floor(FLOOR_CFG, _ctx("floor"))


PHASE_CFG = dict(k=2, noise=0.01, p0=2, gamma0=2.0, kappa=[0.0, 0.5], delta=[-0.5, -0.25, 0.0, 0.25, 0.5],
                 d_ladder=[4, 16], t_late=10, ode_points=40, ode_rtol=1e-7, init=ALIGNED)


@functools.cache
def phase_grid(noise_factor=experiments._lr_over_p) -> xr.Dataset:
    return experiments.phase_ode_grid(PHASE_CFG, noise_factor)


@functools.cache
def spot_run() -> xr.Dataset:
    """Three spot checks at kappa = 0, one per region, with the ODE grid of their cells."""
    cfg = {**PHASE_CFG, "kappa": [0.0], "delta": [-0.5, 0.0, 0.5], "d_ladder": [4, 16, 64],
           "spot": dict(points=[[0.0, 0.5], [0.0, 0.0], [0.0, -0.5]], d=[16, 64], n_seeds=6, t_max=10, decades=3,
                        n_records=20)}
    return experiments.run_phase(cfg, _ctx("phase"))


# ---------------------------------------------------------------- the inputs without the effect


def _with(ds: xr.Dataset, **variables) -> xr.Dataset:
    out = ds.copy()
    for name, values in variables.items():
        out[name] = (ds[name].dims, values, ds[name].attrs)
    return out


def gap_does_not_shrink():
    """SGD curves that do not approach the ODE as d grows: every d gets the runs of the smallest d."""
    ds = collapse_run()
    risk = np.repeat(ds["risk"].values[:, :1], ds.sizes["d"], axis=1)
    return dc.collapse_claims(_with(ds, risk=risk), THRESHOLDS)


def ode_with_noise_factor_gamma():
    """SGD compared with an ODE whose noise term carries gamma instead of gamma/p (here 2x)."""
    ds = collapse_run()
    t_ode = ds["ode_time"].values
    wrong = np.empty_like(ds["risk_ode"].values)
    for i, p in enumerate(ds["p"].values):
        Q0, M0, P = experiments.initial_condition({"kind": "random", "overlap_scale": 1.0, "seed": 0}, int(p), 2)
        for a, g in enumerate(ds["lr_over_p"].values):
            wrong[i, a] = theory.solve_ode(Q0, M0, P, p * g, 0.01, t_ode).risk
    return dc.collapse_claims(_with(ds, risk_ode=wrong), THRESHOLDS)


def time_without_one_over_d():
    """Curves of different d plotted against steps * gamma / p: time rescaled without its 1/d."""
    ds = collapse_run()
    return dc.collapse_claims(_with(ds, time=ds["time"].values * ds["d"].values[None, :, None, None]), THRESHOLDS)


def time_without_one_over_p():
    """Curves of different widths plotted against steps * gamma / d: time rescaled without its 1/p."""
    ds = width_run()
    return dc.width_claims(_with(ds, time=ds["time"].values * ds["p"].values[:, None, None, None]), THRESHOLDS)


def floor_reversed_in_lr():
    """SGD noise floors with the wrong learning-rate dependence: the runs of gamma/p reversed."""
    ds = floor_run()
    return dc.floor_claims(_with(ds, risk=ds["risk"].values[:, :, ::-1]), THRESHOLDS)


def floor_quadratic_in_lr():
    """ODE floors of a noise term quadratic in the learning rate ((gamma/p)^2 instead of gamma/p)."""
    ds = floor_run()
    late = np.empty_like(ds["late_risk_ode"].values)
    for i, p in enumerate(ds["ode_p"].values):
        Q0, M0, P = experiments.initial_condition(ALIGNED, int(p), 2)
        for a, g in enumerate(ds["ode_lr_over_p"].values):
            late[i, a] = theory.solve_ode(Q0, M0, P, g**2, 0.01, np.array([0.0, FLOOR_CFG["t_late"]])).risk[-1]
    return dc.floor_claims(_with(ds, late_risk_ode=late), THRESHOLDS)


def floor_against_gamma():
    """ODE floors of every width compared at equal gamma instead of equal gamma/p."""
    ds = floor_run()
    widths = ds["ode_p"].values
    late = np.empty_like(ds["late_risk_ode"].values)
    for i, p in enumerate(widths):
        Q0, M0, P = experiments.initial_condition(ALIGNED, int(p), 2)
        for a, g in enumerate(ds["ode_lr_over_p"].values):  # the grid read as gamma / p_min
            late[i, a] = theory.solve_ode(Q0, M0, P, g * widths[0] / p, 0.01,
                                          np.array([0.0, FLOOR_CFG["t_late"]])).risk[-1]
    return dc.floor_claims(_with(ds, late_risk_ode=late), THRESHOLDS)


def _noise_factor_gamma(gamma, p):
    return gamma


def phase_noise_factor_gamma():
    """The phase diagram of ODEs whose noise term carries gamma, not gamma/p: its regions follow
    delta alone (a map labelled without kappa), not kappa + delta."""
    return dc.phase_grid_claims(phase_grid(_noise_factor_gamma), THRESHOLDS)


def spots_swapped():
    """Spot checks whose SGD runs are those of a cell of another region (perfect <- plateau <-
    failure <- perfect): a swapped control."""
    ds = spot_run()
    order = [1, 2, 0]
    swapped = {name: ds[name].values[order] for name in ("spot_risk", "spot_time", "spot_diverged_step")}
    return dc.phase_spot_claims(_with(ds, **swapped), THRESHOLDS)


FALSIFIERS = {
    r"sgd_ode_gap_falls_with_d_p\d+_g[\d.]+": gap_does_not_shrink,
    r"sgd_tracks_ode_at_largest_d_p\d+_g[\d.]+": ode_with_noise_factor_gamma,
    r"collapse_across_d_p\d+_g[\d.]+": time_without_one_over_d,
    r"collapse_across_width_d\d+_g[\d.]+": time_without_one_over_p,
    r"noise_floor_slope_sgd_vs_ode_p\d+": floor_reversed_in_lr,
    r"noise_floor_linear_in_lr_ode_p\d+": floor_quadratic_in_lr,
    r"noise_floor_depends_on_gamma_over_p": floor_against_gamma,
    r"phase_regions_match_boundary": phase_noise_factor_gamma,
    r"phase_floor_exponent_is_kappa_plus_delta": phase_noise_factor_gamma,
    r"phase_spot_sgd_in_ode_region_k[\d.]+_d-?[\d.]+": spots_swapped,
}

# the same measurements on the unmodified inputs (each falsifier's counterpart)
UNMODIFIED = {
    r"sgd_ode_gap_falls_with_d_p\d+_g[\d.]+": lambda: dc.collapse_claims(collapse_run(), THRESHOLDS),
    r"sgd_tracks_ode_at_largest_d_p\d+_g[\d.]+": lambda: dc.collapse_claims(collapse_run(), THRESHOLDS),
    r"collapse_across_d_p\d+_g[\d.]+": lambda: dc.collapse_claims(collapse_run(), THRESHOLDS),
    r"collapse_across_width_d\d+_g[\d.]+": lambda: dc.width_claims(width_run(), THRESHOLDS),
    r"noise_floor_slope_sgd_vs_ode_p\d+": lambda: dc.floor_claims(floor_run(), THRESHOLDS),
    r"noise_floor_linear_in_lr_ode_p\d+": lambda: dc.floor_claims(floor_run(), THRESHOLDS),
    r"noise_floor_depends_on_gamma_over_p": lambda: dc.floor_claims(floor_run(), THRESHOLDS),
    r"phase_regions_match_boundary": lambda: dc.phase_grid_claims(phase_grid(), THRESHOLDS),
    r"phase_floor_exponent_is_kappa_plus_delta": lambda: dc.phase_grid_claims(phase_grid(), THRESHOLDS),
    r"phase_spot_sgd_in_ode_region_k[\d.]+_d-?[\d.]+": lambda: dc.phase_spot_claims(spot_run(), THRESHOLDS),
}


@pytest.mark.parametrize("pattern", list(FALSIFIERS))
def test_claim_fails_without_the_effect(pattern):
    assert_falsified(FALSIFIERS[pattern](), pattern)


@pytest.mark.parametrize("pattern", list(UNMODIFIED))
def test_claim_passes_on_the_unmodified_input(pattern):
    import re

    matching = [c for c in UNMODIFIED[pattern]() if re.fullmatch(pattern, c.id)]
    assert matching
    assert all(c.passed for c in matching), [(c.id, c.measured, c.ci, c.reason) for c in matching]


def test_every_claim_id_pattern_is_covered():
    assert set(FALSIFIERS) == set(dc.CLAIM_IDS) == set(UNMODIFIED)
