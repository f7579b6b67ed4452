"""The card's claims, measured from the stored trajectories (contract: :mod:`sgdrepro.core.claims`).

Where each expected value comes from, so that none is the measurement restated:

- boundaries on orthonormal data, for each model at its own normalised step: the cubic map's closed
  forms and Feigenbaum point (:mod:`.theory`), against where the classified GD trajectories change
  phase on the step grid;
- boundaries on Gaussian data: each one's distance to the orthonormal (cubic map) value. For
  ``catapult|periodic`` that value is exact on any data (linear stability of the minimiser: the top
  multiplier ``1 - 2a`` reaches -1 at ``a = 1``); for the other three it is the paper's statement that
  the same phases appear, tested at the same normalised step and reported as measured;
- the band merging of phase retrieval: the cubic map's crisis ``a = 3 sqrt(3)/2 - 1`` (the card's
  divergence value; orbits stay bounded up to ``a = 2``), against where the recorded signed
  coordinate's late iterates first take both signs;
- Lyapunov signs on Gaussian data: runs are chosen by the period test alone
  (:func:`.measures.periodicity_dataset`, no exponent enters), their exponents come from the
  tangent vector propagated by the exact Jacobian;
- the ergodic average: the fluctuation ratio of a burn-in average against what a drifting
  sequence gives (:func:`.measures.late_fluctuation_ratio`).
"""

from __future__ import annotations

import numpy as np

from sgdrepro.core import Claim
from sgdrepro.core.claims import ClaimGroup, fraction_ci, grid_bracket, measure_groups, median_ci

from . import theory
from .measures import (
    APERIODIC_MISMATCH,
    PHASE_CODES,
    band_merging_bracket,
    classify_dataset,
    hull,
    late_fluctuation_ratio,
    periodicity_dataset,
    phase_extent_bracket,
    transition_brackets,
)

__all__ = ["CLAIM_IDS", "CLAIM_GROUPS", "measure_claims", "bifurcation_claims", "loss_curve_claim",
           "gaussian_map_claims", "ergodic_claims", "boundary_id"]

_BOUNDARY = r"(monotonic_to_catapult|catapult_to_periodic|periodic_to_chaotic|chaotic_to_divergent)"
CLAIM_IDS = (
    rf"boundary_(phase_retrieval|two_layer)_{_BOUNDARY}",
    r"bifurcation_phase_agreement_(phase_retrieval|two_layer)",
    r"band_merging_phase_retrieval",
    r"orthogonal_loss_curves_phases",
    r"gaussian_loss_curves_phases",
    rf"gaussian_boundary_{_BOUNDARY}_n\d+",
    r"gaussian_all_five_phases",
    r"gaussian_lyapunov_negative_periodic",
    r"gaussian_lyapunov_positive_chaotic",
    r"ergodic_average_stabilises_test_error_a[\d.]+",
)

# Finite-time resolution of a boundary, FINITE_TIME / W for a late window of W steps: at distance
# eps from a boundary the slowest transient decays like exp(-2 eps k) (a multiplier of modulus
# 1 - 2 eps), so the period test (1e-6) needs about ln(1e6) / (2 eps) = 7 / eps steps to settle;
# every window starts after at least W steps, so 10 / W bounds the misplacement.
FINITE_TIME = 10.0
# Bifurcation grid: misses are allowed only within the finite-time resolution of a boundary or of
# a periodic window's edge (3 % of the grid: 8 edges x 2 x 10/W at W = 512 is 4 %, most edges resolve sharper).
AGREEMENT_FRACTION = 0.97
# Representative steps sit inside their phase; a run may still show a neighbour's phase (finite-time
# classification; on Gaussian data the data draw moves the boundaries): one run in ten.
LOSS_CURVE_FRACTION = 0.9
# Ergodic average: a fifth of the 1/2 a linearly drifting sequence gives, and ~7 times an i.i.d.
# sequence's 0.38 / sqrt(W) at W = 750 (room for a correlation time of ~50 steps).
ERGODIC_RATIO_MAX = 0.1


def _window(ds) -> int:
    return int(ds.attrs["n_steps"]) - int(ds.attrs["late_start"])


def _seed_rows(phases, *dims: str) -> list[tuple[dict, np.ndarray]]:
    """``(labels, codes along a)`` for every combination of ``dims`` (e.g. seed, n)."""
    phases = phases.transpose(*dims, "a")
    labels = [dict(zip(dims, idx)) for idx in np.ndindex(*(phases.sizes[d] for d in dims))]
    return [({d: phases[d].values[i[d]].item() for d in dims}, phases.isel(**i).values) for i in labels]


_MODEL_STEP = {"phase_retrieval": "phase retrieval (a = eta y)",
               "two_layer": "two-layer net with fixed outer layer (a = eta y / m)"}


def boundary_id(name: str) -> str:
    """``"monotonic|catapult"`` -> ``"monotonic_to_catapult"``."""
    return name.replace("|", "_to_")


def bifurcation_claims(ds) -> list[Claim]:
    """Per model: the four phase boundaries on the orthonormal fine grid, and the phase agreement
    with the cubic map."""
    classified = classify_dataset(ds)["phase"]
    a = ds["a"].values
    window = _window(ds)
    tol = FINITE_TIME / window
    expected_codes = np.array([PHASE_CODES[p] for p in theory.phases_of(a)])
    claims = []
    for model_name in ds["model"].values:
        model_name = str(model_name)
        what_model = _MODEL_STEP.get(model_name, model_name)
        rows = _seed_rows(classified.sel(model=model_name), "seed")
        per_seed = [(labels, transition_brackets(a, codes)) for labels, codes in rows]
        for name, expected in theory.BOUNDARIES.items():
            before, after = name.split("|")
            brackets = [b[name] for _, b in per_seed]
            evidence = {"seed": [lab["seed"] for lab, _ in per_seed], "a_before": [b[0] for b in brackets],
                        "a_after": [b[1] for b in brackets]}
            estimate = grid_bracket(*hull(brackets), evidence, what=f"first step classified past {before}",
                                    n=len(brackets))
            claims.append(Claim.near(
                f"boundary_{model_name}_{boundary_id(name)}",
                f"Orthonormal data, {what_model}, {len(a)}-point step grid: GD's measured phase first passes {before} "
                f"(-> {after}) between two grid points (hull over {len(brackets)} seed(s)), within {tol:.4f} of the "
                f"cubic map's a = {expected:.4f}. Tolerance {FINITE_TIME:g}/W (W = {window} late steps): near a "
                "boundary a transient decays like exp(-2|a - a_b| k), so the period test settles after ~7/|a - a_b| "
                "steps",
                estimate, expected, tol))
        flags = np.concatenate([codes == expected_codes for _, codes in rows])
        evidence = {"a": np.tile(a, len(rows)), "seed": np.repeat([lab["seed"] for lab, _ in rows], len(a)),
                    "measured": [theory.PHASES[c] for _, codes in rows for c in codes],
                    "cubic_map": [theory.PHASES[c] for c in np.tile(expected_codes, len(rows))]}
        claims.append(Claim.at_least(
            f"bifurcation_phase_agreement_{model_name}",
            f"Orthonormal data, {what_model}: fraction of the {len(a)} step sizes (x seeds) whose GD trajectory's "
            f"measured phase equals the cubic map's (closed-form boundaries; periodic windows from the map's own "
            f"exponent) is >= {AGREEMENT_FRACTION}: misses only within the finite-time resolution of a boundary or "
            "window edge",
            fraction_ci(flags, evidence), AGREEMENT_FRACTION))
    if "phase_retrieval" in ds["model"].values:
        claims.append(_band_merging_claim(ds.sel(model="phase_retrieval"), tol))
    return claims


def _band_merging_claim(ds, tol: float) -> Claim:
    """Phase retrieval's signed coordinate: where its late iterates first take both signs."""
    a = ds["a"].values
    late = ds["step"].values >= int(ds.attrs["late_start"])
    v = ds["v"].transpose("seed", "a", "step").values[..., late]
    brackets = [band_merging_bracket(a, v_seed) for v_seed in v]
    evidence = {"seed": ds["seed"].values, "a_one_sign": [b[0] for b in brackets],
                "a_both_signs": [b[1] for b in brackets]}
    estimate = grid_bracket(*hull(brackets), evidence, what="first step whose late iterates v take both signs",
                            n=len(brackets))
    return Claim.near(
        "band_merging_phase_retrieval",
        f"Orthonormal phase retrieval, {len(a)}-point step grid: the late iterates v = (w . x_0)/sqrt(y) first take "
        f"both signs (the v > 0 and v < 0 chaotic bands merge; orbits stay bounded, divergence waits for a = 2) "
        f"between two grid points, within {tol:.4f} of the cubic map's crisis a = 3 sqrt(3)/2 - 1 = "
        f"{theory.A_MERGE:.4f} (the card's divergence value); same finite-time tolerance as the boundaries",
        estimate, theory.A_MERGE, tol)


def loss_curve_claim(ds, key: str, what: str, kind: str) -> Claim:
    """Fraction of the representative runs (model x step x seed) that show the cubic map's phase of their step."""
    phases = classify_dataset(ds)["phase"].transpose("model", "a", "seed")
    expected = np.array([PHASE_CODES[p] for p in theory.phases_of(ds["a"].values)])
    codes = phases.values
    flags = codes == expected[None, :, None]
    idx = np.indices(codes.shape).reshape(3, -1)
    evidence = {"model": ds["model"].values[idx[0]].tolist(), "a": ds["a"].values[idx[1]],
                "seed": ds["seed"].values[idx[2]], "measured": [theory.PHASES[c] for c in codes.ravel()],
                "cubic_map": [theory.PHASES[c] for c in expected[idx[1]]]}
    return Claim.at_least(
        key, f"{what}: fraction of the {flags.size} runs (models x one step per phase x seeds) whose measured phase is "
        f"the cubic map's for its step is >= {LOSS_CURVE_FRACTION} (one run in ten may fall on a neighbouring phase)",
        fraction_ci(flags.ravel(), evidence), LOSS_CURVE_FRACTION, kind=kind)


def _gaussian_boundary_claims(ds, phases) -> list[Claim]:
    """Every boundary per n on Gaussian data, as its distance to the orthonormal-data (cubic map) value."""
    a = ds["a"].values
    window = _window(ds)
    tol = FINITE_TIME / window
    claims = []
    for n in ds["n"].values:
        rows = _seed_rows(phases.sel(n=n), "seed")
        per_seed = [transition_brackets(a, codes) for _, codes in rows]
        for name, orthogonal in theory.BOUNDARIES.items():
            before, after = name.split("|")
            brackets = [b[name] for b in per_seed]
            evidence = {"seed": [lab["seed"] for lab, _ in rows], "a_before": [b[0] for b in brackets],
                        "a_after": [b[1] for b in brackets], "a_orthogonal": [orthogonal] * len(rows)}
            lo, hi = hull(brackets)
            estimate = grid_bracket(lo - orthogonal, hi - orthogonal, evidence, n=len(rows),
                                    what=f"distance of the first step classified past {before} to the orthonormal "
                                         f"a = {orthogonal:.4f}")
            resolution = (f"within {tol:.4f} = {FINITE_TIME:g}/W, W = {window} late steps (the finite-time "
                          "resolution of the orthonormal claims: a transient at |a - a_b| decays like "
                          "exp(-2|a - a_b| k))")
            if name == "catapult|periodic":
                statement = (f"Gaussian phase retrieval, n = {int(n)}: the step a = eta lambda_max/2 where the "
                             "classified GD trajectories stop converging (bracket between grid points, hull over "
                             "seeds) is the linear-stability limit a = 1 of the orthonormal case, exact on any data "
                             f"(top multiplier 1 - 2a = -1): distance to it {resolution}")
                kind = "theory"
            else:
                statement = (f"Gaussian phase retrieval, n = {int(n)}: the measured {name} boundary (the first "
                             f"step classified past {before}, bracket between grid points, hull over seeds) lies "
                             f"where the orthonormal case's is (the cubic map's a = {orthogonal:.4f}; the paper: the "
                             f"same five phases on Gaussian data): distance to it {resolution}")
                kind = "paper"
            claims.append(Claim.near(f"gaussian_boundary_{boundary_id(name)}_n{int(n)}", statement, estimate, 0.0,
                                     tol, kind=kind))
    return claims


def _all_phases_claim(ds, phases) -> Claim:
    a = ds["a"].values
    rows = _seed_rows(phases, "n", "seed")
    units = [(lab, name, phase_extent_bracket(a, codes, PHASE_CODES[name]))
             for lab, codes in rows for name in theory.PHASES]
    evidence = {"n": [lab["n"] for lab, _, _ in units], "seed": [lab["seed"] for lab, _, _ in units],
                "phase": [name for _, name, _ in units], "extent_lo": [b[0] for _, _, b in units],
                "extent_hi": [b[1] for _, _, b in units]}
    lab, name, (lo, hi) = min(units, key=lambda u: (u[2][0], u[2][1]))
    what = f"smallest phase extent ({name}, n = {lab['n']}, seed {lab['seed']})"
    estimate = grid_bracket(lo, hi, evidence, what=what, n=len(units))
    return Claim.above(
        "gaussian_all_five_phases",
        f"Gaussian phase retrieval over a = {a[0]:g}..{a[-1]:g} and n in {[int(v) for v in ds['n'].values]}: each of "
        "the five phases covers a step-size range of positive length for every n (smallest of the 5 x n x seeds "
        "extents, bracketed by the grid: a run of consecutive points in a phase covers at least their span)",
        estimate, 0.0)


def _lyapunov_claims(ds, phases) -> list[Claim]:
    lyap = phases["lyapunov"]
    test = periodicity_dataset(ds)
    dims = list(lyap.dims)
    chosen = {"periodic": (test["period"] >= 2).transpose(*dims).values,
              "aperiodic": test["aperiodic"].transpose(*dims).values}
    grid = {d: np.broadcast_to(ds[d].values.reshape([-1 if e == d else 1 for e in dims]), lyap.shape) for d in dims}

    def estimate(mask):
        evidence = {d: grid[d][mask] for d in ("a", "n", "seed") if d in grid}
        evidence["lyapunov"] = lyap.values[mask]
        evidence["mismatch"] = test["mismatch"].transpose(*dims).values[mask]
        return median_ci(lyap.values[mask], evidence)

    return [
        Claim.at_most(
            "gaussian_lyapunov_negative_periodic",
            "Gaussian phase retrieval (d = {d}, n > d): median top Lyapunov exponent (tangent vector through the "
            "exact Jacobian, late window) over the runs whose trajectory has a period >= 2 by the period test alone "
            "is <= 0 (an attracting cycle contracts)".format(d=ds.attrs.get("d", "?")),
            estimate(chosen["periodic"]), 0.0),
        Claim.at_least(
            "gaussian_lyapunov_positive_chaotic",
            "Gaussian phase retrieval (d = {d}, n > d): median top Lyapunov exponent over the runs that stay bounded "
            "and miss every period <= 64 by more than {m:g} (aperiodic by the period test alone, no exponent "
            "used to select them) is >= 0: chaos".format(d=ds.attrs.get("d", "?"), m=APERIODIC_MISMATCH),
            estimate(chosen["aperiodic"]), 0.0),
    ]


def gaussian_map_claims(ds) -> list[Claim]:
    """Stability boundary per n, all five phases, and the Lyapunov signs on the Gaussian phase map."""
    phases = classify_dataset(ds)
    return [*_gaussian_boundary_claims(ds, phases["phase"]), _all_phases_claim(ds, phases["phase"]),
            *_lyapunov_claims(ds, phases)]


def ergodic_claims(ds) -> list[Claim]:
    """Per step size whose runs oscillate (periodic or chaotic): the burn-in average's late fluctuation
    over the last iterate's."""
    phases = classify_dataset(ds)["phase"].transpose("a", "seed").values
    late = ds["step"].values > int(ds.attrs["late_start"])
    last = ds["test_error"].transpose("a", "seed", "step").values[..., late]
    averaged = ds["test_error_avg_late"].transpose("a", "seed", "step").values[..., late]
    ratio = late_fluctuation_ratio(averaged, last)
    oscillating = np.isin(phases, [PHASE_CODES["periodic"], PHASE_CODES["chaotic"]])
    window = _window(ds)
    claims = []
    for i, a in enumerate(ds["a"].values):
        keep = oscillating[i]
        if not keep.any():
            continue  # converging (catapult) steps: both fluctuations vanish, nothing to compare
        evidence = {"seed": ds["seed"].values[keep], "phase": [theory.PHASES[c] for c in phases[i][keep]],
                    "ratio": ratio[i][keep]}
        claims.append(Claim.at_most(
            f"ergodic_average_stabilises_test_error_a{a:g}",
            f"Two-layer net on Gaussian data, a = {a:g}, oscillating (periodic/chaotic) runs: median over seeds of "
            f"std(test error of the predictor averaged after a burn-in of {int(ds.attrs['late_start'])} steps) / "
            f"std(last iterate's), over the second half of the {window}-step late window, is <= {ERGODIC_RATIO_MAX}; "
            f"a linearly drifting sequence gives 1/2, an i.i.d. one ~{0.38 / np.sqrt(window):.3f}",
            median_ci(ratio[i][keep], evidence), ERGODIC_RATIO_MAX))
    return claims


def _orthogonal_claims(data, cfg) -> list[Claim]:
    return [loss_curve_claim(data["orthogonal"], "orthogonal_loss_curves_phases",
                             "Orthonormal data, phase retrieval and two-layer net", kind="theory")]


def _gaussian_loss_claims(data, cfg) -> list[Claim]:
    return [loss_curve_claim(data["gaussian_losses"], "gaussian_loss_curves_phases",
                             "Gaussian data, phase retrieval and two-layer net (the paper: the same five "
                             "phases as on orthonormal data)", kind="paper")]


# each group with the experiments it reads (a paper scale with some jobs run as slices only
# measures the groups of the jobs that ran whole)
CLAIM_GROUPS = (
    ClaimGroup(("bifurcation",), lambda data, cfg: bifurcation_claims(data["bifurcation"])),
    ClaimGroup(("orthogonal",), _orthogonal_claims),
    ClaimGroup(("gaussian_losses",), _gaussian_loss_claims),
    ClaimGroup(("gaussian_phase_map",), lambda data, cfg: gaussian_map_claims(data["gaussian_phase_map"])),
    ClaimGroup(("generalization",), lambda data, cfg: ergodic_claims(data["generalization"])),
)


def measure_claims(data: dict, cfg: dict) -> list[Claim]:
    return measure_groups(CLAIM_GROUPS, data, cfg)
