"""Nanoseconds per random number: our counter-based streams against the fastest generators on the core.

    python benchmarks/bench_normals.py [--runs 64] [--per-run 20000] [--repeats 7] [--numerics portable|native]

Times, in one process and one thread, on the same count of numbers: Philox4x32-10 words through
torch ops and through the compiled loop (``sgdrepro.core._philox``), the Box-Muller transform,
``RunRandom.normal`` (words + transform, what every trainer calls; with the compiled loop and
with torch ops only, as before it existed and as on CUDA), and the limits to approach:
numpy's PCG64 ``standard_normal`` (ziggurat) and ``torch.randn``. Jobs run with ``numerics:
portable`` by default, so the script re-executes itself under that environment
(:mod:`sgdrepro.core.numerics`); the ratio column is against the fastest normal generator of the
same run. Median of ``--repeats`` timings each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: allocation, lazy initialisation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(n_runs: int, per_run: int, repeats: int) -> dict[str, float]:
    """ns per number of each generator, on ``n_runs x per_run`` numbers."""
    import numpy as np
    import torch

    from sgdrepro.core import RunRandom, run_keys, seeding
    from sgdrepro.core.seeding import _compiled_philox, _stream_id, box_muller

    torch.set_num_threads(1)
    rr = RunRandom(run_keys("bench", [{"seed": s} for s in range(n_runs)]))
    n = n_runs * per_run
    words = rr.bits("data", 3, per_run)
    rng = np.random.default_rng(0)
    cases = {
        "Philox words, torch ops": lambda: rr._bits_torch(3, 0, _stream_id("data"), per_run),
        "Box-Muller transform of the words": lambda: box_muller(words),
        "RunRandom.normal (float64)": lambda: rr.normal("data", 3, (per_run,)),
        "numpy PCG64 standard_normal (ziggurat)": lambda: rng.standard_normal(n),
        "torch.randn (float64)": lambda: torch.randn(n, dtype=torch.float64),
    }
    if _compiled_philox is not None:
        cases["Philox words, compiled"] = lambda: rr.bits("data", 3, per_run)
    ns = {name: _median_seconds(fn, repeats) / n * 1e9 for name, fn in cases.items()}
    seeding._compiled_philox = None  # the same normals without the compiled loop (CUDA's path)
    ns["RunRandom.normal, torch ops only"] = _median_seconds(lambda: rr.normal("data", 3, (per_run,)), repeats) / n * 1e9
    seeding._compiled_philox = _compiled_philox
    return ns


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=64)
    parser.add_argument("--per-run", type=int, default=20000, help="numbers per run and call")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--numerics", default="portable", choices=["portable", "native"])
    args = parser.parse_args()
    if os.environ.get("SGDREPRO_NUMERICS") != args.numerics:
        from sgdrepro.core import numerics

        env = {**os.environ, **numerics.environment(args.numerics), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        sys.exit(subprocess.call([sys.executable, *sys.argv], env=env))
    import torch

    ns = measure(args.runs, args.per_run, args.repeats)
    normals = ("RunRandom.normal (float64)", "numpy PCG64 standard_normal (ziggurat)", "torch.randn (float64)")
    fastest = min(ns[name] for name in normals)
    print(
        f"numerics {args.numerics}, torch kernel level {torch.backends.cpu.get_cpu_capability()}, "
        f"{args.runs} runs x {args.per_run} numbers, 1 thread, median of {args.repeats}"
    )
    print(f"{'generator':<42}{'ns/number':>10}{'/ fastest normal':>18}")
    for name, value in sorted(ns.items(), key=lambda item: item[1]):
        print(f"{name:<42}{value:>10.2f}{value / fastest:>18.2f}")


if __name__ == "__main__":
    main()
