"""Benchmark: heavy_tail's finite-data SGD (the authors' setting), Floyd sampler one row at a time
against the all-rows sampler the library uses.

The work is ``run_linreg_finite`` on one fixed data set (n points, dimension d): every
(lr, b) grid point with ``--chains`` chains, all runs one batched program, a mini-batch of b
distinct points per step. The two variants differ only in the without-replacement sampler:

- sequential: :func:`sgdrepro.heavy_tail.dynamics.floyd_sequential` (Floyd's algorithm, ~4 tensor
  ops per batch row);
- all rows: :func:`sgdrepro.heavy_tail.dynamics.sample_without_replacement` (every t at once,
  collisions settled as a fixed point on the few runs that have one).

Both give the same integers, so the trajectories must be bitwise equal (checked). Prints
run-steps per second of each, per batch size, and the ratio (medians of interleaved repeats).
Usage:
    python benchmarks/bench_heavy_tail_finite.py [--batch-sizes 1 5 20] [--chains 200] [--steps 300] [--dim 10]
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from sgdrepro.core import RunContext
from sgdrepro.heavy_tail import dynamics, experiments


def run(cfg: dict, sampler) -> tuple[float, np.ndarray]:
    ctx = RunContext(paper="heavy_tail", experiment="linreg_finite", device=torch.device("cpu"), dtype=torch.float64,
                     log=logging.getLogger("bench"))
    experiments.sample_without_replacement = sampler  # the module's name for it, as its step calls it
    try:
        start = time.perf_counter()
        ds = experiments.run_linreg_finite(cfg, ctx)
        return time.perf_counter() - start, ds["error"].values
    finally:
        experiments.sample_without_replacement = dynamics.sample_without_replacement


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.2])
    parser.add_argument("--chains", type=int, default=200, help="chains per grid point (the authors: 1600)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--n-data", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {}
    for b in args.batch_sizes:
        cfg = {"grid": {"lr": args.lrs, "batch_size": [b], "dim": [args.dim], "sigma": [1.0]}, "n_chains": args.chains,
               "n_steps": args.steps, "burn_in": args.steps // 2, "thin": 10, "noise_sd": 1.0, "init_scale": 1.0,
               "true_scale": 1.0, "n_data": args.n_data}
        times = {"sequential": [], "all rows": []}
        outputs = {}
        for _ in range(args.repeats):  # interleaved: load changes hit both alike
            for name, sampler in (("sequential", dynamics.floyd_sequential),
                                  ("all rows", dynamics.sample_without_replacement)):
                seconds, outputs[name] = run(cfg, sampler)
                times[name].append(seconds)
        assert np.array_equal(outputs["sequential"], outputs["all rows"], equal_nan=True), "samplers disagree"
        run_steps = len(args.lrs) * args.chains * args.steps
        rates = {name: run_steps / float(np.median(t)) for name, t in times.items()}
        result[b] = {**rates, "ratio": rates["all rows"] / rates["sequential"]}
        print(f"b = {b:3d}: sequential {rates['sequential']:10.0f} run-steps/s, all rows {rates['all rows']:10.0f}, "
              f"ratio {result[b]['ratio']:.2f}x (same trajectories)", flush=True)
    return result


if __name__ == "__main__":
    main()
