"""Mini-batches for the SGD trainers of this paper (diagonal and ReLU networks).

- the per-run data of the chunk being trained, selected once per chunk (:func:`per_chunk`,
  :func:`chunk_rows`);
- the sample indices of each step, drawn from the run's counter-based stream in blocks of
  ``SAMPLE_BLOCK`` steps, one counter per block (:func:`sample_block`, :func:`step_indices`),
  so a run's samples depend on its key and the step only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from sgdrepro.core import RunRandom

__all__ = ["SAMPLE_BLOCK", "sample_block", "step_indices", "per_chunk", "chunk_rows", "initial_state"]

SAMPLE_BLOCK = 1024


def sample_block(random: RunRandom, block: int, batch_size: int, n: int) -> torch.Tensor:
    """Indices of steps [block * SAMPLE_BLOCK, (block + 1) * SAMPLE_BLOCK), uniform in 0..n-1
    with replacement: int64 [runs, SAMPLE_BLOCK, batch_size]."""
    return random.randint("sample", block, (SAMPLE_BLOCK, batch_size), n)


def step_indices(sample: torch.Tensor, k: int, random: RunRandom, batch_size: int, n: int):
    """(block, indices [runs, batch_size]) of step k: ``sample`` is the block in hand, replaced
    by a fresh one when k starts a block."""
    if k % SAMPLE_BLOCK == 0:
        sample = sample_block(random, k // SAMPLE_BLOCK, batch_size, n)
    return sample, sample[:, k % SAMPLE_BLOCK]


def per_chunk(make: Callable) -> Callable:
    """``chunk -> make(chunk)``, computed once for the chunk being trained (the trainer walks
    the chunks one after another, so one cached entry suffices)."""
    cache: dict = {}

    def get(chunk):
        key = int(chunk.index[0])
        if key not in cache:
            cache.clear()
            cache[key] = make(chunk)
        return cache[key]

    return get


def chunk_rows(data: dict, chunk, device) -> dict:
    """The chunk's runs of every per-run tensor in ``data``, plus ``rows`` [runs, 1] (0..runs-1)
    to gather each run's mini-batch with ``X[rows, idx]``."""
    index = torch.as_tensor(chunk.index, device=device)
    local = {k: v.index_select(0, index) for k, v in data.items()}
    local["rows"] = torch.arange(chunk.n_runs, device=device).unsqueeze(1)
    return local


def initial_state(init: dict, chunk, device, batch_size: int, n: int) -> dict:
    """The chunk's copy of the per-run initial tensors in ``init``, plus the first block of
    sample indices (``sample``)."""
    index = torch.as_tensor(chunk.index, device=device)
    state = {k: v.index_select(0, index).clone() for k, v in init.items()}
    state["sample"] = sample_block(chunk.random, 0, batch_size, n)
    return state
