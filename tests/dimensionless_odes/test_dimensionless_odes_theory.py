"""Closed forms and ODEs of the erf committee machine against Monte Carlo and exact identities."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import erf

from sgdrepro.dimensionless_odes import theory
from sgdrepro.dimensionless_odes.model import risk_erf_torch, sgd_step, weights_from_overlaps

G = lambda z: erf(z / math.sqrt(2.0))
DG = lambda z: math.sqrt(2.0 / math.pi) * np.exp(-0.5 * z * z)


def _random_cov(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)) / math.sqrt(n)
    return a @ a.T + 0.3 * np.eye(n)


def _mc(samples: np.ndarray, tol_se: float = 5.0):
    mean = samples.mean()
    se = samples.std() / math.sqrt(len(samples))
    return mean, tol_se * se


def test_gaussian_integrals_match_monte_carlo():
    """I2, J2, I3, I4 against 400k Gaussian samples; tolerance 5 standard errors."""
    c = _random_cov(4, 1)
    rng = np.random.default_rng(2)
    z = rng.multivariate_normal(np.zeros(4), c, size=400_000)
    u, v, w, y = z.T
    checks = {
        "I2": (theory.I2(c[0, 0], c[0, 1], c[1, 1]), G(u) * G(v)),
        "J2": (theory.J2(c[0, 0], c[0, 1], c[1, 1]), DG(u) * DG(v)),
        "I3": (theory.I3(c[0, 0], c[0, 1], c[0, 2], c[1, 2], c[2, 2]), DG(u) * v * G(w)),
        "I4": (theory.I4(c[0, 0], c[0, 1], c[0, 2], c[0, 3], c[1, 1], c[1, 2], c[1, 3], c[2, 2], c[2, 3], c[3, 3]),
               DG(u) * DG(v) * G(w) * G(y)),
    }
    for name, (closed, samples) in checks.items():
        mean, tol = _mc(samples)
        assert abs(closed - mean) <= tol, (name, closed, mean, tol)


def test_risk_erf_matches_monte_carlo_of_the_network_output():
    """risk_erf(Q, M, P) = E[(f - f*)^2]/2 measured on 200k Gaussian inputs (5 standard errors)."""
    rng = np.random.default_rng(3)
    d, p, k = 30, 3, 2
    W, Wt = rng.standard_normal((p, d)), rng.standard_normal((k, d)) * 1.3
    x = rng.standard_normal((200_000, d))
    f = G(x @ W.T / math.sqrt(d)).mean(axis=1)
    f_star = G(x @ Wt.T / math.sqrt(d)).mean(axis=1)
    mean, tol = _mc(0.5 * (f - f_star) ** 2)
    risk = theory.risk_erf(W @ W.T / d, W @ Wt.T / d, Wt @ Wt.T / d)
    assert abs(risk - mean) <= tol


def test_risk_is_zero_for_a_student_equal_to_the_teacher():
    P = _random_cov(3, 4)
    assert theory.risk_erf(P, P, P) == pytest.approx(0.0, abs=1e-14)
    # two copies of every teacher unit compute the same function (second layer 1/p)
    Q = np.block([[P, P], [P, P]])
    M = np.vstack([P, P])
    assert theory.risk_erf(Q, M, P) == pytest.approx(0.0, abs=1e-14)
    # and a student orthogonal to the teacher has positive risk
    assert theory.risk_erf(np.eye(3), np.zeros((3, 3)), P) > 0.01


def test_risk_of_the_zero_student_is_half_the_teacher_power():
    """Q = 0, M = 0: f = 0, so R = E[f*^2]/2 = (1/2k^2) sum_rs I2(P_rr, P_rs, P_ss)."""
    k = 2
    assert theory.risk_erf(np.zeros((1, 1)), np.zeros((1, k)), np.eye(k)) == pytest.approx(theory.uninformed_risk(k))
    # hand-checkable: P = I_2 -> E[erf(z/sqrt2)^2] = (2/pi) asin(1/2) = 1/3, so R = (1/2)(1/4)(2/3) = 1/12
    assert theory.uninformed_risk(2) == pytest.approx(1.0 / 12.0, rel=1e-12)


def test_torch_risk_equals_numpy_risk_batched():
    rng = np.random.default_rng(5)
    W = rng.standard_normal((6, 4, 20))
    Wt = rng.standard_normal((2, 20))
    Q, M, P = W @ W.transpose(0, 2, 1) / 20, W @ Wt.T / 20, Wt @ Wt.T / 20
    numpy_risk = theory.risk_erf(Q, M, P)
    torch_risk = risk_erf_torch(torch.as_tensor(Q), torch.as_tensor(M), torch.as_tensor(P)).numpy()
    np.testing.assert_allclose(torch_risk, numpy_risk, rtol=1e-12)
    np.testing.assert_allclose(numpy_risk, [theory.risk_erf(Q[i], M[i], P) for i in range(6)], rtol=1e-12)


def test_teacher_is_a_fixed_point_and_noise_pushes_the_norms_out():
    P = np.eye(2)
    dQ, dM = theory.ode_rhs(P.copy(), P.copy(), P, lr_over_p=0.0, noise=0.1)
    np.testing.assert_allclose(dQ, 0.0, atol=1e-14)
    np.testing.assert_allclose(dM, 0.0, atol=1e-14)
    dQ, dM = theory.ode_rhs(P.copy(), P.copy(), P, lr_over_p=0.5, noise=0.1)
    np.testing.assert_allclose(dM, 0.0, atol=1e-14)
    # at the teacher only the label noise remains in E^2: dQ = (gamma/p) Delta J2
    expected = 0.5 * 0.1 * theory.J2(1.0, P, 1.0)
    np.testing.assert_allclose(dQ, expected, rtol=1e-12)


def test_gradient_flow_ode_decreases_the_risk():
    """gamma/p -> 0: the ODE is the gradient flow of the population risk, so R(t) never increases."""
    rng = np.random.default_rng(6)
    M0 = rng.standard_normal((3, 2))
    Q0 = M0 @ M0.T + np.eye(3)
    sol = theory.solve_ode(Q0, M0, np.eye(2), 0.0, 0.0, np.linspace(0.0, 20.0, 200))
    assert sol.status == 0
    assert np.all(np.diff(sol.risk) <= 1e-10)
    assert sol.risk[-1] < 0.5 * sol.risk[0]


def test_one_sgd_step_in_expectation_is_the_ode_drift():
    """E[Delta M] over the fresh sample equals (gamma/(p d)) dM/dt exactly at any d (M is linear in W);
    E[Delta Q] equals (gamma/(p d)) dQ/dt up to O(1/d) (|x|^2/d = 1 + O(d^-1/2)). 200k samples as runs."""
    torch.manual_seed(0)
    d, p, k, runs, lr, noise = 40, 3, 2, 200_000, 0.8, 0.05
    rng = np.random.default_rng(7)
    M0 = 0.6 * rng.standard_normal((p, k))
    Q0 = M0 @ M0.T + np.eye(p)
    gauss = torch.randn(1, d, p + k, dtype=torch.float64)
    Wt, W = weights_from_overlaps(gauss, Q0, M0, np.eye(k))
    W, Wt = W.expand(runs, p, d), Wt.expand(runs, k, d)
    x = torch.randn(runs, d, dtype=torch.float64)
    fields_t = x @ Wt[0].T / math.sqrt(d)
    y = torch.erf(fields_t / math.sqrt(2)).mean(1) + math.sqrt(noise) * torch.randn(runs, dtype=torch.float64)
    W1 = sgd_step(W, x, y, torch.full((runs,), lr, dtype=torch.float64))
    dM_sgd = ((W1 - W) @ Wt[0].T / d).numpy()
    Q1 = (W1 @ W1.transpose(1, 2) / d).numpy()
    dt = lr / (p * d)
    dQ_ode, dM_ode = theory.ode_rhs(Q0, M0, np.eye(k), lr / p, noise)
    se_M = dM_sgd.std(0) / math.sqrt(runs)
    assert np.all(np.abs(dM_sgd.mean(0) - dt * dM_ode) <= 5 * se_M + 1e-15)
    dQ_sgd = Q1 - Q0
    se_Q = dQ_sgd.std(0) / math.sqrt(runs)
    assert np.all(np.abs(dQ_sgd.mean(0) - dt * dQ_ode) <= 5 * se_Q + 0.05 * np.abs(dt * dQ_ode))


def test_weights_from_overlaps_are_exact():
    gauss = torch.randn(3, 12, 5, dtype=torch.float64)
    rng = np.random.default_rng(8)
    M0 = 0.5 * rng.standard_normal((3, 2))
    Q0 = M0 @ M0.T + 0.7 * np.eye(3)
    P = np.array([[1.0, 0.3], [0.3, 0.8]])
    Wt, W = weights_from_overlaps(gauss, Q0, M0, P)
    for r in range(3):
        np.testing.assert_allclose((W[r] @ W[r].T / 12).numpy(), Q0, atol=1e-12)
        np.testing.assert_allclose((W[r] @ Wt[r].T / 12).numpy(), M0, atol=1e-12)
        np.testing.assert_allclose((Wt[r] @ Wt[r].T / 12).numpy(), P, atol=1e-12)


def test_sgd_step_is_the_gradient_of_the_squared_loss():
    d, p = 7, 3
    W = torch.randn(2, p, d, dtype=torch.float64, requires_grad=True)
    x, y = torch.randn(2, d, dtype=torch.float64), torch.randn(2, dtype=torch.float64)
    f = torch.erf(torch.einsum("rjd,rd->rj", W, x) / math.sqrt(d) / math.sqrt(2)).mean(1)
    (0.5 * (f - y) ** 2).sum().backward()
    lr = torch.tensor([0.3, 1.1], dtype=torch.float64)
    expected = W.detach() - lr[:, None, None] * W.grad
    np.testing.assert_allclose(sgd_step(W.detach(), x, y, lr).numpy(), expected.numpy(), rtol=1e-12, atol=1e-14)


def test_floor_classification_and_exponents():
    d = np.array([1e2, 1e3, 1e4])
    assert theory.classify_floor(1e-3 * d**-0.5, d, 0.1, 0.05) == 0
    assert theory.classify_floor(np.full(3, 1e-3), d, 0.1, 0.05) == 1
    assert theory.classify_floor(1e-3 * d**0.5, d, 0.1, 0.05) == 2
    assert theory.classify_floor(np.array([1e-3, 1e-3, np.nan]), d, 0.1, 0.05) == 2
    assert theory.lr_over_p(2.0, 100.0, 0.5, -0.5, p0=2) == pytest.approx(1.0)
    assert theory.phase_exponent(0.25, 0.5) == pytest.approx(-0.75)
    assert theory.floor_slope(3.0 * d**-0.7, d) == pytest.approx(-0.7)


def test_phase_cells_and_the_paper_boundary():
    """A cell's width and learning rate at d, and the paper's region from the sign of kappa + delta."""
    np.testing.assert_array_equal(theory.phase_width(2, [4, 16, 64], 0.5), [4, 8, 16])
    np.testing.assert_array_equal(theory.phase_width(2, [4, 64], 0.25), [3, 6])  # rounded: 2.83, 5.66
    np.testing.assert_allclose(theory.phase_lr(2.0, [4, 16], -0.5), [4.0, 8.0])
    regions = theory.paper_region([0.0, 0.5, 0.5, 0.25], [0.25, -0.5, -0.75, -0.25 + 1e-12])
    np.testing.assert_array_equal(regions, [0, 1, 2, 1])


def test_noise_floor_is_linear_in_lr_over_p_at_small_lr():
    """Linear response: the noise-driven late-time excess risk is proportional to gamma/p."""
    P = np.eye(2)
    M0 = 0.9 * P + 0.02
    Q0 = M0 @ M0.T + 0.05 * np.eye(2)
    t = np.array([0.0, 30.0])
    flow = theory.solve_ode(Q0, M0, P, 0.0, 0.01, t).risk[-1]
    small = [theory.solve_ode(Q0, M0, P, g, 0.01, t).risk[-1] - flow for g in (0.02, 0.04)]
    assert small[1] / small[0] == pytest.approx(2.0, rel=0.05)
