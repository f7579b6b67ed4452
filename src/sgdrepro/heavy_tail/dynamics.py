"""SGD on least squares, batched over runs (leading axis = run).

Loss f(x; a, y) = (a^T x - y)^2 / 2 and the mini-batch step (paper, Eq. 3.2)

    x_{k+1} = x_k - (eta / b) sum_{i in batch} a_i (a_i^T x_k - y_i).

Runs with different batch sizes share one program: every run draws ``b_max`` rows and row i
gets the weight 1/b if i < b, else 0 (:func:`batch_weights`); runs with different dimensions
are zero-padded to ``d_max`` with a coordinate mask.
"""

from __future__ import annotations

import torch

__all__ = ["batch_weights", "sgd_step", "sgd_step_streaming", "sample_without_replacement"]


def batch_weights(batch_size: torch.Tensor, b_max: int, dtype: torch.dtype) -> torch.Tensor:
    """[runs, b_max]: 1/b for the first b rows of each run, 0 after."""
    rows = torch.arange(b_max, device=batch_size.device).unsqueeze(0)
    b = batch_size.reshape(-1, 1)
    return torch.where(rows < b, 1.0 / b.to(dtype), torch.zeros((), dtype=dtype, device=batch_size.device))


def sgd_step(x: torch.Tensor, lr: torch.Tensor, a: torch.Tensor, y: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """One SGD step for every run: x [runs, d], lr [runs], a [runs, b_max, d], y and weights [runs, b_max].

    x - lr * sum_i w_i a_i (a_i^T x - y_i), with w_i = 1/b on the run's own batch rows.
    """
    residual = torch.einsum("rbd,rd->rb", a, x) - y
    grad = torch.einsum("rb,rbd->rd", weights * residual, a)
    return x - lr.unsqueeze(1) * grad


def sgd_step_streaming(
    e: torch.Tensor,
    lr: torch.Tensor,
    sigma: torch.Tensor,
    weights: torch.Tensor,
    g: torch.Tensor,
    noise: torch.Tensor,
    zeta: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One online SGD step on fresh data a_i ~ N(0, sigma^2 I_d), y_i = a_i^T x* + noise_i, in the
    error e = x - x*, sampled exactly in O(b + d) instead of O(b d) numbers.

    With u = e / ||e|| write a_i = sigma (g_i u + P z_i), P = I - u u^T, g_i ~ N(0, 1),
    z_i ~ N(0, I_d): then a_i^T e = sigma g_i ||e||, r_i = a_i^T e - noise_i, and
    sum_i w_i a_i r_i = sigma (S_1 u + sqrt(S_2) P zeta) in law, with S_1 = sum_i w_i g_i r_i,
    S_2 = sum_i w_i^2 r_i^2, zeta ~ N(0, I_d) (a Gaussian sum given r). So
    e' = e - eta sigma (S_1 u + sqrt(S_2) P zeta), the law of :func:`sgd_step` with Gaussian
    rows (the test compares the two). Shapes: e, zeta [runs, d]; g, noise, weights [runs, b_max];
    lr, sigma [runs]; mask [runs, d] (1 on a run's own coordinates) for padded dimensions.
    """
    if mask is not None:
        zeta = zeta * mask
    norm = torch.linalg.vector_norm(e, dim=1, keepdim=True)
    first = torch.zeros_like(e)
    first[:, 0] = 1.0  # any unit vector serves when e = 0 (then r_i = -noise_i)
    u = torch.where(norm > 0, e / norm.clamp_min(torch.finfo(e.dtype).tiny), first)
    s = sigma.unsqueeze(1)
    residual = s * g * norm - noise
    s1 = (weights * g * residual).sum(dim=1, keepdim=True)
    s2 = (weights**2 * residual**2).sum(dim=1, keepdim=True)
    projected = zeta - (zeta * u).sum(dim=1, keepdim=True) * u
    return e - (lr.unsqueeze(1) * s) * (s1 * u + torch.sqrt(s2) * projected)


def sample_without_replacement(uniforms: torch.Tensor, n: int, batch_size: torch.Tensor) -> torch.Tensor:
    """Per run, b distinct indices of 0..n-1 (Floyd's algorithm), from uniforms [runs, b_max].

    For j = n - b, ..., n - 1: t = floor(u (j + 1)); take t unless already taken, else j.
    Rows i >= b of a run are filled but carry weight 0 in the step. Uniform over b-subsets.
    """
    runs, b_max = uniforms.shape
    b = batch_size.reshape(-1, 1).to(torch.int64)
    chosen = torch.full((runs, b_max), -1, dtype=torch.int64, device=uniforms.device)
    for i in range(b_max):
        j = (n - b[:, 0] + i).clamp_max(n - 1)  # rows beyond b reuse the last j (weight 0)
        t = torch.clamp((uniforms[:, i] * (j + 1).to(uniforms.dtype)).floor().to(torch.int64), max=j)
        taken = (chosen[:, :i] == t.unsqueeze(1)).any(dim=1) if i else torch.zeros_like(t, dtype=torch.bool)
        chosen[:, i] = torch.where(taken, j, t)
    return chosen
