"""dimensionless_odes' large-width ODE (theory.solve_ode_large_p) against the authors' classes
LargePErfActivationODE and LargePSquaredActivationODE (IdePHICS/DimensionlessDynamicsSGD).

What runs: their classes from ``committee_learning/`` in the checkout given by ``--authors``
(imported from there, never copied), stepped by their own explicit Euler update at several step
sizes dt; ours, scipy's RK45 at rtol 1e-10, from the same (M0, q_orth0) and parameters (their
noise_gamma_over_p = gamma Delta / p, as their mean-field notebook passes it). Their ode package
imports its Cython extensions, so they must be built in place first (boost's headers and Cython):

    apt-get install libboost-dev && pip install cython tqdm scikit-learn
    cd PATH/committee_learning && python setup.py build_ext --inplace

Printed per case: max abs difference over the records of the risk, M and q_orth, theirs (at each
dt) minus ours, and the same for the Richardson extrapolation 2 y(dt/2) - y(dt) of their two
finest runs (their Euler error is O(dt), the extrapolated one O(dt^2)). The erf cases compare
with our ``variant="authors"`` (their closure, reproduced: no Cov(xi_j, lambda_l) term, self terms
z-averaged at finite d, noise term / p^2) and then print how far our default ``variant="ours"``
is from it. The square cases compare our default (their equations) and print their risk formula
at our state minus ours (their large-width risk adds the j != l entries of M M^T to tr(Q Q)).

``--sgd``: the evidence for the terms where we differ, one-pass SGD at large p against both
variants (risk records, mean over seeds): (a) the erf noise term at gamma/p = 0.2 (with the
finite-p ODE of 40 of the students, whose noise term also feeds the off-diagonal O_jl that both
large-width closures set to zero), (b) the erf finite-d correction at p = 400, d = 10 (risk and
mean q_orth with standard errors), (c) the square risk along SGD at p = 2000, d = 3 (the exact
risk of the weights against ours and theirs at the weights' M, q_orth), (d) the erf self
terms at d = infinity against the finite-p ODE (solve_ode) at p = 10, 20, 40.

    OMP_NUM_THREADS=1 python benchmarks/vs_authors/dimensionless_odes_large_p.py --authors /tmp/authors/dimless [--sgd [abcd]]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sgdrepro.dimensionless_odes import theory
from sgdrepro.dimensionless_odes.model import activation, sgd_step

# name: activation, p, k, d, gamma/p, Delta, t_max, their step sizes
CASES = {
    "erf d=inf": ("erf", 40, 2, None, 0.1, 0.1, 4.0, (0.04, 0.02, 0.01, 0.005)),
    "erf d=12": ("erf", 8, 2, 12, 0.1, 0.1, 2.0, (0.04, 0.02, 0.01)),
    "square d=inf": ("square", 200, 1, None, 0.01, 0.5, 2.0, (0.01, 0.005, 0.0025, 0.00125)),
    "square d=12": ("square", 200, 1, 12, 0.01, 0.5, 2.0, (0.01, 0.005, 0.0025, 0.00125)),
}
N_RECORDS = 4


def load_authors(path: Path):
    """Their two large-width classes, imported from the checkout (exits with one line if not built)."""
    package = path / "committee_learning"
    if not (package / "committee_learning" / "ode" / "base.py").is_file():
        marker = "committee_learning/committee_learning/ode/base.py"
        sys.exit(f"error: --authors {path}: not a checkout of IdePHICS/DimensionlessDynamicsSGD (no {marker})")
    sys.path.insert(0, str(package))
    try:
        from committee_learning.ode import LargePErfActivationODE, LargePSquaredActivationODE
    except ImportError as err:
        sys.exit(f"error: --authors {path}: their Cython extension is not built ({err}); see this script's docstring")
    return {"erf": LargePErfActivationODE, "square": LargePSquaredActivationODE}


def initial_state(p: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return 0.5 * rng.standard_normal((p, k)), rng.uniform(0.5, 1.5, p)


def run_authors(cls, M0, q0, d, lr_over_p, noise, dt, t_rec):
    """Their Euler integration; (risk [n], M [n, p, k], q_orth [n, p]) at the record times."""
    k = M0.shape[1]
    ode = cls(np.eye(k), M0 @ M0.T + np.diag(q0), M0, dt, offdiagonal=d is not None, d=d, noise_term=True, noise_gamma_over_p=lr_over_p * noise)
    steps = np.rint(np.asarray(t_rec) / dt).astype(int)
    out, done = [], 0
    for n in steps:
        for _ in range(n - done):
            ode._update_step()
        done = n
        out.append((ode.risk(), ode.M.copy(), ode.Qorth.copy()))
    return tuple(np.array(x) for x in zip(*out))


def max_diffs(a, b) -> str:
    return "  ".join(f"{name} {np.max(np.abs(x - y)):.2e}" for name, x, y in zip(("risk", "M", "q_orth"), a, b))


def compare(classes) -> None:
    for name, (act, p, k, d, lr_over_p, noise, t_max, dts) in CASES.items():
        M0, q0 = initial_state(p, k)
        t_rec = np.linspace(0.0, t_max, N_RECORDS + 1)[1:]
        variant = "authors" if act == "erf" else "ours"
        ours = theory.solve_ode_large_p(M0, q0, lr_over_p, noise, t_rec, act, d, variant=variant, rtol=1e-10, atol=1e-12, n_nodes=48)
        ours = (ours.risk, ours.M, ours.q_orth)
        print(f"\n[{name}] p={p} k={k} d={d} gamma/p={lr_over_p} Delta={noise} t in (0, {t_max}]; ours variant={variant!r}")
        runs = {}
        for dt in dts:
            start = time.perf_counter()
            runs[dt] = run_authors(classes[act], M0, q0, d, lr_over_p, noise, dt, t_rec)
            print(f"  theirs dt={dt:<8g} - ours: {max_diffs(runs[dt], ours)}   ({time.perf_counter() - start:.1f} s)")
        coarse, fine = runs[dts[-2]], runs[dts[-1]]
        extrapolated = tuple(2.0 * f - c for f, c in zip(fine, coarse))
        print(f"  theirs Richardson(dt={dts[-1]:g}) - ours: {max_diffs(extrapolated, ours)}")
        if act == "erf":
            default = theory.solve_ode_large_p(M0, q0, lr_over_p, noise, t_rec, act, d, rtol=1e-10, atol=1e-12, n_nodes=48)
            print(f"  ours variant='ours' - variant='authors': {max_diffs((default.risk, default.M, default.q_orth), ours)}")
        else:
            probe = classes[act](np.eye(k), M0 @ M0.T + np.diag(q0), M0, 1.0, offdiagonal=d is not None, d=d, noise_term=True, noise_gamma_over_p=0.0)
            gaps = []
            for i in range(len(t_rec)):
                probe.M, probe.Qorth = ours[1][i].copy(), ours[2][i].copy()
                gaps.append(probe.risk() - ours[0][i])
            span = f"{np.min(ours[0]):.3f}..{np.max(ours[0]):.3f}"
            print(f"  their risk formula at our state - ours: max {np.max(np.abs(gaps)):.2e} (risk itself {span})")
            if d is None:
                full = [theory.risk_square(m @ m.T + np.diag(q), m, np.eye(k)) for m, q in zip(ours[1], ours[2])]
                print(f"  ours - risk_square(Q = M M^T + diag q_orth): max {np.max(np.abs(np.array(full) - ours[0])):.2e}")


# ---------------------------------------------------------------- SGD evidence


def student_weights(M0, q0, d: int, runs: int, seed: int):
    """Teacher [runs, k, d] (orthonormal rows of norm sqrt d, P = I) and students [runs, p, d] with
    W W*^T/d = M0 and diag of the orthogonal part q0 exactly; orthogonal directions uniform in the
    complement of the teachers (their overlaps those of the closure at t = 0)."""
    gen = torch.Generator().manual_seed(seed)
    p, k = M0.shape
    frame, _ = torch.linalg.qr(torch.randn(runs, d, k, generator=gen, dtype=torch.float64))
    teacher = frame.transpose(1, 2)  # [runs, k, d], orthonormal rows
    u = torch.randn(runs, p, d, generator=gen, dtype=torch.float64)
    u = u - (u @ frame) @ teacher
    u = u / u.norm(dim=-1, keepdim=True)
    M0t, q0t = torch.as_tensor(M0), torch.as_tensor(q0)
    W = math.sqrt(d) * (torch.einsum("jr,brd->bjd", M0t, teacher) + q0t.sqrt()[None, :, None] * u)
    return math.sqrt(d) * teacher, W


def sgd_records(act: str, M0, q0, d, lr_over_p, noise, t_rec, runs=4, seed=0):
    """One-pass SGD (our model.sgd_step for erf; the same update with g = z^2 for square) recorded at
    the steps t p d / gamma; returns the records' (risk, M, q_orth, mean off-diagonal O_jl), each [runs, n_t, ...]."""
    p, k = M0.shape
    gamma = lr_over_p * p
    Wt, W = student_weights(M0, q0, d, runs, seed)
    gen = torch.Generator().manual_seed(seed + 1)
    lr = torch.full((runs,), gamma, dtype=torch.float64)
    steps = np.rint(np.asarray(t_rec) * p * d / gamma).astype(int)
    risks, Ms, qs, offs, done = [], [], [], [], 0
    for n in steps:
        for _ in range(n - done):
            x = torch.randn(runs, d, generator=gen, dtype=torch.float64)
            nu = torch.einsum("brd,bd->br", Wt, x) / math.sqrt(d)
            y = (nu**2 if act == "square" else activation(nu)).mean(1) + math.sqrt(noise) * torch.randn(runs, generator=gen, dtype=torch.float64)
            if act == "erf":
                W = sgd_step(W, x, y, lr)
            else:
                lam = torch.einsum("bjd,bd->bj", W, x) / math.sqrt(d)
                coeff = (lr * ((lam**2).mean(1) - y) / (p * math.sqrt(d)))[:, None] * 2.0 * lam
                W = W - coeff[:, :, None] * x[:, None, :]
        done = n
        Q = (W @ W.transpose(1, 2) / d).numpy()
        M = (W @ Wt.transpose(1, 2) / d).numpy()
        P = np.eye(k)
        risk_fn = theory.risk_square if act == "square" else theory.risk_erf
        risks.append([risk_fn(Q[b], M[b], P) for b in range(runs)])
        Ms.append(M)
        O = Q - M @ M.transpose(0, 2, 1)
        qs.append(np.einsum("bjj->bj", O))
        offs.append((O.sum((1, 2)) - qs[-1].sum(1)) / (p * (p - 1)))
    return np.array(risks).T, np.stack(Ms, 1), np.stack(qs, 1), np.array(offs).T


def _row(label, values) -> str:
    return f"  {label:<34}" + " ".join(f"{v:10.4g}" for v in values)


def sgd_evidence(classes, items: str) -> None:
    torch.set_num_threads(1)
    if "a" in items:
        evidence_noise()
    if "b" in items:
        evidence_finite_d()
    if "c" in items:
        evidence_square_risk(classes)
    if "d" in items:
        evidence_self_terms()


def evidence_noise() -> None:
    # (a) erf noise term: p = 500, gamma/p = 0.2, Delta = 1, d = 500, started near the teacher
    p, k, d, lr_over_p, noise = 500, 1, 500, 0.2, 1.0
    rng = np.random.default_rng(1)
    M0, q0 = 0.8 + 0.05 * rng.standard_normal((p, k)), np.full(p, 0.2)
    t = np.array([1.0, 3.0, 6.0, 10.0])
    print(f"\n(a) erf noise term: p={p} k={k} d={d} gamma/p={lr_over_p} Delta={noise}; excess risk at t = {t}")
    start = time.perf_counter()
    risk, _, q, off = sgd_records("erf", M0, q0, d, lr_over_p, noise, t, runs=2)
    print(_row("SGD (mean of 2 runs)", risk.mean(0)) + f"   ({time.perf_counter() - start:.0f} s)")
    print(_row("SGD mean q_orth", q.mean((0, 2))))
    print(_row("SGD mean off-diagonal O_jl", off.mean(0)))
    for variant in theory.LARGE_P_VARIANTS:
        sol = theory.solve_ode_large_p(M0, q0, lr_over_p, noise, t, "erf", d, variant=variant, n_nodes=16)
        print(_row(f"ODE variant={variant!r}", sol.risk))
        print(_row(f"ODE variant={variant!r} mean q_orth", sol.q_orth.mean(1)))
    # the finite-p ODE (d -> inf) of the first 40 of these students: its noise term feeds O_jl (j != l) too
    M40 = M0[:40]
    full = theory.solve_ode(M40 @ M40.T + np.diag(q0[:40]), M40, np.eye(k), lr_over_p, noise, t, second_order=False)
    O = full.Q - np.einsum("tjr,tlr->tjl", full.M, full.M)
    diag = np.einsum("tjj->tj", O)
    print(_row("finite-p ODE p=40", full.risk))
    print(_row("finite-p ODE p=40 mean q_orth", diag.mean(1)))
    print(_row("finite-p ODE p=40 mean off-diag O", (O.sum((1, 2)) - diag.sum(1)) / (40 * 39)))


def evidence_finite_d() -> None:
    # (b) erf finite-d correction: p = 400, d = 10, gamma/p = 1/400 (gamma = 1), no noise, random start
    p, k, d, lr_over_p = 400, 1, 10, 1.0 / 400
    rng = np.random.default_rng(2)
    M0, q0 = rng.standard_normal((p, k)) / math.sqrt(d), rng.uniform(0.6, 1.0, p)
    t = np.array([0.0, 0.5, 1.0, 2.0, 10.0, 40.0])
    print(f"\n(b) erf finite-d correction: p={p} k={k} d={d} gamma=1, Delta=0; at t = {t}")
    start = time.perf_counter()
    risk, _, q, _ = sgd_records("erf", M0, q0, d, lr_over_p, 0.0, t, runs=8)
    q = q.mean(2)
    print(_row("SGD risk (mean of 8 runs)", risk.mean(0)) + f"   ({time.perf_counter() - start:.0f} s)")
    print(_row("  standard error", risk.std(0, ddof=1) / math.sqrt(8)))
    print(_row("SGD mean q_orth", q.mean(0)))
    print(_row("  standard error", q.std(0, ddof=1) / math.sqrt(8)))
    sols = {
        f"d={d} variant={v!r}": theory.solve_ode_large_p(M0, q0, lr_over_p, 0.0, t, "erf", d, variant=v, n_nodes=16) for v in theory.LARGE_P_VARIANTS
    }
    sols["d=None (no correction)"] = theory.solve_ode_large_p(M0, q0, lr_over_p, 0.0, t, "erf")
    for label, sol in sols.items():
        print(_row(f"ODE {label} risk", sol.risk))
        print(_row(f"ODE {label} q_orth", sol.q_orth.mean(1)))


def evidence_square_risk(classes) -> None:
    # (c) square risk along SGD, p = 2000, d = 3, k = 1, gamma = 1: from the authors' mean-field start
    # (W0 ~ N(0, 1); p = 5000 there), where M has no common sign, and from an aligned start (M0 ~ 0.3 +
    # 0.1 N(0, 1), q_orth0 = 0.9), where the off-diagonal M M^T that their risk adds is large. The exact
    # risk of the weights is risk_square of their Q (checked against Monte Carlo in the tests); ours and
    # theirs are evaluated at the weights' (M, q_orth), with the finite-d correction.
    p, k, d, lr_over_p = 2000, 1, 3, 1.0 / 2000
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((p, d))
    M_random = W0[:, :k] / math.sqrt(d)  # the teacher along e_1 (rotation invariance)
    starts = {
        "authors' start": (M_random, np.sum(W0**2, 1) / d - np.sum(M_random**2, 1), np.array([0.0, 1.0, 3.0, 10.0, 30.0])),
        "aligned start": (0.3 + 0.1 * rng.standard_normal((p, k)), np.full(p, 0.9), np.array([0.0, 0.3, 1.0, 3.0])),
    }
    for label, (M0, q0, t) in starts.items():
        start = time.perf_counter()
        risk, M, q, _ = sgd_records("square", M0, q0, d, lr_over_p, 0.0, t, runs=1)
        probe = classes["square"](np.eye(k), M0 @ M0.T + np.diag(q0), M0, 1.0, offdiagonal=True, d=d, noise_term=False)
        theirs = []
        for i in range(len(t)):
            probe.M, probe.Qorth = M[0, i].copy(), q[0, i].copy()
            theirs.append(probe.risk())
        ours = [theory.large_p_risk_square(M[0, i], q[0, i], d) for i in range(len(t))]
        print(f"\n(c) square risk along SGD, {label} (p={p}, d={d}, k={k}, gamma=1); at t = {t}   ({time.perf_counter() - start:.0f} s)")
        print(_row("exact risk_square(Q, M, P) of W", risk[0]))
        print(_row("ours large_p_risk_square(M, q, d)", ours))
        print(_row("theirs LargeP...ODE.risk()", theirs))
        print(_row("mean M_j1", M[0].mean((1, 2))))


def evidence_self_terms() -> None:
    # (d) erf self terms at d = infinity: the large-p ODE against the finite-p ODE (solve_ode, exact as d -> inf)
    print("\n(d) erf self terms, d = infinity: max |risk - solve_ode risk| over t in [0, 20], gamma/p = 0.05, Delta = 0.1")
    t = np.linspace(0.0, 20.0, 41)
    for p in (10, 20, 40):
        M0, q0 = initial_state(p, 2, seed=4)
        full = theory.solve_ode(M0 @ M0.T + np.diag(q0), M0, np.eye(2), 0.05, 0.1, t, second_order=False).risk
        gaps = [np.max(np.abs(theory.solve_ode_large_p(M0, q0, 0.05, 0.1, t, "erf", variant=v).risk - full)) for v in theory.LARGE_P_VARIANTS]
        print(f"  p={p:<3}  ours {gaps[0]:.2e}   authors' closure {gaps[1]:.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--authors", required=True, type=Path, help="path of a checkout of the authors' repository (extensions built)")
    parser.add_argument("--sgd", nargs="?", const="abcd", default="", help="also run the SGD evidence, all of (a)-(d) or the letters given (minutes)")
    parser.add_argument("--skip-compare", action="store_true", help="skip the Euler comparison (with --sgd)")
    args = parser.parse_args()
    classes = load_authors(args.authors)
    if not args.skip_compare:
        compare(classes)
    if args.sgd:
        sgd_evidence(classes, args.sgd)


if __name__ == "__main__":
    main()
