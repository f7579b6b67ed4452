"""The teacher-student committee machines and one-pass SGD, batched over runs (leading axis).

Shapes: W [runs, p, d] (student), W_t [runs, k, d] (teacher), x [runs, d]. Pure functions of
tensors; the trainer (sgdrepro.core.train_batched) owns the loop, the seeding and the records.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "activation", "activation_grad", "committee", "labels", "sgd_step", "order_parameters",
    "weights_from_overlaps", "risk_erf_torch",
]

_SQRT2 = math.sqrt(2.0)


def activation(z: torch.Tensor, name: str = "erf") -> torch.Tensor:
    """g(z) = erf(z / sqrt 2) (the paper's closed-form case) or relu(z)."""
    return torch.erf(z / _SQRT2) if name == "erf" else torch.relu(z)


def activation_grad(z: torch.Tensor, name: str = "erf") -> torch.Tensor:
    """g'(z): sqrt(2/pi) exp(-z^2/2) for erf(z/sqrt 2); the step function for relu."""
    if name == "erf":
        return math.sqrt(2.0 / math.pi) * torch.exp(-0.5 * z * z)
    return (z > 0).to(z.dtype)


def committee(W: torch.Tensor, x: torch.Tensor, name: str = "erf") -> tuple[torch.Tensor, torch.Tensor]:
    """Output (1/p) sum_j g(w_j . x / sqrt d) and the local fields lambda [runs, p]."""
    fields = torch.einsum("rjd,rd->rj", W, x) / math.sqrt(W.shape[-1])
    return activation(fields, name).mean(dim=1), fields


def labels(W_teacher: torch.Tensor, x: torch.Tensor, zeta: torch.Tensor, noise: torch.Tensor, name: str = "erf"):
    """Noisy teacher labels y = f*(x) + sqrt(noise) zeta for a block of inputs x [runs, n, d]."""
    fields = x @ W_teacher.transpose(1, 2) / math.sqrt(x.shape[-1])  # [runs, n, k]
    return activation(fields, name).mean(dim=-1) + torch.sqrt(noise)[:, None] * zeta


def sgd_step(W: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: torch.Tensor, name: str = "erf") -> torch.Tensor:
    """One one-pass SGD step on the loss (f(x) - y)^2 / 2 with a fresh sample (x, y):

        w_j <- w_j - (lr / p) (f(x) - y) g'(lambda_j) x / sqrt(d),   lambda_j = w_j . x / sqrt(d)

    W [runs, p, d], x [runs, d], y and lr [runs].
    """
    p, d = W.shape[1], W.shape[2]
    f, fields = committee(W, x, name)
    coeff = (lr * (f - y) / (p * math.sqrt(d)))[:, None] * activation_grad(fields, name)  # [runs, p]
    return W - coeff[:, :, None] * x[:, None, :]


def order_parameters(W, W_teacher):
    """Q = W W^T / d [runs, p, p], M = W W*^T / d [runs, p, k]."""
    d = W.shape[-1]
    return W @ W.transpose(1, 2) / d, W @ W_teacher.transpose(1, 2) / d


def weights_from_overlaps(gauss: torch.Tensor, Q0, M0, P) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher and student weights [runs, k, d], [runs, p, d] with exactly the given overlaps.

    ``gauss`` [runs, d, p + k] is Gaussian; its QR factor gives a random orthonormal frame
    (e_1..e_{p+k}) per run; W* = sqrt(d) chol(P) E_teacher, W = sqrt(d) (M0 chol(P)^-T E_teacher
    + chol(Q0 - M0 P^-1 M0^T) E_student). Needs d >= p + k.
    """
    runs, d, n = gauss.shape
    k = M0.shape[-1]
    opts = {"dtype": gauss.dtype, "device": gauss.device}
    Q0, M0, P = (torch.as_tensor(a, **opts) for a in (Q0, M0, P))
    frame, _ = torch.linalg.qr(gauss)  # [runs, d, p + k], orthonormal columns
    e_teacher = frame[:, :, :k].transpose(1, 2)
    e_student = frame[:, :, k:].transpose(1, 2)
    chol_p = torch.linalg.cholesky(P)
    coeff_t = torch.linalg.solve_triangular(chol_p, M0.T, upper=False).T  # M0 chol(P)^-T
    chol_orth = torch.linalg.cholesky(Q0 - coeff_t @ coeff_t.T)
    scale = math.sqrt(d)
    W_teacher = scale * torch.einsum("rs,bsd->brd", chol_p, e_teacher)
    W = scale * (torch.einsum("js,bsd->bjd", coeff_t, e_teacher) + torch.einsum("jl,bld->bjd", chol_orth, e_student))
    return W_teacher, W


def risk_erf_torch(Q: torch.Tensor, M: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
    """Batched torch twin of :func:`sgdrepro.dimensionless_odes.theory.risk_erf` (same normalisation)."""
    p, k = M.shape[-2], M.shape[-1]
    P = P.expand(M.shape[:-2] + P.shape[-2:])
    omega = torch.cat([torch.cat([Q, M], -1), torch.cat([M.transpose(-1, -2), P], -1)], -2)
    diag = torch.diagonal(omega, dim1=-2, dim2=-1)
    norm = torch.sqrt((1.0 + diag[..., :, None]) * (1.0 + diag[..., None, :]))
    pair = (2.0 / math.pi) * torch.asin(torch.clamp(omega / norm, -1.0, 1.0))
    a = torch.cat([torch.full((p,), 1.0 / p, dtype=Q.dtype, device=Q.device),
                   torch.full((k,), -1.0 / k, dtype=Q.dtype, device=Q.device)])
    return 0.5 * torch.einsum("a,...ab,b->...", a, pair, a)
