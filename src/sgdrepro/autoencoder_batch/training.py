"""Mini-batch SGD for every batch size b = 1..n at once, as one batched program.

Sampling (one epoch = one pass over the n samples):

- ``reshuffle``: at the start of every epoch each run takes a fresh uniformly random order
  of the samples: the permutation (argsort of n uniforms) for an epoch that starts at update
  k is slot ``k mod PERMUTATION_BLOCK`` of the block ``chunk.random.uniform("batch",
  k div PERMUTATION_BLOCK, (PERMUTATION_BLOCK, n))``, a pure function of the run's key and k
  (drawing a block of permutations at once makes the counter-based generator's cost per
  update small; the block size is a constant so that a run alone draws the same orders);
- ``cyclic``: the fixed order 0, 1, ..., n-1 every epoch (the samples themselves are a
  random orthonormal set, so this is a deterministic order independent of the data).

Batch j of an epoch holds the samples at positions ``[j b, (j+1) b)`` of the order. When b
does not divide n the last batch is partial; ``last_batch: keep`` uses it (so every
sample is visited once per epoch; its loss is still the batch mean) and ``last_batch:
drop`` skips it (``floor(n/b)`` batches per epoch), as in PyTorch's ``drop_last``.

Every run makes the same number of updates ``n_steps`` (one update = one batch), so the
runs of different b stay in lockstep without any masked (skipped) update, and each run's
update k uses batch ``k mod n_batches(b)`` of epoch ``k div n_batches(b)``. Different b
are represented by batch weights over the n samples (see :func:`model.batch_weights`);
the run with b = n has weights 1/n on every sample at every update: it is exactly
full-batch gradient descent, whatever the order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..core import RunRandom, Trajectory, run_keys, train_batched
from ..core.trainer import any_beyond
from . import measures
from .model import batch_assignment, batch_weights, gaussian_init, n_batches, orthonormal_data, sgd_step

__all__ = ["ORDERS", "LAST_BATCH", "PERMUTATION_BLOCK", "train_runs", "draw_init", "draw_data", "data_key"]

ORDERS = ("reshuffle", "cyclic")
LAST_BATCH = ("keep", "drop")
PERMUTATION_BLOCK = 32


def train_runs(
    params: Mapping[str, np.ndarray],
    keys: np.ndarray,
    X: torch.Tensor,
    *,
    n: int,
    d: int,
    n_steps: int,
    init_scale: float,
    last_batch: str,
    record_at: np.ndarray,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
) -> Trajectory:
    """Train every run on the data ``X [n, d]``; ``params`` holds per-run arrays ``batch_size`` (int), ``lr`` (float),
    ``relu`` (bool: ReLU or linear) and ``cyclic`` (bool: fixed order or reshuffled).

    Records, at the steps ``record_at``: the full loss ``loss`` and the coordinates
    ``coords`` (``c_i = w^T x_i / ||x_i||``). The final state holds ``w``; ``w_0`` is redrawn
    with :func:`draw_init`.
    """
    host: dict = {}  # per-chunk constants (data, step-independent tensors), set by init

    def init(chunk):
        w0 = draw_init(chunk.random, d, init_scale, chunk.dtype)
        batch_size = chunk.params["batch_size"].to(torch.int64)
        nb = n_batches(n, batch_size, last_batch)
        cyclic = chunk.params["cyclic"].to(torch.bool)
        # only runs that reshuffle and have b < n need orders (any order gives b = n the same batch)
        shuffled = np.flatnonzero(~cyclic.cpu().numpy() & (batch_size < n).cpu().numpy())
        index = torch.as_tensor(shuffled, device=chunk.device, dtype=torch.int64)
        host.update(
            relu=chunk.params["relu"].to(torch.bool),
            n_batches=nb,
            shuffled=index,
            shuffled_random=chunk.random.subset(shuffled),
            shuffled_batch_size=batch_size[index],
            shuffled_n_batches=nb[index],
            # host copy: which steps start an epoch for some shuffled run, without a device sync
            shuffled_nb_host=nb[index].cpu().numpy(),
            block=-1,
            ranks=None,
        )
        order = torch.arange(n, device=chunk.device).expand(chunk.n_runs, n)
        batch_of, weight = batch_assignment(order, batch_size, last_batch, chunk.dtype)
        return {"w": w0.clone(), "batch_of": batch_of, "weight": weight}

    def step(state, k, chunk):
        batch_of, weight = state["batch_of"], state["weight"]
        if np.any(k % host["shuffled_nb_host"] == 0):
            block, slot = divmod(k, PERMUTATION_BLOCK)
            if block != host["block"]:
                u = host["shuffled_random"].uniform("batch", block, (PERMUTATION_BLOCK, n), torch.float64)
                # rank of each sample in the order argsort(u): argsort of the permutation
                host["block"], host["ranks"] = block, torch.argsort(torch.argsort(u, dim=-1), dim=-1)
            index = host["shuffled"]
            fresh_of, fresh_weight = batch_assignment(
                host["ranks"][:, slot], host["shuffled_batch_size"], last_batch, chunk.dtype
            )
            starts = (k % host["shuffled_n_batches"] == 0).unsqueeze(1)
            batch_of, weight = batch_of.clone(), weight.clone()
            batch_of[index] = torch.where(starts, fresh_of, batch_of[index])
            weight[index] = torch.where(starts, fresh_weight, weight[index])
        a = batch_weights(batch_of, weight, k % host["n_batches"])
        w = sgd_step(state["w"], X, host["relu"], a, chunk.params["lr"])
        return {"w": w, "batch_of": batch_of, "weight": weight}

    def observe(state, k, chunk):
        return {
            "loss": measures.full_loss(state["w"], X, host["relu"]),
            "coords": measures.coordinates(state["w"], X),
        }

    params = {
        "batch_size": np.asarray(params["batch_size"], dtype=np.int64),
        "lr": np.asarray(params["lr"], dtype=np.float64),
        "relu": np.asarray(params["relu"], dtype=bool),
        "cyclic": np.asarray(params["cyclic"], dtype=bool),
    }
    bytes_per_run = 8 * (2 * n * d + 4 * d + (4 + PERMUTATION_BLOCK) * n + len(record_at) * (n + 1)) * 4
    return train_batched(
        init, step, observe, n_steps, record_at, params, keys,
        device=device, dtype=dtype, chunk_size=chunk_size, bytes_per_run=bytes_per_run, is_diverged=_blown_up,
    )


def draw_init(random, d: int, init_scale: float, dtype: torch.dtype) -> torch.Tensor:
    """Initialization ``w_0 [R, d]`` of each run, a pure function of its key (redrawn identically)."""
    return gaussian_init(random.normal("init", 0, (d,), dtype), init_scale)


def data_key(experiment: str, root_seed: int, data_seed: int) -> np.ndarray:
    """Philox key of the data set (distinct from every run's key)."""
    return run_keys(experiment, [{"role": "data", "seed": int(data_seed)}], root_seed=root_seed)


def draw_data(key: np.ndarray, n: int, d: int, device, dtype: torch.dtype) -> torch.Tensor:
    """The data set ``X [n, d]``: n Haar-random orthonormal samples in R^d (rows)."""
    return orthonormal_data(RunRandom(key, device).normal("data", 0, (d, n), dtype), n)[0]


def _blown_up(state) -> torch.Tensor:
    """Diverged: w not finite or beyond 1e150 (only w evolves in floating point)."""
    return any_beyond(state["w"], 1e150)
