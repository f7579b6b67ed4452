"""The card's claims, measured from the stored trajectories."""

from __future__ import annotations

import numpy as np

from sgdrepro.core import Claim

from . import theory
from .measures import PHASE_CODES, classify_dataset, fluctuation, measured_boundaries

__all__ = ["measure_claims"]

# Near a boundary the time to converge, to settle on a cycle or to escape grows like 1/|a - a_b|,
# so a classification over a late window of W steps resolves a boundary to about 10 / W.
_FINITE_TIME = 10.0


def _spacing(a: np.ndarray) -> float:
    return float(np.max(np.diff(np.sort(a)))) if len(a) > 1 else float("inf")


def _bifurcation_claims(ds) -> list[Claim]:
    phases = classify_dataset(ds).isel(seed=0)
    a, codes, lyap = ds["a"].values, phases["phase"].values, phases["lyapunov"].values
    window = int(ds.attrs["n_steps"]) - int(ds.attrs["late_start"])
    tol = _spacing(a) + _FINITE_TIME / window
    claims = []
    measured = measured_boundaries(a, codes)
    for name, expected in theory.BOUNDARIES.items():
        claims.append(Claim.approx(
            f"boundary_{name.replace('|', '_to_')}",
            f"Orthonormal phase retrieval: the measured {name.replace('|', ' -> ')} boundary matches the cubic "
            f"map's a = {expected:.4f} (tolerance: grid spacing + {_FINITE_TIME:g}/window)",
            measured[name], expected, tol))
    lam_map = theory.lyapunov_map(a)
    theory_codes = np.array([PHASE_CODES[p] for p in theory.phases_of(a)])
    claims.append(Claim.holds(
        "bifurcation_phase_agreement",
        "Orthonormal phase retrieval: fraction of the fine step-size grid whose measured phase equals "
        "theory.phase_of(a) (periodic windows resolved); misses allowed only at boundaries (>= 0.97)",
        float(np.mean(theory_codes == codes)), 0.97))
    margin = 0.01
    periodic = (a > theory.A_CATAPULT + margin) & (a < theory.A_FEIGENBAUM - margin) & \
        (np.abs(a - theory.A_PERIOD4) > margin)
    claims.append(Claim.holds(
        "lyapunov_negative_periodic",
        "GD's top Lyapunov exponent is negative in the periodic phase (1 < a < a_inf, excluding 0.01 around "
        "the period doublings where it crosses 0)",
        float(np.mean(lyap[periodic] < 0)) if periodic.any() else float("nan"), 1.0))
    chaotic = (a >= theory.A_FEIGENBAUM) & (a <= theory.A_ESCAPE) & (lam_map > 0.05)
    claims.append(Claim.holds(
        "lyapunov_positive_chaotic",
        "GD's top Lyapunov exponent is positive in the chaotic phase (a_inf <= a <= 2 where the cubic map's "
        "exponent exceeds 0.05, i.e. outside periodic windows and their edges)",
        float(np.mean(lyap[chaotic] > 0)) if chaotic.any() else float("nan"), 1.0))
    return claims


def _loss_curve_claim(ds, key: str, what: str, exact: bool) -> Claim:
    phases = classify_dataset(ds)["phase"].isel(seed=0)
    if exact:
        expected = np.array([PHASE_CODES[p] for p in theory.phases_of(ds["a"].values)])
        ok = (phases.values == expected[None, :]).mean()
        return Claim.holds(key, f"{what}: every representative step's measured phase equals theory.phase_of(a)",
                           float(ok), 1.0)
    distinct = min(len(np.unique(row)) for row in phases.values)
    return Claim.at_least(key, f"{what}: the representative steps show all five phases, for each model",
                          distinct, 5)


def _gaussian_map_claims(ds) -> list[Claim]:
    phases = classify_dataset(ds).isel(seed=0)["phase"].transpose("n", "a").values
    a = ds["a"].values
    window = int(ds.attrs["n_steps"]) - int(ds.attrs["late_start"])
    rows_all = float(np.mean([len(np.unique(row)) == 5 for row in phases]))
    boundary = [measured_boundaries(a, row)["catapult|periodic"] for row in phases]
    return [
        Claim.holds("gaussian_all_five_phases",
                    "Gaussian phase retrieval: fraction of sample sizes n whose step-size sweep shows all five phases",
                    rows_all, 1.0),
        Claim.approx("gaussian_stability_boundary",
                     "Gaussian phase retrieval: convergence stops at a = eta lambda_max/2 = 1 (linear stability "
                     "of the minimiser), worst case over n (tolerance: grid spacing + 10/window)",
                     float(boundary[int(np.nanargmax(np.abs(np.asarray(boundary) - 1.0)))]), 1.0,
                     _spacing(a) + _FINITE_TIME / window),
    ]


def _ergodic_claim(ds) -> Claim:
    phases = classify_dataset(ds)["phase"].values
    late = ds["step"].values >= int(ds.attrs["late_start"])
    last = fluctuation(ds["test_error"].transpose("a", "seed", "step").values[..., late])
    avg = fluctuation(ds["test_error_avg"].transpose("a", "seed", "step").values[..., late])
    sel = np.isin(phases, [PHASE_CODES["periodic"], PHASE_CODES["chaotic"]])
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = avg[sel] / last[sel]
    return Claim.at_most(
        "ergodic_average_stabilises_test_error",
        "Two-layer net on Gaussian data, periodic and chaotic runs: the late-window standard deviation of the "
        "ergodic average's test error is at most 1/10 of the last iterate's (worst run)",
        float(np.max(ratio)) if ratio.size else float("nan"), 0.1)


def measure_claims(data: dict, cfg: dict) -> list[Claim]:
    claims = _bifurcation_claims(data["bifurcation"])
    claims.append(_loss_curve_claim(data["orthogonal"], "orthogonal_loss_curves_phases",
                                    "Orthonormal data, phase retrieval and two-layer net", exact=True))
    claims.append(_loss_curve_claim(data["gaussian_losses"], "gaussian_loss_curves_phases",
                                    "Gaussian data, phase retrieval and two-layer net", exact=False))
    claims += _gaussian_map_claims(data["gaussian_phase_map"])
    claims.append(_ergodic_claim(data["generalization"]))
    return claims
