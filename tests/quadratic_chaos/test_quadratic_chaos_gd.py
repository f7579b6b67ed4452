"""Batched GD experiments: boundaries from trajectories, Lyapunov exponents, divergence, seeding, config."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from sgdrepro.core.config import load_config

from sgdrepro.core import ConfigError, Grid, RunContext
from sgdrepro.quadratic_chaos import check_config, theory
from sgdrepro.quadratic_chaos.experiments import run_bifurcation, run_generalization, train_gd
from sgdrepro.quadratic_chaos.measures import (
    PHASE_CODES,
    classify_dataset,
    late_fluctuation_ratio,
    measured_boundaries,
    periodicity_dataset,
)

REPO = Path(__file__).resolve().parents[2]


def _ctx(experiment):
    return RunContext(paper="quadratic_chaos", experiment=experiment, device=torch.device("cpu"), dtype=torch.float64)


BIF = dict(models=["phase_retrieval", "two_layer"], width=3, d=2, n=2, target=1.0, init_scale=0.1, n_seeds=1,
           n_steps=1500, window=256, record_early=0)


@pytest.fixture(scope="module")
def bifurcation():
    cfg = {**BIF, "a": {"min": 0.3, "max": 2.1, "num": 181}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # divergent runs must not warn
        return run_bifurcation(cfg, _ctx("bifurcation"))


@pytest.mark.parametrize("model", ["phase_retrieval", "two_layer"])
def test_boundaries_measured_from_gd_match_the_cubic_map(bifurcation, model):
    """Both models, each at its own normalised step (a = eta y, a = eta y / m): every boundary."""
    phases = classify_dataset(bifurcation).sel(model=model).isel(seed=0)
    got = measured_boundaries(bifurcation["a"].values, phases["phase"].values)
    tol = 0.01 + 10 / 256  # grid spacing + finite-time resolution (the claim's tolerance)
    for name, expected in theory.BOUNDARIES.items():
        assert abs(got[name] - expected) <= tol, (model, name, got[name], expected)


def test_two_layer_steps_are_a_m_over_y_and_its_phases_are_phase_retrievals(bifurcation):
    """The two-layer net's step for normalised a is m times phase retrieval's (a = eta y / m), and
    on orthonormal data both models show the same phase at every a of the grid but the few at a
    boundary (where finite time decides)."""
    m = int(bifurcation.attrs["width"])
    lr = bifurcation["lr"].isel(seed=0)
    np.testing.assert_allclose(lr.sel(model="two_layer").values, m * lr.sel(model="phase_retrieval").values,
                               rtol=1e-12)
    np.testing.assert_allclose(lr.sel(model="phase_retrieval").values, bifurcation["a"].values, rtol=1e-12)  # y = 1
    phases = classify_dataset(bifurcation)["phase"].isel(seed=0)
    same = phases.sel(model="two_layer").values == phases.sel(model="phase_retrieval").values
    assert same.mean() >= 0.97, bifurcation["a"].values[~same]


def test_two_layer_late_iterates_follow_the_absolute_cubic_map(bifurcation):
    """The stored sqrt(f(x_0)/y) of the two-layer runs is |v| of the cubic map: one map step from
    each recorded late iterate gives the next one, at every a where the run stays bounded."""
    run = bifurcation.sel(model="two_layer").isel(seed=0)
    late = run["step"].values >= int(bifurcation.attrs["late_start"])
    t = run["v"].values[:, late]
    a = bifurcation["a"].values[:, None]
    bounded = np.all(np.isfinite(t), axis=1)
    assert bounded.sum() > 100
    np.testing.assert_allclose(np.abs(theory.cubic_map(t[bounded, :-1], a[bounded])), t[bounded, 1:],
                               rtol=1e-7, atol=1e-9)


def test_gd_lyapunov_exponent_equals_the_maps(bifurcation):
    phases = classify_dataset(bifurcation).sel(model="phase_retrieval").isel(seed=0)
    a = bifurcation["a"].values
    lam_map = theory.lyapunov_map(a)
    # converging and periodic phases: both estimates settle on the same attractor's exponent
    calm = (a < theory.A_FEIGENBAUM - 0.01) & (np.abs(a - 0.5) > 0.02) & (np.abs(a - 1) > 0.02) & \
        (np.abs(a - theory.A_PERIOD4) > 0.02)
    np.testing.assert_allclose(phases["lyapunov"].values[calm], lam_map[calm], atol=0.02)
    chaotic = (lam_map > 0.05) & np.isfinite(lam_map)
    assert np.all(phases["lyapunov"].values[chaotic] > 0)


def test_period_test_alone_separates_cycles_from_chaos(bifurcation):
    """The Lyapunov-free selection used by the Lyapunov claims: on orthonormal data a run is
    aperiodic exactly where the cubic map is chaotic, away from boundaries and window edges."""
    test = periodicity_dataset(bifurcation).sel(model="phase_retrieval").isel(seed=0)
    a = bifurcation["a"].values
    lam_map = theory.lyapunov_map(a)
    clear_chaos = (lam_map > 0.05) & np.isfinite(lam_map)
    assert np.all(test["aperiodic"].values[clear_chaos])
    cycles = (a > 1.02) & (a < theory.A_PERIOD4 - 0.02)
    assert np.all(test["period"].values[cycles] == 2) and not np.any(test["aperiodic"].values[cycles])
    assert not np.any(test["aperiodic"].values[a < 1.0])


@pytest.mark.parametrize("model", ["phase_retrieval", "two_layer"])
def test_divergent_runs_are_flagged_with_their_step(bifurcation, model):
    a = bifurcation["a"].values
    run = bifurcation.sel(model=model).isel(seed=0)
    div = run["diverged_step"].values
    assert np.all(div[a > 2.02] > 0) and np.all(div[a < 1.98] == -1)
    late = run["loss"].values[a > 2.02][:, -1]
    assert np.all(np.isnan(late))
    phases = classify_dataset(bifurcation).sel(model=model).isel(seed=0)["phase"].values
    assert np.all(phases[a > 2.02] == PHASE_CODES["divergent"])


def test_every_step_size_starts_from_the_same_point(bifurcation):
    for model in ("phase_retrieval", "two_layer"):
        v0 = bifurcation["v"].sel(model=model).isel(seed=0, step=0).values
        assert np.all(v0 == v0[0]) and v0[0] != 0


def test_results_do_not_depend_on_chunking():
    cfg = {k: v for k, v in BIF.items() if k not in ("models", "width")}
    cfg.update(a=[0.4, 1.1, 1.5, 2.2], n_steps=100, window=32)
    grid = Grid.from_config({"a": cfg["a"], "seed": [0, 1]})
    whole, _ = train_gd(cfg, _ctx("bifurcation"), grid, 1, "orthogonal")
    chunked, _ = train_gd({**cfg, "chunk_size": 3}, _ctx("bifurcation"), grid, 1, "orthogonal")
    for name in whole.records:
        np.testing.assert_array_equal(whole.records[name], chunked.records[name])
    np.testing.assert_array_equal(whole.diverged_step, chunked.diverged_step)


def test_ergodic_average_after_burn_in_damps_the_test_error_oscillations():
    cfg = dict(d=3, n=16, width=2, teacher_width=1, n_test=32, noise=0.0, init_scale=0.1, a=[1.15, 1.6],
               n_seeds=1, n_steps=400, window=200, record_early=0)
    ds = run_generalization(cfg, _ctx("generalization"))
    late = ds["step"].values > 200
    assert np.all(np.isnan(ds["test_error_avg_late"].values[..., ~late]))  # nothing averaged before the window
    for a in cfg["a"]:
        run = ds.sel(a=a).isel(seed=0)
        assert np.all(np.isfinite(run["test_error"].values))
        ratio = late_fluctuation_ratio(run["test_error_avg_late"].values[late], run["test_error"].values[late])
        assert ratio < 0.1


def test_burn_in_average_is_the_mean_predictor_of_the_late_window():
    """Its test error at the end is at most the mean of the window's (convexity of the squared error);
    with a window of the whole run (no burn-in) it is the Cesaro average from step 0."""
    cfg = dict(d=3, n=16, width=2, teacher_width=1, n_test=32, noise=0.0, init_scale=0.1, a=[0.4, 1.6],
               n_seeds=1, n_steps=300, window=100, record_early=300)
    ds = run_generalization(cfg, _ctx("generalization"))
    steps = ds["step"].values
    for a in cfg["a"]:
        run = ds.sel(a=a).isel(seed=0)
        assert run["test_error_avg_late"].values[-1] <= run["test_error"].values[steps > 200].mean() + 1e-12
    whole = run_generalization({**cfg, "window": 300}, _ctx("generalization"))
    np.testing.assert_allclose(whole["test_error_avg_late"].values[..., 1:], whole["test_error_avg"].values[..., 1:],
                               rtol=1e-12)


def _config():
    config = load_config(REPO / "config")
    config["papers"] = ["quadratic_chaos"]
    return config


def test_check_config_names_the_bad_key():
    config = _config()
    check_config(config, "quadratic_chaos.quick")  # the shipped config passes
    bad = copy.deepcopy(config)
    bad["quadratic_chaos"]["quick"]["bifurcation"]["n"] = 3
    with pytest.raises(ConfigError, match=r"quadratic_chaos.quick.bifurcation.n.*n <= d"):
        check_config(bad, "quadratic_chaos.quick")
    bad = copy.deepcopy(config)
    bad["quadratic_chaos"]["quick"]["generalization"]["teacher_width"] = 99
    with pytest.raises(ConfigError, match="teacher_width"):
        check_config(bad, "quadratic_chaos.quick")


def test_schema_rejects_unknown_keys_and_bad_ranges():
    from sgdrepro.core.config import validate_schema

    schema = REPO / "workflow" / "schemas" / "config.schema.yaml"
    config = _config()
    validate_schema(config, schema)
    bad = copy.deepcopy(config)
    bad["quadratic_chaos"]["quick"]["bifurcation"]["n_step"] = 10
    with pytest.raises(ConfigError, match="n_step"):
        validate_schema(bad, schema)
    bad = copy.deepcopy(config)
    bad["quadratic_chaos"]["quick"]["orthogonal"]["a"] = [0.5, -1.0]
    with pytest.raises(ConfigError, match="orthogonal"):
        validate_schema(bad, schema)
