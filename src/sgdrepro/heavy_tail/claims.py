"""Claims of heavy_tail, measured from the stored trajectories against the theory of h(alpha) = 1.

The expected values come from the theory alone (the closed-form border eta*, the quadrature
root of h(alpha) = 1, its monotonicity); the measured values from the stored SGD errors
alone. Intervals of the linear-regression claims are percentile bootstraps over chains
(:mod:`chains`: every grid point re-estimated from resampled chains, then reduced), those of
the network claim a bootstrap over runs. Thresholds: the config's ``analysis`` block (the
estimator's tolerance ``rel_tolerance``, the fraction of grid points ``required_fraction``,
the range ``alpha_range`` where Hill resolves alpha, the growth rate ``growth_tolerance`` that
tells a growing chain from a stationary one) and the constants below. A grid point without a
stationary law (:func:`analysis.stationary_law`) enters no tail-index claim.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sgdrepro.core.claims import Claim, ClaimGroup, Estimate, bootstrap_ci, measure_groups

from .analysis import mlp_estimates, spearman
from .chains import (
    ChainPoint,
    alpha_averaged,
    alpha_block,
    alpha_hill,
    bootstrap_over_chains,
    chain_points,
)
from .theory import tail_index, variance_border_lr

__all__ = [
    "CLAIM_IDS",
    "CLAIM_GROUPS",
    "TRENDS",
    "averaged_claims",
    "averaged_match_claims",
    "averaged_ordering_claims",
    "block_match_claims",
    "border_claims",
    "finite_data_claims",
    "hill_match_claims",
    "measure_claims",
    "mlp_claims",
    "monotonicity_claims",
    "stationarity_claims",
    "trend_claim",
    "variance_claims",
]

RANK_BOUND = 0.8  # |Spearman rho| required for a monotone trend (theory: 1; room for estimator noise)
BLOCK_ALPHA_MAX = 1.5  # the block-sum estimator is consistent below 2 and biased towards 2 near it
# the block-sum bootstrap re-sums every sample 4000 times: beyond this many samples per point
# (paper scale: 3.2 million) its records are thinned evenly (quick and tiny scales: not thinned)
BLOCK_BOOTSTRAP_SAMPLES = 2**16
_SLOPE_STEP = 1e-3  # relative step of the central difference d log alpha / d log eta at the border
# a point's margin in units of the growth tolerance is clipped here: a diverged chain's +inf rate
# is as decisive as 100 tolerances, and percentile intervals need finite replicates
_MARGIN_CLIP = 100.0

CLAIM_IDS = (
    r"variance_border_b\d+",
    r"infinite_variance_lr[\d.]+_b\d+",
    r"finite_variance_lr[\d.]+_b\d+",
    r"alpha_matches_theory_(linreg|linreg_dim|linreg_sigma)",
    r"alpha_matches_theory_d1",
    r"block_estimator_matches_theory",
    r"alpha_decreasing_in_lr",
    r"alpha_increasing_in_batch",
    r"alpha_decreasing_in_sigma",
    r"alpha_decreasing_in_dim",
    r"finite_data_matches_streaming",
    r"averaged_iterates_match_theory",
    r"averaged_iterates_heavier_at_larger_lr",
    r"stationarity_matches_lyapunov_sign",
    r"mlp_alpha_decreasing_in_lr_over_b",
)


def _no_points(what: str, evidence) -> Estimate:
    return Estimate(math.nan, (math.nan, math.nan), "none", evidence, 0, reason=f"no grid point {what}",
                    assessable=False)


def _first_line(points):
    """The points of the grid's first (dim, sigma): the (eta, b) plane of the main experiment."""
    d, sigma = points[0].dim, points[0].sigma
    return [p for p in points if p.dim == d and p.sigma == sigma], d, sigma


def _n_units(*groups) -> int:
    return max(p.n_chains for points in groups for p in points)


# ---------------------------------------------------------------- the variance border


def crossing(lrs, alphas, level: float = 2.0) -> float:
    """First step size where ``alphas`` (along increasing ``lrs``) pass ``level``, interpolating
    log alpha linearly in log eta between neighbouring grid points; nan if they never do."""
    lrs, alphas = np.asarray(lrs, float), np.asarray(alphas, float)
    keep = np.isfinite(alphas) & (alphas > 0)
    lrs, alphas = lrs[keep], alphas[keep]
    for i in range(len(lrs) - 1):
        a0, a1 = alphas[i], alphas[i + 1]
        if (a0 - level) * (a1 - level) <= 0 and a0 != a1:
            t = (math.log(level) - math.log(a0)) / (math.log(a1) - math.log(a0))
            return float(math.exp(math.log(lrs[i]) + t * (math.log(lrs[i + 1]) - math.log(lrs[i]))))
    return math.nan


def border_tolerance(b: int, d: int, sigma: float, lrs, rel_tol: float) -> tuple[float, float, float]:
    """(relative tolerance, theory slope d log alpha / d log eta at eta*, interpolation part).

    An estimator off by a factor (1 + rel_tol) moves the crossing by (1 + rel_tol)^(1/|slope|) - 1;
    interpolating between grid points moves it by |crossing of the theory values / eta* - 1|.
    The tolerance is their sum.
    """
    border = float(variance_border_lr(b, d, sigma))
    up, down = (tail_index(border * (1 + s * _SLOPE_STEP), b, d, sigma) for s in (1, -1))
    slope = (math.log(up) - math.log(down)) / (math.log1p(_SLOPE_STEP) - math.log1p(-_SLOPE_STEP))
    interpolation = abs(crossing(lrs, [tail_index(float(lr), b, d, sigma) for lr in lrs]) / border - 1.0)
    return (1.0 + rel_tol) ** (1.0 / abs(slope)) - 1.0 + interpolation, slope, interpolation


def border_claims(points, analysis) -> list[Claim]:
    """Per batch size whose border eta* lies strictly inside the lr grid: the estimated alpha crosses 2 at eta*."""
    line, d, sigma = _first_line(points)
    k_fraction, rel_tol = float(analysis["hill_k_fraction"]), float(analysis["rel_tolerance"])
    claims = []
    for b in sorted({p.batch_size for p in line}):
        at_b = sorted((p for p in line if p.batch_size == b), key=lambda p: p.lr)
        lrs = [p.lr for p in at_b]
        border = float(variance_border_lr(b, d, sigma))
        if not lrs[0] < border < lrs[-1]:
            continue
        tol, slope, interpolation = border_tolerance(b, d, sigma, lrs, rel_tol)
        hills = [alpha_hill(p, np.arange(p.n_chains), k_fraction) for p in at_b]
        evidence = {"lr": lrs, "alpha_hill": hills, "alpha_theory": [p.alpha_theory for p in at_b],
                    "border_lr": border, "theory_slope": slope, "interpolation_part": interpolation}
        estimate = bootstrap_over_chains(
            _n_units(at_b), lambda idx, at_b=at_b: crossing([p.lr for p in at_b], [alpha_hill(p, idx, k_fraction) for p in at_b]),
            evidence=evidence, what="step size where the Hill alpha crosses 2")
        claims.append(Claim.near(
            f"variance_border_b{b}",
            f"b = {b}, d = {d}, sigma = {sigma:g}: the step size where the Hill estimates of alpha cross 2 (log alpha "
            f"interpolated linearly in log eta between grid points) lies within {tol:.1%} of the closed-form border "
            f"eta* = 2b/(sigma^2 (d+b+1)) = {border:.4g} where theory alpha = 2. Tolerance: a {rel_tol:.0%} error of "
            f"alpha (the estimator tolerance) shifts the crossing by {tol - interpolation:.1%} at the theory slope "
            f"d log alpha/d log eta = {slope:.2f}, plus {interpolation:.1%} for interpolating the theory itself on this grid",
            estimate, border, tol * border))
    return claims


def variance_claims(points, analysis) -> list[Claim]:
    """Per (eta, b) point of the main plane whose theory alpha is well below (above) 2: the Hill
    estimate lies below (above) 2 with its whole interval."""
    line, d, sigma = _first_line(points)
    k_fraction, rel_tol = float(analysis["hill_k_fraction"]), float(analysis["rel_tolerance"])
    low, high = 2.0 / (1.0 + rel_tol), 2.0 * (1.0 + rel_tol)
    claims = []
    for p in sorted(line, key=lambda p: (p.batch_size, p.lr)):
        if not (p.stationary and math.isfinite(p.alpha_theory) and (p.alpha_theory <= low or p.alpha_theory >= high)):
            continue
        whole = np.arange(p.n_chains)
        evidence = {"lr": p.lr, "batch_size": p.batch_size, "alpha_theory": p.alpha_theory,
                    "alpha_hill": alpha_hill(p, whole, k_fraction),
                    "alpha_block": alpha_block(p, whole, tuple(analysis["block_sizes"])),
                    "chains_alive": int(p.alive.sum())}
        estimate = bootstrap_over_chains(p.n_chains, lambda idx, p=p: alpha_hill(p, idx, k_fraction),
                                         evidence=evidence, what="Hill alpha")
        where = f"eta = {p.lr:g}, b = {p.batch_size} (d = {d}, sigma = {sigma:g}, theory alpha = {p.alpha_theory:.3g}"
        reason = f"a {rel_tol:.0%} estimator error cannot carry it across 2"
        if p.alpha_theory <= low:
            claims.append(Claim.below(
                f"infinite_variance_lr{p.lr:g}_b{p.batch_size}",
                f"{where} <= 2/(1 + {rel_tol:g}) = {low:.3g}: {reason}): the Hill estimate of alpha is below 2, its whole "
                "95% interval (infinite variance although the data are Gaussian)", estimate, 2.0))
        else:
            claims.append(Claim.above(
                f"finite_variance_lr{p.lr:g}_b{p.batch_size}",
                f"{where} >= 2 (1 + {rel_tol:g}) = {high:.3g}: {reason}): the Hill estimate of alpha is above 2, its whole "
                "95% interval (finite variance)", estimate, 2.0))
    return claims


# ---------------------------------------------------------------- estimates against theory


def _in_range(point, lo: float, hi: float) -> bool:
    return point.stationary and math.isfinite(point.alpha_theory) and lo <= point.alpha_theory <= hi


def _relative_errors(points, idx, estimate):
    return np.array([abs(estimate(p, idx) / p.alpha_theory - 1.0) for p in points])


def _match_claim(id, statement, points, estimate, analysis, quantile):
    """``quantile`` of |alpha_hat / alpha - 1| over ``points`` is at most rel_tolerance."""
    rel_tol = float(analysis["rel_tolerance"])
    if not points:
        return Claim.at_most(id, statement, _no_points("in the compared range", []), rel_tol)
    whole = [estimate(p, np.arange(p.n_chains)) for p in points]
    evidence = {"lr": [p.lr for p in points], "batch_size": [p.batch_size for p in points],
                "dim": [p.dim for p in points], "sigma": [p.sigma for p in points],
                "alpha_theory": [p.alpha_theory for p in points], "alpha_hat": whole}
    value = bootstrap_over_chains(
        _n_units(points), lambda idx: float(np.quantile(_relative_errors(points, idx, estimate), quantile)),
        evidence=evidence, what=f"{quantile:g}-quantile over {len(points)} grid points of |alpha_hat/alpha - 1|")
    return Claim.at_most(id, statement, value, rel_tol)


def hill_match_claims(grids: dict, analysis) -> list[Claim]:
    """Hill estimates match the theory on every synthetic grid, and in d = 1."""
    lo, hi = analysis["alpha_range"]
    rel_tol, required = float(analysis["rel_tolerance"]), float(analysis["required_fraction"])
    k_fraction = float(analysis["hill_k_fraction"])
    hill = lambda p, idx: alpha_hill(p, idx, k_fraction)
    claims = []
    for name, points in grids.items():
        use = [p for p in points if _in_range(p, lo, hi)]
        claims.append(_match_claim(
            f"alpha_matches_theory_{name}",
            f"{name}: at {required:.0%} of the grid points with theory alpha in [{lo:g}, {hi:g}] ({len(use)} points; "
            f"where Hill resolves alpha), the Hill estimate is within {rel_tol:.0%} of the theoretical alpha (root of "
            f"h(alpha) = 1): the {required:g}-quantile of |alpha_hat/alpha - 1| is at most {rel_tol:g} (Hill sampling "
            "error plus tail bias)", use, hill, analysis, required))
    if any(p.dim == 1 for p in grids.get("linreg_dim", [])):
        d1 = [p for p in grids["linreg_dim"] if p.dim == 1 and _in_range(p, lo, hi)]
        claims.append(_match_claim(
            "alpha_matches_theory_d1",
            f"d = 1 (exact theory E|1 - (eta/b) sigma^2 chi2_b|^alpha = 1): at every point of linreg_dim with theory alpha "
            f"in [{lo:g}, {hi:g}] ({len(d1)} points) the Hill estimate is within {rel_tol:.0%} of alpha (the largest "
            "|alpha_hat/alpha - 1|)", d1, hill, analysis, 1.0))
    return claims


def _block_stride(point: ChainPoint) -> int:
    return max(1, math.ceil(point.errors.size / BLOCK_BOOTSTRAP_SAMPLES))


def _thinned(point: ChainPoint, stride: int) -> ChainPoint:
    """``point`` with every ``stride``-th record, for the block-sum estimator (its Hill table is the original's)."""
    if stride == 1:
        return point
    return replace(point, errors=point.errors[:, ::stride], memo={})


def block_match_claims(grids: dict, analysis) -> list[Claim]:
    """The paper's block-sum estimator matches the theory where alpha is well below 2 (pooled grids)."""
    lo = analysis["alpha_range"][0]
    rel_tol, required = float(analysis["rel_tolerance"]), float(analysis["required_fraction"])
    blocks = tuple(analysis["block_sizes"])
    pooled = [p for points in grids.values() for p in points if _in_range(p, lo, BLOCK_ALPHA_MAX)]
    stride = max((_block_stride(p) for p in pooled), default=1)
    pooled = [_thinned(p, stride) for p in pooled]
    thinning = f" Records thinned to every {stride}th (bootstrap cost)." if stride > 1 else ""
    return [_match_claim(
        "block_estimator_matches_theory",
        f"the paper's block-sum estimator (median over block sizes {list(blocks)}) is within {rel_tol:.0%} of the "
        f"theoretical alpha at {required:.0%} of the grid points of {', '.join(grids)} with theory alpha in [{lo:g}, "
        f"{BLOCK_ALPHA_MAX:g}] ({len(pooled)} points; it estimates min(alpha, 2) and is biased towards 2 near it). "
        "A resample may put one chain twice in a block, which biases a replicate by about 2% (small against the "
        f"tolerance).{thinning}", pooled, lambda p, idx: alpha_block(p, idx, blocks), analysis, required)]


def finite_data_claims(points, analysis) -> list[Claim]:
    """SGD on one finite data set (the authors' code) has the tail index of the streaming theory."""
    lo, hi = analysis["alpha_range"]
    rel_tol, required = float(analysis["rel_tolerance"]), float(analysis["required_fraction"])
    k_fraction = float(analysis["hill_k_fraction"])
    use = [p for p in points if _in_range(p, lo, hi)]
    return [_match_claim(
        "finite_data_matches_streaming",
        f"multi-pass SGD on one fixed data set (mini-batches without replacement, error to the least-squares "
        f"solution; the authors' setting) has the tail index of the streaming theory: at {required:.0%} of its grid "
        f"points with theory alpha in [{lo:g}, {hi:g}] ({len(use)} points) the Hill estimate is within {rel_tol:.0%} of "
        "the streaming theory's alpha (the same test streaming SGD passes in alpha_matches_theory_linreg)",
        use, lambda p, idx: alpha_hill(p, idx, k_fraction), analysis, required)]


def averaged_claims(points, analysis) -> list[Claim]:
    """The claims on the authors' estimate from the averaged iterates (finite-data setting)."""
    return [*averaged_match_claims(points, analysis), *averaged_ordering_claims(points, analysis)]


def averaged_match_claims(points, analysis) -> list[Claim]:
    """The authors' estimate: the block-sum estimator on the norms of the averaged iterates after
    burn-in (one vector per chain) gives the theory's alpha where alpha < 2 (generalized CLT: the
    ergodic average of a chain with tail index alpha < 2 is attracted to an alpha-stable law)."""
    lo = analysis["alpha_range"][0]
    rel_tol, required = float(analysis["rel_tolerance"]), float(analysis["required_fraction"])
    blocks = tuple(analysis["block_sizes"])
    use = [p for p in points if p.averages is not None and _in_range(p, lo, BLOCK_ALPHA_MAX)]
    n = max((p.n_chains for p in use), default=0)
    return [_match_claim(
        "averaged_iterates_match_theory",
        f"the authors' estimate on their setting (one fixed data set): the block-sum estimator on the norms of the "
        f"{n} averaged iterates x_bar - x_LS after burn-in (one vector per chain; median over block sizes {list(blocks)} "
        f"with at least two blocks) is within {rel_tol:.0%} of the streaming theory's alpha at {required:.0%} of the "
        f"stationary grid points with theory alpha in [{lo:g}, {BLOCK_ALPHA_MAX:g}] ({len(use)} points: the stable "
        "regime, where the generalized CLT makes the average alpha-stable with the iterates' alpha). Interval: "
        "bootstrap over chains, each replicate on its distinct chains (no chain summed with itself; conservative)",
        use, lambda p, idx: alpha_averaged(p, idx, blocks), analysis, required)]


def _inverse(alpha: float) -> float:
    """1/alpha_hat, what the block-sum estimator measures linearly (alpha_hat = inf: 1/alpha_hat = 0)."""
    return 1.0 / alpha if alpha > 0 else math.nan


def averaged_ordering_claims(points, analysis) -> list[Claim]:
    """Along each batch size whose largest step size is well inside the stable regime (theory
    alpha <= 2/(1 + rel_tolerance)) and whose smallest step size's min(alpha, 2) is larger by the
    factor (1 + rel_tolerance): the averaged estimate of 1/alpha at the largest eta is above that at
    the smallest (1/alpha: finite even where a small sample's block-sum estimate is infinite)."""
    rel_tol = float(analysis["rel_tolerance"])
    blocks = tuple(analysis["block_sizes"])
    lines = {}
    for p in points:
        if p.averages is not None and p.stationary and math.isfinite(p.alpha_theory):
            lines.setdefault((p.batch_size, p.dim, p.sigma), []).append(p)
    pairs = []
    for line in lines.values():
        small, large = min(line, key=lambda p: p.lr), max(line, key=lambda p: p.lr)
        if large.alpha_theory <= 2.0 / (1.0 + rel_tol) and min(small.alpha_theory, 2.0) >= (1.0 + rel_tol) * large.alpha_theory:
            pairs.append((small, large))
    whole = [(alpha_averaged(s, np.arange(s.n_chains), blocks), alpha_averaged(g, np.arange(g.n_chains), blocks))
             for s, g in pairs]

    def effect(idx) -> float:
        return float(np.mean([_inverse(alpha_averaged(g, idx, blocks)) - _inverse(alpha_averaged(s, idx, blocks))
                              for s, g in pairs]))

    evidence = {"batch_size": [s.batch_size for s, _ in pairs], "lr_small": [s.lr for s, _ in pairs],
                "lr_large": [g.lr for _, g in pairs], "alpha_theory_small": [s.alpha_theory for s, _ in pairs],
                "alpha_theory_large": [g.alpha_theory for _, g in pairs],
                "alpha_averaged_small": [w[0] for w in whole], "alpha_averaged_large": [w[1] for w in whole]}
    if not pairs:
        estimate = _no_points("pair (smallest, largest eta) with the largest in the stable regime", evidence)
    else:
        estimate = bootstrap_over_chains(
            _n_units([p for pair in pairs for p in pair]), effect, evidence=evidence,
            what="mean over batch sizes of 1/alpha_hat(largest eta) - 1/alpha_hat(smallest eta), averaged iterates")
    return [Claim.above(
        "averaged_iterates_heavier_at_larger_lr",
        f"the authors' estimate (block-sum on the norms of the averaged iterates, one fixed data set) sees the step "
        f"size: at each batch size whose largest eta is well inside the stable regime (theory alpha <= 2/(1 + "
        f"{rel_tol:g}), and whose smallest eta has min(alpha, 2) larger by the factor 1 + {rel_tol:g}; {len(pairs)} "
        "of them) the averaged iterates' tails are heavier at the largest eta: 1/alpha_hat there minus 1/alpha_hat at "
        "the smallest eta, averaged over those batch sizes, is positive with its whole 95% interval (bootstrap over "
        "chains, distinct chains per replicate)", estimate, 0.0)]


def _growth_margins(points, idx, tolerance: float) -> np.ndarray:
    """Per point, sign(lambda) (measured growth rate - tolerance) / tolerance from the resampled
    chains ``idx`` (medians over chains, points with equal chain counts at once): > 0 where the
    measured classification agrees with the theory's sign."""
    idx = np.asarray(idx, dtype=np.int64)
    margins = np.empty(len(points))
    for n_chains in {p.n_chains for p in points}:
        at = [i for i, p in enumerate(points) if p.n_chains == n_chains]
        rates = np.stack([points[i].growth for i in at])[:, idx[idx < n_chains]]
        medians = np.median(rates, axis=1) if rates.shape[1] else np.full(len(at), math.nan)
        signs = np.array([math.copysign(1.0, points[i].lyapunov) for i in at])
        margins[at] = np.clip(signs * (medians - tolerance) / tolerance, -_MARGIN_CLIP, _MARGIN_CLIP)
    return margins


def stationarity_claims(grids: dict, analysis) -> list[Claim]:
    """The measured growth rule (:func:`analysis.stationary_law` without theory, the one the
    finite-data setting uses) agrees with the sign of the theory's top Lyapunov exponent on the
    streaming grids: a point grows (no stationary law) exactly where E log||M e_1|| > 0."""
    tolerance = float(analysis["growth_tolerance"])
    names = {id(p): name for name, points in grids.items() for p in points}
    pooled = [p for points in grids.values() for p in points if abs(p.lyapunov) > tolerance]
    if not pooled:
        return [Claim.at_least("stationarity_matches_lyapunov_sign", "no streaming grid point with |lambda| > tolerance",
                               _no_points(f"with |E log||M e_1||| > {tolerance:g}", []), 0.0)]
    whole = [float(np.median(p.growth)) for p in pooled]
    evidence = {"experiment": [names[id(p)] for p in pooled], "lr": [p.lr for p in pooled],
                "batch_size": [p.batch_size for p in pooled], "dim": [p.dim for p in pooled],
                "sigma": [p.sigma for p in pooled], "lyapunov_theory": [p.lyapunov for p in pooled],
                "growth_rate": whole, "grows_measured": [g > tolerance for g in whole],
                "margin_in_tolerances": _growth_margins(pooled, np.arange(_n_units(pooled)), tolerance)}
    estimate = bootstrap_over_chains(
        _n_units(pooled), lambda idx: float(np.min(_growth_margins(pooled, idx, tolerance))), evidence=evidence,
        what=f"smallest over {len(pooled)} grid points of sign(lambda) (growth rate - tolerance) / tolerance")
    n_pos = sum(p.lyapunov > 0 for p in pooled)
    return [Claim.at_least(
        "stationarity_matches_lyapunov_sign",
        f"{', '.join(grids)}: a grid point's iterates grow, the median over chains of the least-squares slope of "
        f"log||x_k - x*|| on k above {tolerance:g} per step, exactly where the theory's top Lyapunov exponent E log||M "
        f"e_1|| is positive (no stationary law; Theorem 2), at all {len(pooled)} points with |E log||M e_1||| > "
        f"{tolerance:g} ({n_pos} with lambda > 0): the smallest over points of sign(lambda) (growth rate - "
        f"{tolerance:g}) / {tolerance:g} is >= 0. This is the rule that classifies the finite-data points, which "
        "have no theory; its tolerance absorbs the transient of stationary chains still climbing to their level",
        estimate, 0.0)]


# ---------------------------------------------------------------- monotonicity


def _lines(points, along: str) -> list[list]:
    """The points grouped by every setting of the coordinates other than ``along``, each line
    holding its points with a stationary law (finite theory); lines of at least 3 points."""
    others = [name for name in ("lr", "batch_size", "dim", "sigma") if name != along]
    lines = {}
    for p in points:
        if p.stationary and math.isfinite(p.alpha_theory):
            lines.setdefault(tuple(getattr(p, name) for name in others), []).append(p)
    return [line for line in lines.values() if len(line) >= 3]


def _mean_rank(lines, along: str, idx, k_fraction) -> float:
    """Mean over ``lines`` of Spearman rho(``along``, Hill alpha from the resampled chains ``idx``)."""
    rhos = [spearman([getattr(p, along) for p in line], [alpha_hill(p, idx, k_fraction) for p in line]) for line in lines]
    return float(np.mean(rhos))


# claim id: (experiment, coordinate, sign of the theory's trend, what is stated)
TRENDS = {
    "alpha_decreasing_in_lr": ("linreg", "lr", -1, "falls as eta grows at fixed b (mean over b)"),
    "alpha_increasing_in_batch": ("linreg", "batch_size", 1, "rises with b at fixed eta (mean over eta)"),
    "alpha_decreasing_in_sigma": ("linreg_sigma", "sigma", -1, "falls as sigma grows (mean over eta)"),
    "alpha_decreasing_in_dim": ("linreg_dim", "dim", -1, "falls as d grows (mean over eta)"),
}


def trend_claim(id: str, grids: dict, analysis) -> Claim:
    """One of :data:`TRENDS` (paper, Theorem 4: alpha falls with eta, sigma, d and rises with b) as a
    rank correlation of the Hill estimates with the coordinate."""
    name, along, sign, what = TRENDS[id]
    k_fraction = float(analysis["hill_k_fraction"])
    points = grids[name]
    evidence = {along: [getattr(p, along) for p in points], "alpha_theory": [p.alpha_theory for p in points],
                "alpha_hill": [alpha_hill(p, np.arange(p.n_chains), k_fraction) for p in points]}
    lines = _lines(points, along)
    if not lines:
        estimate = _no_points(f"line of 3 values of {along} with a stationary law", evidence)
    else:
        estimate = bootstrap_over_chains(_n_units(points), lambda idx: _mean_rank(lines, along, idx, k_fraction),
                                         evidence=evidence, what=f"mean Spearman rho({along}, Hill alpha)")
    statement = (f"{name}: alpha {what}: the mean Spearman rho({along}, Hill alpha) over the lines with a stationary "
                 f"law is {'<= -' if sign < 0 else '>= '}{RANK_BOUND:g} (theory: alpha strictly monotone, rho = "
                 f"{sign:+d}; the bound leaves room for estimator noise between neighbouring settings)")
    return (Claim.at_most if sign < 0 else Claim.at_least)(id, statement, estimate, sign * RANK_BOUND)


def monotonicity_claims(grids: dict, analysis) -> list[Claim]:
    return [trend_claim(id, grids, analysis) for id in TRENDS]


# ---------------------------------------------------------------- networks


def _mean_layer_rank(rows: np.ndarray) -> float:
    """rows [run, 1 + layers]: eta/b then each layer's alpha; mean over layers of Spearman rho."""
    return float(np.mean([spearman(rows[:, 0], rows[:, j]) for j in range(1, rows.shape[1])]))


def mlp_claims(ds, analysis) -> list[Claim]:
    """In the networks the weights' tail index falls as eta / b rises: a rank ordering over runs."""
    est = mlp_estimates(ds, analysis)
    ratio = est.lr_over_b.broadcast_like(est.alpha_block.isel(layer=0)).transpose("lr", "batch_size", "seed")
    alphas = est.alpha_block.transpose("lr", "batch_size", "seed", "layer").values.reshape(-1, est.sizes["layer"])
    rows = np.column_stack([ratio.values.ravel(), alphas])
    evidence = {"lr_over_b": rows[:, 0]} | {f"alpha_block_layer{int(l)}": rows[:, 1 + j] for j, l in enumerate(est.layer.values)}
    estimate = bootstrap_ci(rows, _mean_layer_rank, evidence=evidence,
                            what="mean over layers of Spearman rho(eta/b, block-sum alpha) over runs")
    return [Claim.below(
        "mlp_alpha_decreasing_in_lr_over_b",
        f"bias-free ReLU networks ({ds.attrs.get('layer_sizes', '')} on {ds.attrs.get('dataset', '')}): the weights' "
        f"tail index falls as eta/b rises: the mean over layers of Spearman rho(eta/b, block-sum alpha) over the "
        f"{rows.shape[0]} runs (diverged runs dropped) is negative, its whole 95% interval (bootstrap over runs)",
        estimate, 0.0)]


_LINREG_GRIDS = ("linreg", "linreg_dim", "linreg_sigma")


def _linreg_claims(data, cfg) -> list[Claim]:
    a = cfg["analysis"]
    tolerance = float(a["growth_tolerance"])
    grids = {name: chain_points(data[name], tolerance) for name in _LINREG_GRIDS}  # once for the six families
    return [
        *border_claims(grids["linreg"], a),
        *variance_claims(grids["linreg"], a),
        *hill_match_claims(grids, a),
        *block_match_claims(grids, a),
        *monotonicity_claims(grids, a),
        *stationarity_claims(grids, a),
    ]


def _finite_claims(data, cfg) -> list[Claim]:
    a = cfg["analysis"]
    points = chain_points(data["linreg_finite"], float(a["growth_tolerance"]))
    return [*finite_data_claims(points, a), *averaged_claims(points, a)]


# each group with the experiments it reads (a paper scale with some jobs run as slices only
# measures the groups of the jobs that ran whole)
CLAIM_GROUPS = (
    ClaimGroup(_LINREG_GRIDS, _linreg_claims),
    ClaimGroup(("linreg_finite",), _finite_claims),
    ClaimGroup(("mlp",), lambda data, cfg: mlp_claims(data["mlp"], cfg["analysis"])),
)


def measure_claims(data, cfg):
    return measure_groups(CLAIM_GROUPS, data, cfg)
