"""Time the whole quick-scale DAG end to end, then a no-op dry run on the finished DAG.

    python benchmarks/bench_dag.py [--cores 2] [--workdir DIR] [--papers heavy_tail,...] [--numerics portable|native|both]

Targets (issue 9): whole quick DAG <= 10 minutes on 2 cores; no-op ``snakemake -n`` <= 5 s.
``--numerics both`` runs the quick DAG in each mode (fresh directories, portable first) and
prints the cost of portable numerics as the ratio of the two wall times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def snakemake(workdir: Path, cores: int, papers: list[str] | None, *extra: str,
              numerics: str = "portable") -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores),
           *extra, "--config", f"numerics={numerics}"]
    if papers:
        cmd += [f"papers={json.dumps(papers)}"]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")
    return elapsed, result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--papers", default=None, help="comma-separated subset (default: config's papers)")
    parser.add_argument("--numerics", default="portable", choices=["portable", "native", "both"])
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="sgdrepro-dag-"))
    papers = args.papers.split(",") if args.papers else None
    modes = ["portable", "native"] if args.numerics == "both" else [args.numerics]

    print(f"workdir: {root}")
    print(f"{'measurement':<50}{'seconds':>10}{'target':>10}")
    walls = {}
    for mode in modes:
        workdir = root / mode if len(modes) > 1 else root
        walls[mode], _ = snakemake(workdir, args.cores, papers, numerics=mode)
        noop, log = snakemake(workdir, args.cores, papers, "-n", numerics=mode)
        print(f"{f'whole quick DAG, --cores {args.cores}, numerics {mode}':<50}{walls[mode]:>10.1f}{'<= 600':>10}")
        print(f"{'no-op snakemake -n on finished DAG':<50}{noop:>10.2f}{'<= 5':>10}")
        if "Nothing to be done" not in log:
            sys.exit("the finished DAG still has jobs to run")
    if len(modes) > 1:
        print(f"cost of portable numerics: {walls['portable'] / walls['native']:.2f} x the native wall time")


if __name__ == "__main__":
    main()
