"""SGD on least squares, batched over runs (leading axis = run).

Loss f(x; a, y) = (a^T x - y)^2 / 2 and the mini-batch step (paper, Eq. 3.2)

    x_{k+1} = x_k - (eta / b) sum_{i in batch} a_i (a_i^T x_k - y_i).

Runs with different batch sizes share one program: every run draws ``b_max`` rows and row i
gets the weight 1/b if i < b, else 0 (:func:`batch_weights`); runs with different dimensions
are zero-padded to ``d_max`` with a coordinate mask.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

__all__ = ["batch_weights", "sgd_step", "sgd_step_streaming", "batch_sums", "batch_sums_chi2", "chi_square",
           "sample_without_replacement", "floyd_sequential"]


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
    zeta: torch.Tensor,
    sums: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One online SGD step on fresh data a_i ~ N(0, sigma^2 I_d), y_i = a_i^T x* + noise_i, in the
    error e = x - x*, sampled exactly in O(b + d) instead of O(b d) numbers.

    With u = e / ||e|| write a_i = sigma (g_i u + P z_i), P = I - u u^T, g_i ~ N(0, 1),
    z_i ~ N(0, I_d): then a_i^T e = c g_i with c = sigma ||e||, r_i = a_i^T e - noise_i, and
    sum_i w_i a_i r_i = sigma (S_1 u + sqrt(S_2) P zeta) in law, with S_1 = sum_i w_i g_i r_i,
    S_2 = sum_i w_i^2 r_i^2, zeta ~ N(0, I_d) (a Gaussian sum given r). So
    e' = e - eta sigma (S_1 u + sqrt(S_2) P zeta), the law of :func:`sgd_step` with Gaussian
    rows (the tests compare the two). ``sums(c)`` returns (S_1, sqrt(S_2)), [runs, 1] each:
    :func:`batch_sums` from the b pairs (g_i, noise_i), or :func:`batch_sums_chi2` from two
    numbers. Shapes: e, zeta [runs, d]; lr, sigma [runs]; mask [runs, d] (1 on a run's own
    coordinates) for padded dimensions.
    """
    if mask is not None:
        zeta = zeta * mask
    norm = torch.linalg.vector_norm(e, dim=1, keepdim=True)
    # u = e / ||e||; at e = 0 any unit u serves and u = 0 gives sqrt(S_2) zeta, the same law
    inv_norm = 1.0 / norm.clamp_min(torch.finfo(e.dtype).tiny)
    s = sigma.unsqueeze(1)
    s1, root_s2 = sums(s * norm)
    along = s1 - root_s2 * torch.linalg.vecdot(zeta, e).unsqueeze(1) * inv_norm  # coefficient of u
    step = lr.unsqueeze(1) * s
    # e - step (along u + sqrt(S_2) zeta), written as two passes over [runs, d]
    return torch.addcmul(e * (1.0 - step * along * inv_norm), step * root_s2, zeta, value=-1.0)


def batch_sums(weights: torch.Tensor, g: torch.Tensor, noise: torch.Tensor, c: torch.Tensor):
    """(S_1, sqrt(S_2)) of :func:`sgd_step_streaming` from the b pairs: r_i = c g_i - noise_i,
    S_1 = sum_i w_i g_i r_i, S_2 = sum_i w_i^2 r_i^2. weights, g, noise [runs, b]; c [runs, 1]."""
    wr = weights * (c * g - noise)
    return (wr * g).sum(dim=1, keepdim=True), torch.sqrt(wr.square().sum(dim=1, keepdim=True))


def batch_sums_chi2(chi2: torch.Tensor, xi: torch.Tensor, c: torch.Tensor, noise_sd: float, b: torch.Tensor):
    """(S_1, sqrt(S_2)) for w_i = 1/b in law from H ~ chi^2_b and xi ~ N(0, 1) ([runs, 1] each;
    b [runs, 1]): two numbers per step instead of 2b.

    Rotate each pair (g_i, n_i), noise_i = s_n n_i, by rho = sqrt(c^2 + s_n^2):
    h_i = r_i / rho and m_i = (s_n g_i + c n_i) / rho are independent N(0, 1) and
    g_i = (c h_i + s_n m_i) / rho. So with H = sum h_i^2 ~ chi^2_b and
    sum m_i h_i | h ~ N(0, H): S_1 = (c H + s_n sqrt(H) xi) / b, sqrt(S_2) = rho sqrt(H) / b.
    """
    root_h = torch.sqrt(chi2)
    rho = torch.sqrt(c.square() + noise_sd**2)
    return (c * chi2 + noise_sd * root_h * xi) / b, rho * root_h / b


def chi_square(words: torch.Tensor, z: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """chi^2_b [runs, 1] exactly, per run: -2 sum_j log U_j over floor(b/2) uniforms (chi^2_2 is
    the exponential of mean 2), plus z^2 when b is odd. words: int64 [runs, >= max b // 2] of
    32-bit random words (a run uses the first b // 2); z [runs, 1] standard normal; b [runs, 1]."""
    m = b // 2
    u = words.to(z.dtype).add_(0.5).mul_(2.0**-32)
    used = torch.arange(words.shape[1], device=words.device).unsqueeze(0) < m
    chi2 = -2.0 * torch.where(used, u.log(), torch.zeros((), dtype=z.dtype, device=z.device)).sum(dim=1, keepdim=True)
    return chi2 + (b % 2) * z.square()


def sample_without_replacement(uniforms: torch.Tensor, n: int, batch_size: torch.Tensor) -> torch.Tensor:
    """Per run, b distinct indices of 0..n-1 (Floyd's algorithm), from uniforms [runs, b_max].

    For j = n - b, ..., n - 1: t = floor(u (j + 1)); take t unless already taken, else j.
    Rows i >= b of a run are filled but carry weight 0 in the step. Uniform over b-subsets.

    The same integers as :func:`floyd_sequential`, in a few tensor ops instead of ~4 per row:
    every t at once; a run whose t are distinct and never among the earlier rows' j (t_i in
    [n - b, j_{i-1}]) takes exactly its t. The other runs (a few percent when n >> b) solve
    "already taken" as a fixed point: row i depends only on rows < i, so each pass settles at
    least one more row, and a pass that changes nothing has the sequential answer.
    """
    b_max = uniforms.shape[1]
    rows = torch.arange(b_max, device=uniforms.device)
    j = (n - batch_size.reshape(-1, 1).to(torch.int64) + rows).clamp_max(n - 1)  # rows beyond b reuse the last j
    t = torch.minimum((uniforms * (j + 1).to(uniforms.dtype)).floor().to(torch.int64), j)
    if b_max == 1:
        return t
    ordered = _sorted_rows(t)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(dim=1)
    on_earlier_j = ((t[:, 1:] >= j[:, :1]) & (t[:, 1:] <= j[:, :-1])).any(dim=1)
    clash = (repeated | on_earlier_j).nonzero().squeeze(1)
    if clash.numel() == 0:
        return t
    tc, jc = t[clash], j[clash]
    earlier = torch.ones(b_max, b_max, dtype=torch.bool, device=uniforms.device).tril(-1)  # [i, k]: k < i
    chosen = tc
    for _ in range(b_max):
        settled = torch.where(((tc.unsqueeze(2) == chosen.unsqueeze(1)) & earlier).any(dim=2), jc, tc)
        if torch.equal(settled, chosen):
            break
        chosen = settled
    return t.index_put((clash,), chosen)


def _sorted_rows(t: torch.Tensor) -> torch.Tensor:
    if t.device.type == "cpu":  # numpy sorts short rows ~5x faster than torch (integers: the same result)
        return torch.from_numpy(np.sort(t.numpy(), axis=1))
    return t.sort(dim=1).values


def floyd_sequential(uniforms: torch.Tensor, n: int, batch_size: torch.Tensor) -> torch.Tensor:
    """The reference of :func:`sample_without_replacement`: Floyd's algorithm one row at a time."""
    runs, b_max = uniforms.shape
    b = batch_size.reshape(-1, 1).to(torch.int64)
    chosen = torch.full((runs, b_max), -1, dtype=torch.int64, device=uniforms.device)
    for i in range(b_max):
        j = (n - b[:, 0] + i).clamp_max(n - 1)
        t = torch.clamp((uniforms[:, i] * (j + 1).to(uniforms.dtype)).floor().to(torch.int64), max=j)
        taken = (chosen[:, :i] == t.unsqueeze(1)).any(dim=1) if i else torch.zeros_like(t, dtype=torch.bool)
        chosen[:, i] = torch.where(taken, j, t)
    return chosen
