"""The paper's claims, measured from the stored trajectories (collapse, width, floor, phase).

Every claim is built with sgdrepro.core.claims. Intervals: SGD statements are bootstrapped over
seeds (the runs are the units; a percentile bootstrap needs 6 of them); ODE-only statements are
exact numbers or a fit over the cells / points they reduce. Thresholds come from the scale's
``claims`` block of the config (config/README.md gives each one's reason).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from sgdrepro.core import Claim
from sgdrepro.core.claims import ClaimGroup, bootstrap_ci, exact, fraction_ci, measure_groups, median_ci, slope_ci

from . import theory
from .measures import (
    cell_of_spot, curve_spread, max_gap, nanmean, noise_driven_ode, noise_driven_ode_window, noise_driven_sgd_seeds,
    phase_regions, seed_curves, spot_floor_slope, spot_noise_driven,
)

__all__ = ["CLAIM_IDS", "CLAIM_GROUPS", "measure_claims", "collapse_claims", "width_claims", "floor_claims",
           "phase_grid_claims", "phase_spot_claims"]

CLAIM_IDS = (
    r"sgd_ode_gap_falls_with_d_p\d+_g[\d.]+",
    r"sgd_tracks_ode_at_largest_d_p\d+_g[\d.]+",
    r"collapse_across_d_p\d+_g[\d.]+",
    r"collapse_across_width_d\d+_g[\d.]+",
    r"noise_floor_slope_sgd_vs_ode_p\d+",
    r"noise_floor_linear_in_lr_ode_p\d+",
    r"noise_floor_depends_on_gamma_over_p",
    r"phase_regions_match_boundary",
    r"phase_floor_exponent_is_kappa_plus_delta",
    r"phase_spot_sgd_in_ode_region_k[\d.]+_d-?[\d.]+",
)


def _list(values, fmt="{:g}") -> str:
    return ", ".join(fmt.format(v) for v in values)


# ---------------------------------------------------------------- collapse across d


def _units(ds: xr.Dataset, p, dims, g) -> tuple[list[np.ndarray], np.ndarray]:
    """Times [d][record] and SGD risks as units [seed, d, record] (records of every d aligned)."""
    curves = [seed_curves(ds, p, d, g) for d in dims]
    n_rec = min(r.shape[1] for _, r in curves)
    return [t[:n_rec] for t, _ in curves], np.stack([r[:, :n_rec] for _, r in curves], axis=1)


def collapse_claims(ds: xr.Dataset, c: dict) -> list[Claim]:
    """SGD at growing d against the ODE of its (p, gamma/p), in t = steps gamma/(p d)."""
    claims = []
    dims = ds["d"].values
    t_min = float(c["gap_t_min"])
    t_ode = ds["ode_time"].values
    for p in ds["p"].values:
        for g in ds["lr_over_p"].values:
            ode = ds["risk_ode"].sel(p=p, lr_over_p=g).values
            r0 = float(ode[0])
            times, units = _units(ds, p, dims, g)

            def gaps(u, times=times, ode=ode, r0=r0):
                return np.array([max_gap(t, nanmean(u[:, j], axis=0), t_ode, ode, t_min, r0)
                                 for j, t in enumerate(times)])

            def slope(u):
                return np.polyfit(np.log(dims), np.log(gaps(u)), 1)[0]

            measured = gaps(units)
            tag = f"p{p}_g{g:g}"
            evidence = {"d": dims, "max_gap": measured}
            claims.append(Claim.at_most(
                f"sgd_ode_gap_falls_with_d_{tag}",
                f"p = {p}, gamma/p = {g:g}: the max over t >= {t_min:g} of |R_SGD - R_ODE| / R(0) (mean over "
                f"{units.shape[0]} seeds) falls with d = {_list(dims)}: log-log slope against d at most "
                f"{c['gap_slope_max']:g} (fluctuation theory: -1/2, the SGD noise on Q, M is of order "
                "sqrt(gamma/(p d)); the bound leaves room for the finite-seed floor of the max)",
                bootstrap_ci(units, slope, evidence=evidence, what="log-log slope of the max gap against d"),
                float(c["gap_slope_max"])))
            claims.append(Claim.at_most(
                f"sgd_tracks_ode_at_largest_d_{tag}",
                f"p = {p}, gamma/p = {g:g}: at d = {dims[-1]} SGD tracks the ODE: max over t >= {t_min:g} of "
                f"|R_SGD - R_ODE| / R(0) (mean over {units.shape[0]} seeds) at most {c['gap_tolerance']:g} "
                "(our tolerance)",
                bootstrap_ci(units, lambda u: gaps(u)[-1], evidence=evidence, what="max gap at the largest d"),
                float(c["gap_tolerance"])))
            large = slice(len(dims) // 2, None)

            def spread(u, times=times[large], r0=r0):
                return curve_spread([(t, nanmean(u[:, j], axis=0)) for j, t in enumerate(times)], r0)

            claims.append(Claim.at_most(
                f"collapse_across_d_{tag}",
                f"p = {p}, gamma/p = {g:g}: SGD risk curves at d = {_list(dims[large])} collapse on one curve in "
                f"t = steps gamma/(p d) (their step counts differ by a factor {dims[-1] / dims[large][0]:g}): max "
                f"over t of their spread / R(0) at most {c['collapse_tolerance']:g} (our tolerance)",
                bootstrap_ci(units[:, large], spread, evidence={"d": dims[large]}, what="max spread / R(0)"),
                float(c["collapse_tolerance"])))
    return claims


# ---------------------------------------------------------------- collapse across widths


def width_claims(ds: xr.Dataset, c: dict) -> list[Claim]:
    """SGD of several widths at one d and gamma/p: one curve in t = steps gamma/(p d)."""
    claims = []
    widths = ds["p"].values
    large = widths[len(widths) // 2:] if len(widths) > 2 else widths
    for d in ds["d"].values:
        for g in ds["lr_over_p"].values:
            curves = [seed_curves(ds, p, d, g) for p in large]
            n_rec = min(r.shape[1] for _, r in curves)
            times = [t[:n_rec] for t, _ in curves]
            units = np.stack([r[:, :n_rec] for _, r in curves], axis=1)  # [seed, width, record]
            r0 = float(nanmean(units[:, -1, 0]))  # initial risk of the widest students

            def spread(u, times=times, r0=r0):
                return curve_spread([(t, nanmean(u[:, j], axis=0)) for j, t in enumerate(times)], r0)

            claims.append(Claim.at_most(
                f"collapse_across_width_d{d}_g{g:g}",
                f"d = {d}, gamma/p = {g:g}: SGD risk curves of widths p = {_list(large)} (the larger half of "
                f"{_list(widths)}; learning rates gamma = p * {g:g}) collapse on one curve in t = steps gamma/(p d): "
                f"max over t of their spread (means over {units.shape[0]} seeds) / R(0) at most "
                f"{c['width_collapse_tolerance']:g} (our tolerance; the ODE's finite-width corrections are O(1/p))",
                bootstrap_ci(units, spread, evidence={"p": large, "r0": r0}, what="max spread / R(0)"),
                float(c["width_collapse_tolerance"])))
    return claims


# ---------------------------------------------------------------- noise floor


def floor_claims(floor: xr.Dataset, c: dict) -> list[Claim]:
    """Late-time noise-driven excess risk against gamma/p: SGD against the ODE, linear response,
    and the same floor for every width at equal gamma/p."""
    claims = []
    ratios = floor["lr_over_p"].values
    for p in floor["p"].values:
        units = noise_driven_sgd_seeds(floor, p)  # [seed, gamma/p]
        ode_slope = theory.floor_slope(noise_driven_ode_window(floor, p), ratios)
        claims.append(Claim.near(
            f"noise_floor_slope_sgd_vs_ode_p{p}",
            f"p = {p}, d = {floor['d'].values[-1]}: the noise-driven late-time excess risk of SGD (mean over "
            f"{units.shape[0]} seeds) scales with the learning rate as the ODE predicts: log-log slope over "
            f"gamma/p = {_list(ratios)}, expected the ODE's slope over the same points and records "
            f"({ode_slope:.3f}), tolerance {c['slope_tolerance']:g}",
            bootstrap_ci(units, lambda u: theory.floor_slope(nanmean(u, axis=0), ratios),
                         evidence={"lr_over_p": ratios, "sgd": nanmean(units, axis=0)},
                         what="log-log slope of the SGD floor against gamma/p"),
            ode_slope, float(c["slope_tolerance"])))
    ode_ratios = floor["ode_lr_over_p"].values
    small = ode_ratios <= float(c["linear_max_lr_over_p"])
    for p in floor["ode_p"].values:
        values = noise_driven_ode(floor, p)[small]
        claims.append(Claim.near(
            f"noise_floor_linear_in_lr_ode_p{p}",
            f"p = {p}: at small gamma/p ({_list(ode_ratios[small], '{:.3g}')}) the ODE's noise-driven late-time "
            "excess risk is linear in the learning rate (linear response: floor ~ gamma Delta / p, log-log "
            f"slope 1, tolerance {c['linear_slope_tolerance']:g}; interval: the fit's residuals)",
            slope_ci(np.log(ode_ratios[small]), np.log(values),
                     evidence={"lr_over_p": ode_ratios[small], "floor": values}),
            1.0, float(c["linear_slope_tolerance"])))
    widths = floor["ode_p"].values
    keep = ode_ratios <= float(c["floor_width_max_lr_over_p"])
    curves = np.array([noise_driven_ode(floor, p)[keep] for p in widths])
    ratio = curves.max(axis=0) / curves.min(axis=0)
    claims.append(Claim.at_most(
        "noise_floor_depends_on_gamma_over_p",
        f"the ODE noise floors of widths p = {_list(widths)} coincide as functions of gamma/p in the "
        f"plateau regime, gamma/p in [{ode_ratios[keep][0]:.3g}, {ode_ratios[keep][-1]:.3g}]: max over gamma/p "
        f"of the ratio of the largest to the smallest at most {c['floor_width_ratio']:g} (our tolerance; at "
        "finite p the ODE still depends on p beyond gamma/p)",
        exact(np.max(ratio), {"lr_over_p": ode_ratios[keep], "ratio": ratio}), float(c["floor_width_ratio"])))
    return claims


# ---------------------------------------------------------------- phase diagram


def _fail_level(phase: xr.Dataset, c: dict) -> float:
    return float(c["fail_fraction"]) * theory.uninformed_risk(int(phase.attrs["k"]))


def phase_grid_claims(phase: xr.Dataset, c: dict) -> list[Claim]:
    """The ODE phase diagram (every cell at its own p(d), gamma(d)) against the paper's boundary."""
    kk, dd = np.meshgrid(phase["kappa"].values, phase["delta"].values, indexing="ij")
    regions = phase_regions(phase, float(c["region_slope_tol"]), _fail_level(phase, c))
    paper = theory.paper_region(kk, dd)
    ladder = phase["d_ladder"].values
    cells = {"kappa": kk.ravel(), "delta": dd.ravel(), "ode_region": regions.ravel(), "paper_region": paper.ravel()}
    claims = [Claim.at_least(
        "phase_regions_match_boundary",
        f"ODE phase diagram, each of the {kk.size} (kappa, delta) cells solved at its own width p = round(p0 "
        f"d^kappa) and learning rate gamma = gamma0 d^-delta at d = {_list(ladder)} and classified by how its "
        "noise-driven late-time excess risk behaves as d grows (falls: perfect learning; flat within "
        f"+-{c['region_slope_tol']:g} in log-log slope: plateau; grows or exceeds {c['fail_fraction']:g} x "
        "the zero-output risk: failure): fraction of cells in the paper's region (perfect where kappa + delta "
        "> 0, plateau on kappa + delta = 0, failure where < 0) at least "
        f"{c['phase_agreement']:g} (cells one grid step from the boundary may cross over at these d)",
        fraction_ci(regions.ravel() == paper.ravel(), evidence=cells), float(c["phase_agreement"]), kind="paper")]
    flat = (kk + dd).ravel() >= -1e-9  # cells whose noise factor gamma/p does not grow with d
    slopes = phase["floor_slope"].values.ravel()
    error = slopes[flat] + (kk + dd).ravel()[flat]
    claims.append(Claim.near(
        "phase_floor_exponent_is_kappa_plus_delta",
        f"ODE phase diagram, the {int(flat.sum())} cells with kappa + delta >= 0: the noise-driven late-time "
        f"excess risk falls as d^-(kappa + delta) over d = {_list(ladder)} (linear response: floor ~ gamma "
        "Delta / p with gamma/p ~ d^-(kappa + delta)); measured: median over the cells of the fitted log-log "
        f"slope + kappa + delta, expected 0, tolerance {c['exponent_tolerance']:g} (rounding p to an integer "
        "and the superlinear floor near gamma/p ~ 1 shift it by a few hundredths)",
        median_ci(error, evidence={"kappa": kk.ravel()[flat], "delta": dd.ravel()[flat], "slope": slopes[flat],
                                   "error": error}),
        0.0, float(c["exponent_tolerance"])))
    return claims


def phase_spot_claims(phase: xr.Dataset, c: dict) -> list[Claim]:
    """SGD spot checks: each in the ODE region of its cell, from its own late risk at growing d."""
    regions = phase_regions(phase, float(c["region_slope_tol"]), _fail_level(phase, c))
    noise = spot_noise_driven(phase)  # [spot, spot_d, seed]
    d = phase["spot_d"].values
    tol = float(c["spot_slope_tol"])
    claims = []
    for a in range(phase.sizes["spot"]):
        kappa, delta = float(phase["spot_kappa"].values[a]), float(phase["spot_delta"].values[a])
        ia, ib = cell_of_spot(phase, a)
        region = int(regions[ia, ib])
        units = noise[a].T  # [seed, d]
        estimate = bootstrap_ci(units, lambda u: spot_floor_slope(u, d),
                                evidence={"d": d, "p": phase["spot_p"].values[a], "lr": phase["spot_lr"].values[a],
                                          "sgd_floor": nanmean(units, axis=0)},
                                what="log-log slope of the SGD noise-driven late risk against d")
        ident = f"phase_spot_sgd_in_ode_region_k{kappa:g}_d{delta:g}"
        head = (f"SGD spot check (kappa, delta) = ({kappa:g}, {delta:g}) at d = {_list(d)} (p = "
                f"{_list(phase['spot_p'].values[a])}, gamma = {_list(phase['spot_lr'].values[a], '{:.3g}')}, "
                f"{units.shape[0]} seeds): the ODE puts its cell in the region '{theory.REGIONS[region]}'; SGD agrees: "
                "log-log slope against d of its noise-driven late-time excess risk (seed mean)")
        if region == 0:
            claims.append(Claim.at_most(ident, f"{head} at most -{tol:g} (it vanishes as d grows)", estimate, -tol))
        elif region == 1:
            claims.append(Claim.near(ident, f"{head} within +-{tol:g} of 0 (a finite floor)", estimate, 0.0, tol))
        else:
            claims.append(Claim.at_least(ident, f"{head} at least {tol:g} (it grows with d)", estimate, tol))
    return claims


# each group with the experiments it reads (a paper scale with some jobs run as slices only
# measures the groups of the jobs that ran whole)
CLAIM_GROUPS = (
    ClaimGroup(("collapse",), lambda data, cfg: collapse_claims(data["collapse"], cfg["claims"])),
    ClaimGroup(("width",), lambda data, cfg: width_claims(data["width"], cfg["claims"])),
    ClaimGroup(("floor",), lambda data, cfg: floor_claims(data["floor"], cfg["claims"])),
    ClaimGroup(("phase",), lambda data, cfg: [*phase_grid_claims(data["phase"], cfg["claims"]),
                                              *phase_spot_claims(data["phase"], cfg["claims"])]),
)


def measure_claims(data: dict[str, xr.Dataset], cfg: dict) -> list[Claim]:
    return measure_groups(CLAIM_GROUPS, data, cfg)
