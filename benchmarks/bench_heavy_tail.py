"""Benchmark: per-run Python loop against the batched trainer, heavy_tail's linear-regression grid.

The grid is the paper scale's ``heavy_tail.paper.linreg`` of config/heavy_tail.yaml (13 step sizes x
b in {1, 2, 3, 4, 5, 10, 20}, d = 10) with ``--chains`` chains per point (the paper: 1600);
``--dim 100`` gives the authors' dimension instead. Each run is online SGD on fresh Gaussian data
for ``--steps`` steps:

- loop: one run at a time in plain torch (torch.randn rows, literal mini-batch step), the way a
  per-run script does it (timed on ``--loop-runs`` runs, one per grid point, reported per step);
- batched: the library's ``train_linreg_streaming``: every run of the grid advanced as one
  program per batch size, exact O(b + d) sampler, counter-based per-run random numbers.

Prints run-steps per second of both and their ratio. Usage:
    python benchmarks/bench_heavy_tail.py [--device auto|cpu|cuda] [--chains 1600] [--steps 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import pathlib
import time

import numpy as np
import torch

from sgdrepro.core import Grid, resolve_device, run_keys
from sgdrepro.core.config import load_config
from sgdrepro.heavy_tail.experiments import train_linreg_streaming

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / "config"


def loop_one_run(lr: float, b: int, d: int, n_steps: int, device, dtype, generator) -> torch.Tensor:
    """Online SGD for one run: x <- x - (lr/b) A^T (A x - y) with fresh A ~ N(0, I), y = noise."""
    x = torch.randn(d, device=device, dtype=dtype, generator=generator)
    for _ in range(n_steps):
        a = torch.randn(b, d, device=device, dtype=dtype, generator=generator)
        y = torch.randn(b, device=device, dtype=dtype, generator=generator)
        x = x - (lr / b) * (a.T @ (a @ x - y))
    return x


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> dict:
    """Run the benchmark, print its table, and return the measured numbers (``benchmarks/gpu_check.py``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--chains", type=int, default=64, help="chains per grid point (the paper: 1600)")
    parser.add_argument("--steps", type=int, default=300, help="SGD steps per run (the paper scale: 10000)")
    parser.add_argument("--dim", type=int, default=None, help="override the paper scale's d = 10")
    parser.add_argument("--loop-runs", type=int, default=91, help="runs timed in the per-run loop")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for both (the machine's cores: 2)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved timings of each; medians reported")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device, dtype = resolve_device(args.device), torch.float64
    grid_cfg = dict(load_config(CONFIG_DIR)["heavy_tail"]["paper"]["linreg"]["grid"])
    if args.dim is not None:
        grid_cfg["dim"] = [args.dim]
    grid = Grid.from_config({**grid_cfg, "seed": list(range(args.chains))})
    flat = grid.flat()
    (d,) = grid_cfg["dim"]
    print(f"grid: {len(grid_cfg['lr'])} step sizes x batch sizes {grid_cfg['batch_size']} x {args.chains} chains "
          f"= {grid.size} runs, d = {d}, {args.steps} steps, device {device}, float64, {args.threads} thread(s)")

    generator = torch.Generator(device=device).manual_seed(0)
    points = [(lr, b) for b in grid_cfg["batch_size"] for lr in grid_cfg["lr"]][: args.loop_runs]
    keys = run_keys("bench", grid.points())

    def time_loop() -> float:
        _sync(device)
        start = time.perf_counter()
        for lr, b in points:
            loop_one_run(lr, b, d, args.steps, device, dtype, generator)
        _sync(device)
        return len(points) * args.steps / (time.perf_counter() - start)

    def time_batched() -> float:
        _sync(device)
        start = time.perf_counter()
        # frozen (diverged) runs cost the same work as live ones, as in the DAG
        train_linreg_streaming(flat, keys, args.steps, np.array([args.steps]), noise_sd=1.0, init_scale=1.0,
                               device=device, dtype=dtype)
        _sync(device)
        return grid.size * args.steps / (time.perf_counter() - start)

    # interleaved repeats, medians: a transient load on the machine hits one repeat, not the ratio
    rates = [(time_loop(), time_batched()) for _ in range(args.repeats)]
    loop_rate, batched_rate = (float(np.median(r)) for r in zip(*rates))
    print(f"per-run loop : {loop_rate:12.0f} run-steps/s  ({len(points)} runs timed, median of {args.repeats})")
    print(f"batched      : {batched_rate:12.0f} run-steps/s  ({grid.size} runs, median of {args.repeats})")
    print(f"speed-up     : {batched_rate / loop_rate:12.1f} x")
    return {
        "benchmark": "heavy_tail", "device": str(device), "dtype": "float64", "threads": args.threads,
        "runs": grid.size, "chains": args.chains, "dim": int(d), "steps": args.steps, "loop_runs": len(points),
        "repeats": args.repeats, "loop_run_steps_per_s": loop_rate, "batched_run_steps_per_s": batched_rate,
        "speedup": batched_rate / loop_rate,
        "loop_rates": [r[0] for r in rates], "batched_rates": [r[1] for r in rates],
    }


if __name__ == "__main__":
    main()
