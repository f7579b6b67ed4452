"""Sparsity measures of the paper, batched over runs (leading axis = run).

- Feature sparsity coefficient (Section 4): the fraction of positive ReLU activations over
  (samples x neurons) of a layer on the training set, ``mean 1[h_ij > 0]``.
- Its variant that first drops neurons that are always zero and neurons whose activation
  vector (over the samples) is highly correlated (|corr| > threshold) with another remaining
  neuron, scanning neurons in order as the authors do, and then counts positive entries of
  the remaining neurons over the same (samples x all neurons) denominator.
- Diagonal nets: number of coordinates with |beta_i| above a threshold, and the overlap of the
  r largest coordinates of |beta| with the ground-truth support.
"""

from __future__ import annotations

import torch

__all__ = ["feature_sparsity", "feature_sparsity_dedup", "support_overlap"]


def feature_sparsity(h: torch.Tensor) -> torch.Tensor:
    """Fraction of positive pre-activations, ``h`` [runs, samples, neurons] -> [runs]."""
    return (h > 0).to(h.dtype).mean(dim=(1, 2))


def feature_sparsity_dedup(h: torch.Tensor, corr_threshold: float) -> torch.Tensor:
    """Feature sparsity after dropping dead and duplicated neurons (module docstring)."""
    phi = torch.relu(h)
    active = phi > 0
    alive = active.any(dim=1)  # [runs, m]: neurons that fire at least once
    centred = phi - phi.mean(dim=1, keepdim=True)
    cov = torch.bmm(centred.transpose(1, 2), centred)
    std = torch.diagonal(cov, dim1=1, dim2=2).sqrt()
    with torch.no_grad():
        corr = cov / (std.unsqueeze(2) * std.unsqueeze(1))
    m = h.shape[2]
    # NaN correlations (constant neurons) compare False, as in numpy's corrcoef-based filter
    close = (corr.abs() > corr_threshold) & ~torch.eye(m, dtype=torch.bool, device=h.device)
    for i in range(m):
        duplicate = (close[:, i, :] & alive).any(dim=1)
        alive[:, i] &= ~duplicate
    return (active & alive.unsqueeze(1)).to(h.dtype).sum(dim=(1, 2)) / (h.shape[1] * m)


def support_overlap(beta: torch.Tensor, beta_star: torch.Tensor) -> torch.Tensor:
    """|top_r(|beta|) intersect supp(beta*)| / r with r = |supp(beta*)| (per run; r may vary)."""
    support = beta_star != 0
    r = support.sum(dim=1)
    rank = torch.argsort(torch.argsort(beta.abs(), dim=1, descending=True), dim=1)
    top = rank < r.unsqueeze(1)
    return (top & support).sum(dim=1).to(beta.dtype) / r.clamp(min=1).to(beta.dtype)
