"""Per-run Python loop against the batched trainer for teacher-student SGD on one (p, d) group.

    python benchmarks/bench_dimensionless_odes.py [--device auto] [--d 1000] [--p 4] [--k 2]
        [--lrs 4] [--seeds 8] [--steps 2000] [--threads 1]

Both paths run the same code (experiments.train_group: counter-based samples, one-pass SGD,
closed-form risk records); the loop trains one run at a time (a batch of one), the batched
path every learning rate x seed at once. Prints SGD steps per second (run-steps: steps summed
over runs) of both and their ratio, and checks that both give the same trajectories.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from sgdrepro.core import RunContext, log_spaced_steps, resolve_device
from sgdrepro.core.entry import set_threads
from sgdrepro.dimensionless_odes.experiments import initial_condition, train_group


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--d", type=int, default=1000, help="input dimension (paper-like: 1000)")
    parser.add_argument("--p", type=int, default=4, help="student width")
    parser.add_argument("--k", type=int, default=2, help="teacher width")
    parser.add_argument("--lrs", type=int, default=4, help="learning rates in the grid")
    parser.add_argument("--seeds", type=int, default=8, help="seeds per learning rate")
    parser.add_argument("--steps", type=int, default=2000, help="SGD steps per run")
    parser.add_argument("--threads", type=int, default=1, help="torch/BLAS threads")
    args = parser.parse_args()
    set_threads(args.threads)
    device = resolve_device(args.device)
    ctx = RunContext(paper="dimensionless_odes", experiment="bench", device=device, dtype=torch.float64,
                     log=logging.getLogger("bench"))
    overlaps = initial_condition({"kind": "random", "overlap_scale": 1.0, "seed": 0}, args.p, args.k)
    lr_grid, seed_grid = np.meshgrid(args.p * np.geomspace(0.25, 2.0, args.lrs), np.arange(args.seeds), indexing="ij")
    lr, seeds = lr_grid.ravel(), seed_grid.ravel()
    record_at = log_spaced_steps(args.steps, 20)
    common = dict(p=args.p, d=args.d, k=args.k, overlaps=overlaps, noise=0.01, n_steps=args.steps,
                  record_at=record_at)

    train_group("bench", ctx, lr=lr[:1], seeds=seeds[:1], **{**common, "n_steps": 10, "record_at": np.array([0, 10])})
    _sync(device)
    start = time.perf_counter()
    loop = [train_group("bench", ctx, lr=lr[i:i + 1], seeds=seeds[i:i + 1], **common) for i in range(len(lr))]
    _sync(device)
    loop_s = time.perf_counter() - start

    start = time.perf_counter()
    batched = train_group("bench", ctx, lr=lr, seeds=seeds, **common)
    _sync(device)
    batched_s = time.perf_counter() - start

    loop_risk = np.concatenate([t.records["risk"] for t in loop])
    same = np.allclose(loop_risk, batched.records["risk"], rtol=1e-8, atol=1e-12)
    run_steps = len(lr) * args.steps
    print(f"device: {device}, threads: {args.threads}, grid: {args.lrs} learning rates x {args.seeds} seeds "
          f"= {len(lr)} runs, p = {args.p}, k = {args.k}, d = {args.d}, {args.steps} steps each")
    print(f"{'path':<28}{'seconds':>10}{'run-steps/s':>14}")
    print(f"{'per-run Python loop':<28}{loop_s:>10.2f}{run_steps / loop_s:>14.0f}")
    print(f"{'batched (train_batched)':<28}{batched_s:>10.2f}{run_steps / batched_s:>14.0f}")
    print(f"speed-up of the batched trainer: {loop_s / batched_s:.1f}x; identical trajectories: {same}")


if __name__ == "__main__":
    main()
