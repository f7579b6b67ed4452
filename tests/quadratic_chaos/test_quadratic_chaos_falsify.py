"""Every claim id of quadratic_chaos fails on an input that lacks the paper's effect.

Inputs are small direct runs of the experiments (the tiny config's sizes, seconds) and synthetic
test-error sequences, then broken the way a wrong reproduction would be: a step size computed with
the wrong lambda_max, phase labels shuffled across step sizes, trajectories of a contracting map, a
tangent vector propagated by the wrong map, a test error that drifts. Each has an unmodified
counterpart that passes (:func:`test_unmodified_inputs_pass`), so the contrast is the effect.
"""

from __future__ import annotations

import re
from functools import cache

import numpy as np
import pytest
import torch
import xarray as xr

from conftest import assert_falsified
from sgdrepro.core import RunContext
from sgdrepro.quadratic_chaos import claims as qc
from sgdrepro.quadratic_chaos.experiments import (
    run_bifurcation,
    run_gaussian_losses,
    run_gaussian_phase_map,
    run_orthogonal,
)

MIS_SCALE = 1.25  # a labelled 25 % above the true one: lambda_max taken 25 % too large


def _ctx(experiment):
    return RunContext(paper="quadratic_chaos", experiment=experiment, device=torch.device("cpu"), dtype=torch.float64)


@cache
def bifurcation():
    cfg = dict(models=["phase_retrieval", "two_layer"], width=4, d=2, n=2, target=1.0, init_scale=0.1,
               a={"min": 0.3, "max": 2.1, "num": 181}, n_seeds=1, n_steps=1200, window=256, record_early=0)
    return run_bifurcation(cfg, _ctx("bifurcation"))


@cache
def phase_map():
    cfg = dict(d=5, n=[20, 80], noise=0.0, init_scale=0.1, a={"min": 0.3, "max": 2.5, "num": 89}, n_seeds=1,
               n_steps=1000, window=256, record_early=0)
    return run_gaussian_phase_map(cfg, _ctx("gaussian_phase_map"))


@cache
def loss_curves(data: str):
    common = dict(models=["phase_retrieval", "two_layer"], width=4, init_scale=0.1, n_seeds=2)
    if data == "orthogonal":
        cfg = dict(common, d=4, n=3, target=1.0, a=[0.4, 0.8, 1.15, 1.4, 2.1], n_steps=200, window=100,
                   record_early=0)
        return run_orthogonal(cfg, _ctx("orthogonal"))
    cfg = dict(common, teacher_width=2, d=6, n=48, noise=0.0, a=[0.4, 0.95, 1.15, 1.75, 2.3], n_steps=400,
               window=200, record_early=0)
    return run_gaussian_losses(cfg, _ctx("gaussian_losses"))


def mis_scaled(ds):
    """The runs as they are, labelled with a normalised step computed from a wrong lambda_max."""
    return ds.assign_coords(a=ds["a"].values * MIS_SCALE)


def shuffled(ds, dim="a", seed=3):
    """Trajectories permuted across step sizes, the labels left in order."""
    perm = np.random.default_rng(seed).permutation(ds.sizes[dim])
    return ds.isel({dim: perm}).assign_coords({dim: ds[dim].values})


def folded(ds):
    """The recorded coordinate without its sign, as if every orbit stayed in the band v > 0."""
    return ds.assign(v=np.abs(ds["v"]))


def reversed_steps(ds):
    return ds.isel(a=slice(None, None, -1)).assign_coords(a=ds["a"].values)


def contracting(ds, rate=0.05):
    """Every run replaced by a contracting map: loss and probe decay like exp(-rate k), nothing diverges."""
    decay = np.exp(-rate * ds["step"].values.astype(float))
    out = ds.copy()
    for name in ("loss", "probe"):
        out[name] = ds[name].isel(step=0) * xr.DataArray(decay, dims="step", coords={"step": ds["step"]})
    out["turn_backs"] = ds["turn_backs"] * 0.0
    out["log_growth"] = xr.zeros_like(ds["log_growth"]) - rate * ds["step"]
    out["diverged_step"] = xr.full_like(ds["diverged_step"], -1)
    return out


def tangent_growth(ds, exponent: float):
    """The tangent vector propagated by a map of exponent ``exponent`` instead of GD's Jacobian."""
    out = ds.copy()
    out["log_growth"] = (xr.zeros_like(ds["log_growth"]) + exponent * ds["step"]).where(np.isfinite(ds["loss"]))
    return out


def generalization(drift: float = 0.0, n_seeds: int = 6, n_steps: int = 1200, window: int = 600):
    """A test-error file: runs at a = 1.15 on a 2-cycle and at a = 1.6 chaotic (logistic-map loss and
    probe, positive exponent), their predictors ``f* + z_k u`` with ``z_k`` from the loss series plus
    ``drift * (k - late_start)``; test errors ``z_k^2`` (last iterate) and ``(mean z)^2`` (averaged)."""
    late_start = n_steps - window
    steps = np.arange(n_steps + 1)
    rng = np.random.default_rng(0)
    z = np.empty((2, n_seeds, n_steps + 1))
    z[0] = np.where(steps % 2 == 0, 0.6, 0.2)[None, :]
    x = rng.uniform(0.1, 0.9, n_seeds)
    for k in range(n_steps + 1):
        z[1, :, k] = x
        x = 3.9 * x * (1 - x)
    z = z + drift * np.maximum(steps - late_start, 0)
    late_sum = np.cumsum(np.where(steps > late_start, z, 0.0), axis=-1)
    count = steps - late_start
    with np.errstate(invalid="ignore", divide="ignore"):
        averaged = np.where(count > 0, (late_sum / np.maximum(count, 1)) ** 2, np.nan)
    dims = ("a", "seed", "step")
    growth = np.stack([np.broadcast_to(-0.3 * steps, (n_seeds, n_steps + 1)),
                       np.broadcast_to(0.3 * steps, (n_seeds, n_steps + 1))])
    return xr.Dataset(
        {"loss": (dims, 1.0 + z), "probe": (dims, z), "turn_backs": (dims, np.ones_like(z)),
         "log_growth": (dims, growth), "test_error": (dims, z**2), "test_error_avg": (dims, z**2),
         "test_error_avg_late": (dims, averaged), "diverged_step": (("a", "seed"), np.full((2, n_seeds), -1))},
        coords={"a": [1.15, 1.6], "seed": np.arange(n_seeds), "step": steps},
        attrs={"late_start": late_start, "n_steps": n_steps})


def orthonormal_as_phase_map():
    """The orthonormal phase-retrieval runs laid out as a phase map with a single n: data on which
    the boundaries are the orthonormal case's by construction."""
    return bifurcation().sel(model="phase_retrieval", drop=True).expand_dims(n=[2])


# Gaussian boundaries the tiny-size data place away from the orthonormal value (reported as
# measured, not tuned away): the first turn-back of the step lies above a = 1/2 and divergence
# sets in below a = 2. The catapult|periodic (linear stability) and periodic|chaotic ones pass.
GAUSSIAN_OFF = r"gaussian_boundary_(monotonic_to_catapult|chaotic_to_divergent)_n\d+"


def _boundaries():
    return qc.bifurcation_claims(mis_scaled(bifurcation()))


def _agreement():
    return qc.bifurcation_claims(shuffled(bifurcation()))


def _curves(data: str, ds):
    return qc.loss_curve_claim(ds, f"{data}_loss_curves_phases", "", "theory" if data == "orthogonal" else "paper")


def _orthogonal_curves():
    return [_curves("orthogonal", reversed_steps(loss_curves("orthogonal")))]


def _gaussian_curves():
    return [_curves("gaussian", reversed_steps(loss_curves("gaussian")))]


FALSIFIERS = {
    # a mis-scaled step moves every boundary by 25 % (both models: a two-layer step without its 1/m
    # would move them by a factor m)
    qc.CLAIM_IDS[0]: _boundaries,
    # trajectories shuffled across step sizes no longer follow the map's phase diagram
    qc.CLAIM_IDS[1]: _agreement,
    # orbits that keep their sign (v folded to |v|): the bands never merge
    qc.CLAIM_IDS[2]: lambda: qc.bifurcation_claims(folded(bifurcation())),
    # the representative steps' trajectories in reverse order: four of five show the wrong phase
    qc.CLAIM_IDS[3]: _orthogonal_curves,
    qc.CLAIM_IDS[4]: _gaussian_curves,
    # lambda_max mis-scaled: convergence stops at a = 1.25, every other boundary moves by 25 % too
    qc.CLAIM_IDS[5]: lambda: qc.gaussian_map_claims(mis_scaled(phase_map())),
    # a contracting map instead of GD: only the converging phases appear
    qc.CLAIM_IDS[6]: lambda: qc.gaussian_map_claims(contracting(phase_map())),
    # tangent vector of an expanding map: the periodic runs' exponent comes out positive
    qc.CLAIM_IDS[7]: lambda: qc.gaussian_map_claims(tangent_growth(phase_map(), +0.1)),
    # tangent vector of a contracting map: the aperiodic runs' exponent comes out negative
    qc.CLAIM_IDS[8]: lambda: qc.gaussian_map_claims(tangent_growth(phase_map(), -0.1)),
    # a test error that drifts: its burn-in average drifts with it
    qc.CLAIM_IDS[9]: lambda: qc.ergodic_claims(generalization(drift=0.01)),
}


def test_every_claim_id_has_a_falsifier():
    assert list(FALSIFIERS) == list(qc.CLAIM_IDS)


@pytest.mark.parametrize("pattern", list(FALSIFIERS))
def test_claim_fails_without_the_effect(pattern):
    assert_falsified(FALSIFIERS[pattern](), pattern)


def test_unmodified_inputs_pass():
    claims = [*qc.bifurcation_claims(bifurcation()), *qc.gaussian_map_claims(phase_map()),
              _curves("orthogonal", loss_curves("orthogonal")), _curves("gaussian", loss_curves("gaussian")),
              *qc.ergodic_claims(generalization())]
    expected = {c.id for c in claims if not re.fullmatch(GAUSSIAN_OFF, c.id)}
    assert {c.id for c in claims if c.passed} == expected, \
        [(c.id, c.measured, c.ci, c.reason) for c in claims if not c.passed]
    assert len([c for c in claims if c.id.startswith("ergodic")]) == 2
    assert len([c for c in claims if re.fullmatch(qc.CLAIM_IDS[0], c.id)]) == 8  # 2 models x 4 boundaries
    assert len([c for c in claims if re.fullmatch(qc.CLAIM_IDS[5], c.id)]) == 8  # 2 n x 4 boundaries


def test_gaussian_boundary_claims_pass_where_the_boundaries_are_the_orthonormal_ones():
    """The Gaussian boundary claims' measurement, given orthonormal trajectories, finds every
    boundary at the orthonormal value: where it fails on Gaussian data, the data moved the boundary."""
    claims = [c for c in qc.gaussian_map_claims(orthonormal_as_phase_map())
              if re.fullmatch(qc.CLAIM_IDS[5], c.id)]
    assert len(claims) == 4 and all(c.passed for c in claims), [(c.id, c.measured, c.ci) for c in claims]
    off = [c for c in qc.gaussian_map_claims(phase_map()) if re.fullmatch(GAUSSIAN_OFF, c.id)]
    assert off and not any(c.passed for c in off), [(c.id, c.measured, c.ci) for c in off]


def test_ergodic_ratio_separates_settling_from_drifting_and_bounded_drift():
    """The Cesaro mean from step 0 would pass a bounded drift; the burn-in average does not."""
    steps = np.arange(600.0)
    ramp = np.tanh((steps - 300) / 100)  # bounded: rises from -1 to 1 within the window
    running = np.cumsum(ramp) / (steps + 1)
    from sgdrepro.quadratic_chaos.measures import late_fluctuation_ratio

    assert late_fluctuation_ratio(running, ramp) > qc.ERGODIC_RATIO_MAX
    iid = np.random.default_rng(1).standard_normal(600)
    assert late_fluctuation_ratio(np.cumsum(iid) / (steps + 1), iid) < 0.05
