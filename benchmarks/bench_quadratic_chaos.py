"""Benchmark: the bifurcation grid of quadratic_chaos, batched trainer vs one run at a time.

The workload is the paper-scale bifurcation experiment (phase retrieval on orthonormal data,
thousands of normalised step sizes, full-batch GD with the tangent vector for the Lyapunov
exponent), with fewer steps so that it runs in about a minute on a CPU. The baseline is a plain
torch loop over step sizes, one run at a time, doing the same arithmetic (GD step + tangent step).

    python benchmarks/bench_quadratic_chaos.py                # CPU, 4001 step sizes
    python benchmarks/bench_quadratic_chaos.py --device cuda --steps 2000
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from sgdrepro.core import Grid, RunContext, resolve_device
from sgdrepro.quadratic_chaos import model
from sgdrepro.quadratic_chaos.experiments import a_grid, train_gd


def per_run_loop(a_values, cfg, device, dtype, n_runs: int) -> tuple[float, int]:
    """Plain torch, one step size at a time (same data for all, as in the batched grid)."""
    d, n, steps = cfg["d"], cfg["n"], cfg["n_steps"]
    gen = torch.Generator(device="cpu").manual_seed(0)
    X = model.orthonormal_data(torch.randn(1, d, d, generator=gen, dtype=dtype), n).to(device)
    y = torch.full((1, n), cfg["target"], dtype=dtype, device=device)
    mask = torch.ones_like(y)
    W0 = cfg["init_scale"] * torch.randn(1, d, 1, generator=gen, dtype=dtype).to(device)
    q0 = torch.randn(1, d, 1, generator=gen, dtype=dtype).to(device)
    start, done = time.perf_counter(), 0
    for a in a_values[:n_runs]:
        lr = torch.tensor([a * 1.0 / cfg["target"]], dtype=dtype, device=device)  # a = eta y (m = 1)
        W, q, total = W0.clone(), q0 / q0.norm(), 0.0
        for _ in range(steps):
            Jq = q - lr * model.hvp(W, q, X, y, mask)
            g = Jq.norm()
            total = total + g.log()
            q = Jq / g
            W = model.gd_step(W, X, y, mask, lr)
            done += 1
            if not bool(torch.isfinite(W).all()) or float(W.abs().max()) > 1e150:
                break
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, done


def batched(a_values, cfg, device, dtype) -> tuple[float, int]:
    ctx = RunContext(paper="quadratic_chaos", experiment="bifurcation", device=device, dtype=dtype)
    grid = Grid.from_config({"a": a_values, "seed": [0]})
    start = time.perf_counter()
    train_gd(cfg, ctx, grid, 1, "orthogonal")
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, len(a_values) * cfg["n_steps"]


def main(argv=None) -> dict:
    """Run the benchmark, print its table, and return the measured numbers (``benchmarks/gpu_check.py``)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--num", type=int, default=4001, help="step sizes in the grid (paper: thousands)")
    parser.add_argument("--steps", type=int, default=300, help="GD steps per run (paper config: 20000)")
    parser.add_argument("--d", type=int, default=10, help="input dimension = number of orthonormal points")
    parser.add_argument("--loop-runs", type=int, default=20,
                        help="step sizes timed in the per-run loop (its rate is per step, so a sample suffices)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both (default 1: a fair, quiet comparison)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = torch.float64
    cfg = dict(d=args.d, n=args.d, target=1.0, init_scale=0.1, n_steps=args.steps, window=min(512, args.steps),
               record_early=0, a={"min": 0.3, "max": 2.1, "num": args.num})
    a_values = a_grid(cfg["a"])
    # the loop's sample spans the whole grid (divergent runs stop early, as the batched ones freeze)
    stride = max(1, len(a_values) // args.loop_runs)
    sample = a_values[::stride][: args.loop_runs]
    t_loop, n_loop = per_run_loop(sample, cfg, device, dtype, len(sample))
    t_batch, n_batch = batched(a_values, cfg, device, dtype)
    rate_loop, rate_batch = n_loop / t_loop, n_batch / t_batch
    print(f"device: {device}, threads: {torch.get_num_threads()}, grid: {len(a_values)} step sizes x {args.steps} steps, "
          f"d = n = {args.d}")
    print(f"per-run python loop : {rate_loop:12.0f} run-steps/s  ({len(sample)} runs timed, {t_loop:.1f} s)")
    print(f"batched trainer     : {rate_batch:12.0f} run-steps/s  ({len(a_values)} runs, {t_batch:.1f} s)")
    print(f"speed-up            : {rate_batch / rate_loop:12.1f} x  "
          f"(whole grid by the loop: ~{len(a_values) * args.steps / rate_loop / 60:.1f} min)")
    if not math.isfinite(rate_batch / rate_loop):
        raise SystemExit("timing failed")
    return {
        "benchmark": "quadratic_chaos", "device": str(device), "dtype": "float64", "threads": torch.get_num_threads(),
        "runs": len(a_values), "steps": args.steps, "d": args.d, "loop_runs": len(sample),
        "loop_run_steps": n_loop, "loop_s": t_loop, "batched_s": t_batch,
        "loop_run_steps_per_s": rate_loop, "batched_run_steps_per_s": rate_batch, "speedup": rate_batch / rate_loop,
    }


if __name__ == "__main__":
    main()
