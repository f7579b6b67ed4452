"""The paper's claims, measured from the stored trajectories (collapse, floor, phase)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from sgdrepro.core import Claim

from .measures import (
    loglog_slope, noise_driven_ode, noise_driven_ode_window, noise_driven_sgd, ode_at, seed_mean_curve,
    spot_regions, tracking_gap,
)

__all__ = ["measure_claims"]


def _collapse_spread(ds: xr.Dataset, p, g) -> float:
    """max over t of the spread (max - min) of the seed-mean SGD curves of every d, on a common
    time grid (log-log interpolation of each curve), relative to the initial risk."""
    curves = [seed_mean_curve(ds, p, d, g) for d in ds["d"].values]
    t_lo = max(t[t > 0].min() for t, _ in curves)
    t_hi = min(t.max() for t, _ in curves)
    grid = np.geomspace(t_lo, t_hi, 50)
    values = np.array([ode_at(grid, t, r) for t, r in curves])
    r0 = float(ds["risk_ode"].sel(p=p, lr_over_p=g).values[0])
    return float(np.nanmax(values.max(axis=0) - values.min(axis=0)) / r0)


def measure_claims(data: dict[str, xr.Dataset], cfg: dict) -> list[Claim]:
    c = cfg["claims"]
    claims: list[Claim] = []
    collapse = data["collapse"]
    dims = collapse["d"].values
    for p in collapse["p"].values:
        for g in collapse["lr_over_p"].values:
            gaps = [tracking_gap(collapse, p, d, g, float(c["gap_t_min"])) for d in dims]
            tag = f"p{p}_g{g:g}"
            claims.append(Claim.at_most(
                f"sgd_ode_gap_falls_with_d_{tag}",
                f"p = {p}, gamma/p = {g:g}: the max over t >= {c['gap_t_min']} of |R_SGD - R_ODE| / R(0) "
                f"(seed means) falls with d = {', '.join(map(str, dims))} (gaps "
                f"{', '.join(f'{v:.3g}' for v in gaps)}); measured: fitted log-log slope, which must be at most "
                f"{c['gap_slope_max']} (fluctuation theory: -1/2, the SGD noise on Q, M scales as sqrt(gamma/(p d)))",
                loglog_slope(dims, gaps), float(c["gap_slope_max"])))
            claims.append(Claim.at_most(
                f"sgd_tracks_ode_at_largest_d_{tag}",
                f"p = {p}, gamma/p = {g:g}: at d = {dims[-1]} SGD tracks the ODE: max over t of "
                f"|R_SGD - R_ODE| / R(0) at most {c['gap_tolerance']} (our tolerance)",
                gaps[-1], float(c["gap_tolerance"])))
            large = dims[len(dims) // 2:]
            sub = collapse.sel(d=large)
            claims.append(Claim.at_most(
                f"collapse_in_dimensionless_time_{tag}",
                f"p = {p}, gamma/p = {g:g}: SGD risk curves at d = {', '.join(map(str, large))} collapse on one "
                f"curve in t = steps gamma/(p d) (their steps differ by a factor {large[-1] / large[0]:g}): max "
                f"over t of their spread / R(0) at most {c['collapse_tolerance']}",
                _collapse_spread(sub, p, g), float(c["collapse_tolerance"])))
    floor = data["floor"]
    for p in floor["p"].values:
        ratios = floor["lr_over_p"].values
        sgd_slope = loglog_slope(ratios, noise_driven_sgd(floor, p))
        ode_slope = loglog_slope(ratios, noise_driven_ode_window(floor, p))
        claims.append(Claim.approx(
            f"noise_floor_slope_sgd_vs_ode_p{p}",
            f"p = {p}, d = {floor['d'].values[-1]}: the noise-driven late-time excess risk of SGD scales with "
            f"the learning rate as the ODE predicts: log-log slope over gamma/p = "
            f"{', '.join(f'{v:g}' for v in ratios)} (expected: the ODE's slope over the same points, "
            f"{ode_slope:.3f}; tolerance {c['slope_tolerance']})",
            sgd_slope, ode_slope, float(c["slope_tolerance"])))
    ode_ratios = floor["ode_lr_over_p"].values
    small = slice(0, 3)
    for p in floor["ode_p"].values:
        slope = loglog_slope(ode_ratios[small], noise_driven_ode(floor, p)[small])
        claims.append(Claim.approx(
            f"noise_floor_linear_in_lr_ode_p{p}",
            f"p = {p}: at small gamma/p ({', '.join(f'{v:.3g}' for v in ode_ratios[small])}) the ODE's "
            "noise-driven excess risk is linear in the learning rate (floor ~ gamma Delta / p: slope 1)",
            slope, 1.0, float(c["linear_slope_tolerance"])))
    widths = floor["ode_p"].values
    keep = ode_ratios <= float(c["floor_width_max_lr_over_p"])
    curves = np.array([noise_driven_ode(floor, p)[keep] for p in widths])
    claims.append(Claim.at_most(
        "noise_floor_depends_on_gamma_over_p",
        f"the ODE noise floors of widths p = {', '.join(map(str, widths))} nearly coincide as functions of "
        f"gamma/p in the plateau regime, gamma/p in [{ode_ratios[keep][0]:.3g}, {ode_ratios[keep][-1]:.3g}]: "
        f"max over gamma/p of the ratio of the largest to the smallest, at most {c['floor_width_ratio']} "
        "(our tolerance; at finite p the ODE still depends on p beyond gamma/p)",
        float(np.nanmax(curves.max(axis=0) / curves.min(axis=0))), float(c["floor_width_ratio"])))
    phase = data["phase"]
    kk, dd = np.meshgrid(phase["kappa"].values, phase["delta"].values, indexing="ij")
    expected = np.where(np.isclose(kk + dd, 0.0), 1, np.where(kk + dd > 0, 0, 2))
    claims.append(Claim.holds(
        "phase_regions_follow_kappa_plus_delta",
        "ODE phase diagram: perfect learning where kappa + delta > 0 (gamma/p -> 0), a plateau with a noise "
        "floor on kappa + delta = 0, failure where kappa + delta < 0; measured: fraction of the "
        f"{expected.size} (kappa, delta) cells whose ODE-classified region is that one",
        float(np.mean(phase["region"].values == expected))))
    regions_sgd, _ = spot_regions(phase, float(cfg["phase"]["spot"]["slope_tol"]))
    region_ode = []
    for a in range(phase.sizes["spot"]):
        region_ode.append(int(phase["region"].sel(kappa=phase["spot_kappa"].values[a],
                                                  delta=phase["spot_delta"].values[a], method="nearest")))
    claims.append(Claim.holds(
        "phase_spot_checks_sgd_agree_with_ode",
        f"SGD spot checks at (kappa, delta) = "
        f"{', '.join(f'({k:g}, {d:g})' for k, d in zip(phase['spot_kappa'].values, phase['spot_delta'].values))} "
        f"and d = {', '.join(map(str, phase['spot_d'].values))} fall in the ODE's region (SGD regions "
        f"{list(map(int, regions_sgd))}, ODE {region_ode}; 0 perfect, 1 plateau, 2 failure)",
        float(np.mean(np.asarray(regions_sgd) == np.asarray(region_ode))), float(c["spot_agreement"])))
    return claims
