"""Step-size schedules of the paper: a large-step phase, then a decay (per run, batched).

Every schedule is a pure function of the iteration ``k`` and per-run tensors, so a grid of
runs with different schedules advances as one tensor program.

- ``piecewise_lr`` (diagonal and two-layer ReLU nets, after the authors' ``SGD`` and
  ``train_fc_net``): linear warm-up from ``lr`` to ``lr * (1 + (w - 1) * L)`` over the first
  ``L * n_steps`` iterations, then division by ``decay_factor``:

      eta_k = lr * (1 + (w - 1) * min(k, K) / n_steps) / (decay_factor if k >= K else 1),
      K = floor(L * n_steps), L = decay_at.

  ``w = 1`` is no warm-up; ``decay_at = 1`` is a constant step size.
- ``exponential_warmup_lr`` (deep nets, after the authors' ``piecewise_XXepochs`` with
  ``warmup_exp > 1``): with t the training progress in [0, 1],

      eta(t) = lr * q**(100 t)              for t < L,
      eta(t) = lr * q**(100 L) / 10         for L <= t < 0.9,
      eta(t) = lr * q**(100 L) / 100        for t >= 0.9;

  ``L = 0`` gives the small-step baseline ``lr`` constant (the authors' ``constant``).
"""

from __future__ import annotations

import torch

__all__ = ["piecewise_lr", "exponential_warmup_lr", "decay_step"]


def decay_step(decay_at: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Iteration K = floor(decay_at * n_steps) at which the step size is divided (per run)."""
    return torch.floor(decay_at * n_steps + 1e-9).to(torch.int64)


def piecewise_lr(k: int, n_steps: int, lr: torch.Tensor, decay_at: torch.Tensor,
                 decay_factor: torch.Tensor, warmup_factor: torch.Tensor | None = None) -> torch.Tensor:
    """Per-run step size at iteration ``k`` (see the module docstring)."""
    K = decay_step(decay_at, n_steps)
    decayed = torch.as_tensor(k, device=lr.device) >= K
    eta = lr if warmup_factor is None else lr * (1 + (warmup_factor - 1) * torch.clamp(K, max=k) / n_steps)
    return torch.where(decayed, eta / decay_factor, eta)


def exponential_warmup_lr(progress: float, lr: torch.Tensor, large_phase: torch.Tensor,
                          warmup_exp: torch.Tensor) -> torch.Tensor:
    """Per-run step size at training progress ``progress`` in [0, 1] (module docstring)."""
    t = torch.as_tensor(progress, dtype=lr.dtype, device=lr.device)
    peak = lr * warmup_exp ** (100.0 * large_phase)
    warm = lr * warmup_exp ** (100.0 * t)
    after = torch.where(t < 0.9, peak / 10.0, peak / 100.0)
    eta = torch.where(t < large_phase, warm, after)
    return torch.where(large_phase > 0, eta, lr)
