"""Every heavy_tail claim fails on an input without the paper's effect, and passes on its counterpart.

Inputs are small synthetic datasets with the structure of the stored ones: iterate errors of
``n_chains`` chains per grid point drawn from a symmetric Pareto law, P(|x| > t) = t^-alpha,
whose tail index is the theory's alpha at that point (the counterpart: the law the paper
predicts) or a wrong one (the falsifier: a Gaussian, a tail index off by a factor, the theory
read at a reversed coordinate, ...). The claims are measured by the same functions
``measure_claims`` calls, with the thresholds of the quick scale.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from sgdrepro.core.config import load_config
from conftest import assert_falsified

from sgdrepro.heavy_tail import claims as C
from sgdrepro.heavy_tail.chains import alpha_hill, chain_points
from sgdrepro.heavy_tail.measures import symmetric_pareto, symmetric_stable
from sgdrepro.heavy_tail.theory import lyapunov_exponent, tail_index

REPO = Path(__file__).resolve().parents[2]
ANALYSIS = load_config(REPO / "config")["heavy_tail"]["quick"]["analysis"]
TOL = float(ANALYSIS["growth_tolerance"])

# the quick scale's grids
MAIN = {"lr": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0], "batch_size": [1, 2, 4], "dim": [2], "sigma": [1.0]}
DIM = {"lr": [0.4, 0.55], "batch_size": [2], "dim": [1, 2, 3, 4, 5], "sigma": [1.0]}
SIGMA = {"lr": [0.4], "batch_size": [2], "dim": [2], "sigma": [0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]}
FINITE = {"lr": [0.4, 0.6, 0.8], "batch_size": [1, 2, 4], "dim": [2], "sigma": [1.0]}
# four points with theory alpha in [0.5, 1.5] (1.3, 0.79; 1.48, 1.07), where the block-sum claim looks
BLOCK = {"lr": [0.6, 0.7, 0.9, 1.0], "batch_size": [1, 2], "dim": [2], "sigma": [1.0]}
N_CHAINS, N_RECORDS = 64, 150  # 19,200 values per point in d = 2: Hill on the top 1% has ~7% error
HEAVIEST = 0.2  # tail index given to a point without a stationary law (theory nan: no contraction)


def theory(lr, b, d, sigma) -> float:
    alpha = tail_index(lr, b, d, sigma)
    return HEAVIEST if not math.isfinite(alpha) else min(alpha, 50.0)


def linreg_dataset(grid: dict, alpha_of, law: str = "pareto", n_chains: int = N_CHAINS,
                   n_records: int = N_RECORDS, growth_of=None, averaged: str = "stable") -> xr.Dataset:
    """A dataset shaped like linreg.nc: ``error`` [lr, batch_size, dim, sigma, seed, step, coord]
    drawn from ``law`` with tail index ``alpha_of(lr, b, d, sigma)``, no chain diverged, times
    e^(g k) at record k with g = ``growth_of(lr, b, d, sigma)`` (default 0: stationary); and, as
    linreg_finite.nc, ``error_avg`` [..., seed, coord], one averaged vector per chain, drawn from the
    ``averaged`` law: symmetric alpha-stable with min(alpha, 2) (the generalized CLT's), Gaussian, or
    ("flat") alpha-stable with alpha = 1.2 at every point."""
    dims = ("lr", "batch_size", "dim", "sigma")
    shape = tuple(len(grid[name]) for name in dims)
    d_max = max(grid["dim"])
    error = np.full(shape + (n_chains, n_records, d_max), np.nan)
    error_avg = np.full(shape + (n_chains, d_max), np.nan)
    for seed, index in enumerate(np.ndindex(*shape)):
        lr, b, d, sigma = (grid[name][i] for name, i in zip(dims, index))
        size = (n_chains, n_records, d)
        if law == "gaussian":
            draws = np.random.default_rng(seed).standard_normal(size)
        elif law == "stable":
            draws = symmetric_stable(min(alpha_of(lr, b, d, sigma), 2.0), size, seed)
        else:
            draws = symmetric_pareto(alpha_of(lr, b, d, sigma), size, seed)
        if growth_of is not None:
            draws = draws * np.exp(growth_of(lr, b, d, sigma) * np.arange(n_records))[None, :, None]
        error[index][..., :d] = draws
        if averaged == "gaussian":
            error_avg[index][:, :d] = np.random.default_rng(1000 + seed).standard_normal((n_chains, d))
        else:
            alpha_avg = 1.2 if averaged == "flat" else min(alpha_of(lr, b, d, sigma), 2.0)
            error_avg[index][:, :d] = symmetric_stable(alpha_avg, (n_chains, d), 1000 + seed)
    coords = {name: grid[name] for name in dims} | {"seed": np.arange(n_chains), "step": np.arange(n_records),
                                                   "coord": np.arange(d_max)}
    return xr.Dataset({"error": ((*dims, "seed", "step", "coord"), error),
                       "error_avg": ((*dims, "seed", "coord"), error_avg),
                       "diverged_step": ((*dims, "seed"), np.full(shape + (n_chains,), -1))}, coords=coords)


def lyapunov_growth(lr, b, d, sigma) -> float:
    """The growth per record of the law the paper predicts: e^(lambda k) where E log||M e_1|| = lambda > 0, none else."""
    return max(lyapunov_exponent(lr, b, d, sigma), 0.0)


def reversed_along(name: str, grid: dict):
    """The theory's alpha read at the mirror image of the point's ``name`` coordinate (trend reversed)."""
    values = list(grid[name])
    mirror = dict(zip(values, values[::-1]))

    def alpha_of(lr, b, d, sigma):
        point = {"lr": lr, "batch_size": b, "dim": d, "sigma": sigma}
        point[name] = mirror[point[name]]
        return theory(point["lr"], point["batch_size"], point["dim"], point["sigma"])
    return alpha_of


def scaled(factor: float):
    return lambda lr, b, d, sigma: factor * theory(lr, b, d, sigma)


@functools.cache
def points(grid_name: str, how: str = "theory"):
    """The chain points of one synthetic grid whose iterates follow ``how``."""
    grid = {"main": MAIN, "dim": DIM, "sigma": SIGMA, "finite": FINITE, "block": BLOCK}[grid_name]
    # the block-sum bootstrap costs O(samples) per resample: its grid gets 48 chains x 30 records
    sizes = {"n_chains": 48, "n_records": 30} if grid_name == "block" else {}
    law, alpha_of = {"stable": ("stable", theory), "gaussian": ("gaussian", theory),
                     "alpha_1.2": ("pareto", lambda *point: 1.2), "alpha_x1.5": ("pareto", scaled(1.5))}.get(
        how, ("pareto", theory))
    if how.startswith("reversed_"):
        alpha_of = reversed_along(how.removeprefix("reversed_"), grid)
    # "growing": the predicted growth where lambda > 0; "all_growing": 3 tolerances per record at every point
    growth_of = {"growing": lyapunov_growth, "all_growing": lambda *point: 3 * TOL}.get(how)
    averaged = {"averaged_gaussian": "gaussian", "averaged_flat": "flat"}.get(how, "stable")
    return chain_points(linreg_dataset(grid, alpha_of, law, growth_of=growth_of, averaged=averaged, **sizes), TOL)


def grids(how: str = "theory") -> dict:
    return {"linreg": points("main", how), "linreg_dim": points("dim", how), "linreg_sigma": points("sigma", how)}


def mlp_dataset(increasing: bool) -> xr.Dataset:
    """A dataset shaped like mlp.nc: two layers of 2048 weights per (lr, b) run, Pareto with a
    tail index falling (or, ``increasing``, rising) with eta / b."""
    lrs, bs = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2], [1, 5, 10]
    ratio = np.array(lrs)[:, None] / np.array(bs)[None, :]
    position = (np.log(ratio) - np.log(ratio).min()) / np.ptp(np.log(ratio))  # 0..1 along log(eta/b)
    alpha = 1.0 + 2.0 * position if increasing else 3.0 - 2.0 * position
    variables = {}
    for layer in (1, 2):
        w = np.stack([[symmetric_pareto(alpha[i, j], (1, 2048), 10 * layer + 3 * i + j) for j in range(len(bs))]
                      for i in range(len(lrs))])
        variables[f"weight_avg_layer{layer}"] = (("lr", "batch_size", "seed", f"entry_layer{layer}"), w)
    variables["test_accuracy"] = (("lr", "batch_size", "seed"), np.full((len(lrs), len(bs), 1), 0.9))
    variables["diverged_step"] = (("lr", "batch_size", "seed"), np.full((len(lrs), len(bs), 1), -1))
    return xr.Dataset(variables, coords={"lr": lrs, "batch_size": bs, "seed": [0]},
                      attrs={"layer_sizes": "synthetic", "dataset": "synthetic"})


def _matching(claims, pattern):
    return [c for c in claims if re.fullmatch(pattern, c.id)]


def trend(id: str, **changed) -> list:
    """One trend claim on the predicted law, except the grids in ``changed`` (experiment: how)."""
    grid_of = {"linreg": "main", "linreg_dim": "dim", "linreg_sigma": "sigma"}
    name = C.TRENDS[id][0]
    return [C.trend_claim(id, {name: points(grid_of[name], changed.get(name, "theory"))}, ANALYSIS)]


@functools.cache
def on_predicted_law(what: str) -> tuple:
    """The claims of one group measured on the law the paper predicts (shared by the counterparts)."""
    return tuple({
        "border": lambda: C.border_claims(points("main"), ANALYSIS),
        "variance": lambda: C.variance_claims(points("main"), ANALYSIS),
        "hill": lambda: C.hill_match_claims(grids(), ANALYSIS),
        # alpha-stable iterates: the law whose block sums the estimator is exact for
        "block": lambda: C.block_match_claims({"linreg": points("block", "stable")}, ANALYSIS),
        "finite": lambda: C.finite_data_claims(points("finite"), ANALYSIS),
        "averaged": lambda: C.averaged_claims(points("finite"), ANALYSIS),
        # the main grid holds the one point with E log||M e_1|| > 0 (eta = 1, b = 1) and the closest below 0
        "stationarity": lambda: C.stationarity_claims({"linreg": points("main", "growing")}, ANALYSIS),
        "mlp": lambda: C.mlp_claims(mlp_dataset(increasing=False), ANALYSIS),
    }[what]())


# every claim pattern: the input that lacks the effect
FALSIFIERS = {
    # step-size coordinates reversed: the tail index rises with eta, it crosses 2 on the wrong side of eta*
    r"variance_border_b\d+": lambda: C.border_claims(points("main", "reversed_lr"), ANALYSIS),
    # Gaussian iterates in place of the SGD errors: light tails, alpha_hat well above 2 everywhere
    r"infinite_variance_lr[\d.]+_b\d+": lambda: C.variance_claims(points("main", "gaussian"), ANALYSIS),
    # an infinite-variance law (tail index 1.2) at every point, where the theory says alpha >= 2.5
    r"finite_variance_lr[\d.]+_b\d+": lambda: C.variance_claims(points("main", "alpha_1.2"), ANALYSIS),
    # a tail law off by a factor 1.5 from the root of h(alpha) = 1
    r"alpha_matches_theory_(linreg|linreg_dim|linreg_sigma)": lambda: C.hill_match_claims(grids("alpha_x1.5"), ANALYSIS),
    r"alpha_matches_theory_d1": lambda: C.hill_match_claims({"linreg_dim": points("dim", "alpha_x1.5")}, ANALYSIS),
    # Gaussian iterates: the block-sum estimator gives 2 where the theory alpha is at most 1.5
    r"block_estimator_matches_theory": lambda: C.block_match_claims({"linreg": points("block", "gaussian")}, ANALYSIS),
    # the theory's tail index read at the reversed coordinate: each trend turned round
    r"alpha_decreasing_in_lr": lambda: trend("alpha_decreasing_in_lr", linreg="reversed_lr"),
    r"alpha_increasing_in_batch": lambda: trend("alpha_increasing_in_batch", linreg="reversed_batch_size"),
    r"alpha_decreasing_in_sigma": lambda: trend("alpha_decreasing_in_sigma", linreg_sigma="reversed_sigma"),
    r"alpha_decreasing_in_dim": lambda: trend("alpha_decreasing_in_dim", linreg_dim="reversed_dim"),
    # Gaussian iterates in place of the finite-data SGD errors
    r"finite_data_matches_streaming": lambda: C.finite_data_claims(points("finite", "gaussian"), ANALYSIS),
    # Gaussian averaged iterates (the finite-variance CLT) where the theory alpha is 1.3: the block-sum estimate is 2
    r"averaged_iterates_match_theory": lambda: C.averaged_match_claims(points("finite", "averaged_gaussian"), ANALYSIS),
    # stationary iterates everywhere, also at eta = 1, b = 1 where E log||M e_1|| = +0.031 (the iterates must grow)
    r"stationarity_matches_lyapunov_sign": lambda: C.stationarity_claims({"linreg": points("main")}, ANALYSIS),
    # averaged iterates of one law (alpha 1.2) at every step size: no step-size effect on the authors' estimate
    r"averaged_iterates_heavier_at_larger_lr": lambda: C.averaged_ordering_claims(points("finite", "averaged_flat"),
                                                                                  ANALYSIS),
    # network weights whose tail index rises with eta / b
    r"mlp_alpha_decreasing_in_lr_over_b": lambda: C.mlp_claims(mlp_dataset(increasing=True), ANALYSIS),
}

# the same measurements on the law the paper predicts
COUNTERPARTS = {
    r"variance_border_b\d+": lambda: on_predicted_law("border"),
    r"infinite_variance_lr[\d.]+_b\d+": lambda: on_predicted_law("variance"),
    r"finite_variance_lr[\d.]+_b\d+": lambda: on_predicted_law("variance"),
    r"alpha_matches_theory_(linreg|linreg_dim|linreg_sigma)": lambda: on_predicted_law("hill"),
    r"alpha_matches_theory_d1": lambda: on_predicted_law("hill"),
    r"block_estimator_matches_theory": lambda: on_predicted_law("block"),
    r"alpha_decreasing_in_lr": lambda: trend("alpha_decreasing_in_lr"),
    r"alpha_increasing_in_batch": lambda: trend("alpha_increasing_in_batch"),
    r"alpha_decreasing_in_sigma": lambda: trend("alpha_decreasing_in_sigma"),
    r"alpha_decreasing_in_dim": lambda: trend("alpha_decreasing_in_dim"),
    r"finite_data_matches_streaming": lambda: on_predicted_law("finite"),
    r"averaged_iterates_match_theory": lambda: on_predicted_law("averaged"),
    r"averaged_iterates_heavier_at_larger_lr": lambda: on_predicted_law("averaged"),
    r"stationarity_matches_lyapunov_sign": lambda: on_predicted_law("stationarity"),
    r"mlp_alpha_decreasing_in_lr_over_b": lambda: on_predicted_law("mlp"),
}


def test_falsifiers_cover_every_claim_pattern():
    assert set(FALSIFIERS) == set(C.CLAIM_IDS) == set(COUNTERPARTS)


@pytest.mark.parametrize("pattern", list(FALSIFIERS))
def test_claim_fails_without_the_effect(pattern):
    assert_falsified(FALSIFIERS[pattern](), pattern)


@pytest.mark.parametrize("pattern", list(COUNTERPARTS))
def test_claim_passes_on_the_predicted_law(pattern):
    claims = _matching(COUNTERPARTS[pattern](), pattern)
    assert claims and all(c.passed is True for c in claims), [(c.id, c.measured, c.ci, c.reason) for c in claims
                                                              if c.passed is not True]


def test_mis_scaled_eta_moves_the_crossing_off_the_border():
    """The theory read at 1.3 eta (a step size mis-scaled in the stored coordinates): the crossing
    lands at eta*/1.3, outside the ~10% tolerance."""
    mis = chain_points(linreg_dataset(MAIN, lambda lr, b, d, sigma: theory(1.3 * lr, b, d, sigma)), TOL)
    claims = assert_falsified(C.border_claims(mis, ANALYSIS), r"variance_border_b\d+")
    for claim in claims:
        assert claim.measured == pytest.approx(claim.expected / 1.3, rel=0.06)


def test_swapped_batch_sizes_fail_the_border():
    """Batch sizes 1 and 2 swapped in the coordinates: each border is looked for at the other's eta*."""
    swap = {1: 2, 2: 1, 4: 4}
    swapped = chain_points(linreg_dataset(MAIN, lambda lr, b, d, sigma: theory(lr, swap[b], d, sigma)), TOL)
    assert_falsified(C.border_claims(swapped, ANALYSIS), r"variance_border_b\d+")


def test_growth_where_the_theory_contracts_fails_the_stationarity_claim():
    """Every point's iterates grow (3 tolerances per record), also where E log||M e_1|| < 0."""
    claims = assert_falsified(C.stationarity_claims({"linreg": points("main", "all_growing")}, ANALYSIS),
                              "stationarity_matches_lyapunov_sign")
    assert claims[0].measured < -1.0  # about -(3 tol - tol) / tol at the points where lambda < 0


def test_growing_points_enter_no_tail_index_claim():
    """A grid point whose iterates grow has no tail-index estimate, and the claims leave it out: of
    two finite-data points (no theory) in alpha_range, the one grown (eta = 0.6) gives no Hill
    estimate and the claim keeps the other only."""
    grid = {**FINITE, "lr": [0.4, 0.6], "batch_size": [1]}  # theory alpha 3.0 and 1.3
    grown = chain_points(linreg_dataset(grid, theory, growth_of=lambda lr, b, d, sigma: 3 * TOL if lr == 0.6 else 0.0), TOL)
    assert [p.stationary for p in grown] == [True, False]
    assert math.isnan(alpha_hill(grown[1], np.arange(grown[1].n_chains), 0.01))
    claim = C.finite_data_claims(grown, ANALYSIS)[0]
    assert claim.evidence["lr"] == [0.4]
