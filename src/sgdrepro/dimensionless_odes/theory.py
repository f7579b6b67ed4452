"""Closed forms and ODEs of the erf committee machine (Saad & Solla; Arnaboldi et al. 2023).

Model (the convention of the paper and of the authors' code). Inputs x ~ N(0, I_d);
local fields lambda_j = w_j . x / sqrt(d) (student, j = 1..p), nu_r = w*_r . x / sqrt(d)
(teacher, r = 1..k); activation g(z) = erf(z / sqrt 2);

    f(x) = (1/p) sum_j g(lambda_j),    f*(x) = (1/k) sum_r g(nu_r),    y = f*(x) + sqrt(Delta) zeta.

Order parameters Q = W W^T / d (p x p), M = W W*^T / d (p x k), P = W* W*^T / d (k x k): the
fields (lambda, nu) are jointly Gaussian with covariance Omega = [[Q, M], [M^T, P]].

Gaussian integrals (u, v, w, z jointly Gaussian with covariance C, indices 1..4):

    I2(C)  = E[g(u) g(v)]            = (2/pi) arcsin(C12 / sqrt((1+C11)(1+C22)))
    J2(C)  = E[g'(u) g'(v)]          = 2 / (pi sqrt((1+C11)(1+C22) - C12^2))
    I3(C)  = E[g'(u) v g(w)]         = (2/pi) (C23 (1+C11) - C12 C13) / ((1+C11) sqrt((1+C11)(1+C33) - C13^2))
    I4(C)  = E[g'(u) g'(v) g(w) g(z)] = 4 / (pi^2 sqrt(L4)) arcsin(L0 / sqrt(L1 L2))

One-pass SGD on the loss (f - y)^2 / 2 with learning rate gamma,
w_j <- w_j - (gamma/p) (f - y) g'(lambda_j) x / sqrt(d), in the dimensionless time
t = (steps) gamma / (p d) follows, as d -> infinity at fixed gamma/p, the ODEs

    dM_jr/dt = -E[E g'(lambda_j) nu_r]
    dQ_jl/dt = -E[E g'(lambda_j) lambda_l] - E[E g'(lambda_l) lambda_j] + (gamma/p) E[E^2 g'(lambda_j) g'(lambda_l)]

with E = f - y; the expectations are sums of I3, and of I4 and Delta J2 (the second-order,
"noise" term: the only place where gamma/p enters). gamma/p -> 0 gives the gradient flow of
the population risk (perfect learning); gamma/p of order one the Saad & Solla dynamics with a
noise floor of the excess risk proportional to gamma Delta / p; gamma/p -> infinity failure.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "I2", "J2", "I3", "I4", "covariance", "risk_erf", "ode_rhs", "solve_ode", "OdeSolution",
    "initial_overlaps", "lr_over_p", "phase_exponent", "phase_width", "phase_lr", "paper_region", "floor_slope",
    "classify_floor", "uninformed_risk", "REGIONS",
]

REGIONS = ("perfect learning", "plateau", "failure")  # region codes 0, 1, 2


# ---------------------------------------------------------------- Gaussian integrals


def I2(c11, c12, c22):
    """E[g(u) g(v)], g = erf(./sqrt 2)."""
    return (2.0 / np.pi) * np.arcsin(np.clip(c12 / np.sqrt((1.0 + c11) * (1.0 + c22)), -1.0, 1.0))


def J2(c11, c12, c22):
    """E[g'(u) g'(v)] (the label-noise integral of the Q equation)."""
    return 2.0 / (np.pi * np.sqrt((1.0 + c11) * (1.0 + c22) - c12 * c12))


def I3(c11, c12, c13, c23, c33):
    """E[g'(u) v g(w)] (does not depend on C22)."""
    l3 = (1.0 + c11) * (1.0 + c33) - c13 * c13
    return (2.0 / np.pi) * (c23 * (1.0 + c11) - c12 * c13) / ((1.0 + c11) * np.sqrt(l3))


def I4(c11, c12, c13, c14, c22, c23, c24, c33, c34, c44):
    """E[g'(u) g'(v) g(w) g(z)]."""
    l4 = (1.0 + c11) * (1.0 + c22) - c12 * c12
    l0 = l4 * c34 - c23 * c24 * (1.0 + c11) - c13 * c14 * (1.0 + c22) + c12 * c13 * c24 + c12 * c14 * c23
    l1 = l4 * (1.0 + c33) - c23 * c23 * (1.0 + c11) - c13 * c13 * (1.0 + c22) + 2.0 * c12 * c13 * c23
    l2 = l4 * (1.0 + c44) - c24 * c24 * (1.0 + c11) - c14 * c14 * (1.0 + c22) + 2.0 * c12 * c14 * c24
    ratio = np.clip(l0 / np.sqrt(l1 * l2), -1.0, 1.0)
    return 4.0 / (np.pi**2 * np.sqrt(l4)) * np.arcsin(ratio)


def covariance(Q, M, P):
    """Covariance Omega = [[Q, M], [M^T, P]] of the fields (lambda_1..p, nu_1..k); batched over leading axes."""
    Q, M, P = np.asarray(Q, float), np.asarray(M, float), np.asarray(P, float)
    top = np.concatenate([Q, M], axis=-1)
    bottom = np.concatenate([np.swapaxes(M, -1, -2), np.broadcast_to(P, M.shape[:-2] + P.shape)], axis=-1)
    return np.concatenate([top, bottom], axis=-2)


def _readout(p: int, k: int) -> np.ndarray:
    """Weights a_c with f - f* = sum_c a_c g(field_c): +1/p for students, -1/k for teachers."""
    return np.concatenate([np.full(p, 1.0 / p), np.full(k, -1.0 / k)])


def risk_erf(Q, M, P) -> np.ndarray:
    """Population risk R = E[(f(x) - f*(x))^2] / 2 of the erf committee machine (noiseless part).

    ``Q`` [..., p, p], ``M`` [..., p, k], ``P`` [k, k] (numpy arrays; leading axes are batched).
    Normalisation: f = (1/p) sum_j erf(lambda_j/sqrt 2), f* = (1/k) sum_r erf(nu_r/sqrt 2), loss
    (f - y)^2 / 2. With label noise of variance Delta the risk on noisy labels is R + Delta/2;
    R is the *excess* risk R - Delta/2 that the paper plots. R = 0 iff the student computes the
    teacher's function, e.g. p = k, Q = M = P.
    """
    Q, M, P = np.asarray(Q, float), np.asarray(M, float), np.asarray(P, float)
    p, k = M.shape[-2], M.shape[-1]
    omega = covariance(Q, M, P)
    diag = np.diagonal(omega, axis1=-2, axis2=-1)
    pair = I2(diag[..., :, None], omega, diag[..., None, :])
    a = _readout(p, k)
    return 0.5 * np.einsum("a,...ab,b->...", a, pair, a)


# ---------------------------------------------------------------- ODEs


def ode_rhs(Q, M, P, lr_over_p: float, noise: float, second_order: bool = True):
    """(dQ/dt, dM/dt) in t = steps * gamma / (p d).

    ``lr_over_p`` is gamma/p, the factor of the second-order terms (I4) and of the label-noise
    term Delta * J2; ``second_order=False`` drops the I4 terms (keeping the noise term), which is
    what the authors' example notebook integrates.
    """
    p, k = M.shape
    omega = covariance(Q, M, P)
    diag = np.diag(omega)
    a = _readout(p, k)
    s = slice(0, p)
    # I3[j, b, c] = E[g'(lambda_j) field_b g(field_c)] for students j and every field b, c
    c11 = diag[s, None, None]
    c12 = omega[s, :, None]
    c13 = omega[s, None, :]
    c23 = omega[None, :, :]
    c33 = diag[None, None, :]
    i3 = I3(c11, c12, c13, c23, c33)
    drift = -np.einsum("jbc,c->jb", i3, a)  # -E[E g'(lambda_j) field_b]
    dM = drift[:, p:]
    dQ = drift[:, :p] + drift[:, :p].T
    if lr_over_p:
        second = noise * J2(diag[s, None], omega[s, s], diag[None, s])
        if second_order:
            # I4[j, l, c, e] = E[g'(lambda_j) g'(lambda_l) g(field_c) g(field_e)]
            o = omega
            i4 = I4(
                diag[s, None, None, None], o[s, s][:, :, None, None], o[s, None, :, None], o[s, None, None, :],
                diag[None, s, None, None], o[s, :][None, :, :, None], o[s, :][None, :, None, :],
                diag[None, None, :, None], o[None, None, :, :], diag[None, None, None, :],
            )
            second = second + np.einsum("jlce,c,e->jl", i4, a, a)
        dQ = dQ + lr_over_p * second
    return dQ, dM


class OdeSolution:
    """Solution of the Q, M ODEs at the requested times (NaN after a blow-up)."""

    def __init__(self, t, Q, M, risk, status: int, message: str):
        self.t, self.Q, self.M, self.risk, self.status, self.message = t, Q, M, risk, status, message


def solve_ode(Q0, M0, P, lr_over_p: float, noise: float, t_eval, second_order: bool = True,
              rtol: float = 1e-7, atol: float = 1e-10, q_max: float = 1e4) -> OdeSolution:
    """Integrate the ODEs from (Q0, M0) with scipy's adaptive RK45; record at ``t_eval``.

    The integration stops when a diagonal entry of Q exceeds ``q_max`` (the failure region,
    where the noise term makes the weights grow without bound); later records are NaN.
    """
    from scipy.integrate import solve_ivp  # here: the config check imports this module, and scipy costs ~1 s
    Q0, M0, P = np.asarray(Q0, float), np.asarray(M0, float), np.asarray(P, float)
    p, k = M0.shape
    t_eval = np.asarray(t_eval, float)
    iu = np.triu_indices(p)

    def unpack(y):
        Q = np.zeros((p, p))
        Q[iu] = y[: len(iu[0])]
        Q = Q + np.triu(Q, 1).T
        return Q, y[len(iu[0]):].reshape(p, k)

    def rhs(_t, y):
        Q, M = unpack(y)
        dQ, dM = ode_rhs(Q, M, P, lr_over_p, noise, second_order)
        return np.concatenate([dQ[iu], dM.ravel()])

    def blowup(_t, y):
        Q, _ = unpack(y)
        return q_max - np.max(np.diag(Q))

    blowup.terminal = True
    y0 = np.concatenate([Q0[iu], M0.ravel()])
    with np.errstate(invalid="ignore", divide="ignore"):
        sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), y0, method="RK45", t_eval=t_eval,
                        rtol=rtol, atol=atol, events=blowup)
    n = sol.y.shape[1]
    Q = np.full((len(t_eval), p, p), np.nan)
    M = np.full((len(t_eval), p, k), np.nan)
    for i in range(n):
        Q[i], M[i] = unpack(sol.y[:, i])
    risk = np.full(len(t_eval), np.nan)
    risk[:n] = risk_erf(Q[:n], M[:n], P)
    return OdeSolution(t_eval, Q, M, risk, sol.status, sol.message)


# ---------------------------------------------------------------- initial conditions, scalings


def initial_overlaps(p: int, k: int, overlap_scale: float, seed: int):
    """Initial (Q0, M0, P) shared by every d and seed: P = I_k, M0 ~ overlap_scale * N(0, 1),
    Q0 = M0 M0^T + I_p (student rows of norm^2 ~ d, a random O(overlap_scale) alignment that
    breaks the students' permutation symmetry). Our choice, so that SGD at every d starts from
    the same order parameters and one ODE solution is the reference for all of them."""
    rng = np.random.default_rng(seed)
    M0 = overlap_scale * rng.standard_normal((p, k))
    Q0 = M0 @ M0.T + np.eye(p)
    return Q0, M0, np.eye(k)


def lr_over_p(gamma0: float, d, kappa: float, delta: float, p0: float = 1.0):
    """gamma/p for width p = p0 d^kappa and learning rate gamma = gamma0 d^(-delta) (p not rounded).

    gamma/p = (gamma0/p0) d^(-(kappa + delta)): the noise term of the ODEs vanishes
    (kappa + delta > 0), stays finite (= 0) or diverges (< 0) as d grows.
    """
    return gamma0 / p0 * np.asarray(d, float) ** (-(kappa + delta))


def phase_width(p0: int, d, kappa: float) -> np.ndarray:
    """The width of a cell of the phase diagram at input dimension d: p = round(p0 d^kappa) >= 1."""
    return np.maximum(1, np.round(p0 * np.asarray(d, float) ** kappa)).astype(np.int64)


def phase_lr(gamma0: float, d, delta: float) -> np.ndarray:
    """The learning rate of a cell at input dimension d: gamma = gamma0 d^-delta."""
    return gamma0 * np.asarray(d, float) ** (-delta)


def phase_exponent(kappa, delta):
    """Exponent e in gamma/p ~ d^e (e < 0 perfect learning, e = 0 plateau, e > 0 failure)."""
    return -(np.asarray(kappa, float) + np.asarray(delta, float))


def paper_region(kappa, delta) -> np.ndarray:
    """The paper's region of (kappa, delta) (Veiga et al. 2022, Fig. 1, extended by Arnaboldi et al.):
    0 perfect learning where kappa + delta > 0, 1 plateau on kappa + delta = 0, 2 failure where < 0."""
    s = np.asarray(kappa, float) + np.asarray(delta, float)
    return np.where(np.isclose(s, 0.0, atol=1e-9), 1, np.where(s > 0, 0, 2))


def floor_slope(floors_over_d, d) -> float:
    """Least-squares slope of log(floor) against log(d) (floors clipped at 1e-300; NaN if one is not finite)."""
    floors = np.asarray(floors_over_d, float)
    if not np.all(np.isfinite(floors)):
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(d, float)), np.log(np.maximum(floors, 1e-300)), 1)[0])


def classify_floor(floors_over_d: np.ndarray, d: np.ndarray, slope_tol: float, fail_level: float) -> int:
    """Region from the late-time noise-driven excess risk at growing d (ODE or SGD).

    Returns 0 (perfect learning: the floor falls with d, log-log slope < -slope_tol),
    1 (plateau: |slope| <= slope_tol and the floor below ``fail_level``), 2 (failure: the floor
    grows with d, reaches ``fail_level``, or the run blew up (NaN)).
    """
    floors = np.asarray(floors_over_d, float)
    if not np.all(np.isfinite(floors)) or floors[-1] >= fail_level:
        return 2
    slope = floor_slope(floors, d)
    if slope < -slope_tol:
        return 0
    if slope > slope_tol:
        return 2
    return 1


def uninformed_risk(k: int) -> float:
    """Excess risk of a student that outputs 0 (f = 0): E[f*^2]/2 for P = I_k."""
    return 0.5 * float(np.sum(I2(np.ones((k, k)), np.eye(k), np.ones((k, k))))) / k**2

