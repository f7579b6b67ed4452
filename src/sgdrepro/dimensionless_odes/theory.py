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
    "classify_floor", "uninformed_risk", "REGIONS", "overlap_quadrature", "large_p_rhs_erf", "large_p_risk_erf",
    "large_p_rhs_square", "large_p_risk_square", "risk_square", "solve_ode_large_p", "LargeWidthOdeSolution",
    "LARGE_P_VARIANTS",
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


# ---------------------------------------------------------------- large width (mean-field) ODE
#
# Closure (the large-width ODE of the authors' code, classes LargeP*ActivationODE): P = I_k and
#
#     Q = M M^T + O,    O_jj = q_j (the orthogonal part: q_j = Q_jj - |M_j|^2),
#
# so only M [p, k] and q [p] are tracked (O(p k) state, not O(p^2)). Write lambda_j = M_j . nu + xi_j
# with xi_j the field of the part of w_j orthogonal to the teachers: Var xi_j = q_j, Cov(xi_j, nu) = 0,
# Cov(xi_j, lambda_l) = O_jl. d = None (d -> infinity first): O = diag(q), orthogonal parts mutually
# orthogonal. Finite d: the p > d - k orthogonal parts cannot all be orthogonal; O_jl = sqrt(q_j q_l) z_jl
# with z_jl the overlap of two independent uniform unit vectors of R^(d-k) (density proportional to
# (1 - z^2)^((d-k-3)/2)), and every pairwise term is averaged over z_jl ("finite-d correction").
# Every drift is then the expectation over O of the finite-p drift of ode_rhs at Q = M M^T + O (exact
# for the pairwise-linear drift: each term depends on one O_jl); the self terms l = j use z_jj = 1.
# The four-point (I4) part of the second-order term is dropped, as in the authors' classes: it is
# (gamma/p) E[(f - f*)^2 g'^2], negligible against the label-noise part (gamma/p) Delta J2 once the
# risk is small against Delta, and O(gamma/p) otherwise.
#
# Limits of the closure, from one-pass SGD (benchmarks/vs_authors/dimensionless_odes_large_p.py --sgd):
# - Label noise. The finite-p ODE's noise term (gamma/p) Delta J2(Q_jj, Q_jl, Q_ll) feeds the
#   off-diagonal O_jl (j != l) as fast as the diagonal (every student moves along the same x), so
#   the orthogonal parts acquire a common component that does not average out of f; both closures
#   set it to zero. Erf, p = 500, d = 500, gamma/p = 0.2, Delta = 1, t = 1..10: SGD's excess risk is
#   0.013-0.019 (mean O_jl ~ 0.1, q_orth 0.24 -> 0.36), as the finite-p ODE of 40 of the students
#   gives; ours falls to 0.002 (q_orth 0.26 -> 0.69), the authors' (noise term / p^2, i.e. none) to
#   3e-4 (q_orth falls). So the noise term here is only the finite-p ODE's diagonal: the noise
#   floor of this ODE is not SGD's; use it where gamma/p -> 0 (the mean-field regime).
# - Finite d. At t = 0 the state is the closure's and ours is exact: erf, p = 400, d = 10, the SGD
#   risk at t = 0 is ours (0.6 standard errors; the authors' z-averaged self term is 6.6 se off) and
#   the mean q_orth to t = 2 within 1 se (authors' 2-6 se off). Later the overlaps stop being
#   isotropic and the closure itself errs: mean q_orth at t = 10 / 40 is 0.456 / 0.322 in SGD, 0.452 /
#   0.311 ours, 0.473 / 0.378 the authors', 0.462 / 0.346 with d = None; but the risk at t = 40 is
#   2.0e-4 in SGD, 3.0e-4 ours, 2.5e-4 the authors', 1.4e-4 with d = None (none within 20%).
#   At growing p (same d = 10, gamma = 1, t = 40) our error is O(1/p) and the authors' is not:
#   q_orth -6.9%, -3.4%, -1.7% (ours) against +18% at every p (theirs) at p = 200, 400, 800; risk
#   +96%, +50%, +26% (ours) against +22%, +24%, +25% (theirs). Their missing Cov(xi_j, lambda_l)
#   term is an O(1/d) error that width does not remove; ours is the O(1/p) error of the closure.

LARGE_P_VARIANTS = ("ours", "authors")


def overlap_quadrature(dim: int, n_nodes: int = 32):
    """Nodes z_i and weights w_i (summing to 1) with E[h(z)] ~ sum_i w_i h(z_i) for z = u . v, u, v
    independent uniform unit vectors of R^dim (dim >= 2): density proportional to (1 - z^2)^((dim - 3)/2)
    on [-1, 1], i.e. (1 + z)/2 ~ Beta((dim-1)/2, (dim-1)/2); E[z] = 0, E[z^2] = 1/dim. Gauss-Jacobi
    (alpha = beta = (dim - 3)/2), exact for polynomials of degree < 2 n_nodes."""
    from scipy.special import roots_jacobi  # here: see solve_ode

    a = 0.5 * (dim - 3)
    z, w = roots_jacobi(n_nodes, a, a)
    return z, w / w.sum()


def _student_pairs(M, q_orth, d, k, variant, n_nodes):
    """Pair sums of the erf large-p drift: A_jl = E_z[1/sqrt(L3)], B_jl = E_z[C13/sqrt(L3)] and
    S_jl = E_z[O_jl/sqrt(L3)], with C13 = Q_jl = (M M^T)_jl + O_jl and L3 = (1 + Q_jj)(1 + Q_ll) - C13^2.

    ``variant="ours"``: l = j at z = 1 exactly (C13 = Q_jj, O_jj = q_j). ``"authors"``: S = 0 for every
    pair, and at finite d the l = j terms averaged over z like the others (their classes' choices).
    """
    mmt = M @ M.T
    q_diag = np.diagonal(mmt) + q_orth
    norm = (1.0 + q_diag)[:, None] * (1.0 + q_diag)[None, :]
    scale = np.sqrt(np.outer(q_orth, q_orth))
    if d is None:
        c13 = mmt + np.diag(q_orth)
        A = 1.0 / np.sqrt(norm - c13**2)
        B = c13 * A
        S = np.diag(q_orth) * A
    else:
        A, B, S = np.zeros_like(mmt), np.zeros_like(mmt), np.zeros_like(mmt)
        for z, w in zip(*overlap_quadrature(d - k, n_nodes)):
            c13 = mmt + scale * z
            inv = 1.0 / np.sqrt(norm - c13**2)
            A += w * inv
            B += w * c13 * inv
            S += w * scale * z * inv
        if variant == "ours":
            i = np.diag_indices_from(A)
            A[i] = 1.0 / np.sqrt(1.0 + 2.0 * q_diag)
            B[i] = q_diag * A[i]
            S[i] = q_orth * A[i]
    if variant == "authors":
        S = np.zeros_like(S)
    return q_diag, A, B, S


def large_p_rhs_erf(M, q_orth, lr_over_p: float, noise: float, d=None, variant: str = "ours", n_nodes: int = 32):
    """(dM/dt, dq/dt) of the large-width erf ODE, same t, readout (1/p, 1/k) and gamma/p as :func:`ode_rhs`.

    With the pair sums A, B, S of the closure (Q = M M^T + O, P = I_k; see the section comment), the
    teacher sums T_jr = 1/sqrt(2(1 + Q_jj) - M_jr^2) and the I3 closed form, linear in C12 and C23:

        dM_jr/dt = (2/pi) [ (1/k)(T_jr - M_jr sum_s M_js T_js/(1+Q_jj)) - (1/p)((A M)_jr - M_jr sum_l B_jl/(1+Q_jj)) ]
        dq_j/dt  = -2 E[E g'(lambda_j) xi_j] + (gamma/p) Delta J2(Q_jj, Q_jj, Q_jj)
                 = (4/pi) [ (q_j/(1+Q_jj)) ((1/p) sum_l B_jl - (1/k) sum_r M_jr T_jr) - (1/p) sum_l S_jl ] + (gamma/p) Delta J2

    (dq = dQ_jj - 2 M_j . dM_j). The label-noise term is the one of ode_rhs at l = j. ``variant="authors"``
    reproduces the authors' LargePErfActivationODE: no S term (they set Cov(xi_j, lambda_l) = 0 even for l = j,
    where it is q_j), finite-d self terms averaged over z, and the noise term divided by p^2 (their
    (noise gamma/p) / p^2 J2, p^2 times smaller than their own finite-p ODE's at Q = M M^T + diag(q)).
    """
    M, q_orth = np.asarray(M, float), np.asarray(q_orth, float)
    p, k = M.shape
    q_diag, A, B, S = _student_pairs(M, q_orth, d, k, variant, n_nodes)
    T = 1.0 / np.sqrt(2.0 * (1.0 + q_diag)[:, None] - M**2)
    mt = np.sum(M * T, axis=1)
    inv1 = 1.0 / (1.0 + q_diag)
    dM = (2.0 / np.pi) * ((T - M * (mt * inv1)[:, None]) / k - (A @ M - M * (B.sum(1) * inv1)[:, None]) / p)
    dq = (4.0 / np.pi) * (q_orth * inv1 * (B.sum(1) / p - mt / k) - S.sum(1) / p)
    if lr_over_p:
        noise_term = lr_over_p * noise * J2(q_diag, q_diag, q_diag)
        dq = dq + (noise_term / p**2 if variant == "authors" else noise_term)
    return dM, dq


def large_p_risk_erf(M, q_orth, d=None, variant: str = "ours", n_nodes: int = 32) -> float:
    """Risk E[(f - f*)^2]/2 (normalisation of :func:`risk_erf`) at Q = M M^T + O, P = I_k:

        R = (1/2) [ (1/p^2) sum_jl E_z I2(Q_jj, Q_jl, Q_ll) - (2/(p k)) sum_jr I2(Q_jj, M_jr, 1) + (1/k^2) sum_rs I2(1, delta_rs, 1) ]

    (the expectation over z only at finite d and j != l; ``variant="authors"`` averages j = l too)."""
    M, q_orth = np.asarray(M, float), np.asarray(q_orth, float)
    p, k = M.shape
    mmt = M @ M.T
    q_diag = np.diagonal(mmt) + q_orth
    if d is None:
        pair = I2(q_diag[:, None], mmt + np.diag(q_orth), q_diag[None, :])
    else:
        scale = np.sqrt(np.outer(q_orth, q_orth))
        pair = np.zeros_like(mmt)
        for z, w in zip(*overlap_quadrature(d - k, n_nodes)):
            pair += w * I2(q_diag[:, None], mmt + scale * z, q_diag[None, :])
        if variant == "ours":
            pair[np.diag_indices_from(pair)] = I2(q_diag, q_diag, q_diag)
    cross = I2(q_diag[:, None], M, 1.0)
    teacher = I2(1.0, np.eye(k), 1.0)
    return 0.5 * (pair.sum() / p**2 - 2.0 * cross.sum() / (p * k) + teacher.sum() / k**2)


def large_p_rhs_square(M, q_orth, lr_over_p: float, noise: float, d=None):
    """(dM/dt, dq/dt) of the large-width ODE for g(z) = z^2 (closed form; P = I_k, same t, readout, gamma/p):

        dM   = 2 (1 - tr Q/p) M + 4 (M/k - (M M^T M + q o M)/p)
        dq_j = 4 (1 - tr Q/p) q_j - (8/p) (Q_jj q_j + [finite d] q_j (sum_l q_l - q_j)/(d - k)) + 4 (gamma/p) Delta Q_jj

    with tr Q = sum_j Q_jj, Q_jj = |M_j|^2 + q_j: the diagonal of the finite-p square ODE
    (dQ = 4[(1 - tr Q/p) Q + 2(M M^T/k - Q^2/p)] + 4 (gamma/p) Delta Q, dM = 2[(1 - tr Q/p) M + 2(M/k - Q M/p)])
    minus 2 M_j . dM_j, averaged over O (E O_jl^2 = q_j q_l/(d - k) for j != l). Equal to the authors'
    LargePSquaredActivationODE."""
    M, q_orth = np.asarray(M, float), np.asarray(q_orth, float)
    p, k = M.shape
    q_diag = np.sum(M * M, axis=1) + q_orth
    shrink = 1.0 - q_diag.sum() / p
    dM = 2.0 * shrink * M + 4.0 * (M / k - (M @ (M.T @ M) + q_orth[:, None] * M) / p)
    qq = q_diag * q_orth
    if d is not None:
        qq = qq + q_orth * (q_orth.sum() - q_orth) / (d - k)
    dq = 4.0 * shrink * q_orth - 8.0 * qq / p + 4.0 * lr_over_p * noise * q_diag
    return dM, dq


def risk_square(Q, M, P) -> float:
    """Risk E[(f - f*)^2]/2 for g(z) = z^2 (f = (1/p) sum_j lambda_j^2, f* = (1/k) sum_r nu_r^2):
    E[lambda_a^2 lambda_b^2] = C_aa C_bb + 2 C_ab^2 gives

        R = (1/2) [ (tr Q^2 + 2 tr(Q Q))/p^2 - 2 (tr Q tr P + 2 tr(M M^T))/(p k) + (tr P^2 + 2 tr(P P))/k^2 ]."""
    Q, M, P = np.asarray(Q, float), np.asarray(M, float), np.asarray(P, float)
    p, k = M.shape
    tq, tp = np.trace(Q), np.trace(P)
    return 0.5 * ((tq**2 + 2.0 * np.sum(Q * Q)) / p**2 - 2.0 * (tq * tp + 2.0 * np.sum(M * M)) / (p * k) + (tp**2 + 2.0 * np.sum(P * P)) / k**2)


def large_p_risk_square(M, q_orth, d=None) -> float:
    """:func:`risk_square` at Q = M M^T + O, P = I_k, averaged over O (finite d): tr(Q Q) =
    |M M^T|_F^2 + 2 sum_j |M_j|^2 q_j + sum_j q_j^2 + [finite d] ((sum q)^2 - sum q^2)/(d - k).
    (The authors' class writes 2 sum_jl (M M^T)_jl q_j for the middle term, which adds the j != l
    entries of M M^T: their large-width risk is not the risk of that Q. Along one-pass SGD with
    p = 2000, d = 3, gamma = 1 from an aligned start, the weights' exact risk at t = 3 is 0.00214, this
    function at their (M, q_orth) 0.00219, theirs 0.092; from the authors' own start, where M has no
    common sign, the extra term is small and both are within 25% of the exact risk to t = 30.)"""
    M, q_orth = np.asarray(M, float), np.asarray(q_orth, float)
    p, k = M.shape
    mmt = M @ M.T
    q_diag = np.diagonal(mmt) + q_orth
    tq = q_diag.sum()
    tqq = np.sum(mmt * mmt) + 2.0 * np.sum(np.diagonal(mmt) * q_orth) + np.sum(q_orth**2)
    if d is not None:
        tqq = tqq + (q_orth.sum() ** 2 - np.sum(q_orth**2)) / (d - k)
    return 0.5 * ((tq**2 + 2.0 * tqq) / p**2 - 2.0 * (tq * k + 2.0 * np.sum(M * M)) / (p * k) + (k**2 + 2.0 * k) / k**2)


class LargeWidthOdeSolution:
    """Solution of the large-width ODE at ``t``: ``risk`` [n_t], ``M`` [n_t, p, k], ``q_orth`` [n_t, p]
    (NaN after a blow-up); also readable as ``sol["risk"]`` etc."""

    def __init__(self, t, M, q_orth, risk, status: int, message: str):
        self.t, self.M, self.q_orth, self.risk, self.status, self.message = t, M, q_orth, risk, status, message

    def __getitem__(self, key: str):
        if key not in ("t", "M", "q_orth", "risk"):
            raise KeyError(key)
        return getattr(self, key)

    def keys(self):
        return ("t", "M", "q_orth", "risk")


def solve_ode_large_p(
    M0,
    q_orth0,
    lr_over_p: float,
    noise: float,
    t_eval,
    activation: str = "erf",
    d=None,
    *,
    variant: str = "ours",
    n_nodes: int = 32,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    q_max: float = 1e4,
) -> LargeWidthOdeSolution:
    """Integrate the large-width ODE for M [p, k] and q_orth [p] (Q = M M^T + O, diag O = q_orth, P = I_k)
    with scipy's adaptive RK45, as :func:`solve_ode`: t = steps gamma/(p d), readout 1/p and 1/k, risk
    E[(f - f*)^2]/2 (the excess risk). ``activation``: "erf" (:func:`large_p_rhs_erf`, :func:`large_p_risk_erf`)
    or "square" (:func:`large_p_rhs_square`, :func:`large_p_risk_square`). ``d`` = None: no finite-d
    correction (O diagonal); an integer d >= k + 2: overlaps of the orthogonal parts averaged over the
    sphere of R^(d-k) (``n_nodes`` Gauss-Jacobi nodes). ``variant="authors"`` (erf) reproduces the
    authors' LargePErfActivationODE, for comparison. Stops when max q_orth exceeds ``q_max``.

    Where the closure departs from SGD (label noise at gamma/p of order one; late times at small d)
    is in the comment above :func:`overlap_quadrature`.
    """
    from scipy.integrate import solve_ivp  # here: see solve_ode

    if activation not in ("erf", "square"):
        raise ValueError(f"activation={activation!r}: allowed 'erf', 'square'")
    if variant not in LARGE_P_VARIANTS:
        raise ValueError(f"variant={variant!r}: allowed {LARGE_P_VARIANTS}")
    M0, q_orth0 = np.asarray(M0, float), np.asarray(q_orth0, float)
    p, k = M0.shape
    if d is not None and d - k < 2:
        raise ValueError(f"d={d}: need d - k >= 2 for the finite-d correction (k = {k}); d=None for none")
    t_eval = np.asarray(t_eval, float)
    if activation == "erf":
        rhs_fn = lambda M, q: large_p_rhs_erf(M, q, lr_over_p, noise, d, variant, n_nodes)
        risk_fn = lambda M, q: large_p_risk_erf(M, q, d, variant, n_nodes)
    else:
        rhs_fn = lambda M, q: large_p_rhs_square(M, q, lr_over_p, noise, d)
        risk_fn = lambda M, q: large_p_risk_square(M, q, d)

    def rhs(_t, y):
        dM, dq = rhs_fn(y[: p * k].reshape(p, k), y[p * k :])
        return np.concatenate([dM.ravel(), dq])

    def blowup(_t, y):
        return q_max - np.max(y[p * k :])

    blowup.terminal = True
    with np.errstate(invalid="ignore", divide="ignore"):
        sol = solve_ivp(
            rhs, (0.0, float(t_eval[-1])), np.concatenate([M0.ravel(), q_orth0]), method="RK45", t_eval=t_eval, rtol=rtol, atol=atol, events=blowup
        )
    n = sol.y.shape[1]
    M = np.full((len(t_eval), p, k), np.nan)
    q = np.full((len(t_eval), p), np.nan)
    M[:n] = sol.y[: p * k].T.reshape(n, p, k)
    q[:n] = sol.y[p * k :].T
    risk = np.full(len(t_eval), np.nan)
    risk[:n] = [risk_fn(M[i], q[i]) for i in range(n)]
    return LargeWidthOdeSolution(t_eval, M, q, risk, sol.status, sol.message)
