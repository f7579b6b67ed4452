"""Step-size schedules of the paper: a large-step phase, then a decay (per run, batched).

Every schedule is a pure function of the iteration ``k`` and per-run tensors, so a grid of
runs with different schedules advances as one tensor program.

- ``piecewise_lr`` (diagonal and ReLU nets, after the authors' ``SGD`` and ``train_fc_net``):
  warm-up from ``lr`` to ``lr * (1 + (w - 1) * L**p)`` over the first ``L * n_steps``
  iterations, then division by ``decay_factor``:

      eta_k = lr * (1 + (w - 1) * (min(k, K) / n_steps)**p) / (decay_factor if k >= K else 1),
      K = floor(L * n_steps), L = decay_at.

  ``w = 1`` is no warm-up; ``decay_at = 1`` is a constant step size, and so is ``decay_at = 0``
  with ``decay_factor = 1``; ``p`` (``warmup_exponent``) is 1 (linear) unless given (the
  authors' three-layer notebook uses 0.5).
- ``exponential_warmup_lr`` (deep nets, after the authors' ``piecewise_XXepochs`` with
  ``warmup_exp > 1``): with t the training progress in [0, 1],

      eta(t) = lr * q**(100 t)              for t < L,
      eta(t) = lr * q**(100 L) / 10         for L <= t < 0.9,
      eta(t) = lr * q**(100 L) / 100        for t >= 0.9;

  ``L = 0`` gives the small-step baseline ``lr`` constant (the authors' ``constant``).
  ``q = 1`` is the warm-up-free piecewise-constant schedule of the state-of-the-art setting:
  ``lr`` until L, ``lr / 10`` until 90 %, ``lr / 100`` after. For L = 0.5 this is exactly the
  authors' ``piecewise_05epochs`` with ``warmup_exp = warmup_factor = 1`` (their SOTA command);
  their code's 01/03 variants without warm-up divide by ``10 * 0.5 / L`` instead (a side effect
  of interpolating the linear warm-up to half of training), which we do not copy.
"""

from __future__ import annotations

import torch

__all__ = ["piecewise_lr", "exponential_warmup_lr", "decay_step"]


def decay_step(decay_at: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Iteration K = floor(decay_at * n_steps) at which the step size is divided (per run)."""
    return torch.floor(decay_at * n_steps + 1e-9).to(torch.int64)


def piecewise_lr(k: int, n_steps: int, lr: torch.Tensor, decay_at: torch.Tensor,
                 decay_factor: torch.Tensor, warmup_factor: torch.Tensor | None = None,
                 warmup_exponent: torch.Tensor | float | None = None) -> torch.Tensor:
    """Per-run step size at iteration ``k`` (see the module docstring); ``warmup_exponent``
    (per run or scalar) is p, linear (p = 1) when None."""
    K = decay_step(decay_at, n_steps)
    decayed = torch.as_tensor(k, device=lr.device) >= K
    if warmup_factor is None:
        eta = lr
    elif warmup_exponent is None:  # linear; this operation order keeps earlier results bit-identical
        eta = lr * (1 + (warmup_factor - 1) * torch.clamp(K, max=k) / n_steps)
    else:
        eta = lr * (1 + (warmup_factor - 1) * (torch.clamp(K, max=k).to(lr.dtype) / n_steps) ** warmup_exponent)
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
