"""Benchmark: per-run Python loop against the batched trainer, heavy_tail's linear-regression grid.

The paper-size grid (b in {1, 2, 3, 4, 5, 10, 20} x eta in {0.02, ..., 0.2}, d = 100) with
``--chains`` chains per point, each SGD chain on fresh Gaussian data for ``--steps`` steps:

- loop: one run at a time in plain torch (torch.randn rows, literal mini-batch step), the way a
  per-run script would do it (timed on ``--loop-runs`` runs and reported per step);
- batched: every run of the grid as one program through ``core.train_batched`` with the
  heavy_tail streaming step and counter-based per-run random numbers.

Prints run-steps per second of both and their ratio. Usage:
    python benchmarks/bench_heavy_tail.py [--device auto|cpu|cuda] [--chains 128] [--steps 300]
The defaults run in about a minute on one CPU core.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from sgdrepro.core import Grid, resolve_device, run_keys, train_batched
from sgdrepro.heavy_tail.dynamics import batch_weights, sgd_step_streaming

BATCH_SIZES = [1, 2, 3, 4, 5, 10, 20]
LRS = [round(0.02 * i, 2) for i in range(1, 11)]
DIM = 100


def loop_one_run(lr: float, b: int, n_steps: int, device, dtype, generator) -> torch.Tensor:
    """Online SGD for one run: x <- x - (lr/b) A^T (A x - y) with fresh A ~ N(0, I), y = noise."""
    x = torch.randn(DIM, device=device, dtype=dtype, generator=generator)
    for _ in range(n_steps):
        a = torch.randn(b, DIM, device=device, dtype=dtype, generator=generator)
        y = torch.randn(b, device=device, dtype=dtype, generator=generator)
        x = x - (lr / b) * (a.T @ (a @ x - y))
    return x


def batched(grid: Grid, n_steps: int, device, dtype):
    flat = grid.flat()
    b_max = max(BATCH_SIZES)
    keys = run_keys("bench", grid.points())

    def init(chunk):
        return {"error": chunk.random.normal("init", 0, (DIM,), chunk.dtype),
                "weights": batch_weights(chunk.params["batch_size"], b_max, chunk.dtype)}

    def step(state, k, chunk):
        z = chunk.random.normal("data", k, (2 * b_max + DIM,), chunk.dtype)
        ones = torch.ones(chunk.n_runs, device=chunk.device, dtype=chunk.dtype)
        e = sgd_step_streaming(state["error"], chunk.params["lr"], ones, state["weights"], z[:, :b_max],
                               z[:, b_max:2 * b_max], z[:, 2 * b_max:])
        return {**state, "error": e}

    return train_batched(init, step, lambda s, k, c: {"error": s["error"]}, n_steps, np.array([n_steps]),
                         {"lr": flat["lr"].astype(float), "batch_size": flat["batch_size"].astype(np.int64)},
                         keys, device=device, dtype=dtype)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--chains", type=int, default=128, help="chains per grid point (the authors: 1600)")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps per run (the authors: 1000)")
    parser.add_argument("--loop-runs", type=int, default=70, help="runs timed in the per-run loop (one per grid point)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), torch.float64
    grid = Grid.from_config({"lr": LRS, "batch_size": BATCH_SIZES, "seed": list(range(args.chains))})
    print(f"grid: {len(LRS)} step sizes x {len(BATCH_SIZES)} batch sizes x {args.chains} chains = {grid.size} runs, "
          f"d = {DIM}, {args.steps} steps, device {device}, float64")

    generator = torch.Generator(device=device).manual_seed(0)
    points = [(lr, b) for b in BATCH_SIZES for lr in LRS][: args.loop_runs]
    _sync(device)
    start = time.perf_counter()
    for lr, b in points:
        loop_one_run(lr, b, args.steps, device, dtype, generator)
    _sync(device)
    loop_rate = len(points) * args.steps / (time.perf_counter() - start)

    _sync(device)
    start = time.perf_counter()
    batched(grid, args.steps, device, dtype)
    _sync(device)
    batched_rate = grid.size * args.steps / (time.perf_counter() - start)

    print(f"per-run loop : {loop_rate:12.0f} run-steps/s  ({len(points)} runs timed)")
    print(f"batched      : {batched_rate:12.0f} run-steps/s  ({grid.size} runs)")
    print(f"speed-up     : {batched_rate / loop_rate:12.1f} x")


if __name__ == "__main__":
    main()
