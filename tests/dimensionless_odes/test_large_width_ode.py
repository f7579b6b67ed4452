"""The large-width ODE (theory.solve_ode_large_p) against the finite-p formulas at Q = M M^T + O,
Monte Carlo over the overlaps O, exact fixed points and the finite-p ODE as p grows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sgdrepro.dimensionless_odes import theory


def _state(p: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    return 0.6 * rng.standard_normal((p, k)), rng.uniform(0.3, 1.2, p)


def _random_overlaps(q, dim: int, n: int, seed: int) -> np.ndarray:
    """n draws of O [n, p, p]: O_jl = sqrt(q_j q_l) u_j . u_l, u_j independent uniform unit vectors of R^dim."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n, len(q), dim))
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    return np.sqrt(np.outer(q, q)) * (u @ u.transpose(0, 2, 1))


def _closure_drift_of_ode_rhs(Q, M, lr_over_p, noise):
    """(dM, dq) of the finite-p ODE (label-noise term, no I4) at Q: dq_j = dQ_jj - 2 M_j . dM_j (P = I)."""
    dQ, dM = theory.ode_rhs(Q, M, np.eye(M.shape[1]), lr_over_p, noise, second_order=False)
    return dM, np.diag(dQ) - 2.0 * np.sum(M * dM, axis=1)


def _square_drift_full(Q, M, lr_over_p, noise):
    """Finite-p ODE of g(z) = z^2 (P = I_k), from E[lambda_a^2 lambda_b lambda_c] = C_aa C_bc + 2 C_ab C_ac:
    dQ = 4[(1 - tr Q/p) Q + 2(M M^T/k - Q^2/p)] + 4 (gamma/p) Delta Q, dM = 2[(1 - tr Q/p) M + 2(M/k - Q M/p)]."""
    p, k = M.shape
    shrink = 1.0 - np.trace(Q) / p
    dQ = 4.0 * (shrink * Q + 2.0 * (M @ M.T / k - Q @ Q / p)) + 4.0 * lr_over_p * noise * Q
    dM = 2.0 * (shrink * M + 2.0 * (M / k - Q @ M / p))
    return dM, np.diag(dQ) - 2.0 * np.sum(M * dM, axis=1)


def test_overlap_quadrature_has_the_moments_of_the_sphere():
    """z = u . v on S^(D-1): E z^2 = 1/D, E z^4 = 3/(D(D+2)), odd moments 0 (to 1e-12)."""
    for dim in (2, 3, 10, 57):
        z, w = theory.overlap_quadrature(dim, 16)
        assert np.sum(w) == pytest.approx(1.0, abs=1e-12)
        assert np.sum(w * z) == pytest.approx(0.0, abs=1e-12)
        assert np.sum(w * z**2) == pytest.approx(1.0 / dim, abs=1e-12)
        assert np.sum(w * z**4) == pytest.approx(3.0 / (dim * (dim + 2)), abs=1e-12)


def test_erf_drift_without_finite_d_is_the_finite_p_ode_at_the_closure():
    """d = None: at Q = M M^T + diag(q) the drift of (M, q) is the finite-p drift exactly (1e-12), self
    terms and the noise term (gamma/p) Delta J2 included; so is the risk."""
    M, q = _state(7, 2, 0)
    Q = M @ M.T + np.diag(q)
    dM_full, dq_full = _closure_drift_of_ode_rhs(Q, M, 0.3, 0.2)
    dM, dq = theory.large_p_rhs_erf(M, q, 0.3, 0.2)
    np.testing.assert_allclose(dM, dM_full, atol=1e-12)
    np.testing.assert_allclose(dq, dq_full, atol=1e-12)
    assert theory.large_p_risk_erf(M, q) == pytest.approx(theory.risk_erf(Q, M, np.eye(2)), abs=1e-13)
    # falsifier: the authors' closure (no Cov(xi_j, lambda_j) = q_j self term, noise / p^2) is not that drift
    _, dq_authors = theory.large_p_rhs_erf(M, q, 0.3, 0.2, variant="authors")
    assert np.max(np.abs(dq_authors - dq_full)) > 1e-2


def test_erf_finite_d_drift_and_risk_are_the_finite_p_ones_averaged_over_the_overlaps():
    """d = 10, k = 2 (D = 8): E_O of the finite-p drift and risk at Q = M M^T + O over 3000 draws of
    spherical overlaps equals the closure's Gauss-Jacobi average (5 standard errors); the authors'
    closure (no Cov(xi_j, lambda_l) = O_jl term) and the uncorrected d = None drift are rejected."""
    p, k, d = 6, 2, 10
    M, q = _state(p, k, 1)
    overlaps = _random_overlaps(q, d - k, 3000, 2)
    draws = [_closure_drift_of_ode_rhs(M @ M.T + O, M, 0.3, 0.2) for O in overlaps]
    samples = np.array([np.concatenate([a.ravel(), b]) for a, b in draws])
    mean, se = samples.mean(0), samples.std(0) / math.sqrt(len(samples))

    def z_score(**kwargs):
        dM, dq = theory.large_p_rhs_erf(M, q, 0.3, 0.2, **kwargs)
        return np.max(np.abs(np.concatenate([dM.ravel(), dq]) - mean) / se)

    assert z_score(d=d) <= 5.0
    assert z_score(d=d, variant="authors") > 20.0
    assert z_score() > 20.0
    risks = np.array([theory.risk_erf(M @ M.T + O, M, np.eye(k)) for O in overlaps])
    assert abs(theory.large_p_risk_erf(M, q, d=d) - risks.mean()) <= 5.0 * risks.std() / math.sqrt(len(risks))


def test_square_risk_is_the_monte_carlo_risk_of_the_network():
    """risk_square(Q, M, P) = E[(f - f*)^2]/2 for g(z) = z^2 on 200k Gaussian inputs (5 standard errors)."""
    rng = np.random.default_rng(3)
    d, p, k = 20, 3, 2
    W, Wt = rng.standard_normal((p, d)), rng.standard_normal((k, d))
    x = rng.standard_normal((200_000, d))
    loss = 0.5 * (((x @ W.T) ** 2).mean(1) / d - ((x @ Wt.T) ** 2).mean(1) / d) ** 2
    risk = theory.risk_square(W @ W.T / d, W @ Wt.T / d, Wt @ Wt.T / d)
    assert abs(risk - loss.mean()) <= 5.0 * loss.std() / math.sqrt(len(loss))


def test_square_closure_is_the_full_square_formulas_at_q_equal_mmt_plus_o():
    """d = None: drift and risk equal the full-matrix ones at Q = M M^T + diag(q) (1e-12). d = 8 (k = 2):
    they equal the full ones averaged over spherical overlaps, exactly in expectation (quadratic in O),
    within 5 standard errors of 4000 draws; the d = None formulas and a tr(Q Q) that adds the j != l
    entries of M M^T (the authors' large-width risk) are rejected."""
    p, k, d = 9, 2, 8
    M, q = _state(p, k, 4)
    M = M + 0.5  # aligned students, so that the off-diagonal M M^T entries are not small
    Q = M @ M.T + np.diag(q)
    dM_full, dq_full = _square_drift_full(Q, M, 0.2, 0.3)
    dM, dq = theory.large_p_rhs_square(M, q, 0.2, 0.3)
    np.testing.assert_allclose(dM, dM_full, atol=1e-12)
    np.testing.assert_allclose(dq, dq_full, atol=1e-12)
    assert theory.large_p_risk_square(M, q) == pytest.approx(theory.risk_square(Q, M, np.eye(k)), abs=1e-12)

    overlaps = _random_overlaps(q, d - k, 4000, 5)
    dq_draws = np.array([_square_drift_full(M @ M.T + O, M, 0.2, 0.3)[1] for O in overlaps])
    risks = np.array([theory.risk_square(M @ M.T + O, M, np.eye(k)) for O in overlaps])
    se_dq, se_r = dq_draws.std(0) / math.sqrt(len(overlaps)), risks.std() / math.sqrt(len(overlaps))
    dq_d = theory.large_p_rhs_square(M, q, 0.2, 0.3, d=d)[1]
    assert np.max(np.abs(dq_d - dq_draws.mean(0)) / se_dq) <= 5.0
    assert np.max(np.abs(dq - dq_draws.mean(0)) / se_dq) > 20.0
    assert abs(theory.large_p_risk_square(M, q, d=d) - risks.mean()) <= 5.0 * se_r
    assert abs(theory.large_p_risk_square(M, q) - risks.mean()) > 20.0 * se_r
    # the authors' tr(Q Q) middle term 2 sum_jl (M M^T)_jl q_j instead of 2 sum_j |M_j|^2 q_j
    mmt = M @ M.T
    extra = 2.0 * np.sum((mmt - np.diag(np.diag(mmt))) * q[:, None])
    assert abs(theory.large_p_risk_square(M, q) + extra / p**2 - theory.risk_square(Q, M, np.eye(k))) > 1e-2


@pytest.mark.parametrize("activation", ["erf", "square"])
@pytest.mark.parametrize("d", [None, 12])
def test_the_teacher_is_a_fixed_point_and_noise_only_feeds_q_orth(activation, d):
    """p = 6 students, three copies of each of k = 2 teachers (M rows = e_r, q = 0): f = f*,
    zero drift without noise; with noise dM = 0 and dq = (gamma/p) Delta E[g'(lambda_j)^2], i.e.
    2/(pi sqrt 3) for erf and 4 for square at Q_jj = 1."""
    M = np.repeat(np.eye(2), 3, axis=0)
    q = np.zeros(6)
    rhs = theory.large_p_rhs_erf if activation == "erf" else theory.large_p_rhs_square
    dM, dq = rhs(M, q, 0.0, 0.5, d=d)
    np.testing.assert_allclose(dM, 0.0, atol=1e-13)
    np.testing.assert_allclose(dq, 0.0, atol=1e-13)
    dM, dq = rhs(M, q, 0.4, 0.5, d=d)
    per_unit = 2.0 / (math.pi * math.sqrt(3.0)) if activation == "erf" else 4.0
    np.testing.assert_allclose(dM, 0.0, atol=1e-13)
    np.testing.assert_allclose(dq, 0.4 * 0.5 * per_unit, rtol=1e-12)
    if activation == "erf":  # falsifier: the authors' noise term is p^2 = 36 times smaller
        _, dq_authors = rhs(M, q, 0.4, 0.5, d=d, variant="authors")
        np.testing.assert_allclose(dq_authors, 0.4 * 0.5 * per_unit / 36, rtol=1e-12)


def test_large_p_ode_approaches_the_finite_p_ode_as_one_over_p():
    """Students replicated c times (p = 4c) from Q0 = M0 M0^T + diag(q0): the finite-p ODE (exact as
    d -> inf) generates off-diagonal O_jl at rate O(1/p), so the large-p ODE's risk is off by ~C/p:
    the max gap over t in [0, 5] falls by 4 +- 1 from p = 8 to p = 32 and is below 4e-3 there."""
    rng = np.random.default_rng(0)
    M_base, q_base = 0.5 * rng.standard_normal((4, 2)), rng.uniform(0.5, 1.5, 4)
    t = np.linspace(0.0, 5.0, 11)
    gaps = []
    for c in (2, 8):
        M0, q0 = np.repeat(M_base, c, axis=0), np.repeat(q_base, c)
        full = theory.solve_ode(M0 @ M0.T + np.diag(q0), M0, np.eye(2), 0.05, 0.1, t, second_order=False)
        large = theory.solve_ode_large_p(M0, q0, 0.05, 0.1, t)
        assert large.status == 0 and large["risk"] is large.risk
        np.testing.assert_allclose(large.risk[0], full.risk[0], atol=1e-13)
        gaps.append(np.max(np.abs(large.risk - full.risk)))
    assert 3.0 <= gaps[0] / gaps[1] <= 5.0, gaps
    assert gaps[1] < 4e-3


def test_solve_ode_large_p_square_gradient_flow_learns_and_records_the_closure_risk():
    """Square, gamma/p = 0, d = None: from a random start the risk falls by 10x by t = 5; every record is
    large_p_risk_square of the recorded (M, q_orth); the shapes are [n_t], [n_t, p, k], [n_t, p]."""
    M0, q0 = _state(30, 1, 6)
    t = np.linspace(0.0, 5.0, 6)
    sol = theory.solve_ode_large_p(M0, q0, 0.0, 0.0, t, activation="square")
    assert sol.risk.shape == (6,) and sol.M.shape == (6, 30, 1) and sol.q_orth.shape == (6, 30)
    assert sol.risk[-1] < 0.1 * sol.risk[0]
    for i in (0, 5):
        assert sol.risk[i] == pytest.approx(theory.large_p_risk_square(sol.M[i], sol.q_orth[i]), rel=1e-12)
    assert set(sol.keys()) == {"t", "M", "q_orth", "risk"}


def test_solve_ode_large_p_rejects_bad_input():
    M0, q0 = _state(4, 2, 7)
    with pytest.raises(ValueError, match="activation"):
        theory.solve_ode_large_p(M0, q0, 0.1, 0.0, [0.0, 1.0], activation="relu")
    with pytest.raises(ValueError, match="d - k >= 2"):
        theory.solve_ode_large_p(M0, q0, 0.1, 0.0, [0.0, 1.0], d=3)
    with pytest.raises(ValueError, match="variant"):
        theory.solve_ode_large_p(M0, q0, 0.1, 0.0, [0.0, 1.0], variant="theirs")
