"""Cubic-map theory: the GD reduction, phase boundaries, Lyapunov exponents, the classifier."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sgdrepro.quadratic_chaos import model, phase_of, theory
from sgdrepro.quadratic_chaos.measures import (
    band_merging_bracket,
    classify_map,
    classify_trajectory,
    detect_period,
    hull_brackets,
    measured_boundaries,
)


def _orthonormal(d, n, seed=0):
    g = torch.randn(1, d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return model.orthonormal_data(g, n)


@pytest.mark.parametrize("a", [0.3, 0.8, 1.1, 1.25, 1.5])
def test_phase_retrieval_gd_is_the_cubic_map_coordinatewise(a):
    d, n = 6, 4
    X = _orthonormal(d, n)
    assert torch.allclose(X[0] @ X[0].T, torch.eye(n, dtype=torch.float64), atol=1e-12)
    y = torch.tensor([[0.5, 1.0, 1.7, 2.3]], dtype=torch.float64)
    eta = a / y.max()  # the direction with the largest target has normalised step a
    W = 0.2 * torch.randn(1, d, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mask = torch.ones_like(y)
    v = ((X @ W)[0, :, 0] / y[0].sqrt()).numpy()
    a_i = (eta * y[0]).numpy()
    for _ in range(25):
        W = model.gd_step(W, X, y, mask, eta.reshape(1))
        v = theory.cubic_map(v, a_i)
        np.testing.assert_allclose((X @ W)[0, :, 0].numpy() / np.sqrt(y[0].numpy()), v, rtol=1e-8, atol=1e-10)


def test_two_layer_gd_follows_the_absolute_cubic_map_with_a_over_m():
    d, n, m = 5, 3, 4
    X = _orthonormal(d, n, seed=2)
    y = torch.tensor([[0.8, 1.0, 1.3]], dtype=torch.float64)
    eta = torch.tensor([1.1 * m / 1.3], dtype=torch.float64)  # a = eta y / m = 1.1 for the last direction
    W = 0.3 * torch.randn(1, d, m, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mask = torch.ones_like(y)
    t = np.sqrt(model.predictions(W, X)[0].numpy() / y[0].numpy())
    a_i = eta.item() * y[0].numpy() / m
    for _ in range(25):
        W = model.gd_step(W, X, y, mask, eta)
        t = np.abs(theory.cubic_map(t, a_i))
        np.testing.assert_allclose(np.sqrt(model.predictions(W, X)[0].numpy() / y[0].numpy()), t, rtol=1e-8)


def test_hvp_matches_autograd_and_sharpness_matches_normalisation():
    R, d, n, m = 2, 4, 7, 3
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(R, n, d, generator=gen, dtype=torch.float64) / 2
    y = torch.rand(R, n, generator=gen, dtype=torch.float64)
    mask = torch.ones(R, n, dtype=torch.float64)
    mask[1, -2:] = 0
    W = torch.randn(R, d, m, generator=gen, dtype=torch.float64)
    V = torch.randn(R, d, m, generator=gen, dtype=torch.float64)
    for r in range(R):
        f = lambda w, r=r: model.loss(w.unsqueeze(0), X[r:r + 1], y[r:r + 1], mask[r:r + 1]).sum()
        grad = torch.autograd.functional.jacobian(f, W[r])
        torch.testing.assert_close(model.gradient(W, X, y, mask)[r], grad)
        _, hv = torch.autograd.functional.hvp(f, W[r], V[r])
        torch.testing.assert_close(model.hvp(W, V, X, y, mask)[r], hv)
    # orthonormal data with targets y at a global minimiser: lambda_max = 2 max(y) / m, so a = eta y / m
    Xo = _orthonormal(5, 3)
    yo = torch.tensor([[0.5, 2.0, 1.0]], dtype=torch.float64)
    Ws = (Xo.transpose(1, 2) @ yo.sqrt().unsqueeze(-1)).expand(1, 5, m)
    torch.testing.assert_close(model.predictions(Ws, Xo), yo)
    assert model.sharpness_at(Ws, Xo, torch.ones_like(yo)).item() == pytest.approx(2 * 2.0 / m, rel=1e-10)


@pytest.mark.parametrize("a, phase", [(0.2, "monotonic"), (0.5, "monotonic"), (0.51, "catapult"), (0.99, "catapult"),
                                      (1.01, "periodic"), (1.2, "periodic"), (1.29, "periodic"), (1.35, "chaotic"),
                                      (1.5, "chaotic"), (1.9, "chaotic"), (2.0, "chaotic"), (2.01, "divergent")])
def test_phase_of_known_values(a, phase):
    assert phase_of(a) == phase


def test_phase_of_resolves_the_period3_window_and_rejects_bad_input():
    assert phase_of(1.46) == "periodic"  # period-3 window inside the chaotic range
    assert phase_of(1.46, resolve_windows=False) == "chaotic"
    with pytest.raises(ValueError, match="> 0"):
        phase_of(-0.1)


def test_feigenbaum_accumulation_point():
    a_super, a_inf = theory.superstable_parameters(9)
    assert a_inf == pytest.approx(theory.A_FEIGENBAUM, abs=1e-7)
    gaps = np.diff(a_super)
    assert gaps[-2] / gaps[-1] == pytest.approx(4.6692, abs=1e-3)  # Feigenbaum's delta
    assert theory.A_CATAPULT < a_super[1] < theory.A_PERIOD4 < a_super[2]  # superstable 2-cycle inside its window


def test_lyapunov_exponent_of_the_map_against_closed_forms():
    # converging phases: the exponent is log |multiplier at v = 1| = log |1 - 2a|
    for a in (0.3, 0.8):
        assert theory.lyapunov_map(a) == pytest.approx(math.log(abs(1 - 2 * a)), abs=1e-6)
    # a = 2 (r = 3): u -> 3(u - u^3) is conjugate to the Chebyshev map -T_3, exponent log 3
    assert theory.lyapunov_map(2.0, n_average=40000) == pytest.approx(math.log(3.0), abs=0.02)
    assert np.isinf(theory.lyapunov_map(2.05))


@pytest.mark.parametrize("a", [1.05, 1.15, 1.22])
def test_classifier_period_two_between_r2_and_sqrt5(a):
    phase, period, lyap = classify_map(a)
    assert (phase, period) == ("periodic", 2) and lyap < 0


@pytest.mark.parametrize("a, period", [(1.245, 4), (1.26, 4), (1.29, 8), (1.30, 16)])
def test_classifier_period_doubling_cascade_above_sqrt5(a, period):
    assert classify_map(a, n_steps=8000, window=2048)[:2] == ("periodic", period)


def test_classifier_chaos_divergence_and_convergence_phases():
    phase, period, lyap = classify_map(1.5)  # r = 2.5
    assert phase == "chaotic" and lyap > 0.3
    assert classify_map(2.05)[0] == "divergent"
    assert classify_map(0.4)[:2] == ("monotonic", 1)
    assert classify_map(0.7)[:2] == ("catapult", 1)
    # onset of chaos on a fine grid agrees with the Feigenbaum point to within the grid step
    grid = np.arange(1.290, 1.320, 0.002)
    codes = [0 if classify_map(a, n_steps=6000, window=2048)[0] == "periodic" else 3 for a in grid]
    assert abs(grid[int(np.argmax(np.asarray(codes) == 3))] - theory.A_FEIGENBAUM) < 0.006


def test_band_merging_at_the_cards_escape_value():
    """3 sqrt(3)/2 - 1 is where the v > 0 and v < 0 chaotic bands merge, not where orbits escape."""
    below = theory.map_orbit(theory.A_MERGE - 0.03, v0=0.3, n_steps=5000)[1000:]
    above = theory.map_orbit(theory.A_MERGE + 0.03, v0=0.3, n_steps=5000)[1000:]
    assert np.all(below > 0)
    assert np.any(above < 0) and np.all(np.isfinite(above)) and np.max(np.abs(above)) <= theory.basin_radius(1.63)


def test_detect_period_and_boundaries_on_synthetic_input():
    x = np.tile([1.0, 2.0, 3.0], 20)
    assert detect_period(x, 1e-12) == (3, 3)
    assert detect_period(np.sin(np.arange(100.0)), 1e-6)[0] == 0
    assert classify_trajectory(np.ones(10), diverged=True, turned_back=False) == ("divergent", 0)
    a = np.linspace(0.0, 1.0, 11)
    codes = np.array([0, 0, 1, 1, 2, 2, 3, 2, 3, 4, 4])
    got = measured_boundaries(a, codes)
    assert got["monotonic|catapult"] == pytest.approx(0.15)
    assert got["periodic|chaotic"] == pytest.approx(0.55)  # first chaotic point; the window after it is ignored
    assert got["chaotic|divergent"] == pytest.approx(0.85)


def test_band_merging_bracket_on_map_orbits_finds_the_crisis():
    """Late iterates of the cubic map first take both signs at 3 sqrt(3)/2 - 1 (grid step 0.005)."""
    a = np.arange(1.40, 1.80, 0.005)
    late = theory.map_orbit(a, v0=0.3, n_steps=3000)[:, 2000:]
    lo, hi = band_merging_bracket(a, late)
    assert lo < theory.A_MERGE <= hi and hi - lo == pytest.approx(0.005)
    assert np.isnan(band_merging_bracket(a, np.abs(late))[0])  # a coordinate without its sign never merges


def test_hull_brackets_join_the_rows_and_refuse_a_missing_transition():
    a = np.linspace(0.0, 1.0, 11)
    rows = np.array([[0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4],
                     [0, 0, 0, 1, 2, 2, 2, 3, 3, 3, 4]])
    got = hull_brackets(a, rows)
    assert got["monotonic|catapult"] == pytest.approx((0.1, 0.3))
    assert got["periodic|chaotic"] == pytest.approx((0.5, 0.7))
    assert got["chaotic|divergent"] == pytest.approx((0.8, 1.0))
    no_divergence = rows.copy()
    no_divergence[1, -1] = 3
    assert np.isnan(hull_brackets(a, no_divergence)["chaotic|divergent"][0])
