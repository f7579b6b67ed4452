"""What the batched trainer adds to a small model's step: the step alone against train_batched.

    python benchmarks/bench_step_overhead.py [--steps 2000] [--repeats 3] [--runs 64]

For models whose step is a handful of small tensor operations, per-call overhead decides the
speed. This times, on the same chunk of runs and interleaved, (a) the experiment's own step
function called in a bare loop (no divergence check, no records) and (b) the same step through
``sgdrepro.core.train_batched`` (divergence check and freeze every step, two records), and
prints microseconds per step of both and the share the trainer adds. Workloads: the diagonal
linear networks of large_step_sparse in the authors' setting A (n = 80, d = 200, batch 1) and
the teacher-student committee of dimensionless_odes (p = 4, k = 2, d = 1000). 1 thread.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from unittest import mock

import numpy as np
import torch

from sgdrepro.core import RunContext, RunRandom, run_keys, trainer
from sgdrepro.core.entry import set_threads


def _bare_loop(init, step, observe, n_steps, record_at, params, keys, *, device="cpu", dtype=torch.float64, **_):
    """train_batched's signature, running only init and the steps of one chunk of every run."""
    device = torch.device(device)
    chunk = trainer.Chunk(index=np.arange(len(keys)),
                          params={k: trainer._as_tensor(v, device, dtype) for k, v in params.items()},
                          random=RunRandom(keys, device), device=device, dtype=dtype)
    state = init(chunk)
    for k in range(n_steps):
        state = step(state, k, chunk)
    return state


def diagonal_nets(n_runs: int, n_steps: int):
    """A zero-argument callable training large_step_sparse's diagonal nets (setting A)."""
    from sgdrepro.large_step_sparse import diagonal

    keys = run_keys("bench", [{"seed": s} for s in range(n_runs)])
    data = diagonal.make_data(RunRandom(keys), 80, 200, 5, 100)
    params = {"lr": np.full(n_runs, 0.05), "decay_at": np.full(n_runs, 1.0), "decay_factor": np.full(n_runs, 1.0)}
    return diagonal, lambda: diagonal.train_runs(data, params, keys, n_steps, 1, np.array([0, n_steps]))


def committee(n_runs: int, n_steps: int):
    """A zero-argument callable training dimensionless_odes' erf committee (p = 4, k = 2, d = 1000)."""
    from sgdrepro.dimensionless_odes import experiments

    ctx = RunContext(paper="dimensionless_odes", experiment="bench", device=torch.device("cpu"), dtype=torch.float64,
                     log=logging.getLogger("bench"))
    overlaps = experiments.initial_condition({"kind": "random", "overlap_scale": 1.0, "seed": 0}, 4, 2)
    lr = np.full(n_runs, 2.0)
    return experiments, lambda: experiments.train_group("bench", ctx, 4, 1000, 2, lr, np.arange(n_runs), overlaps, 0.01,
                                                        n_steps, np.array([0, n_steps]))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=64)
    args = parser.parse_args()
    set_threads(1)
    print(f"{args.runs} runs, {args.steps} steps, 1 thread, median of {args.repeats} interleaved repeats")
    print(f"{'workload':<44}{'step alone (us)':>16}{'train_batched (us)':>20}{'trainer adds':>14}")
    for name, make in (("large_step_sparse diagonal nets, setting A", diagonal_nets),
                       ("dimensionless_odes committee, d = 1000", committee)):
        module, train = make(args.runs, args.steps)
        alone, full = [], []
        for _ in range(args.repeats):
            with mock.patch.object(module, "train_batched", _bare_loop):
                alone.append(_seconds(train))
            full.append(_seconds(train))
        a, f = (statistics.median(x) / args.steps * 1e6 for x in (alone, full))
        print(f"{name:<44}{a:>16.0f}{f:>20.0f}{(f - a) / a:>13.0%}")


if __name__ == "__main__":
    main()
