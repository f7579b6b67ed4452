"""Time the whole quick-scale DAG end to end, then a no-op dry run on the finished DAG.

    python benchmarks/bench_dag.py [--cores 2] [--workdir DIR] [--papers heavy_tail,...]

Targets (issue 9): whole quick DAG <= 10 minutes on 2 cores; no-op ``snakemake -n`` <= 5 s.
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


def snakemake(workdir: Path, cores: int, papers: list[str] | None, *extra: str) -> tuple[float, str]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", str(cores)]
    if papers:
        cmd += ["--config", f"papers={json.dumps(papers)}"]
    start = time.perf_counter()
    result = subprocess.run(cmd + list(extra), capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")
    return elapsed, result.stdout + result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--papers", default=None, help="comma-separated subset (default: config's papers)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sgdrepro-dag-"))
    papers = args.papers.split(",") if args.papers else None

    full, _ = snakemake(workdir, args.cores, papers)
    noop, log = snakemake(workdir, args.cores, papers, "-n")
    nothing = "Nothing to be done" in log
    print(f"workdir: {workdir}")
    print(f"{'measurement':<40}{'seconds':>10}{'target':>10}")
    print(f"{'whole quick DAG, --cores ' + str(args.cores):<40}{full:>10.1f}{'<= 600':>10}")
    print(f"{'no-op snakemake -n on finished DAG':<40}{noop:>10.2f}{'<= 5':>10}")
    print(f"no-op dry run reports nothing to do: {nothing}")
    if not nothing:
        sys.exit("the finished DAG still has jobs to run")


if __name__ == "__main__":
    main()
