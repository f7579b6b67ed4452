"""Batched trainer against a per-run Python loop, on autoencoder_batch's grid.

    python benchmarks/bench_autoencoder_batch.py [--device cpu|cuda|auto] [--scale paper|quick]
        [--steps 200] [--seeds N] [--loop-runs 16]

The grid is the config's (every batch size b = 1..n, both activations, both orders, all
seeds) with fewer updates per run so that it takes about a minute on a CPU. The loop trains
``--loop-runs`` runs of that grid one at a time (the same trainer with one run per call, as a
user would without batching) and extrapolates; both report run-updates per second
(runs x updates / wall time) and the batched/loop ratio. Only training is timed (no measures).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from sgdrepro.core.config import load_config

from sgdrepro.autoencoder_batch.experiments import grid_of
from sgdrepro.autoencoder_batch.training import data_key, draw_data, train_runs
from sgdrepro.core import run_keys
from sgdrepro.core.device import resolve_device

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--scale", default="paper", choices=["paper", "quick"], help="whose grid (config/autoencoder_batch.yaml)")
    parser.add_argument("--steps", type=int, default=200, help="SGD updates per run")
    parser.add_argument("--seeds", type=int, default=None, help="override the number of seeds")
    parser.add_argument("--loop-runs", type=int, default=16, help="runs timed one at a time")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: as the DAG runs it)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = load_config(REPO / "config")
    cfg = dict(config["autoencoder_batch"][args.scale]["orthogonal"])
    if args.seeds is not None:
        cfg["seeds"] = args.seeds
    grid = grid_of(cfg)
    flat = grid.flat()
    n, d = int(cfg["n"]), int(cfg["d"])
    keys = run_keys("orthogonal", grid.points(), key_dims=("seed",))
    params = {
        "batch_size": flat["batch_size"].astype(np.int64),
        "lr": np.full(grid.size, float(cfg["lr"])),
        "relu": flat["activation"] == "relu",
        "cyclic": flat["order"] == "cyclic",
    }
    X = draw_data(data_key("orthogonal", 0, 0), n, d, device, torch.float64)
    common = dict(n=n, d=d, n_steps=args.steps, init_scale=float(cfg["init_scale"]), last_batch=cfg["last_batch"],
                  record_at=np.array([0, args.steps]), device=device, dtype=torch.float64)

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    # warm-up (allocator, kernels) on a handful of runs
    train_runs({k: v[:4] for k, v in params.items()}, keys[:4], X, **{**common, "n_steps": 5, "record_at": np.array([0, 5])})
    sync()

    rng = np.random.default_rng(0)
    loop_index = np.sort(rng.choice(grid.size, size=min(args.loop_runs, grid.size), replace=False))
    start = time.perf_counter()
    for i in loop_index:
        train_runs({k: v[i:i + 1] for k, v in params.items()}, keys[i:i + 1], X, **common)
    sync()
    loop_time = time.perf_counter() - start
    loop_rate = len(loop_index) * args.steps / loop_time

    start = time.perf_counter()
    train_runs(params, keys, X, **common)
    sync()
    batched_time = time.perf_counter() - start
    batched_rate = grid.size * args.steps / batched_time

    print(f"grid: {args.scale} scale, n = {n}, d = {d}, {grid.size} runs "
          f"({dict(zip(grid.dims, grid.shape))}), {args.steps} updates per run, device {device}")
    print(f"per-run loop : {loop_rate:12.0f} run-updates/s  ({len(loop_index)} runs in {loop_time:.2f} s; "
          f"whole grid would take {grid.size * args.steps / loop_rate:.0f} s)")
    print(f"batched      : {batched_rate:12.0f} run-updates/s  ({grid.size} runs in {batched_time:.2f} s)")
    print(f"ratio        : {batched_rate / loop_rate:12.1f} x")


if __name__ == "__main__":
    main()
